import path from "node:path";
import { TINY_MODEL_ID, type SavConfig } from "../config.js";
import { inspectImage } from "../model/image.js";
import type { HeadVectorExtractor, ModelInfo } from "../model/types.js";
import { classify, crossValidate, SavError, type HeadSelection } from "../sav/index.js";
import { ClassifierCache, StoreError, type NewExample, type SavStore, type TaskRecord } from "../store/index.js";
import { errorText, quoteList, ToolError } from "./errors.js";
import { readImageSource, type ImageSourceInput as ImageSource, type ImageSourceContext, type LoadedImage } from "./image-source.js";
import type { ModelProvider } from "./models.js";
import { composePromptText, promptUsesText, TEXT_PLACEHOLDER } from "./prompt-text.js";
import type { ModelListingView, TaskView } from "./schemas.js";
import { checkLabel, checkLabelSet, checkTaskName } from "./task-rules.js";
import { decodeTaskFile, encodeTaskFile, readTaskFile, writeTaskFile } from "./task-file.js";
import { mapInOrder } from "./pipeline.js";

export const DEFAULT_HEADS = 20;
export const DEFAULT_SELECTION: HeadSelection = "in-sample";

export const RANDOM_WEIGHTS_NOTE =
  `This task uses '${TINY_MODEL_ID}', a generated model with random weights: its labels reflect pixel statistics ` +
  "through random projections, not meaning. Use a real model (e.g. smolvlm-256m-instruct) for real classification.";

/** Cancellation and progress of one tool call. */
export interface CallContext {
  signal?: AbortSignal;
  progress?: (progress: number, total: number | undefined, message: string) => void;
}

export interface SavServiceDeps {
  config: SavConfig;
  store: SavStore;
  models: ModelProvider;
  classifiers?: ClassifierCache;
  /** Directories the client declares (MCP roots); they extend config.allowedDirs. */
  extraAllowedDirs?: () => Promise<string[]>;
  /** Overrides for URL loading (tests). */
  imageLoading?: Pick<ImageSourceContext, "fetchImpl" | "lookup">;
  /** Test seam: replaces the write of an exported file's content (e.g. to inject ENOSPC). */
  writeContent?: Parameters<typeof writeTaskFile>[3]["writeContent"];
  /** Written into exported files, e.g. "sav-mcp 0.1.0". */
  generator?: string;
  /** Called after a task is created, imported or deleted (the server announces the new resource list). */
  onTasksChanged?: () => void;
}

export interface CreateTaskInput {
  name: string;
  prompt: string;
  description?: string;
  labels?: string[];
  heads?: number;
  selection?: HeadSelection;
  model?: string;
}

export interface ExampleInput {
  image?: ImageSource;
  images?: ImageSource[];
  text?: string;
  label: string;
}

export interface AddExamplesInput {
  task: string;
  examples: ExampleInput[];
  skipInvalid?: boolean;
}

export interface AddExamplesResult {
  task: string;
  added: { id: number; index: number; label: string }[];
  skipped: { index: number; label: string; reason: string }[];
  exampleCount: number;
  examplesPerLabel: Record<string, number>;
  exampleVersion: number;
  ready: boolean;
  nextStep: string;
  note?: string;
}

export interface ClassifyInput {
  task: string;
  image?: ImageSource;
  images?: ImageSource[];
  text?: string;
  detail?: boolean;
}

export interface HeadVoteView {
  layer: number;
  head: number;
  vote: string;
  similarity: number;
}

export interface ClassifyResult {
  task: string;
  model: string;
  heads: number;
  exampleVersion: number;
  results: {
    index: number;
    image: string;
    label: string;
    share: number;
    votes: Record<string, number>;
    heads?: HeadVoteView[];
  }[];
  note?: string;
}

export interface EvaluateInput {
  task: string;
  folds?: "leave-one-out" | number;
  seed?: number;
  heads?: number;
}

export interface EvaluateResult {
  task: string;
  method: string;
  folds: "leave-one-out" | number;
  seed: number;
  heads: number;
  selection: HeadSelection;
  exampleCount: number;
  accuracy: number;
  correct: number;
  total: number;
  labels: string[];
  perClass: { label: string; precision: number; recall: number; f1: number; support: number }[];
  confusion: number[][];
  accuracyByHeadCount: { heads: number; accuracy: number }[];
  misclassified: { exampleId: number; label: string; predicted: string; share: number }[];
  recommendations: string[];
  note?: string;
}

export interface TaskDetail extends TaskView {
  selectedHeads: { layer: number; head: number; score: number; margin: number }[] | null;
  classifierProblem?: string;
  examples?: { id: number; label: string; text: string | null; imageSha256: string[]; createdAt: string }[];
}

export interface RemoveExamplesInput {
  task: string;
  ids?: number[];
  label?: string;
}

export interface RemoveExamplesResult {
  task: string;
  removed: number[];
  exampleCount: number;
  examplesPerLabel: Record<string, number>;
  exampleVersion: number;
  ready: boolean;
  nextStep: string;
}

export interface ExportResult {
  task: string;
  path: string;
  bytes: number;
  exampleCount: number;
  model: { id: string; fingerprint: string };
}

export interface ImportResult extends TaskView {
  importedFrom: string;
}

interface ValidExample {
  index: number;
  label: string;
  text: string | null;
  images: LoadedImage[];
}

function minimumPerLabel(selection: HeadSelection): number {
  return selection === "leave-one-out" ? 2 : 1;
}

function round(value: number, digits = 4): number {
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale;
}

/** Extractions in flight at once: one in the model while the next one's image is decoded. */
const PIPELINE_DEPTH = 2;

function sameShape(a: ModelInfo["shape"], b: ModelInfo["shape"]): boolean {
  return a.layers === b.layers && a.heads === b.heads && a.headDim === b.headDim;
}

/** What the tools do, independent of MCP: validation, model work, storage, and answers shaped for agents. */
export class SavService {
  readonly classifiers: ClassifierCache;
  private readonly config: SavConfig;
  private readonly store: SavStore;
  private readonly models: ModelProvider;

  constructor(private readonly deps: SavServiceDeps) {
    this.config = deps.config;
    this.store = deps.store;
    this.models = deps.models;
    this.classifiers = deps.classifiers ?? new ClassifierCache(deps.store);
  }

  // ---------------------------------------------------------------- tasks

  async createTask(input: CreateTaskInput, ctx: CallContext = {}): Promise<TaskView> {
    this.refuseDuplicate(input.name);
    const labels = input.labels ? checkLabelSet(input.labels) : null;
    const modelId = input.model?.trim() || this.models.defaultModel;
    const extractor = await this.extractorFor(modelId, ctx);
    const info = extractor.info;
    try {
      const task = this.store.createTask({
        name: input.name,
        description: input.description ?? null,
        prompt: input.prompt,
        labels,
        k: input.heads ?? DEFAULT_HEADS,
        selection: input.selection ?? DEFAULT_SELECTION,
        modelId: info.id,
        modelFingerprint: info.fingerprint,
        randomWeights: info.randomWeights,
        shape: info.shape,
      });
      this.deps.onTasksChanged?.();
      return this.taskView(task);
    } catch (error) {
      if (error instanceof StoreError && error.code === "duplicate-name") this.refuseDuplicate(input.name);
      throw error;
    }
  }

  listTasks(): TaskView[] {
    return this.store.listTasks().map((task) => this.taskView(task, task.examplesPerLabel));
  }

  getTask(name: string, options: { includeExamples?: boolean; exampleLimit?: number } = {}): TaskDetail {
    const task = this.requireTask(name);
    const view = this.taskView(task);
    const detail: TaskDetail = { ...view, selectedHeads: null };
    if (view.ready) {
      try {
        const { classifier } = this.classifiers.get(task);
        detail.selectedHeads = classifier.heads.map((h) => ({ layer: h.layer, head: h.head, score: round(h.score), margin: round(h.margin) }));
      } catch (error) {
        detail.classifierProblem = errorText(error);
      }
    }
    if (options.includeExamples) {
      detail.examples = this.store.listExamples(task.id, { limit: options.exampleLimit ?? 200 }).map((e) => ({
        id: e.id,
        label: e.label,
        text: e.text,
        imageSha256: e.imageHashes,
        createdAt: e.createdAt,
      }));
    }
    return detail;
  }

  deleteTask(name: string): { deleted: string; examplesRemoved: number } {
    const task = this.requireTask(name);
    const examples = Object.values(this.store.labelCounts(task.id)).reduce((a, b) => a + b, 0);
    if (!this.store.deleteTask(name)) this.requireTask(name);
    this.classifiers.forget(task.id);
    this.deps.onTasksChanged?.();
    return { deleted: name, examplesRemoved: examples };
  }

  // ---------------------------------------------------------------- examples

  async addExamples(input: AddExamplesInput, ctx: CallContext = {}): Promise<AddExamplesResult> {
    const task = this.requireTask(input.task);
    if (input.examples.length === 0) {
      throw new ToolError(
        "The examples list is empty. Give at least one example: {\"image\": {\"path\": \"…\"}, \"label\": \"…\"}" +
          (task.labels ? ` with a label from ${quoteList(task.labels)}.` : "."),
      );
    }
    const total = input.examples.length;
    const allowedDirs = await this.allowedDirs();
    const valid: ValidExample[] = [];
    const invalid: { index: number; label: string; reason: string }[] = [];
    for (const [index, example] of input.examples.entries()) {
      this.throwIfCancelled(ctx.signal);
      try {
        valid.push(await this.validateExample(task, example, index, allowedDirs, ctx.signal));
      } catch (error) {
        if (ctx.signal?.aborted) throw error;
        invalid.push({ index, label: example.label, reason: errorText(error) });
      }
      ctx.progress?.(index + 1, total * 2, `validated example ${index + 1} of ${total}`);
    }

    if (invalid.length > 0 && !input.skipInvalid) {
      const lines = invalid.slice(0, 20).map((e) => `- example ${e.index} (label '${e.label}'): ${e.reason}`);
      if (invalid.length > 20) lines.push(`- … and ${invalid.length - 20} more`);
      throw new ToolError(
        `Nothing was stored: ${invalid.length} of ${total} examples are invalid (indexes count from 0).\n${lines.join("\n")}\n` +
          "Fix those examples and call add_examples again, or pass skipInvalid: true to store the valid ones and skip these.",
      );
    }
    if (valid.length === 0) {
      throw new ToolError(
        `Nothing was stored: all ${total} examples are invalid.\n` +
          invalid.slice(0, 20).map((e) => `- example ${e.index} (label '${e.label}'): ${e.reason}`).join("\n"),
      );
    }

    const extractor = await this.extractorFor(task.modelId, ctx, task);
    // Progress counts validation steps (already reported) and then extractions.
    const grandTotal = total + valid.length;
    const rows = await mapInOrder(
      valid,
      PIPELINE_DEPTH,
      async (example): Promise<NewExample> => {
        this.throwIfCancelled(ctx.signal);
        const result = await extractor.extract({
          images: example.images.map((image) => image.bytes),
          text: composePromptText(task.prompt, example.text),
          signal: ctx.signal,
        });
        this.checkShape(task, result.shape);
        return { label: example.label, text: example.text, imageHashes: example.images.map((i) => i.sha256), vectors: result.vectors };
      },
      (done) => ctx.progress?.(total + done, grandTotal, `extracted example ${done} of ${valid.length}`),
    );
    this.throwIfCancelled(ctx.signal);

    let stored: { ids: number[]; task: TaskRecord };
    try {
      stored = this.store.addExamples(task.id, rows);
    } catch (error) {
      if (error instanceof StoreError && error.code === "unknown-task") {
        throw new ToolError(`Task '${task.name}' was deleted while the examples were being processed; nothing was stored.`);
      }
      throw error;
    }
    const view = this.taskView(stored.task);
    return {
      task: task.name,
      added: stored.ids.map((id, i) => ({ id, index: valid[i]!.index, label: valid[i]!.label })),
      skipped: invalid,
      exampleCount: view.exampleCount,
      examplesPerLabel: view.examplesPerLabel,
      exampleVersion: view.exampleVersion,
      ready: view.ready,
      nextStep: view.nextStep,
      ...(view.note ? { note: view.note } : {}),
    };
  }

  removeExamples(input: RemoveExamplesInput): RemoveExamplesResult {
    const task = this.requireTask(input.task);
    const byIds = input.ids !== undefined && input.ids.length > 0;
    const byLabel = input.label !== undefined;
    if (byIds === byLabel) {
      throw new ToolError(
        "Give exactly one of `ids` (example ids from add_examples or get_task with includeExamples) or `label` (removes every example with that label).",
      );
    }
    let removed: number[];
    let after: TaskRecord;
    try {
      ({ removed, task: after } = this.store.removeExamples(task.id, byIds ? { ids: input.ids! } : { label: input.label! }));
    } catch (error) {
      if (error instanceof StoreError && error.code === "unknown-examples") {
        const ids = this.store.listExamples(task.id).map((e) => e.id);
        throw new ToolError(
          `${error.message} Nothing was removed. Task '${task.name}' has example ids ${ids.length ? ids.slice(0, 50).join(", ") + (ids.length > 50 ? ", …" : "") : "(none)"}; see get_task with includeExamples: true.`,
        );
      }
      throw error;
    }
    if (byLabel && removed.length === 0) {
      const counts = this.store.labelCounts(task.id);
      throw new ToolError(
        `Task '${task.name}' has no examples labelled '${input.label}'; nothing was removed. Labels with examples: ${quoteList(Object.keys(counts))}.`,
      );
    }
    const view = this.taskView(after);
    return {
      task: task.name,
      removed,
      exampleCount: view.exampleCount,
      examplesPerLabel: view.examplesPerLabel,
      exampleVersion: view.exampleVersion,
      ready: view.ready,
      nextStep: view.nextStep,
    };
  }

  // ---------------------------------------------------------------- classification

  async classify(input: ClassifyInput, ctx: CallContext = {}): Promise<ClassifyResult> {
    const task = this.requireTask(input.task);
    const sources = this.querySources(input);
    this.checkText(task, input.text, "this query");
    const { classifier, exampleVersion } = this.classifierFor(task);

    const allowedDirs = await this.allowedDirs();
    const images: LoadedImage[] = [];
    for (const [index, source] of sources.entries()) {
      this.throwIfCancelled(ctx.signal);
      try {
        images.push(await this.loadImage(source, allowedDirs, ctx.signal));
      } catch (error) {
        if (ctx.signal?.aborted) throw error;
        throw new ToolError(`Nothing was classified: image ${index} (counting from 0) cannot be used. ${errorText(error)}`);
      }
    }

    const extractor = await this.extractorFor(task.modelId, ctx, task);
    const text = composePromptText(task.prompt, input.text);
    // Only the layers up to the deepest selected head are computed: a truncated decoder.
    const layers = Math.max(...classifier.heads.map((h) => h.layer)) + 1;
    const results: ClassifyResult["results"] = await mapInOrder(
      images,
      PIPELINE_DEPTH,
      async (image, index) => {
        this.throwIfCancelled(ctx.signal);
        const extracted = await extractor.extract({ images: [image.bytes], text, layers, signal: ctx.signal });
        this.checkShape(task, extracted.shape, layers);
        const answer = classify(classifier, extracted.vectors);
        return {
          index,
          image: image.origin,
          label: answer.label,
          share: round(answer.share),
          votes: answer.votes,
          ...(input.detail
            ? { heads: answer.heads.map((h) => ({ layer: h.layer, head: h.head, vote: h.label, similarity: round(h.similarity) })) }
            : {}),
        };
      },
      (done) => ctx.progress?.(done, images.length, `classified image ${done} of ${images.length}`),
    );
    return {
      task: task.name,
      model: task.modelId,
      heads: classifier.heads.length,
      exampleVersion,
      results,
      ...(task.randomWeights ? { note: RANDOM_WEIGHTS_NOTE } : {}),
    };
  }

  evaluate(input: EvaluateInput): EvaluateResult {
    const task = this.requireTask(input.task);
    const { examples } = this.store.loadTrainingSet(task.id);
    const counts = this.store.labelCounts(task.id);
    const folds = input.folds ?? "leave-one-out";
    const seed = input.seed ?? 0;
    const k = input.heads ?? task.k;
    if (typeof folds === "number" && folds > examples.length) {
      throw new ToolError(
        `${folds}-fold cross-validation needs at least ${folds} examples; task '${task.name}' has ${examples.length}. Use fewer folds or folds: "leave-one-out".`,
      );
    }
    let report;
    try {
      report = crossValidate(
        examples.map((e) => ({ vector: e.vectors, label: e.label })),
        task.shape,
        { folds, seed, k, selection: task.selection, headCounts: headCountsFor(task, k) },
      );
    } catch (error) {
      if (error instanceof SavError) {
        throw new ToolError(
          `Task '${task.name}' cannot be evaluated yet: ${withoutFinalPeriod(error.message)}. Examples per label now: ${describeCounts(counts)}. ` +
            "Add examples with add_examples" +
            (typeof folds === "number" ? ", or use fewer folds / folds: \"leave-one-out\"." : "."),
        );
      }
      throw error;
    }
    const misclassified = report.predictions
      .filter((p) => p.predicted !== p.actual)
      .map((p) => ({ exampleId: examples[p.index]!.id, label: p.actual, predicted: p.predicted, share: round(p.share) }));
    const effectiveK = Math.min(k, task.shape.layers * task.shape.heads);
    return {
      task: task.name,
      method: folds === "leave-one-out" ? "leave-one-out cross-validation" : `stratified ${folds}-fold cross-validation (seed ${seed})`,
      folds,
      seed,
      heads: effectiveK,
      selection: task.selection,
      exampleCount: examples.length,
      accuracy: round(report.accuracy),
      correct: report.correct,
      total: report.total,
      labels: report.labels,
      perClass: report.perClass.map((c) => ({ label: c.label, precision: round(c.precision), recall: round(c.recall), f1: round(c.f1), support: c.support })),
      confusion: report.confusion,
      accuracyByHeadCount: report.accuracyByHeadCount.map((h) => ({ heads: h.heads, accuracy: round(h.accuracy) })),
      misclassified,
      recommendations: recommendations(task, counts, report.accuracy, report.accuracyByHeadCount, effectiveK),
      ...(task.randomWeights ? { note: RANDOM_WEIGHTS_NOTE } : {}),
    };
  }

  // ---------------------------------------------------------------- files

  async exportTask(input: { task: string; path: string; overwrite?: boolean }): Promise<ExportResult> {
    const task = this.requireTask(input.task);
    const { examples } = this.store.loadTrainingSet(task.id);
    const content = JSON.stringify(encodeTaskFile(task, examples, this.deps.generator ?? "sav-mcp"));
    const { path: file } = await writeTaskFile(input.path, await this.allowedDirs(), content, { overwrite: input.overwrite ?? false, writeContent: this.deps.writeContent });
    return {
      task: task.name,
      path: file,
      bytes: Buffer.byteLength(content),
      exampleCount: examples.length,
      model: { id: task.modelId, fingerprint: task.modelFingerprint },
    };
  }

  async importTask(input: { path: string; name?: string }, ctx: CallContext = {}): Promise<ImportResult> {
    const { text, path: file } = await readTaskFile(input.path, await this.allowedDirs());
    const { file: parsed, definition, examples } = decodeTaskFile(text, input.path);
    const name = checkTaskName(input.name ?? parsed.task.name, `'${input.path}'`);
    if (this.store.getTask(name)) {
      throw new ToolError(`A task named '${name}' already exists. Pass \`name\` to import under another name, or delete the existing task first with delete_task.`);
    }
    const extractor = await this.extractorFor(parsed.model.id, ctx);
    const info = extractor.info;
    if (info.fingerprint !== parsed.model.fingerprint) {
      throw new ToolError(
        `Import refused: '${input.path}' was made with model '${parsed.model.id}' whose files have fingerprint ${parsed.model.fingerprint.slice(0, 16)}…, ` +
          `but the installed '${info.id}' has fingerprint ${info.fingerprint.slice(0, 16)}…. Head vectors from different model files are not comparable. ` +
          "Install the exact model files the file was made with (same model revision and dtypes), or rebuild the task from its images with create_sav_task and add_examples.",
      );
    }
    if (!sameShape(info.shape, parsed.model.shape)) {
      throw new ToolError(`Import refused: the file's head shape does not match model '${info.id}'. The file is inconsistent; export it again.`);
    }
    const labels = definition.labels;
    let task: TaskRecord;
    try {
      task = this.store.createTaskWithExamples(
        {
          name,
          description: definition.description,
          prompt: definition.prompt,
          labels: labels && labels.length > 0 ? labels : null,
          k: parsed.task.heads,
          selection: parsed.task.selection,
          modelId: info.id,
          modelFingerprint: info.fingerprint,
          randomWeights: info.randomWeights,
          shape: info.shape,
        },
        examples,
      );
    } catch (error) {
      if (error instanceof StoreError && error.code === "duplicate-name") {
        throw new ToolError(`A task named '${name}' already exists. Pass \`name\` to import under another name.`);
      }
      throw error;
    }
    this.deps.onTasksChanged?.();
    return { ...this.taskView(task), importedFrom: file };
  }

  // ---------------------------------------------------------------- models

  get defaultModel(): string {
    return this.models.defaultModel;
  }

  listModels(): Promise<ModelListingView[]> {
    return this.models.listModels();
  }

  // ---------------------------------------------------------------- helpers

  taskView(task: TaskRecord, counts: Record<string, number> = this.store.labelCounts(task.id)): TaskView {
    const exampleCount = Object.values(counts).reduce((a, b) => a + b, 0);
    const minimum = minimumPerLabel(task.selection);
    const withExamples = Object.entries(counts).filter(([, n]) => n > 0);
    const short = withExamples.filter(([, n]) => n < minimum).map(([label]) => label);
    const ready = withExamples.length >= 2 && short.length === 0;
    let nextStep: string;
    if (exampleCount === 0) {
      nextStep =
        "Add labelled examples with add_examples: at least one image for each of two or more labels" +
        (task.labels ? ` (${quoteList(task.labels)})` : "") +
        "; 5-20 per label gives better results.";
    } else if (withExamples.length < 2) {
      const missing = task.labels ? task.labels.filter((l) => !(l in counts)) : [];
      nextStep =
        `Add examples of at least one more label with add_examples (only '${withExamples[0]![0]}' has examples` +
        (missing.length ? `; missing: ${quoteList(missing)}` : "") +
        ").";
    } else if (short.length > 0) {
      nextStep = `Head selection 'leave-one-out' needs ${minimum} examples per label; add more examples of ${quoteList(short)}.`;
    } else {
      nextStep = "Classify images with classify_image; measure accuracy with evaluate_task.";
    }
    return {
      name: task.name,
      description: task.description,
      prompt: task.prompt,
      usesText: promptUsesText(task.prompt),
      labels: task.labels,
      heads: task.k,
      selection: task.selection,
      model: { id: task.modelId, fingerprint: task.modelFingerprint, randomWeights: task.randomWeights },
      shape: task.shape,
      exampleCount,
      examplesPerLabel: counts,
      exampleVersion: task.exampleVersion,
      ready,
      createdAt: task.createdAt,
      updatedAt: task.updatedAt,
      nextStep,
      ...(task.randomWeights ? { note: RANDOM_WEIGHTS_NOTE } : {}),
    };
  }

  requireTask(name: string): TaskRecord {
    const task = this.store.getTask(name);
    if (task) return task;
    const names = this.store.taskNames();
    if (names.length === 0) {
      throw new ToolError(`Unknown task '${name}': there are no tasks yet. Create one with create_sav_task.`);
    }
    throw new ToolError(`Unknown task '${name}'. Known tasks: ${quoteList(names)}. Check the spelling (list_tasks shows them all) or create it with create_sav_task.`);
  }

  private refuseDuplicate(name: string): void {
    const existing = this.store.getTask(name);
    if (!existing) return;
    const counts = this.store.labelCounts(existing.id);
    throw new ToolError(
      `A task named '${name}' already exists (model ${existing.modelId}, examples per label: ${describeCounts(counts)}). ` +
        "Use it as it is, choose another name, or delete it first with delete_task.",
    );
  }

  private checkText(task: TaskRecord, text: string | undefined | null, what: string): void {
    if (promptUsesText(task.prompt) && (text === undefined || text === null || text.trim() === "")) {
      throw new ToolError(
        `Task '${task.name}' has a prompt with ${TEXT_PLACEHOLDER} ("${task.prompt}"), so ${what} needs \`text\` to fill it in.`,
      );
    }
  }

  private async validateExample(
    task: TaskRecord,
    example: ExampleInput,
    index: number,
    allowedDirs: string[],
    signal?: AbortSignal,
  ): Promise<ValidExample> {
    const label = checkLabel(example.label);
    if (task.labels && !task.labels.includes(label)) {
      throw new ToolError(`Label '${label}' is not one of the labels of task '${task.name}': ${quoteList(task.labels)}. Use one of those (labels are case-sensitive).`);
    }
    const hasOne = example.image !== undefined;
    const hasMany = example.images !== undefined && example.images.length > 0;
    if (hasOne === hasMany) {
      throw new ToolError('Give exactly one of "image" (one image source) or "images" (a list of image sources) per example.');
    }
    const sources = hasOne ? [example.image!] : example.images!;
    if (sources.length > this.config.limits.maxImagesPerPrompt) {
      throw new ToolError(`${sources.length} images in one example; the limit is ${this.config.limits.maxImagesPerPrompt}.`);
    }
    this.checkText(task, example.text, `example ${index}`);
    const images: LoadedImage[] = [];
    for (const [position, source] of sources.entries()) {
      try {
        images.push(await this.loadImage(source, allowedDirs, signal));
      } catch (error) {
        if (signal?.aborted) throw error;
        throw new ToolError(sources.length > 1 ? `image ${position}: ${errorText(error)}` : errorText(error));
      }
    }
    return { index, label, text: example.text ?? null, images };
  }

  private async loadImage(source: ImageSource, allowedDirs: string[], signal?: AbortSignal): Promise<LoadedImage> {
    const { limits } = this.config;
    const loaded = await readImageSource(source, {
      allowedDirs,
      allowPrivateUrls: this.config.allowPrivateUrls,
      maxImageBytes: limits.maxImageBytes,
      urlTimeoutMs: limits.urlTimeoutMs,
      signal,
      ...this.deps.imageLoading,
    });
    await inspectImage(loaded.bytes, { maxImageBytes: limits.maxImageBytes, maxImagePixels: limits.maxImagePixels });
    return loaded;
  }

  private querySources(input: ClassifyInput): ImageSource[] {
    const hasOne = input.image !== undefined;
    const hasMany = input.images !== undefined && input.images.length > 0;
    if (hasOne === hasMany) {
      throw new ToolError('Give exactly one of "image" (one image) or "images" (a batch, classified one by one).');
    }
    const sources = hasOne ? [input.image!] : input.images!;
    const max = this.config.limits.maxBatchImages;
    if (sources.length > max) {
      throw new ToolError(`${sources.length} images in one classify_image call; the limit is ${max}. Split the batch into calls of at most ${max}.`);
    }
    return sources;
  }

  private classifierFor(task: TaskRecord): ReturnType<ClassifierCache["get"]> {
    try {
      return this.classifiers.get(task);
    } catch (error) {
      if (error instanceof SavError && (error.code === "too-few-classes" || error.code === "too-few-examples")) {
        const counts = this.store.labelCounts(task.id);
        throw new ToolError(
          `Task '${task.name}' cannot classify yet: ${withoutFinalPeriod(error.message)}. Examples per label now: ${describeCounts(counts)}. ` +
            `Add labelled examples with add_examples (at least two labels${task.selection === "leave-one-out" ? ", two examples each" : ""}).`,
        );
      }
      throw error;
    }
  }

  private async extractorFor(modelId: string, ctx: CallContext, task?: TaskRecord): Promise<HeadVectorExtractor> {
    const extractor = await this.models.extractor(modelId, {
      signal: ctx.signal,
      onProgress: (message, fraction) => ctx.progress?.(fraction ?? 0, fraction === undefined ? undefined : 1, message),
    });
    if (task && extractor.info.fingerprint !== task.modelFingerprint) {
      throw new ToolError(
        `The files of model '${modelId}' changed since task '${task.name}' was created (fingerprint ${task.modelFingerprint.slice(0, 16)}… then, ` +
          `${extractor.info.fingerprint.slice(0, 16)}… now), so new head vectors would not be comparable with the stored ones. ` +
          "Restore the original model files (same revision and dtypes), or create a new task and add the examples again.",
      );
    }
    return extractor;
  }

  /** With `minLayers`, a truncated result (a prefix of the layers, at least that deep) is acceptable. */
  private checkShape(task: TaskRecord, shape: ModelInfo["shape"], minLayers?: number): void {
    const fits =
      minLayers === undefined
        ? sameShape(task.shape, shape)
        : shape.heads === task.shape.heads && shape.headDim === task.shape.headDim && shape.layers >= minLayers && shape.layers <= task.shape.layers;
    if (!fits) {
      throw new ToolError(`The model returned head vectors of another shape than task '${task.name}' stores; nothing was stored. Recreate the task.`);
    }
  }

  private async allowedDirs(): Promise<string[]> {
    const extra = this.deps.extraAllowedDirs ? await this.deps.extraAllowedDirs() : [];
    return [...new Set([...this.config.allowedDirs, ...extra].map((dir) => path.resolve(dir)))];
  }

  private throwIfCancelled(signal: AbortSignal | undefined): void {
    if (signal?.aborted) throw signal.reason instanceof Error ? signal.reason : new ToolError("The call was cancelled; nothing was stored.");
  }
}

/** Head counts whose cross-validated accuracy is reported: a ladder plus the task's own k and all heads. */
function headCountsFor(task: TaskRecord, k: number): number[] {
  const all = task.shape.layers * task.shape.heads;
  return [...new Set([1, 5, 10, 20, 40, 80, k, all].map((count) => Math.min(count, all)))].sort((a, b) => a - b);
}

function withoutFinalPeriod(text: string): string {
  return text.replace(/\.\s*$/, "");
}

function describeCounts(counts: Record<string, number>): string {
  const entries = Object.entries(counts);
  return entries.length === 0 ? "none" : entries.map(([label, n]) => `${label}: ${n}`).join(", ");
}

function recommendations(
  task: TaskRecord,
  counts: Record<string, number>,
  accuracy: number,
  byHeadCount: { heads: number; accuracy: number }[],
  k: number,
): string[] {
  const advice: string[] = [];
  const sizes = Object.entries(counts);
  const smallest = sizes.reduce((min, entry) => (entry[1] < min[1] ? entry : min), sizes[0]!);
  const largest = sizes.reduce((max, entry) => (entry[1] > max[1] ? entry : max), sizes[0]!);
  if (smallest[1] < 5) {
    advice.push(
      `Few examples: label '${smallest[0]}' has only ${smallest[1]}. SAVs typically use 5-20 examples per label; with fewer, this accuracy estimate is rough. Add examples with add_examples.`,
    );
  }
  if (largest[1] >= 3 * smallest[1]) {
    advice.push(`Unbalanced labels ('${largest[0]}': ${largest[1]}, '${smallest[0]}': ${smallest[1]}): add examples of the smaller labels.`);
  }
  const chance = 1 / sizes.length;
  if (accuracy <= chance + 0.1) {
    advice.push(
      "Accuracy is near chance: check that the labels are right, that the prompt asks the question that separates them, and that the images differ in that respect.",
    );
  }
  const best = byHeadCount.reduce((a, b) => (b.accuracy > a.accuracy ? b : a), byHeadCount[0]!);
  const current = byHeadCount.find((h) => h.heads === k);
  if (best && current && best.heads !== k && best.accuracy >= current.accuracy + 0.05) {
    advice.push(
      `${best.heads} heads scored ${round(best.accuracy, 3)} against ${round(current.accuracy, 3)} with the task's ${k}; try evaluate_task with heads: ${best.heads}, and create the task with that many heads if it holds up.`,
    );
  }
  if (task.randomWeights) advice.push(RANDOM_WEIGHTS_NOTE);
  return advice;
}

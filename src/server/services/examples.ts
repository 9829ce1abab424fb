/** add_examples and remove_examples. */
import fs from "node:fs/promises";
import path from "node:path";
import { StoreError, type NewExample, type RemoveWhich, type TaskRecord } from "../../store/index.js";
import { expandDataset, unknownDatasetLabels, type DatasetExpansion } from "../dataset-input.js";
import { errorText, quoteList, ToolError } from "../errors.js";
import { describeImageSource, type LoadedImage } from "../image-source.js";
import { mapInOrder } from "../pipeline.js";
import { CallPixelLimitError, PixelBudget } from "../pixel-budget.js";
import { composePromptText } from "../prompt-text.js";
import type { AddExamplesInput, AddExamplesResult, ExampleInput, RemoveExamplesInput, RemoveExamplesResult } from "../schemas/examples.js";
import { checkLabel } from "../task-rules.js";
import { imageSourcesOf, PIPELINE_DEPTH, throwIfCancelled, type CallContext, type ServiceContext } from "./context.js";

/** Invalid examples listed one per line in an error; the rest are counted. */
const LISTED_PROBLEMS = 20;
/** Example ids named in the error for unknown ids; get_task lists them all. */
const LISTED_IDS = 50;

interface ValidExample {
  index: number;
  label: string;
  text: string | null;
  images: LoadedImage[];
}

interface InvalidExample {
  index: number;
  label: string;
  reason: string;
  location?: string;
}

function problemLines(invalid: InvalidExample[]): string[] {
  return invalid
    .slice(0, LISTED_PROBLEMS)
    .map((e) =>
      e.index < 0 ? `- manifest ${e.location}: ${e.reason}` : `- example ${e.index} (${e.location ? `${e.location}, ` : ""}label '${e.label}'): ${e.reason}`,
    );
}

/** The examples of the call: its list, or a folder / manifest expanded into one. */
async function callExamples(
  service: ServiceContext,
  task: TaskRecord,
  input: AddExamplesInput,
  allowedDirs: string[],
): Promise<{ examples: (ExampleInput & { location?: string })[]; dataset?: DatasetExpansion & { offset: number } }> {
  const kinds = [input.examples, input.folder, input.manifest].filter((value) => value !== undefined).length;
  if (kinds !== 1) {
    throw new ToolError(
      'Give exactly one of `examples` (a list like [{"image": {"path": "cat.jpg"}, "label": "cat"}]), `folder` (one subfolder per label) or `manifest` (a CSV/JSONL file of path,label rows).',
    );
  }
  if (input.examples !== undefined) {
    if (input.include !== undefined || input.limit !== undefined || input.offset !== undefined) {
      throw new ToolError("`include`, `limit` and `offset` apply to `folder` or `manifest` input; an `examples` list is taken as given.");
    }
    return { examples: input.examples };
  }
  const dataset = await expandDataset(
    { folder: input.folder, manifest: input.manifest, include: input.include, limit: input.limit, offset: input.offset },
    { allowedDirs, maxExamples: service.config.limits.maxExamplesPerCall },
    { skipInvalid: input.skipInvalid },
  );
  const unknown = unknownDatasetLabels(dataset.examples, task.labels);
  if (unknown && !input.skipInvalid) {
    throw new ToolError(
      `Nothing was stored: the dataset has labels ${unknown} that task '${task.name}' does not have (its labels: ${quoteList(task.labels ?? [])}). ` +
        "Rename or remove those subfolders/rows, add the labels with update_task (addLabels), or pass skipInvalid: true to skip them.",
    );
  }
  return { examples: dataset.examples, dataset: { ...dataset, offset: input.offset ?? 0 } };
}

/** The number of images every example (and query) of the task has, once it has an example. */
export async function taskImageCount(service: ServiceContext, task: TaskRecord): Promise<number | undefined> {
  const [first] = await service.store.listExamples(task.id, { limit: 1 });
  return first?.imageHashes.length;
}

async function validateExample(
  service: ServiceContext,
  task: TaskRecord,
  example: ExampleInput,
  index: number,
  allowedDirs: string[],
  budget: PixelBudget,
  signal?: AbortSignal,
): Promise<ValidExample> {
  const label = checkLabel(example.label);
  if (task.labels && !task.labels.includes(label)) {
    throw new ToolError(`Label '${label}' is not one of the labels of task '${task.name}': ${quoteList(task.labels)}. Use one of those (labels are case-sensitive).`);
  }
  const sources = imageSourcesOf(example, { image: "one image source", images: "a list of image sources", where: " per example" });
  const { maxImagesPerPrompt } = service.config.limits;
  if (sources.length > maxImagesPerPrompt) {
    throw new ToolError(`${sources.length} images in one example; the limit is ${maxImagesPerPrompt}.`);
  }
  service.checkText(task, example.text, `example ${index}`);
  const images: LoadedImage[] = [];
  const charge = budget.forItem(index, "example");
  for (const [position, source] of sources.entries()) {
    try {
      images.push(await service.loadImage(source, allowedDirs, signal, charge));
    } catch (error) {
      if (signal?.aborted || error instanceof CallPixelLimitError) throw error;
      throw new ToolError(sources.length > 1 ? `image ${position}: ${errorText(error)}` : errorText(error));
    }
  }
  return { index, label, text: example.text ?? null, images };
}

export async function addExamples(service: ServiceContext, input: AddExamplesInput, ctx: CallContext = {}): Promise<AddExamplesResult> {
  const task = await service.requireTask(input.task);
  const allowedDirs = await service.allowedDirs();
  const { examples, dataset } = await callExamples(service, task, input, allowedDirs);
  if (examples.length === 0) {
    throw new ToolError(
      "The examples list is empty. Give at least one example: {\"image\": {\"path\": \"…\"}, \"label\": \"…\"}" +
        (task.labels ? ` with a label from ${quoteList(task.labels)}.` : "."),
    );
  }
  const total = examples.length;
  const valid: ValidExample[] = [];
  const invalid: InvalidExample[] = (dataset?.rejected ?? []).map((r) => ({ index: -1, label: "", reason: r.reason, location: r.location }));
  let imageCount = await taskImageCount(service, task);
  const budget = new PixelBudget(
    service.config.limits,
    (index) =>
      index > 0
        ? `Split the call: send at most ${index} examples per add_examples call (with \`folder\` or \`manifest\`: \`limit: ${index}\`, then \`offset\` for the rest)`
        : "Split the call into smaller ones",
    "Nothing was stored",
  );
  for (const [index, example] of examples.entries()) {
    throwIfCancelled(ctx.signal);
    const location = example.location;
    try {
      const checked = await validateExample(service, task, example, index, allowedDirs, budget, ctx.signal);
      imageCount ??= checked.images.length;
      if (checked.images.length !== imageCount) {
        throw new ToolError(
          `it has ${checked.images.length} image${checked.images.length === 1 ? "" : "s"}, but the task's examples have ${imageCount}: every example and query of a task reads the same number of images.`,
        );
      }
      valid.push(checked);
    } catch (error) {
      if (ctx.signal?.aborted || error instanceof CallPixelLimitError) throw error;
      invalid.push({ index, label: example.label, reason: errorText(error), ...(location ? { location } : {}) });
    }
    ctx.progress?.(index + 1, total * 2, `validated example ${index + 1} of ${total}`);
  }

  if (invalid.length > 0 && !input.skipInvalid) {
    const lines = problemLines(invalid);
    if (invalid.length > LISTED_PROBLEMS) lines.push(`- … and ${invalid.length - LISTED_PROBLEMS} more`);
    throw new ToolError(
      `Nothing was stored: ${invalid.length} of ${total} examples are invalid (indexes count from 0).\n${lines.join("\n")}\n` +
        "Fix those examples and call add_examples again, or pass skipInvalid: true to store the valid ones and skip these.",
    );
  }
  if (invalid.length > 0) {
    ctx.log?.("warning", `add_examples on '${task.name}': skipping ${invalid.length} of ${total} examples.\n${problemLines(invalid).join("\n")}`);
  }
  if (valid.length === 0) {
    throw new ToolError(`Nothing was stored: all ${total} examples are invalid.\n` + problemLines(invalid).join("\n"));
  }

  const extractor = await service.extractorFor(task.modelId, ctx, task);
  // Progress counts validation steps (already reported) and then extractions.
  const grandTotal = total + valid.length;
  const rows = await mapInOrder(
    valid,
    PIPELINE_DEPTH,
    async (example): Promise<NewExample> => {
      throwIfCancelled(ctx.signal);
      const result = await extractor.extract({
        images: example.images.map((image) => image.bytes),
        text: composePromptText(task.prompt, example.text),
        options: task.processing,
        lane: ctx.lane,
        signal: ctx.signal,
      });
      service.checkShape(task, result.shape);
      return {
        label: example.label,
        text: example.text,
        imageHashes: example.images.map((i) => i.sha256),
        sources: example.images.map((i) => i.origin),
        vectors: result.vectors,
      };
    },
    (done) => ctx.progress?.(total + done, grandTotal, `extracted example ${done} of ${valid.length}`),
  );
  throwIfCancelled(ctx.signal);

  let stored: { ids: number[]; task: TaskRecord };
  try {
    stored = await service.store.addExamples(task.id, rows);
  } catch (error) {
    if (error instanceof StoreError && error.code === "unknown-task") {
      throw new ToolError(`Task '${task.name}' was deleted while the examples were being processed; nothing was stored.`);
    }
    throw error;
  }
  const view = await service.taskView(stored.task);
  return {
    task: task.name,
    added: stored.ids.map((id, i) => {
      const { index, label } = valid[i]!;
      const location = examples[index]!.location;
      return { id, index, label, ...(location ? { location } : {}) };
    }),
    skipped: invalid,
    exampleCount: view.exampleCount,
    examplesPerLabel: view.examplesPerLabel,
    exampleVersion: view.exampleVersion,
    ready: view.ready,
    nextStep: view.nextStep,
    ...(dataset ? { dataset: datasetProgress(dataset, examples.length) } : {}),
    ...(view.note ? { note: view.note } : {}),
  };
}

function datasetProgress(dataset: DatasetExpansion & { offset: number }, taken: number): { available: number; offset: number; nextOffset?: number } {
  const next = dataset.offset + taken;
  return { available: dataset.available, offset: dataset.offset, ...(next < dataset.available ? { nextOffset: next } : {}) };
}

/** The forms a stored source may have for what the agent gives: URLs lose their query, paths are resolved (and their links). */
async function sourceVariants(given: string): Promise<string[]> {
  const trimmed = given.trim();
  if (/^https?:\/\//i.test(trimmed)) return [trimmed, describeImageSource({ url: trimmed })];
  const absolute = path.resolve(trimmed);
  const real = await fs.realpath(absolute).catch(() => undefined);
  return [trimmed, absolute, ...(real ? [real] : [])];
}

/** Ids named in a message before the rest are only counted. */
function listIds(ids: number[], max = LISTED_IDS): string {
  return ids.length === 0 ? "(none)" : ids.slice(0, max).join(", ") + (ids.length > max ? `, … (${ids.length - max} more)` : "");
}

/**
 * Removing what is already gone is a successful no-op with a note (the tool is idempotent), so a
 * retried call does not fail. Ids some of which exist and some not are refused: that looks like a
 * mistake, and removing part of the list would hide it.
 */
export async function removeExamples(service: ServiceContext, input: RemoveExamplesInput): Promise<RemoveExamplesResult> {
  const task = await service.requireTask(input.task);
  const byIds = input.ids !== undefined && input.ids.length > 0;
  const byLabel = input.label !== undefined;
  const bySources = input.sources !== undefined && input.sources.length > 0;
  if ([byIds, byLabel, bySources].filter(Boolean).length !== 1) {
    throw new ToolError(
      "Give exactly one of `ids` (example ids from add_examples or get_task with includeExamples), `sources` (paths or URLs the examples' images came from, " +
        "as get_task with includeExamples shows them) or `label` (removes every example with that label).",
    );
  }
  let which: RemoveWhich;
  if (byIds) which = { ids: input.ids! };
  else if (byLabel) which = { label: input.label! };
  else which = { sources: [...new Set((await Promise.all(input.sources!.map(sourceVariants))).flat())] };
  const unchanged = async (note: string): Promise<RemoveExamplesResult> => {
    const view = await service.taskView(task);
    return {
      task: task.name,
      removed: [],
      exampleCount: view.exampleCount,
      examplesPerLabel: view.examplesPerLabel,
      exampleVersion: view.exampleVersion,
      ready: view.ready,
      nextStep: view.nextStep,
      note,
    };
  };
  let removed: number[];
  let after: TaskRecord;
  try {
    ({ removed, task: after } = await service.store.removeExamples(task.id, which));
  } catch (error) {
    if (!(error instanceof StoreError && error.code === "unknown-examples")) throw error;
    const owned = new Set((await service.store.listExamples(task.id)).map((e) => e.id));
    const wanted = [...new Set(input.ids!)];
    const unknown = wanted.filter((id) => !owned.has(id));
    if (unknown.length === wanted.length) {
      return unchanged(`None of these ids is an example of task '${task.name}' (already removed, or never there): ${listIds(unknown, 20)}. Nothing changed.`);
    }
    throw new ToolError(
      `No example with id ${listIds(unknown, 20)} in task '${task.name}'. Nothing was removed. ` +
        `Its example ids are ${listIds([...owned])}; see get_task with includeExamples: true.`,
    );
  }
  if (byLabel && removed.length === 0) {
    const counts = await service.store.labelCounts(task.id);
    return unchanged(`Task '${task.name}' has no examples labelled '${input.label}'; nothing changed. Labels with examples: ${quoteList(Object.keys(counts))}.`);
  }
  if (bySources && removed.length === 0) {
    return unchanged(
      `No example of task '${task.name}' has an image from ${quoteList(input.sources!, 5)} (already removed, or never there); nothing changed. ` +
        "Sources are matched as recorded (real paths, URLs without their query); get_task with includeExamples: true lists each example's sources.",
    );
  }
  const view = await service.taskView(after);
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

/** What every service module shares: dependencies, task lookup, the task view, image loading and model access. */
import path from "node:path";
import type { SavConfig } from "../../config.js";
import { inspectImage } from "../../model/image.js";
import type { HeadShape, HeadVectorExtractor } from "../../model/types.js";
import { asTaskStore, type ClassifierCache, sameShape, type SavStore, type TaskRecord, type TaskStore } from "../../store/index.js";
import { quoteList, ToolError } from "../errors.js";
import { readImageSource, type ImageSourceInput as ImageSource, type ImageSourceContext, type LoadedImage } from "../image-source.js";
import type { writeTaskFile } from "../task-file.js";
import type { CallLog } from "../logging.js";
import type { ModelProvider } from "../models.js";
import { type CalibrationFitter, serverCalibrationFitter, serverClassifierCache } from "../off-thread-work.js";
import type { PixelCharge } from "../pixel-budget.js";
import { promptUsesText, TEXT_PLACEHOLDER } from "../prompt-text.js";
import type { TaskView } from "../schemas.js";
import { describeCounts, RANDOM_WEIGHTS_NOTE, readiness } from "../wording.js";

/** Cancellation, progress and log lines of one tool call. */
export interface CallContext {
  signal?: AbortSignal;
  progress?: (progress: number, total: number | undefined, message: string) => void;
  /** What the server has to say about the call beyond its result (model loading, skipped input). */
  log?: CallLog;
  /** The inference-queue lane of the caller (its MCP session): lanes take turns on the model. */
  lane?: string;
}

export interface SavServiceDeps {
  config: SavConfig;
  /** The SQLite store is wrapped in its TaskStore adapter. */
  store: TaskStore | SavStore;
  models: ModelProvider;
  /** Default: one that builds in a worker thread (small training sets: on the calling thread). */
  classifiers?: ClassifierCache;
  /** Default: in a worker thread (small training sets: on the calling thread). */
  fitCalibration?: CalibrationFitter;
  /** Directories the client declares (MCP roots); they extend config.allowedDirs. */
  extraAllowedDirs?: () => Promise<string[]>;
  /** Overrides for URL loading (tests). */
  imageLoading?: Pick<ImageSourceContext, "fetchImpl" | "lookup">;
  /** Written into exported files, e.g. "sav-mcp 0.1.0". */
  generator?: string;
  /** Test seam: replaces the write of an exported file's content (e.g. to inject ENOSPC). */
  writeContent?: Parameters<typeof writeTaskFile>[3]["writeContent"];
  /** Called after a task is created, imported or deleted (the server announces the new resource list). */
  onTasksChanged?: () => void;
}

/**
 * Extractions in flight per call: one in the model while the next one's image is decoded. Fairness
 * between sessions comes from the inference queue's lanes, not from this bound; it stays small so that
 * a 256-image call holds two decoded images and their features in memory, not 256.
 */
export const PIPELINE_DEPTH = 2;

/** The one rule for "an image or a list of images": exactly one of the two, never both or neither. */
export function imageSourcesOf(
  input: { image?: ImageSource; images?: ImageSource[] },
  meaning: { image: string; images: string; where?: string },
): ImageSource[] {
  const hasOne = input.image !== undefined;
  const hasMany = input.images !== undefined && input.images.length > 0;
  if (hasOne === hasMany) {
    throw new ToolError(`Give exactly one of "image" (${meaning.image}) or "images" (${meaning.images})${meaning.where ?? ""}.`);
  }
  return hasOne ? [input.image!] : input.images!;
}

export function throwIfCancelled(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw signal.reason instanceof Error ? signal.reason : new ToolError("The call was cancelled; nothing was stored.");
}

/** The dependencies plus the lookups and checks that several tools need. */
export class ServiceContext {
  readonly config: SavConfig;
  readonly store: TaskStore;
  readonly models: ModelProvider;
  readonly classifiers: ClassifierCache;
  readonly fitCalibration: CalibrationFitter;

  constructor(readonly deps: SavServiceDeps) {
    this.config = deps.config;
    this.store = asTaskStore(deps.store);
    this.models = deps.models;
    this.classifiers = deps.classifiers ?? serverClassifierCache(this.store);
    this.fitCalibration = deps.fitCalibration ?? serverCalibrationFitter;
  }

  tasksChanged(): void {
    this.deps.onTasksChanged?.();
  }

  async taskView(task: TaskRecord, counts?: Record<string, number>): Promise<TaskView> {
    const perLabel = counts ?? (await this.store.labelCounts(task.id));
    const exampleCount = Object.values(perLabel).reduce((a, b) => a + b, 0);
    const { ready, nextStep } = readiness(task, perLabel);
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
      processing: task.processing,
      exampleCount,
      examplesPerLabel: perLabel,
      exampleVersion: task.exampleVersion,
      minConfidence: task.minConfidence ?? null,
      ready,
      createdAt: task.createdAt,
      updatedAt: task.updatedAt,
      nextStep,
      ...(task.randomWeights ? { note: RANDOM_WEIGHTS_NOTE } : {}),
    };
  }

  async requireTask(name: string): Promise<TaskRecord> {
    const task = await this.store.getTask(name);
    if (task) return task;
    const names = await this.store.taskNames();
    if (names.length === 0) {
      throw new ToolError(`Unknown task '${name}': there are no tasks yet. Create one with create_sav_task.`);
    }
    throw new ToolError(`Unknown task '${name}'. Known tasks: ${quoteList(names)}. Check the spelling (list_tasks shows them all) or create it with create_sav_task.`);
  }

  async refuseDuplicate(name: string): Promise<void> {
    const existing = await this.store.getTask(name);
    if (!existing) return;
    const counts = await this.store.labelCounts(existing.id);
    throw new ToolError(
      `A task named '${name}' already exists (model ${existing.modelId}, examples per label: ${describeCounts(counts)}). ` +
        "Use it as it is, choose another name, or delete it first with delete_task.",
    );
  }

  checkText(task: TaskRecord, text: string | undefined | null, what: string): void {
    if (promptUsesText(task.prompt) && (text === undefined || text === null || text.trim() === "")) {
      throw new ToolError(
        `Task '${task.name}' has a prompt with ${TEXT_PLACEHOLDER} ("${task.prompt}"), so ${what} needs \`text\` to fill it in.`,
      );
    }
  }

  /** `budget` counts the image's pixels against the call's and the example's limits before it is decoded. */
  async loadImage(source: ImageSource, allowedDirs: string[], signal?: AbortSignal, budget?: PixelCharge): Promise<LoadedImage> {
    const { limits } = this.config;
    const loaded = await readImageSource(source, {
      allowedDirs,
      allowPrivateUrls: this.config.allowPrivateUrls,
      maxImageBytes: limits.maxImageBytes,
      urlTimeoutMs: limits.urlTimeoutMs,
      signal,
      ...this.deps.imageLoading,
    });
    await inspectImage(loaded.bytes, {
      maxImageBytes: limits.maxImageBytes,
      maxImagePixels: limits.maxImagePixels,
      ...(budget ? { beforeDecode: ({ width, height }: { width: number; height: number }) => budget(width * height) } : {}),
    });
    return loaded;
  }

  async extractorFor(modelId: string, ctx: CallContext, task?: TaskRecord): Promise<HeadVectorExtractor> {
    const extractor = await this.models.extractor(modelId, {
      signal: ctx.signal,
      onProgress: (message, fraction) => {
        // Stage changes (download starts, loading) are worth a log line; download percentages are progress only.
        if (fraction === undefined || fraction === 0) ctx.log?.("info", message);
        ctx.progress?.(fraction ?? 0, fraction === undefined ? undefined : 1, message);
      },
      onWarning: (message) => ctx.log?.("warning", message),
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
  checkShape(task: TaskRecord, shape: HeadShape, minLayers?: number): void {
    const fits =
      minLayers === undefined
        ? sameShape(task.shape, shape)
        : shape.heads === task.shape.heads && shape.headDim === task.shape.headDim && shape.layers >= minLayers && shape.layers <= task.shape.layers;
    if (!fits) {
      throw new ToolError(`The model returned head vectors of another shape than task '${task.name}' stores; nothing was stored. Recreate the task.`);
    }
  }

  async allowedDirs(): Promise<string[]> {
    const extra = this.deps.extraAllowedDirs ? await this.deps.extraAllowedDirs() : [];
    return [...new Set([...this.config.allowedDirs, ...extra].map((dir) => path.resolve(dir)))];
  }
}

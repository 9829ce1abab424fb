/** add_examples and remove_examples. */
import { StoreError, type NewExample, type TaskRecord } from "../../store/index.js";
import { errorText, quoteList, ToolError } from "../errors.js";
import type { LoadedImage } from "../image-source.js";
import { mapInOrder } from "../pipeline.js";
import { composePromptText } from "../prompt-text.js";
import type { AddExamplesInput, AddExamplesResult, ExampleInput, RemoveExamplesInput, RemoveExamplesResult } from "../schemas/examples.js";
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
}

function problemLines(invalid: InvalidExample[]): string[] {
  return invalid.slice(0, LISTED_PROBLEMS).map((e) => `- example ${e.index} (label '${e.label}'): ${e.reason}`);
}

async function validateExample(
  service: ServiceContext,
  task: TaskRecord,
  example: ExampleInput,
  index: number,
  allowedDirs: string[],
  signal?: AbortSignal,
): Promise<ValidExample> {
  const label = example.label.trim();
  if (label === "") throw new ToolError("The label is empty.");
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
  for (const [position, source] of sources.entries()) {
    try {
      images.push(await service.loadImage(source, allowedDirs, signal));
    } catch (error) {
      if (signal?.aborted) throw error;
      throw new ToolError(sources.length > 1 ? `image ${position}: ${errorText(error)}` : errorText(error));
    }
  }
  return { index, label, text: example.text ?? null, images };
}

export async function addExamples(service: ServiceContext, input: AddExamplesInput, ctx: CallContext = {}): Promise<AddExamplesResult> {
  const task = await service.requireTask(input.task);
  if (input.examples.length === 0) {
    throw new ToolError(
      "The examples list is empty. Give at least one example: {\"image\": {\"path\": \"…\"}, \"label\": \"…\"}" +
        (task.labels ? ` with a label from ${quoteList(task.labels)}.` : "."),
    );
  }
  const total = input.examples.length;
  const allowedDirs = await service.allowedDirs();
  const valid: ValidExample[] = [];
  const invalid: InvalidExample[] = [];
  for (const [index, example] of input.examples.entries()) {
    throwIfCancelled(ctx.signal);
    try {
      valid.push(await validateExample(service, task, example, index, allowedDirs, ctx.signal));
    } catch (error) {
      if (ctx.signal?.aborted) throw error;
      invalid.push({ index, label: example.label, reason: errorText(error) });
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
        signal: ctx.signal,
      });
      service.checkShape(task, result.shape);
      return { label: example.label, text: example.text, imageHashes: example.images.map((i) => i.sha256), vectors: result.vectors };
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

export async function removeExamples(service: ServiceContext, input: RemoveExamplesInput): Promise<RemoveExamplesResult> {
  const task = await service.requireTask(input.task);
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
    ({ removed, task: after } = await service.store.removeExamples(task.id, byIds ? { ids: input.ids! } : { label: input.label! }));
  } catch (error) {
    if (error instanceof StoreError && error.code === "unknown-examples") {
      const ids = (await service.store.listExamples(task.id)).map((e) => e.id);
      const listed = ids.length ? ids.slice(0, LISTED_IDS).join(", ") + (ids.length > LISTED_IDS ? ", …" : "") : "(none)";
      throw new ToolError(
        `${error.message} Nothing was removed. Task '${task.name}' has example ids ${listed}; see get_task with includeExamples: true.`,
      );
    }
    throw error;
  }
  if (byLabel && removed.length === 0) {
    const counts = await service.store.labelCounts(task.id);
    throw new ToolError(
      `Task '${task.name}' has no examples labelled '${input.label}'; nothing was removed. Labels with examples: ${quoteList(Object.keys(counts))}.`,
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

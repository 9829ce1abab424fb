/** classify_image: one image or a batch through a task's classifier. */
import { classify as classifyVectors, decide, probabilities, SavError } from "../../sav/index.js";
import type { CachedClassifier, TaskRecord } from "../../store/index.js";
import { errorText, ToolError } from "../errors.js";
import type { ImageSourceInput as ImageSource, LoadedImage } from "../image-source.js";
import { mapInOrder } from "../pipeline.js";
import { CallPixelLimitError, PixelBudget } from "../pixel-budget.js";
import { composePromptText } from "../prompt-text.js";
import type { ClassifyInput, ClassifyResult } from "../schemas/classify.js";
import { describeCounts, RANDOM_WEIGHTS_NOTE, round, withoutFinalPeriod } from "../wording.js";
import { imageSourcesOf, PIPELINE_DEPTH, throwIfCancelled, type CallContext, type ServiceContext } from "./context.js";
import { taskImageCount } from "./examples.js";
import { calibrationFor, explainQuery } from "./confidence.js";

interface Query {
  sources: ImageSource[];
  text?: string;
}

/** The call's queries: single images (`image` / `images`) or `queries` of several images each. */
function queriesOf(input: ClassifyInput, maxImages: number): Query[] {
  let queries: Query[];
  if (input.queries !== undefined) {
    if (input.image !== undefined || input.images !== undefined) {
      throw new ToolError('Give exactly one of "image", "images" or "queries" (several images per query).');
    }
    queries = input.queries.map((q) => ({ sources: q.images, text: q.text ?? input.text }));
  } else {
    queries = imageSourcesOf(input, { image: "one image", images: "a batch, classified one by one" }).map((source) => ({ sources: [source], text: input.text }));
  }
  const total = queries.reduce((sum, q) => sum + q.sources.length, 0);
  if (total > maxImages) {
    throw new ToolError(`${total} images in one classify_image call; the limit is ${maxImages}. Split the batch into calls of at most ${maxImages} images.`);
  }
  return queries;
}

function checkImageCount(task: TaskRecord, queries: Query[], expected: number, usedQueries: boolean): void {
  const wrong = queries.findIndex((q) => q.sources.length !== expected);
  if (wrong === -1) return;
  const got = queries[wrong]!.sources.length;
  throw new ToolError(
    `Nothing was classified: task '${task.name}' reads ${expected} image${expected === 1 ? "" : "s"} per example, but ` +
      (usedQueries ? `query ${wrong} has ${got}` : "each image of `image`/`images` is a query of one") +
      ". Every query must have as many images as the examples: " +
      (expected === 1 ? 'use "image" or "images".' : `use "queries": [{"images": [${expected} image sources], "text": ...}].`),
  );
}

async function classifierFor(service: ServiceContext, task: TaskRecord, ctx: CallContext): Promise<CachedClassifier> {
  try {
    const cached = await service.classifiers.get(task, { signal: ctx.signal });
    if (cached.origin === "built") {
      ctx.log?.("info", `Built the classifier of task '${task.name}' from its examples (example version ${cached.exampleVersion}).`);
    }
    return cached;
  } catch (error) {
    throwIfCancelled(ctx.signal);
    if (error instanceof SavError && (error.code === "too-few-classes" || error.code === "too-few-examples")) {
      const counts = await service.store.labelCounts(task.id);
      throw new ToolError(
        `Task '${task.name}' cannot classify yet: ${withoutFinalPeriod(error.message)}. Examples per label now: ${describeCounts(counts)}. ` +
          `Add labelled examples with add_examples (at least two labels${task.selection === "leave-one-out" ? ", two examples each" : ""}).`,
      );
    }
    throw error;
  }
}

/**
 * The task's classifier and its calibration. A classifier built on this call hands its training set to the fit,
 * which then need not read it again; it is let go on return (the extractions that follow may take long).
 */
async function classifierWithCalibration(service: ServiceContext, task: TaskRecord, ctx: CallContext) {
  const { classifier, exampleVersion, trainingSet } = await classifierFor(service, task, ctx);
  const calibration = await calibrationFor(service, task, classifier, ctx.signal, trainingSet).catch((error: unknown) => {
    throwIfCancelled(ctx.signal);
    throw error;
  });
  return { classifier, exampleVersion, calibration };
}

export async function classify(service: ServiceContext, input: ClassifyInput, ctx: CallContext = {}): Promise<ClassifyResult> {
  const task = await service.requireTask(input.task);
  const queries = queriesOf(input, service.config.limits.maxBatchImages);
  for (const [index, query] of queries.entries()) service.checkText(task, query.text, queries.length > 1 ? `query ${index}` : "this query");
  const { classifier, exampleVersion, calibration } = await classifierWithCalibration(service, task, ctx);
  const expected = await taskImageCount(service, task);
  if (expected !== undefined) checkImageCount(task, queries, expected, input.queries !== undefined);

  const allowedDirs = await service.allowedDirs();
  const loaded: LoadedImage[][] = [];
  const kind = input.queries !== undefined ? "query" : "image";
  const budget = new PixelBudget(
    service.config.limits,
    (index) => (index > 0 ? `Split the batch into calls of at most ${index} ${kind === "query" ? "queries" : "images"}` : "Split the batch into smaller calls"),
    "Nothing was classified",
  );
  for (const [index, query] of queries.entries()) {
    const images: LoadedImage[] = [];
    const charge = budget.forItem(index, kind);
    for (const [position, source] of query.sources.entries()) {
      throwIfCancelled(ctx.signal);
      try {
        images.push(await service.loadImage(source, allowedDirs, ctx.signal, charge));
      } catch (error) {
        if (ctx.signal?.aborted || error instanceof CallPixelLimitError) throw error;
        const which = query.sources.length > 1 ? `query ${index}, image ${position}` : `image ${index}`;
        throw new ToolError(`Nothing was classified: ${which} (counting from 0) cannot be used. ${errorText(error)}`);
      }
    }
    loaded.push(images);
  }

  const extractor = await service.extractorFor(task.modelId, ctx, task);
  // Read once per call, and only when asked for: explain compares each query with every stored example.
  const stored = input.explain ? (await service.store.loadTrainingSet(task.id)).examples : [];
  // Only the layers up to the deepest selected head are computed: a truncated decoder.
  const layers = Math.max(...classifier.heads.map((h) => h.layer)) + 1;
  const results: ClassifyResult["results"] = await mapInOrder(
    loaded,
    PIPELINE_DEPTH,
    async (images, index) => {
      throwIfCancelled(ctx.signal);
      const text = composePromptText(task.prompt, queries[index]!.text);
      const extracted = await extractor.extract({
        images: images.map((image) => image.bytes),
        text,
        layers,
        options: task.processing,
        lane: ctx.lane,
        signal: ctx.signal,
      });
      service.checkShape(task, extracted.shape, layers);
      const answer = classifyVectors(classifier, extracted.vectors);
      const probability = calibration ? probabilities(classifier, calibration, extracted.vectors)[answer.label]! : null;
      // Abstention uses the calibrated probability, or the vote share when the task cannot be calibrated yet.
      const decision = decide(answer.label, probability ?? answer.share, input.minConfidence ?? task.minConfidence ?? undefined);
      return {
        index,
        image: images.map((image) => image.origin).join(" + "),
        ...(images.length > 1 ? { images: images.map((image) => image.origin) } : {}),
        label: decision.label,
        ...(decision.uncertain ? { uncertain: true, bestGuess: decision.bestGuess } : {}),
        share: round(answer.share),
        // Not rounded: abstention compares this exact value with minConfidence.
        probability,
        votes: answer.votes,
        ...(input.explain ? { nearest: explainQuery(stored, classifier, extracted.vectors) } : {}),
        ...(input.detail
          ? { heads: answer.heads.map((h) => ({ layer: h.layer, head: h.head, vote: h.label, similarity: round(h.similarity) })) }
          : {}),
      };
    },
    (done) => ctx.progress?.(done, loaded.length, `classified ${input.queries ? "query" : "image"} ${done} of ${loaded.length}`),
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

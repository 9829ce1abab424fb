/** classify_image: one image or a batch through a task's classifier. */
import { classify as classifyVectors, SavError } from "../../sav/index.js";
import type { CachedClassifier, TaskRecord } from "../../store/index.js";
import { errorText, ToolError } from "../errors.js";
import type { LoadedImage } from "../image-source.js";
import { mapInOrder } from "../pipeline.js";
import { composePromptText } from "../prompt-text.js";
import type { ClassifyInput, ClassifyResult } from "../schemas/classify.js";
import { describeCounts, RANDOM_WEIGHTS_NOTE, round, withoutFinalPeriod } from "../wording.js";
import { imageSourcesOf, PIPELINE_DEPTH, throwIfCancelled, type CallContext, type ServiceContext } from "./context.js";

async function classifierFor(service: ServiceContext, task: TaskRecord): Promise<CachedClassifier> {
  try {
    return await service.classifiers.get(task);
  } catch (error) {
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

export async function classify(service: ServiceContext, input: ClassifyInput, ctx: CallContext = {}): Promise<ClassifyResult> {
  const task = await service.requireTask(input.task);
  const sources = imageSourcesOf(input, { image: "one image", images: "a batch, classified one by one" });
  const max = service.config.limits.maxBatchImages;
  if (sources.length > max) {
    throw new ToolError(`${sources.length} images in one classify_image call; the limit is ${max}. Split the batch into calls of at most ${max}.`);
  }
  service.checkText(task, input.text, "this query");
  const { classifier, exampleVersion } = await classifierFor(service, task);

  const allowedDirs = await service.allowedDirs();
  const images: LoadedImage[] = [];
  for (const [index, source] of sources.entries()) {
    throwIfCancelled(ctx.signal);
    try {
      images.push(await service.loadImage(source, allowedDirs, ctx.signal));
    } catch (error) {
      if (ctx.signal?.aborted) throw error;
      throw new ToolError(`Nothing was classified: image ${index} (counting from 0) cannot be used. ${errorText(error)}`);
    }
  }

  const extractor = await service.extractorFor(task.modelId, ctx, task);
  const text = composePromptText(task.prompt, input.text);
  // Only the layers up to the deepest selected head are computed: a truncated decoder.
  const layers = Math.max(...classifier.heads.map((h) => h.layer)) + 1;
  const results: ClassifyResult["results"] = await mapInOrder(
    images,
    PIPELINE_DEPTH,
    async (image, index) => {
      throwIfCancelled(ctx.signal);
      const extracted = await extractor.extract({ images: [image.bytes], text, layers, signal: ctx.signal });
      service.checkShape(task, extracted.shape, layers);
      const answer = classifyVectors(classifier, extracted.vectors);
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

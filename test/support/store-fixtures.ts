import type { HeadShape } from "../../src/model/types.js";
import { mulberry32 as seededRandom } from "../../src/sav/folds.js";
import type { NewExample, NewTask } from "../../src/store/index.js";

export const SMALL_SHAPE: HeadShape = { layers: 2, heads: 3, headDim: 4 };

/** Deterministic pseudo-random numbers (mulberry32), so failures reproduce. */
export { seededRandom };

export function newTask(name: string, overrides: Partial<NewTask> = {}): NewTask {
  return {
    name,
    prompt: "Is this red? Answer yes or no.",
    k: 4,
    selection: "in-sample",
    modelId: "fake-model",
    modelFingerprint: "f".repeat(64),
    randomWeights: false,
    shape: SMALL_SHAPE,
    ...overrides,
  };
}

/**
 * Examples whose vectors cluster by label: every head holds a label-specific direction plus noise,
 * so a classifier built from them separates the labels.
 */
export function clusteredExamples(
  labels: string[],
  perLabel: number,
  options: { shape?: HeadShape; seed?: number; text?: string } = {},
): NewExample[] {
  const shape = options.shape ?? SMALL_SHAPE;
  const random = seededRandom(options.seed ?? 1);
  const size = shape.layers * shape.heads * shape.headDim;
  const examples: NewExample[] = [];
  labels.forEach((label, labelIndex) => {
    for (let i = 0; i < perLabel; i++) {
      const vectors = new Float32Array(size);
      for (let v = 0; v < size; v++) {
        const direction = v % shape.headDim === labelIndex % shape.headDim ? 1 : 0;
        vectors[v] = direction + (random() - 0.5) * 0.4;
      }
      examples.push({ label, text: options.text ?? null, imageHashes: [`${label}-${i}`.padEnd(64, "0")], vectors });
    }
  });
  return examples;
}

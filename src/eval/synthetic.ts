/**
 * Synthetic SAV tasks whose difficulty is one number: every head vector is `separation × strength(head) ×
 * prototype(label, head) + unit Gaussian noise`. With separation near 0 the classes overlap completely; as it
 * grows they separate. Head strengths vary (squared Gaussians), so some heads are far more informative than
 * others, as in a real model. Used to measure calibration and selective accuracy without a model.
 */
import { mulberry32 } from "../sav/folds.js";
import type { HeadShape, LabelledVector } from "../sav/index.js";

export interface SyntheticTaskOptions {
  shape: HeadShape;
  labels: string[];
  trainPerLabel: number;
  testPerLabel: number;
  separation: number;
  seed: number;
}

export interface SyntheticTask {
  train: LabelledVector[];
  test: LabelledVector[];
}

function gaussianSource(seed: number): () => number {
  const uniform = mulberry32(seed);
  return () => Math.sqrt(-2 * Math.log(uniform() + 1e-12)) * Math.cos(2 * Math.PI * uniform());
}

export function syntheticTask(options: SyntheticTaskOptions): SyntheticTask {
  const { shape, labels, trainPerLabel, testPerLabel, separation, seed } = options;
  const gaussian = gaussianSource(seed);
  const headTotal = shape.layers * shape.heads;
  const length = headTotal * shape.headDim;
  const prototypes = labels.map(() => Float32Array.from({ length }, gaussian));
  const strength = Array.from({ length: headTotal }, () => gaussian() ** 2);
  const sample = (labelIndex: number): Float32Array => {
    const vector = new Float32Array(length);
    for (let i = 0; i < length; i++) {
      const head = Math.floor(i / shape.headDim);
      vector[i] = separation * strength[head]! * prototypes[labelIndex]![i]! + gaussian();
    }
    return vector;
  };
  const draw = (perLabel: number): LabelledVector[] => {
    const examples: LabelledVector[] = [];
    for (let e = 0; e < perLabel; e++) {
      labels.forEach((label, labelIndex) => examples.push({ vector: sample(labelIndex), label }));
    }
    return examples;
  };
  return { train: draw(trainPerLabel), test: draw(testPerLabel) };
}

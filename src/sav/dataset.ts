import { type HeadSelection, type HeadShape, type LabelledVector, SavError } from "./types.js";

/** Validated training examples with labels turned into indices of the sorted label list. */
export interface Dataset {
  shape: HeadShape;
  examples: readonly LabelledVector[];
  labels: string[];
  /** labelOf[i] = index into `labels` of example i. */
  labelOf: Int32Array;
  /** Number of examples per label index. */
  classSizes: Int32Array;
}

export const DEFAULT_K = 20;

export function headCount(shape: HeadShape): number {
  return shape.layers * shape.heads;
}

export function validateShape(shape: HeadShape): void {
  const ok = (n: unknown): boolean => typeof n === "number" && Number.isInteger(n) && n >= 1;
  if (shape === null || typeof shape !== "object" || !ok(shape.layers) || !ok(shape.heads) || !ok(shape.headDim)) {
    throw new SavError(
      "shape-mismatch",
      `shape must have positive integer layers, heads and headDim; got ${JSON.stringify(shape)}`,
    );
  }
}

export function validateSelection(selection: unknown): HeadSelection {
  if (selection === undefined) return "in-sample";
  if (selection === "in-sample" || selection === "leave-one-out") return selection;
  throw new SavError(
    "invalid-option",
    `selection must be "in-sample" or "leave-one-out"; got ${JSON.stringify(selection)}`,
  );
}

/** The number of kept heads: an integer >= 1, clipped to the number of heads. */
export function resolveK(k: unknown, shape: HeadShape): number {
  if (k === undefined) return Math.min(DEFAULT_K, headCount(shape));
  if (typeof k !== "number" || !Number.isInteger(k) || k < 1) {
    throw new SavError("invalid-option", `k (the number of heads kept) must be an integer >= 1; got ${String(k)}`);
  }
  return Math.min(k, headCount(shape));
}

/**
 * Checks every example (length, finite values, not all zero) and that there are at least two labels.
 * Labels are sorted so that results do not depend on the order of the examples.
 */
export function prepareDataset(examples: readonly LabelledVector[], shape: HeadShape): Dataset {
  validateShape(shape);
  if (!Array.isArray(examples)) {
    throw new SavError("invalid-option", "examples must be an array of { vector, label }");
  }
  const length = shape.layers * shape.heads * shape.headDim;
  examples.forEach((example, index) => {
    if (example === null || typeof example !== "object" || typeof example.label !== "string") {
      throw new SavError("invalid-option", `example ${index} must be { vector: Float32Array, label: string }`);
    }
    if (!(example.vector instanceof Float32Array)) {
      throw new SavError(
        "invalid-vector",
        `example ${index} (label "${example.label}"): vector must be a Float32Array`,
      );
    }
    if (example.vector.length !== length) {
      throw new SavError(
        "shape-mismatch",
        `example ${index} (label "${example.label}") has ${example.vector.length} values; the shape ` +
          `${shape.layers}x${shape.heads}x${shape.headDim} needs ${length}. ` +
          "Were all examples extracted with the same model?",
      );
    }
    checkFiniteAndNonZero(example.vector, 0, length, () => `example ${index} (label "${example.label}")`);
  });

  const labels = [...new Set(examples.map((e) => e.label))].sort();
  if (labels.length < 2) {
    throw new SavError(
      "too-few-classes",
      `a classifier needs examples of at least two labels; got ${labels.length === 0 ? "none" : `only "${labels[0]}"`}`,
    );
  }
  const indexOfLabel = new Map(labels.map((label, index) => [label, index]));
  const labelOf = new Int32Array(examples.length);
  const classSizes = new Int32Array(labels.length);
  examples.forEach((example, index) => {
    const labelIndex = indexOfLabel.get(example.label)!;
    labelOf[index] = labelIndex;
    classSizes[labelIndex]++;
  });
  return { shape, examples, labels, labelOf, classSizes };
}

/** Throws when a class is smaller than `minimum`; `why` explains the requirement to the caller. */
export function requireClassSizes(dataset: Dataset, minimum: number, why: string): void {
  dataset.labels.forEach((label, index) => {
    const size = dataset.classSizes[index]!;
    if (size < minimum) {
      throw new SavError(
        "too-few-examples",
        `label "${label}" has ${size} example${size === 1 ? "" : "s"}; ${why} needs at least ${minimum} per label. ` +
          `Add examples of "${label}" or remove the label.`,
      );
    }
  });
}

/** Rejects NaN/Inf anywhere in [start, end) and a range that is entirely zero. */
export function checkFiniteAndNonZero(values: Float32Array, start: number, end: number, what: () => string): void {
  let anyNonZero = false;
  for (let i = start; i < end; i++) {
    const v = values[i]!;
    if (!Number.isFinite(v)) {
      throw new SavError("invalid-vector", `${what()} contains ${v} at position ${i}; head vectors must be finite`);
    }
    if (v !== 0) anyNonZero = true;
  }
  if (!anyNonZero) {
    throw new SavError(
      "invalid-vector",
      `${what()} is all zeros; it carries no direction to compare (was it extracted?)`,
    );
  }
}

/** Builds the labelled-example summary stored in a classifier. */
export function examplesPerLabel(dataset: Dataset): Record<string, number> {
  // fromEntries defines own properties, so even a label such as "__proto__" is kept.
  return Object.fromEntries(dataset.labels.map((label, index) => [label, dataset.classSizes[index]!]));
}

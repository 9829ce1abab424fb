import type { HeadShape } from "../model/types.js";

export type { HeadShape };

/**
 * How head scores are measured on the training examples.
 * - `in-sample`: each example counts towards its own class centroid (the reference implementation).
 * - `leave-one-out`: each example is removed from its own class centroid before it is scored.
 */
export type HeadSelection = "in-sample" | "leave-one-out";

/** One training example: its head vectors, row-major [layers, heads, headDim], and its label. */
export interface LabelledVector {
  vector: Float32Array;
  label: string;
}

export interface BuildOptions {
  /** Number of heads kept; default 20, clipped to layers * heads. */
  k?: number;
  /** Default `in-sample`. */
  selection?: HeadSelection;
}

export interface RankedHead {
  layer: number;
  head: number;
  /** Fraction (0..1) of training examples whose nearest centroid at this head is their own class. */
  score: number;
  /** Mean over training examples of (cosine to own centroid − highest cosine to another centroid). */
  margin: number;
}

/** A built classifier: a plain object (Float32Array survives structured clone) that the store can persist. */
export interface SavClassifier {
  format: "sav-classifier/1";
  shape: HeadShape;
  /** Sorted (UTF-16 code unit order), so the classifier does not depend on example order. */
  labels: string[];
  k: number;
  selection: HeadSelection;
  /** Kept heads, best first; `heads.length === k`. */
  heads: RankedHead[];
  /** Unit-normalised class centroids, row-major [k, labels.length, headDim], in `heads` order. */
  centroids: Float32Array;
  exampleCount: number;
  examplesPerLabel: Record<string, number>;
}

export interface HeadVote {
  layer: number;
  head: number;
  label: string;
  /** Cosine similarity between the query's head vector and the voted centroid. */
  similarity: number;
}

export interface Classification {
  label: string;
  /** Votes for the winning label divided by k. */
  share: number;
  /** Votes per label, every label present (0 when it got none). */
  votes: Record<string, number>;
  /** One entry per kept head, best-ranked first. */
  heads: HeadVote[];
}

export interface CrossValidationOptions extends BuildOptions {
  /** Default `leave-one-out`; a number means stratified k-fold with that many folds. */
  folds?: "leave-one-out" | number;
  /** Seed of the k-fold assignment; default 0. Ignored for leave-one-out. */
  seed?: number;
  /** Head counts whose accuracy is reported too; default [1, 5, 10, 20, 40, all heads]. */
  headCounts?: number[];
}

export interface ClassMetrics {
  label: string;
  precision: number;
  recall: number;
  f1: number;
  /** Number of examples with this label. */
  support: number;
}

export interface CrossValidationReport {
  accuracy: number;
  correct: number;
  total: number;
  folds: "leave-one-out" | number;
  perClass: ClassMetrics[];
  labels: string[];
  /** confusion[actual][predicted], indices in `labels` order. */
  confusion: number[][];
  /** Ascending by head count, counts clipped to layers * heads and de-duplicated. */
  accuracyByHeadCount: { heads: number; accuracy: number }[];
  /** One entry per example, in example order. */
  predictions: { index: number; actual: string; predicted: string; share: number }[];
}

export type SavErrorCode =
  | "too-few-classes"
  | "too-few-examples"
  | "shape-mismatch"
  | "invalid-vector"
  | "invalid-option"
  | "invalid-classifier";

export class SavError extends Error {
  readonly code: SavErrorCode;

  constructor(code: SavErrorCode, message: string) {
    super(message);
    this.name = "SavError";
    this.code = code;
  }
}

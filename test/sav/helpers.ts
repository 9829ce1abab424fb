/**
 * Test helpers: seeded data and a deliberately naive reference implementation of SAV head scoring and voting
 * (explicit centroids, rebuilt from scratch for every left-out example), used as an oracle.
 */
import { mulberry32 as seededRandom } from "../../src/sav/folds.js";
import type { HeadSelection, HeadShape, LabelledVector } from "../../src/sav/index.js";

export { seededRandom };

export function seededGaussian(seed: number): () => number {
  const uniform = seededRandom(seed);
  return () => Math.sqrt(-2 * Math.log(uniform() + 1e-12)) * Math.cos(2 * Math.PI * uniform());
}

/** Flattens per-head vectors given in row-major (layer, head) order. */
export function vectorOf(heads: number[][]): Float32Array {
  return Float32Array.from(heads.flat());
}

export interface StructuredData {
  examples: LabelledVector[];
  /** Draws a fresh vector of the given label from the same distribution. */
  sample: (labelIndex: number) => Float32Array;
  labels: string[];
}

/**
 * Every head = strength[head] × class prototype + unit noise; strengths vary widely between heads so that
 * heads rank differently and accuracy is neither 0 nor 1.
 */
export function structuredData(
  shape: HeadShape,
  labels: string[],
  perLabel: number,
  seed: number,
  strengthScale = 0.25,
): StructuredData {
  const gaussian = seededGaussian(seed);
  const heads = shape.layers * shape.heads;
  const length = heads * shape.headDim;
  const prototypes = labels.map(() => Float32Array.from({ length }, gaussian));
  const strength = Array.from({ length: heads }, () => strengthScale * Math.abs(gaussian()) ** 2);
  const sample = (labelIndex: number): Float32Array => {
    const vector = new Float32Array(length);
    for (let i = 0; i < length; i++) {
      vector[i] = strength[Math.floor(i / shape.headDim)]! * prototypes[labelIndex]![i]! + gaussian();
    }
    return vector;
  };
  const examples: LabelledVector[] = [];
  for (let e = 0; e < perLabel; e++) {
    labels.forEach((label, labelIndex) => examples.push({ vector: sample(labelIndex), label }));
  }
  return { examples, sample, labels };
}

function headSlice(vector: Float32Array, flatHead: number, dim: number): number[] {
  return Array.from(vector.subarray(flatHead * dim, (flatHead + 1) * dim));
}

function cosine(a: number[], b: number[]): number {
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i]! * b[i]!;
    na += a[i]! * a[i]!;
    nb += b[i]! * b[i]!;
  }
  return na === 0 || nb === 0 ? 0 : dot / Math.sqrt(na * nb);
}

function mean(vectors: number[][]): number[] {
  const result = new Array<number>(vectors[0]!.length).fill(0);
  for (const v of vectors) v.forEach((x, i) => (result[i]! += x / vectors.length));
  return result;
}

function argmaxLowestIndex(values: number[]): number {
  let best = 0;
  values.forEach((v, i) => {
    if (v > values[best]!) best = i;
  });
  return best;
}

export interface ReferenceHead {
  layer: number;
  head: number;
  score: number;
  margin: number;
}

/** Naive head ranking straight from the specification, with explicit (re)built centroids. */
export function referenceRank(examples: LabelledVector[], shape: HeadShape, selection: HeadSelection): ReferenceHead[] {
  const labels = [...new Set(examples.map((e) => e.label))].sort();
  const result: ReferenceHead[] = [];
  for (let flat = 0; flat < shape.layers * shape.heads; flat++) {
    const slices = examples.map((e) => headSlice(e.vector, flat, shape.headDim));
    let correct = 0;
    let marginSum = 0;
    examples.forEach((example, j) => {
      const own = labels.indexOf(example.label);
      const cosines = labels.map((label) => {
        const members = examples
          .map((e, i) => ({ e, i }))
          .filter(({ e, i }) => e.label === label && !(selection === "leave-one-out" && i === j))
          .map(({ i }) => slices[i]!);
        return cosine(slices[j]!, mean(members));
      });
      if (argmaxLowestIndex(cosines) === own) correct++;
      marginSum += cosines[own]! - Math.max(...cosines.filter((_, c) => c !== own));
    });
    result.push({
      layer: Math.floor(flat / shape.heads),
      head: flat % shape.heads,
      score: correct / examples.length,
      margin: marginSum / examples.length,
    });
  }
  return result
    .map((h, flat) => ({ h, flat }))
    .sort((a, b) => b.h.score - a.h.score || b.h.margin - a.h.margin || a.flat - b.flat)
    .map(({ h }) => h);
}

/** Naive classification: top-k reference heads, explicit centroids, majority with the specified tie-breaks. */
export function referenceClassify(
  examples: LabelledVector[],
  shape: HeadShape,
  k: number,
  selection: HeadSelection,
  query: Float32Array,
): string {
  const labels = [...new Set(examples.map((e) => e.label))].sort();
  const heads = referenceRank(examples, shape, selection).slice(0, k);
  const votes = labels.map(() => 0);
  const sums = labels.map(() => 0);
  const firstRank = labels.map(() => Infinity);
  heads.forEach((head, rank) => {
    const flat = head.layer * shape.heads + head.head;
    const q = headSlice(query, flat, shape.headDim);
    const cosines = labels.map((label) =>
      cosine(q, mean(examples.filter((e) => e.label === label).map((e) => headSlice(e.vector, flat, shape.headDim)))),
    );
    const voted = argmaxLowestIndex(cosines);
    votes[voted]!++;
    sums[voted]! += cosines[voted]!;
    firstRank[voted] = Math.min(firstRank[voted]!, rank);
  });
  const order = labels
    .map((_, c) => c)
    .filter((c) => votes[c]! > 0)
    .sort((a, b) => votes[b]! - votes[a]! || sums[b]! - sums[a]! || firstRank[a]! - firstRank[b]!);
  return labels[order[0]!]!;
}

import {
  type Dataset,
  examplesPerLabel,
  headCount,
  prepareDataset,
  requireClassSizes,
  resolveK,
  validateSelection,
} from "./dataset.js";
import { classSums, compareHeadScores, type HeadSums, inverseNorm, packHead, scoreHead } from "./head-scoring.js";
import type {
  BuildOptions,
  HeadSelection,
  HeadShape,
  LabelledVector,
  RankedHead,
  SavClassifier,
} from "./types.js";

interface HeadRanking {
  /** Flat head indices (layer * heads + head), best first. */
  order: number[];
  correct: Int32Array;
  marginSum: Float64Array;
  trainingCount: number;
}

function rankAllHeads(dataset: Dataset, selection: HeadSelection): HeadRanking {
  const { shape, labelOf } = dataset;
  const n = labelOf.length;
  const classCount = dataset.labels.length;
  const dim = shape.headDim;
  const totalHeads = headCount(shape);
  const vectors = dataset.examples.map((e) => e.vector);

  const packed = new Float64Array(n * dim);
  const sums = new Float64Array(classCount * dim);
  const headSums: HeadSums = {
    classCount,
    labelOf,
    dots: new Float64Array(n * classCount),
    dotCorrections: null,
    sumNormSquared: new Float64Array(classCount),
    memberNormSquared: new Float64Array(classCount),
    selfNormSquared: new Float64Array(n),
  };
  const cosines = new Float64Array(classCount);
  const inverseSumNorms = new Float64Array(classCount);
  const correct = new Int32Array(totalHeads);
  const marginSum = new Float64Array(totalHeads);

  for (let head = 0; head < totalHeads; head++) {
    packHead(vectors, head, dim, packed);
    classSums(packed, dataset.labelOf, dim, sums);
    const { dots, sumNormSquared, memberNormSquared, selfNormSquared } = headSums;
    memberNormSquared.fill(0);
    for (let c = 0; c < classCount; c++) {
      let s = 0;
      for (let d = 0; d < dim; d++) s += sums[c * dim + d]! * sums[c * dim + d]!;
      sumNormSquared[c] = s;
    }
    for (let j = 0; j < n; j++) {
      const row = j * dim;
      let self = 0;
      for (let d = 0; d < dim; d++) self += packed[row + d]! * packed[row + d]!;
      selfNormSquared[j] = self;
      memberNormSquared[labelOf[j]!]! += self;
      for (let c = 0; c < classCount; c++) {
        let dot = 0;
        const sumRow = c * dim;
        for (let d = 0; d < dim; d++) dot += packed[row + d]! * sums[sumRow + d]!;
        dots[j * classCount + c] = dot;
      }
    }
    const score = scoreHead(headSums, null, selection === "leave-one-out", cosines, inverseSumNorms);
    correct[head] = score.correct;
    marginSum[head] = score.marginSum;
  }

  const order = Array.from({ length: totalHeads }, (_, i) => i).sort(compareHeadScores(correct, marginSum));
  return { order, correct, marginSum, trainingCount: n };
}

function toRankedHead(flatHead: number, ranking: HeadRanking, shape: HeadShape): RankedHead {
  return {
    layer: Math.floor(flatHead / shape.heads),
    head: flatHead % shape.heads,
    score: ranking.correct[flatHead]! / ranking.trainingCount,
    margin: ranking.marginSum[flatHead]! / ranking.trainingCount,
  };
}

function selectionMinimum(selection: HeadSelection): number {
  return selection === "leave-one-out" ? 2 : 1;
}

const LOO_SELECTION_REASON = 'selection "leave-one-out" (each example is scored against its class without itself)';

/**
 * Ranks every head by how well nearest-centroid classification works on it: score (fraction correct) descending,
 * then mean margin descending, then (layer, head) ascending.
 */
export function rankHeads(
  examples: LabelledVector[],
  shape: HeadShape,
  selection: HeadSelection = "in-sample",
): RankedHead[] {
  const resolvedSelection = validateSelection(selection);
  const dataset = prepareDataset(examples, shape);
  requireClassSizes(dataset, selectionMinimum(resolvedSelection), LOO_SELECTION_REASON);
  const ranking = rankAllHeads(dataset, resolvedSelection);
  return ranking.order.map((flatHead) => toRankedHead(flatHead, ranking, shape));
}

/** Builds a classifier: ranks all heads, keeps the best k, and stores their unit-normalised class centroids. */
export function buildClassifier(
  examples: LabelledVector[],
  shape: HeadShape,
  options: BuildOptions = {},
): SavClassifier {
  const selection = validateSelection(options.selection);
  const dataset = prepareDataset(examples, shape);
  const k = resolveK(options.k, shape);
  requireClassSizes(dataset, selectionMinimum(selection), LOO_SELECTION_REASON);

  const ranking = rankAllHeads(dataset, selection);
  const kept = ranking.order.slice(0, k);
  const classCount = dataset.labels.length;
  const dim = shape.headDim;
  const vectors = dataset.examples.map((e) => e.vector);
  const packed = new Float64Array(vectors.length * dim);
  const sums = new Float64Array(classCount * dim);
  const memberNormSquared = new Float64Array(classCount);
  const centroids = new Float32Array(k * classCount * dim);

  kept.forEach((flatHead, rank) => {
    packHead(vectors, flatHead, dim, packed);
    classSums(packed, dataset.labelOf, dim, sums);
    memberNormSquared.fill(0);
    for (let j = 0; j < vectors.length; j++) {
      let self = 0;
      for (let d = 0; d < dim; d++) self += packed[j * dim + d]! * packed[j * dim + d]!;
      memberNormSquared[dataset.labelOf[j]!]! += self;
    }
    for (let c = 0; c < classCount; c++) {
      let normSquared = 0;
      for (let d = 0; d < dim; d++) normSquared += sums[c * dim + d]! * sums[c * dim + d]!;
      // A cancelled-out sum is stored as zeros: every cosine to it is 0, as during scoring.
      const scale = inverseNorm(normSquared, memberNormSquared[c]!);
      const target = (rank * classCount + c) * dim;
      for (let d = 0; d < dim; d++) centroids[target + d] = sums[c * dim + d]! * scale;
    }
  });

  return {
    format: "sav-classifier/1",
    shape: { layers: shape.layers, heads: shape.heads, headDim: shape.headDim },
    labels: [...dataset.labels],
    k,
    selection,
    heads: kept.map((flatHead) => toRankedHead(flatHead, ranking, shape)),
    centroids,
    exampleCount: dataset.examples.length,
    examplesPerLabel: examplesPerLabel(dataset),
  };
}

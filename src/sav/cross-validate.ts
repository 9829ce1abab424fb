import { type Dataset, headCount, prepareDataset, resolveK, validateSelection } from "./dataset.js";
import { assignFolds } from "./folds.js";
import { compareHeadScores, gramMatrix, packHead } from "./head-scoring.js";
import { KFoldScorer } from "./k-fold.js";
import {
  type ClassMetrics,
  type CrossValidationOptions,
  type CrossValidationReport,
  type HeadShape,
  type LabelledVector,
  SavError,
} from "./types.js";
import { LeaveOneOutScorer } from "./leave-one-out.js";
import { VoteTally } from "./vote.js";

const DEFAULT_HEAD_COUNTS = [1, 5, 10, 20, 40];

function resolveFolds(folds: unknown, exampleCount: number): "leave-one-out" | number {
  if (folds === undefined || folds === "leave-one-out") return "leave-one-out";
  if (typeof folds !== "number" || !Number.isInteger(folds) || folds < 2 || folds > exampleCount) {
    throw new SavError(
      "invalid-option",
      `folds must be "leave-one-out" or an integer from 2 to the number of examples (${exampleCount}); ` +
        `got ${String(folds)}`,
    );
  }
  return folds;
}

function resolveSeed(seed: unknown): number {
  if (seed === undefined) return 0;
  if (typeof seed !== "number" || !Number.isSafeInteger(seed)) {
    throw new SavError("invalid-option", `seed must be an integer; got ${String(seed)}`);
  }
  return seed;
}

function resolveHeadCounts(headCounts: unknown, shape: HeadShape): number[] {
  const total = headCount(shape);
  const requested = headCounts === undefined ? [...DEFAULT_HEAD_COUNTS, total] : headCounts;
  if (!Array.isArray(requested)) throw new SavError("invalid-option", "headCounts must be an array of integers >= 1");
  for (const count of requested) {
    if (typeof count !== "number" || !Number.isInteger(count) || count < 1) {
      throw new SavError("invalid-option", `headCounts must contain integers >= 1; got ${String(count)}`);
    }
  }
  return [...new Set(requested.map((count: number) => Math.min(count, total)))].sort((a, b) => a - b);
}

/** Every training set (all examples minus one fold) must still have enough examples of every label. */
function checkFoldTrainingSets(
  dataset: Dataset,
  foldMembers: Int32Array[],
  minimum: number,
  leaveOneOut: boolean,
  selectionLeaveOneOut: boolean,
): void {
  const classCount = dataset.labels.length;
  const why = selectionLeaveOneOut ? ' with selection "leave-one-out"' : "";
  foldMembers.forEach((members, fold) => {
    const remaining = Int32Array.from(dataset.classSizes);
    for (const index of members) remaining[dataset.labelOf[index]!]!--;
    for (let c = 0; c < classCount; c++) {
      if (remaining[c]! >= minimum) continue;
      const label = dataset.labels[c]!;
      const size = dataset.classSizes[c]!;
      if (leaveOneOut) {
        throw new SavError(
          "too-few-examples",
          `label "${label}" has ${size} example${size === 1 ? "" : "s"}; leave-one-out cross-validation${why} needs ` +
            `at least ${minimum + 1} per label. Add examples of "${label}".`,
        );
      }
      throw new SavError(
        "too-few-examples",
        `fold ${fold} leaves label "${label}" with ${remaining[c]} training example${remaining[c] === 1 ? "" : "s"} ` +
          `(it has ${size}); ${foldMembers.length}-fold cross-validation${why} needs ${minimum} per label in every ` +
          `training set. Use fewer folds or add examples of "${label}".`,
      );
    }
  });
}

export function metricsFromConfusion(labels: string[], confusion: number[][]): ClassMetrics[] {
  return labels.map((label, c) => {
    const truePositives = confusion[c]![c]!;
    const support = confusion[c]!.reduce((a, b) => a + b, 0);
    const predicted = confusion.reduce((sum, row) => sum + row[c]!, 0);
    const precision = predicted === 0 ? 0 : truePositives / predicted;
    const recall = support === 0 ? 0 : truePositives / support;
    const f1 = precision + recall === 0 ? 0 : (2 * precision * recall) / (precision + recall);
    return { label, precision, recall, f1, support };
  });
}

/**
 * Classifies every example with a classifier built without it (head selection included): leave-one-out by
 * default, or stratified k-fold. The result equals rebuilding with `buildClassifier` for every fold, but runs
 * in one pass: per head, the Gram matrix of the examples gives every fold's class sums, norms and dot products
 * in closed form, and heads are ranked once per fold for all head counts.
 */
export function crossValidate(
  examples: LabelledVector[],
  shape: HeadShape,
  options: CrossValidationOptions = {},
): CrossValidationReport {
  const selection = validateSelection(options.selection);
  const dataset = prepareDataset(examples, shape);
  const k = resolveK(options.k, shape);
  const n = dataset.examples.length;
  const folds = resolveFolds(options.folds, n);
  const seed = resolveSeed(options.seed);
  const headCounts = resolveHeadCounts(options.headCounts, shape);
  const selectionLeaveOneOut = selection === "leave-one-out";

  const { labels, labelOf } = dataset;
  const classCount = labels.length;
  const foldOf =
    folds === "leave-one-out"
      ? Int32Array.from({ length: n }, (_, i) => i)
      : assignFolds(labelOf, classCount, folds, seed);
  const foldCount = folds === "leave-one-out" ? n : folds;
  const foldMembers = Array.from({ length: foldCount }, (_, fold) => {
    const members: number[] = [];
    foldOf.forEach((f, index) => {
      if (f === fold) members.push(index);
    });
    return Int32Array.from(members);
  });
  const minimumPerLabel = selectionLeaveOneOut ? 2 : 1;
  checkFoldTrainingSets(dataset, foldMembers, minimumPerLabel, folds === "leave-one-out", selectionLeaveOneOut);

  const dim = shape.headDim;
  const totalHeads = headCount(shape);
  const vectors = dataset.examples.map((e) => e.vector);
  const packed = new Float64Array(n * dim);
  const gram = new Float64Array(n * n);
  const dots = new Float64Array(n * classCount);
  const sumNormSquared = new Float64Array(classCount);
  const memberNormSquared = new Float64Array(classCount);
  const scorer =
    folds === "leave-one-out" ? new LeaveOneOutScorer(n, classCount) : new KFoldScorer(n, classCount, foldMembers);

  // Per fold and head: the training score; per example and head: its vote when held out.
  const foldCorrect = new Int32Array(foldCount * totalHeads);
  const foldMarginSum = new Float64Array(foldCount * totalHeads);
  const heldOutVote = new Int32Array(n * totalHeads);
  const heldOutSimilarity = new Float64Array(n * totalHeads);

  for (let head = 0; head < totalHeads; head++) {
    packHead(vectors, head, dim, packed);
    gramMatrix(packed, n, dim, gram);
    // Over all examples: x_j · S_c, |S_c|² and Σ|x|² per class.
    dots.fill(0);
    sumNormSquared.fill(0);
    memberNormSquared.fill(0);
    for (let j = 0; j < n; j++) {
      const row = j * n;
      const dotRow = j * classCount;
      for (let l = 0; l < n; l++) dots[dotRow + labelOf[l]!]! += gram[row + l]!;
    }
    for (let l = 0; l < n; l++) {
      const c = labelOf[l]!;
      sumNormSquared[c]! += dots[l * classCount + c]!;
      memberNormSquared[c]! += gram[l * n + l]!;
    }

    scorer.prepare(labelOf, gram, dots, sumNormSquared, memberNormSquared);
    for (let fold = 0; fold < foldCount; fold++) {
      const score = scorer.score(fold, selectionLeaveOneOut);
      foldCorrect[fold * totalHeads + head] = score.correct;
      foldMarginSum[fold * totalHeads + head] = score.marginSum;
      for (const i of foldMembers[fold]!) {
        scorer.classifyHeldOut(i);
        heldOutVote[i * totalHeads + head] = scorer.votedClass;
        heldOutSimilarity[i * totalHeads + head] = scorer.votedCosine;
      }
    }
  }

  // Rank heads once per fold; walk each held-out example's votes in that order, reading off every head count.
  const checkpoints = [...new Set([...headCounts, k])].sort((a, b) => a - b);
  const deepest = checkpoints[checkpoints.length - 1]!;
  const correctAtCount = new Map<number, number>(checkpoints.map((count) => [count, 0]));
  const predicted = new Int32Array(n);
  const share = new Float64Array(n);
  const tally = new VoteTally(classCount);
  const headIndices = Array.from({ length: totalHeads }, (_, i) => i);
  for (let fold = 0; fold < foldCount; fold++) {
    const correct = foldCorrect.subarray(fold * totalHeads, (fold + 1) * totalHeads);
    const margins = foldMarginSum.subarray(fold * totalHeads, (fold + 1) * totalHeads);
    const order = [...headIndices].sort(compareHeadScores(correct, margins));
    for (const i of foldMembers[fold]!) {
      tally.reset();
      let nextCheckpoint = 0;
      for (let rank = 0; rank < deepest; rank++) {
        const head = order[rank]!;
        tally.add(heldOutVote[i * totalHeads + head]!, heldOutSimilarity[i * totalHeads + head]!);
        if (rank + 1 === checkpoints[nextCheckpoint]) {
          const winner = tally.winner();
          if (winner === labelOf[i]) correctAtCount.set(rank + 1, correctAtCount.get(rank + 1)! + 1);
          if (rank + 1 === k) {
            predicted[i] = winner;
            share[i] = tally.votes[winner]! / k;
          }
          nextCheckpoint++;
        }
      }
    }
  }

  const confusion = labels.map(() => labels.map(() => 0));
  let correct = 0;
  for (let i = 0; i < n; i++) {
    confusion[labelOf[i]!]![predicted[i]!]!++;
    if (predicted[i] === labelOf[i]) correct++;
  }
  return {
    accuracy: correct / n,
    correct,
    total: n,
    folds,
    perClass: metricsFromConfusion(labels, confusion),
    labels: [...labels],
    confusion,
    accuracyByHeadCount: headCounts.map((count) => ({ heads: count, accuracy: correctAtCount.get(count)! / n })),
    predictions: Array.from({ length: n }, (_, i) => ({
      index: i,
      actual: labels[labelOf[i]!]!,
      predicted: labels[predicted[i]!]!,
      share: share[i]!,
    })),
  };
}

import { type Dataset, headCount, prepareDataset, resolveK, validateSelection } from "./dataset.js";
import { assignFolds } from "./folds.js";
import { type CrossValidationPlan, type FoldScores, scoreFolds } from "./fold-scores.js";
import { compareHeadScores } from "./head-scoring.js";
import {
  type ClassMetrics,
  type CrossValidationOptions,
  type CrossValidationReport,
  type HeadShape,
  type LabelledVector,
  SavError,
} from "./types.js";
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
 * Validates the options and examples and assigns the folds; throws SavError with a message saying how to
 * recover. The plan is what `scoreFolds` and `reportCrossValidation` share.
 */
export function planCrossValidation(
  examples: LabelledVector[],
  shape: HeadShape,
  options: CrossValidationOptions = {},
): CrossValidationPlan {
  const selection = validateSelection(options.selection);
  const dataset = prepareDataset(examples, shape);
  const k = resolveK(options.k, shape);
  const n = dataset.examples.length;
  const folds = resolveFolds(options.folds, n);
  const seed = resolveSeed(options.seed);
  const headCounts = resolveHeadCounts(options.headCounts, shape);
  const selectionLeaveOneOut = selection === "leave-one-out";

  const { labelOf } = dataset;
  const classCount = dataset.labels.length;
  const foldOf =
    folds === "leave-one-out"
      ? Int32Array.from({ length: n }, (_, i) => i)
      : assignFolds(labelOf, classCount, folds, seed);
  const foldCount = folds === "leave-one-out" ? n : folds;
  const foldMembers = Array.from({ length: foldCount }, () => [] as number[]);
  foldOf.forEach((fold, index) => foldMembers[fold]!.push(index));
  const members = foldMembers.map((list) => Int32Array.from(list));
  const minimumPerLabel = selectionLeaveOneOut ? 2 : 1;
  checkFoldTrainingSets(dataset, members, minimumPerLabel, folds === "leave-one-out", selectionLeaveOneOut);
  return {
    dataset,
    k,
    folds,
    headCounts,
    selectionLeaveOneOut,
    foldCount,
    foldMembers: members,
    totalHeads: headCount(shape),
  };
}

/** Joins head ranges (in any order) that together cover every head once. */
function joinFoldScores(plan: CrossValidationPlan, parts: readonly FoldScores[]): FoldScores {
  const ordered = [...parts].sort((a, b) => a.firstHead - b.firstHead);
  let next = 0;
  for (const part of ordered) {
    if (part.firstHead !== next) throw new Error(`fold scores miss heads ${next} to ${part.firstHead - 1}`);
    next += part.heads;
  }
  if (next !== plan.totalHeads) throw new Error(`fold scores cover ${next} of ${plan.totalHeads} heads`);
  if (ordered.length === 1) return ordered[0]!;
  const join = <T extends Int32Array | Float64Array>(pick: (part: FoldScores) => T, make: (length: number) => T): T => {
    const whole = make(ordered.reduce((sum, part) => sum + pick(part).length, 0));
    let at = 0;
    for (const part of ordered) {
      whole.set(pick(part), at);
      at += pick(part).length;
    }
    return whole;
  };
  return {
    firstHead: 0,
    heads: plan.totalHeads,
    foldCorrect: join((p) => p.foldCorrect, (l) => new Int32Array(l)),
    foldMarginSum: join((p) => p.foldMarginSum, (l) => new Float64Array(l)),
    heldOutVote: join((p) => p.heldOutVote, (l) => new Int32Array(l)),
    heldOutSimilarity: join((p) => p.heldOutSimilarity, (l) => new Float64Array(l)),
  };
}

/**
 * The report from every head's fold scores: heads are ranked once per fold, and each held-out example's votes
 * are walked in that order, reading off every head count.
 */
export function reportCrossValidation(plan: CrossValidationPlan, parts: readonly FoldScores[]): CrossValidationReport {
  const { dataset, k, headCounts, foldCount, foldMembers, totalHeads } = plan;
  const { labels, labelOf } = dataset;
  const n = labelOf.length;
  const classCount = labels.length;
  const { foldCorrect, foldMarginSum, heldOutVote, heldOutSimilarity } = joinFoldScores(plan, parts);

  const checkpoints = [...new Set([...headCounts, k])].sort((a, b) => a - b);
  const deepest = checkpoints[checkpoints.length - 1]!;
  const correctAtCount = new Map<number, number>(checkpoints.map((count) => [count, 0]));
  const predicted = new Int32Array(n);
  const share = new Float64Array(n);
  const tally = new VoteTally(classCount);
  const headIndices = Array.from({ length: totalHeads }, (_, i) => i);
  const correct = new Int32Array(totalHeads);
  const margins = new Float64Array(totalHeads);
  for (let fold = 0; fold < foldCount; fold++) {
    for (let head = 0; head < totalHeads; head++) {
      correct[head] = foldCorrect[head * foldCount + fold]!;
      margins[head] = foldMarginSum[head * foldCount + fold]!;
    }
    const order = [...headIndices].sort(compareHeadScores(correct, margins));
    for (const i of foldMembers[fold]!) {
      tally.reset();
      let nextCheckpoint = 0;
      for (let rank = 0; rank < deepest; rank++) {
        const head = order[rank]!;
        tally.add(heldOutVote[head * n + i]!, heldOutSimilarity[head * n + i]!);
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
  let correctCount = 0;
  for (let i = 0; i < n; i++) {
    confusion[labelOf[i]!]![predicted[i]!]!++;
    if (predicted[i] === labelOf[i]) correctCount++;
  }
  return {
    accuracy: correctCount / n,
    correct: correctCount,
    total: n,
    folds: plan.folds,
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

/**
 * Classifies every example with a classifier built without it (head selection included): leave-one-out by
 * default, or stratified k-fold. The result equals rebuilding with `buildClassifier` for every fold, but runs
 * in one pass: per head, the Gram matrix of the examples gives every fold's class sums, norms and dot products
 * in closed form, and heads are ranked once per fold for all head counts. The per-head work can be split by
 * head range (`scoreFolds`), e.g. across worker threads, and joined with `reportCrossValidation`.
 */
export function crossValidate(
  examples: LabelledVector[],
  shape: HeadShape,
  options: CrossValidationOptions = {},
): CrossValidationReport {
  const plan = planCrossValidation(examples, shape, options);
  return reportCrossValidation(plan, [scoreFolds(plan, 0, plan.totalHeads)]);
}

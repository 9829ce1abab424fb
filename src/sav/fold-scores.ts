import type { Dataset } from "./dataset.js";
import { KernelArena } from "./kernel-arena.js";
import { classSums, packHead } from "./head-scoring.js";
import { KFoldScorer } from "./k-fold.js";
import { LeaveOneOutScorer } from "./leave-one-out.js";

/** Everything a cross-validation needs besides the per-head work; built once, shared by all head ranges. */
export interface CrossValidationPlan {
  dataset: Dataset;
  k: number;
  folds: "leave-one-out" | number;
  headCounts: number[];
  selectionLeaveOneOut: boolean;
  foldCount: number;
  foldMembers: Int32Array[];
  totalHeads: number;
}

/**
 * Per head of a contiguous range [firstHead, firstHead + heads): each fold's training score of the head and
 * each example's vote when held out. Head-major, so ranges computed apart (e.g. in worker threads)
 * concatenate into the whole.
 */
export interface FoldScores {
  firstHead: number;
  heads: number;
  /** [head][fold]: training examples of the fold whose nearest class sum is their own. */
  foldCorrect: Int32Array;
  /** [head][fold]: summed margins of those examples. */
  foldMarginSum: Float64Array;
  /** [head][example]: the class the example votes for when it is held out, and that cosine. */
  heldOutVote: Int32Array;
  heldOutSimilarity: Float64Array;
}

/**
 * The per-head part of cross-validation for heads [firstHead, endHead): the Gram matrix of the examples
 * gives every fold's class sums, norms and dot products in closed form.
 */
export function scoreFolds(plan: CrossValidationPlan, firstHead: number, endHead: number): FoldScores {
  const { dataset, foldCount, foldMembers, selectionLeaveOneOut } = plan;
  const { labelOf } = dataset;
  const n = labelOf.length;
  const classCount = dataset.labels.length;
  const dim = dataset.shape.headDim;
  const heads = endHead - firstHead;
  const vectors = dataset.examples.map((e) => e.vector);
  const arena = new KernelArena(n, dim, classCount);
  const packed = new Float64Array(n * dim);
  const sums = new Float64Array(classCount * dim);
  const dots = new Float64Array(n * classCount);
  const sumNormSquared = new Float64Array(classCount);
  const memberNormSquared = new Float64Array(classCount);
  const leaveOneOut = plan.folds === "leave-one-out";
  const looScorer = leaveOneOut ? new LeaveOneOutScorer(arena, classCount) : null;
  const kFoldScorer = leaveOneOut ? null : new KFoldScorer(n, classCount, foldMembers);
  const scores: FoldScores = {
    firstHead,
    heads,
    foldCorrect: new Int32Array(heads * foldCount),
    foldMarginSum: new Float64Array(heads * foldCount),
    heldOutVote: new Int32Array(heads * n),
    heldOutSimilarity: new Float64Array(heads * n),
  };

  for (let offset = 0; offset < heads; offset++) {
    packHead(vectors, firstHead + offset, dim, packed);
    const gram = arena.computeGram(packed);
    const stride = arena.stride;
    // Over all examples: x_j · S_c, |S_c|² and Σ|x|² per class.
    classSums(packed, labelOf, dim, sums);
    arena.computeDots(sums, dots);
    sumNormSquared.fill(0);
    memberNormSquared.fill(0);
    for (let l = 0; l < n; l++) {
      const c = labelOf[l]!;
      sumNormSquared[c]! += dots[l * classCount + c]!;
      memberNormSquared[c]! += gram[l * stride + l]!;
    }

    const scorer = looScorer ?? kFoldScorer!;
    if (looScorer !== null) {
      looScorer.prepare(labelOf, gram, stride, dots, sumNormSquared, memberNormSquared, selectionLeaveOneOut);
    } else {
      kFoldScorer!.prepare(labelOf, gram, stride, dots, sumNormSquared, memberNormSquared);
    }
    for (let fold = 0; fold < foldCount; fold++) {
      const score = scorer.score(fold, selectionLeaveOneOut);
      scores.foldCorrect[offset * foldCount + fold] = score.correct;
      scores.foldMarginSum[offset * foldCount + fold] = score.marginSum;
      for (const i of foldMembers[fold]!) {
        scorer.classifyHeldOut(i);
        scores.heldOutVote[offset * n + i] = scorer.votedClass;
        scores.heldOutSimilarity[offset * n + i] = scorer.votedCosine;
      }
    }
  }
  return scores;
}

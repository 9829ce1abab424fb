import { type HeadScore, inverseNorm } from "./head-scoring.js";
import type { KernelArena } from "./kernel-arena.js";

/** Best full-data classes kept per example: enough to find the best class outside two changed ones. */
export const TOP = 3;

/**
 * Fast path of leave-one-out cross-validation for one head.
 *
 * Holding out example i changes only the sum of i's class a; with selection "leave-one-out", scoring example j
 * also changes the sum of j's own class b (by j itself, independently of i). Every other cosine of j equals its
 * cosine to the full-data sums. So per (a, j) everything but the cosine to the changed sum of a is known
 * before the folds: the best class of j other than a and its own (from j's TOP best classes), and whether its
 * own class beats all unchanged classes. Scoring j for a held-out i is then a few loads and compares.
 *
 * The arithmetic is the same as scoreHead's with the fold's corrections, so results are identical to the
 * general path. The loop over the examples of a fold runs in WebAssembly (loo-kernel.ts), on tables kept in
 * the kernel arena.
 */
export class LeaveOneOutScorer {
  private readonly n: number;
  private readonly classCount: number;
  private readonly arena: KernelArena;
  private labelOf!: Int32Array;
  private dots!: Float64Array;
  private sumNormSquared!: Float64Array;
  private memberNormSquared!: Float64Array;
  /** Per example: |x_j|² and 1/|x_j| (0 for a zero vector). */
  private readonly selfSquared: Float64Array;
  private readonly inverseSelf: Float64Array;
  /** Per class: 1/|S_c| of the full-data sums (0 when degenerate). */
  private readonly inverseSum: Float64Array;
  /** Per example: cosine to its own class sum, for a fold that holds out another class (per selection). */
  private readonly ownCosine: Float64Array;
  /** Class-major [a][j]: x_j · S_a. */
  private readonly dotsByClass: Float64Array;
  /** Class-major [a][j]: the best class of j other than a and its own, and its cosine (-1, -Infinity if none). */
  private readonly rivalClass: Int32Array;
  private readonly rivalCosine: Float64Array;
  /** Class-major [a][j], for a ≠ own: 1 when j's own class beats every class but a. */
  private readonly ownBeatsUnchanged: Int32Array;
  private readonly topClass = new Int32Array(TOP);
  private readonly topCosine = new Float64Array(TOP);

  /** Outputs of classifyHeldOut. */
  votedClass = 0;
  votedCosine = 0;

  constructor(arena: KernelArena, classCount: number) {
    this.arena = arena;
    this.n = arena.n;
    this.classCount = classCount;
    this.selfSquared = arena.selfSquared;
    this.inverseSelf = arena.inverseSelf;
    this.inverseSum = new Float64Array(classCount);
    this.ownCosine = arena.ownCosine;
    this.dotsByClass = arena.dotsByClass;
    this.rivalClass = arena.rivalClass;
    this.rivalCosine = arena.rivalCosine;
    this.ownBeatsUnchanged = arena.ownBeatsUnchanged;
  }

  /**
   * Takes one head's Gram matrix (rows `stride` apart), x_j·S_c (N×C), |S_c|² and Σ|x|² per class over all
   * examples.
   */
  prepare(
    labelOf: Int32Array,
    gram: Float64Array,
    stride: number,
    dots: Float64Array,
    sumNormSquared: Float64Array,
    memberNormSquared: Float64Array,
    selectionLeaveOneOut: boolean,
  ): void {
    const { n, classCount, selfSquared, inverseSelf, inverseSum, ownCosine, topClass, topCosine } = this;
    this.labelOf = labelOf;
    this.arena.labels.set(labelOf);
    this.dots = dots;
    this.sumNormSquared = sumNormSquared;
    this.memberNormSquared = memberNormSquared;
    for (let c = 0; c < classCount; c++) inverseSum[c] = inverseNorm(sumNormSquared[c]!, memberNormSquared[c]!);
    for (let j = 0; j < n; j++) {
      const self = gram[j * stride + j]!;
      selfSquared[j] = self;
      inverseSelf[j] = self > 0 ? 1 / Math.sqrt(self) : 0;
      const own = labelOf[j]!;
      topClass.fill(-1);
      topCosine.fill(-Infinity);
      for (let c = 0; c < classCount; c++) {
        // Same expression as scoreHead with a zero correction.
        const cosine = (dots[j * classCount + c]! - 0) * inverseSelf[j]! * inverseSum[c]!;
        if (c === own) ownCosine[j] = cosine;
        this.dotsByClass[c * n + j] = dots[j * classCount + c]!;
        // Insert keeping (cosine desc, class asc): a later class only passes a strictly smaller cosine.
        let t = TOP;
        while (t > 0 && cosine > topCosine[t - 1]!) t--;
        if (t < TOP) {
          topClass.copyWithin(t + 1, t, TOP - 1);
          topCosine.copyWithin(t + 1, t, TOP - 1);
          topClass[t] = c;
          topCosine[t] = cosine;
        }
      }
      if (selectionLeaveOneOut) {
        // j scored against its own class without itself: |S − x|² = |S|² − 2 x·S + |x|².
        const dotOwn = dots[j * classCount + own]!;
        const squared = sumNormSquared[own]! - 2 * dotOwn + self;
        ownCosine[j] = (dotOwn - self) * inverseSelf[j]! * inverseNorm(squared, memberNormSquared[own]! - self);
      }
      this.prepareRivals(j, own, selectionLeaveOneOut);
    }
  }

  private prepareRivals(j: number, own: number, selectionLeaveOneOut: boolean): void {
    const { n, classCount, topClass, topCosine, rivalClass, rivalCosine, ownBeatsUnchanged } = this;
    const ownCosine = this.ownCosine[j]!;
    for (let a = 0; a < classCount; a++) {
      let firstOutsideA = -1;
      let rival = -1;
      let rivalValue = -Infinity;
      for (let t = 0; t < TOP; t++) {
        const c = topClass[t]!;
        if (c < 0) break;
        if (c === a) continue;
        if (firstOutsideA < 0) firstOutsideA = c;
        if (c !== own) {
          rival = c;
          rivalValue = topCosine[t]!;
          break;
        }
      }
      const at = a * n + j;
      rivalClass[at] = rival;
      rivalCosine[at] = rivalValue;
      // In-sample, own's cosine is unchanged: it beats the other unchanged classes when it ranks first
      // outside a. With leave-one-out selection it changed, so it is compared with the rival directly.
      ownBeatsUnchanged[at] = selectionLeaveOneOut
        ? Number(!(rivalValue > ownCosine || (rivalValue === ownCosine && rival < own)))
        : Number(firstOutsideA === own);
    }
  }

  /** Scores the head on all examples but `heldOut` (fold i is example i), with class sums that exclude it. */
  score(heldOut: number, selectionLeaveOneOut: boolean): HeadScore {
    const a = this.labelOf[heldOut]!;
    const heldOutSelf = this.selfSquared[heldOut]!;
    // Class a's training sum without the held-out example: |S − x_i|² = |S|² − 2 x_i·S + |x_i|².
    const sumSquaredA = this.sumNormSquared[a]! - 2 * this.dots[heldOut * this.classCount + a]! + heldOutSelf;
    const memberSquaredA = this.memberNormSquared[a]! - heldOutSelf;
    const inverseSumA = inverseNorm(sumSquaredA, memberSquaredA);
    return this.arena.scoreLeaveOneOut(heldOut, a, selectionLeaveOneOut, inverseSumA, sumSquaredA, memberSquaredA);
  }

  /** The nearest class of the held-out example to the sums without it; sets votedClass and votedCosine. */
  classifyHeldOut(heldOut: number): void {
    const { classCount, labelOf, dots, inverseSelf, inverseSum } = this;
    const a = labelOf[heldOut]!;
    const self = this.selfSquared[heldOut]!;
    const dotA = dots[heldOut * classCount + a]!;
    const inverseSumA = inverseNorm(this.sumNormSquared[a]! - 2 * dotA + self, this.memberNormSquared[a]! - self);
    let best = 0;
    let bestCosine = -Infinity;
    for (let c = 0; c < classCount; c++) {
      const cosine =
        c === a
          ? (dotA - self) * inverseSelf[heldOut]! * inverseSumA
          : (dots[heldOut * classCount + c]! - 0) * inverseSelf[heldOut]! * inverseSum[c]!;
      if (cosine > bestCosine) {
        bestCosine = cosine;
        best = c;
      }
    }
    this.votedClass = best;
    this.votedCosine = bestCosine;
  }
}

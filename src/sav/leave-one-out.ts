import { type HeadScore, inverseNorm } from "./head-scoring.js";

const TOP = 3;

/**
 * Fast path of leave-one-out cross-validation for one head.
 *
 * Holding out example i changes only the sum of i's class a; with selection "leave-one-out", scoring example j
 * also changes the sum of j's own class b. Every other cosine of j equals its cosine to the full-data sums.
 * So per j we keep its three best full-data classes: the best class outside the (at most two) changed ones is
 * among them, and scoring j for a held-out i costs O(1) instead of O(classes).
 *
 * The arithmetic is the same as scoreHead's with the fold's corrections, so results are identical to the
 * general path.
 */
export class LeaveOneOutScorer {
  private readonly n: number;
  private readonly classCount: number;
  private labelOf!: Int32Array;
  private gram!: Float64Array;
  private dots!: Float64Array;
  private sumNormSquared!: Float64Array;
  private memberNormSquared!: Float64Array;
  /** Per example: 1/|x_j| (0 for a zero vector). */
  private readonly inverseSelf: Float64Array;
  /** Per class: 1/|S_c| of the full-data sums (0 when degenerate). */
  private readonly inverseSum: Float64Array;
  /** N×C cosines to the full-data sums. */
  private readonly cosines: Float64Array;
  /** N×TOP best classes of each example by full-data cosine (value desc, index asc); -1 pads. */
  private readonly topClass: Int32Array;
  private readonly topCosine: Float64Array;

  /** Outputs of classifyHeldOut. */
  votedClass = 0;
  votedCosine = 0;

  constructor(n: number, classCount: number) {
    this.n = n;
    this.classCount = classCount;
    this.inverseSelf = new Float64Array(n);
    this.inverseSum = new Float64Array(classCount);
    this.cosines = new Float64Array(n * classCount);
    this.topClass = new Int32Array(n * TOP);
    this.topCosine = new Float64Array(n * TOP);
  }

  /** Takes one head's Gram matrix (N×N), x_j·S_c (N×C), |S_c|² and Σ|x|² per class over all examples. */
  prepare(
    labelOf: Int32Array,
    gram: Float64Array,
    dots: Float64Array,
    sumNormSquared: Float64Array,
    memberNormSquared: Float64Array,
  ): void {
    const { n, classCount, inverseSelf, inverseSum, cosines, topClass, topCosine } = this;
    this.labelOf = labelOf;
    this.gram = gram;
    this.dots = dots;
    this.sumNormSquared = sumNormSquared;
    this.memberNormSquared = memberNormSquared;
    for (let c = 0; c < classCount; c++) inverseSum[c] = inverseNorm(sumNormSquared[c]!, memberNormSquared[c]!);
    for (let j = 0; j < n; j++) {
      const self = gram[j * n + j]!;
      inverseSelf[j] = self > 0 ? 1 / Math.sqrt(self) : 0;
      const top = j * TOP;
      for (let t = 0; t < TOP; t++) {
        topClass[top + t] = -1;
        topCosine[top + t] = -Infinity;
      }
      for (let c = 0; c < classCount; c++) {
        // Same expression as scoreHead with a zero correction.
        const cosine = (dots[j * classCount + c]! - 0) * inverseSelf[j]! * inverseSum[c]!;
        cosines[j * classCount + c] = cosine;
        // Insert keeping (cosine desc, class asc): a later class only passes a strictly smaller cosine.
        let t = TOP;
        while (t > 0 && cosine > topCosine[top + t - 1]!) t--;
        if (t < TOP) {
          for (let s = TOP - 1; s > t; s--) {
            topClass[top + s] = topClass[top + s - 1]!;
            topCosine[top + s] = topCosine[top + s - 1]!;
          }
          topClass[top + t] = c;
          topCosine[top + t] = cosine;
        }
      }
    }
  }

  /** Scores the head on all examples but `heldOut` (fold i is example i), with class sums that exclude it. */
  score(heldOut: number, selectionLeaveOneOut: boolean): HeadScore {
    const { n, classCount, labelOf, gram, dots, inverseSelf, topClass, topCosine, cosines } = this;
    const a = labelOf[heldOut]!;
    const heldOutSelf = gram[heldOut * n + heldOut]!;
    // Class a's training sum without the held-out example: |S − x_i|² = |S|² − 2 x_i·S + |x_i|².
    const sumSquaredA = this.sumNormSquared[a]! - 2 * dots[heldOut * classCount + a]! + heldOutSelf;
    const memberSquaredA = this.memberNormSquared[a]! - heldOutSelf;
    const inverseSumA = inverseNorm(sumSquaredA, memberSquaredA);

    let correct = 0;
    let marginSum = 0;
    for (let j = 0; j < n; j++) {
      if (j === heldOut) continue;
      const own = labelOf[j]!;
      const self = gram[j * n + j]!;
      const inverseX = inverseSelf[j]!;
      const dotA = dots[j * classCount + a]! - gram[j * n + heldOut]!;
      // Up to two changed classes: a, and (with leave-one-out selection) j's own class b.
      let changedClass1 = a;
      let changedCosine1: number;
      let changedClass2 = -1;
      let changedCosine2 = -Infinity;
      if (!selectionLeaveOneOut) {
        changedCosine1 = dotA * inverseX * inverseSumA;
      } else if (own === a) {
        const squared = sumSquaredA - 2 * dotA + self;
        changedCosine1 = (dotA - self) * inverseX * inverseNorm(squared, memberSquaredA - self);
      } else {
        changedCosine1 = dotA * inverseX * inverseSumA;
        const dotB = dots[j * classCount + own]!;
        const squared = this.sumNormSquared[own]! - 2 * dotB + self;
        changedClass2 = own;
        changedCosine2 = (dotB - self) * inverseX * inverseNorm(squared, this.memberNormSquared[own]! - self);
      }

      // Best unchanged class, and best unchanged class other than own.
      let unchanged = -1;
      let unchangedCosine = -Infinity;
      let unchangedOther = -1;
      let unchangedOtherCosine = -Infinity;
      const top = j * TOP;
      for (let t = 0; t < TOP; t++) {
        const c = topClass[top + t]!;
        if (c < 0) break;
        if (c === changedClass1 || c === changedClass2) continue;
        if (unchanged < 0) {
          unchanged = c;
          unchangedCosine = topCosine[top + t]!;
        }
        if (c !== own) {
          unchangedOther = c;
          unchangedOtherCosine = topCosine[top + t]!;
          break;
        }
      }

      // Argmax over changed and unchanged classes; exact ties go to the lower class index.
      let best = changedClass1;
      let bestCosine = changedCosine1;
      const secondWins =
        changedCosine2 > bestCosine || (changedCosine2 === bestCosine && changedClass2 < best);
      if (changedClass2 >= 0 && secondWins) {
        best = changedClass2;
        bestCosine = changedCosine2;
      }
      if (unchanged >= 0 && (unchangedCosine > bestCosine || (unchangedCosine === bestCosine && unchanged < best))) {
        best = unchanged;
      }
      if (best === own) correct++;

      let ownCosine: number;
      let bestOther = unchangedOther >= 0 ? unchangedOtherCosine : -Infinity;
      if (own === changedClass1) {
        ownCosine = changedCosine1;
      } else if (own === changedClass2) {
        ownCosine = changedCosine2;
        if (changedCosine1 > bestOther) bestOther = changedCosine1;
      } else {
        ownCosine = cosines[j * classCount + own]!;
        if (changedCosine1 > bestOther) bestOther = changedCosine1;
      }
      marginSum += ownCosine - bestOther;
    }
    return { correct, marginSum };
  }

  /** The nearest class of the held-out example to the sums without it; sets votedClass and votedCosine. */
  classifyHeldOut(heldOut: number): void {
    const { n, classCount, labelOf, gram, dots, inverseSelf, inverseSum } = this;
    const a = labelOf[heldOut]!;
    const self = gram[heldOut * n + heldOut]!;
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

import { type HeadScore, type HeadSums, scoreHead } from "./head-scoring.js";

/**
 * k-fold cross-validation for one head: each fold's members are subtracted from the full-data class sums in
 * closed form (dot products through the Gram matrix), then the head is scored on the remaining examples and
 * the fold's members are classified against the reduced sums.
 */
export class KFoldScorer {
  private readonly n: number;
  private readonly classCount: number;
  private readonly foldMembers: readonly Int32Array[];
  private readonly sums: HeadSums;
  private readonly corrections: Float64Array;
  private readonly heldOut: Uint8Array;
  private readonly cosines: Float64Array;
  private readonly inverseSumNorms: Float64Array;
  private labelOf!: Int32Array;
  private gram!: Float64Array;
  private stride = 0;
  private fullSumNormSquared!: Float64Array;
  private fullMemberNormSquared!: Float64Array;
  /** The fold whose members are currently subtracted, or -1. */
  private activeFold = -1;

  /** Outputs of classifyHeldOut. */
  votedClass = 0;
  votedCosine = 0;

  constructor(n: number, classCount: number, foldMembers: readonly Int32Array[]) {
    this.n = n;
    this.classCount = classCount;
    this.foldMembers = foldMembers;
    this.corrections = new Float64Array(n * classCount);
    this.heldOut = new Uint8Array(n);
    this.cosines = new Float64Array(classCount);
    this.inverseSumNorms = new Float64Array(classCount);
    this.sums = {
      classCount,
      labelOf: new Int32Array(0),
      dots: new Float64Array(0),
      dotCorrections: this.corrections,
      sumNormSquared: new Float64Array(classCount),
      memberNormSquared: new Float64Array(classCount),
      selfNormSquared: new Float64Array(n),
    };
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
  ): void {
    this.release();
    this.labelOf = labelOf;
    this.gram = gram;
    this.stride = stride;
    this.fullSumNormSquared = sumNormSquared;
    this.fullMemberNormSquared = memberNormSquared;
    this.sums.labelOf = labelOf;
    this.sums.dots = dots;
    for (let j = 0; j < this.n; j++) this.sums.selfNormSquared[j] = gram[j * stride + j]!;
  }

  /** Scores the head on all examples outside `fold`, with class sums that exclude the fold. */
  score(fold: number, selectionLeaveOneOut: boolean): HeadScore {
    this.release();
    const { n, classCount, labelOf, gram, stride, corrections, heldOut, sums } = this;
    const members = this.foldMembers[fold]!;
    sums.sumNormSquared.set(this.fullSumNormSquared);
    sums.memberNormSquared.set(this.fullMemberNormSquared);
    for (const l of members) {
      const c = labelOf[l]!;
      // |S − T|² = |S|² − 2 S·T + |T|², with T the fold's members of class c.
      sums.sumNormSquared[c]! -= 2 * sums.dots[l * classCount + c]!;
      for (const m of members) {
        if (labelOf[m] === c) sums.sumNormSquared[c]! += gram[l * stride + m]!;
      }
      sums.memberNormSquared[c]! -= gram[l * stride + l]!;
      heldOut[l] = 1;
      const row = l * stride;
      for (let j = 0; j < n; j++) corrections[j * classCount + c]! += gram[row + j]!;
    }
    this.activeFold = fold;
    return scoreHead(sums, heldOut, selectionLeaveOneOut, this.cosines, this.inverseSumNorms);
  }

  /** The nearest class of a member of the last scored fold; sets votedClass and votedCosine. */
  classifyHeldOut(index: number): void {
    const { classCount, corrections, sums, inverseSumNorms } = this;
    const selfSquared = sums.selfNormSquared[index]!;
    const inverseSelf = selfSquared > 0 ? 1 / Math.sqrt(selfSquared) : 0;
    // scoreHead left the inverse norms of the fold's training sums in inverseSumNorms.
    let best = 0;
    let bestCosine = -Infinity;
    for (let c = 0; c < classCount; c++) {
      const cosine =
        (sums.dots[index * classCount + c]! - corrections[index * classCount + c]!) * inverseSelf * inverseSumNorms[c]!;
      if (cosine > bestCosine) {
        bestCosine = cosine;
        best = c;
      }
    }
    this.votedClass = best;
    this.votedCosine = bestCosine;
  }

  /** Adds the active fold's members back. */
  private release(): void {
    if (this.activeFold < 0) return;
    const { n, classCount, labelOf, corrections, heldOut } = this;
    for (const l of this.foldMembers[this.activeFold]!) {
      heldOut[l] = 0;
      const c = labelOf[l]!;
      for (let j = 0; j < n; j++) corrections[j * classCount + c] = 0;
    }
    this.activeFold = -1;
  }
}

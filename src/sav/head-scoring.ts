/**
 * The per-head arithmetic shared by building, ranking and cross-validation.
 *
 * Everything works on dot products with class *sums* rather than centroids: the cosine to a mean equals the
 * cosine to the sum, and sums can have one example (or a fold) subtracted in closed form. That is what makes
 * leave-one-out scoring and cross-validation cheap.
 */

/**
 * A class sum whose squared norm is below this fraction of its members' squared norms has cancelled out
 * (its members point in opposite directions): it has no direction, so every cosine to it counts as 0,
 * the same as a zero-length vector.
 */
export const DEGENERATE_SUM_RATIO = 1e-12;

export function inverseNorm(normSquared: number, memberNormSquared: number): number {
  return normSquared > DEGENERATE_SUM_RATIO * memberNormSquared && normSquared > 0 ? 1 / Math.sqrt(normSquared) : 0;
}

/** Statistics of one head's training set against its class sums. */
export interface HeadSums {
  classCount: number;
  labelOf: Int32Array;
  /** N×C: x_j · S_c for every example j (training or not) and class sum S_c. */
  dots: Float64Array;
  /** N×C or null: amounts to subtract from `dots` (the contribution of examples held out of the sums). */
  dotCorrections: Float64Array | null;
  /** Per class: |S_c|² of the training sums. */
  sumNormSquared: Float64Array;
  /** Per class: Σ |x_j|² over the training members (the scale for the degenerate-sum test). */
  memberNormSquared: Float64Array;
  /** Per example: |x_j|². */
  selfNormSquared: Float64Array;
}

export interface HeadScore {
  /** Number of training examples whose nearest centroid is their own class. */
  correct: number;
  /** Σ over training examples of (cosine to own centroid − best cosine to another centroid). */
  marginSum: number;
}

/**
 * Scores one head: how many training examples have their own class as nearest centroid (exact ties go to the
 * lowest label index), and the summed margin, with the same centroids. `heldOut[j] === 1` excludes example j
 * (it must already be subtracted from the sums through `dotCorrections`). With `leaveOneOut`, each example is
 * also removed from its own class sum before it is compared.
 */
export function scoreHead(
  sums: HeadSums,
  heldOut: Uint8Array | null,
  leaveOneOut: boolean,
  cosines: Float64Array,
  inverseSumNorms: Float64Array,
): HeadScore {
  const { classCount, labelOf, dots, dotCorrections, sumNormSquared, memberNormSquared, selfNormSquared } = sums;
  for (let c = 0; c < classCount; c++) inverseSumNorms[c] = inverseNorm(sumNormSquared[c]!, memberNormSquared[c]!);

  let correct = 0;
  let marginSum = 0;
  const n = labelOf.length;
  for (let j = 0; j < n; j++) {
    if (heldOut !== null && heldOut[j] === 1) continue;
    const own = labelOf[j]!;
    const selfSquared = selfNormSquared[j]!;
    const inverseSelf = selfSquared > 0 ? 1 / Math.sqrt(selfSquared) : 0;
    const row = j * classCount;
    let best = -1;
    let bestCosine = -Infinity;
    for (let c = 0; c < classCount; c++) {
      let dot = dots[row + c]!;
      if (dotCorrections !== null) dot -= dotCorrections[row + c]!;
      let inverseSum = inverseSumNorms[c]!;
      if (leaveOneOut && c === own) {
        // |S − x|² = |S|² − 2 x·S + |x|²
        const normSquared = sumNormSquared[c]! - 2 * dot + selfSquared;
        inverseSum = inverseNorm(normSquared, memberNormSquared[c]! - selfSquared);
        dot -= selfSquared;
      }
      const cosine = dot * inverseSelf * inverseSum;
      cosines[c] = cosine;
      if (cosine > bestCosine) {
        bestCosine = cosine;
        best = c;
      }
    }
    if (best === own) correct++;
    let bestOther = -Infinity;
    for (let c = 0; c < classCount; c++) {
      if (c !== own && cosines[c]! > bestOther) bestOther = cosines[c]!;
    }
    marginSum += cosines[own]! - bestOther;
  }
  return { correct, marginSum };
}

/** Orders heads best first: more correct, then larger summed margin, then lower (layer, head) index. */
export function compareHeadScores(
  correct: ArrayLike<number>,
  marginSum: ArrayLike<number>,
): (a: number, b: number) => number {
  return (a, b) => correct[b]! - correct[a]! || marginSum[b]! - marginSum[a]! || a - b;
}

/** Copies head `head` (flat index layer*heads+head) of every example into `packed`, row j = example j. */
export function packHead(
  vectors: readonly Float32Array[],
  head: number,
  headDim: number,
  packed: Float64Array,
): void {
  const offset = head * headDim;
  for (let j = 0; j < vectors.length; j++) {
    const vector = vectors[j]!;
    const row = j * headDim;
    for (let d = 0; d < headDim; d++) packed[row + d] = vector[offset + d]!;
  }
}

/** Per-head class sums of all examples (Float64, in example order), row-major [classes, headDim]. */
export function classSums(packed: Float64Array, labelOf: Int32Array, headDim: number, sums: Float64Array): void {
  sums.fill(0);
  for (let j = 0; j < labelOf.length; j++) {
    const target = labelOf[j]! * headDim;
    const source = j * headDim;
    for (let d = 0; d < headDim; d++) sums[target + d]! += packed[source + d]!;
  }
}

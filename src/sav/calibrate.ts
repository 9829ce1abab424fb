/**
 * Confidence beyond the majority vote.
 *
 * Choice: temperature scaling (Guo et al. 2017) of a score the classifier already has. For each label c the
 * score is the mean, over the k kept heads, of the cosine between the query's head vector and c's centroid;
 * the probability of c is softmax(score / T). Why this and not something richer:
 * - the vote share is quantised to 1/k and ignores how close the runner-up centroid was; the mean cosine is
 *   continuous and uses every kept head, so it separates "all heads barely agree" from "all heads agree by far";
 * - cosines of a real model's heads sit in a narrow band (differences of ~0.01), so a fixed softmax is useless:
 *   the scale must be fitted, and one parameter is all that 20-40 few-shot examples can fit without overfitting;
 * - T > 0 keeps the order of the scores, so calibration never changes which label the scores favour.
 * T is fitted by leave-one-out on the task's own examples: each example is scored against centroids rebuilt
 * without it (closed form: its own class sum minus itself), and T minimises the negative log-likelihood of
 * the true labels. The kept heads are the classifier's (selected with every example), a mild optimism that
 * `crossValidate` measures honestly for accuracy. NLL is convex in 1/T, so a golden-section search on log(1/T)
 * finds the optimum.
 * The reported probability of a prediction is that of the voted label (the label `classify` returns).
 */
import { checkClassifier } from "./classify.js";
import { prepareDataset } from "./dataset.js";
import { type LabelledVector, type SavClassifier, SavError } from "./types.js";
import { VoteTally } from "./vote.js";

export interface Calibration {
  format: "sav-calibration/1";
  /** Softmax temperature over per-label mean cosines; smaller is sharper. */
  temperature: number;
  /** Number of leave-one-out examples T was fitted on. */
  fittedOn: number;
}

/** One prediction's confidence and whether it was right; the input to the calibration metrics. */
export interface ScoredPrediction {
  confidence: number;
  correct: boolean;
}

export interface ReliabilityBin {
  lower: number;
  upper: number;
  count: number;
  /** Mean confidence in the bin (0 when empty). */
  confidence: number;
  /** Fraction correct in the bin (0 when empty). */
  accuracy: number;
}

export interface CalibrationMetrics {
  /** Expected calibration error: Σ_bins (count/N)·|accuracy − confidence|. */
  ece: number;
  bins: ReliabilityBin[];
}

/** A held-out prediction of one training example with the classifier's heads and centroids without it. */
export interface HeldOutPrediction {
  index: number;
  actual: string;
  predicted: string;
  share: number;
  /** Calibrated probability of `predicted`. */
  probability: number;
}

export interface SelectiveResult {
  threshold: number;
  /** Fraction of predictions at or above the threshold. */
  coverage: number;
  /** Accuracy on those predictions; null when none is kept. */
  selectiveAccuracy: number | null;
}

export const DEFAULT_BIN_COUNT = 10;
/** Selective accuracy the suggested threshold aims for. */
export const DEFAULT_TARGET_ACCURACY = 0.95;
const INVERSE_TEMPERATURE_RANGE: [number, number] = [1e-2, 1e6];
const GOLDEN_SECTION_STEPS = 200;

function headOffsets(classifier: SavClassifier): number[] {
  const { shape, heads } = classifier;
  return heads.map((h) => (h.layer * shape.heads + h.head) * shape.headDim);
}

/** Mean cosine over kept heads between the query and each label's centroid, in `labels` order. */
export function labelScores(classifier: SavClassifier, vector: Float32Array): Float64Array {
  checkClassifier(classifier);
  const { labels, centroids, k, shape } = classifier;
  const dim = shape.headDim;
  const classCount = labels.length;
  const scores = new Float64Array(classCount);
  headOffsets(classifier).forEach((offset, rank) => {
    if (offset + dim > vector.length) {
      throw new SavError("shape-mismatch", `the query has ${vector.length} values; it does not reach every kept head`);
    }
    let normSquared = 0;
    for (let d = 0; d < dim; d++) normSquared += vector[offset + d]! * vector[offset + d]!;
    const inverse = normSquared > 0 ? 1 / Math.sqrt(normSquared) : 0;
    for (let c = 0; c < classCount; c++) {
      const base = (rank * classCount + c) * dim;
      let dot = 0;
      for (let d = 0; d < dim; d++) dot += vector[offset + d]! * centroids[base + d]!;
      scores[c]! += (dot * inverse) / k;
    }
  });
  return scores;
}

/** softmax(scores / temperature), computed stably. */
export function softmax(scores: ArrayLike<number>, temperature: number): Float64Array {
  let max = -Infinity;
  for (let c = 0; c < scores.length; c++) max = Math.max(max, scores[c]!);
  const result = new Float64Array(scores.length);
  let total = 0;
  for (let c = 0; c < scores.length; c++) {
    result[c] = Math.exp((scores[c]! - max) / temperature);
    total += result[c]!;
  }
  for (let c = 0; c < scores.length; c++) result[c]! /= total;
  return result;
}

/** Calibrated probability per label for one query. */
export function probabilities(
  classifier: SavClassifier,
  calibration: Calibration,
  vector: Float32Array,
): Record<string, number> {
  const p = softmax(labelScores(classifier, vector), calibration.temperature);
  return Object.fromEntries(classifier.labels.map((label, c) => [label, p[c]!]));
}

interface HeldOutScores {
  /** N×C mean cosines of each example to the centroids without it. */
  scores: Float64Array;
  /** Per example: the voted label index (same voting rule as `classify`). */
  voted: Int32Array;
  share: Float64Array;
  labelOf: Int32Array;
}

/** Each example against the kept heads' class sums without itself. */
function heldOutScores(classifier: SavClassifier, examples: LabelledVector[]): HeldOutScores {
  checkClassifier(classifier);
  const dataset = prepareDataset(examples, classifier.shape);
  if (dataset.labels.join("\u0000") !== classifier.labels.join("\u0000")) {
    throw new SavError(
      "invalid-option",
      `the examples' labels (${dataset.labels.join(", ")}) are not the classifier's (${classifier.labels.join(", ")})`,
    );
  }
  dataset.classSizes.forEach((size, c) => {
    if (size < 2) {
      throw new SavError(
        "too-few-examples",
        `label "${dataset.labels[c]}" has ${size} example; calibration leaves each example out and needs 2 per label`,
      );
    }
  });
  const { labelOf } = dataset;
  const n = examples.length;
  const classCount = classifier.labels.length;
  const dim = classifier.shape.headDim;
  const { k } = classifier;
  const scores = new Float64Array(n * classCount);
  const votedCosine = new Float64Array(n * k);
  const votedClass = new Int32Array(n * k);
  const sums = new Float64Array(classCount * dim);
  const cosines = new Float64Array(classCount);

  headOffsets(classifier).forEach((offset, rank) => {
    sums.fill(0);
    for (let i = 0; i < n; i++) {
      const v = examples[i]!.vector;
      const target = labelOf[i]! * dim;
      for (let d = 0; d < dim; d++) sums[target + d]! += v[offset + d]!;
    }
    for (let i = 0; i < n; i++) {
      const v = examples[i]!.vector;
      const own = labelOf[i]!;
      let self = 0;
      for (let d = 0; d < dim; d++) self += v[offset + d]! * v[offset + d]!;
      const inverseSelf = self > 0 ? 1 / Math.sqrt(self) : 0;
      for (let c = 0; c < classCount; c++) {
        let dot = 0;
        let sumSquared = 0;
        for (let d = 0; d < dim; d++) {
          const s = sums[c * dim + d]! - (c === own ? v[offset + d]! : 0);
          dot += v[offset + d]! * s;
          sumSquared += s * s;
        }
        cosines[c] = sumSquared > 0 ? dot * inverseSelf / Math.sqrt(sumSquared) : 0;
        scores[i * classCount + c]! += cosines[c]! / k;
      }
      let best = 0;
      for (let c = 1; c < classCount; c++) if (cosines[c]! > cosines[best]!) best = c;
      votedClass[i * k + rank] = best;
      votedCosine[i * k + rank] = cosines[best]!;
    }
  });

  const voted = new Int32Array(n);
  const share = new Float64Array(n);
  const tally = new VoteTally(classCount);
  for (let i = 0; i < n; i++) {
    tally.reset();
    for (let rank = 0; rank < k; rank++) tally.add(votedClass[i * k + rank]!, votedCosine[i * k + rank]!);
    voted[i] = tally.winner();
    share[i] = tally.votes[voted[i]!]! / k;
  }
  return { scores, voted, share, labelOf };
}

/** Mean negative log-likelihood of the true labels under softmax(β·scores). */
export function meanNegativeLogLikelihood(
  scores: Float64Array,
  labelOf: Int32Array,
  classCount: number,
  inverseTemperature: number,
): number {
  let total = 0;
  for (let i = 0; i < labelOf.length; i++) {
    let max = -Infinity;
    for (let c = 0; c < classCount; c++) max = Math.max(max, inverseTemperature * scores[i * classCount + c]!);
    let sum = 0;
    for (let c = 0; c < classCount; c++) sum += Math.exp(inverseTemperature * scores[i * classCount + c]! - max);
    total += max + Math.log(sum) - inverseTemperature * scores[i * classCount + labelOf[i]!]!;
  }
  return total / labelOf.length;
}

/** Golden-section search for the minimum of a unimodal function of x on [lower, upper]. */
function goldenSectionMinimum(f: (x: number) => number, lower: number, upper: number): number {
  const ratio = (Math.sqrt(5) - 1) / 2;
  let a = lower;
  let b = upper;
  let c = b - ratio * (b - a);
  let d = a + ratio * (b - a);
  let fc = f(c);
  let fd = f(d);
  for (let step = 0; step < GOLDEN_SECTION_STEPS && b - a > 1e-9; step++) {
    if (fc <= fd) {
      b = d;
      d = c;
      fd = fc;
      c = b - ratio * (b - a);
      fc = f(c);
    } else {
      a = c;
      c = d;
      fc = fd;
      d = a + ratio * (b - a);
      fd = f(d);
    }
  }
  return (a + b) / 2;
}

/** Fits the temperature by leave-one-out on the task's examples (the ones the classifier was built from). */
export function fitCalibration(classifier: SavClassifier, examples: LabelledVector[]): Calibration {
  const { scores, labelOf } = heldOutScores(classifier, examples);
  const classCount = classifier.labels.length;
  const [low, high] = INVERSE_TEMPERATURE_RANGE;
  const logBeta = goldenSectionMinimum(
    (x) => meanNegativeLogLikelihood(scores, labelOf, classCount, Math.exp(x)),
    Math.log(low),
    Math.log(high),
  );
  return { format: "sav-calibration/1", temperature: 1 / Math.exp(logBeta), fittedOn: labelOf.length };
}

/** Every example predicted without itself (kept heads fixed), with its vote share and calibrated probability. */
export function heldOutPredictions(
  classifier: SavClassifier,
  calibration: Calibration,
  examples: LabelledVector[],
): HeldOutPrediction[] {
  const { scores, voted, share, labelOf } = heldOutScores(classifier, examples);
  const classCount = classifier.labels.length;
  return Array.from(labelOf, (own, i) => {
    const p = softmax(scores.subarray(i * classCount, (i + 1) * classCount), calibration.temperature);
    return {
      index: i,
      actual: classifier.labels[own]!,
      predicted: classifier.labels[voted[i]!]!,
      share: share[i]!,
      probability: p[voted[i]!]!,
    };
  });
}

/** Equal-width reliability bins over [0, 1] (a confidence of exactly 1 falls in the last bin) and the ECE. */
export function calibrationMetrics(predictions: ScoredPrediction[], binCount = DEFAULT_BIN_COUNT): CalibrationMetrics {
  if (!Number.isInteger(binCount) || binCount < 1) {
    throw new SavError("invalid-option", `binCount must be an integer >= 1; got ${String(binCount)}`);
  }
  const count = new Array<number>(binCount).fill(0);
  const confidenceSum = new Array<number>(binCount).fill(0);
  const correctSum = new Array<number>(binCount).fill(0);
  for (const { confidence, correct } of predictions) {
    const bin = Math.min(binCount - 1, Math.max(0, Math.floor(confidence * binCount)));
    count[bin]!++;
    confidenceSum[bin]! += confidence;
    if (correct) correctSum[bin]!++;
  }
  let ece = 0;
  const bins = count.map((n, b) => {
    const confidence = n === 0 ? 0 : confidenceSum[b]! / n;
    const accuracy = n === 0 ? 0 : correctSum[b]! / n;
    if (predictions.length > 0) ece += (n / predictions.length) * Math.abs(accuracy - confidence);
    return { lower: b / binCount, upper: (b + 1) / binCount, count: n, confidence, accuracy };
  });
  return { ece, bins };
}

/** Coverage and accuracy of the predictions whose confidence is at least `threshold`. */
export function selectiveAccuracy(predictions: ScoredPrediction[], threshold: number): SelectiveResult {
  const kept = predictions.filter((p) => p.confidence >= threshold);
  const correct = kept.filter((p) => p.correct).length;
  return {
    threshold,
    coverage: predictions.length === 0 ? 0 : kept.length / predictions.length,
    selectiveAccuracy: kept.length === 0 ? null : correct / kept.length,
  };
}

/**
 * The lowest threshold (among the observed confidences, and 0) whose selective accuracy reaches the target:
 * the most coverage for that accuracy. Null when no threshold reaches it.
 */
export function suggestThreshold(
  predictions: ScoredPrediction[],
  targetAccuracy = DEFAULT_TARGET_ACCURACY,
): SelectiveResult | null {
  const candidates = [0, ...new Set(predictions.map((p) => p.confidence))].sort((a, b) => a - b);
  for (const threshold of candidates) {
    const result = selectiveAccuracy(predictions, threshold);
    if (result.selectiveAccuracy !== null && result.selectiveAccuracy >= targetAccuracy) return result;
  }
  return null;
}

export interface Decision {
  /** The label, or null when the confidence is below `minConfidence`. */
  label: string | null;
  uncertain: boolean;
  /** The classifier's answer whether or not it abstained. */
  bestGuess: string;
  confidence: number;
}

/** Abstains below `minConfidence` (undefined: never). */
export function decide(bestGuess: string, confidence: number, minConfidence: number | undefined): Decision {
  const uncertain = minConfidence !== undefined && confidence < minConfidence;
  return { label: uncertain ? null : bestGuess, uncertain, bestGuess, confidence };
}

export interface NearestExample {
  index: number;
  label: string;
  /** Mean cosine over the kept heads between the query and the example. */
  similarity: number;
}

/** The `count` examples closest to the query under the classifier's kept heads, most similar first. */
export function nearestExamples(
  classifier: SavClassifier,
  examples: readonly LabelledVector[],
  query: Float32Array,
  count: number,
): NearestExample[] {
  checkClassifier(classifier);
  if (!Number.isInteger(count) || count < 1) {
    throw new SavError("invalid-option", `the number of nearest examples must be an integer >= 1; got ${String(count)}`);
  }
  const dim = classifier.shape.headDim;
  const offsets = headOffsets(classifier);
  const headCosine = (a: Float32Array, b: Float32Array, offset: number): number => {
    let dot = 0;
    let na = 0;
    let nb = 0;
    for (let d = 0; d < dim; d++) {
      dot += a[offset + d]! * b[offset + d]!;
      na += a[offset + d]! * a[offset + d]!;
      nb += b[offset + d]! * b[offset + d]!;
    }
    return na > 0 && nb > 0 ? dot / Math.sqrt(na * nb) : 0;
  };
  const scored = examples.map((example, index) => {
    let total = 0;
    for (const offset of offsets) {
      if (offset + dim > query.length || offset + dim > example.vector.length) {
        throw new SavError("shape-mismatch", "a vector does not reach every kept head of the classifier");
      }
      total += headCosine(query, example.vector, offset);
    }
    return { index, label: example.label, similarity: total / offsets.length };
  });
  return scored.sort((a, b) => b.similarity - a.similarity || a.index - b.index).slice(0, count);
}

/**
 * The SAV engine: pure, synchronous, no I/O. Nearest-centroid classifiers on the best attention heads
 * (Sparse Attention Vectors, Mitra et al. 2024), with the reference method's ambiguities fixed:
 * - labels are sorted (UTF-16 code units), so example order never matters; exact cosine ties between
 *   centroids go to the lower label index;
 * - heads rank by score, then mean margin, then (layer, head); votes tie-break on summed cosine of the
 *   voters, then on the label of the best-ranked head;
 * - a head vector (or class sum) of zero length has cosine 0 to everything;
 * - `classify` accepts a prefix of the layers (from a truncated decoder) and reads only the kept heads;
 * - `crossValidate` equals rebuilding per fold but uses closed forms (one Gram matrix per head).
 */
export type {
  BuildOptions,
  Classification,
  ClassMetrics,
  CrossValidationOptions,
  CrossValidationReport,
  HeadSelection,
  HeadShape,
  HeadVote,
  LabelledVector,
  RankedHead,
  SavClassifier,
  SavErrorCode,
} from "./types.js";
export { SavError } from "./types.js";
export { buildClassifier, rankHeads } from "./build.js";
export { classify } from "./classify.js";
export { crossValidate, metricsFromConfusion, planCrossValidation, reportCrossValidation } from "./cross-validate.js";
export { type CrossValidationPlan, type FoldScores, scoreFolds } from "./fold-scores.js";
export { deserializeClassifier, serializeClassifier } from "./serialize.js";
export {
  type Calibration,
  type CalibrationMetrics,
  type Decision,
  type HeldOutPrediction,
  type NearestExample,
  type ReliabilityBin,
  type ScoredPrediction,
  type SelectiveResult,
  calibrationMetrics,
  decide,
  DEFAULT_TARGET_ACCURACY,
  fitCalibration,
  heldOutPredictions,
  labelScores,
  nearestExamples,
  probabilities,
  selectiveAccuracy,
  softmax,
  suggestThreshold,
} from "./calibrate.js";

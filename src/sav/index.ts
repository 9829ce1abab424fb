/**
 * The SAV engine: pure, synchronous, no I/O. Builds nearest-centroid classifiers on the best attention heads,
 * classifies head vectors with them, and cross-validates (see docs of each function).
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
export { crossValidate } from "./cross-validate.js";
export { deserializeClassifier, serializeClassifier } from "./serialize.js";

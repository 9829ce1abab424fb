import type {
  BuildOptions,
  Calibration,
  CrossValidationOptions,
  CrossValidationReport,
  HeadSelection,
  HeadShape,
  HeldOutPrediction,
  RankedHead,
  SavClassifier,
  SavErrorCode,
} from "../sav/index.js";
import type { FoldScores } from "../sav/index.js";

/** The examples as one shared block: example i's vector is floats [i·length, (i+1)·length). */
export interface SharedExamples {
  buffer: SharedArrayBuffer;
  length: number;
  labels: string[];
}

export type ToWorker =
  | {
      kind: "score";
      examples: SharedExamples;
      shape: HeadShape;
      options: CrossValidationOptions;
      firstHead: number;
      endHead: number;
    }
  /** To the worker that scored the first range: join every range's scores into the report. */
  | { kind: "report"; parts: FoldScores[] }
  /** Build the classifier on every example, fit its temperature and predict each example held out. */
  | { kind: "calibrate"; examples: SharedExamples; shape: HeadShape; options: BuildOptions }
  /** Build the classifier on every example (classify_image's first call after a change). */
  | { kind: "build"; examples: SharedExamples; shape: HeadShape; options: BuildOptions }
  /** Fit the temperature of a classifier by leave-one-out on the examples it was built from. */
  | { kind: "fit-calibration"; examples: SharedExamples; classifier: SavClassifier }
  /** Score and rank every head (the head-map picture). */
  | { kind: "rank-heads"; examples: SharedExamples; shape: HeadShape; selection: HeadSelection };

export type FromWorker =
  | { kind: "scores"; scores: FoldScores }
  | { kind: "report"; report: CrossValidationReport }
  | { kind: "calibrated"; calibration: Calibration; predictions: HeldOutPrediction[] }
  | { kind: "built"; classifier: SavClassifier }
  | { kind: "fitted"; calibration: Calibration }
  | { kind: "ranked"; heads: RankedHead[] }
  | { kind: "failed"; savCode?: SavErrorCode; message: string };

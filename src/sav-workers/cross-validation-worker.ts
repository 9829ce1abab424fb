/**
 * Worker thread of crossValidateOffThread: validates and plans the cross-validation on the shared examples,
 * scores its range of heads, and (the worker of the first range) joins every range into the report. Also the
 * thread of calibrateOffThread, buildClassifierOffThread, fitCalibrationOffThread and rankHeadsOffThread.
 */
import { parentPort } from "node:worker_threads";
import {
  buildClassifier,
  type CrossValidationPlan,
  fitCalibration,
  heldOutPredictions,
  type LabelledVector,
  planCrossValidation,
  rankHeads,
  reportCrossValidation,
  SavError,
  scoreFolds,
} from "../sav/index.js";
import type { FromWorker, SharedExamples, ToWorker } from "./protocol.js";

function examplesFrom(shared: SharedExamples): LabelledVector[] {
  const values = new Float32Array(shared.buffer);
  return shared.labels.map((label, i) => ({
    label,
    vector: values.subarray(i * shared.length, (i + 1) * shared.length),
  }));
}

const port = parentPort!;
let plan: CrossValidationPlan | undefined;

function post(message: FromWorker, transfer: ArrayBuffer[] = []): void {
  port.postMessage(message, transfer);
}

port.on("message", (message: ToWorker) => {
  try {
    if (message.kind === "score") {
      plan = planCrossValidation(examplesFrom(message.examples), message.shape, message.options);
      const endHead = Math.min(message.endHead, plan.totalHeads);
      const scores = scoreFolds(plan, Math.min(message.firstHead, endHead), endHead);
      // Only the first range's thread is asked for the report; the others let go of the examples now (the thread may be kept idle).
      if (message.firstHead !== 0) plan = undefined;
      post({ kind: "scores", scores }, [
        scores.foldCorrect.buffer as ArrayBuffer,
        scores.foldMarginSum.buffer as ArrayBuffer,
        scores.heldOutVote.buffer as ArrayBuffer,
        scores.heldOutSimilarity.buffer as ArrayBuffer,
      ]);
    } else if (message.kind === "calibrate") {
      const examples = examplesFrom(message.examples);
      const classifier = buildClassifier(examples, message.shape, message.options);
      const calibration = fitCalibration(classifier, examples);
      post({ kind: "calibrated", calibration, predictions: heldOutPredictions(classifier, calibration, examples) });
    } else if (message.kind === "build") {
      const classifier = buildClassifier(examplesFrom(message.examples), message.shape, message.options);
      post({ kind: "built", classifier }, [classifier.centroids.buffer as ArrayBuffer]);
    } else if (message.kind === "fit-calibration") {
      post({ kind: "fitted", calibration: fitCalibration(message.classifier, examplesFrom(message.examples)) });
    } else if (message.kind === "rank-heads") {
      post({ kind: "ranked", heads: rankHeads(examplesFrom(message.examples), message.shape, message.selection) });
    } else {
      if (plan === undefined) throw new Error("report requested before the examples were planned");
      const report = reportCrossValidation(plan, message.parts);
      plan = undefined;
      post({ kind: "report", report });
    }
  } catch (error) {
    post(
      error instanceof SavError
        ? { kind: "failed", savCode: error.code, message: error.message }
        : { kind: "failed", message: error instanceof Error ? error.message : String(error) },
    );
  }
});

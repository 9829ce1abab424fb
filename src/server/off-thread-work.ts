/**
 * Where the server runs the SAV engine's long computations over a whole training set: in worker threads
 * (src/sav-workers), so the event loop keeps answering other calls while a classifier is built or calibrated.
 * The calling-thread versions stay for comparison (the freeze benchmark's "before").
 */
import { type Calibration, fitCalibration, type LabelledVector, type SavClassifier } from "../sav/index.js";
import { buildClassifierOffThread, fitCalibrationOffThread } from "../sav-workers/off-thread.js";
import { type ClassifierBuilder, ClassifierCache, DEFAULT_CLASSIFIER_CACHE_BYTES, type SavStore, type TaskStore } from "../store/index.js";

/** Fits a classifier's temperature as `fitCalibration` does, bit for bit; `signal` aborts it. */
export type CalibrationFitter = (classifier: SavClassifier, examples: LabelledVector[], signal?: AbortSignal) => Promise<Calibration>;

export const buildClassifierInWorker: ClassifierBuilder = (examples, shape, options, signal) =>
  buildClassifierOffThread(examples, shape, options, { signal });

export const fitCalibrationInWorker: CalibrationFitter = (classifier, examples, signal) =>
  fitCalibrationOffThread(classifier, examples, { signal });

/** Blocks the event loop for the whole fit (~1 s at 2,000 full-size examples). */
export const fitCalibrationInThread: CalibrationFitter = async (classifier, examples) => fitCalibration(classifier, examples);

/** The server's classifier cache: builds in a worker thread. */
export function serverClassifierCache(store: TaskStore | SavStore, maxBytes = DEFAULT_CLASSIFIER_CACHE_BYTES): ClassifierCache {
  return new ClassifierCache(store, { maxBytes, build: buildClassifierInWorker });
}

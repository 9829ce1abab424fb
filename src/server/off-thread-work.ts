/**
 * Where the server runs the SAV engine's long computations over a whole training set: in worker threads
 * (src/sav-workers), so the event loop keeps answering other calls while a classifier is built or calibrated.
 * Small training sets stay on the calling thread: there the work takes less time than starting a thread.
 * The calling-thread versions stay for comparison too (the freeze benchmark's "before").
 */
import {
  type Calibration,
  fitCalibration,
  type HeadSelection,
  type HeadShape,
  type LabelledVector,
  rankHeads,
  type RankedHead,
  type SavClassifier,
} from "../sav/index.js";
import { buildClassifierOffThread, fitCalibrationOffThread, rankHeadsOffThread } from "../sav-workers/off-thread.js";
import {
  buildInThread,
  type ClassifierBuilder,
  ClassifierCache,
  DEFAULT_CLASSIFIER_CACHE_BYTES,
  type SavStore,
  type TaskStore,
} from "../store/index.js";

/**
 * Stored floats (examples × head-vector length) from which a build, fit or ranking goes to a worker thread.
 * A build reads each float about once per label: 2,000 full-size examples (35 M floats) take ~1 s, so below
 * this it blocks for a few ms, less than a worker thread's start (~30–60 ms).
 */
export const MIN_FLOATS_OFF_THREAD = 250_000;

export function worthAThread(examples: readonly LabelledVector[]): boolean {
  return examples.length * (examples[0]?.vector?.length ?? 0) >= MIN_FLOATS_OFF_THREAD;
}

/** Fits a classifier's temperature as `fitCalibration` does, bit for bit; `signal` aborts it. */
export type CalibrationFitter = (classifier: SavClassifier, examples: LabelledVector[], signal?: AbortSignal) => Promise<Calibration>;

/** Blocks the event loop for the whole fit (~1 s at 2,000 full-size examples). */
export const fitCalibrationInThread: CalibrationFitter = async (classifier, examples) => fitCalibration(classifier, examples);

/** The server's builder: in a worker thread unless the training set is small. */
export const serverClassifierBuilder: ClassifierBuilder = (examples, shape, options, signal) =>
  worthAThread(examples) ? buildClassifierOffThread(examples, shape, options, { signal }) : buildInThread(examples, shape, options, signal);

/** The server's fitter: in a worker thread unless the training set is small. */
export const serverCalibrationFitter: CalibrationFitter = (classifier, examples, signal) =>
  worthAThread(examples) ? fitCalibrationOffThread(classifier, examples, { signal }) : fitCalibrationInThread(classifier, examples, signal);

/** `rankHeads`, in a worker thread unless the training set is small. */
export async function rankHeadsForServer(examples: LabelledVector[], shape: HeadShape, selection: HeadSelection): Promise<RankedHead[]> {
  return worthAThread(examples) ? rankHeadsOffThread(examples, shape, selection) : rankHeads(examples, shape, selection);
}

/** The server's classifier cache: builds in a worker thread unless the training set is small. */
export function serverClassifierCache(store: TaskStore | SavStore, maxBytes = DEFAULT_CLASSIFIER_CACHE_BYTES): ClassifierCache {
  return new ClassifierCache(store, { maxBytes, build: serverClassifierBuilder });
}

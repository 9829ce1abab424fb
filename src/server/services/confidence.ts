/**
 * Confidence for the tools: the calibrated probability (temperature fitted by leave-one-out on the task's
 * examples, src/sav/calibrate.ts), abstention, nearest examples (`explain`), calibration figures for
 * evaluate_task and the head-map picture.
 */
import {
  type Calibration,
  calibrationMetrics,
  type LabelledVector,
  DEFAULT_TARGET_ACCURACY,
  nearestExamples,
  type SavClassifier,
  SavError,
  selectiveAccuracy,
  suggestThreshold,
} from "../../sav/index.js";
import { SharedJobs } from "../../shared-job.js";
import { calibrateOffThread } from "../../sav-workers/off-thread.js";
import { rankHeadsForServer } from "../off-thread-work.js";
import type { ExampleWithVectors, TaskRecord } from "../../store/index.js";
import { renderHeadMap } from "../../report/head-map.js";
import { round } from "../wording.js";
import type { ServiceContext } from "./context.js";

/** Examples shown by `explain: true`. */
export const EXPLAIN_COUNT = 3;

/** Fitted calibrations by classifier object: a new example version builds a new classifier, so entries never go stale. */
const calibrations = new WeakMap<SavClassifier, Calibration | null>();

function trainingVectors(examples: ExampleWithVectors[]) {
  return examples.map((e) => ({ vector: e.vectors, label: e.label }));
}

/** Fits under way, shared by the calls that need the same classifier's calibration. */
const fits = new SharedJobs<SavClassifier, Calibration | null>();

/**
 * The task's calibration, or null when a label has fewer than two examples (leave-one-out needs two). The fit
 * runs where the service says (a worker thread for large training sets by default); `signal` cancels this caller's wait.
 */
export async function calibrationFor(
  service: ServiceContext,
  task: TaskRecord,
  classifier: SavClassifier,
  signal?: AbortSignal,
  /** The classifier's own training set, when the caller has it (a build on this call): not read again. */
  trainingSet?: LabelledVector[],
): Promise<Calibration | null> {
  if (calibrations.has(classifier)) return calibrations.get(classifier)!;
  if (!Object.values(classifier.examplesPerLabel).every((n) => n >= 2)) {
    calibrations.set(classifier, null);
    return null;
  }
  return fits.run(
    classifier,
    async (fitSignal) => {
      const examples = trainingSet ?? trainingVectors((await service.store.loadTrainingSet(task.id)).examples);
      fitSignal.throwIfAborted();
      try {
        const calibration = await service.fitCalibration(classifier, examples, fitSignal);
        calibrations.set(classifier, calibration);
        return calibration;
      } catch (error) {
        // The examples changed between the classifier and this read: no probability this time.
        if (error instanceof SavError && !fitSignal.aborted) return null;
        throw error;
      }
    },
    signal,
  );
}

/** The stored examples nearest to a query under the voting heads, with ids and sources (`examples`: the task's training set). */
export function explainQuery(examples: ExampleWithVectors[], classifier: SavClassifier, query: Float32Array) {
  return nearestExamples(classifier, trainingVectors(examples), query, EXPLAIN_COUNT).map((n) => ({
    exampleId: examples[n.index]!.id,
    label: n.label,
    similarity: round(n.similarity),
    ...(examples[n.index]!.sources ? { sources: examples[n.index]!.sources! } : {}),
  }));
}

/**
 * Calibration of the vote share and of the calibrated probability on held-out examples, for evaluate_task.
 * The classifier, the fit and the held-out predictions are computed in a worker thread (seconds at 2,000 examples).
 */
export async function calibrationReport(
  task: TaskRecord,
  examples: ExampleWithVectors[],
  k: number,
  minConfidence: number | undefined,
  signal?: AbortSignal,
) {
  const { calibration, predictions } = await calibrateOffThread(trainingVectors(examples), task.shape, { k, selection: task.selection }, { signal });
  const byShare = predictions.map((p) => ({ confidence: p.share, correct: p.predicted === p.actual }));
  const byProbability = predictions.map((p) => ({ confidence: p.probability, correct: p.predicted === p.actual }));
  const bins = (metrics: ReturnType<typeof calibrationMetrics>) => ({
    ece: round(metrics.ece),
    bins: metrics.bins.filter((b) => b.count > 0).map((b) => ({ ...b, confidence: round(b.confidence), accuracy: round(b.accuracy) })),
  });
  const suggested = suggestThreshold(byProbability, DEFAULT_TARGET_ACCURACY);
  const selective = (r: ReturnType<typeof selectiveAccuracy>) => ({
    threshold: round(r.threshold),
    coverage: round(r.coverage),
    selectiveAccuracy: r.selectiveAccuracy === null ? null : round(r.selectiveAccuracy),
  });
  return {
    method: "leave-one-out with the task's selected heads; probability = softmax of per-label mean cosine over a fitted temperature",
    temperature: calibration.temperature,
    share: bins(calibrationMetrics(byShare)),
    probability: bins(calibrationMetrics(byProbability)),
    ...(minConfidence !== undefined ? { atMinConfidence: selective(selectiveAccuracy(byProbability, minConfidence)) } : {}),
    suggestedMinConfidence: suggested ? { ...selective(suggested), targetAccuracy: DEFAULT_TARGET_ACCURACY } : null,
  };
}

/** The head map of a task as PNG: per-head scores (leave-one-out when possible), its voting heads, an optional curve. */
export async function headMapPicture(
  service: ServiceContext,
  taskName: string,
  curve: { heads: number; accuracy: number }[] = [],
): Promise<Buffer> {
  const task = await service.requireTask(taskName);
  const { classifier } = await service.classifiers.get(task);
  const { examples } = await service.store.loadTrainingSet(task.id);
  const heldOut = Object.values(classifier.examplesPerLabel).every((n) => n >= 2);
  // Every head scored on every example: about as long as a classifier build, so in a worker thread too.
  const ranked = await rankHeadsForServer(trainingVectors(examples), task.shape, heldOut ? "leave-one-out" : "in-sample");
  const scores = new Array<number>(task.shape.layers * task.shape.heads).fill(0);
  for (const h of ranked) scores[h.layer * task.shape.heads + h.head] = h.score;
  const picture = await renderHeadMap({
    layers: task.shape.layers,
    heads: task.shape.heads,
    scores,
    selected: classifier.heads,
    curve,
    title: `${task.name}: head scores (${heldOut ? "leave-one-out" : "in-sample"}), ${classifier.k} voting heads outlined`,
  });
  return picture.png;
}

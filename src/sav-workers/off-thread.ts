/**
 * Cross-validation, classifier builds and calibration in worker threads, so the event loop stays free for other calls while they
 * run: the heads are split into ranges, one per thread; the examples are shared with every thread, not copied.
 */
import { availableParallelism } from "node:os";
import {
  type BuildOptions,
  buildClassifier,
  type Calibration,
  type CrossValidationOptions,
  type CrossValidationReport,
  fitCalibration,
  type HeadSelection,
  type HeadShape,
  type HeldOutPrediction,
  type FoldScores,
  type LabelledVector,
  planCrossValidation,
  rankHeads,
  type RankedHead,
  type SavClassifier,
  SavError,
} from "../sav/index.js";
import { acquireWorker, discardWorker, releaseWorker } from "./pool.js";
import type { FromWorker, SharedExamples, ToWorker } from "./protocol.js";

/** Below this many multiply-adds per thread (Gram matrices), one more thread costs more than it saves. */
const MIN_WORK_PER_THREAD = 2e8;
/** Examples copied into the shared block between two turns of the event loop. */
const EXAMPLES_PER_COPY_TURN = 32;

export interface OffThreadOptions {
  /** Upper bound on worker threads; default: the machine's available parallelism. */
  maxThreads?: number;
  /** Exactly this many threads (at most one per head), instead of as many as the work is worth. */
  threads?: number;
  /** Aborting terminates the workers and rejects with the signal's reason. */
  signal?: AbortSignal;
}

const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/**
 * Copies the vectors into one SharedArrayBuffer, yielding to the event loop between slices; null when the
 * vectors are not all Float32Arrays of one length.
 */
async function shareExamples(examples: readonly LabelledVector[]): Promise<SharedExamples | null> {
  const length = examples[0]?.vector?.length ?? 0;
  const buffer = new SharedArrayBuffer(examples.length * length * Float32Array.BYTES_PER_ELEMENT);
  const values = new Float32Array(buffer);
  for (let i = 0; i < examples.length; i++) {
    const vector = examples[i]!.vector;
    if (!(vector instanceof Float32Array) || vector.length !== length) return null;
    values.set(vector, i * length);
    if ((i + 1) % EXAMPLES_PER_COPY_TURN === 0) await nextTurn();
  }
  return { buffer, length, labels: examples.map((e) => e.label) };
}

function threadCount(examples: number, shape: HeadShape, maxThreads: number): number {
  const heads = shape.layers * shape.heads;
  if (!Number.isSafeInteger(heads) || heads < 1) return 1;
  const work = (examples * examples * heads * shape.headDim) / 2;
  return Math.max(1, Math.min(maxThreads, heads, Math.ceil(work / MIN_WORK_PER_THREAD)));
}

function failure(message: Extract<FromWorker, { kind: "failed" }>, what = "cross-validation"): Error {
  return message.savCode !== undefined
    ? new SavError(message.savCode, message.message)
    : new Error(`${what} failed in a worker thread: ${message.message}`);
}

/**
 * The same report as `crossValidate(examples, shape, options)`, computed in worker threads. Bad input
 * rejects with the same SavError.
 */
export async function crossValidateOffThread(
  examples: readonly LabelledVector[],
  shape: HeadShape,
  options: CrossValidationOptions = {},
  { maxThreads = availableParallelism(), threads: requestedThreads, signal }: OffThreadOptions = {},
): Promise<CrossValidationReport> {
  signal?.throwIfAborted();
  if (!Array.isArray(examples)) planCrossValidation(examples as LabelledVector[], shape, options); // throws the engine's message
  const shared = await shareExamples(examples);
  if (shared === null) {
    // The engine's validation names the example and the expected shape; it fails before any real work.
    planCrossValidation([...examples], shape, options);
    throw new SavError("invalid-vector", "every example vector must be a Float32Array of the same length");
  }
  signal?.throwIfAborted();
  const threads =
    requestedThreads === undefined
      ? threadCount(examples.length, shape, Math.max(1, maxThreads))
      : Math.max(1, Math.min(requestedThreads, shape.layers * shape.heads || 1));
  const totalHeads = threads === 1 ? Number.MAX_SAFE_INTEGER : shape.layers * shape.heads;
  const workers = Array.from({ length: threads }, acquireWorker);
  let finished = false;
  let onAbort = (): void => undefined;

  try {
    return await new Promise<CrossValidationReport>((resolve, reject) => {
      const parts: FoldScores[] = [];
      onAbort = (): void => reject(signal!.reason);
      signal?.addEventListener("abort", onAbort, { once: true });
      workers.forEach((worker, index) => {
        worker.on("message", (message: FromWorker) => {
          if (message.kind === "failed") reject(failure(message));
          else if (message.kind === "scores") {
            parts.push(message.scores);
            if (parts.length === threads) {
              const request: ToWorker = { kind: "report", parts };
              const buffers = parts.flatMap((p) => [p.foldCorrect.buffer, p.foldMarginSum.buffer, p.heldOutVote.buffer, p.heldOutSimilarity.buffer]);
              workers[0]!.postMessage(request, buffers as ArrayBuffer[]);
            }
          } else if (message.kind === "report") {
            finished = true;
            resolve(message.report);
          }
        });
        worker.on("error", (error) => reject(new Error(`cross-validation worker thread failed: ${error.message}`)));
        worker.on("exit", (code) => reject(new Error(`cross-validation worker thread exited (code ${code})`)));
        const firstHead = Math.floor((index * totalHeads) / threads);
        const endHead = index === threads - 1 ? totalHeads : Math.floor(((index + 1) * totalHeads) / threads);
        const request: ToWorker = {
          kind: "score",
          examples: shared,
          shape,
          options,
          firstHead,
          endHead,
        };
        worker.postMessage(request);
      });
    });
  } finally {
    // Also after a failure: the caller's signal may outlive this call by far (a session's, a server's).
    signal?.removeEventListener("abort", onAbort);
    if (finished) workers.forEach(releaseWorker);
    else await Promise.all(workers.map(discardWorker));
  }
}

/** The examples shared for a worker; bad input throws `validate`'s engine error (it fails before any real work). */
async function shareOrThrow(examples: readonly LabelledVector[], validate: (examples: LabelledVector[]) => unknown): Promise<SharedExamples> {
  const shared = Array.isArray(examples) ? await shareExamples(examples) : null;
  if (shared === null) {
    validate([...examples]);
    throw new SavError("invalid-vector", "every example vector must be a Float32Array of the same length");
  }
  return shared;
}

/**
 * Sends `request` to a worker thread of the pool and resolves with its answer of kind `answer`. Aborting ends
 * the thread (it holds no state of the process: the ONNX sessions live in another thread).
 */
async function oneWorkerJob<K extends FromWorker["kind"]>(
  request: ToWorker,
  answer: K,
  what: string,
  signal: AbortSignal | undefined,
): Promise<Extract<FromWorker, { kind: K }>> {
  signal?.throwIfAborted();
  const worker = acquireWorker();
  let onAbort = (): void => undefined;
  // The thread answered (a result or the engine's error) and can take the next job.
  let answered = false;
  try {
    return await new Promise((resolve, reject) => {
      onAbort = () => reject(signal!.reason);
      signal?.addEventListener("abort", onAbort, { once: true });
      worker.on("message", (message: FromWorker) => {
        answered = message.kind === answer || message.kind === "failed";
        if (message.kind === answer) resolve(message as Extract<FromWorker, { kind: K }>);
        else reject(message.kind === "failed" ? failure(message, what) : new Error(`${what} worker answered "${message.kind}"`));
      });
      worker.on("error", (error) => reject(new Error(`${what} worker thread failed: ${error.message}`)));
      worker.on("exit", (code) => reject(new Error(`${what} worker thread exited (code ${code})`)));
      worker.postMessage(request);
    });
  } finally {
    signal?.removeEventListener("abort", onAbort);
    if (answered && !signal?.aborted) releaseWorker(worker);
    else await discardWorker(worker);
  }
}

/**
 * The classifier `buildClassifier(examples, shape, options)` would build, its temperature fitted by
 * leave-one-out (fitCalibration) and every example predicted held out (heldOutPredictions), computed in one
 * worker thread: at 2,000 examples this is seconds of work. Bad input rejects with the same SavError.
 */
export async function calibrateOffThread(
  examples: readonly LabelledVector[],
  shape: HeadShape,
  options: BuildOptions = {},
  { signal }: Pick<OffThreadOptions, "signal"> = {},
): Promise<{ calibration: Calibration; predictions: HeldOutPrediction[] }> {
  signal?.throwIfAborted();
  const shared = await shareOrThrow(examples, (all) => buildClassifier(all, shape, options));
  return oneWorkerJob({ kind: "calibrate", examples: shared, shape, options }, "calibrated", "calibration", signal);
}

/**
 * `buildClassifier(examples, shape, options)`, bit for bit, built in a worker thread (seconds at 2,000 examples
 * of a full-size model). Bad input rejects with the same SavError.
 */
export async function buildClassifierOffThread(
  examples: readonly LabelledVector[],
  shape: HeadShape,
  options: BuildOptions = {},
  { signal }: Pick<OffThreadOptions, "signal"> = {},
): Promise<SavClassifier> {
  signal?.throwIfAborted();
  const shared = await shareOrThrow(examples, (all) => buildClassifier(all, shape, options));
  return (await oneWorkerJob({ kind: "build", examples: shared, shape, options }, "built", "classifier build", signal)).classifier;
}

/** `fitCalibration(classifier, examples)`, bit for bit, in a worker thread. Bad input rejects with the same SavError. */
export async function fitCalibrationOffThread(
  classifier: SavClassifier,
  examples: readonly LabelledVector[],
  { signal }: Pick<OffThreadOptions, "signal"> = {},
): Promise<Calibration> {
  signal?.throwIfAborted();
  const shared = await shareOrThrow(examples, (all) => fitCalibration(classifier, all));
  return (await oneWorkerJob({ kind: "fit-calibration", examples: shared, classifier }, "fitted", "calibration", signal)).calibration;
}

/** `rankHeads(examples, shape, selection)`, bit for bit, in a worker thread. Bad input rejects with the same SavError. */
export async function rankHeadsOffThread(
  examples: readonly LabelledVector[],
  shape: HeadShape,
  selection: HeadSelection,
  { signal }: Pick<OffThreadOptions, "signal"> = {},
): Promise<RankedHead[]> {
  signal?.throwIfAborted();
  const shared = await shareOrThrow(examples, (all) => rankHeads(all, shape, selection));
  return (await oneWorkerJob({ kind: "rank-heads", examples: shared, shape, selection }, "ranked", "head ranking", signal)).heads;
}

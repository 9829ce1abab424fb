/**
 * Where a runner's ONNX Runtime sessions live. onnxruntime-node's `session.run` and session creation are
 * synchronous native calls: on the main thread they block the event loop for a whole vision encoder run
 * (hundreds of ms), so other calls, cancellations and health checks wait. A worker host (session-worker.ts)
 * keeps the sessions in one worker thread; the main-thread host keeps the old behaviour, for comparison in the
 * benchmarks and for callers that never serve anything else.
 */
import os from "node:os";
import * as ort from "onnxruntime-node";
import { prepareDecoder } from "./decoder-cache.js";
import { ModelFileError, ModelInputError } from "./errors.js";
import { GraphEditError, type DecoderEditOptions } from "./graph.js";
import type { VisionSourceSpec } from "./vision-cache.js";
import { openVisionSession, type LoadedSession } from "./vision-session.js";

/**
 * An ONNX graph to load: a file; a decoder to edit for head vectors first (prepareDecoder); or a vision
 * encoder to edit for speed, verified against the file at load (vision-cache.ts), the file itself if not.
 */
export type SessionSource = { path: string } | { decoder: { source: string; edit: DecoderEditOptions } } | { vision: VisionSourceSpec };

/** What the runner, the families and the generator use of an `ort.InferenceSession`. */
export interface ModelSession {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  readonly inputMetadata: readonly ort.InferenceSession.ValueMetadata[];
  /** The feeds' buffers may be handed over to another thread: do not read them after the call. */
  run(feeds: Record<string, ort.Tensor>, fetches?: readonly string[]): Promise<Record<string, ort.Tensor>>;
  release(): Promise<void>;
}

export interface SessionHost {
  open(source: SessionSource): Promise<ModelSession>;
  /** Releases every session opened here (a worker host also stops its thread); later calls fail. */
  close(): Promise<void>;
}

/** "worker": sessions in one worker thread per runner (default); "main": on the calling thread. */
export type InferenceThread = "worker" | "main";

/** The session options of every graph this program runs. */
export function sessionOptions(threads = os.availableParallelism()): ort.InferenceSession.SessionOptions {
  return {
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    executionMode: "sequential",
    graphOptimizationLevel: "all",
    // Idle ORT threads otherwise busy-wait, taking the cores from the next session and from image decoding
    // (measured: decoder stage 0.8x, two-in-flight throughput 3-11% better; BENCHMARKS.md).
    extra: { session: { intra_op: { allow_spinning: "0" }, inter_op: { allow_spinning: "0" } } },
  };
}

/** Loads a source on the calling thread (the main thread's host, and the worker thread itself). */
export async function openInferenceSession(source: SessionSource, options: ort.InferenceSession.SessionOptions): Promise<LoadedSession> {
  if ("path" in source) return ort.InferenceSession.create(source.path, options);
  if ("vision" in source) return (await openVisionSession(source.vision, options)).session;
  const prepared = await prepareDecoder(source.decoder.source, source.decoder.edit);
  return prepared.path ? ort.InferenceSession.create(prepared.path, options) : ort.InferenceSession.create(prepared.bytes!, options);
}

/** Errors whose class callers test for, rebuilt by name when they come back from the worker thread. */
const ERROR_CLASSES: Record<string, new (message: string) => Error> = { GraphEditError, ModelFileError, ModelInputError };

/** An error as it crosses threads: its class (when callers test for it), name and message, unchanged. */
export function rebuildError(name: string, message: string): Error {
  const Class = ERROR_CLASSES[name];
  const error = Class ? new Class(message) : new Error(message);
  error.name = name;
  return error;
}

/** Sessions on the calling thread: runs block it for their whole duration. */
export class MainThreadSessionHost implements SessionHost {
  private readonly sessions = new Set<LoadedSession>();
  private closed = false;

  constructor(private readonly options: ort.InferenceSession.SessionOptions) {}

  async open(source: SessionSource): Promise<ModelSession> {
    if (this.closed) throw new Error("The model was closed.");
    const session = await openInferenceSession(source, this.options);
    this.sessions.add(session);
    return {
      inputNames: session.inputNames,
      outputNames: session.outputNames,
      inputMetadata: session.inputMetadata,
      run: (feeds, fetches) => (fetches ? session.run(feeds, [...fetches]) : session.run(feeds)),
      release: async () => {
        if (this.sessions.delete(session)) await session.release();
      },
    };
  }

  async close(): Promise<void> {
    this.closed = true;
    const sessions = [...this.sessions];
    this.sessions.clear();
    await Promise.all(sessions.map((session) => session.release()));
  }
}

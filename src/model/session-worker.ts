/**
 * ONNX Runtime sessions owned by one worker thread (session-worker-thread.ts), used from the main thread
 * through session-like objects. All of a host's sessions share its thread, so a model is in memory once and
 * its runs take turns. Should the thread die, the calls waiting on it fail with an error saying so, and the
 * next call starts a new thread and opens the session there again.
 */
import type { Worker } from "node:worker_threads";
import type * as ort from "onnxruntime-node";
import { startWorkerThread } from "../worker-thread.js";
import { rebuildError, type ModelSession, type SessionHost, type SessionSource } from "./session-host.js";
import { fromWire, toWire, type FromSessionThread, type OpenedSession, type ToSessionThread, type WireTensor } from "./session-wire.js";

type Request = ToSessionThread extends infer M ? (M extends { id: number } ? Omit<M, "id"> : never) : never;

interface Pending {
  resolve(message: FromSessionThread): void;
  reject(error: Error): void;
  what: string;
}

function startThread(): Worker {
  return startWorkerThread(import.meta.url, "session-worker-thread");
}

export class WorkerSessionHost implements SessionHost {
  private thread: { worker: Worker; exited: Promise<void> } | undefined;
  /** Counts the threads started: a session opened in an earlier one is opened again before its next run. */
  private generation = 0;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private closed = false;

  constructor(private readonly options: ort.InferenceSession.SessionOptions) {}

  /** The current thread's generation, starting a thread when none runs. */
  private ensureThread(): { worker: Worker; generation: number } {
    if (this.closed) throw new Error("The model was closed.");
    if (!this.thread) {
      const worker = startThread();
      this.generation++;
      let failure = "";
      worker.on("message", (message: FromSessionThread) => this.settle(message));
      worker.on("error", (error) => {
        failure = `: ${error.message}`;
      });
      const exited = new Promise<void>((resolve) => {
        worker.on("exit", (code) => {
          if (this.thread?.worker === worker) this.thread = undefined;
          this.failAll(
            this.closed
              ? () => "The model was closed."
              : (what) => `The ONNX Runtime worker thread stopped (exit code ${code}${failure}) during ${what}. The next call starts a new one.`,
          );
          resolve();
        });
      });
      worker.unref();
      this.thread = { worker, exited };
    }
    return { worker: this.thread.worker, generation: this.generation };
  }

  private settle(message: FromSessionThread): void {
    const pending = this.pending.get(message.id);
    if (!pending) return;
    this.pending.delete(message.id);
    if (this.pending.size === 0) this.thread?.worker.unref();
    if (message.kind === "failed") pending.reject(rebuildError(message.name, message.message));
    else pending.resolve(message);
  }

  private failAll(messageFor: (what: string) => string): void {
    const pending = [...this.pending.values()];
    this.pending.clear();
    for (const call of pending) call.reject(new Error(messageFor(call.what)));
  }

  /** Sends a request to the current thread; resolves with the reply, rejects with the thread's error. */
  call(request: Request, what: string, transfer: ArrayBuffer[] = []): Promise<FromSessionThread> {
    return new Promise((resolve, reject) => {
      const { worker } = this.ensureThread();
      const id = this.nextId++;
      this.pending.set(id, { resolve, reject, what });
      // A waiting call keeps the process alive; an idle thread does not.
      worker.ref();
      const message = { ...request, id } as ToSessionThread;
      try {
        try {
          worker.postMessage(message, transfer);
        } catch {
          // A buffer that cannot be moved (Node's pooled or otherwise untransferable memory) is copied instead.
          worker.postMessage(message);
        }
      } catch (error) {
        this.settle({ id, kind: "failed", name: "Error", message: `Cannot send ${what} to the ONNX Runtime worker thread: ${(error as Error).message}` });
      }
    });
  }

  /** Opens `source` in the current thread; `generation` says which thread holds the new session. */
  async openRemote(source: SessionSource): Promise<OpenedSession & { generation: number }> {
    const { generation } = this.ensureThread();
    const reply = await this.call({ kind: "open", source, options: this.options }, `loading ${describe(source)}`);
    if (reply.kind !== "opened") throw new Error(`The ONNX Runtime worker thread answered "${reply.kind}" to a load.`);
    return { ...reply, generation };
  }

  get currentGeneration(): number {
    return this.thread ? this.generation : -1;
  }

  async open(source: SessionSource): Promise<ModelSession> {
    return new RemoteSession(this, source, await this.openRemote(source));
  }

  /**
   * Stops the thread once the native call it is in (if any) returns: the calls still waiting fail as they
   * would if it crashed, and the next call starts a new thread. Frees the sessions' memory until next used.
   * (Worker.terminate() is never used: stopping a thread inside ONNX Runtime's native code aborts the process.)
   */
  async stopThread(): Promise<void> {
    const thread = this.thread;
    if (!thread) return;
    // Waiting for the exit keeps the process alive, as any waiting call does.
    thread.worker.ref();
    thread.worker.postMessage({ id: 0, kind: "exit" } satisfies ToSessionThread);
    await thread.exited;
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.stopThread();
  }
}

function describe(source: SessionSource): string {
  if ("path" in source) return source.path;
  return "vision" in source ? `the vision encoder ${source.vision.source}` : `the edited decoder of ${source.decoder.source}`;
}

class RemoteSession implements ModelSession {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  readonly inputMetadata: readonly ort.InferenceSession.ValueMetadata[];
  private remote: { session: number; generation: number } | undefined;
  private reopening: Promise<{ session: number; generation: number }> | undefined;
  private released = false;

  constructor(
    private readonly host: WorkerSessionHost,
    private readonly source: SessionSource,
    opened: OpenedSession & { generation: number },
  ) {
    this.inputNames = opened.inputNames;
    this.outputNames = opened.outputNames;
    this.inputMetadata = opened.inputMetadata;
    this.remote = opened;
  }

  /** The session's id in the current thread, opening it again there when the thread it was opened in stopped. */
  private async current(): Promise<number> {
    if (this.remote && this.remote.generation === this.host.currentGeneration) return this.remote.session;
    this.remote = undefined;
    this.reopening ??= this.host.openRemote(this.source).finally(() => {
      this.reopening = undefined;
    });
    this.remote = await this.reopening;
    return this.remote.session;
  }

  async run(feeds: Record<string, ort.Tensor>, fetches?: readonly string[]): Promise<Record<string, ort.Tensor>> {
    if (this.released) throw new Error(`The ONNX Runtime session for ${describe(this.source)} was released.`);
    const session = await this.current();
    const { wire, transfer } = toWire(feeds, false);
    const reply = await this.host.call({ kind: "run", session, feeds: wire, ...(fetches ? { fetches: [...fetches] } : {}) }, `a run of ${describe(this.source)}`, transfer);
    if (reply.kind !== "ran") throw new Error(`The ONNX Runtime worker thread answered "${reply.kind}" to a run.`);
    return fromWire(reply.outputs as Record<string, WireTensor>);
  }

  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    const remote = this.remote;
    if (remote && remote.generation === this.host.currentGeneration) await this.host.call({ kind: "release", session: remote.session }, "a release");
  }
}

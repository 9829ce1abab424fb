/**
 * Idle cross-validation worker threads, kept for the next call: starting a thread and compiling its
 * WebAssembly kernels costs ~0.1 s, as much as a whole cross-validation of 200 examples. A thread goes back
 * to the pool only after a call that completed; one that failed or was aborted is terminated.
 */
import type { Worker } from "node:worker_threads";
import { availableParallelism } from "node:os";
import { startWorkerThread } from "../worker-thread.js";

/** How long an idle thread is kept (changed by tests only). */
let idleMs = 30_000;

interface IdleWorker {
  worker: Worker;
  timer: NodeJS.Timeout;
  onExit: () => void;
}

const idle: IdleWorker[] = [];
let started = 0;

function remove(entry: IdleWorker): void {
  const index = idle.indexOf(entry);
  if (index >= 0) idle.splice(index, 1);
  clearTimeout(entry.timer);
  entry.worker.off("exit", entry.onExit);
}

/** A worker thread of cross-validation-worker.ts, idle from the pool or new; it keeps the process alive until released. */
export function takeWorker(): Worker {
  const entry = idle.pop();
  if (!entry) {
    started++;
    return startWorkerThread(import.meta.url, "cross-validation-worker");
  }
  remove(entry);
  entry.worker.ref();
  return entry.worker;
}

/**
 * Hands a worker back after a call: kept idle (without keeping the process alive) when `reusable` and the pool
 * has room, terminated otherwise. Removes the call's listeners either way.
 */
export async function releaseWorker(worker: Worker, reusable: boolean): Promise<void> {
  worker.removeAllListeners("message");
  worker.removeAllListeners("error");
  worker.removeAllListeners("exit");
  if (!reusable || idle.length >= availableParallelism()) {
    await worker.terminate();
    return;
  }
  const entry: IdleWorker = {
    worker,
    timer: setTimeout(() => {
      remove(entry);
      void worker.terminate();
    }, idleMs),
    onExit: () => remove(entry),
  };
  entry.timer.unref();
  worker.on("exit", entry.onExit);
  // Errors of an idle thread end in its exit, which removes it from the pool.
  worker.on("error", () => undefined);
  worker.unref();
  idle.push(entry);
}

/** Keeps idle threads for `ms` from now on (tests: an idle thread must not hold the process however long it is kept). */
export function keepIdleFor(ms: number): void {
  idleMs = ms;
}

/** Idle threads now, and threads started so far (tests). */
export function poolCounts(): { idle: number; started: number } {
  return { idle: idle.length, started };
}

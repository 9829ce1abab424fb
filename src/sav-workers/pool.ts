/**
 * Worker threads kept between jobs. Tearing a thread down right after heavy work can abort the whole process on
 * Node 20: the isolate is unregistered from the platform before it is disposed, and a background compile job
 * still running then fails an assertion (`NodePlatform::ForIsolate`, seen here once in the test suite; cf.
 * v8/node#208). So a thread that finished its job waits idle for the next one and is only ended after a quiet
 * spell (no compile job left by then); one whose job was aborted or that failed is ended at once. Reuse also
 * saves the thread's start (30–60 ms).
 */
import { availableParallelism } from "node:os";
import type { Worker } from "node:worker_threads";
import { startWorkerThread } from "../worker-thread.js";

/** How long a finished thread waits for another job before it is ended (changed by tests only, keepIdleFor). */
let idleThreadMs = 30_000;

/** A thread beyond the pool's size is not ended right after its job either (the teardown above), only after this pause. */
const SURPLUS_THREAD_MS = 2_000;

const idle: Worker[] = [];
let started = 0;
/** Threads whose start has completed: ending one still booting is the same risky teardown. */
const online = new WeakSet<Worker>();
/** The events jobs and the pool listen to. Never removeAllListeners(): Worker's own listeners ref its message port. */
const EVENTS = ["message", "error", "exit"] as const;
const removeListeners = (worker: Worker): void => EVENTS.forEach((event) => worker.removeAllListeners(event));
const idleTimers = new Map<Worker, NodeJS.Timeout>();

function forget(worker: Worker): void {
  const at = idle.indexOf(worker);
  if (at !== -1) idle.splice(at, 1);
  clearTimeout(idleTimers.get(worker));
  idleTimers.delete(worker);
}

/** An idle thread of the job worker, or a new one. The caller adds its listeners and returns it with releaseWorker or discardWorker. */
export function acquireWorker(): Worker {
  const worker = idle.pop();
  if (worker === undefined) {
    started++;
    const fresh = startWorkerThread(import.meta.url, "cross-validation-worker");
    fresh.once("online", () => online.add(fresh));
    return fresh;
  }
  forget(worker);
  removeListeners(worker);
  worker.ref();
  return worker;
}

/**
 * After a job that ended normally: the thread waits for the next job (it does not keep the process alive); beyond
 * the pool's size, only briefly.
 */
export function releaseWorker(worker: Worker): void {
  removeListeners(worker);
  const surplus = idle.length >= availableParallelism();
  // An idle thread that fails or exits is simply dropped.
  worker.on("error", () => forget(worker));
  worker.on("exit", () => forget(worker));
  worker.unref();
  idle.push(worker);
  const timer = setTimeout(() => {
    forget(worker);
    void worker.terminate();
  }, surplus ? Math.min(SURPLUS_THREAD_MS, idleThreadMs) : idleThreadMs);
  timer.unref();
  idleTimers.set(worker, timer);
}

/** After an aborted or failed job: ends the thread now (its work is not wanted, or its state is unknown). */
export async function discardWorker(worker: Worker): Promise<void> {
  removeListeners(worker);
  // A late "error" from the ending thread must not go unhandled.
  worker.on("error", () => undefined);
  if (!online.has(worker)) {
    await new Promise((resolve) => {
      worker.once("online", resolve);
      worker.once("exit", resolve);
    });
  }
  await worker.terminate();
}

/** Idle threads now (tests). */
export function idleWorkers(): number {
  return idle.length;
}

/** Threads started so far (tests: a reused thread is not a new one). */
export function startedWorkers(): number {
  return started;
}

/** Keeps finished threads idle for `ms` from now on (tests: an idle thread must never hold the process, however long it waits). */
export function keepIdleFor(ms: number): void {
  idleThreadMs = ms;
}

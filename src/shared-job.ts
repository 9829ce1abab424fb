/**
 * One run of a job per key, shared by every caller that asks for it while it runs (e.g. concurrent
 * classify_image calls on a task whose classifier is being built). Each caller may cancel its own wait; the
 * job itself is aborted only once every caller waiting for it has cancelled, so one client's cancellation
 * never fails another client's call.
 */
import { abortable } from "./abortable.js";

interface Job<T> {
  promise: Promise<T>;
  controller: AbortController;
  waiters: number;
}

export class SharedJobs<K, T> {
  private readonly running = new Map<K, Job<T>>();

  /** Keys with a job under way. */
  get size(): number {
    return this.running.size;
  }

  /**
   * `work`'s result for `key`: joins the job under way, or starts `work` with a signal that aborts when every
   * caller has cancelled. Rejects with `signal`'s reason when this caller cancels.
   */
  run(key: K, work: (signal: AbortSignal) => Promise<T>, signal?: AbortSignal): Promise<T> {
    signal?.throwIfAborted();
    let job = this.running.get(key);
    if (job === undefined) {
      const controller = new AbortController();
      const started: Job<T> = { promise: (async () => work(controller.signal))(), controller, waiters: 0 };
      this.running.set(key, started);
      // Also marks the rejection of a job nobody waits for any more (all cancelled) as handled.
      started.promise.finally(() => this.drop(key, started)).catch(() => undefined);
      job = started;
    }
    job.waiters++;
    return signal === undefined ? job.promise : this.wait(key, job, signal);
  }

  private wait(key: K, job: Job<T>, signal: AbortSignal): Promise<T> {
    return abortable(job.promise, signal, () => {
      if (--job.waiters === 0) {
        // A caller arriving from now on starts afresh instead of joining a job that is stopping.
        this.drop(key, job);
        job.controller.abort(signal.reason);
      }
    });
  }

  private drop(key: K, job: Job<T>): void {
    if (this.running.get(key) === job) this.running.delete(key);
  }
}

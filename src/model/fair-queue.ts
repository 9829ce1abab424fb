/** The lane of callers that name none: a process with one client (stdio) needs no other. */
export const DEFAULT_LANE = "default";

export interface FairQueueOptions {
  /** Called as each job starts, with its lane (observability and tests). */
  onStart?: (lane: string) => void;
}

interface Waiting {
  job: () => unknown;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

/**
 * Runs one job at a time, so concurrent requests queue instead of oversubscribing the cores, and takes
 * the next job round-robin over the lanes that have work (first come, first served within a lane): a
 * client with hundreds of images queued delays another's single image by at most one job per other
 * busy lane, never by its whole backlog.
 *
 * A lane that gets work joins the back of the rotation, but ahead of the lane whose job is running: that
 * one rejoins when its job ends. So with one busy lane, a newcomer's job is the next to start.
 *
 * A job must not wait for another job of the same queue (it would wait for itself to finish).
 */
export class FairQueue {
  /** Jobs not yet started, per lane; only lanes with some are present. */
  private readonly waiting = new Map<string, Waiting[]>();
  /** Lanes with waiting jobs in the order they get their turn, without the running job's lane. */
  private readonly rotation: string[] = [];
  private running: string | undefined;

  constructor(private readonly options: FairQueueOptions = {}) {}

  run<T>(lane: string, job: () => T | Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const queued = this.waiting.get(lane);
      const entry: Waiting = { job, resolve: resolve as (value: unknown) => void, reject };
      if (queued) queued.push(entry);
      else {
        this.waiting.set(lane, [entry]);
        if (lane !== this.running) this.rotation.push(lane);
      }
      if (this.running === undefined) this.startNext();
    });
  }

  /** Jobs waiting to start, over all lanes. */
  get pending(): number {
    let count = 0;
    for (const queued of this.waiting.values()) count += queued.length;
    return count;
  }

  private startNext(): void {
    const lane = this.rotation.shift();
    if (lane === undefined) return;
    const queued = this.waiting.get(lane)!;
    const entry = queued.shift()!;
    if (queued.length === 0) this.waiting.delete(lane);
    this.running = lane;
    let result: unknown;
    try {
      this.options.onStart?.(lane);
      result = entry.job();
    } catch (error) {
      result = Promise.reject(error);
    }
    Promise.resolve(result)
      .then(entry.resolve, entry.reject)
      .finally(() => {
        this.running = undefined;
        if (this.waiting.has(lane)) this.rotation.push(lane);
        this.startNext();
      });
  }
}

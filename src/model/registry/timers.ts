/** Abort-aware waiting for downloads: a backoff sleep and an idle timeout. */

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/** An abort signal that fires when nothing happened for `ms`; `touch()` restarts the clock. */
export class IdleTimer {
  readonly controller = new AbortController();
  fired = false;
  private timer: NodeJS.Timeout | undefined;

  private readonly onParentAbort: () => void;

  constructor(
    private readonly ms: number,
    private readonly parent?: AbortSignal,
  ) {
    this.onParentAbort = () => this.controller.abort(parent?.reason);
    if (parent?.aborted) this.controller.abort(parent.reason);
    parent?.addEventListener("abort", this.onParentAbort, { once: true });
    this.touch();
  }

  touch(): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.fired = true;
      this.controller.abort(new Error("idle timeout"));
    }, this.ms);
  }

  stop(): void {
    clearTimeout(this.timer);
    this.parent?.removeEventListener("abort", this.onParentAbort);
  }
}

import type { ExtractRequest, ExtractResult, HeadVectorExtractor } from "../../src/model/types.js";
import type { ModelProvider } from "../../src/server/models.js";

/**
 * Wraps a real model provider so the test decides when extractions may run: every extraction after
 * the first `freeCalls` waits until `release()` or until its request is cancelled (then it rejects
 * like the runner does). `aborted` resolves when a waiting extraction saw its cancellation.
 */
export class GatedModels implements ModelProvider {
  extractCalls = 0;
  /** Every extraction request, in order. */
  readonly requests: ExtractRequest[] = [];
  readonly aborted: Promise<void>;
  private onAborted!: () => void;
  private released = false;
  private readonly waiting = new Set<() => void>();

  constructor(
    private readonly inner: ModelProvider,
    private readonly freeCalls: number,
  ) {
    this.aborted = new Promise((resolve) => (this.onAborted = resolve));
  }

  get defaultModel(): string {
    return this.inner.defaultModel;
  }

  release(): void {
    this.released = true;
    for (const wake of this.waiting) wake();
    this.waiting.clear();
  }

  async extractor(modelId: string): Promise<HeadVectorExtractor> {
    const real = await this.inner.extractor(modelId);
    return {
      info: real.info,
      resolveOptions: (options) => real.resolveOptions(options),
      extract: async (request: ExtractRequest): Promise<ExtractResult> => {
        this.extractCalls++;
        this.requests.push(request);
        if (this.extractCalls > this.freeCalls) await this.gate(request.signal);
        return real.extract(request);
      },
      close: () => real.close(),
    };
  }

  listModels() {
    return this.inner.listModels();
  }

  close(): Promise<void> {
    this.release();
    return this.inner.close();
  }

  private gate(signal: AbortSignal | undefined): Promise<void> {
    if (this.released) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const wake = () => resolve();
      this.waiting.add(wake);
      signal?.addEventListener(
        "abort",
        () => {
          this.waiting.delete(wake);
          this.onAborted();
          const error = new Error("Feature extraction was cancelled.");
          error.name = "AbortError";
          reject(error);
        },
        { once: true },
      );
    });
  }
}

import type { HeadVectorExtractor } from "../model/types.js";
import type { ModelListingView } from "./schemas.js";

export interface ExtractorRequestOptions {
  signal?: AbortSignal;
  /** Progress of a download or load, for the tool's progress notifications. */
  onProgress?: (message: string, fraction?: number) => void;
  /** Something the operator must know about (an auto-pulled model with unverified files): a warning log line. */
  onWarning?: (message: string) => void;
}

/**
 * Where the server gets its models. One extractor per model id is created on first use and shared by
 * every task and call. Failures (model not installed, corrupt files) are thrown with messages written
 * for the agent, naming the command that fixes them.
 */
export interface ModelProvider {
  extractor(modelId: string, options?: ExtractorRequestOptions): Promise<HeadVectorExtractor>;
  listModels(): Promise<ModelListingView[]>;
  /** What an agent should hear each time it builds on a loaded model (files installed UNVERIFIED), for a result's note. */
  modelWarnings?(modelId: string): string[];
  /** The model id used when a task names none. */
  readonly defaultModel: string;
  close(): Promise<void>;
}

/**
 * Shares one extractor per key among concurrent and later callers. A failed load is forgotten so that
 * the next call retries (e.g. after the user installed the model).
 */
export class ExtractorPool {
  private readonly loading = new Map<string, Promise<HeadVectorExtractor>>();

  constructor(private readonly load: (modelId: string, options: ExtractorRequestOptions) => Promise<HeadVectorExtractor>) {}

  get(modelId: string, options: ExtractorRequestOptions = {}): Promise<HeadVectorExtractor> {
    let pending = this.loading.get(modelId);
    if (!pending) {
      // The load is shared, so one caller's cancellation must not abort it for the others.
      pending = this.load(modelId, { onProgress: options.onProgress, onWarning: options.onWarning });
      this.loading.set(modelId, pending);
      pending.catch(() => {
        if (this.loading.get(modelId) === pending) this.loading.delete(modelId);
      });
    }
    return pending;
  }

  async close(): Promise<void> {
    const pending = [...this.loading.values()];
    this.loading.clear();
    const settled = await Promise.allSettled(pending);
    await Promise.allSettled(
      settled.flatMap((result) => (result.status === "fulfilled" ? [result.value.close()] : [])),
    );
  }
}

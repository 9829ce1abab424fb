import { LRUCache } from "lru-cache";
import {
  type BuildOptions,
  buildClassifier,
  deserializeClassifier,
  type HeadShape,
  type LabelledVector,
  serializeClassifier,
  type SavClassifier,
} from "../sav/index.js";
import { SharedJobs } from "../shared-job.js";
import { asTaskStore } from "./sqlite-task-store.js";
import type { SavStore } from "./store.js";
import type { TaskStore } from "./types.js";

export const DEFAULT_CLASSIFIER_CACHE_BYTES = 256 * 1024 * 1024;

export interface ClassifierCacheStats {
  /** Served from memory. */
  hits: number;
  /** Restored from the state persisted in the store (e.g. after a restart). */
  restored: number;
  /** Built from the stored examples. */
  builds: number;
}

export interface CachedClassifier {
  classifier: SavClassifier;
  exampleVersion: number;
  /** Where it came from on this call. */
  origin: "memory" | "store" | "built";
  /**
   * When built on this call: the training set it was built from (exactly the classifier's examples), so a
   * calibration fit that follows need not read it again. Never kept in the cache.
   */
  trainingSet?: LabelledVector[];
}

/**
 * Builds a classifier as `buildClassifier` does, bit for bit, and rejects with its SavError on bad input. The
 * server injects one that runs in a worker thread (src/sav-workers); `signal` aborts it.
 */
export type ClassifierBuilder = (
  examples: LabelledVector[],
  shape: HeadShape,
  options: BuildOptions,
  signal: AbortSignal,
) => Promise<SavClassifier>;

/** On the calling thread: blocks the event loop for the whole build (seconds at 2,000 full-size examples). */
export const buildInThread: ClassifierBuilder = async (examples, shape, options) => buildClassifier(examples, shape, options);

export interface ClassifierCacheOptions {
  maxBytes?: number;
  /** Default: buildInThread. */
  build?: ClassifierBuilder;
}

/** Approximate memory of a built classifier: its centroids dominate. */
function classifierBytes(classifier: SavClassifier): number {
  const labelBytes = classifier.labels.reduce((sum, label) => sum + 2 * label.length + 32, 0);
  return classifier.centroids.byteLength + classifier.heads.length * 64 + labelBytes + 256;
}

/**
 * Built classifiers keyed by `${taskId}:${exampleVersion}`, bounded by bytes. A query after a change
 * finds no entry for the new version and builds once; the result is persisted with the version it was
 * built from, so a restarted server restores it instead of rebuilding. Concurrent calls for one task and
 * version share one build.
 */
export class ClassifierCache {
  readonly stats: ClassifierCacheStats = { hits: 0, restored: 0, builds: 0 };
  private readonly cache: LRUCache<string, SavClassifier>;
  private readonly store: TaskStore;
  private readonly build: ClassifierBuilder;
  private readonly builds = new SharedJobs<string, CachedClassifier>();
  /** Times each task was forgotten: a build that started before the latest forget is not cached. */
  private readonly forgotten = new Map<number, number>();

  constructor(store: TaskStore | SavStore, options: ClassifierCacheOptions = {}) {
    this.store = asTaskStore(store);
    this.build = options.build ?? buildInThread;
    this.cache = new LRUCache<string, SavClassifier>({
      maxSize: Math.max(1, options.maxBytes ?? DEFAULT_CLASSIFIER_CACHE_BYTES),
      sizeCalculation: (classifier) => Math.max(1, classifierBytes(classifier)),
    });
  }

  /**
   * The classifier for the task's current examples. Throws SavError when they cannot make one; rejects with
   * `signal`'s reason when cancelled (the build stops once no caller waits for it).
   */
  async get(task: ClassifierTask, { signal }: { signal?: AbortSignal } = {}): Promise<CachedClassifier> {
    signal?.throwIfAborted();
    const version = await this.store.exampleVersion(task.id);
    if (version !== undefined) {
      const cached = this.cache.get(key(task.id, version));
      if (cached) {
        this.stats.hits++;
        return { classifier: cached, exampleVersion: version, origin: "memory" };
      }
      const persisted = await this.store.getClassifierState(task.id);
      if (persisted && persisted.exampleVersion === version) {
        try {
          const classifier = deserializeClassifier(persisted.state);
          this.stats.restored++;
          this.cache.set(key(task.id, version), classifier);
          return { classifier, exampleVersion: version, origin: "store" };
        } catch (error) {
          // A state written by another version of the engine: rebuild from the examples instead.
          process.stderr.write(`sav-mcp: rebuilding classifier of task ${task.id}: ${String(error)}\n`);
        }
      }
    }
    // An unknown task (no version) fails in loadTrainingSet with the store's error; nothing to share.
    if (version === undefined) return this.buildNow(task, signal ?? new AbortController().signal);
    return this.builds.run(key(task.id, version), (jobSignal) => this.buildNow(task, jobSignal), signal);
  }

  /** Builds under way (shared by their callers). */
  get building(): number {
    return this.builds.size;
  }

  private async buildNow(task: ClassifierTask, signal: AbortSignal): Promise<CachedClassifier> {
    const generation = this.forgotten.get(task.id) ?? 0;
    const { exampleVersion, examples } = await this.store.loadTrainingSet(task.id);
    signal.throwIfAborted();
    const trainingSet = examples.map((e) => ({ vector: e.vectors, label: e.label }));
    const classifier = await this.build(trainingSet, task.shape, { k: task.k, selection: task.selection }, signal);
    this.stats.builds++;
    await this.store.saveClassifierState(task.id, exampleVersion, serializeClassifier(classifier));
    // A task forgotten while its build ran (seconds, in a worker thread) is not cached again.
    if ((this.forgotten.get(task.id) ?? 0) === generation) this.cache.set(key(task.id, exampleVersion), classifier);
    return { classifier, exampleVersion, origin: "built", trainingSet };
  }

  /** Drops every cached version of a task (after deleting it), including one whose build is under way. */
  forget(taskId: number): void {
    this.forgotten.set(taskId, (this.forgotten.get(taskId) ?? 0) + 1);
    const prefix = `${taskId}:`;
    for (const k of [...this.cache.keys()]) if (k.startsWith(prefix)) this.cache.delete(k);
  }

  get size(): number {
    return this.cache.size;
  }

  get calculatedBytes(): number {
    return this.cache.calculatedSize;
  }
}

type ClassifierTask = { id: number; k: number; selection: SavClassifier["selection"]; shape: SavClassifier["shape"] };

function key(taskId: number, exampleVersion: number): string {
  return `${taskId}:${exampleVersion}`;
}

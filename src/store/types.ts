/**
 * The store's public types and the interface every store implements. The service talks to a store only
 * through `TaskStore`, whose methods return promises so that a networked store (e.g. PostgreSQL) fits
 * behind it; each method is one transaction, so a call is either fully stored or not at all.
 */
import type { HeadShape } from "../model/types.js";
import type { HeadSelection } from "../sav/index.js";

/** A task as stored. */
export interface TaskRecord {
  id: number;
  name: string;
  description: string | null;
  prompt: string;
  /** The closed label set, or null when any label is accepted. */
  labels: string[] | null;
  k: number;
  selection: HeadSelection;
  modelId: string;
  modelFingerprint: string;
  randomWeights: boolean;
  shape: HeadShape;
  /** The model family's processing options (e.g. { maxPixels: 401408 }); the same for every example and query. */
  processing: ProcessingOptions;
  /** Bumped on every change to the task's examples; classifiers are keyed by it. */
  exampleVersion: number;
  /** classify_image abstains below this calibrated probability; null or absent: never. */
  minConfidence?: number | null;
  createdAt: string;
  updatedAt: string;
}

export interface NewTask {
  name: string;
  description?: string | null;
  prompt: string;
  labels?: string[] | null;
  k: number;
  selection: HeadSelection;
  modelId: string;
  modelFingerprint: string;
  randomWeights: boolean;
  shape: HeadShape;
  /** Canonical processing options (from the extractor's resolveOptions); default {}. */
  processing?: ProcessingOptions;
  minConfidence?: number | null;
}

/** A model family's processing options, as JSON scalars. */
export type ProcessingOptions = Record<string, string | number | boolean>;

export interface NewExample {
  label: string;
  text?: string | null;
  /** sha256 of each image's bytes, in prompt order. */
  imageHashes: string[];
  /** Where each image came from (a path, a URL without its query, or "base64 (N bytes)"), in prompt order. */
  sources?: string[] | null;
  /** Row-major [layers, heads, headDim] in the task's shape. */
  vectors: Float32Array;
}

export interface ExampleRecord {
  id: number;
  taskId: number;
  label: string;
  text: string | null;
  imageHashes: string[];
  /** Where each image came from, in prompt order; null for examples stored before sources were kept (or imported). */
  sources?: string[] | null;
  modelId: string;
  modelFingerprint: string;
  shape: HeadShape;
  createdAt: string;
}

export interface ExampleWithVectors extends ExampleRecord {
  vectors: Float32Array;
}

export interface TaskSummary extends TaskRecord {
  exampleCount: number;
  examplesPerLabel: Record<string, number>;
}

export interface ClassifierState {
  exampleVersion: number;
  state: Uint8Array;
}

/** "unavailable": a networked store cannot be reached or is closing; the call changed nothing and may be retried. */
export type StoreErrorCode =
  | "duplicate-name"
  | "unknown-task"
  | "unknown-examples"
  | "shape-mismatch"
  | "label-exists"
  | "has-examples"
  | "corrupt"
  | "disk-full"
  | "read-only"
  | "storage-error"
  | "unavailable";

export class StoreError extends Error {
  readonly code: StoreErrorCode;
  constructor(code: StoreErrorCode, message: string) {
    super(message);
    this.name = "StoreError";
    this.code = code;
  }
}

/** A page of tasks in name order: those after `afterName`, at most `limit` of them. */
export interface TaskListOptions {
  afterName?: string;
  limit?: number;
}

/** By ids, by label, or every example one of whose images has one of these sources. */
export type RemoveWhich = { ids: number[] } | { label: string } | { sources: string[] };

/**
 * Changes to a task's settings. Changes that alter what the classifier computes (heads, selection, a label
 * rename, the prompt) bump the example version, so cached classifiers are rebuilt.
 */
export interface TaskChanges {
  description?: string | null;
  k?: number;
  selection?: HeadSelection;
  /** The new closed label set (callers only ever widen it, or rename within it). */
  labels?: string[] | null;
  /** Relabels every example with label `from`; fails with "label-exists" if `to` already has examples. */
  renameLabel?: { from: string; to: string };
  /** Only while the task has no examples: stored vectors depend on the prompt (else "has-examples"). */
  prompt?: string;
  /** null clears it; never changes the classifier. */
  minConfidence?: number | null;
}

/** Everything the service needs from a store. Every method is a single transaction. */
export interface TaskStore {
  createTask(task: NewTask): Promise<TaskRecord>;
  /** Creates a task and its examples in one transaction (import). */
  createTaskWithExamples(task: NewTask, examples: NewExample[]): Promise<TaskRecord>;
  getTask(name: string): Promise<TaskRecord | undefined>;
  getTaskById(id: number): Promise<TaskRecord | undefined>;
  /** Every task name, sorted. */
  taskNames(): Promise<string[]>;
  /** Tasks with their example counts, sorted by name; all of them unless paged. */
  listTasks(options?: TaskListOptions): Promise<TaskSummary[]>;
  /** Examples per label, labels in sorted order. */
  labelCounts(taskId: number): Promise<Record<string, number>>;
  /** Deletes the task, its examples and its classifier state. Resolves false when no such task. */
  deleteTask(name: string): Promise<boolean>;
  /** Stores all examples or none and bumps the example version; fails with "unknown-task" if the task is gone. */
  addExamples(taskId: number, examples: NewExample[]): Promise<{ ids: number[]; task: TaskRecord }>;
  /** By ids (all must belong to the task, else "unknown-examples" and nothing removed) or by label. */
  removeExamples(taskId: number, which: RemoveWhich): Promise<{ removed: number[]; task: TaskRecord }>;
  /** Applies the changes in one transaction; resolves with the updated task. */
  updateTask(taskId: number, changes: TaskChanges): Promise<TaskRecord>;
  /** Example metadata without vectors, in insertion order. */
  listExamples(taskId: number, options?: { limit?: number; offset?: number }): Promise<ExampleRecord[]>;
  /** All examples with vectors and the example version they correspond to, read from one snapshot. */
  loadTrainingSet(taskId: number): Promise<{ exampleVersion: number; examples: ExampleWithVectors[] }>;
  exampleVersion(taskId: number): Promise<number | undefined>;
  getClassifierState(taskId: number): Promise<ClassifierState | undefined>;
  /** Persists a built classifier unless the examples changed since `exampleVersion`; resolves whether it was written. */
  saveClassifierState(taskId: number, exampleVersion: number, state: Uint8Array): Promise<boolean>;
  close(): Promise<void>;
}

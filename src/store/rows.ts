/**
 * Rows of the tasks and examples tables, as either store's driver returns them, and the records they become. The
 * columns are the same in both schemas; only their decoding differs: SQLite gives integers as numbers, JSON as
 * text and booleans as 0/1; pg gives BIGINT as strings, JSONB parsed and booleans as booleans.
 */
import { StoreError, type ExampleRecord, type NewExample, type TaskRecord } from "./types.js";
import { float32ToLittleEndian, shapeSize } from "./vectors.js";

/** A BIGINT column: a number in SQLite, a string from pg. */
type BigIntColumn = number | string;
/** A JSON column: text in SQLite, already parsed from JSONB by pg. */
type JsonColumn<T> = string | T;

export interface TaskRow {
  id: BigIntColumn;
  name: string;
  description: string | null;
  prompt: string;
  labels: JsonColumn<string[]> | null;
  k: number;
  selection: string;
  model_id: string;
  model_fingerprint: string;
  random_weights: number | boolean;
  layers: number;
  heads: number;
  head_dim: number;
  processing: JsonColumn<TaskRecord["processing"]> | null;
  example_version: BigIntColumn;
  /** Absent from the PostgreSQL schema. */
  min_confidence?: number | null;
  created_at: string;
  updated_at: string;
}

export interface ExampleRow {
  id: BigIntColumn;
  task_id: BigIntColumn;
  label: string;
  text: string | null;
  image_hashes: JsonColumn<string[]>;
  sources: JsonColumn<string[]> | null;
  model_id: string;
  model_fingerprint: string;
  layers: number;
  heads: number;
  head_dim: number;
  created_at: string;
  vectors?: Buffer;
}

/** The examples columns without the vectors, for listings. */
export const EXAMPLE_COLUMNS = "id, task_id, label, text, image_hashes, sources, model_id, model_fingerprint, layers, heads, head_dim, created_at";
/** The columns an example's insert fills, in the order of `exampleInsertValues`. */
export const EXAMPLE_INSERT_COLUMNS = "task_id, label, text, image_hashes, sources, model_id, model_fingerprint, layers, heads, head_dim, vectors, created_at";

function json<T>(value: JsonColumn<T>): T {
  return typeof value === "string" ? (JSON.parse(value) as T) : value;
}

export function taskFromRow(row: TaskRow): TaskRecord {
  const task: TaskRecord = {
    id: Number(row.id),
    name: row.name,
    description: row.description,
    prompt: row.prompt,
    labels: row.labels === null ? null : json(row.labels),
    k: row.k,
    selection: row.selection as TaskRecord["selection"],
    modelId: row.model_id,
    modelFingerprint: row.model_fingerprint,
    randomWeights: Boolean(row.random_weights),
    shape: { layers: row.layers, heads: row.heads, headDim: row.head_dim },
    processing: row.processing === null ? {} : json(row.processing),
    exampleVersion: Number(row.example_version),
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
  if (row.min_confidence !== undefined) task.minConfidence = row.min_confidence;
  return task;
}

export function exampleFromRow(row: ExampleRow): ExampleRecord {
  return {
    id: Number(row.id),
    taskId: Number(row.task_id),
    label: row.label,
    text: row.text,
    imageHashes: json(row.image_hashes),
    sources: row.sources === null ? null : json(row.sources),
    modelId: row.model_id,
    modelFingerprint: row.model_fingerprint,
    shape: { layers: row.layers, heads: row.heads, headDim: row.head_dim },
    createdAt: row.created_at,
  };
}

/** The values of one example's row, in EXAMPLE_INSERT_COLUMNS order; refused when its vectors are not in the task's shape. */
export function exampleInsertValues(task: TaskRecord, example: NewExample, stamp: string): unknown[] {
  const { layers, heads, headDim } = task.shape;
  const expected = shapeSize(task.shape);
  if (example.vectors.length !== expected) {
    throw new StoreError("shape-mismatch", `An example has ${example.vectors.length} values; the task's shape [${layers}, ${heads}, ${headDim}] needs ${expected}.`);
  }
  return [
    task.id,
    example.label,
    example.text ?? null,
    JSON.stringify(example.imageHashes),
    example.sources ? JSON.stringify(example.sources) : null,
    task.modelId,
    task.modelFingerprint,
    layers,
    heads,
    headDim,
    float32ToLittleEndian(example.vectors),
    stamp,
  ];
}

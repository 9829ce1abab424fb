/** SQLite rows of the tasks and examples tables, and the records they become. */
import type { HeadSelection } from "../sav/index.js";
import type { ExampleRecord, TaskRecord } from "./types.js";

export interface TaskRow {
  id: number;
  name: string;
  description: string | null;
  prompt: string;
  labels: string | null;
  k: number;
  selection: string;
  model_id: string;
  model_fingerprint: string;
  random_weights: number;
  layers: number;
  heads: number;
  head_dim: number;
  processing: string | null;
  example_version: number;
  min_confidence: number | null;
  created_at: string;
  updated_at: string;
}

export interface ExampleRow {
  id: number;
  task_id: number;
  label: string;
  text: string | null;
  image_hashes: string;
  sources: string | null;
  model_id: string;
  model_fingerprint: string;
  layers: number;
  heads: number;
  head_dim: number;
  created_at: string;
  vectors?: Buffer;
}

export function taskFromRow(row: TaskRow): TaskRecord {
  return {
    id: row.id,
    name: row.name,
    description: row.description,
    prompt: row.prompt,
    labels: row.labels === null ? null : (JSON.parse(row.labels) as string[]),
    k: row.k,
    selection: row.selection as HeadSelection,
    modelId: row.model_id,
    modelFingerprint: row.model_fingerprint,
    randomWeights: row.random_weights !== 0,
    shape: { layers: row.layers, heads: row.heads, headDim: row.head_dim },
    processing: row.processing === null ? {} : (JSON.parse(row.processing) as TaskRecord["processing"]),
    exampleVersion: row.example_version,
    minConfidence: row.min_confidence ?? null,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

export function exampleFromRow(row: ExampleRow): ExampleRecord {
  return {
    id: row.id,
    taskId: row.task_id,
    label: row.label,
    text: row.text,
    imageHashes: JSON.parse(row.image_hashes) as string[],
    sources: row.sources === null ? null : (JSON.parse(row.sources) as string[]),
    modelId: row.model_id,
    modelFingerprint: row.model_fingerprint,
    shape: { layers: row.layers, heads: row.heads, headDim: row.head_dim },
    createdAt: row.created_at,
  };
}

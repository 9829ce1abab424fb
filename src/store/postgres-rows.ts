import type { ExampleRecord, TaskRecord } from "./types.js";

/** Rows as pg returns them: BIGINT as strings, JSONB parsed. */
export interface TaskRow {
  id: string;
  name: string;
  description: string | null;
  prompt: string;
  labels: string[] | null;
  k: number;
  selection: string;
  model_id: string;
  model_fingerprint: string;
  random_weights: boolean;
  layers: number;
  heads: number;
  head_dim: number;
  processing: TaskRecord["processing"] | null;
  example_version: string;
  created_at: string;
  updated_at: string;
}

export interface ExampleRow {
  id: string;
  task_id: string;
  label: string;
  text: string | null;
  image_hashes: string[];
  sources: string[] | null;
  model_id: string;
  model_fingerprint: string;
  layers: number;
  heads: number;
  head_dim: number;
  created_at: string;
  vectors?: Buffer;
}

export const EXAMPLE_COLUMNS = "id, task_id, label, text, image_hashes, sources, model_id, model_fingerprint, layers, heads, head_dim, created_at";

export function taskFromRow(row: TaskRow): TaskRecord {
  return {
    id: Number(row.id),
    name: row.name,
    description: row.description,
    prompt: row.prompt,
    labels: row.labels,
    k: row.k,
    selection: row.selection as TaskRecord["selection"],
    modelId: row.model_id,
    modelFingerprint: row.model_fingerprint,
    randomWeights: row.random_weights,
    shape: { layers: row.layers, heads: row.heads, headDim: row.head_dim },
    processing: row.processing ?? {},
    exampleVersion: Number(row.example_version),
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

export function exampleFromRow(row: ExampleRow): ExampleRecord {
  return {
    id: Number(row.id),
    taskId: Number(row.task_id),
    label: row.label,
    text: row.text,
    imageHashes: row.image_hashes,
    sources: row.sources,
    modelId: row.model_id,
    modelFingerprint: row.model_fingerprint,
    shape: { layers: row.layers, heads: row.heads, headDim: row.head_dim },
    createdAt: row.created_at,
  };
}


/** A query function bound to one client, i.e. to the caller's transaction. */
export type Query = import("pg").PoolClient["query"];

/**
 * What the parts of the `freeze` section share: event-loop delay measurement, list_tasks polling through an
 * in-memory MCP client, the full-size int8 bench model as a provider, and the synthetic 2,000-example training set.
 */
import path from "node:path";
import { monitorEventLoopDelay, type IntervalHistogram } from "node:perf_hooks";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { InMemoryTransport } from "@modelcontextprotocol/sdk/inMemory.js";
import { loadConfig } from "../../src/config.js";
import { ModelRunner } from "../../src/model/runner.js";
import type { InferenceThread } from "../../src/model/session-host.js";
import type { HeadVectorExtractor } from "../../src/model/types.js";
import { createSavServer } from "../../src/server/create-server.js";
import { ExtractorPool, type ModelProvider } from "../../src/server/models.js";
import { fitCalibrationInThread } from "../../src/server/off-thread-work.js";
import { ClassifierCache, SavStore } from "../../src/store/index.js";
import { BENCH_MODEL_DIR, BENCH_MODEL_ID, callToolOk, median } from "./common.js";

export const RESOLUTION_MS = 10;
export const INT8 = { vision_encoder: "int8", embed_tokens: "int8", decoder_model_merged: "int8" };
export const PROMPT = "What colour is the disc in this picture?";
export const LAG_GOAL_MS = 50;
export const LIST_GOAL_MS = 100;
export const LIST_INTERVAL_MS = 25;
export const EVAL_EXAMPLES = 2000;
export const EVAL_LABELS = 10;
export const EVAL_SHAPE = { layers: 30, heads: 9, headDim: 64 };

export interface Lag {
  p50: number;
  p99: number;
  max: number;
}

/** The histogram's delays in ms beyond the sampling interval (what a timer due now waits). */
function lagOf(histogram: IntervalHistogram): Lag {
  const lag = (ns: number): number => Math.max(0, ns / 1e6 - RESOLUTION_MS);
  return { p50: lag(histogram.percentile(50)), p99: lag(histogram.percentile(99)), max: lag(histogram.max) };
}

/**
 * The event-loop delay while `work` runs, from a new histogram. Its sampling timer must have ticked before the
 * work starts (a block before the first tick, or the gap before a re-enable, would be missed or miscounted).
 */
export async function monitored<T>(work: () => Promise<T>): Promise<{ value: T; lag: Lag }> {
  const histogram = monitorEventLoopDelay({ resolution: RESOLUTION_MS });
  histogram.enable();
  await new Promise((resolve) => setTimeout(resolve, 2.5 * RESOLUTION_MS));
  try {
    const value = await work();
    return { value, lag: lagOf(histogram) };
  } finally {
    histogram.disable();
  }
}

/** One full-size int8 extractor whose sessions run where `inference` says. */
export class BenchModels implements ModelProvider {
  readonly defaultModel = BENCH_MODEL_ID;
  private readonly pool: ExtractorPool;
  constructor(inference: InferenceThread) {
    this.pool = new ExtractorPool((id) => ModelRunner.create({ id, dir: BENCH_MODEL_DIR, dtypes: INT8, randomWeights: true }, { inference }));
  }
  extractor(): Promise<HeadVectorExtractor> {
    return this.pool.get(BENCH_MODEL_ID);
  }
  async listModels(): ReturnType<ModelProvider["listModels"]> {
    return [{ id: BENCH_MODEL_ID, title: "SmolVLM-256M-shaped (generated)", installed: true, isDefault: true, randomWeights: true, downloadBytes: null, installCommand: null }];
  }
  close(): Promise<void> {
    return this.pool.close();
  }
}

/**
 * Sends list_tasks every LIST_INTERVAL_MS while `work` runs (the next one once the previous has answered); each
 * call's latency in ms counts from when it was due, so time the event loop was blocked before it could be sent
 * counts too, as it would for a client in another process.
 */
export async function listLatencies(client: Client, work: Promise<unknown>): Promise<number[]> {
  let done = false;
  void work.finally(() => (done = true)).catch(() => undefined);
  const latencies: number[] = [];
  let due = performance.now();
  while (!done) {
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, due - performance.now())));
    await callToolOk(client, "list_tasks", {});
    const answered = performance.now();
    latencies.push(answered - due);
    due = Math.max(due + LIST_INTERVAL_MS, answered);
  }
  await work;
  return latencies;
}

/**
 * A server on `dataDir` and an in-memory client. `inThread`: the classifier build and the calibration fit of
 * classify_image run on the calling thread (as before they moved to worker threads), for comparison.
 */
export async function withServer<T>(
  dataDir: string,
  allowedDir: string,
  models: ModelProvider,
  run: (client: Client) => Promise<T>,
  { inThread = false }: { inThread?: boolean } = {},
): Promise<T> {
  const config = loadConfig({}, { dataDir, modelsDir: path.join(dataDir, "models"), defaultModel: BENCH_MODEL_ID, allowedDirs: [allowedDir] });
  const store = inThread ? new SavStore({ dataDir }) : undefined;
  const savServer = createSavServer({
    config,
    models,
    ...(store ? { store, classifiers: new ClassifierCache(store), fitCalibration: fitCalibrationInThread } : {}),
  });
  const client = new Client({ name: "sav-bench-freeze", version: "1.0.0" });
  const [clientTransport, serverTransport] = InMemoryTransport.createLinkedPair();
  await Promise.all([savServer.server.connect(serverTransport), client.connect(clientTransport)]);
  try {
    return await run(client);
  } finally {
    await client.close();
    await savServer.close();
    store?.close();
  }
}

export interface Latency {
  calls: number;
  median: number;
  max: number;
}
export const latencyOf = (values: number[]): Latency => ({ calls: values.length, median: median(values), max: Math.max(...values) });

/** EVAL_EXAMPLES examples of EVAL_LABELS labels at the full model's shape, clustered around one centre per label. */
export function evaluationExamples() {
  let state = 12345;
  const random = (): number => ((state = (Math.imul(state, 1103515245) + 12345) >>> 0) / 4294967296) - 0.5;
  const size = EVAL_SHAPE.layers * EVAL_SHAPE.heads * EVAL_SHAPE.headDim;
  const centres = Array.from({ length: EVAL_LABELS }, () => Float32Array.from({ length: size }, random));
  return Array.from({ length: EVAL_EXAMPLES }, (_, i) => {
    const label = i % EVAL_LABELS;
    return { label: `label-${label}`, vector: Float32Array.from(centres[label]!, (c) => 0.3 * c + random()) };
  });
}

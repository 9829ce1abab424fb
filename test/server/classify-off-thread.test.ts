import path from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { InMemoryTransport } from "@modelcontextprotocol/sdk/inMemory.js";
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import type { HeadShape, HeadVectorExtractor } from "../../src/model/types.js";
import * as sav from "../../src/sav/index.js";
import { createSavServer, type SavServer } from "../../src/server/create-server.js";
import type { ModelProvider } from "../../src/server/models.js";
import { fitCalibrationInThread, MIN_FLOATS_OFF_THREAD, serverClassifierBuilder } from "../../src/server/off-thread-work.js";
import { ClassifierCache, type ClassifierBuilder, SavStore } from "../../src/store/index.js";
import { writeShapeImages } from "../support/images.js";
import { call, callOk, testConfig, textOf } from "../support/mcp-harness.js";
import { clusteredExamples, newTask, seededRandom } from "../support/store-fixtures.js";
import { makeTempDir } from "../support/temp-dir.js";

// Counts the engine's builds and fits on this (the calling) thread; worker threads load their own, unmocked copy.
vi.mock("../../src/sav/index.js", async (importOriginal) => {
  const actual = await importOriginal<typeof import("../../src/sav/index.js")>();
  return { ...actual, buildClassifier: vi.fn(actual.buildClassifier), fitCalibration: vi.fn(actual.fitCalibration) };
});

const SHAPE: HeadShape = { layers: 4, heads: 4, headDim: 64 };
const LABELS = ["a", "b", "c", "d"];
const MODEL = "fake-model";
/** Examples per label of task "cold": enough floats to be worth a worker thread. */
const PER_LABEL = 80;

/** Head vectors derived from the image bytes: deterministic, no ONNX model needed. */
const extractor: HeadVectorExtractor = {
  info: { id: MODEL, family: "fake", dir: "", shape: SHAPE, fingerprint: "f".repeat(64), randomWeights: false, dtypes: {}, maxPromptTokens: 4096 },
  resolveOptions: () => ({}),
  async extract(request) {
    const layers = request.layers ?? SHAPE.layers;
    const random = seededRandom(request.images[0]!.reduce((sum, byte, i) => (sum + byte * (i + 1)) % 1_000_003, 0));
    const vectors = Float32Array.from({ length: layers * SHAPE.heads * SHAPE.headDim }, (_, v) => (v % 3 === 0 ? 1 : 0) + random() - 0.5);
    return { vectors, shape: { ...SHAPE, layers }, promptTokens: 1, timings: { preprocessMs: 0, visionMs: 0, decoderMs: 0, totalMs: 0, visionCacheHit: false } };
  },
  close: async () => undefined,
};
const models: ModelProvider = { defaultModel: MODEL, extractor: async () => extractor, listModels: async () => [], close: async () => undefined };

interface Classified {
  results: { label: string; probability: number | null; votes: Record<string, number> }[];
}

describe("classify_image builds and calibrates the classifier in worker threads", () => {
  let temp: ReturnType<typeof makeTempDir>;
  let queries: { path: string }[];
  const open: { client: Client; savServer: SavServer; store: SavStore }[] = [];

  /** A server on its own data directory holding tasks "cold" (4 labels), "small" (the same, few examples) and "one-label". */
  async function start(name: string, deps: { build?: ClassifierBuilder; inThread?: boolean } = {}) {
    const dataDir = path.join(temp.dir, name);
    const store = new SavStore({ dataDir });
    const task = store.createTask(newTask("cold", { shape: SHAPE, modelId: MODEL, k: 6 }));
    store.addExamples(task.id, clusteredExamples(LABELS, PER_LABEL, { shape: SHAPE, seed: 3 }));
    const small = store.createTask(newTask("small", { shape: SHAPE, modelId: MODEL, k: 6 }));
    store.addExamples(small.id, clusteredExamples(LABELS, 3, { shape: SHAPE, seed: 5 }));
    const oneLabel = store.createTask(newTask("one-label", { shape: SHAPE, modelId: MODEL }));
    store.addExamples(oneLabel.id, clusteredExamples(["a"], 3, { shape: SHAPE }));
    const config = testConfig({ dataDir, modelsDir: path.join(temp.dir, "models"), allowedDirs: [path.join(temp.dir, "images")] });
    const classifiers = deps.inThread ? new ClassifierCache(store) : deps.build ? new ClassifierCache(store, { build: deps.build }) : undefined;
    const savServer = createSavServer({ config, models, store, classifiers, ...(deps.inThread ? { fitCalibration: fitCalibrationInThread } : {}) });
    const client = new Client({ name: "test-client", version: "1.0.0" });
    const [clientTransport, serverTransport] = InMemoryTransport.createLinkedPair();
    await Promise.all([savServer.server.connect(serverTransport), client.connect(clientTransport)]);
    const server = { client, savServer, store };
    open.push(server);
    return server;
  }

  beforeAll(async () => {
    temp = makeTempDir();
    const images = await writeShapeImages(path.join(temp.dir, "images"), 3);
    queries = [...images["red-circle"], ...images["blue-square"]].map((file) => ({ path: file }));
  });
  beforeEach(() => {
    vi.mocked(sav.buildClassifier).mockClear();
    vi.mocked(sav.fitCalibration).mockClear();
  });
  afterAll(async () => {
    for (const { client, savServer, store } of open) {
      await client.close();
      await savServer.close();
      store.close();
    }
    temp?.cleanup();
  });

  it("gives the results of the calling-thread build, without building or fitting on the calling thread", async () => {
    expect(LABELS.length * PER_LABEL * SHAPE.layers * SHAPE.heads * SHAPE.headDim).toBeGreaterThanOrEqual(MIN_FLOATS_OFF_THREAD);
    const worker = await start("worker");
    const offThread = await callOk<Classified>(worker.client, "classify_image", { task: "cold", images: queries, detail: true });
    expect(worker.savServer.service.classifiers.stats.builds).toBe(1);
    expect(sav.buildClassifier).not.toHaveBeenCalled();
    expect(sav.fitCalibration).not.toHaveBeenCalled();

    const inThread = await start("in-thread", { inThread: true });
    const before = await callOk<Classified>(inThread.client, "classify_image", { task: "cold", images: queries, detail: true });
    expect(sav.buildClassifier).toHaveBeenCalledTimes(1);
    expect(sav.fitCalibration).toHaveBeenCalledTimes(1);

    expect(offThread.results.every((r) => r.probability !== null)).toBe(true);
    expect(offThread).toEqual(before);
  });

  it("reads the training set once on a cold call: the fit uses what the build read", async () => {
    const { client, savServer } = await start("one-read");
    const reads = vi.spyOn(savServer.service.context.store, "loadTrainingSet");
    const result = await callOk<Classified>(client, "classify_image", { task: "cold", images: queries });
    expect(result.results.every((r) => r.probability !== null)).toBe(true);
    expect(reads).toHaveBeenCalledTimes(1);
  });

  it("builds and fits a small task's classifier on the calling thread, where that is quicker than starting a thread", async () => {
    const { client, savServer } = await start("small");
    const result = await callOk<Classified>(client, "classify_image", { task: "small", images: queries });
    expect(result.results.every((r) => r.probability !== null)).toBe(true);
    expect(savServer.service.classifiers.stats.builds).toBe(1);
    expect(sav.buildClassifier).toHaveBeenCalledTimes(1);
    expect(sav.fitCalibration).toHaveBeenCalledTimes(1);
  });

  it("stops the build of a cancelled call, and the next call builds again", async () => {
    const signals: AbortSignal[] = [];
    let started!: () => void;
    const building = new Promise<void>((resolve) => (started = resolve));
    // Holds the build until the call is cancelled, so the cancellation reaches it while it runs.
    const build: ClassifierBuilder = async (examples, shape, options, signal) => {
      signals.push(signal);
      started();
      if (signals.length === 1) await new Promise((resolve) => signal.addEventListener("abort", resolve, { once: true }));
      return serverClassifierBuilder(examples, shape, options, signal);
    };
    const { client, savServer } = await start("cancelled", { build });
    const controller = new AbortController();
    const pending = client.callTool({ name: "classify_image", arguments: { task: "cold", images: queries } }, undefined, { signal: controller.signal });
    await building;
    controller.abort(new Error("user cancelled"));
    await expect(pending).rejects.toThrow("user cancelled");
    while (!signals[0]!.aborted) await new Promise((resolve) => setImmediate(resolve));
    while (savServer.service.classifiers.building > 0) await new Promise((resolve) => setImmediate(resolve));
    expect(savServer.service.classifiers.stats.builds).toBe(0);

    const result = await callOk<Classified>(client, "classify_image", { task: "cold", images: queries });
    expect(result.results).toHaveLength(queries.length);
    expect(signals).toHaveLength(2);
    expect(savServer.service.classifiers.stats.builds).toBe(1);
  });

  it("reports a task that cannot classify yet with the same tool error as the calling-thread build", async () => {
    const texts: string[] = [];
    for (const [name, deps] of [["error-worker", {}], ["error-in-thread", { inThread: true }]] as const) {
      const { client } = await start(name, deps);
      const result = await call(client, "classify_image", { task: "one-label", image: queries[0]! });
      expect(result.isError).toBe(true);
      texts.push(textOf(result));
    }
    expect(texts[0]).toMatch(/^Task 'one-label' cannot classify yet: .*Examples per label now: .*add_examples/);
    expect(texts[0]).toBe(texts[1]);
  });
});

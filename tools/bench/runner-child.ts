/**
 * One runner benchmark configuration, measured in its own process so that its peak RSS is its own.
 *
 *   npx tsx tools/bench/runner-child.ts '<json RunnerChildConfig>'
 *
 * Progress goes to stderr; the last stdout line is the JSON result.
 */
import os from "node:os";
import * as ort from "onnxruntime-node";
import { prepareDecoder } from "../../src/model/decoder-cache.js";
import { loadModelFiles } from "../../src/model/model-dir.js";
import { ModelRunner } from "../../src/model/runner.js";
import { inputMetadata, int64Tensor } from "../../src/model/tensors.js";
import type { ExtractResult } from "../../src/model/types.js";
import { BENCH_MODEL_DIR, BENCH_MODEL_ID, log, median, peakRssBytes, testImage } from "./common.js";
import { headAgreement } from "./compare.js";

export const BENCH_TEXT = "What is in this image?";

export interface Dtypes {
  vision: string;
  decoder: string;
}

/** One runner configuration of the per-stage matrix. */
export interface RunnerSetup {
  dtypes: Dtypes;
  threads: number;
}

/**
 * Per-stage times of several configurations in one process, new images extracted round-robin so that
 * every configuration sees the same machine load; a short pause between configurations lets the
 * previous one's ONNX Runtime threads go idle.
 */
export interface MatrixConfig {
  mode: "matrix";
  setups: RunnerSetup[];
  rounds: number;
}

export interface StageTimes {
  preprocessMs: number;
  visionMs: number;
  decoderMs: number;
  totalMs: number;
  /** Process CPU time (user + system) during the extraction. */
  cpuMs: number;
}

export interface MatrixResult {
  rounds: number;
  promptTokens: number;
  rows: { setup: RunnerSetup; createMs: number; median: StageTimes; best: StageTimes }[];
}

/** Peak RSS of one configuration: load it, extract a few new images. */
export interface MemoryConfig {
  mode: "memory";
  setup: RunnerSetup;
  images: number;
}

export interface MemoryResult {
  setup: RunnerSetup;
  createMs: number;
  peakRssBytes: number;
}

/** Edited vs unedited vs truncated decoder on the same inputs, and the two caches, in one process. */
export interface FastPathConfig {
  mode: "fastpath";
  dtypes: Dtypes;
  threads: number;
  repeats: number;
  truncatedLayers: number;
  /** New images for the cache measurements (0: skip). */
  cacheRounds: number;
}

export interface FastPathResult {
  repeats: number;
  cacheRounds: number;
  uneditedOutputs: number;
  promptTokens: number;
  /** decoder session.run only, same feeds. */
  uneditedRunMs: number;
  editedRunMs: number;
  truncatedRunMs: number;
  editedOverUnedited: number;
  truncatedOverEdited: number;
  /** Runner-level decoder stage (embeddings, merge, decoder) with `layers` vs the full depth. */
  runnerFullDecoderMs: number;
  runnerTruncatedDecoderMs: number;
  runnerTruncatedOverFull: number;
  coldTotalMs: number;
  resultCacheTotalMs: number;
  visionCacheTotalMs: number;
  resultCacheOverCold: number;
  visionCacheOverCold: number;
}

/** 1-thread and 2-thread runners in one process, batches alternated so both see the same machine load. */
export interface ThreadsConfig {
  mode: "threads";
  dtypes: Dtypes;
  batch: number;
  rounds: number;
  threads: [number, number];
}

export interface ThreadsResult {
  dtypes: Dtypes;
  batch: number;
  rounds: number;
  threads: [number, number];
  imagesPerSecond: [number, number];
  cpuMsPerImage: [number, number];
  /** Median over rounds of (throughput with threads[1]) / (throughput with threads[0]), each pair measured back to back. */
  speedup: number;
}

/** Head vectors of each dtype combination against fp32 on the same images. */
export interface FidelityConfig {
  mode: "fidelity";
  threads: number;
  images: number;
  combinations: Dtypes[];
}

export interface FidelityRow {
  dtypes: Dtypes;
  /** Cosine of each (image, layer, head) vector with the fp32 one: mean, 5th percentile, minimum. */
  meanCosine: number;
  p5Cosine: number;
  minCosine: number;
  /** Mean over images of the cosine of the whole [layers·heads·headDim] vector. */
  wholeVectorCosine: number;
}

export interface FidelityResult {
  images: number;
  heads: number;
  rows: FidelityRow[];
}

export type RunnerChildConfig = MatrixConfig | MemoryConfig | FastPathConfig | ThreadsConfig | FidelityConfig;

function createRunner(dtypes: Dtypes, threads: number): Promise<ModelRunner> {
  return ModelRunner.create(
    { id: BENCH_MODEL_ID, dir: BENCH_MODEL_DIR, dtypes: { vision_encoder: dtypes.vision, decoder_model_merged: dtypes.decoder } },
    { threads },
  );
}

/** Seeds from distinct ranges per purpose, so no measured image was seen before by any cache. */
let nextSeed = 1000;
const freshImage = (): Promise<Uint8Array> => testImage(nextSeed++);

const pause = (milliseconds: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, milliseconds));

async function matrix(config: MatrixConfig): Promise<MatrixResult> {
  const runners: ModelRunner[] = [];
  const createMs: number[] = [];
  for (const setup of config.setups) {
    const started = performance.now();
    runners.push(await createRunner(setup.dtypes, setup.threads));
    createMs.push(performance.now() - started);
  }
  const samples: StageTimes[][] = config.setups.map(() => []);
  let promptTokens = 0;
  for (let round = -1; round < config.rounds; round++) {
    // Rotate the order each round, so no configuration always follows the same one.
    const order = config.setups.map((_, i) => (i + Math.max(round, 0)) % config.setups.length);
    for (const index of order) {
      const image = await freshImage();
      await pause(100);
      const cpuBefore = process.cpuUsage();
      const result = await runners[index]!.extract({ images: [image], text: BENCH_TEXT });
      const cpu = process.cpuUsage(cpuBefore);
      promptTokens = result.promptTokens;
      if (round < 0) continue; // warm-up round
      const { preprocessMs, visionMs, decoderMs, totalMs } = result.timings;
      samples[index]!.push({ preprocessMs, visionMs, decoderMs, totalMs, cpuMs: (cpu.user + cpu.system) / 1000 });
    }
    if (round >= 0) {
      log(`  round ${round + 1}/${config.rounds}: ` + config.setups.map((s, i) => `${s.dtypes.vision}/${s.dtypes.decoder}×${s.threads} ${samples[i]![round]!.totalMs.toFixed(0)}`).join(", ") + " ms");
    }
  }
  await Promise.all(runners.map((r) => r.close()));
  const summarise = (list: StageTimes[], pick: (values: number[]) => number): StageTimes => ({
    preprocessMs: pick(list.map((s) => s.preprocessMs)),
    visionMs: pick(list.map((s) => s.visionMs)),
    decoderMs: pick(list.map((s) => s.decoderMs)),
    totalMs: pick(list.map((s) => s.totalMs)),
    cpuMs: pick(list.map((s) => s.cpuMs)),
  });
  return {
    rounds: config.rounds,
    promptTokens,
    rows: config.setups.map((setup, i) => ({
      setup,
      createMs: createMs[i]!,
      median: summarise(samples[i]!, median),
      best: summarise(samples[i]!, (values) => Math.min(...values)),
    })),
  };
}

async function memory(config: MemoryConfig): Promise<MemoryResult> {
  const started = performance.now();
  const runner = await createRunner(config.setup.dtypes, config.setup.threads);
  const createMs = performance.now() - started;
  for (let i = 0; i < config.images; i++) await runner.extract({ images: [await freshImage()], text: BENCH_TEXT });
  const peak = peakRssBytes();
  await runner.close();
  return { setup: config.setup, createMs, peakRssBytes: peak };
}

/** The decoder feeds exactly as the runner builds them: embeddings, all-ones mask, positions 0..S-1, empty past. */
function decoderFeeds(session: ort.InferenceSession, inputsEmbeds: Float32Array, length: number, hidden: number, kvHeads: number, headDim: number): Record<string, ort.Tensor> {
  const feeds: Record<string, ort.Tensor> = {};
  for (const name of inputMetadata(session).keys()) {
    if (name === "inputs_embeds") feeds[name] = new ort.Tensor("float32", inputsEmbeds, [1, length, hidden]);
    else if (name === "attention_mask") feeds[name] = int64Tensor(new Array<number>(length).fill(1), [1, length]);
    else if (name === "position_ids") feeds[name] = int64Tensor(Array.from({ length }, (_, i) => i), [1, length]);
    else if (name.startsWith("past_key_values.")) feeds[name] = new ort.Tensor("float32", new Float32Array(0), [1, kvHeads, 0, headDim]);
    else if (name === "use_cache_branch") feeds[name] = new ort.Tensor("bool", new Uint8Array([0]), [1]);
    else throw new Error(`unexpected decoder input ${name}`);
  }
  return feeds;
}

async function fastPath(config: FastPathConfig): Promise<FastPathResult> {
  const runner = await createRunner(config.dtypes, config.threads);
  const files = loadModelFiles(BENCH_MODEL_DIR, { vision_encoder: config.dtypes.vision, decoder_model_merged: config.dtypes.decoder });
  const text = files.model.text;
  const sessionOptions: ort.InferenceSession.SessionOptions = {
    intraOpNumThreads: config.threads,
    interOpNumThreads: 1,
    executionMode: "sequential",
    graphOptimizationLevel: "all",
  };
  const source = files.onnx.decoder;
  const edit = { layers: text.layers, width: text.heads * text.headDim };
  const editedPath = (await prepareDecoder(source, edit)).path;
  const truncatedPath = (await prepareDecoder(source, { ...edit, keepLayers: config.truncatedLayers })).path;
  if (!editedPath || !truncatedPath) throw new Error("the benchmark model directory must be writable (edited graphs are cached beside the source)");
  const sessions = {
    unedited: await ort.InferenceSession.create(source, sessionOptions),
    edited: await ort.InferenceSession.create(editedPath, sessionOptions),
    truncated: await ort.InferenceSession.create(truncatedPath, sessionOptions),
  };
  const uneditedOutputs = sessions.unedited.outputNames.length;
  log(`  unedited decoder outputs: ${uneditedOutputs}; edited: ${sessions.edited.outputNames.join(", ")}`);

  const probe = await freshImage();
  const { inputIds, inputsEmbeds } = await runner.decoderInputs({ images: [probe], text: BENCH_TEXT });
  const length = inputIds.length;
  const times: Record<keyof typeof sessions, number[]> = { unedited: [], edited: [], truncated: [] };
  for (let r = -2; r < config.repeats; r++) {
    // Interleaved so that all three see the same machine load; two warm-up rounds.
    for (const name of ["unedited", "edited", "truncated"] as const) {
      const session = sessions[name];
      const feeds = decoderFeeds(session, inputsEmbeds, length, text.hiddenSize, text.kvHeads, text.headDim);
      await pause(50); // lets the previous session's threads stop spinning
      const start = performance.now();
      await session.run(feeds);
      if (r >= 0) times[name].push(performance.now() - start);
    }
    if (r >= 0) log(`  decoder run ${r + 1}/${config.repeats}: unedited ${times.unedited[r]!.toFixed(1)}, edited ${times.edited[r]!.toFixed(1)}, truncated ${times.truncated[r]!.toFixed(1)} ms`);
  }
  await Promise.all(Object.values(sessions).map((s) => s.release()));

  // Runner level: the same image (vision cache hit) and a fresh text per round, full depth then truncated.
  const full: number[] = [];
  const truncated: number[] = [];
  for (let r = -1; r < config.repeats; r++) {
    const prompt = `${BENCH_TEXT} (${r + 2})`;
    const a = await runner.extract({ images: [probe], text: prompt });
    const b = await runner.extract({ images: [probe], text: prompt, layers: config.truncatedLayers });
    if (r >= 0) {
      full.push(a.timings.decoderMs);
      truncated.push(b.timings.decoderMs);
    }
  }

  // Caches: a cold image, then the same image and text (result cache), then the same image with a new text (vision cache).
  const cold: number[] = [];
  const resultHit: number[] = [];
  const visionHit: number[] = [];
  for (let r = 0; r < config.cacheRounds; r++) {
    const image = await freshImage();
    const first = await runner.extract({ images: [image], text: BENCH_TEXT });
    const again = await runner.extract({ images: [image], text: BENCH_TEXT });
    const otherText = await runner.extract({ images: [image], text: `Describe the colours. (${r})` });
    if (first.timings.visionCacheHit || !again.timings.visionCacheHit || !otherText.timings.visionCacheHit) throw new Error("unexpected cache state");
    cold.push(first.timings.totalMs);
    resultHit.push(again.timings.totalMs);
    visionHit.push(otherText.timings.totalMs);
    log(`  cache round ${r + 1}: cold ${first.timings.totalMs.toFixed(1)}, same image+text ${again.timings.totalMs.toFixed(3)}, same image new text ${otherText.timings.totalMs.toFixed(1)} ms`);
  }
  await runner.close();
  const m = (values: number[]): number => median(values);
  return {
    repeats: config.repeats,
    cacheRounds: config.cacheRounds,
    uneditedOutputs: uneditedOutputs,
    promptTokens: length,
    uneditedRunMs: m(times.unedited),
    editedRunMs: m(times.edited),
    truncatedRunMs: m(times.truncated),
    editedOverUnedited: m(times.edited.map((t, i) => t / times.unedited[i]!)),
    truncatedOverEdited: m(times.truncated.map((t, i) => t / times.edited[i]!)),
    runnerFullDecoderMs: m(full),
    runnerTruncatedDecoderMs: m(truncated),
    runnerTruncatedOverFull: m(truncated.map((t, i) => t / full[i]!)),
    coldTotalMs: m(cold),
    resultCacheTotalMs: m(resultHit),
    visionCacheTotalMs: m(visionHit),
    resultCacheOverCold: m(resultHit.map((t, i) => t / cold[i]!)),
    visionCacheOverCold: m(visionHit.map((t, i) => t / cold[i]!)),
  };
}

async function threads(config: ThreadsConfig): Promise<ThreadsResult> {
  const runners = [await createRunner(config.dtypes, config.threads[0]), await createRunner(config.dtypes, config.threads[1])];
  const throughput: [number[], number[]] = [[], []];
  const cpuPerImage: [number[], number[]] = [[], []];
  for (let round = -1; round < config.rounds; round++) {
    for (const which of round % 2 === 0 ? [0, 1] : [1, 0]) {
      const images = await Promise.all(Array.from({ length: config.batch }, freshImage));
      const cpuBefore = process.cpuUsage();
      const start = performance.now();
      await Promise.all(images.map((image) => runners[which]!.extract({ images: [image], text: BENCH_TEXT })));
      const elapsed = performance.now() - start;
      const cpu = process.cpuUsage(cpuBefore);
      if (round >= 0) {
        throughput[which]!.push((1000 * config.batch) / elapsed);
        cpuPerImage[which]!.push((cpu.user + cpu.system) / 1000 / config.batch);
      }
      log(`  round ${round + 1}, ${config.threads[which]} thread(s): ${config.batch} images in ${elapsed.toFixed(0)} ms${round < 0 ? " (warm-up)" : ""}`);
    }
  }
  await Promise.all(runners.map((r) => r.close()));
  return {
    dtypes: config.dtypes,
    batch: config.batch,
    rounds: config.rounds,
    threads: config.threads,
    imagesPerSecond: [median(throughput[0]), median(throughput[1])],
    cpuMsPerImage: [median(cpuPerImage[0]), median(cpuPerImage[1])],
    speedup: median(throughput[1].map((t, i) => t / throughput[0][i]!)),
  };
}

async function fidelity(config: FidelityConfig): Promise<FidelityResult> {
  const images = await Promise.all(Array.from({ length: config.images }, (_, i) => testImage(500 + i)));
  const vectorsOf = async (dtypes: Dtypes): Promise<ExtractResult[]> => {
    const runner = await createRunner(dtypes, config.threads);
    const out: ExtractResult[] = [];
    for (const image of images) out.push(await runner.extract({ images: [image], text: BENCH_TEXT }));
    await runner.close();
    log(`  vectors for ${dtypes.vision}/${dtypes.decoder}`);
    return out;
  };
  const reference = await vectorsOf({ vision: "fp32", decoder: "fp32" });
  const shape = reference[0]!.shape;
  const heads = shape.layers * shape.heads;
  const rows: FidelityRow[] = [];
  for (const dtypes of config.combinations) {
    const results = await vectorsOf(dtypes);
    const agreement = headAgreement(results.map((r) => r.vectors), reference.map((r) => r.vectors), shape.headDim);
    rows.push({ dtypes, meanCosine: agreement.meanCosine, p5Cosine: agreement.p5Cosine, minCosine: agreement.minCosine, wholeVectorCosine: agreement.wholeCosine });
  }
  return { images: config.images, heads, rows };
}

async function main(): Promise<void> {
  const config = JSON.parse(process.argv[2] ?? "{}") as RunnerChildConfig;
  let result: MatrixResult | MemoryResult | FastPathResult | ThreadsResult | FidelityResult;
  if (config.mode === "matrix") result = await matrix(config);
  else if (config.mode === "memory") result = await memory(config);
  else if (config.mode === "fastpath") result = await fastPath(config);
  else if (config.mode === "threads") result = await threads(config);
  else if (config.mode === "fidelity") result = await fidelity(config);
  else throw new Error(`unknown mode in ${process.argv[2]}`);
  process.stdout.write(`${JSON.stringify({ ...result, peakRssBytes: peakRssBytes(), loadAverage: os.loadavg() })}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});

/**
 * Benchmark of the LMM runner on the full-size SmolVLM-256M-shaped generated model (issue 3 §4, issue 6):
 * per-stage times per dtype and thread count with peak RSS, the fast-path ratios (extraction graph,
 * truncated decoder, caches, threads) and the per-head fidelity of the quantized graphs. Every
 * configuration runs in its own child process (tools/bench/runner-child.ts).
 *
 *   npx tsx tools/bench/runner.ts      prints the Markdown section to stdout, progress to stderr
 */
import os from "node:os";
import { BENCH_MODEL_DIR, ensureBenchModel, loadNote, log, mb, ms, ratio, runChild, yes, runIfMain } from "./common.js";
import type {
  Dtypes,
  FastPathConfig,
  FastPathResult,
  FidelityConfig,
  FidelityResult,
  MatrixConfig,
  MatrixResult,
  MemoryConfig,
  MemoryResult,
  RunnerSetup,
  StageTimes,
  ThreadsConfig,
  ThreadsResult,
} from "./runner-child.js";

const CHILD = "tools/bench/runner-child.ts";
const MATRIX_ROUNDS = 5;
const MEMORY_IMAGES = 2;
const FAST_PATH_REPEATS = 9;
const CACHE_ROUNDS = 4;
const TRUNCATED_LAYERS = 15;
const THREAD_BATCH = 4;
const THREAD_ROUNDS = 3;
const FIDELITY_IMAGES = 4;
const MEMORY_GOAL_BYTES = 2 * 1024 ** 3;

type Measured<T> = T & { peakRssBytes: number; loadAverage: number[] };

const label = (d: Dtypes): string => (d.vision === d.decoder ? d.vision : `${d.vision} vision + ${d.decoder} decoder`);

/** Matched dtypes at 1 and 2 threads (a stage's time depends only on that stage's own dtype). */
function matrixSetups(): RunnerSetup[] {
  return ["fp32", "int8", "q4"].flatMap((dtype) => [1, 2].map((threads) => ({ dtypes: { vision: dtype, decoder: dtype }, threads })));
}

/** Memory of each dtype set worth shipping, at 2 threads: matched, and the fp32 vision encoder with each quantized decoder. */
function memorySetups(): RunnerSetup[] {
  return [
    ...["fp32", "int8", "q4"].map((dtype) => ({ dtypes: { vision: dtype, decoder: dtype }, threads: 2 })),
    ...["int8", "q4"].map((decoder) => ({ dtypes: { vision: "fp32", decoder }, threads: 2 })),
  ];
}

export async function runRunnerBenchmark(): Promise<string> {
  await ensureBenchModel();
  const loadBefore = os.loadavg();
  const started = performance.now();

  const matrixConfig: MatrixConfig = { mode: "matrix", setups: matrixSetups(), rounds: MATRIX_ROUNDS };
  log("[runner] per-stage matrix (all configurations in one process, round-robin)");
  const stageMatrix = await runChild<Measured<MatrixResult>>(CHILD, matrixConfig);

  const memories: Measured<MemoryResult>[] = [];
  for (const setup of memorySetups()) {
    const config: MemoryConfig = { mode: "memory", setup, images: MEMORY_IMAGES };
    log(`[runner] memory, ${label(setup.dtypes)}`);
    memories.push(await runChild<Measured<MemoryResult>>(CHILD, config));
  }

  const fastPaths: { dtypes: Dtypes; result: Measured<FastPathResult> }[] = [];
  for (const dtype of ["fp32", "int8", "q4"]) {
    const config: FastPathConfig = {
      mode: "fastpath",
      dtypes: { vision: "fp32", decoder: dtype },
      threads: 2,
      repeats: FAST_PATH_REPEATS,
      truncatedLayers: TRUNCATED_LAYERS,
      cacheRounds: dtype === "fp32" ? CACHE_ROUNDS : 0,
    };
    log(`[runner] fast path, ${dtype} decoder`);
    fastPaths.push({ dtypes: config.dtypes, result: await runChild<Measured<FastPathResult>>(CHILD, config) });
  }

  const threadRuns: Measured<ThreadsResult>[] = [];
  for (const dtype of ["fp32", "int8"]) {
    const config: ThreadsConfig = { mode: "threads", dtypes: { vision: dtype, decoder: dtype }, batch: THREAD_BATCH, rounds: THREAD_ROUNDS, threads: [1, 2] };
    log(`[runner] threads, 1 vs 2, pipelined batches, ${dtype}`);
    threadRuns.push(await runChild<Measured<ThreadsResult>>(CHILD, config));
  }

  const fidelityConfig: FidelityConfig = {
    mode: "fidelity",
    threads: 2,
    images: FIDELITY_IMAGES,
    combinations: [
      { vision: "fp32", decoder: "int8" },
      { vision: "fp32", decoder: "q4" },
      { vision: "int8", decoder: "fp32" },
      { vision: "q4", decoder: "fp32" },
      { vision: "int8", decoder: "int8" },
      { vision: "q4", decoder: "q4" },
    ],
  };
  log("[runner] per-head fidelity");
  const fidelity = await runChild<Measured<FidelityResult>>(CHILD, fidelityConfig);
  const loadAfter = os.loadavg();
  const minutes = (performance.now() - started) / 60000;

  const lines: string[] = [
    "## LMM runner (full-size SmolVLM-256M-shaped model)",
    "",
    `Model: \`${BENCH_MODEL_DIR.replace(/.*\/models\//, "models/")}\`, generated with random weights by \`src/tiny\` (preset \`smolvlm-256m\`: text 576 hidden, 30 layers, 9 heads, 3 KV heads; vision 768 hidden, 12 layers, 512 px, patch 16, scale 4), so every graph has the real model's shapes and cost.`,
    `One prompt: one 640×480 JPEG (no image splitting: one 512×512 view) and "What is in this image?", ${stageMatrix.promptTokens} prompt tokens.`,
    "",
    "### Per stage",
    "",
    `All six runners live in one process and extract new images round-robin (the order rotating each round, a 100 ms pause between extractions), so they share the machine's load; ${stageMatrix.rounds} rounds after a warm-up round. Median per image, best in parentheses; CPU is the process's user + system time during the extraction.`,
    "",
    "| dtypes | threads | preprocess (ms) | vision encoder (ms) | decoder (ms) | whole extraction (ms) | images/s | CPU ms per image |",
    "|---|---:|---:|---:|---:|---:|---:|---:|",
  ];
  for (const { setup, median: m, best: b } of stageMatrix.rows) {
    lines.push(
      `| ${label(setup.dtypes)} | ${setup.threads} | ${ms(m.preprocessMs)} (${ms(b.preprocessMs)}) | ${ms(m.visionMs)} (${ms(b.visionMs)}) | ${ms(m.decoderMs)} (${ms(b.decoderMs)}) | ${ms(m.totalMs)} (${ms(b.totalMs)}) | ${(1000 / m.totalMs).toFixed(2)} | ${ms(m.cpuMs)} |`,
    );
  }
  const byKey = new Map(stageMatrix.rows.map((r) => [`${r.setup.dtypes.vision}:${r.setup.threads}`, r.median]));
  const fp32Two = byKey.get("fp32:2");
  lines.push("");
  if (fp32Two) {
    const relative = (dtype: string, pick: (t: StageTimes) => number): string => {
      const other = byKey.get(`${dtype}:2`);
      return other ? ratio(pick(other) / pick(fp32Two)) : "—";
    };
    lines.push(
      `Time relative to fp32 at 2 threads: int8 vision encoder ${relative("int8", (t) => t.visionMs)}×, int8 decoder ${relative("int8", (t) => t.decoderMs)}×; q4 vision encoder ${relative("q4", (t) => t.visionMs)}×, q4 decoder ${relative("q4", (t) => t.decoderMs)}×.`,
      "",
    );
  }
  lines.push(
    `Peak RSS, each configuration alone in a fresh process (runner created, ${MEMORY_IMAGES} new images extracted; the process's \`maxRSS\`, Node and tsx included):`,
    "",
    "| dtypes | threads | peak RSS | runner start (s) |",
    "|---|---:|---:|---:|",
  );
  for (const m of memories) lines.push(`| ${label(m.setup.dtypes)} | ${m.setup.threads} | ${mb(m.peakRssBytes)} | ${(m.createMs / 1000).toFixed(1)} |`);
  const quantized = memories.filter((m) => m.setup.dtypes.vision !== "fp32" || m.setup.dtypes.decoder !== "fp32");
  const worstQuantizedRss = Math.max(...quantized.map((m) => m.peakRssBytes));
  lines.push(
    "",
    `Memory goal (peak RSS < 2 GB with int8/q4 graphs): ${yes(worstQuantizedRss < MEMORY_GOAL_BYTES)}, largest ${mb(worstQuantizedRss)} among the configurations with quantized graphs.`,
    "",
    "### Fast path",
    "",
    `Decoder \`session.run\` on the same inputs (the prompt's merged embeddings), the three graphs interleaved with a 50 ms pause before each run, ${FAST_PATH_REPEATS} rounds after two warm-up rounds, 2 threads; ratios are medians of per-round ratios. The last column is the runner's decoder stage (embeddings, merge, decoder) through \`extract\` with \`layers: ${TRUNCATED_LAYERS}\` against the full depth, same image (vision cache) and a new text per round.`,
    "",
    `| decoder dtype | unedited graph, all ${fastPaths[0]?.result.uneditedOutputs ?? "?"} outputs (ms) | edited graph (ms) | edited / unedited (goal ≤ 0.8) | truncated to ${TRUNCATED_LAYERS} layers (ms) | truncated / edited (goal ≤ 0.55) | runner decoder stage, ${TRUNCATED_LAYERS} vs 30 layers |`,
    "|---|---:|---:|---:|---:|---:|---:|",
  );
  for (const { dtypes, result } of fastPaths) {
    lines.push(
      `| ${dtypes.decoder} | ${ms(result.uneditedRunMs)} | ${ms(result.editedRunMs)} | ${ratio(result.editedOverUnedited)} (${yes(result.editedOverUnedited <= 0.8)}) | ${ms(result.truncatedRunMs)} | ${ratio(result.truncatedOverEdited)} (${yes(result.truncatedOverEdited <= 0.55)}) | ${ms(result.runnerTruncatedDecoderMs)} / ${ms(result.runnerFullDecoderMs)} ms = ${ratio(result.runnerTruncatedOverFull)} |`,
    );
  }
  const cache = fastPaths.find((f) => f.dtypes.decoder === "fp32")?.result;
  if (cache && cache.cacheRounds > 0) {
    lines.push(
      "",
      `Caches (fp32, 2 threads, median of ${cache.cacheRounds} new images): a cold extraction took ${ms(cache.coldTotalMs)} ms; the same image and text again (result cache) ${ms(cache.resultCacheTotalMs)} ms = ${ratio(cache.resultCacheOverCold)}× of cold (goal ≤ 0.05: ${yes(cache.resultCacheOverCold <= 0.05)}); the same image with a new text (vision feature cache; embeddings and decoder still run) ${ms(cache.visionCacheTotalMs)} ms = ${ratio(cache.visionCacheOverCold)}× of cold (${yes(cache.visionCacheOverCold <= 0.05)} against the same goal: the decoder's share of a cold extraction is this case's floor).`,
    );
  }
  lines.push(
    "",
    `Threads: batches of ${THREAD_BATCH} new images extracted concurrently (decoding and preprocessing overlap inference), a 1-thread and a 2-thread runner in one process, batches alternated, ${THREAD_ROUNDS} rounds after a warm-up round; the speed-up is the median of per-round ratios (goal ≥ 1.6×).`,
    "",
    "| dtypes | 1 thread (images/s) | 2 threads (images/s) | speed-up | CPU ms per image, 1 / 2 threads |",
    "|---|---:|---:|---:|---:|",
    ...threadRuns.map(
      (t) =>
        `| ${label(t.dtypes)} | ${t.imagesPerSecond[0].toFixed(2)} | ${t.imagesPerSecond[1].toFixed(2)} | ${t.speedup.toFixed(2)}× (${yes(t.speedup >= 1.6)}) | ${ms(t.cpuMsPerImage[0])} / ${ms(t.cpuMsPerImage[1])} |`,
    ),
    "",
    `### Per-head fidelity of the quantized graphs (${fidelity.images} images, ${fidelity.heads} heads each, cosine with the fp32 vectors)`,
    "",
    "| dtypes | mean per-head cosine | 5th percentile | minimum | whole-vector cosine |",
    "|---|---:|---:|---:|---:|",
  );
  for (const row of fidelity.rows) {
    lines.push(`| ${label(row.dtypes)} | ${row.meanCosine.toFixed(4)} | ${row.p5Cosine.toFixed(4)} | ${row.minCosine.toFixed(4)} | ${row.wholeVectorCosine.toFixed(4)} |`);
  }
  lines.push(
    "",
    "Random weights are benign for quantization (no outlier channels), so a real checkpoint's cosines will be lower; use these to rank the variants, and check head selection on real data before changing defaults.",
    "",
    `${loadNote(loadBefore, loadAfter)} The section took ${minutes.toFixed(1)} minutes.`,
    "",
  );
  return lines.join("\n");
}

runIfMain(import.meta.url, runRunnerBenchmark);

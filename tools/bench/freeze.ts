/**
 * Never freeze (issue 15 goal 1): the event loop's delay while the server extracts and evaluates, with the ONNX
 * Runtime sessions on the main thread (before) and in the runner's worker thread (after), in one run.
 * - `monitorEventLoopDelay` during batches of new images (tiny model and the full-size SmolVLM-256M-shaped int8 model);
 * - single-image extraction time, worker over main thread;
 * - `list_tasks` latency through an in-memory MCP client while add_examples extracts, while evaluate_task runs
 *   on 2,000 stored examples (10 labels, 30 × 9 heads × 64), and while a cold classify_image builds and calibrates
 *   a classifier on such a task (freeze-classify.ts; that part runs alone too).
 *
 *   npx tsx tools/bench/freeze.ts      prints the Markdown section to stdout, progress to stderr
 */
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { defaultTinyModelDir, ensureTinyModel } from "../../src/model/families/idefics3/tiny/index.js";
import { ModelRunner, type ModelRef } from "../../src/model/runner.js";
import type { InferenceThread } from "../../src/model/session-host.js";
import type { HeadVectorExtractor } from "../../src/model/types.js";
import { buildClassifier, fitCalibration, heldOutPredictions } from "../../src/sav/index.js";
import { SavStore } from "../../src/store/index.js";
import { BENCH_MODEL_DIR, BENCH_MODEL_ID, ensureBenchModel, loadNote, log, median, ms, ratio, testImage, yes, runIfMain, callToolOk } from "./common.js";
import { coldClassifyLines, measureColdClassify, type ColdClassifyRow } from "./freeze-classify.js";
import {
  BenchModels,
  EVAL_EXAMPLES,
  EVAL_LABELS,
  EVAL_SHAPE,
  evaluationExamples,
  INT8,
  LAG_GOAL_MS,
  type Lag,
  type Latency,
  latencyOf,
  LIST_GOAL_MS,
  LIST_INTERVAL_MS,
  listLatencies,
  monitored,
  PROMPT,
  RESOLUTION_MS,
  withServer,
} from "./freeze-common.js";

const MODES: InferenceThread[] = ["main", "worker"];

interface ModelCase {
  name: string;
  ref: ModelRef;
  batch: number;
  rounds: number;
  singles: number;
}

let seed = 50_000;
const newImages = (count: number): Promise<Uint8Array[]> => Promise.all(Array.from({ length: count }, () => testImage(seed++)));

/** Batches' delays together: the median of their medians, the worst p99 and the worst delay. */
function pooled(lags: Lag[]): Lag {
  return { p50: median(lags.map((l) => l.p50)), p99: Math.max(...lags.map((l) => l.p99)), max: Math.max(...lags.map((l) => l.max)) };
}

/** Extracts `images` keeping two in flight, as add_examples does. */
async function extractBatch(runner: HeadVectorExtractor, images: Uint8Array[]): Promise<void> {
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < images.length) await runner.extract({ images: [images[next++]!], text: PROMPT });
  };
  await Promise.all([lane(), lane()]);
}

interface ExtractionRow {
  model: string;
  lag: Record<InferenceThread, Lag>;
  imagesPerSecond: Record<InferenceThread, number>;
  singleMs: Record<InferenceThread, number>;
  singleRatio: number;
}

async function measureExtraction(model: ModelCase): Promise<ExtractionRow> {
  const runners = {} as Record<InferenceThread, ModelRunner>;
  for (const mode of MODES) runners[mode] = await ModelRunner.create(model.ref, { inference: mode });
  try {
    for (const mode of MODES) await extractBatch(runners[mode], await newImages(1));
    const lags = { main: [] as Lag[], worker: [] as Lag[] };
    const busy = { main: 0, worker: 0 };
    for (let round = 0; round < model.rounds; round++) {
      for (const mode of round % 2 ? [...MODES].reverse() : MODES) {
        const images = await newImages(model.batch);
        const { value: elapsed, lag } = await monitored(async () => {
          const start = performance.now();
          await extractBatch(runners[mode], images);
          return performance.now() - start;
        });
        busy[mode] += elapsed;
        lags[mode].push(lag);
      }
      log(`[freeze] ${model.name}: round ${round + 1}/${model.rounds}`);
    }
    const singles = { main: [] as number[], worker: [] as number[] };
    const ratios: number[] = [];
    for (let i = 0; i < model.singles; i++) {
      const times = {} as Record<InferenceThread, number>;
      for (const mode of i % 2 ? [...MODES].reverse() : MODES) {
        const [image] = await newImages(1);
        const start = performance.now();
        await runners[mode].extract({ images: [image!], text: PROMPT });
        times[mode] = performance.now() - start;
        singles[mode].push(times[mode]);
      }
      ratios.push(times.worker / times.main);
    }
    const images = model.batch * model.rounds;
    return {
      model: model.name,
      lag: { main: pooled(lags.main), worker: pooled(lags.worker) },
      imagesPerSecond: { main: (1000 * images) / busy.main, worker: (1000 * images) / busy.worker },
      singleMs: { main: median(singles.main), worker: median(singles.worker) },
      singleRatio: median(ratios),
    };
  } finally {
    await Promise.all(MODES.map((mode) => runners[mode].close()));
  }
}

async function listDuringExtraction(temp: string, batch: number): Promise<Record<InferenceThread, Latency>> {
  const imagesDir = path.join(temp, "images");
  await mkdir(imagesDir, { recursive: true });
  const result = {} as Record<InferenceThread, Latency>;
  for (const mode of MODES) {
    const models = new BenchModels(mode);
    try {
      result[mode] = await withServer(path.join(temp, `data-${mode}`), imagesDir, models, async (client) => {
        await callToolOk(client, "create_sav_task", { name: "freeze", prompt: PROMPT, labels: ["a", "b"] });
        const examples = [];
        // One file per image: the images must all be new to the runner, or the result cache answers them.
        for (const [index, image] of (await newImages(batch + 1)).entries()) {
          const file = path.join(imagesDir, `image-${mode}-${index}.jpg`);
          await writeFile(file, image);
          examples.push({ image: { path: file }, label: examples.length % 2 ? "a" : "b" });
        }
        await callToolOk(client, "add_examples", { task: "freeze", examples: examples.slice(0, 1) }); // warm-up
        return latencyOf(await listLatencies(client, callToolOk(client, "add_examples", { task: "freeze", examples: examples.slice(1) })));
      });
      log(`[freeze] list_tasks during add_examples, ${mode}: median ${ms(result[mode].median)} ms, max ${ms(result[mode].max)} ms`);
    } finally {
      await models.close();
    }
  }
  return result;
}

interface EvaluationResult {
  latency: Latency;
  evaluateMs: number;
  lag: Lag;
  calibrationInThreadMs: number;
  snapshotReadMs: number;
}

async function listDuringEvaluation(temp: string): Promise<EvaluationResult> {
  const dataDir = path.join(temp, "data-eval");
  const examples = evaluationExamples();
  const store = new SavStore({ dataDir });
  const task = store.createTask({ name: "large", prompt: PROMPT, k: 20, selection: "in-sample", modelId: BENCH_MODEL_ID, modelFingerprint: "f".repeat(64), randomWeights: true, shape: EVAL_SHAPE });
  store.addExamples(
    task.id,
    examples.map((e, i) => ({ label: e.label, text: null, imageHashes: [`${i}`.padStart(64, "0")], vectors: e.vector })),
  );
  let start = performance.now();
  store.loadTrainingSet(task.id);
  const snapshotReadMs = performance.now() - start;
  store.close();
  // What evaluate_task used to compute on the main thread after the cross-validation.
  start = performance.now();
  const classifier = buildClassifier(examples, EVAL_SHAPE, { k: 20, selection: "in-sample" });
  heldOutPredictions(classifier, fitCalibration(classifier, examples), examples);
  const calibrationInThreadMs = performance.now() - start;
  log(`[freeze] calibration on the calling thread: ${ms(calibrationInThreadMs)} ms`);
  const models = new BenchModels("worker");
  try {
    return await withServer(dataDir, temp, models, async (client) => {
      const { value, lag } = await monitored(async () => {
        const started = performance.now();
        const evaluation = callToolOk(client, "evaluate_task", { task: "large" }).then(() => performance.now() - started);
        return { latencies: await listLatencies(client, evaluation), evaluateMs: await evaluation };
      });
      log(`[freeze] evaluate_task ${ms(value.evaluateMs)} ms; list_tasks max ${ms(Math.max(...value.latencies))} ms`);
      return { latency: latencyOf(value.latencies), evaluateMs: value.evaluateMs, lag, calibrationInThreadMs, snapshotReadMs };
    });
  } finally {
    await models.close();
  }
}

export async function runFreezeBenchmark(): Promise<string> {
  await ensureBenchModel();
  const tinyDir = await ensureTinyModel(defaultTinyModelDir());
  const loadBefore = os.loadavg();
  const started = performance.now();
  const cases: ModelCase[] = [
    { name: "tiny (fp32)", ref: { id: "tiny-smolvlm", dir: tinyDir }, batch: 12, rounds: 4, singles: 9 },
    { name: "SmolVLM-256M-shaped int8", ref: { id: BENCH_MODEL_ID, dir: BENCH_MODEL_DIR, dtypes: INT8, randomWeights: true }, batch: 6, rounds: 2, singles: 5 },
  ];
  const rows: ExtractionRow[] = [];
  for (const model of cases) rows.push(await measureExtraction(model));
  const temp = await mkdtemp(path.join(os.tmpdir(), "sav-bench-freeze-"));
  let during: Record<InferenceThread, Latency>;
  let evaluation: EvaluationResult;
  let coldClassify: ColdClassifyRow[];
  try {
    during = await listDuringExtraction(temp, 6);
    evaluation = await listDuringEvaluation(temp);
    const models = new BenchModels("worker");
    try {
      coldClassify = await measureColdClassify(temp, models);
    } finally {
      await models.close();
    }
  } finally {
    await rm(temp, { recursive: true, force: true });
  }
  const loadAfter = os.loadavg();
  const classifyAfter = coldClassify.find((r) => r.build === "worker threads")!;
  const worst = Math.max(...rows.map((r) => r.lag.worker.p99), evaluation.lag.p99, classifyAfter.lag.p99);
  const lines = [
    "## Never freeze: event-loop delay during extraction, evaluation and a cold classification",
    "",
    `The ONNX Runtime sessions on the main thread (\`inference: "main"\`, before) and in the runner's worker thread (\`inference: "worker"\`, the default, after), measured in one process, alternating. Event-loop delay from \`perf_hooks.monitorEventLoopDelay\` (resolution ${RESOLUTION_MS} ms; figures are the delay beyond the interval, i.e. how late a timer due now would run) while batches of new 640×480 JPEGs are extracted two in flight, as add_examples does; ONNX Runtime threads = ${os.availableParallelism()} cores.`,
    "",
    "| model | sessions | loop delay p50 (ms) | p99 (ms) | max (ms) | images/s in the batches | single image (ms, median) | single image, worker / main |",
    "|---|---|---:|---:|---:|---:|---:|---:|",
  ];
  for (const row of rows) {
    for (const mode of MODES) {
      const lag = row.lag[mode];
      lines.push(
        `| ${row.model} | ${mode} thread | ${ms(lag.p50)} | ${ms(lag.p99)} | ${ms(lag.max)} | ${row.imagesPerSecond[mode].toFixed(2)} | ${ms(row.singleMs[mode])} | ${mode === "worker" ? ratio(row.singleRatio) : ""} |`,
      );
    }
  }
  const batchesOf = cases.map((c) => `${c.name}: ${c.rounds} batches of ${c.batch} per mode, ${c.singles} single images per mode`).join("; ");
  lines.push(
    "",
    `${batchesOf}. Each batch has its own histogram; the table gives the median of the batches' p50, the worst batch's p99 and the worst delay. The single-image ratio is the median of per-pair ratios (pairs alternate which mode goes first).`,
    "",
    `\`list_tasks\` through an in-memory MCP client, a call due every ${LIST_INTERVAL_MS} ms (the next once the previous has answered), latency counted from when the call was due (so a blocked loop that delays sending counts, as for a client in another process), while \`add_examples\` extracts 6 new images with the full-size int8 model:`,
    "",
    "| sessions | list_tasks calls answered | median (ms) | max (ms) |",
    "|---|---:|---:|---:|",
    ...MODES.map((mode) => `| ${mode} thread | ${during[mode].calls} | ${ms(during[mode].median)} | ${ms(during[mode].max)} |`),
    "",
    `While \`evaluate_task\` runs leave-one-out cross-validation on ${EVAL_EXAMPLES.toLocaleString("en")} stored examples (${EVAL_LABELS} labels, ${EVAL_SHAPE.layers} × ${EVAL_SHAPE.heads} heads × ${EVAL_SHAPE.headDim}; ${ms(evaluation.evaluateMs / 1000)} s): ${evaluation.latency.calls} list_tasks calls answered, median ${ms(evaluation.latency.median)} ms, max ${ms(evaluation.latency.max)} ms (goal < ${LIST_GOAL_MS} ms: ${yes(evaluation.latency.max < LIST_GOAL_MS)}); event-loop delay p50 ${ms(evaluation.lag.p50)} / p99 ${ms(evaluation.lag.p99)} / max ${ms(evaluation.lag.max)} ms. The calibration that evaluate_task computed on the main thread before this change (classifier, temperature fit, held-out predictions) takes ${ms(evaluation.calibrationInThreadMs)} ms on the calling thread here; it now runs in a worker thread, as the cross-validation already did. Reading the training set in one snapshot (as before) takes ${ms(evaluation.snapshotReadMs)} ms; it is now read in pages of 32 examples between turns of the event loop.`,
    "",
    ...coldClassifyLines(coldClassify),
    "",
    `Goal (event-loop delay p99 ≤ ${LAG_GOAL_MS} ms with the worker threads: extraction, evaluation and a cold classify_image): ${yes(worst <= LAG_GOAL_MS)}, worst p99 ${ms(worst)} ms.`,
    "",
    `${loadNote(loadBefore, loadAfter)} The section took ${((performance.now() - started) / 60000).toFixed(1)} minutes.`,
    "",
  );
  return lines.join("\n");
}

runIfMain(import.meta.url, runFreezeBenchmark);

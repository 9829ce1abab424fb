/**
 * Part of the `freeze` section: classify_image on a cold task of 2,000 stored examples (10 labels, 30 × 9
 * heads × 64), its first call building the classifier and fitting the calibration, while list_tasks is sent
 * every 25 ms; with that work on the calling thread (before) and in worker threads (after), in one process.
 *
 *   npx tsx tools/bench/freeze-classify.ts      runs only this part; prints its Markdown to stdout
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { SavStore } from "../../src/store/index.js";
import { ensureBenchModel, loadNote, log, ms, runIfMain, testImage, yes, BENCH_MODEL_ID, callToolOk } from "./common.js";
import {
  BenchModels,
  EVAL_EXAMPLES,
  EVAL_LABELS,
  EVAL_SHAPE,
  evaluationExamples,
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

const BUILDS = ["calling thread", "worker threads"] as const;
type Build = (typeof BUILDS)[number];

export interface ColdClassifyRow {
  build: Build;
  latency: Latency;
  lag: Lag;
  classifyMs: number;
}

/** One cold classify_image per build mode, each on its own copy of the training set (so nothing is restored). */
export async function measureColdClassify(temp: string, models: BenchModels): Promise<ColdClassifyRow[]> {
  const dataDir = path.join(temp, "data-classify");
  const examples = evaluationExamples();
  const extractor = await models.extractor();
  const { fingerprint } = extractor.info;
  const store = new SavStore({ dataDir });
  for (const build of BUILDS) {
    const task = store.createTask({ name: build.replace(" ", "-"), prompt: PROMPT, k: 20, selection: "in-sample", modelId: BENCH_MODEL_ID, modelFingerprint: fingerprint, randomWeights: true, shape: EVAL_SHAPE });
    store.addExamples(
      task.id,
      examples.map((e, i) => ({ label: e.label, text: null, imageHashes: [`${i}`.padStart(64, "0")], vectors: e.vector })),
    );
  }
  store.close();
  const image = path.join(temp, "query.jpg");
  await writeFile(image, await testImage(77_001));
  // The session's first run is slower; neither mode should pay for it.
  await extractor.extract({ images: [await testImage(77_000)], text: PROMPT });
  const rows: ColdClassifyRow[] = [];
  for (const build of BUILDS) {
    rows.push(
      await withServer(
        dataDir,
        temp,
        models,
        async (client) => {
          await callToolOk(client, "list_tasks", {}); // warm-up
          const { value, lag } = await monitored(async () => {
            const started = performance.now();
            const classified = callToolOk(client, "classify_image", { task: build.replace(" ", "-"), image: { path: image } }).then(() => performance.now() - started);
            return { latencies: await listLatencies(client, classified), classifyMs: await classified };
          });
          log(`[freeze] cold classify_image, build on the ${build}: ${ms(value.classifyMs)} ms; list_tasks max ${ms(Math.max(...value.latencies))} ms; loop p99 ${ms(lag.p99)} ms`);
          return { build, latency: latencyOf(value.latencies), lag, classifyMs: value.classifyMs };
        },
        { inThread: build === "calling thread" },
      ),
    );
  }
  return rows;
}

export function coldClassifyLines(rows: ColdClassifyRow[]): string[] {
  const after = rows.find((r) => r.build === "worker threads")!;
  return [
    `\`classify_image\` of one new 640×480 JPEG on a cold task of ${EVAL_EXAMPLES.toLocaleString("en")} stored examples (${EVAL_LABELS} labels, ${EVAL_SHAPE.layers} × ${EVAL_SHAPE.heads} heads × ${EVAL_SHAPE.headDim}, k = 20): the first call after a change builds the classifier and fits its calibration (leave-one-out temperature) before it extracts; list_tasks sent every ${LIST_INTERVAL_MS} ms meanwhile, as above. Before: build and fit on the calling thread; after: in worker threads (the default). ONNX sessions in their worker thread in both.`,
    "",
    `| classifier build and calibration | classify_image (ms) | list_tasks calls answered | median (ms) | max (ms) | loop delay p50 (ms) | p99 (ms) | max (ms) |`,
    "|---|---:|---:|---:|---:|---:|---:|---:|",
    ...rows.map(
      (r) =>
        `| ${r.build} | ${ms(r.classifyMs)} | ${r.latency.calls} | ${ms(r.latency.median)} | ${ms(r.latency.max)} | ${ms(r.lag.p50)} | ${ms(r.lag.p99)} | ${ms(r.lag.max)} |`,
    ),
    "",
    `Goal with worker threads (list_tasks < ${LIST_GOAL_MS} ms): ${yes(after.latency.max < LIST_GOAL_MS)}, max ${ms(after.latency.max)} ms (event-loop resolution ${RESOLUTION_MS} ms).`,
  ];
}

/** This part alone (the full section runs it too). */
export async function runColdClassifyFreeze(): Promise<string> {
  await ensureBenchModel();
  const loadBefore = os.loadavg();
  const temp = await mkdtemp(path.join(os.tmpdir(), "sav-bench-freeze-classify-"));
  const models = new BenchModels("worker");
  try {
    const rows = await measureColdClassify(temp, models);
    return [...coldClassifyLines(rows), "", loadNote(loadBefore, os.loadavg()), ""].join("\n");
  } finally {
    await models.close();
    await rm(temp, { recursive: true, force: true });
  }
}

runIfMain(import.meta.url, runColdClassifyFreeze);

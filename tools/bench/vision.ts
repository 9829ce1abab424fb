/**
 * Vision section: the vision encoder alone, per new image (one 512×512 frame, the runner's default without
 * image splitting), on the full-size SmolVLM-256M-shaped model, int8 and fp32: the published graph as
 * transformers.js runs it (same onnxruntime-node, its session options), the published graph with ours, the
 * mask-dropped graph and the mask-dropped + fused graph (vision-graph.ts), interleaved in one process; output
 * max abs diff against the published graph; load time cold (edit + verify + load) and warm (cached). Then a
 * quick look at session options on the fused int8 graph.
 *
 *   npm run bench -- vision                 # VISION_ROUNDS=5 by default
 */
import { readdirSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import * as ort from "onnxruntime-node";
import { sessionOptions } from "../../src/model/session-host.js";
import { prepareVision, probeFeeds, type VisionProbeInput, type VisionSourceSpec } from "../../src/model/vision-cache.js";
import { ModelRunner } from "../../src/model/runner.js";
import { BENCH_MODEL_DIR, ensureBenchModel, log, median, ms, ratio, runIfMain, testImage } from "./common.js";
import { headAgreement, hostLine } from "./compare.js";

const ROUNDS = Number(process.env.VISION_ROUNDS ?? 5);
const THREADS = os.availableParallelism();
const INT8_DTYPES = { vision_encoder: "int8", embed_tokens: "int8", decoder_model_merged: "int8" };
const AGREEMENT_IMAGES = 4;
/** SmolVLM-256M's decoder head size. */
const HEAD_DIM = 64;
const TILE = 512;
const PROBE: VisionProbeInput[] = [
  { name: "pixel_values", type: "float32", dims: [1, 1, 3, TILE, TILE], fill: "random" },
  { name: "pixel_attention_mask", type: "bool", dims: [1, 1, TILE, TILE], fill: "ones" },
];
/** What transformers.js passes (tools/bench/peer-child.ts): no spinning setting. */
const PEER_OPTIONS: ort.InferenceSession.SessionOptions = { intraOpNumThreads: THREADS, interOpNumThreads: 1, executionMode: "sequential", graphOptimizationLevel: "all" };

interface Variant {
  name: string;
  session: ort.InferenceSession;
  times: number[];
  diff?: number;
}

function maxAbsDiff(a: ort.Tensor, b: ort.Tensor): number {
  const x = a.data as Float32Array;
  const y = b.data as Float32Array;
  let max = 0;
  for (let i = 0; i < x.length; i++) max = Math.max(max, Math.abs(x[i]! - y[i]!));
  return max;
}

function clearEdits(source: string): void {
  const dir = path.dirname(source);
  const base = path.basename(source, ".onnx");
  for (const name of readdirSync(dir)) if (name.startsWith(`${base}.sav-vision-`)) rmSync(path.join(dir, name), { force: true });
}

async function timed<T>(run: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const start = performance.now();
  const value = await run();
  return { value, ms: performance.now() - start };
}

/** Loads the edited graph (cold: from an empty cache; warm: from the cache) and reports both load times. */
async function loadEdited(spec: VisionSourceSpec, options: ort.InferenceSession.SessionOptions) {
  clearEdits(spec.source);
  const cold = await timed(async () => {
    const prepared = await prepareVision(spec, options);
    if (!prepared.path) throw new Error(`the edit of ${spec.source} was not verified: ${prepared.verdict.reason}`);
    return { prepared, session: await ort.InferenceSession.create(prepared.path, options) };
  });
  await cold.value.session.release();
  const warm = await timed(async () => {
    const prepared = await prepareVision(spec, options);
    return { prepared, session: await ort.InferenceSession.create(prepared.path!, options) };
  });
  return { session: warm.value.session, verdict: warm.value.prepared.verdict, coldMs: cold.ms, warmMs: warm.ms, warmCached: !warm.value.prepared.cold };
}

async function runRounds(variants: Variant[], rounds: number): Promise<void> {
  for (let round = 0; round <= rounds; round++) {
    // Round 0 warms up; the order alternates so that drift in the host's load is shared.
    const order = round % 2 === 0 ? variants : [...variants].reverse();
    for (const variant of order) {
      const feeds = probeFeeds(PROBE);
      const start = performance.now();
      await variant.session.run(feeds);
      if (round > 0) variant.times.push(performance.now() - start);
    }
    if (round > 0) log(`  round ${round}: ${variants.map((v) => `${v.name} ${v.times[round - 1]!.toFixed(0)} ms`).join(", ")}`);
  }
}

/** The published graph's output per dtype, to put the edit's int8 difference beside int8's own quantisation error. */
const publishedOutputs = new Map<string, ort.Tensor>();

async function measureDtype(dtype: "int8" | "fp32", lines: string[]): Promise<void> {
  const source = path.join(BENCH_MODEL_DIR, "onnx", dtype === "fp32" ? "vision_encoder.onnx" : `vision_encoder_${dtype}.onnx`);
  const options = sessionOptions(THREADS);
  const base = { source, probe: PROBE };
  log(`[vision] ${dtype}: loading`);
  const publishedLoad = await timed(() => ort.InferenceSession.create(source, options));
  const peer = await ort.InferenceSession.create(source, PEER_OPTIONS);
  const dropped = await loadEdited({ ...base, edit: { unpaddedMaskInputs: ["pixel_attention_mask"], fuseAttention: false } }, options);
  const fused = await loadEdited({ ...base, edit: { unpaddedMaskInputs: ["pixel_attention_mask"] } }, options);
  const variants: Variant[] = [
    { name: "published, transformers.js options", session: peer, times: [] },
    { name: "published", session: publishedLoad.value, times: [] },
    { name: "mask dropped", session: dropped.session, times: [] },
    { name: "mask dropped + fused", session: fused.session, times: [] },
  ];
  const want = (await publishedLoad.value.run(probeFeeds(PROBE))).image_features!;
  publishedOutputs.set(dtype, want);
  for (const v of variants) v.diff = maxAbsDiff(want, (await v.session.run(probeFeeds(PROBE))).image_features!);
  await runRounds(variants, ROUNDS);
  const peerMs = median(variants[0]!.times);
  lines.push(
    `**${dtype}** (fused ${fused.verdict.report.attentionsFused} of 12 attention blocks, dropped ${fused.verdict.report.maskAddsDropped} mask Adds; ` +
      `verification: per-block diff ${fused.verdict.blockDiff?.toExponential(1)} of scale, end-to-end ${fused.verdict.maxAbsDiff?.toExponential(1)} of ${fused.verdict.outputScale?.toFixed(2)})`,
    "",
    "| graph | per image (median) | min | × transformers.js options (median) | × published (median) | max abs diff vs published | load |",
    "|---|---:|---:|---:|---:|---:|---|",
  );
  const loads = [
    "—",
    `${ms(publishedLoad.ms)} ms`,
    `cold ${ms(dropped.coldMs)} ms, warm ${ms(dropped.warmMs)} ms`,
    `cold ${ms(fused.coldMs)} ms, warm ${ms(fused.warmMs)} ms${fused.warmCached ? "" : " (warm re-verified!)"}`,
  ];
  const publishedMs = median(variants[1]!.times);
  variants.forEach((v, i) => {
    const t = median(v.times);
    lines.push(`| ${v.name} | ${ms(t)} ms | ${ms(Math.min(...v.times))} ms | ${ratio(t / peerMs)} | ${ratio(t / publishedMs)} | ${v.diff!.toExponential(1)} | ${loads[i]} |`);
  });
  lines.push("");
  await Promise.all(variants.map((v) => v.session.release()));
  if (dtype === "int8") await measureOptions(source, lines);
}

/** Session options on the fused int8 graph, each against our default in the same rounds. */
async function measureOptions(source: string, lines: string[]): Promise<void> {
  const prepared = await prepareVision({ source, probe: PROBE, edit: { unpaddedMaskInputs: ["pixel_attention_mask"] } }, sessionOptions(THREADS));
  const file = prepared.path!;
  const base = sessionOptions(THREADS);
  const candidates: [string, ort.InferenceSession.SessionOptions][] = [
    ["default (all, sequential, arena, no spinning)", base],
    ["graphOptimizationLevel extended", { ...base, graphOptimizationLevel: "extended" }],
    ["enableCpuMemArena false", { ...base, enableCpuMemArena: false }],
    ["executionMode parallel, 2 inter-op threads", { ...base, executionMode: "parallel", interOpNumThreads: 2 }],
    ["spinning allowed", { ...base, extra: {} }],
    [`intraOpNumThreads ${Math.max(1, THREADS - 1)}`, { ...base, intraOpNumThreads: Math.max(1, THREADS - 1) }],
  ];
  log("[vision] session options on the fused int8 graph");
  const variants: Variant[] = [];
  for (const [name, options] of candidates) variants.push({ name, session: await ort.InferenceSession.create(file, options), times: [] });
  await runRounds(variants, ROUNDS);
  const reference = median(variants[0]!.times);
  lines.push("Session options, fused int8 graph, same rounds:", "", "| options | per image (median) | min | × default |", "|---|---:|---:|---:|");
  for (const v of variants) lines.push(`| ${v.name} | ${ms(median(v.times))} ms | ${ms(Math.min(...v.times))} ms | ${ratio(median(v.times) / reference)} |`);
  lines.push("");
  await Promise.all(variants.map((v) => v.session.release()));
}

/**
 * What the edit does to the features a task stores: head vectors of the same new images through two runners,
 * the vision edit on and off (stored vectors of a task made before the edit meet queries made after it).
 */
async function headVectorAgreement(lines: string[]): Promise<void> {
  lines.push("Head vectors through the runner, vision edit on against off (the published graph), the same new 640×480 images:", "");
  lines.push("| dtypes | images | per-head cosine mean | 5th percentile | min | whole-vector cosine |", "|---|---:|---:|---:|---:|---:|");
  for (const [name, dtypes] of [["int8", INT8_DTYPES], ["fp32", {}]] as const) {
    const images = await Promise.all(Array.from({ length: AGREEMENT_IMAGES }, (_, i) => testImage(61_000 + i)));
    const vectors: Float32Array[][] = [];
    for (const editVision of [true, false]) {
      const runner = await ModelRunner.create({ id: "vision-agreement", dir: BENCH_MODEL_DIR, dtypes, randomWeights: true }, { threads: THREADS, editVision });
      try {
        const run: Float32Array[] = [];
        for (const image of images) run.push((await runner.extract({ images: [image], text: "What is in this image?" })).vectors);
        vectors.push(run);
      } finally {
        await runner.close();
      }
    }
    const agreement = headAgreement(vectors[0]!, vectors[1]!, HEAD_DIM);
    log(`[vision] ${name} head vectors edit on/off: mean cosine ${agreement.meanCosine.toFixed(6)}, min ${agreement.minCosine.toFixed(6)}`);
    lines.push(
      `| ${name} | ${agreement.pairs} | ${agreement.meanCosine.toFixed(6)} | ${agreement.p5Cosine.toFixed(6)} | ${agreement.minCosine.toFixed(6)} | ${agreement.wholeCosine.toFixed(6)} |`,
    );
  }
  lines.push("");
}

export async function runVisionBenchmark(): Promise<string> {
  await ensureBenchModel();
  const load = os.loadavg().map((x) => x.toFixed(2)).join(", ");
  const lines = [
    "## Vision encoder graph edits",
    "",
    `Per new image: one 512×512 frame (pixel_values [1, 1, 3, 512, 512], all-true mask), ${ROUNDS} interleaved rounds after a warm-up, ` +
      `${THREADS} threads; generated SmolVLM-256M-shaped model. "transformers.js options" is the published graph on the same onnxruntime-node ` +
      "with the session options transformers.js is given in the peer section (no spinning setting); the peer section measures transformers.js itself.",
    "",
    `Host: ${hostLine()}; load average at start ${load}.`,
    "",
  ];
  for (const dtype of ["int8", "fp32"] as const) await measureDtype(dtype, lines);
  await headVectorAgreement(lines);
  const [int8, fp32] = [publishedOutputs.get("int8"), publishedOutputs.get("fp32")];
  if (int8 && fp32) lines.push(`For scale: the published int8 graph differs from the published fp32 graph by ${maxAbsDiff(fp32, int8).toExponential(1)} (max abs) on the same input.`, "");
  lines.push(`Load average at end ${os.loadavg().map((x) => x.toFixed(2)).join(", ")}.`);
  return lines.join("\n");
}

runIfMain(import.meta.url, runVisionBenchmark);

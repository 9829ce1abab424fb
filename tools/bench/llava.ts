/**
 * LLaVA-OneVision section (issue 10 §4): on the generated full-size LLaVA-OneVision-0.5B-shaped model, per new
 * 640×480 JPEG: fp32 / int8 / q4 per stage on the single path (the manifest's default dtypes chosen from it),
 * sav-mcp against transformers.js on the single path (interleaved image by image), the anyres path (crops, image
 * tokens, encoder, packing, decoder), peak RSS of each process. Every part runs in its own child
 * (tools/bench/llava-child.ts). The model is generated once into a cache directory outside the repository.
 *
 *   npm run bench -- llava
 *   LLAVA_ROUNDS=3 LLAVA_DTYPE_ROUNDS=2 LLAVA_ANYRES_ROUNDS=2 SAV_BENCH_CACHE=/tmp/bench npm run bench -- llava
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { planAnyres } from "../../src/model/families/llava_onevision/anyres.js";
import { parseLlavaOnevisionConfig } from "../../src/model/families/llava_onevision/config.js";
import { packLayout } from "../../src/model/families/llava_onevision/packing.js";
import { LLAVA_ONEVISION_PRESETS } from "../../src/model/families/llava_onevision/tiny/presets.js";
import { chooseDtype, hostLine } from "./compare.js";
import { log, mb, ms, ratio, ROOT, runChild, yes, runIfMain } from "./common.js";
import { LLAVA_PRESET, type AnyresResult, type Dtypes, type DtypesResult, type GenerateResult, type LlavaChildConfig, type PeerResult } from "./llava-child.js";

const CHILD = "tools/bench/llava-child.ts";
const THREADS = 2;
const rounds = (name: string, fallback: number): number => Math.max(1, Number(process.env[name] ?? fallback));
const PEER_ROUNDS = rounds("LLAVA_ROUNDS", 3);
const DTYPE_ROUNDS = rounds("LLAVA_DTYPE_ROUNDS", 2);
const ANYRES_ROUNDS = rounds("LLAVA_ANYRES_ROUNDS", 2);
const MANIFEST = path.join(ROOT, "models", "llava-onevision-qwen2-0.5b-ov.json");
/** q4 must beat int8 by this much to be the default: its head vectors are further from fp32's. */
const Q4_MARGIN = 0.1;
const EXPECTED_640x480_TOKENS = 2929;

type Measured<T> = T & { peakRssBytes: number; loadAverage: number[] };

function cacheDir(): string {
  const base = process.env.SAV_BENCH_CACHE ?? path.join(process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), ".cache"), "sav-mcp", "bench");
  return path.join(base, LLAVA_PRESET);
}

/** Generation time and peak RSS, kept beside the model so that later runs can still report them. */
async function ensureModel(dir: string): Promise<{ seconds: number; peakRssBytes: number; now: boolean } | undefined> {
  const record = `${dir}.generation.json`;
  log(`[llava] model in ${dir} (generated if missing: a few minutes)`);
  const result = await runChild<Measured<GenerateResult>>(CHILD, { mode: "generate", dir } satisfies LlavaChildConfig);
  if (result.generated) {
    writeFileSync(record, JSON.stringify({ seconds: result.seconds, peakRssBytes: result.peakRssBytes, at: new Date().toISOString() }));
    return { seconds: result.seconds, peakRssBytes: result.peakRssBytes, now: true };
  }
  if (!existsSync(record)) return undefined;
  return { ...(JSON.parse(readFileSync(record, "utf8")) as { seconds: number; peakRssBytes: number }), now: false };
}

const f2 = (value: number): string => value.toFixed(4);
const load = (l: number[]): string => l.map((x) => x.toFixed(1)).join(" / ");

export async function runLlavaBenchmark(): Promise<string> {
  const dir = cacheDir();
  const loadBefore = os.loadavg();
  const started = performance.now();
  const generation = await ensureModel(dir);

  log(`[llava] fp32 / int8 / q4 on the single path, ${DTYPE_ROUNDS} round(s)`);
  const matrix = await runChild<Measured<DtypesResult>>(CHILD, { mode: "dtypes", dir, threads: THREADS, rounds: DTYPE_ROUNDS, dtypes: ["fp32", "int8", "q4"] } satisfies LlavaChildConfig);
  const row = (dtype: string) => matrix.rows.find((r) => r.dtype === dtype)!;
  const stage = (key: "visionMs" | "decoderMs") => Object.fromEntries(matrix.rows.map((r) => [r.dtype, r[key]]));
  const manifest = JSON.parse(readFileSync(MANIFEST, "utf8")) as { defaultDtypes: Record<string, string>; variants: Record<string, Record<string, unknown>> };
  // fp32 is measured for reference; only the quantized files are candidates (the hub has no fp32 vision encoder).
  const offered = (component: string) => ["int8", "q4"].filter((d) => d in manifest.variants[component]!);
  const chosen: Dtypes = {
    vision: chooseDtype(stage("visionMs"), offered("vision_encoder"), "int8", Q4_MARGIN),
    decoder: chooseDtype(stage("decoderMs"), offered("decoder_model_merged"), "int8", Q4_MARGIN),
  };
  const current: Dtypes = { vision: manifest.defaultDtypes.vision_encoder!, decoder: manifest.defaultDtypes.decoder_model_merged! };

  log(`[llava] single path, sav-mcp ${chosen.vision}/${chosen.decoder} vs transformers.js, ${PEER_ROUNDS} pair(s)`);
  const peer = await runChild<Measured<PeerResult>>(CHILD, { mode: "peer", dir, threads: THREADS, rounds: PEER_ROUNDS, dtypes: chosen } satisfies LlavaChildConfig);
  log(`[llava] anyres path, ${ANYRES_ROUNDS} image(s)`);
  const anyres = await runChild<Measured<AnyresResult>>(CHILD, { mode: "anyres", dir, threads: THREADS, rounds: ANYRES_ROUNDS, dtypes: chosen } satisfies LlavaChildConfig);
  const loadAfter = os.loadavg();
  const minutes = (performance.now() - started) / 60000;

  const config = parseLlavaOnevisionConfig(JSON.parse(readFileSync(path.join(dir, "config.json"), "utf8")), JSON.parse(readFileSync(path.join(dir, "preprocessor_config.json"), "utf8")));
  const original = { height: 480, width: 640 };
  const plan = planAnyres(original, config.pinpoints, config.image.size);
  const geometry = packLayout(original, plan.gridRows, plan.gridCols, config.featureSide, config.maxCrops);
  const sizes = LLAVA_ONEVISION_PRESETS[LLAVA_PRESET];
  const s = peer.sav;
  const p = peer.peer;
  const rel = (dtype: string, key: "visionMs" | "decoderMs") => ratio(row(dtype)[key] / row("int8")[key]);

  return [
    "## LLaVA-OneVision-0.5B-shaped model (llava_onevision family)",
    "",
    `Per new 640×480 JPEG (every image distinct, so no cache helps), ${THREADS} ONNX Runtime threads, prompt "What is in this image?", chat template.`,
    `Host: ${hostLine()}; 1/5/15-min load average ${load(loadBefore)} before the section and ${load(loadAfter)} after`,
    `(2 cores), so absolute times are inflated; the ratios are measured back to back in one process. The section took ${minutes.toFixed(0)} minutes.`,
    `The model is generated with the published 0.5B shapes (preset \`${LLAVA_PRESET}\`: Qwen2 ${sizes.text.numLayers} layers, hidden ${sizes.text.hiddenSize}, ${sizes.text.numHeads} heads / ${sizes.text.numKeyValueHeads} KV of 64,`,
    `MLP ${sizes.text.intermediateSize}, vocabulary 151936; SigLIP ${sizes.vision.numLayers} layers × ${sizes.vision.hiddenSize}, MLP ${sizes.vision.intermediateSize}, 384-px crops of 729 patches; random weights) into`,
    `\`${dir.replace(os.homedir(), "~")}\`, outside the repository` +
      (generation
        ? `; generating fp32 + int8 + q4 took ${generation.seconds.toFixed(0)} s with a ${mb(generation.peakRssBytes)} peak RSS${generation.now ? " (in this run)" : " (an earlier run)"}.`
        : " (generated before its generation was recorded)."),
    "",
    `### Default dtypes, measured (single path, one runner per dtype, the same new image for each per round, median of ${matrix.rounds} after a warm-up)`,
    "",
    "| graphs (vision and decoder) | vision encoder | decoder (edited) | whole | vision / int8 | decoder / int8 | head vectors vs fp32: mean / 5th pct / min per-head cosine |",
    "|---|---:|---:|---:|---:|---:|---|",
    ...matrix.rows.map((r) => {
      const a = matrix.agreement[r.dtype];
      return `| ${r.dtype}${r.dtype === "fp32" ? " (no fp32 vision file is published)" : ""} | ${ms(r.visionMs)} ms | ${ms(r.decoderMs)} ms | ${ms(r.totalMs)} ms | ${rel(r.dtype, "visionMs")} | ${rel(r.dtype, "decoderMs")} | ${a ? `${f2(a.meanCosine)} / ${f2(a.p5Cosine)} / ${f2(a.minCosine)}` : "reference"} |`;
    }),
    "",
    `Rule: per graph the faster of int8 and q4, q4 only when at least ${Q4_MARGIN * 100}% faster than int8, because its 4-bit weights move the head vectors further`,
    `from fp32 (random weights are benign for quantization; real weights with outliers fare worse, so check a real task with \`evaluate_task\`).`,
    `Chosen: vision ${chosen.vision}, decoder ${chosen.decoder} (embed_tokens fp32: the hub has no int8 table). The manifest's default is vision ${current.vision}, decoder ${current.decoder}: ` +
      (chosen.vision === current.vision && chosen.decoder === current.decoder ? "the same." : "**different — update models/llava-onevision-qwen2-0.5b-ov.json**."),
    "",
    `### Single path: sav-mcp against transformers.js (${chosen.vision} vision, ${chosen.decoder} decoder, both sides the same files)`,
    "",
    `${peer.rounds} image pairs after a warm-up pair, alternating which side goes first; ${peer.promptTokens} prompt tokens (729 image rows).`,
    "transformers.js 4.3: `RawImage.fromBlob`, `AutoProcessor` (its LlavaOnevisionImageProcessor: one 384² view), the chat template with `<image>` expanded",
    "to 729, and one `forward` of `LlavaOnevisionForConditionalGeneration` (vision encoder, embeddings, the unedited decoder with logits at every position).",
    "",
    "| stage | sav-mcp | transformers.js |",
    "|---|---:|---:|",
    `| preprocessing / processor + tokenizer | ${ms(s.preprocessMs)} ms | ${ms(p.processorMs)} ms |`,
    `| vision encoder | ${ms(s.visionMs)} ms | ${ms(p.visionMs)} ms |`,
    `| decoder (sav-mcp: embeddings + edited decoder; transformers.js: embed_tokens ${ms(p.embedMs)} ms + decoder) | ${ms(s.decoderMs)} ms | ${ms(p.decoderMs)} ms |`,
    `| whole | ${ms(s.totalMs)} ms | ${ms(p.totalMs)} ms |`,
    "",
    `Whole sav-mcp / transformers.js: median of per-pair ratios **${ratio(peer.ratio)}** (pairs: ${peer.ratios.map(ratio).join(", ")}); goal ≤ 0.7: ${yes(peer.ratio <= 0.7)}.`,
    `Peak RSS: sav-mcp ${mb(peer.savRssBytes)} (the child's maxRSS after its first image, before transformers.js loaded); both loaded, sampled during the pairs,`,
    `${mb(peer.bothRssBytes)}.`,
    "",
    `### anyres path (the paper's), sav-mcp only (${chosen.vision} vision, ${chosen.decoder} decoder; median of ${anyres.rounds} new images after a warm-up)`,
    "",
    `A 640×480 image picks the ${plan.best.height}×${plan.best.width} pinpoint: ${plan.gridRows}×${plan.gridCols} grid crops + the whole image = ${anyres.crops} crops through the encoder in one batch;`,
    `the ${plan.gridRows * config.featureSide}×${plan.gridCols * config.featureSide} grid map unpads to ${geometry.unpadded.height}×${geometry.unpadded.width} (${geometry.pooled.height === geometry.unpadded.height && geometry.pooled.width === geometry.unpadded.width ? "under the anyres_max_9 budget, not pooled" : `pooled to ${geometry.pooled.height}×${geometry.pooled.width}`}), plus a newline row per map row, after the 729 base rows:`,
    `**${anyres.imageTokens} image tokens** (the processor's formula gives ${EXPECTED_640x480_TOKENS}: ${anyres.imageTokens === EXPECTED_640x480_TOKENS ? "equal" : "**differs**"}), ${anyres.promptTokens} prompt tokens.`,
    "",
    "| stage | sav-mcp anyres | anyres / single (indicative) |",
    "|---|---:|---:|",
    `| preprocessing (decode, select_best_resolution, PIL bicubic, pad, crops) | ${ms(anyres.preprocessMs)} ms | ${ratio(anyres.preprocessMs / s.preprocessMs)} |`,
    `| vision encoder (${anyres.crops} crops, one batch) | ${ms(anyres.encoderMs)} ms | ${ratio(anyres.encoderMs / s.visionMs)} |`,
    `| packing (re-tile, unpad, newline rows, tensor copies) | ${ms(anyres.packingMs)} ms | — |`,
    `| decoder (embeddings + edited decoder over ${anyres.promptTokens} tokens) | ${ms(anyres.decoderMs)} ms | ${ratio(anyres.decoderMs / s.decoderMs)} |`,
    `| whole | ${ms(anyres.totalMs)} ms | ${ratio(anyres.totalMs / s.totalMs)} |`,
    "",
    `Peak RSS of the anyres process: ${mb(anyres.peakRssBytes)}. No transformers.js comparison here: transformers.js 4.3 has no LLaVA-OneVision anyres`,
    "processing (its LlavaOnevisionImageProcessor is the generic one-view processor and its model class is the generic LLaVA one, which merges the",
    "encoder rows as they come, with no unpadding, pooling or image_newline), so it cannot compute the Python anyres path; timing its single path",
    "against our anyres would compare different work. The last column divides medians measured in different children (different moments of load).",
  ].join("\n");
}

runIfMain(import.meta.url, async () => `${await runLlavaBenchmark()}\n`);

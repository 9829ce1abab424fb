/**
 * Qwen2-VL section: per new 640×480 photo at the default pixel budget, on a generated model with every
 * Qwen2-VL-2B width but 2 decoder layers and 2 vision blocks (int8 graphs): preprocessing, vision encoder,
 * decoder and whole extraction for sav-mcp, against transformers.js (its processor and one forward) on the
 * same files and threads in the same run; the per-layer costs scaled to the full depth (28 layers, 32
 * blocks); image tokens against maxPixels.
 *
 *   npm run bench -- qwen2vl
 */
import path from "node:path";
import { AutoProcessor, Qwen2VLForConditionalGeneration, RawImage, env } from "@huggingface/transformers";
import sharp from "sharp";
import { ModelRunner } from "../../src/model/runner.js";
import { DEFAULT_MAX_PIXELS, imageTokenCount } from "../../src/model/families/qwen2_vl/image-processor.js";
import { smartResize } from "../../src/model/families/qwen2_vl/smart-resize.js";
import { ensureQwen2VLModel } from "../../src/model/families/qwen2_vl/tiny/index.js";
import { log, median, ms, mb, ratio, ROOT } from "./common.js";

const PRESET = "qwen2-vl-2b-depth2";
const DIR = path.join(ROOT, "models", "generated", PRESET);
const ROUNDS = 3;
const THREADS = 2;
const FULL = { layers: 28, blocks: 32 };
const BENCH = { layers: 2, blocks: 2 };
const DTYPES = { vision_encoder: "int8", embed_tokens: "int8", decoder_model_merged: "int8" };
const TEXT = "What is in this image?";

async function photo(seed: number): Promise<Buffer> {
  const [w, h] = [640, 480];
  const raw = Buffer.alloc(w * h * 3);
  let s = seed;
  for (let i = 0; i < raw.length; i++) raw[i] = (Math.sin(i * 0.0007 + seed) * 100 + 128 + (((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) >>> 28) - 8)) & 255;
  return sharp(raw, { raw: { width: w, height: h, channels: 3 } }).jpeg({ quality: 90 }).toBuffer();
}

export async function runQwen2VLBenchmark(): Promise<string> {
  log(`[qwen2vl] generating ${PRESET} (int8) if missing`);
  await ensureQwen2VLModel(DIR, { preset: PRESET, variants: ["int8"], onProgress: log });
  const loadBefore = (await import("node:os")).loadavg();

  const runner = await ModelRunner.create({ id: PRESET, dir: DIR, dtypes: DTYPES }, { threads: THREADS });
  const ours: { preprocessMs: number; visionMs: number; decoderMs: number; totalMs: number }[] = [];
  let promptTokens = 0;
  for (let i = 0; i <= ROUNDS; i++) {
    const result = await runner.extract({ images: [await photo(i + 1)], text: TEXT });
    promptTokens = result.promptTokens;
    if (i > 0) ours.push(result.timings);
    log(`[qwen2vl] sav-mcp round ${i}: ${result.timings.totalMs.toFixed(0)} ms`);
  }
  await runner.close();
  const savRss = process.resourceUsage().maxRSS * 1024;

  env.allowRemoteModels = false;
  env.localModelPath = `${path.dirname(DIR)}/`;
  const processor = await AutoProcessor.from_pretrained(PRESET);
  (processor.image_processor as unknown as { max_pixels: number }).max_pixels = DEFAULT_MAX_PIXELS;
  const model = await Qwen2VLForConditionalGeneration.from_pretrained(PRESET, { dtype: "int8", session_options: { intraOpNumThreads: THREADS, interOpNumThreads: 1 } });
  const peer: { processorMs: number; forwardMs: number }[] = [];
  for (let i = 0; i <= ROUNDS; i++) {
    const image = await RawImage.fromBlob(new Blob([await photo(100 + i)]));
    const started = performance.now();
    const text = processor.apply_chat_template([{ role: "user", content: [{ type: "image" }, { type: "text", text: TEXT }] }], { add_generation_prompt: true });
    const inputs = await processor(text, image);
    const processed = performance.now();
    await model.forward(inputs);
    const done = performance.now();
    if (i > 0) peer.push({ processorMs: processed - started, forwardMs: done - processed });
    log(`[qwen2vl] transformers.js round ${i}: ${(done - started).toFixed(0)} ms`);
  }
  await model.dispose();
  const loadAfter = (await import("node:os")).loadavg();

  const m = (key: keyof (typeof ours)[number]): number => median(ours.map((r) => r[key]));
  const scaled = { vision: (m("visionMs") * FULL.blocks) / BENCH.blocks, decoder: (m("decoderMs") * FULL.layers) / BENCH.layers };
  const peerProcessor = median(peer.map((r) => r.processorMs));
  const peerForward = median(peer.map((r) => r.forwardMs));
  const tokens = [50_176, 100_352, DEFAULT_MAX_PIXELS, 401_408, 802_816, 12_845_056].map((budget) => {
    const size = smartResize(480, 640, { factor: 28, minPixels: 3136, maxPixels: budget });
    return `| ${budget}${budget === DEFAULT_MAX_PIXELS ? " (default)" : ""} | ${size.width}×${size.height} | ${imageTokenCount([1, size.height / 14, size.width / 14], 2)} |`;
  });
  return [
    "## Qwen2-VL-2B-shaped model (qwen2_vl family)",
    "",
    `Per new 640×480 JPEG at the default maxPixels ${DEFAULT_MAX_PIXELS} (234 image tokens, ${promptTokens} prompt tokens), int8 graphs, ${THREADS} threads,`,
    `median of ${ROUNDS} rounds after a warm-up. The model has every Qwen2-VL-2B width (hidden 1536, 12 heads / 2 KV of 128, MLP 8960; vision 1280 × 16 heads,`,
    `the 1176-wide patch embedding and the PatchMerger) but ${BENCH.layers} decoder layers and ${BENCH.blocks} vision blocks; "scaled" multiplies the per-layer cost`,
    `to the full 28 layers and 32 blocks (the parts outside the layers — patch embedding, merger, mask and rotary set-up — are multiplied too, so it over-counts).`,
    `The machine is a 2-core host shared with other agents (load average ${loadBefore[0]!.toFixed(1)} before, ${loadAfter[0]!.toFixed(1)} after): absolute times are contended; compare ratios.`,
    "",
    "| stage | sav-mcp (measured) | sav-mcp (scaled to full depth) |",
    "|---|---|---|",
    `| preprocessing (decode, smart_resize, PIL bicubic, patches) | ${ms(m("preprocessMs"))} ms | ${ms(m("preprocessMs"))} ms |`,
    `| vision encoder | ${ms(m("visionMs"))} ms | ${ms(scaled.vision)} ms |`,
    `| decoder (edited, head vectors only) | ${ms(m("decoderMs"))} ms | ${ms(scaled.decoder)} ms |`,
    `| whole extraction | ${ms(m("totalMs"))} ms | ${ms(m("preprocessMs") + scaled.vision + scaled.decoder)} ms |`,
    "",
    "| same files, same threads, one run | sav-mcp | transformers.js (processor + one forward) | ratio |",
    "|---|---|---|---|",
    `| preprocessing / processor | ${ms(m("preprocessMs"))} ms | ${ms(peerProcessor)} ms | ${ratio(m("preprocessMs") / peerProcessor)} |`,
    `| whole (depth-reduced model) | ${ms(m("totalMs"))} ms | ${ms(peerProcessor + peerForward)} ms | ${ratio(m("totalMs") / (peerProcessor + peerForward))} |`,
    "",
    `Peak RSS of the sav-mcp part (depth-reduced model, before transformers.js loaded; includes the generator when this run generated the model): ${mb(savRss)}.`,
    "transformers.js's forward also computes logits at every position (lm_head 1536 × 151936), which sav-mcp's edited decoder prunes; on this",
    "depth-reduced model that weighs more than it would at full depth. Its processor resizes with half-up rounding and sharp's bicubic; on 640×480 both",
    "give the 504×364 grid at this budget.",
    "",
    "Image tokens for a 640×480 photo against maxPixels (smart_resize, Python rounding):",
    "",
    "| maxPixels | resized | image tokens |",
    "|---|---|---|",
    ...tokens,
  ].join("\n");
}

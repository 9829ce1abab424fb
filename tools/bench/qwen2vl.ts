/**
 * Qwen2-VL section: per new 640×480 photo at the default pixel budget, on the generated full-size
 * Qwen2-VL-2B-shaped model (int8 graphs): preprocessing, vision encoder, decoder and whole extraction for
 * sav-mcp, against transformers.js (its processor and one forward) on the same files and threads in the same
 * run; peak RSS; image tokens against maxPixels.
 *
 *   npm run bench -- qwen2vl
 *   QWEN2VL_PRESET=qwen2-vl-2b-depth2 QWEN2VL_ROUNDS=3 npm run bench -- qwen2vl   # depth-reduced, scaled up
 */
import { existsSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { AutoProcessor, Qwen2VLForConditionalGeneration, RawImage, env } from "@huggingface/transformers";
import sharp from "sharp";
import { ModelRunner } from "../../src/model/runner.js";
import { DEFAULT_MAX_PIXELS, imageTokenCount } from "../../src/model/families/qwen2_vl/image-processor.js";
import { smartResize } from "../../src/model/families/qwen2_vl/smart-resize.js";
import { ensureQwen2VLModel } from "../../src/model/families/qwen2_vl/tiny/index.js";
import { QWEN2_VL_PRESETS, isQwen2VLPreset, type Qwen2VLPreset } from "../../src/model/families/qwen2_vl/tiny/presets.js";
import { log, median, ms, mb, ratio, ROOT } from "./common.js";
import { hostLine, interleaved, sampleRss } from "./compare.js";

const PRESET: Qwen2VLPreset = presetFromEnv(process.env.QWEN2VL_PRESET ?? "qwen2-vl-2b");
const DIR = path.join(ROOT, "models", "generated", PRESET);
const ROUNDS = Number(process.env.QWEN2VL_ROUNDS ?? 2);
const THREADS = 2;
const FULL = { layers: QWEN2_VL_PRESETS["qwen2-vl-2b"].text.numLayers, blocks: QWEN2_VL_PRESETS["qwen2-vl-2b"].vision.depth };
const BENCH = { layers: QWEN2_VL_PRESETS[PRESET].text.numLayers, blocks: QWEN2_VL_PRESETS[PRESET].vision.depth };
const SCALED = BENCH.layers !== FULL.layers || BENCH.blocks !== FULL.blocks;
const DTYPES = { vision_encoder: "int8", embed_tokens: "int8", decoder_model_merged: "int8" };
function presetFromEnv(value: string): Qwen2VLPreset {
  if (!isQwen2VLPreset(value)) throw new Error(`QWEN2VL_PRESET=${value} is not a Qwen2-VL preset; use qwen2-vl-2b or qwen2-vl-2b-depth2`);
  return value;
}

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
  const generated = !existsSync(path.join(DIR, ".generator.json"));
  await ensureQwen2VLModel(DIR, { preset: PRESET, variants: ["int8"], onProgress: log });
  const loadBefore = os.loadavg();

  // sav-mcp alone first (a warm-up image), so its peak RSS is its own.
  const runner = await ModelRunner.create({ id: PRESET, dir: DIR, dtypes: DTYPES }, { threads: THREADS });
  let promptTokens = (await runner.extract({ images: [await photo(1)], text: TEXT })).promptTokens;
  const savRss = process.resourceUsage().maxRSS * 1024;
  const rss = sampleRss();

  env.allowRemoteModels = false;
  env.localModelPath = `${path.dirname(DIR)}/`;
  const processor = await AutoProcessor.from_pretrained(PRESET);
  (processor.image_processor as unknown as { max_pixels: number }).max_pixels = DEFAULT_MAX_PIXELS;
  const model = await Qwen2VLForConditionalGeneration.from_pretrained(PRESET, { dtype: "int8", session_options: { intraOpNumThreads: THREADS, interOpNumThreads: 1 } });
  const runOurs = async (i: number) => {
    const result = await runner.extract({ images: [await photo(i + 2)], text: TEXT });
    promptTokens = result.promptTokens;
    log(`[qwen2vl] sav-mcp round ${i}: ${result.timings.totalMs.toFixed(0)} ms`);
    const { preprocessMs, visionMs, decoderMs, totalMs } = result.timings;
    return { preprocessMs, visionMs, decoderMs, totalMs };
  };
  const runPeer = async (i: number) => {
    const image = await RawImage.fromBlob(new Blob([await photo(100 + i)]));
    const started = performance.now();
    const text = processor.apply_chat_template([{ role: "user", content: [{ type: "image" }, { type: "text", text: TEXT }] }], { add_generation_prompt: true });
    const inputs = await processor(text, image);
    const processed = performance.now();
    await model.forward(inputs);
    const done = performance.now();
    log(`[qwen2vl] transformers.js round ${i}: ${(done - started).toFixed(0)} ms`);
    return { processorMs: processed - started, forwardMs: done - processed };
  };
  // Both stay loaded and the rounds interleave image by image, alternating which goes first.
  const { a: ours, b: peer } = await interleaved(ROUNDS, runOurs, runPeer);
  const bothRss = rss.stop();
  await runner.close();
  await model.dispose();
  const loadAfter = os.loadavg();

  const m = (key: keyof (typeof ours)[number]): number => median(ours.map((r) => r[key]));
  const scaled = { vision: (m("visionMs") * FULL.blocks) / BENCH.blocks, decoder: (m("decoderMs") * FULL.layers) / BENCH.layers };
  const peerProcessor = median(peer.map((r) => r.processorMs));
  const peerForward = median(peer.map((r) => r.forwardMs));
  const tokens = [50_176, 100_352, DEFAULT_MAX_PIXELS, 401_408, 802_816, 12_845_056].map((budget) => {
    const size = smartResize(480, 640, { factor: 28, minPixels: 3136, maxPixels: budget });
    return `| ${budget}${budget === DEFAULT_MAX_PIXELS ? " (default)" : ""} | ${size.width}×${size.height} | ${imageTokenCount([1, size.height / 14, size.width / 14], 2)} |`;
  });
  const whole = m("preprocessMs") + scaled.vision + scaled.decoder;
  const shape = SCALED
    ? [
        `The model has every Qwen2-VL-2B width (hidden 1536, 12 heads / 2 KV of 128, MLP 8960; vision 1280 × 16 heads, the 1176-wide patch embedding and`,
        `the PatchMerger) but ${BENCH.layers} decoder layers and ${BENCH.blocks} vision blocks; "scaled" multiplies the per-layer cost to the full ${FULL.layers} layers and ${FULL.blocks} blocks`,
        "(the parts outside the layers — patch embedding, merger, mask and rotary set-up — are multiplied too, so it over-counts).",
      ]
    : [
        `The model is the full-size Qwen2-VL-2B shape (preset \`${PRESET}\`: ${FULL.layers} decoder layers, hidden 1536, 12 heads / 2 KV of 128, MLP 8960;`,
        `${FULL.blocks} vision blocks of 1280 × 16 heads, the 1176-wide patch embedding and the PatchMerger; ~2.2B random parameters), int8 graphs only.`,
      ];
  const stages = SCALED
    ? [
        "| stage | sav-mcp (measured) | sav-mcp (scaled to full depth) |",
        "|---|---|---|",
        `| preprocessing (decode, smart_resize, PIL bicubic, patches) | ${ms(m("preprocessMs"))} ms | ${ms(m("preprocessMs"))} ms |`,
        `| vision encoder | ${ms(m("visionMs"))} ms | ${ms(scaled.vision)} ms |`,
        `| decoder (edited, head vectors only) | ${ms(m("decoderMs"))} ms | ${ms(scaled.decoder)} ms |`,
        `| whole extraction | ${ms(m("totalMs"))} ms | ${ms(whole)} ms |`,
      ]
    : [
        "| stage | sav-mcp |",
        "|---|---|",
        `| preprocessing (decode, smart_resize, PIL bicubic, patches) | ${ms(m("preprocessMs"))} ms |`,
        `| vision encoder | ${ms(m("visionMs"))} ms |`,
        `| decoder (edited, head vectors only) | ${ms(m("decoderMs"))} ms |`,
        `| whole extraction | ${ms(m("totalMs"))} ms |`,
      ];
  const which = SCALED ? "depth-reduced model" : "full-size model";
  return [
    "## Qwen2-VL-2B-shaped model (qwen2_vl family)",
    "",
    `Per new 640×480 JPEG at the default maxPixels ${DEFAULT_MAX_PIXELS} (234 image tokens, ${promptTokens} prompt tokens), int8 graphs, ${THREADS} threads,`,
    `median of ${ROUNDS} rounds after a warm-up, each round a new image, the two interleaved image by image. Host: ${hostLine()},`,
    `(1-minute load average ${loadBefore[0]!.toFixed(1)} before the run, ${loadAfter[0]!.toFixed(1)} after): compare ratios rather than absolute times.`,
    ...shape,
    "",
    ...stages,
    "",
    "| same files, same threads, one run | sav-mcp | transformers.js (processor + one forward) | ratio |",
    "|---|---|---|---|",
    `| preprocessing / processor | ${ms(m("preprocessMs"))} ms | ${ms(peerProcessor)} ms | ${ratio(m("preprocessMs") / peerProcessor)} |`,
    `| whole (${which}) | ${ms(m("totalMs"))} ms | ${ms(peerProcessor + peerForward)} ms | ${ratio(m("totalMs") / (peerProcessor + peerForward))} |`,
    "",
    `Peak RSS (${which}): sav-mcp ${mb(savRss)} (process maxRSS after its first image, before transformers.js loaded${generated ? "; includes the generator, which ran in this process" : ""});`,
    `both loaded together ${mb(bothRss)} (sampled every 100 ms during the interleaved rounds), so transformers.js adds about ${mb(bothRss - savRss)}.`,
    `Goals (issue 9): whole extraction ≤ 0.7× transformers.js: ${m("totalMs") / (peerProcessor + peerForward) <= 0.7 ? "met" : "**not met**"}${SCALED ? " (on the depth-reduced model)" : ""}; peak RSS < 4 GB: ${savRss < 4e9 ? "met" : "**not met**"}.`,
    "transformers.js's forward also computes logits at every position (lm_head 1536 × 151936), which sav-mcp's edited decoder prunes.",
    "Its processor resizes with half-up rounding and sharp's bicubic; on 640×480 both give the 504×364 grid at this budget.",
    "",
    "Image tokens for a 640×480 photo against maxPixels (smart_resize, Python rounding):",
    "",
    "| maxPixels | resized | image tokens |",
    "|---|---|---|",
    ...tokens,
  ].join("\n");
}

/**
 * `npm run bench -- preprocess`: where the Idefics3 preprocessing time goes (decode, the resize to the longest
 * edge 2048, the resize to the 512 tile), what decoding once saves, the routes tried for a faster resize with
 * their distance from today's pixels and from transformers.js's, and the effect of the inexact route on head
 * vectors of the full-size bench model.
 */
import os from "node:os";
import path from "node:path";
import { AutoProcessor, env, RawImage, type Processor } from "@huggingface/transformers";
import sharp from "sharp";
import { parseIdefics3Config } from "../../src/model/families/idefics3/config.js";
import { preprocessImage, resizeToLongestEdge, type Idefics3ImageConfig, type PreprocessedImage } from "../../src/model/families/idefics3/image-processor.js";
import { decodeRgb, decoder, IMAGE_THREADS, inspectImage, resizeRgb, toRgb, type RgbImage } from "../../src/model/image.js";
import { readModelDirJson } from "../../src/model/model-dir.js";
import { ModelRunner } from "../../src/model/runner.js";
import { BENCH_MODEL_DIR, ensureBenchModel, log, median, ms, ratio, runIfMain, testImage } from "./common.js";
import { cosine } from "./compare.js";
import { composedAxis, resampleRgb } from "./composed-resize.js";

const LIMIT = 1e9;
const SIZES: [number, number][] = [
  [640, 480], // the runner bench's images
  [4000, 3000], // a 12 MP photo
];
const TEXT = "Is the object in this image round? Answer yes or no.";

/** Medians of two runs measured alternately (after one warm-up each), so load changes hit both alike. */
async function timedPair(repeats: number, a: () => Promise<unknown>, b: () => Promise<unknown>): Promise<[number, number]> {
  await a();
  await b();
  const times: [number[], number[]] = [[], []];
  for (let i = 0; i < repeats; i++) {
    for (const [k, run] of [a, b].entries()) {
      const start = performance.now();
      await run();
      times[k]!.push(performance.now() - start);
    }
  }
  return [median(times[0]), median(times[1])];
}

async function timed(repeats: number, run: () => Promise<unknown>): Promise<number> {
  await run();
  const times: number[] = [];
  for (let i = 0; i < repeats; i++) {
    const start = performance.now();
    await run();
    times.push(performance.now() - start);
  }
  return median(times);
}

/** The two sharp resizes of today's processor (no splitting). */
async function twoStep(image: RgbImage, config: Idefics3ImageConfig): Promise<RgbImage> {
  const size = resizeToLongestEdge(image.width, image.height, config.resizeLongestEdge);
  return resizeRgb(await resizeRgb(image, size.width, size.height), config.tileSize, config.tileSize);
}

/** Decode and the first resize in one sharp pipeline (no shrink-on-load, which would change pixels). */
async function fusedFirstResize(bytes: Uint8Array, config: Idefics3ImageConfig): Promise<RgbImage> {
  const meta = await sharp(bytes).metadata();
  const size = resizeToLongestEdge(meta.autoOrient.width, meta.autoOrient.height, config.resizeLongestEdge);
  const first = await toRgb(decoder(bytes, LIMIT).resize(size.width, size.height, { fit: "fill", kernel: "lanczos3", fastShrinkOnLoad: false }));
  return resizeRgb(first, config.tileSize, config.tileSize);
}

function composed(image: RgbImage, config: Idefics3ImageConfig): RgbImage {
  const size = resizeToLongestEdge(image.width, image.height, config.resizeLongestEdge);
  const horizontal = composedAxis([image.width, size.width, config.tileSize]);
  const vertical = composedAxis([image.height, size.height, config.tileSize]);
  const data = resampleRgb(image.data, image.width, image.height, horizontal, vertical);
  return { data: Buffer.from(data.buffer, data.byteOffset, data.byteLength), width: config.tileSize, height: config.tileSize };
}

interface Difference {
  max: number;
  mean: number;
  within: number;
}

/** Absolute differences in 8-bit steps: max, mean and the share of values within 1/255. */
function difference(a: ArrayLike<number>, b: ArrayLike<number>): Difference {
  let max = 0;
  let sum = 0;
  let within = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i]! - b[i]!);
    max = Math.max(max, d);
    sum += d;
    if (d <= 1 + 1e-4) within++;
  }
  return { max, mean: sum / a.length, within: within / a.length };
}

const describe = (d: Difference): string => `max ${d.max.toFixed(d.max % 1 === 0 ? 0 : 2)}, mean ${d.mean.toFixed(3)}, ${(100 * d.within).toFixed(3)} % ≤ 1`;

/** Normalised pixels back in 8-bit steps (channels first), to compare with transformers.js's output. */
function toSteps(pixels: Float32Array, config: Idefics3ImageConfig): Float64Array {
  const plane = pixels.length / 3;
  const out = new Float64Array(pixels.length);
  for (let c = 0; c < 3; c++) {
    const scale = config.rescaleFactor / config.imageStd[c]!;
    const shift = -config.imageMean[c]! / config.imageStd[c]!;
    for (let i = 0; i < plane; i++) out[c * plane + i] = (pixels[c * plane + i]! - shift) / scale;
  }
  return out;
}

/** An 8-bit M×M RGB tile as the processor's output: one frame, normalised, channels first. */
function normalised(tile: RgbImage, config: Idefics3ImageConfig): PreprocessedImage {
  const plane = tile.width * tile.height;
  const pixels = new Float32Array(3 * plane);
  for (let c = 0; c < 3; c++) {
    const scale = config.rescaleFactor / config.imageStd[c]!;
    const shift = -config.imageMean[c]! / config.imageStd[c]!;
    for (let i = 0; i < plane; i++) pixels[c * plane + i] = tile.data[i * 3 + c]! * scale + shift;
  }
  return { pixels, frames: 1, rows: 0, cols: 0 };
}


export async function runPreprocessBenchmark(): Promise<string> {
  const loadBefore = os.loadavg();
  await ensureBenchModel();
  const config = parseIdefics3Config(readModelDirJson(BENCH_MODEL_DIR)).image;
  env.allowRemoteModels = false;
  env.localModelPath = path.dirname(BENCH_MODEL_DIR);
  const processor: Processor = await AutoProcessor.from_pretrained(path.basename(BENCH_MODEL_DIR));
  const imageProcessor = processor.image_processor;
  if (!imageProcessor) throw new Error("transformers.js found no image processor for the bench model.");
  const defaultConcurrency = sharp.concurrency();

  const stageRows: string[] = [];
  const routeRows: string[] = [];
  const tiles = new Map<string, { today: RgbImage; composed: RgbImage }>();
  for (const [width, height] of SIZES) {
    const label = `${width}×${height}`;
    const repeats = width * height > 4e6 ? 3 : 7;
    log(`[preprocess] ${label}`);
    const bytes = await testImage(7, width, height);
    const rgb = await decodeRgb(bytes, LIMIT);
    const size = resizeToLongestEdge(width, height, config.resizeLongestEdge);
    const first = await resizeRgb(rgb, size.width, size.height);
    const today = await twoStep(rgb, config);

    const decode = await timed(repeats, () => decodeRgb(bytes, LIMIT));
    const resize1 = await timed(repeats, () => resizeRgb(rgb, size.width, size.height));
    const resize2 = await timed(repeats, () => resizeRgb(first, config.tileSize, config.tileSize));
    const total = await timed(repeats, () => preprocessImage(Uint8Array.from(bytes), config, LIMIT));
    // Loading an image before this change: the truncation check decoded to raw pixels and threw them away.
    const oldInspect = await timed(repeats, () => decoder(bytes, LIMIT).raw().toBuffer());
    const limits = { maxImageBytes: 1e9, maxImagePixels: LIMIT };
    const fresh = (): Uint8Array => Uint8Array.from(bytes);
    const [oldPath, newPath] = await timedPair(
      repeats,
      async () => {
        const copy = fresh();
        await sharp(copy).metadata();
        await decoder(copy, LIMIT).raw().toBuffer();
        await preprocessImage(copy, config, LIMIT);
      },
      async () => {
        const copy = fresh();
        await inspectImage(copy, limits);
        await preprocessImage(copy, config, LIMIT);
      },
    );
    stageRows.push(
      `| ${label} (${(bytes.byteLength / 1e6).toFixed(2)} MB JPEG) | ${ms(decode)} | ${ms(resize1)} → ${size.width}×${size.height} | ${ms(resize2)} | ${ms(total)} | ${ms(oldInspect)} | ${ms(oldPath)} → ${ms(newPath)} (saves ${ms(oldPath - newPath)}, ×${ratio(newPath / oldPath)}) |`,
    );

    const fused = await fusedFirstResize(bytes, config);
    const tileOf = composed(rgb, config);
    tiles.set(label, { today, composed: tileOf });
    const cores = IMAGE_THREADS;
    // Each pair alternates, so load from other processes falls on both alike; sharp.concurrency is global.
    const withThreads = (threads: number, run: () => Promise<unknown>) => async () => {
      sharp.concurrency(threads);
      try {
        await run();
      } finally {
        sharp.concurrency(defaultConcurrency);
      }
    };
    // "Before": libvips on one thread, sharp's own choice on this host (glibc without jemalloc) until image.ts set IMAGE_THREADS.
    const [todayMs, parallelMs] = await timedPair(repeats, withThreads(1, () => twoStep(rgb, config)), withThreads(cores, () => twoStep(rgb, config)));
    const [fusedMs, parallelFusedMs] = await timedPair(repeats, withThreads(1, () => fusedFirstResize(bytes, config)), withThreads(cores, () => fusedFirstResize(bytes, config)));
    const [todayAgain, composedMs] = await timedPair(repeats, () => twoStep(rgb, config), async () => composed(rgb, config));
    sharp.concurrency(cores);
    const parallel = await twoStep(rgb, config);
    sharp.concurrency(defaultConcurrency);
    const identical = (tile: RgbImage): string => (tile.data.equals(today.data) ? "identical" : describe(difference(tile.data, today.data)));
    const image = await RawImage.fromBlob(new Blob([bytes]));
    const theirs = (await imageProcessor([image], { do_image_splitting: false })).pixel_values.data as Float32Array;
    const theirsMs = await timed(Math.min(repeats, 3), () => imageProcessor([image], { do_image_splitting: false }));
    const ours = await preprocessImage(Uint8Array.from(bytes), config, LIMIT);
    const oursSteps = toSteps(ours.pixels, config);
    const composedSteps = toSteps(normalised(tileOf, config).pixels, config);
    const vsTheirs = (steps: Float64Array): string => describe(difference(steps, toSteps(theirs, config)));
    const row = (route: string, time: number, fromToday: string, fromTheirs: string, base = todayMs): string =>
      `| ${label} | ${route} | ${ms(time)} | ${ratio(time / base)} | ${fromToday} | ${fromTheirs} |`;
    routeRows.push(
      row("before: two sharp resizes from decoded RGB, sharp.concurrency 1", todayMs, "—", vsTheirs(oursSteps)),
      row(`now (the default): the same, sharp.concurrency ${cores}`, parallelMs, identical(parallel), "as before"),
      row(`decode + first resize in one sharp pipeline (includes decoding), sharp.concurrency 1`, fusedMs, identical(fused), "as today"),
      row(`same, sharp.concurrency ${cores}`, parallelFusedMs, identical(fused), "as today"),
      row("one composed separable resampling (JS, float intermediate, weights built per call)", composedMs, identical(tileOf), vsTheirs(composedSteps), todayAgain),
      row("transformers.js 4.x Idefics3 processor (decoded RawImage → pixel_values)", theirsMs, describe(difference(toSteps(theirs, config), oursSteps)), "—"),
    );
  }

  log("[preprocess] head vectors and extraction share");
  const runner = await ModelRunner.create({ id: "smolvlm-256m-shaped", dir: BENCH_MODEL_DIR, dtypes: { vision_encoder: "int8", embed_tokens: "int8", decoder_model_merged: "int8" } }, { threads: 2 });
  const cosineRows: string[] = [];
  let share = "";
  try {
    // Bench-only: swaps the model's preprocessing for a prepared tile, so both vector sets differ only in the resize.
    const model = (runner as unknown as { model: { preprocess: (bytes: Uint8Array) => Promise<PreprocessedImage> } }).model;
    const real = model.preprocess.bind(model);
    for (const [label, tile] of tiles) {
      model.preprocess = async () => normalised(tile.today, config);
      const a = await runner.extract({ images: [await testImage(900 + cosineRows.length, 64, 64)], text: TEXT });
      model.preprocess = async () => normalised(tile.composed, config);
      const b = await runner.extract({ images: [await testImage(950 + cosineRows.length, 64, 64)], text: TEXT });
      cosineRows.push(`| ${label} | ${cosine(a.vectors, b.vectors).toFixed(6)} |`);
    }
    model.preprocess = real;
    // As the server extracts: the image was inspected (decoded, pixels kept) when it was loaded; and without that.
    const shares: [number[], number[]] = [[], []];
    const totals: number[] = [];
    for (let i = 0; i < 8; i++) {
      const bytes = await testImage(800 + i);
      const inspected = i % 2 === 0;
      if (inspected) await inspectImage(bytes, { maxImageBytes: 1e9, maxImagePixels: LIMIT });
      const result = await runner.extract({ images: [bytes], text: TEXT });
      if (i < 2) continue; // warm-up
      shares[inspected ? 0 : 1].push(result.timings.preprocessMs / result.timings.totalMs);
      totals.push(result.timings.totalMs);
    }
    const percent = (values: number[]): string => `${(100 * median(values)).toFixed(1)} %`;
    share =
      `Extraction of a new 640×480 image (int8, 2 threads, medians of 3 after warm-ups): ${ms(median(totals))} ms, of which preprocessing ` +
      `${percent(shares[0])} when the image was inspected on loading (as the server does; decoded once), ${percent(shares[1])} when not.`;
  } finally {
    await runner.close();
  }

  return [
    "## Preprocessing (Idefics3, SmolVLM-256M-shaped, no splitting)",
    "",
    `Load average before: ${loadBefore.map((v) => v.toFixed(2)).join(", ")}; after: ${os.loadavg().map((v) => v.toFixed(2)).join(", ")}. Medians in ms; test JPEGs from \`testImage\`.`,
    "",
    "Where the time goes, and decoding once: \"per image before → after\" is inspectImage's work plus preprocessing, before (the",
    "truncation check decoded and dropped the pixels, then preprocessing decoded again) and after (the kept pixels are reused).",
    "",
    "| image | decode to RGB | resize to longest edge | resize to 512² | preprocessImage | old truncation check | per image before → after |",
    "|---|---|---|---|---|---|---|",
    ...stageRows,
    "",
    "Resize routes from decoded RGB to the 512×512 tile; differences in 8-bit steps (max, mean, share of values within 1/255);\n" +
    "each route timed alternately with today's.",
    "",
    "| image | route | ms | × today | from today's tile | from transformers.js |",
    "|---|---|---|---|---|---|",
    ...routeRows,
    "",
    "The composed route multiplies the exact linear stages libvips runs (Catmull-Rom enlarging, box + Lanczos-3 reducing)",
    "but skips their 8-bit roundings, so it cannot match today's tile everywhere. Head vectors with its tile against today's:",
    "",
    "| image | cosine (all layers, random-weight model) |",
    "|---|---|",
    ...cosineRows,
    "",
    share,
  ].join("\n");
}

runIfMain(import.meta.url, runPreprocessBenchmark);

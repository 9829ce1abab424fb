/**
 * LLaVA-OneVision-0.5B-shaped measurements, each mode in its own process so that its peak RSS is its own.
 *
 *   npx tsx tools/bench/llava-child.ts '<json LlavaChildConfig>'
 *
 * Progress goes to stderr; the last stdout line is the JSON result.
 */
import { existsSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { ensureTinyLlavaOnevision } from "../../src/model/families/llava_onevision/tiny/index.js";
import { PUBLISHED } from "../../src/model/families/llava_onevision/tiny/presets.js";
import type { VisionSession } from "../../src/model/families/types.js";
import { ModelRunner } from "../../src/model/runner.js";
import { headAgreement, interleaved, sampleRss, timeSessions, type Agreement } from "./compare.js";
import { log, median, peakRssBytes, testImage } from "./common.js";
import type { Dtypes } from "./runner-child.js";

export const LLAVA_PRESET = "llava-onevision-0.5b";
export const LLAVA_VARIANTS = ["fp32", "int8", "q4"] as const;
const TEXT = "What is in this image?";
/** One 384² crop gives ⌊384 / 14⌋² = 729 feature rows; the single path feeds them as they are. */
const SINGLE_ROWS = Math.floor(PUBLISHED.imageSize / PUBLISHED.patchSize) ** 2;

export type { Dtypes };

/** Generates the model when missing (its peak RSS is then the generator's). */
export interface GenerateConfig {
  mode: "generate";
  dir: string;
}
export interface GenerateResult {
  generated: boolean;
  seconds: number;
}

/** sav-mcp single path with one runner per dtype (vision and decoder alike), the same new image for all per round. */
export interface DtypesConfig {
  mode: "dtypes";
  dir: string;
  threads: number;
  rounds: number;
  dtypes: string[];
}
export interface DtypesResult {
  rounds: number;
  promptTokens: number;
  rows: { dtype: string; createMs: number; preprocessMs: number; visionMs: number; decoderMs: number; totalMs: number }[];
  /** Head vectors of each dtype against the first one's (fp32) on the same images. */
  agreement: Record<string, Agreement>;
}

/** Single path: sav-mcp vs transformers.js image by image; sav-mcp's peak RSS before transformers.js loads. */
export interface PeerConfig {
  mode: "peer";
  dir: string;
  threads: number;
  rounds: number;
  dtypes: Dtypes;
}
export interface PeerResult {
  rounds: number;
  promptTokens: number;
  savRssBytes: number;
  bothRssBytes: number;
  sav: { preprocessMs: number; visionMs: number; decoderMs: number; totalMs: number };
  peer: { processorMs: number; visionMs: number; embedMs: number; decoderMs: number; totalMs: number };
  /** sav / transformers.js per image pair, and their median. */
  ratios: number[];
  ratio: number;
}

/** The anyres path, sav-mcp alone. */
export interface AnyresConfig {
  mode: "anyres";
  dir: string;
  threads: number;
  rounds: number;
  dtypes: Dtypes;
}
export interface AnyresResult {
  rounds: number;
  crops: number;
  imageTokens: number;
  promptTokens: number;
  preprocessMs: number;
  /** The ONNX vision encoder over all crops (batched). */
  encoderMs: number;
  /** The rest of the vision stage: tensor copies, re-tiling, unpadding, pooling and newline rows. */
  packingMs: number;
  decoderMs: number;
  totalMs: number;
}

export type LlavaChildConfig = GenerateConfig | DtypesConfig | PeerConfig | AnyresConfig;

function dtypesOf(d: Dtypes): Record<string, string> {
  // embed_tokens stays fp32: the published repository has no int8 table (models/llava-onevision-qwen2-0.5b-ov.json).
  return { vision_encoder: d.vision, embed_tokens: "fp32", decoder_model_merged: d.decoder };
}

function createRunner(dir: string, dtypes: Dtypes, threads: number, imagePath: "single" | "anyres"): Promise<ModelRunner> {
  return ModelRunner.create({ id: path.basename(dir), dir, dtypes: dtypesOf(dtypes) }, { threads, processing: { imagePath } });
}

/** Times the runner's vision-encoder runs and counts the crops they were fed (the ONNX run only, not the packing). */
function timeVisionRuns(runner: ModelRunner): { ms: number; crops: number } {
  const vision = (runner as unknown as { vision: { -readonly [K in keyof VisionSession]: VisionSession[K] } }).vision;
  const stats = { ms: 0, crops: 0 };
  const run = vision.run;
  vision.run = async (feeds) => {
    const started = performance.now();
    try {
      return await run(feeds);
    } finally {
      stats.ms += performance.now() - started;
      const dims = feeds.pixel_values!.dims;
      stats.crops += dims.length === 5 ? dims[0]! * dims[1]! : dims[0]!;
    }
  };
  return stats;
}

/** Seeds from one range per mode: every measured image is new to every cache. */
const image = (mode: number, index: number): Promise<Uint8Array> => testImage(10_000 * mode + index);

async function generate(config: GenerateConfig): Promise<GenerateResult> {
  const started = performance.now();
  const existed = existsSync(path.join(config.dir, ".generator.json"));
  await ensureTinyLlavaOnevision(config.dir, { preset: LLAVA_PRESET, variants: [...LLAVA_VARIANTS], onProgress: (m) => log(`[generate] ${m}`) });
  return { generated: !existed, seconds: (performance.now() - started) / 1000 };
}

async function dtypes(config: DtypesConfig): Promise<DtypesResult> {
  const runners: ModelRunner[] = [];
  const createMs: number[] = [];
  for (const dtype of config.dtypes) {
    const started = performance.now();
    runners.push(await createRunner(config.dir, { vision: dtype, decoder: dtype }, config.threads, "single"));
    createMs.push(performance.now() - started);
    log(`  ${dtype} runner ready in ${(createMs.at(-1)! / 1000).toFixed(1)} s`);
  }
  const samples = config.dtypes.map(() => [] as { preprocessMs: number; visionMs: number; decoderMs: number; totalMs: number }[]);
  const vectors = config.dtypes.map(() => [] as Float32Array[]);
  let promptTokens = 0;
  let headDim = 1;
  for (let round = 0; round <= config.rounds; round++) {
    // Each runner has its own caches, so one new image serves all of them cold and their vectors compare.
    const bytes = await image(1, round);
    const order = config.dtypes.map((_, i) => (i + round) % config.dtypes.length);
    for (const index of order) {
      const result = await runners[index]!.extract({ images: [bytes], text: TEXT });
      promptTokens = result.promptTokens;
      headDim = result.shape.headDim;
      vectors[index]!.push(result.vectors);
      if (round > 0) samples[index]!.push(result.timings);
      log(`  round ${round}${round === 0 ? " (warm-up)" : ""}: ${config.dtypes[index]} ${result.timings.totalMs.toFixed(0)} ms (vision ${result.timings.visionMs.toFixed(0)}, decoder ${result.timings.decoderMs.toFixed(0)})`);
    }
  }
  await Promise.all(runners.map((r) => r.close()));
  const m = (list: { [k: string]: number }[], key: string): number => median(list.map((s) => s[key]!));
  const agreement: Record<string, Agreement> = {};
  config.dtypes.slice(1).forEach((dtype, i) => (agreement[dtype] = headAgreement(vectors[i + 1]!, vectors[0]!, headDim)));
  return {
    rounds: config.rounds,
    promptTokens,
    rows: config.dtypes.map((dtype, i) => ({
      dtype,
      createMs: createMs[i]!,
      preprocessMs: m(samples[i]!, "preprocessMs"),
      visionMs: m(samples[i]!, "visionMs"),
      decoderMs: m(samples[i]!, "decoderMs"),
      totalMs: m(samples[i]!, "totalMs"),
    })),
    agreement,
  };
}

async function peer(config: PeerConfig): Promise<PeerResult> {
  // sav-mcp alone first (its warm-up image), so its peak RSS is its own.
  const sav = await createRunner(config.dir, config.dtypes, config.threads, "single");
  let promptTokens = (await sav.extract({ images: [await image(2, 999)], text: TEXT })).promptTokens;
  const savRssBytes = peakRssBytes();
  const rss = sampleRss();

  const transformers = await import("@huggingface/transformers");
  transformers.env.allowRemoteModels = false;
  transformers.env.localModelPath = `${path.dirname(config.dir)}/`;
  const id = path.basename(config.dir);
  const processor = await transformers.AutoProcessor.from_pretrained(id);
  const tokenizer = await transformers.AutoTokenizer.from_pretrained(id);
  const model = await transformers.LlavaOnevisionForConditionalGeneration.from_pretrained(id, {
    dtype: dtypesOf(config.dtypes) as Record<string, "fp32" | "int8" | "q4">,
    session_options: { intraOpNumThreads: config.threads, interOpNumThreads: 1 },
  });
  const sessionMs = timeSessions((model as unknown as { sessions: Record<string, { run: (...args: unknown[]) => Promise<unknown> }> }).sessions);
  const messages = [{ role: "user", content: [{ type: "image" }, { type: "text", text: TEXT }] }];

  const ours = async (round: number): Promise<PeerResult["sav"]> => {
    const result = await sav.extract({ images: [await image(2, round)], text: TEXT });
    promptTokens = result.promptTokens;
    log(`  sav-mcp ${round}${round === 0 ? " (warm-up)" : ""}: ${result.timings.totalMs.toFixed(0)} ms (vision ${result.timings.visionMs.toFixed(0)}, decoder ${result.timings.decoderMs.toFixed(0)})`);
    const { preprocessMs, visionMs, decoderMs, totalMs } = result.timings;
    return { preprocessMs, visionMs, decoderMs, totalMs };
  };
  const theirs = async (round: number): Promise<PeerResult["peer"]> => {
    const bytes = await image(3, round);
    for (const name of Object.keys(sessionMs)) sessionMs[name] = 0;
    const started = performance.now();
    const raw = await transformers.RawImage.fromBlob(new Blob([bytes]));
    const { pixel_values } = (await processor(raw)) as { pixel_values: InstanceType<typeof transformers.Tensor> };
    const chat = tokenizer.apply_chat_template(messages, { add_generation_prompt: true, tokenize: false }) as string;
    // Its generic LLaVA class merges one feature row per <image> token, so the text carries the 729 of one view.
    const text = tokenizer(chat.replace("<image>", "<image>".repeat(SINGLE_ROWS)));
    const processed = performance.now();
    await model.forward({ ...text, pixel_values });
    const totalMs = performance.now() - started;
    log(`  transformers.js ${round}${round === 0 ? " (warm-up)" : ""}: ${totalMs.toFixed(0)} ms (vision ${sessionMs.vision_encoder?.toFixed(0)}, decoder ${sessionMs.decoder_model_merged?.toFixed(0)})`);
    return { processorMs: processed - started, visionMs: sessionMs.vision_encoder ?? Number.NaN, embedMs: sessionMs.embed_tokens ?? Number.NaN, decoderMs: sessionMs.decoder_model_merged ?? Number.NaN, totalMs };
  };
  const runs = await interleaved(config.rounds, ours, theirs);
  const bothRssBytes = rss.stop();
  await sav.close();
  await model.dispose();
  const m = <T extends Record<string, number>>(list: T[], key: keyof T): number => median(list.map((s) => s[key]!));
  const ratios = runs.a.map((a, i) => a.totalMs / runs.b[i]!.totalMs);
  return {
    rounds: config.rounds,
    promptTokens,
    savRssBytes,
    bothRssBytes,
    sav: { preprocessMs: m(runs.a, "preprocessMs"), visionMs: m(runs.a, "visionMs"), decoderMs: m(runs.a, "decoderMs"), totalMs: m(runs.a, "totalMs") },
    peer: { processorMs: m(runs.b, "processorMs"), visionMs: m(runs.b, "visionMs"), embedMs: m(runs.b, "embedMs"), decoderMs: m(runs.b, "decoderMs"), totalMs: m(runs.b, "totalMs") },
    ratios,
    ratio: median(ratios),
  };
}

async function anyres(config: AnyresConfig): Promise<AnyresResult> {
  const runner = await createRunner(config.dir, config.dtypes, config.threads, "anyres");
  const vision = timeVisionRuns(runner);
  type Sample = Omit<AnyresResult, "rounds" | "imageTokens">;
  const samples: Sample[] = [];
  let last: Uint8Array | undefined;
  for (let round = 0; round <= config.rounds; round++) {
    last = await image(4, round);
    vision.ms = 0;
    vision.crops = 0;
    const result = await runner.extract({ images: [last], text: TEXT });
    const t = result.timings;
    log(`  anyres ${round}${round === 0 ? " (warm-up)" : ""}: ${t.totalMs.toFixed(0)} ms (${vision.crops} crops, encoder ${vision.ms.toFixed(0)}, packing ${(t.visionMs - vision.ms).toFixed(0)}, decoder ${t.decoderMs.toFixed(0)})`);
    if (round === 0) continue;
    samples.push({
      crops: vision.crops,
      promptTokens: result.promptTokens,
      preprocessMs: t.preprocessMs,
      encoderMs: vision.ms,
      packingMs: t.visionMs - vision.ms,
      decoderMs: t.decoderMs,
      totalMs: t.totalMs,
    });
  }
  // The last image's features are cached now: count its prompt's image tokens without another encoder run.
  const { inputIds } = await runner.decoderInputs({ images: [last!], text: TEXT });
  await runner.close();
  const m = (key: keyof Sample): number => median(samples.map((s) => s[key]));
  return {
    rounds: config.rounds,
    crops: samples[0]!.crops,
    imageTokens: inputIds.filter((id) => id === PUBLISHED.imageTokenId).length,
    promptTokens: samples[0]!.promptTokens,
    preprocessMs: m("preprocessMs"),
    encoderMs: m("encoderMs"),
    packingMs: m("packingMs"),
    decoderMs: m("decoderMs"),
    totalMs: m("totalMs"),
  };
}

async function main(): Promise<void> {
  const config = JSON.parse(process.argv[2] ?? "{}") as LlavaChildConfig;
  const modes = { generate, dtypes, peer, anyres } as Record<string, (c: LlavaChildConfig) => Promise<object>>;
  const run = modes[config.mode];
  if (!run) throw new Error(`unknown mode in ${process.argv[2]}`);
  const result = await run(config);
  process.stdout.write(`${JSON.stringify({ ...result, peakRssBytes: peakRssBytes(), loadAverage: os.loadavg() })}\n`);
}

if (process.argv[1]?.endsWith("llava-child.ts")) {
  main().catch((error: unknown) => {
    process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  });
}

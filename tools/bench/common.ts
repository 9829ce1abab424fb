/**
 * Shared helpers of the model benchmark sections: the full-size generated model, test images,
 * timing loops (warm-up then median), and measuring one configuration in a child process so that
 * its peak RSS is its own.
 */
import { spawn } from "node:child_process";
import os from "node:os";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import sharp from "sharp";
import { ensureTinyModel, type TinyVariant } from "../../src/model/families/idefics3/tiny/index.js";

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
export const BENCH_MODEL_ID = "smolvlm-256m-shaped";
export const BENCH_MODEL_DIR = path.join(ROOT, "models", "generated", BENCH_MODEL_ID);
export const BENCH_VARIANTS: TinyVariant[] = ["fp32", "q4", "int8"];

export function log(message: string): void {
  process.stderr.write(`${message}\n`);
}

/** The full-size SmolVLM-256M-shaped random-weight model (generated on first use, a few minutes). */
export async function ensureBenchModel(): Promise<string> {
  return ensureTinyModel(BENCH_MODEL_DIR, {
    preset: "smolvlm-256m",
    variants: BENCH_VARIANTS,
    onProgress: (message) => log(`[generate] ${message}`),
  });
}

export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]! ) / 2;
}

/** Runs `run` `warmup` times unmeasured, then `repeats` times; returns each measured duration in ms. */
export async function timeRepeats(name: string, repeats: number, run: (index: number) => Promise<unknown>, warmup = 1): Promise<number[]> {
  for (let w = 0; w < warmup; w++) await run(-1 - w);
  const times: number[] = [];
  for (let r = 0; r < repeats; r++) {
    const start = performance.now();
    await run(r);
    times.push(performance.now() - start);
    log(`  ${name}: ${r + 1}/${repeats} ${times[r]!.toFixed(1)} ms`);
  }
  return times;
}

/**
 * A deterministic photo-like test image (smooth gradients, shapes and noise, so JPEG decoding does
 * real work), `width`×`height` JPEG; `seed` makes each image distinct, so no cache can serve it. A fixed
 * `discColour` gives images a shared visible trait (a class); a fixed `backgroundColour` makes it the main one.
 */
export async function testImage(
  seed: number,
  width = 640,
  height = 480,
  discColour?: [number, number, number],
  backgroundColour?: [number, number, number],
): Promise<Uint8Array> {
  const channels = 3;
  const pixels = Buffer.alloc(width * height * channels);
  let state = (seed * 2654435761) >>> 0 || 1;
  const random = (): number => {
    state ^= state << 13;
    state >>>= 0;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    return state / 4294967296;
  };
  const cx = random() * width;
  const cy = random() * height;
  const radius = (0.15 + 0.3 * random()) * Math.min(width, height);
  const randomBase = [random() * 255, random() * 255, random() * 255];
  const base = backgroundColour ?? randomBase;
  const randomDisc = [random() * 255, random() * 255, random() * 255];
  const disc = discColour ?? randomDisc;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const inside = (x - cx) ** 2 + (y - cy) ** 2 < radius * radius;
      const colour = inside ? disc : base;
      const shade = 0.6 + 0.4 * (x / width) * (1 - y / height);
      for (let c = 0; c < channels; c++) {
        const value = colour[c]! * shade + (random() - 0.5) * 24;
        pixels[(y * width + x) * channels + c] = Math.max(0, Math.min(255, Math.round(value)));
      }
    }
  }
  const jpeg = await sharp(pixels, { raw: { width, height, channels } }).jpeg({ quality: 85 }).toBuffer();
  return new Uint8Array(jpeg.buffer, jpeg.byteOffset, jpeg.byteLength);
}

export interface ChildRun<T> {
  result: T;
  /** Peak resident set size of the child process, from its own process.resourceUsage(), in bytes. */
  peakRssBytes: number;
}

/**
 * Runs `npx tsx <script> <json>` and parses the last line of its stdout as JSON. The child reports its
 * own peak RSS, so each configuration's memory is measured without what the parent or others hold.
 */
export function runChild<T>(script: string, config: unknown): Promise<T> {
  return new Promise((resolve, reject) => {
    const tsx = path.join(ROOT, "node_modules", ".bin", "tsx");
    const child = spawn(tsx, [path.join(ROOT, script), JSON.stringify(config)], { cwd: ROOT, stdio: ["ignore", "pipe", "inherit"] });
    let stdout = "";
    child.stdout.setEncoding("utf8");
    child.stdout.on("data", (chunk: string) => {
      stdout += chunk;
    });
    child.on("error", reject);
    child.on("close", (code) => {
      if (code !== 0) {
        reject(new Error(`${script} exited with code ${code}`));
        return;
      }
      const lines = stdout.trim().split("\n");
      try {
        resolve(JSON.parse(lines[lines.length - 1] ?? "") as T);
      } catch (error) {
        reject(new Error(`${script} printed no JSON result: ${(error as Error).message}`));
      }
    });
  });
}

/** Peak RSS of this process so far, in bytes (resourceUsage reports kilobytes). */
export function peakRssBytes(): number {
  return process.resourceUsage().maxRSS * 1024;
}

export const ms = (value: number): string => (Number.isNaN(value) ? "—" : value >= 100 ? value.toFixed(0) : value >= 1 ? value.toFixed(1) : value.toFixed(3));
export const ratio = (value: number): string => (Number.isNaN(value) ? "—" : value.toFixed(value < 0.1 ? 4 : 2));
export const mb = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(0)} MB`;
export const yes = (met: boolean): string => (met ? "met" : "**not met**");

export interface StageFlops {
  /** Patch embedding, encoder layers (projections, attention, MLP) and connector, per image frame. */
  vision: number;
  /** Decoder layers over the prompt, as the edited graph computes them (no lm_head; the last layer up to its o_proj input). */
  decoder: number;
  /** Full decoder layers (all of them) plus the lm_head over every position, as an unedited forward computes them. */
  decoderUnedited: number;
  /**
   * The parts of `vision` and `decoder` that stay float32 in the quantized graphs: products of two activations
   * (attention scores and context) and the patch-embedding Conv.
   */
  visionFloatProducts: number;
  decoderFloatProducts: number;
  detail: Record<string, number>;
}

interface ConfigJson {
  scale_factor: number;
  text_config: { hidden_size: number; num_hidden_layers: number; num_attention_heads: number; num_key_value_heads: number; intermediate_size: number; head_dim?: number; vocab_size: number };
  vision_config: { hidden_size: number; num_hidden_layers: number; intermediate_size: number; image_size: number; patch_size: number; num_channels?: number };
}

/**
 * Multiply-accumulates × 2 of the matrix products per image, counted from config.json (elementwise work —
 * norms, softmax, activations, rotary — is left out; it is a few percent and not MatMul-bound anyway).
 */
export function countFlops(config: ConfigJson, promptTokens: number, decoderLayers?: number): StageFlops {
  const v = config.vision_config;
  const t = config.text_config;
  const s = config.scale_factor;
  const patches = (v.image_size / v.patch_size) ** 2;
  const E = v.hidden_size;
  const patchEmbedding = 2 * patches * E * (v.num_channels ?? 3) * v.patch_size ** 2;
  const visionProjections = 4 * 2 * patches * E * E;
  const visionAttention = 2 * 2 * patches * patches * E;
  const visionMlp = 2 * 2 * patches * E * v.intermediate_size;
  const visionLayer = visionProjections + visionAttention + visionMlp;
  const connector = 2 * (patches / (s * s)) * (E * s * s) * t.hidden_size;
  const vision = patchEmbedding + v.num_hidden_layers * visionLayer + connector;

  const T = promptTokens;
  const D = t.hidden_size;
  const hd = t.head_dim ?? D / t.num_attention_heads;
  const qkv = 2 * T * D * (t.num_attention_heads + 2 * t.num_key_value_heads) * hd;
  const attention = 2 * 2 * T * T * t.num_attention_heads * hd;
  const oProj = 2 * T * t.num_attention_heads * hd * D;
  const mlp = 3 * 2 * T * D * t.intermediate_size;
  const fullLayer = qkv + attention + oProj + mlp;
  const layers = decoderLayers ?? t.num_hidden_layers;
  const decoder = (layers - 1) * fullLayer + qkv + attention;
  const lmHead = 2 * T * D * t.vocab_size;
  return {
    vision,
    decoder,
    decoderUnedited: t.num_hidden_layers * fullLayer + lmHead,
    visionFloatProducts: v.num_hidden_layers * visionAttention + patchEmbedding,
    decoderFloatProducts: layers * attention,
    detail: { patchEmbedding, visionLayer, connector, decoderLayer: fullLayer, lmHead },
  };
}

export async function readModelConfig(dir: string): Promise<ConfigJson> {
  const { readFile } = await import("node:fs/promises");
  return JSON.parse(await readFile(path.join(dir, "config.json"), "utf8")) as ConfigJson;
}

export function loadNote(before: number[], after: number[]): string {
  const f = (l: number[]): string => l.map((x) => x.toFixed(1)).join(" / ");
  return `Machine load average (1/5/15 min) ${f(before)} at the start and ${f(after)} at the end, on ${os.cpus().length} cores (the section's own work counts in it; more than that means other jobs ran too and inflated absolute times); ratios are measured back to back in one process and are the figures to trust.`;
}

/** A tool call's structured result, or an Error with the tool's own message (benchmarks allow an hour per call). */
export async function callToolOk<T>(client: Client, name: string, args: Record<string, unknown>): Promise<T> {
  const result = (await client.callTool({ name, arguments: args }, undefined, { timeout: 60 * 60 * 1000 })) as CallToolResult;
  if (result.isError) {
    const first = result.content[0];
    throw new Error(`${name} failed: ${first && first.type === "text" ? first.text : "?"}`);
  }
  return result.structuredContent as T;
}

/** Runs a section when its file is executed directly (`npx tsx tools/bench/x.ts`), printing its Markdown. */
export function runIfMain(moduleUrl: string, run: () => Promise<string>): void {
  if (process.argv[1] === undefined || moduleUrl !== pathToFileURL(process.argv[1]).href) return;
  run().then(
    (section) => process.stdout.write(section),
    (error: unknown) => {
      process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
      process.exitCode = 1;
    },
  );
}

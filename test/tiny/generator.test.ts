import { existsSync } from "node:fs";
import { readFile, readdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { modelConfig, preprocessorConfig, processorConfig, type JsonObject, type JsonValue } from "../../src/model/families/idefics3/tiny/config-files.js";
import { defaultTinyModelDir, detectSharedModelDir, ensureTinyModel, generateModel, GENERATOR_VERSION, PRESETS, STAMP_FILE } from "../../src/model/families/idefics3/tiny/index.js";
import {
  PUBLISHED_CHAT_TEMPLATE,
  PUBLISHED_CONFIG,
  PUBLISHED_GENERATION_CONFIG,
  PUBLISHED_PREPROCESSOR_CONFIG,
  PUBLISHED_PROCESSOR_CONFIG,
  PUBLISHED_SPECIAL_TOKENS_MAP,
} from "../../src/model/families/idefics3/tiny/published-configs.js";
import { sha256, withTempDir } from "./helpers.js";

const shared = detectSharedModelDir();

const EXPECTED_FILES = [
  "config.json",
  "preprocessor_config.json",
  "processor_config.json",
  "chat_template.json",
  "tokenizer.json",
  "tokenizer_config.json",
  "special_tokens_map.json",
  "added_tokens.json",
  "generation_config.json",
  ...["vision_encoder", "embed_tokens", "decoder_model_merged"].flatMap((c) => ["", "_q4", "_int8"].map((s) => `onnx/${c}${s}.onnx`)),
];

async function listFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => e.isFile())
    .map((e) => path.relative(dir, path.join(e.parentPath, e.name)))
    .sort();
}

async function hashes(dir: string): Promise<Map<string, string>> {
  const result = new Map<string, string>();
  for (const file of await listFiles(dir)) result.set(file, await sha256(path.join(dir, file)));
  return result;
}

/** Paths (a.b.c) where two JSON values differ. */
function jsonDiff(a: JsonValue | undefined, b: JsonValue | undefined, prefix = ""): string[] {
  const isObject = (v: JsonValue | undefined): v is JsonObject => v !== null && typeof v === "object" && !Array.isArray(v);
  if (isObject(a) && isObject(b)) {
    const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
    return keys.flatMap((k) => jsonDiff(a[k], b[k], prefix ? `${prefix}.${k}` : k));
  }
  return JSON.stringify(a) === JSON.stringify(b) ? [] : [prefix];
}

async function readJson(file: string): Promise<JsonObject> {
  return JSON.parse(await readFile(file, "utf8")) as JsonObject;
}

describe("generateModel", () => {
  it("is byte-identical for the same seed and differs for another seed", async () => {
    await withTempDir(async (tmp) => {
      const a = await generateModel({ outDir: path.join(tmp, "a"), seed: 7 });
      const b = await generateModel({ outDir: path.join(tmp, "b"), seed: 7 });
      const c = await generateModel({ outDir: path.join(tmp, "c"), seed: 8 });
      expect(a.files).toEqual(b.files);
      const ha = await hashes(a.outDir);
      const hb = await hashes(b.outDir);
      const hc = await hashes(c.outDir);
      expect([...ha.keys()]).toEqual([...EXPECTED_FILES, STAMP_FILE].sort());
      expect(hb).toEqual(ha);
      for (const file of EXPECTED_FILES.filter((f) => f.startsWith("onnx/"))) {
        expect(hc.get(file), file).not.toBe(ha.get(file));
      }
      // The tokenizer does not depend on the seed.
      expect(hc.get("tokenizer.json")).toBe(ha.get("tokenizer.json"));
      const stamp = await readJson(path.join(c.outDir, STAMP_FILE));
      expect(stamp).toMatchObject({ generator_version: GENERATOR_VERSION, preset: "tiny", seed: 8, variants: ["fp32", "q4", "int8"] });
    });
  });

  it("writes only the requested variants, and embed_tokens_q4 is the fp32 file", async () => {
    await withTempDir(async (tmp) => {
      const result = await generateModel({ outDir: tmp, variants: ["q4"], sharedModelDir: null });
      const onnxFiles = result.files.filter((f) => f.startsWith("onnx/")).sort();
      expect(onnxFiles).toEqual(["onnx/decoder_model_merged_q4.onnx", "onnx/embed_tokens_q4.onnx", "onnx/vision_encoder_q4.onnx"]);
      const full = defaultTinyModelDir();
      expect(await sha256(path.join(full, "onnx/embed_tokens_q4.onnx"))).toBe(await sha256(path.join(full, "onnx/embed_tokens.onnx")));
    });
  });

  it("rejects unknown presets, variants and bad seeds", async () => {
    await expect(generateModel({ outDir: "/nonexistent/x", preset: "huge" as never })).rejects.toThrow(/preset/);
    await expect(generateModel({ outDir: "/nonexistent/x", variants: ["fp8" as never] })).rejects.toThrow(/variant/);
    await expect(generateModel({ outDir: "/nonexistent/x", seed: -1 })).rejects.toThrow(/seed/);
  });
});

describe("generated configs", () => {
  const marker = { random_weights: true as const, preset: "tiny" as const, seed: 1, generator_version: GENERATOR_VERSION };

  it("changes only size fields of the published config.json and adds the random-weights marker", () => {
    const config = modelConfig(PUBLISHED_CONFIG as JsonObject, PRESETS.tiny, marker);
    expect(jsonDiff(PUBLISHED_CONFIG as JsonObject, config).sort()).toEqual(
      [
        "sav_mcp_generated",
        "scale_factor",
        "text_config.head_dim",
        "text_config.hidden_size",
        "text_config.intermediate_size",
        "text_config.num_attention_heads",
        "text_config.num_hidden_layers",
        "text_config.num_key_value_heads",
        "text_config.pixel_shuffle_factor",
        "vision_config.hidden_size",
        "vision_config.image_size",
        "vision_config.intermediate_size",
        "vision_config.max_image_size.longest_edge",
        "vision_config.num_attention_heads",
        "vision_config.num_hidden_layers",
        "vision_config.size.longest_edge",
      ].sort(),
    );
    expect(config.sav_mcp_generated).toEqual(marker);
  });

  it("the full-size preset reproduces the published sizes exactly", () => {
    const full = modelConfig(PUBLISHED_CONFIG as JsonObject, PRESETS["smolvlm-256m"], { ...marker, preset: "smolvlm-256m" });
    expect(jsonDiff(PUBLISHED_CONFIG as JsonObject, full)).toEqual(["sav_mcp_generated"]);
    expect(jsonDiff(PUBLISHED_PREPROCESSOR_CONFIG as JsonObject, preprocessorConfig(PUBLISHED_PREPROCESSOR_CONFIG as JsonObject, PRESETS["smolvlm-256m"]))).toEqual([]);
    expect(jsonDiff(PUBLISHED_PROCESSOR_CONFIG as JsonObject, processorConfig(PUBLISHED_PROCESSOR_CONFIG as JsonObject, PRESETS["smolvlm-256m"]))).toEqual([]);
  });

  it("keeps image_seq_len and the resize sizes consistent with the tiny vision config", async () => {
    const dir = defaultTinyModelDir();
    const config = await readJson(path.join(dir, "config.json"));
    const vision = config.vision_config as JsonObject;
    const pre = await readJson(path.join(dir, "preprocessor_config.json"));
    const proc = await readJson(path.join(dir, "processor_config.json"));
    const side = (vision.image_size as number) / (vision.patch_size as number);
    const scale = config.scale_factor as number;
    expect(vision.image_size).toBe(64);
    expect(proc.image_seq_len).toBe((side * side) / (scale * scale));
    expect(proc.image_seq_len).toBe(4);
    expect(pre.max_image_size).toEqual({ longest_edge: 64 });
    expect(pre.size).toEqual({ longest_edge: 256 });
    expect(vision.max_image_size).toEqual({ longest_edge: 64 });
    expect((config.text_config as JsonObject).vocab_size).toBe(49280);
    expect(config.image_token_id).toBe(49190);
  });

  it.skipIf(!shared)("embeds the published small configs verbatim (checked against the shared copy)", async () => {
    const dir = shared as string;
    expect(PUBLISHED_CONFIG).toEqual(await readJson(path.join(dir, "config.json")));
    expect(PUBLISHED_PREPROCESSOR_CONFIG).toEqual(await readJson(path.join(dir, "preprocessor_config.json")));
    expect(PUBLISHED_PROCESSOR_CONFIG).toEqual(await readJson(path.join(dir, "processor_config.json")));
    expect(PUBLISHED_GENERATION_CONFIG).toEqual(await readJson(path.join(dir, "generation_config.json")));
    expect(PUBLISHED_SPECIAL_TOKENS_MAP).toEqual(await readJson(path.join(dir, "special_tokens_map.json")));
    expect(PUBLISHED_CHAT_TEMPLATE).toBe((await readJson(path.join(dir, "chat_template.json"))).chat_template);
  });

  it.skipIf(!shared)("copies the real tokenizer files verbatim into the default tiny model", async () => {
    for (const file of ["tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "added_tokens.json", "chat_template.json", "generation_config.json"]) {
      expect(await sha256(path.join(defaultTinyModelDir(), file)), file).toBe(await sha256(path.join(shared as string, file)));
    }
  });
});

describe("ensureTinyModel", () => {
  it("generates when missing, reuses a current directory, regenerates a stale one", async () => {
    await withTempDir(async (tmp) => {
      const dir = path.join(tmp, "model");
      const options = { variants: ["fp32" as const], sharedModelDir: null };
      expect(await ensureTinyModel(dir, options)).toBe(dir);
      const configHash = await sha256(path.join(dir, "config.json"));

      // Current: left alone (a marker file we drop in survives).
      await writeFile(path.join(dir, "marker.txt"), "x");
      await ensureTinyModel(dir, options);
      expect(existsSync(path.join(dir, "marker.txt"))).toBe(true);

      // Stale stamp: regenerated from scratch.
      await writeFile(path.join(dir, STAMP_FILE), JSON.stringify({ generator_version: "0" }));
      await ensureTinyModel(dir, options);
      expect(existsSync(path.join(dir, "marker.txt"))).toBe(false);
      expect(await sha256(path.join(dir, "config.json"))).toBe(configHash);

      // Different options (seed) count as stale too.
      await ensureTinyModel(dir, { ...options, seed: 2 });
      expect((await readJson(path.join(dir, STAMP_FILE))).seed).toBe(2);
      expect(await sha256(path.join(dir, "config.json"))).not.toBe(configHash);
    });
  });

  it("two concurrent callers both get a complete model and no temporary directories remain", async () => {
    await withTempDir(async (tmp) => {
      const dir = path.join(tmp, "model");
      const options = { variants: ["fp32" as const], sharedModelDir: null };
      const [a, b] = await Promise.all([ensureTinyModel(dir, options), ensureTinyModel(dir, options)]);
      expect(a).toBe(dir);
      expect(b).toBe(dir);
      expect((await readdir(tmp)).sort()).toEqual(["model"]);
      const files = await listFiles(dir);
      expect(files).toContain("onnx/decoder_model_merged.onnx");
      expect(files).toContain(STAMP_FILE);
    });
  });
});

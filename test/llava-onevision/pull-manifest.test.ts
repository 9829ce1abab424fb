/**
 * The shipped llava-onevision-qwen2-0.5b-ov manifest pulls from a local hub that serves the tiny model's files
 * under the real repository's name: configs, the default dtype graphs, and image_newline by Range requests from
 * model.safetensors (never downloaded whole); the pulled directory then runs on the anyres path.
 */
import { existsSync } from "node:fs";
import { readFile, readdir } from "node:fs/promises";
import path from "node:path";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ModelRunner } from "../../src/model/index.js";
import { defaultTinyLlavaOnevisionDir, ensureTinyLlavaOnevision } from "../../src/model/families/llava_onevision/tiny/index.js";
import { loadManifest, pullModel } from "../../src/model/registry/index.js";
import { FakeHub, tempDir } from "../registry/fake-hub.js";

const ID = "llava-onevision-qwen2-0.5b-ov";
let hub: FakeHub;
let work: { dir: string; cleanup: () => Promise<void> };

async function filesOf(dir: string, prefix = ""): Promise<Map<string, Buffer>> {
  const files = new Map<string, Buffer>();
  for (const entry of await readdir(path.join(dir, prefix), { withFileTypes: true })) {
    const relative = prefix ? `${prefix}/${entry.name}` : entry.name;
    if (entry.isDirectory()) for (const [k, v] of await filesOf(dir, relative)) files.set(k, v);
    else if (!entry.name.startsWith(".") && entry.name !== "image_newline.json") files.set(relative, await readFile(path.join(dir, relative)));
  }
  return files;
}

beforeAll(async () => {
  const manifest = await loadManifest(ID);
  const tiny = await ensureTinyLlavaOnevision(defaultTinyLlavaOnevisionDir());
  hub = await new FakeHub({ repo: manifest.repo!, revision: manifest.revision!, files: await filesOf(tiny), redirectToCdn: true }).start();
  work = await tempDir();
});
afterAll(async () => {
  await hub?.stop();
  await work?.cleanup();
});

describe(`models pull ${ID}`, () => {
  it("downloads the default dtypes and only the image_newline bytes of model.safetensors, then runs anyres", async () => {
    const modelsDir = path.join(work.dir, "models");
    const result = await pullModel(ID, { modelsDir, defaultModel: ID, hfEndpoint: hub.url, hfToken: "", retries: 0, timeoutMs: 5_000 });
    expect(result.warnings).toBeUndefined();
    for (const file of ["onnx/vision_encoder_int8.onnx", "onnx/embed_tokens.onnx", "onnx/decoder_model_merged_int8.onnx", "image_newline.json"]) {
      expect(existsSync(path.join(result.dir, file)), file).toBe(true);
    }
    expect(existsSync(path.join(result.dir, "model.safetensors"))).toBe(false);
    const checkpointGets = hub.requests.filter((r) => r.file === "cdn:model.safetensors");
    expect(checkpointGets.length).toBe(3);
    expect(checkpointGets.every((r) => /^bytes=\d+-\d+$/.test(r.range ?? ""))).toBe(true);

    const runner = await ModelRunner.create(
      { id: ID, dir: result.dir, dtypes: { vision_encoder: "int8", embed_tokens: "fp32", decoder_model_merged: "int8" } },
      { threads: 1 },
    );
    try {
      expect(runner.resolveOptions()).toEqual({ imagePath: "anyres", promptStyle: "chat_template" });
      const image = await sharp({ create: { width: 640, height: 480, channels: 3, background: { r: 200, g: 30, b: 90 } } }).png().toBuffer();
      const anyres = await runner.extract({ images: [image], text: "What is in this image?" });
      const single = await runner.extract({ images: [image], text: "What is in this image?", options: { imagePath: "single" } });
      expect(anyres.promptTokens - single.promptTokens).toBe(2929 - 729);
      expect(anyres.vectors.every(Number.isFinite)).toBe(true);
    } finally {
      await runner.close();
    }
  });
});

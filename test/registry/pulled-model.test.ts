import { repoModelsDir } from "../model/paths.js";
import { existsSync } from "node:fs";
import { readFile, readdir } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { listModels, pullModel, resolveModel, type ModelManifest } from "../../src/model/registry/index.js";
import { FakeHub, sha256, tempDir } from "./fake-hub.js";
import { generatedModels } from "../../src/generated-models.js";

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const tinyDir = path.join(repoRoot, "models", "tiny-smolvlm");
const runnerPresent = existsSync(path.join(repoRoot, "src", "model", "index.ts"));
const tinyPresent = existsSync(path.join(tinyDir, "onnx", "decoder_model_merged_int8.onnx"));
if (!runnerPresent || !tinyPresent) console.warn("Skipping the pulled-model test: the runner or models/tiny-smolvlm is missing.");

const REPO = "test-org/tiny-smolvlm";
const REVISION = "1111111111111111111111111111111111111111";
const COMPONENTS = ["vision_encoder", "embed_tokens", "decoder_model_merged"] as const;

let hub: FakeHub;
let work: { dir: string; cleanup: () => Promise<void> };
let manifest: ModelManifest;

/** The generated tiny model as a hub repository: its configs, tokenizer and int8 graphs. */
async function tinyRepoFiles(): Promise<Map<string, Buffer>> {
  const files = new Map<string, Buffer>();
  for (const name of await readdir(tinyDir)) {
    if (name.endsWith(".json") && !name.startsWith(".")) files.set(name, await readFile(path.join(tinyDir, name)));
  }
  for (const c of COMPONENTS) files.set(`onnx/${c}_int8.onnx`, await readFile(path.join(tinyDir, "onnx", `${c}_int8.onnx`)));
  return files;
}

function manifestFor(files: Map<string, Buffer>): ModelManifest {
  const entry = (p: string) => ({ path: p, size: files.get(p)!.length, sha256: sha256(files.get(p)!) });
  const graphs = (c: string) => ({ int8: entry(`onnx/${c}_int8.onnx`) });
  return {
    id: "tiny-from-hub",
    title: "The generated tiny model, served by a local hub",
    source: "hub",
    repo: REPO,
    revision: REVISION,
    revisionVerified: true,
    family: "idefics3",
    license: "apache-2.0",
    randomWeights: true,
    files: [...files.keys()].filter((p) => !p.startsWith("onnx/")).map(entry),
    variants: {
      vision_encoder: graphs("vision_encoder"),
      embed_tokens: graphs("embed_tokens"),
      decoder_model_merged: graphs("decoder_model_merged"),
    },
    defaultDtypes: { vision_encoder: "int8", embed_tokens: "int8", decoder_model_merged: "int8" },
    defaultDtypesMeasured: false,
    unverified: [],
  };
}

async function solidImage(r: number, g: number, b: number): Promise<Uint8Array> {
  return sharp({ create: { width: 48, height: 40, channels: 3, background: { r, g, b } } }).png().toBuffer();
}

describe.skipIf(!runnerPresent || !tinyPresent)("a pulled model", () => {
  beforeAll(async () => {
    const files = await tinyRepoFiles();
    manifest = manifestFor(files);
    hub = await new FakeHub({ repo: REPO, revision: REVISION, files, redirectToCdn: true }).start();
    work = await tempDir();
  });
  afterAll(async () => {
    await hub?.stop();
    await work?.cleanup();
  });

  it("tiny-smolvlm resolves to the generated directory, listed as random weights with nothing to download", async () => {
    const opts = { modelsDir: path.join(work.dir, "models"), defaultModel: "smolvlm-256m-instruct", generators: generatedModels(repoModelsDir) };
    await expect(resolveModel("tiny-smolvlm", { ...opts, generators: {} })).rejects.toThrow(/generated model, but this program has no generator registered/);
    const resolved = await resolveModel("tiny-smolvlm", opts);
    expect(resolved).toMatchObject({
      id: "tiny-smolvlm",
      dir: tinyDir,
      randomWeights: true,
      dtypes: { vision_encoder: "fp32", embed_tokens: "fp32", decoder_model_merged: "fp32" },
    });
    expect((await resolveModel("tiny-smolvlm", { ...opts, dtypes: { decoder_model_merged: "q4" } })).dtypes.decoder_model_merged).toBe("q4");
    const listing = (await listModels(opts)).find((m) => m.id === "tiny-smolvlm");
    expect(listing).toMatchObject({ installed: true, dir: tinyDir, randomWeights: true, downloadBytes: 0, installCommand: null });
  });

  it("generates a tiny model under the models directory, never inside the package", async () => {
    const modelsDir = path.join(work.dir, "user-models");
    const resolved = await resolveModel("tiny-smolvlm", { modelsDir, defaultModel: "smolvlm-256m-instruct", generators: generatedModels(modelsDir) });
    expect(resolved.dir).toBe(path.join(modelsDir, "tiny-smolvlm"));
    expect(existsSync(path.join(resolved.dir, "onnx", "decoder_model_merged.onnx"))).toBe(true);
  });

  it("loads through the runner and classifies", async () => {
    const opts = {
      modelsDir: path.join(work.dir, "models"),
      defaultModel: "tiny-from-hub",
      hfEndpoint: hub.url,
      extraManifests: [manifest],
    };
    await pullModel("tiny-from-hub", opts);
    const resolved = await resolveModel("tiny-from-hub", opts);
    expect(resolved.dir).toBe(path.join(opts.modelsDir, "tiny-from-hub"));
    expect((await listModels(opts)).find((m) => m.id === "tiny-from-hub")).toMatchObject({ installed: true, isDefault: true });

    const { createExtractor } = await import("../../src/model/index.js");
    const { buildClassifier, classify } = await import("../../src/sav/index.js");
    const extractor = await createExtractor({
      id: resolved.id,
      dir: resolved.dir,
      dtypes: resolved.dtypes,
      randomWeights: resolved.randomWeights,
    });
    try {
      expect(extractor.info.dtypes).toMatchObject(resolved.dtypes);
      const text = "What colour is this image?";
      const colours: Record<string, [number, number, number][]> = {
        red: [[220, 20, 20], [200, 40, 30], [240, 10, 50]],
        blue: [[20, 30, 220], [40, 20, 200], [10, 60, 240]],
      };
      const examples = [];
      for (const [label, shades] of Object.entries(colours)) {
        for (const [r, g, b] of shades) {
          const { vectors } = await extractor.extract({ images: [await solidImage(r, g, b)], text });
          examples.push({ label, vector: vectors });
        }
      }
      const shape = extractor.info.shape;
      const classifier = buildClassifier(examples, shape, { k: 4 });
      // A training image comes back as itself: with random weights only the mechanics can be checked.
      const query = await extractor.extract({ images: [await solidImage(200, 40, 30)], text });
      const result = classify(classifier, query.vectors);
      expect(result.label).toBe("red");
      expect(Object.keys(result.votes).sort()).toEqual(["blue", "red"]);
    } finally {
      await extractor.close();
    }
  });
});

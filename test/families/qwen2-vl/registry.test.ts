/**
 * The Qwen2-VL manifests: qwen2-vl-2b-instruct is listed with its external-data side files, tiny-qwen2-vl is
 * "pulled" by generating it; and a Qwen2-VL export whose fp32 graphs keep their weights in `.onnx_data` files
 * is pulled from a (local, fake) hub with the side files beside their graphs, and the runner's edited decoder
 * reads them from its own location: the same head vectors as the inline model.
 */
import { repoModelsDir } from "../../model/paths.js";
import { readFile, readdir } from "node:fs/promises";
import path from "node:path";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generatedModels } from "../../../src/generated-models.js";
import { ModelRunner } from "../../../src/model/runner.js";
import { builtinManifests, pullModel, resolveModel, type ModelManifest } from "../../../src/model/registry/index.js";
import { defaultTinyQwen2VLDir, ensureQwen2VLModel, generateQwen2VLModel } from "../../../src/model/families/qwen2_vl/tiny/index.js";
import { FakeHub, sha256, tempDir } from "../../registry/fake-hub.js";

const REPO = "test-org/tiny-qwen2-vl-external";
const REVISION = "2222222222222222222222222222222222222222";
const COMPONENTS = ["vision_encoder", "embed_tokens", "decoder_model_merged"] as const;

let work: { dir: string; cleanup: () => Promise<void> };
let hub: FakeHub | undefined;
beforeAll(async () => {
  work = await tempDir();
});
afterAll(async () => {
  await hub?.stop();
  await work?.cleanup();
});

describe("Qwen2-VL manifests", () => {
  it("list qwen2-vl-2b-instruct (onnx-community, every dtype, .onnx_data beside each graph) and the generated tiny-qwen2-vl", async () => {
    const byId = new Map((await builtinManifests()).map((m) => [m.id, m]));
    const real = byId.get("qwen2-vl-2b-instruct")!;
    expect(real).toMatchObject({ repo: "onnx-community/Qwen2-VL-2B-Instruct", family: "qwen2_vl", source: "hub", randomWeights: false });
    const decoder = real.variants.decoder_model_merged.fp32!;
    expect(decoder.externalData).toEqual([expect.objectContaining({ path: "onnx/decoder_model_merged.onnx_data" })]);
    expect(decoder.externalData![0]!.optional).toBeUndefined();
    for (const component of COMPONENTS) {
      for (const variant of Object.values(real.variants[component])) {
        expect(variant!.externalData?.map((f) => f.path)).toEqual([`${variant!.path}_data`]);
      }
    }
    expect(byId.get("tiny-qwen2-vl")).toMatchObject({ source: "generated", family: "qwen2_vl", randomWeights: true });
  });

  it("pull tiny-qwen2-vl generates it in place, downloading nothing", async () => {
    const result = await pullModel("tiny-qwen2-vl", { modelsDir: path.join(work.dir, "models"), defaultModel: "tiny-qwen2-vl", generators: generatedModels(repoModelsDir) });
    expect(result).toMatchObject({ dir: defaultTinyQwen2VLDir(), downloadedBytes: 0 });
    expect(await readdir(path.join(result.dir, "onnx"))).toContain("decoder_model_merged_int8.onnx");
  });
});

describe("a Qwen2-VL export with external data, pulled from a hub", () => {
  it("lands the .onnx_data files beside their graphs and gives the inline model's head vectors", async () => {
    const source = path.join(work.dir, "external-source");
    await generateQwen2VLModel({ outDir: source, variants: ["fp32"], externalData: true });
    const files = new Map<string, Buffer>();
    for (const name of await readdir(source)) if (name.endsWith(".json") && !name.startsWith(".")) files.set(name, await readFile(path.join(source, name)));
    for (const name of await readdir(path.join(source, "onnx"))) files.set(`onnx/${name}`, await readFile(path.join(source, "onnx", name)));
    expect([...files.keys()]).toContain("onnx/decoder_model_merged.onnx_data");
    // The graph itself is small: its weights live in the side file.
    expect(files.get("onnx/decoder_model_merged.onnx")!.length).toBeLessThan(files.get("onnx/decoder_model_merged.onnx_data")!.length / 100);

    const entry = (p: string) => ({ path: p, size: files.get(p)!.length, sha256: sha256(files.get(p)!) });
    const graph = (c: string) => ({ fp32: { ...entry(`onnx/${c}.onnx`), externalData: [entry(`onnx/${c}.onnx_data`)] } });
    const manifest: ModelManifest = {
      id: "tiny-qwen2-vl-external",
      title: "tiny-qwen2-vl with external data, served by a local hub",
      source: "hub",
      repo: REPO,
      revision: REVISION,
      revisionVerified: true,
      family: "qwen2_vl",
      license: "apache-2.0",
      randomWeights: true,
      files: [...files.keys()].filter((p) => !p.startsWith("onnx/")).map(entry),
      variants: { vision_encoder: graph("vision_encoder"), embed_tokens: graph("embed_tokens"), decoder_model_merged: graph("decoder_model_merged") },
      defaultDtypes: { vision_encoder: "fp32", embed_tokens: "fp32", decoder_model_merged: "fp32" },
      defaultDtypesMeasured: false,
      unverified: [],
    };
    hub = await new FakeHub({ repo: REPO, revision: REVISION, files, redirectToCdn: true }).start();
    const opts = { modelsDir: path.join(work.dir, "models"), defaultModel: manifest.id, hfEndpoint: hub.url, extraManifests: [manifest] };
    await pullModel(manifest.id, opts);
    const resolved = await resolveModel(manifest.id, opts);
    expect(await readdir(path.join(resolved.dir, "onnx"))).toEqual(expect.arrayContaining(["decoder_model_merged.onnx", "decoder_model_merged.onnx_data"]));

    const image = await sharp({ create: { width: 84, height: 56, channels: 3, background: { r: 200, g: 40, b: 90 } } }).png().toBuffer();
    const request = { images: [image], text: "What colour is this?" };
    const pulled = await ModelRunner.create({ id: manifest.id, dir: resolved.dir, dtypes: resolved.dtypes }, { threads: 1 });
    const inline = await ModelRunner.create({ id: "tiny-qwen2-vl", dir: await ensureQwen2VLModel(defaultTinyQwen2VLDir()), dtypes: resolved.dtypes }, { threads: 1 });
    try {
      const [a, b] = [await pulled.extract(request), await inline.extract(request)];
      expect(Array.from(a.vectors)).toEqual(Array.from(b.vectors));
    } finally {
      await pulled.close();
      await inline.close();
    }
  });
});

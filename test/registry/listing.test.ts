import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  HubError,
  ManifestError,
  listModels,
  loadManifest,
  pullModel,
  resolveModel,
  type RegistryOptions,
} from "../../src/model/registry/index.js";
import { networkError, statusError } from "../../src/model/registry/errors.js";
import { FAKE_REPO, FAKE_REVISION, FakeHub, makeFakeManifest, makeFakeModelFiles, tempDir } from "./fake-hub.js";

let work: { dir: string; cleanup: () => Promise<void> };
let base: RegistryOptions;

beforeEach(async () => {
  work = await tempDir();
  base = { modelsDir: path.join(work.dir, "models"), defaultModel: "smolvlm-256m-instruct", hfEndpoint: "http://127.0.0.1:9" };
});
afterEach(() => work.cleanup());

async function makeModelDir(graphs: string[]): Promise<string> {
  const dir = path.join(work.dir, "my-model");
  await mkdir(path.join(dir, "onnx"), { recursive: true });
  await writeFile(path.join(dir, "config.json"), "{}");
  for (const g of graphs) await writeFile(path.join(dir, "onnx", g), Buffer.alloc(1000, 1));
  return dir;
}

describe("listModels", () => {
  it("lists the built-in models as not installed, with download sizes and install commands", async () => {
    const listings = await listModels(base);
    const small = listings.find((m) => m.id === "smolvlm-256m-instruct");
    const manifest = await loadManifest("smolvlm-256m-instruct");
    const expectedBytes =
      manifest.files.reduce((s, f) => s + (f.size ?? 0), 0) +
      (manifest.variants.vision_encoder.int8?.size ?? 0) +
      (manifest.variants.embed_tokens.int8?.size ?? 0) +
      (manifest.variants.decoder_model_merged.int8?.size ?? 0);
    expect(small).toMatchObject({
      installed: false,
      dir: null,
      isDefault: true,
      randomWeights: false,
      downloadBytes: expectedBytes,
      downloadBytesExact: true,
      installedBytes: 0,
      installCommand: "npx sav-mcp models pull smolvlm-256m-instruct",
      dtypes: { vision_encoder: "int8", embed_tokens: "int8", decoder_model_merged: "int8" },
    });
    const large = listings.find((m) => m.id === "smolvlm-instruct");
    expect(large?.isDefault).toBe(false);
    expect(large?.downloadBytesExact).toBe(false);
    expect(large?.downloadBytes).toBeGreaterThan(1e9); // rounded figures from the hub's listing
    const tiny = listings.find((m) => m.id === "tiny-smolvlm");
    expect(tiny?.randomWeights).toBe(true);
    expect(tiny?.installCommand).toBeNull();
    expect(tiny?.downloadBytes).toBe(0);
  });

  it("shows a pulled model as installed with the bytes on disk", async () => {
    const files = makeFakeModelFiles();
    const manifest = makeFakeManifest(files);
    const hub = await new FakeHub({ repo: FAKE_REPO, revision: FAKE_REVISION, files }).start();
    try {
      const opts = { ...base, hfEndpoint: hub.url, extraManifests: [manifest] };
      const { downloadedBytes } = await pullModel("fake-smolvlm", opts);
      const listing = (await listModels(opts)).find((m) => m.id === "fake-smolvlm");
      expect(listing?.installed).toBe(true);
      expect(listing?.dir).toBe(path.join(base.modelsDir, "fake-smolvlm"));
      expect(listing?.downloadBytes).toBe(downloadedBytes);
      // The files plus the small book-keeping records beside them.
      expect(listing?.installedBytes).toBeGreaterThan(downloadedBytes);
      expect(listing?.installedBytes).toBeLessThan(downloadedBytes + 20_000);
    } finally {
      await hub.stop();
    }
  });

  it("shows the default model from a model directory, and a directory that has no manifest", async () => {
    const dir = await makeModelDir(["vision_encoder.onnx", "embed_tokens.onnx", "decoder_model_merged.onnx"]);
    const listed = (await listModels({ ...base, modelDir: dir })).find((m) => m.id === "smolvlm-256m-instruct");
    expect(listed).toMatchObject({ installed: true, dir, isDefault: true });
    const custom = (await listModels({ ...base, modelDir: dir, defaultModel: "my-model" })).find((m) => m.id === "my-model");
    expect(custom).toMatchObject({ installed: true, dir, isDefault: true, repo: null, installCommand: null });
  });
});

describe("resolveModel with a model directory", () => {
  it("uses the directory as is for the default model and reads the dtypes from its files", async () => {
    const dir = await makeModelDir(["vision_encoder.onnx", "embed_tokens_int8.onnx", "decoder_model_merged_q4.onnx"]);
    const resolved = await resolveModel("smolvlm-256m-instruct", { ...base, modelDir: dir });
    expect(resolved.dir).toBe(dir);
    expect(resolved.dtypes).toEqual({ vision_encoder: "fp32", embed_tokens: "int8", decoder_model_merged: "q4" });
    expect(resolved.manifest?.id).toBe("smolvlm-256m-instruct");
    expect(resolved.randomWeights).toBe(false);
  });

  it("prefers int8 (the measured default) when several variants are present, and honours requested dtypes", async () => {
    const dir = await makeModelDir([
      "vision_encoder.onnx",
      "vision_encoder_int8.onnx",
      "embed_tokens.onnx",
      "decoder_model_merged.onnx",
    ]);
    const detected = (await resolveModel("smolvlm-256m-instruct", { ...base, modelDir: dir })).dtypes;
    expect(detected).toMatchObject({ vision_encoder: "int8", embed_tokens: "fp32", decoder_model_merged: "fp32" });
    const asked = await resolveModel("smolvlm-256m-instruct", { ...base, modelDir: dir, dtypes: { vision_encoder: "fp32" } });
    expect(asked.dtypes.vision_encoder).toBe("fp32");
    await expect(
      resolveModel("smolvlm-256m-instruct", { ...base, modelDir: dir, dtypes: { decoder_model_merged: "q4" } }),
    ).rejects.toThrow(/has no onnx\/decoder_model_merged_q4\.onnx/);
  });

  it("rejects a directory that is not in the published layout", async () => {
    const dir = await makeModelDir(["vision_encoder.onnx"]);
    await expect(resolveModel("smolvlm-256m-instruct", { ...base, modelDir: dir })).rejects.toThrow(ManifestError);
  });

  it("does not use the model directory for other models", async () => {
    const dir = await makeModelDir(["vision_encoder.onnx", "embed_tokens.onnx", "decoder_model_merged.onnx"]);
    await expect(resolveModel("smolvlm-500m-instruct", { ...base, modelDir: dir })).rejects.toThrow(
      /npx sav-mcp models pull smolvlm-500m-instruct/,
    );
  });

  it("rejects an unknown model id with the list of known ones", async () => {
    await expect(resolveModel("gpt-5", base)).rejects.toThrow(/Unknown model "gpt-5".*smolvlm-256m-instruct/);
  });
});

describe("error sentences", () => {
  it("classifies DNS failures as offline with the HF_ENDPOINT remedy", () => {
    const dns = Object.assign(new TypeError("fetch failed"), { cause: Object.assign(new Error("getaddrinfo"), { code: "ENOTFOUND" }) });
    const err = networkError(dns, "https://huggingface.co", "config.json");
    expect(err.kind).toBe("offline");
    expect(err.message).toBe(
      "Cannot reach https://huggingface.co (ENOTFOUND). Check your connection or set HF_ENDPOINT to a mirror.",
    );
    expect(err.retryable).toBe(false);
  });

  it("treats a cut connection as retryable", () => {
    const cut = Object.assign(new TypeError("terminated"), { cause: Object.assign(new Error("other side closed"), { code: "UND_ERR_SOCKET" }) });
    const err = networkError(cut, "https://huggingface.co", "onnx/x.onnx");
    expect(err.kind).toBe("http");
    expect(err.retryable).toBe(true);
  });

  it("tells a user whose token was rejected to check it and accept the licence", () => {
    const err = statusError(403, { endpoint: "https://huggingface.co", repo: "org/gated", revision: "main", file: "config.json", tokenSet: true });
    expect(err.kind).toBe("unauthorized");
    expect(err.message).toContain("HF_TOKEN is set but was rejected");
    expect(err.message).toContain("https://huggingface.co/org/gated");
    expect(statusError(503, { endpoint: "e", repo: "r", revision: "v", file: "f", tokenSet: false }).retryable).toBe(true);
  });

  it("refuses a pull that cannot fit on the disk before downloading anything", async () => {
    const files = makeFakeModelFiles();
    const manifest = makeFakeManifest(files);
    manifest.variants.decoder_model_merged.fp32 = { path: "onnx/decoder_model_merged.onnx", size: 4e15, sha256: null };
    const hub = await new FakeHub({ repo: FAKE_REPO, revision: FAKE_REVISION, files }).start();
    try {
      const err = await pullModel("fake-smolvlm", { ...base, hfEndpoint: hub.url, extraManifests: [manifest] }).catch(
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(HubError);
      expect((err as HubError).kind).toBe("disk-full");
      expect((err as Error).message).toContain(base.modelsDir);
      expect((err as Error).message).toContain("SAV_MODELS_DIR");
      expect(hub.gets()).toHaveLength(0);
    } finally {
      await hub.stop();
    }
  });
});

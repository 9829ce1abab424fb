import { existsSync } from "node:fs";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { bfloat16Bytes, encodeSafetensors } from "../../src/model/families/llava_onevision/tiny/safetensors-writer.js";
import { pullModel, type ModelManifest } from "../../src/model/registry/index.js";
import type { HubContext } from "../../src/model/registry/download.js";
import {
  decodeTensorBytes,
  fetchSafetensorsTensor,
  pullSafetensorsTensors,
  readStoredTensor,
  type TensorRequest,
} from "../../src/model/registry/safetensors-range.js";
import { readFile, writeFile } from "node:fs/promises";
import { defaultTinyLlavaOnevisionDir, ensureTinyLlavaOnevision } from "../../src/model/families/llava_onevision/tiny/index.js";
import { FAKE_REPO, FAKE_REVISION, FakeHub, makeFakeManifest, makeFakeModelFiles, tempDir } from "../registry/fake-hub.js";

const NEWLINE = Float32Array.from({ length: 8 }, (_, i) => (i - 3.3) / 7);
/** A decoy weight before the newline so that the newline's byte range is not at the file's start. */
const DECOY_VALUES = 50_000;
const REQUEST: TensorRequest = {
  file: "model.safetensors",
  indexFile: "model.safetensors.index.json",
  names: ["image_newline", "model.image_newline"],
  saveAs: "image_newline.json",
};

function checkpoint(newlineName = "image_newline"): Buffer {
  return encodeSafetensors([
    { name: "language_model.model.embed_tokens.weight", dtype: "F32", shape: [DECOY_VALUES], bytes: new Uint8Array(DECOY_VALUES * 4) },
    { name: newlineName, dtype: "BF16", shape: [NEWLINE.length], bytes: bfloat16Bytes(NEWLINE) },
  ]);
}

/** The values bf16 storage keeps: the top 16 bits, rounded to nearest even. */
function bf16Rounded(values: Float32Array): number[] {
  return Array.from(decodeTensorBytes("BF16", bfloat16Bytes(values)));
}

let hub: FakeHub | undefined;
let files: Map<string, Buffer>;
let work: { dir: string; cleanup: () => Promise<void> };

function context(): HubContext {
  return {
    endpoint: hub!.url,
    fetchImpl: globalThis.fetch,
    repo: FAKE_REPO,
    revision: FAKE_REVISION,
    timeoutMs: 5_000,
    retries: 0,
    retryDelayMs: 1,
    modelsDir: work.dir,
    remainingBytes: () => 0,
  };
}

beforeEach(async () => {
  hub = undefined;
  files = makeFakeModelFiles();
  work = await tempDir();
});

afterEach(async () => {
  await hub?.stop();
  await work.cleanup();
});

async function startHub(redirectToCdn = false): Promise<void> {
  hub = await new FakeHub({ repo: FAKE_REPO, revision: FAKE_REVISION, files, redirectToCdn }).start();
}

describe("dtype conversion", () => {
  it("widens BF16, F16 and F32 little-endian bytes to float32", () => {
    expect(Array.from(decodeTensorBytes("BF16", Uint8Array.from([0x80, 0x3f, 0x00, 0xc0])))).toEqual([1, -2]);
    expect(Array.from(decodeTensorBytes("F16", Uint8Array.from([0x00, 0x3c, 0x55, 0x35, 0x01, 0x00, 0x00, 0xfc])))).toEqual([
      1,
      0.333251953125,
      2 ** -24,
      -Infinity,
    ]);
    const f32 = new Uint8Array(Float32Array.from([0.1, -7]).buffer);
    expect(Array.from(decodeTensorBytes("F32", f32))).toEqual([Math.fround(0.1), -7]);
  });
});

describe("a tensor by HTTP Range from model.safetensors", () => {
  it("reads the header length, the header, then only the tensor's bytes (through a CDN redirect)", async () => {
    files.set("model.safetensors", checkpoint());
    await startHub(true);
    const tensor = await fetchSafetensorsTensor(context(), REQUEST);
    expect(tensor.name).toBe("image_newline");
    expect(tensor.storedDtype).toBe("BF16");
    expect(tensor.shape).toEqual([8]);
    expect(tensor.values).toEqual(bf16Rounded(NEWLINE));
    const ranges = hub!.requests.filter((r) => r.file === "cdn:model.safetensors").map((r) => r.range);
    const headerLength = Number(files.get("model.safetensors")!.readBigUInt64LE(0));
    const start = 8 + headerLength + DECOY_VALUES * 4;
    expect(ranges).toEqual(["bytes=0-7", `bytes=8-${8 + headerLength - 1}`, `bytes=${start}-${start + 15}`]);
    expect(tensor.provenance).toMatchObject({
      repository: FAKE_REPO,
      revision: FAKE_REVISION,
      file: "model.safetensors",
      tensor: "image_newline",
      byteRange: [start, start + 16],
    });
  });

  it("accepts the newer checkpoint name model.image_newline", async () => {
    files.set("model.safetensors", checkpoint("model.image_newline"));
    await startHub();
    expect((await fetchSafetensorsTensor(context(), REQUEST)).name).toBe("model.image_newline");
  });

  it("finds the shard through model.safetensors.index.json when there is no single file", async () => {
    files.set("model-00002-of-00002.safetensors", checkpoint());
    files.set("model.safetensors.index.json", Buffer.from(JSON.stringify({ weight_map: { image_newline: "model-00002-of-00002.safetensors" } })));
    await startHub();
    const tensor = await fetchSafetensorsTensor(context(), REQUEST);
    expect(tensor.provenance.file).toBe("model-00002-of-00002.safetensors");
    expect(tensor.values).toEqual(bf16Rounded(NEWLINE));
  });

  it("refuses a server that ignores Range instead of downloading the whole checkpoint", async () => {
    files.set("model.safetensors", checkpoint());
    await startHub();
    hub!.ignoreRange = true;
    await expect(fetchSafetensorsTensor(context(), REQUEST)).rejects.toThrow(/ignored the Range request/);
  });

  it("a checkpoint without the tensor, or no checkpoint at all, is a warning and no file", async () => {
    files.set("model.safetensors", encodeSafetensors([{ name: "other", dtype: "F32", shape: [1], bytes: new Uint8Array(4) }]));
    await startHub();
    const warnings = await pullSafetensorsTensors(context(), work.dir, [REQUEST]);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/image_newline\.json could not be fetched .*no tensor named image_newline or model\.image_newline/);
    expect(existsSync(path.join(work.dir, "image_newline.json"))).toBe(false);
    files.delete("model.safetensors");
    const absent = await pullSafetensorsTensors(context(), work.dir, [REQUEST]);
    expect(absent[0]).toMatch(/not found/);
  });
});

describe("the pull hook", () => {
  it("pulls the generated tiny model's own model.safetensors newline: the same values as its image_newline.json", async () => {
    const tinyDir = await ensureTinyLlavaOnevision(defaultTinyLlavaOnevisionDir());
    files.set("model.safetensors", await readFile(path.join(tinyDir, "model.safetensors")));
    await startHub(true);
    const fetched = await fetchSafetensorsTensor(context(), REQUEST);
    const generated = readStoredTensor(tinyDir, "image_newline.json")!;
    expect(fetched.storedDtype).toBe("F16");
    expect(fetched.values).toEqual(generated.values);
    expect(fetched.provenance.byteRange).toEqual(generated.provenance.byteRange);
    expect(fetched.provenance.sha256).toBe(generated.provenance.sha256);
  });

  it("models pull stores image_newline.json with its provenance beside the model", async () => {
    files.set("model.safetensors", checkpoint());
    await startHub(true);
    const manifest: ModelManifest = { ...makeFakeManifest(files), safetensorsTensors: [REQUEST] };
    const modelsDir = path.join(work.dir, "models");
    const result = await pullModel(manifest.id, {
      modelsDir,
      defaultModel: manifest.id,
      hfEndpoint: hub!.url,
      hfToken: "",
      extraManifests: [manifest],
      retries: 0,
      timeoutMs: 5_000,
    });
    expect(result.warnings).toBeUndefined();
    const stored = readStoredTensor(result.dir, "image_newline.json");
    expect(stored?.values).toEqual(bf16Rounded(NEWLINE));
    expect(stored?.provenance.repository).toBe(FAKE_REPO);
    // The whole checkpoint was never downloaded.
    expect(existsSync(path.join(result.dir, "model.safetensors"))).toBe(false);
    // A second pull keeps the stored copy of this revision; one from another revision is fetched again.
    const options = { modelsDir, defaultModel: manifest.id, hfEndpoint: hub!.url, hfToken: "", extraManifests: [manifest], retries: 0, timeoutMs: 5_000 };
    const before = hub!.requests.length;
    await pullModel(manifest.id, options);
    expect(hub!.requests.filter((r) => r.file === "cdn:model.safetensors" || r.file === "model.safetensors").length).toBe(
      hub!.requests.slice(0, before).filter((r) => r.file === "cdn:model.safetensors" || r.file === "model.safetensors").length,
    );
    const stale = { ...stored!, provenance: { ...stored!.provenance, revision: "an-older-revision" } };
    await writeFile(path.join(result.dir, "image_newline.json"), JSON.stringify(stale));
    await pullModel(manifest.id, options);
    expect(readStoredTensor(result.dir, "image_newline.json")?.provenance.revision).toBe(FAKE_REVISION);
  });

  it("a repository without the checkpoint still pulls, with a warning naming the file", async () => {
    await startHub();
    const manifest: ModelManifest = { ...makeFakeManifest(files), safetensorsTensors: [REQUEST] };
    const result = await pullModel(manifest.id, {
      modelsDir: path.join(work.dir, "models"),
      defaultModel: manifest.id,
      hfEndpoint: hub!.url,
      hfToken: "",
      extraManifests: [manifest],
      retries: 0,
      timeoutMs: 5_000,
    });
    expect(result.warnings?.[0]).toMatch(/image_newline\.json could not be fetched from test-org\/fake-smolvlm\/model\.safetensors/);
    expect(readStoredTensor(result.dir, "image_newline.json")).toBeNull();
  });
});

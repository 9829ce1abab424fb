import { existsSync } from "node:fs";
import { mkdir, readFile, readdir, rm, stat, truncate, writeFile } from "node:fs/promises";
import http from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  HubError,
  ModelNotInstalledError,
  filesFor,
  listModels,
  pullModel,
  removeModel,
  resolveModel,
  verifyModel,
  type ModelManifest,
  type PullOptions,
  type PullProgress,
} from "../../src/model/registry/index.js";
import {
  FAKE_REPO,
  FAKE_REVISION,
  FakeHub,
  makeFakeManifest,
  makeFakeModelFiles,
  sha256,
  tempDir,
  writeManifestFile,
} from "./fake-hub.js";

const DECODER = "onnx/decoder_model_merged.onnx";
const VISION = "onnx/vision_encoder_int8.onnx";

let hub: FakeHub;
let files: Map<string, Buffer>;
let manifest: ModelManifest;
let work: { dir: string; cleanup: () => Promise<void> };
let modelsDir: string;

function options(extra: Partial<PullOptions> = {}): PullOptions {
  return {
    modelsDir,
    defaultModel: "smolvlm-256m-instruct",
    hfEndpoint: hub.url,
    hfToken: "",
    extraManifests: [manifest],
    retries: 2,
    retryDelayMs: 5,
    timeoutMs: 5_000,
    ...extra,
  };
}

async function startHub(redirectToCdn = false): Promise<void> {
  hub = await new FakeHub({ repo: FAKE_REPO, revision: FAKE_REVISION, files, redirectToCdn }).start();
}

async function expectHubError(promise: Promise<unknown>, kind: HubError["kind"]): Promise<HubError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(HubError);
  expect((err as HubError).kind).toBe(kind);
  return err as HubError;
}

const defaultFiles = () => filesFor(manifest, manifest.defaultDtypes).map((f) => f.path);

beforeEach(async () => {
  files = makeFakeModelFiles();
  manifest = makeFakeManifest(files);
  work = await tempDir();
  modelsDir = path.join(work.dir, "models");
  await startHub();
});

afterEach(async () => {
  await hub.stop();
  await work.cleanup();
});

describe("pullModel against a local hub", () => {
  it("downloads the default dtype files in the repo layout and verifies them", async () => {
    const progress: PullProgress[] = [];
    const result = await pullModel("fake-smolvlm", options({ onProgress: (p) => progress.push(p) }));

    const dir = path.join(modelsDir, "fake-smolvlm");
    expect(result.dir).toBe(dir);
    expect(result.skippedFiles).toBe(0);
    const expectedBytes = defaultFiles().reduce((sum, p) => sum + (files.get(p)?.length ?? 0), 0);
    expect(result.downloadedBytes).toBe(expectedBytes);
    for (const p of defaultFiles()) {
      expect(sha256(await readFile(path.join(dir, p)))).toBe(sha256(files.get(p) as Buffer));
      expect(existsSync(path.join(dir, `${p}.partial`))).toBe(false);
    }
    // Only the chosen dtypes are fetched: the fp32 vision encoder is not.
    expect(existsSync(path.join(dir, "onnx/vision_encoder.onnx"))).toBe(false);
    expect(hub.gets("onnx/vision_encoder.onnx")).toHaveLength(0);

    const last = progress[progress.length - 1];
    expect(last?.overallReceived).toBe(expectedBytes);
    expect(last?.overallTotal).toBe(expectedBytes);

    const resolved = await resolveModel("fake-smolvlm", options());
    expect(resolved.dir).toBe(dir);
    expect(resolved.dtypes).toEqual(manifest.defaultDtypes);
    expect((await verifyModel("fake-smolvlm", options())).ok).toBe(true);
  });

  it("follows the hub's redirect to a CDN, verifies with X-Linked-Etag and keeps the token on the hub", async () => {
    await hub.stop();
    await startHub(true);
    await pullModel("fake-smolvlm", options({ hfToken: "hf_test_token" }));
    const hubGets = hub.gets();
    const cdnGets = hub.requests.filter((r) => r.file.startsWith("cdn:"));
    expect(hubGets.length).toBe(defaultFiles().length);
    expect(cdnGets.length).toBe(defaultFiles().length);
    expect(hubGets.every((r) => r.authorization === "Bearer hf_test_token")).toBe(true);
    expect(cdnGets.every((r) => r.authorization === undefined)).toBe(true);
    const decoder = await readFile(path.join(modelsDir, "fake-smolvlm", DECODER));
    expect(sha256(decoder)).toBe(sha256(files.get(DECODER) as Buffer));
  });

  it("resumes a file with a Range request after the connection is cut midway", async () => {
    hub.cutAfter.set(DECODER, 150_000);
    await pullModel("fake-smolvlm", options({ concurrency: 1 }));
    const gets = hub.gets(DECODER);
    expect(gets).toHaveLength(2);
    expect(gets[0]?.range).toBeUndefined();
    expect(gets[1]?.range).toBe("bytes=150000-");
    const decoder = await readFile(path.join(modelsDir, "fake-smolvlm", DECODER));
    expect(decoder.equals(files.get(DECODER) as Buffer)).toBe(true);
  });

  it("resumes a .partial file left by an earlier pull that failed", async () => {
    hub.cutAfter.set(VISION, 40_000);
    await expectHubError(pullModel("fake-smolvlm", options({ retries: 0, concurrency: 1 })), "http");
    const partial = path.join(modelsDir, "fake-smolvlm", `${VISION}.partial`);
    expect((await stat(partial)).size).toBe(40_000);

    await pullModel("fake-smolvlm", options());
    const gets = hub.gets(VISION);
    expect(gets[gets.length - 1]?.range).toBe("bytes=40000-");
    expect((await readFile(path.join(modelsDir, "fake-smolvlm", VISION))).equals(files.get(VISION) as Buffer)).toBe(true);
    expect(existsSync(partial)).toBe(false);
  });

  it("finishes a complete .partial file left before its rename without downloading it again", async () => {
    const partial = path.join(modelsDir, "fake-smolvlm", `${VISION}.partial`);
    await mkdir(path.dirname(partial), { recursive: true });
    await writeFile(partial, files.get(VISION) as Buffer);
    const result = await pullModel("fake-smolvlm", options());
    const size = files.get(VISION)?.length ?? 0;
    expect(hub.gets(VISION).map((r) => r.range)).toEqual([`bytes=${size}-`]); // answered 416
    const others = defaultFiles().filter((p) => p !== VISION);
    expect(result.downloadedBytes).toBe(others.reduce((sum, p) => sum + (files.get(p)?.length ?? 0), 0));
    expect((await readFile(path.join(modelsDir, "fake-smolvlm", VISION))).equals(files.get(VISION) as Buffer)).toBe(true);
    expect(existsSync(partial)).toBe(false);
  });

  it("starts over when the server ignores the Range header", async () => {
    hub.cutAfter.set(DECODER, 100_000);
    hub.ignoreRange = true;
    const result = await pullModel("fake-smolvlm", options({ concurrency: 1 }));
    expect(hub.gets(DECODER)[1]?.range).toBe("bytes=100000-");
    const decoder = await readFile(path.join(modelsDir, "fake-smolvlm", DECODER));
    expect(decoder.equals(files.get(DECODER) as Buffer)).toBe(true);
    const total = defaultFiles().reduce((sum, p) => sum + (files.get(p)?.length ?? 0), 0);
    expect(result.downloadedBytes).toBe(total + 100_000);
  });

  it("detects a corrupted byte by the manifest's sha256, deletes the file and says so", async () => {
    hub.corrupt.set(VISION, 1234);
    const err = await expectHubError(pullModel("fake-smolvlm", options()), "checksum");
    expect(err.message).toContain(VISION);
    expect(err.message).toMatch(/deleted/);
    const dir = path.join(modelsDir, "fake-smolvlm");
    expect(existsSync(path.join(dir, VISION))).toBe(false);
    expect(existsSync(path.join(dir, `${VISION}.partial`))).toBe(false);
  });

  it("detects a corrupted byte by the hub's ETag when the manifest has no sha256", async () => {
    expect(manifest.variants.decoder_model_merged.fp32?.sha256).toBeNull();
    hub.corrupt.set(DECODER, 99);
    const err = await expectHubError(pullModel("fake-smolvlm", options()), "checksum");
    expect(err.message).toContain(DECODER);
    expect(existsSync(path.join(modelsDir, "fake-smolvlm", DECODER))).toBe(false);
  });

  it("reports a missing file (404) with the revision and what to check", async () => {
    hub.statusFor.set(VISION, 404);
    const err = await expectHubError(pullModel("fake-smolvlm", options()), "not-found");
    expect(err.message).toContain(VISION);
    expect(err.message).toContain(FAKE_REVISION);
    expect(hub.gets(VISION)).toHaveLength(1); // a 404 is not retried
  });

  it("reports a wrong revision as not found", async () => {
    const wrong = { ...manifest, revision: "does-not-exist" };
    const err = await expectHubError(pullModel("fake-smolvlm", options({ extraManifests: [wrong] })), "not-found");
    expect(err.message).toContain("does-not-exist");
  });

  it("reports 401 with the HF_TOKEN remedy, and succeeds with the token", async () => {
    hub.requireToken = "hf_secret";
    const err = await expectHubError(pullModel("fake-smolvlm", options()), "unauthorized");
    expect(err.message).toContain("HF_TOKEN");
    expect(err.message).toContain(FAKE_REPO);
    const result = await pullModel("fake-smolvlm", options({ hfToken: "hf_secret" }));
    expect(result.skippedFiles + defaultFiles().length).toBeGreaterThan(0);
    expect((await verifyModel("fake-smolvlm", options())).ok).toBe(true);
  });

  it("takes HF_ENDPOINT and HF_TOKEN from the environment when not given", async () => {
    hub.requireToken = "hf_from_env";
    const saved = { endpoint: process.env.HF_ENDPOINT, token: process.env.HF_TOKEN };
    process.env.HF_ENDPOINT = hub.url;
    process.env.HF_TOKEN = "hf_from_env";
    try {
      const { hfEndpoint: _e, hfToken: _t, ...rest } = options();
      await pullModel("fake-smolvlm", rest);
    } finally {
      restoreEnv("HF_ENDPOINT", saved.endpoint);
      restoreEnv("HF_TOKEN", saved.token);
    }
    expect(hub.gets().every((r) => r.authorization === "Bearer hf_from_env")).toBe(true);
  });

  it("fails with a timeout when the server stops sending", async () => {
    hub.stall.add(DECODER);
    const err = await expectHubError(pullModel("fake-smolvlm", options({ timeoutMs: 300, retries: 1 })), "timeout");
    expect(err.message).toContain(DECODER);
    expect(hub.gets(DECODER)).toHaveLength(2); // retried once, then gave up
  });

  it("says the hub cannot be reached when nothing listens", async () => {
    const closed = http.createServer();
    await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", () => resolve()));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const endpoint = `http://127.0.0.1:${port}`;
    const err = await expectHubError(pullModel("fake-smolvlm", options({ hfEndpoint: endpoint })), "offline");
    expect(err.message).toBe(
      `Cannot reach ${endpoint} (ECONNREFUSED). Check your connection or set HF_ENDPOINT to a mirror.`,
    );
  });

  it("downloads nothing on a second pull of a complete model", async () => {
    await pullModel("fake-smolvlm", options());
    hub.requests.length = 0;
    const again = await pullModel("fake-smolvlm", options());
    expect(again.downloadedBytes).toBe(0);
    expect(again.skippedFiles).toBe(defaultFiles().length);
    expect(hub.requests).toHaveLength(0);
  });

  it("re-hashes instead of downloading when the verified stamps are gone", async () => {
    await pullModel("fake-smolvlm", options());
    await rm(path.join(modelsDir, "fake-smolvlm", ".sav-mcp", "verified"), { recursive: true });
    hub.requests.length = 0;
    const again = await pullModel("fake-smolvlm", options());
    expect(again.downloadedBytes).toBe(0);
    expect(hub.gets()).toHaveLength(0);
    // The decoder has no sha256 in the manifest: its check asks the hub for the ETag with a HEAD request.
    expect(hub.requests.map((r) => `${r.method} ${r.file}`)).toEqual([`HEAD ${DECODER}`]);
  });

  it("replaces a truncated installed file on the next pull", async () => {
    await pullModel("fake-smolvlm", options());
    const target = path.join(modelsDir, "fake-smolvlm", VISION);
    await truncate(target, 1000);
    hub.requests.length = 0;
    const again = await pullModel("fake-smolvlm", options());
    expect(hub.gets().map((r) => r.file)).toEqual([VISION]);
    expect(again.downloadedBytes).toBe(files.get(VISION)?.length);
    expect((await readFile(target)).equals(files.get(VISION) as Buffer)).toBe(true);
  });

  it("pulls other dtypes on request and downloads at most `concurrency` files at once", async () => {
    await pullModel(
      "fake-smolvlm",
      options({ dtypes: { vision_encoder: "fp32", embed_tokens: "fp32" }, concurrency: 2 }),
    );
    expect(hub.maxInFlight).toBeLessThanOrEqual(2);
    const dir = path.join(modelsDir, "fake-smolvlm");
    expect(existsSync(path.join(dir, "onnx/vision_encoder.onnx"))).toBe(true);
    expect(existsSync(path.join(dir, "onnx/embed_tokens.onnx"))).toBe(true);
    // The last pulled dtype set is what resolveModel picks when none is asked for.
    const resolved = await resolveModel("fake-smolvlm", options());
    expect(resolved.dtypes).toEqual({ vision_encoder: "fp32", embed_tokens: "fp32", decoder_model_merged: "fp32" });
  });

  it("rejects a dtype the manifest does not publish", async () => {
    await expect(pullModel("fake-smolvlm", options({ dtypes: { decoder_model_merged: "q4" } }))).rejects.toThrow(
      /no decoder_model_merged in dtype "q4"/,
    );
  });

  it("stops when aborted and keeps the partial file for a later resume", async () => {
    hub.stall.add(DECODER);
    const controller = new AbortController();
    // Cancel once the stalled decoder download has started (its .partial file is open).
    const onProgress = (p: PullProgress) => {
      if (p.file === DECODER) controller.abort(new Error("user cancelled"));
    };
    const pulling = pullModel(
      "fake-smolvlm",
      options({ signal: controller.signal, concurrency: 3, onProgress, progressIntervalMs: 0 }),
    );
    await expect(pulling).rejects.toThrow("user cancelled");
    expect(existsSync(path.join(modelsDir, "fake-smolvlm", `${DECODER}.partial`))).toBe(true);
  });

  it("pulls from a manifest file path and then resolves the model by id", async () => {
    const manifestFile = await writeManifestFile(work.dir, manifest);
    const { extraManifests: _ignored, ...noExtra } = options();
    await pullModel(manifestFile, noExtra);
    const resolved = await resolveModel("fake-smolvlm", noExtra);
    expect(resolved.manifest?.repo).toBe(FAKE_REPO);
    const listing = (await listModels(noExtra)).find((m) => m.id === "fake-smolvlm");
    expect(listing?.installed).toBe(true);
  });
});

describe("verify, rm and resolve", () => {
  it("verify detects a modified file with the manifest's sha256", async () => {
    await pullModel("fake-smolvlm", options());
    const target = path.join(modelsDir, "fake-smolvlm", VISION);
    const bytes = await readFile(target);
    bytes[10] = (bytes[10] ?? 0) ^ 1;
    await writeFile(target, bytes);
    const result = await verifyModel("fake-smolvlm", options());
    expect(result.ok).toBe(false);
    const bad = result.files.filter((f) => !f.ok);
    expect(bad.map((f) => f.path)).toEqual([VISION]);
    expect(bad[0]?.reason).toMatch(/sha256 .* differs from the manifest's/);
  });

  it("verify detects a modified file against the sha256 recorded at download", async () => {
    await pullModel("fake-smolvlm", options());
    const target = path.join(modelsDir, "fake-smolvlm", DECODER);
    const bytes = await readFile(target);
    bytes[0] = (bytes[0] ?? 0) ^ 1;
    await writeFile(target, bytes);
    const result = await verifyModel("fake-smolvlm", options());
    expect(result.ok).toBe(false);
    expect(result.files.find((f) => f.path === DECODER)?.reason).toMatch(/recorded at download/);
  });

  it("verify reports missing files", async () => {
    await pullModel("fake-smolvlm", options());
    await rm(path.join(modelsDir, "fake-smolvlm", "config.json"));
    const result = await verifyModel("fake-smolvlm", options());
    expect(result.files.find((f) => f.path === "config.json")).toEqual({ path: "config.json", ok: false, reason: "missing" });
  });

  it("rm deletes the model directory and reports the bytes freed", async () => {
    await pullModel("fake-smolvlm", options());
    const dir = path.join(modelsDir, "fake-smolvlm");
    const onDisk = await directorySize(dir);
    const { removedBytes } = await removeModel("fake-smolvlm", options());
    expect(removedBytes).toBe(onDisk);
    expect(existsSync(dir)).toBe(false);
    expect((await listModels(options())).find((m) => m.id === "fake-smolvlm")?.installed).toBe(false);
    expect((await removeModel("fake-smolvlm", options())).removedBytes).toBe(0);
  });

  it("resolveModel of a model that is not installed names the install command", async () => {
    const err = await resolveModel("fake-smolvlm", options()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ModelNotInstalledError);
    expect((err as ModelNotInstalledError).modelId).toBe("fake-smolvlm");
    expect((err as ModelNotInstalledError).installCommand).toBe("npx sav-mcp models pull fake-smolvlm");
    expect((err as Error).message).toContain("npx sav-mcp models pull fake-smolvlm");
  });

  it("resolveModel of the real default names `npx sav-mcp models pull smolvlm-256m-instruct`", async () => {
    const err = await resolveModel("smolvlm-256m-instruct", options()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ModelNotInstalledError);
    expect((err as Error).message).toContain("npx sav-mcp models pull smolvlm-256m-instruct");
  });

  it("resolveModel names the --dtype flag when non-default dtypes are asked for", async () => {
    const err = await resolveModel("fake-smolvlm", { ...options(), dtypes: { decoder_model_merged: "int8" } }).catch(
      (e: unknown) => e,
    );
    expect((err as ModelNotInstalledError).installCommand).toBe(
      "npx sav-mcp models pull fake-smolvlm --dtype decoder_model_merged=int8",
    );
  });

  it("resolveModel treats a file of the wrong size as not installed", async () => {
    await pullModel("fake-smolvlm", options());
    await truncate(path.join(modelsDir, "fake-smolvlm", VISION), 10);
    await expect(resolveModel("fake-smolvlm", options())).rejects.toBeInstanceOf(ModelNotInstalledError);
  });
});

function restoreEnv(name: string, value: string | undefined): void {
  if (value === undefined) delete process.env[name];
  else process.env[name] = value;
}

async function directorySize(dir: string): Promise<number> {
  let total = 0;
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) total += (await stat(path.join(entry.parentPath, entry.name))).size;
  }
  return total;
}

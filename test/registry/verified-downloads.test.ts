import { randomBytes } from "node:crypto";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { maxBytesWithoutSize, MAX_UNKNOWN_FILE_BYTES } from "../../src/model/registry/download.js";
import { networkError, redactCredentials } from "../../src/model/registry/errors.js";
import { HubError, pullModel, verifyModel, type ModelManifest, type PullOptions, type PullProgress } from "../../src/model/registry/index.js";
import { FAKE_REPO, FAKE_REVISION, FakeHub, makeFakeManifest, makeFakeModelFiles, tempDir } from "./fake-hub.js";

let hub: FakeHub;
let files: Map<string, Buffer>;
let manifest: ModelManifest;
let work: { dir: string; cleanup: () => Promise<void> };

function options(extra: Partial<PullOptions> = {}): PullOptions {
  return {
    modelsDir: path.join(work.dir, "models"),
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

/** The manifest with config.json's size and sha256 unknown (like the manifests of unverified models). */
function withUnknownConfig(extra: { approxSize?: number } = {}): ModelManifest {
  return { ...manifest, files: manifest.files.map((f) => (f.path === "config.json" ? { ...f, size: null, sha256: null, ...extra } : f)) };
}

beforeEach(async () => {
  files = makeFakeModelFiles();
  manifest = makeFakeManifest(files);
  work = await tempDir();
  hub = await new FakeHub({ repo: FAKE_REPO, revision: FAKE_REVISION, files }).start();
});
afterEach(async () => {
  await hub.stop();
  await work.cleanup();
});

describe("downloads are verified or marked unverified", () => {
  it("installs a file with no size, no sha256 and no hub ETag as unverified, and verify says so", async () => {
    manifest = withUnknownConfig();
    hub.sha1Etag.add("config.json");
    const result = await pullModel("fake-smolvlm", options());
    expect(result.unverifiedFiles).toEqual(["config.json"]);
    const verified = await verifyModel("fake-smolvlm", options());
    const config = verified.files.find((f) => f.path === "config.json")!;
    expect(config.unverified).toBe(true);
    expect(config.reason).toMatch(/UNVERIFIED/);
    expect(verified.files.filter((f) => f.unverified).map((f) => f.path)).toEqual(["config.json"]);
  });

  it("checks a file against the hub's sha256 ETag when the manifest has none (not unverified)", async () => {
    manifest = withUnknownConfig();
    const result = await pullModel("fake-smolvlm", options());
    expect(result.unverifiedFiles).toEqual([]);
  });

  it("cuts off a body of unknown size beyond the manifest's maximum and keeps nothing", async () => {
    files.set("config.json", randomBytes(2 * 1024 * 1024));
    manifest = withUnknownConfig({ approxSize: 1000 });
    hub.sha1Etag.add("config.json");
    const error = await pullModel("fake-smolvlm", options()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(HubError);
    expect((error as HubError).message).toMatch(/more than the manifest allows for a file of unknown size/);
    expect(maxBytesWithoutSize({ approxSize: 1000 })).toBeLessThan(2 * 1024 * 1024);
    expect(maxBytesWithoutSize({})).toBe(MAX_UNKNOWN_FILE_BYTES);
  });

  it("counts a file of unknown size by its size on the hub, never as 0, before downloading", async () => {
    manifest = withUnknownConfig();
    const progress: PullProgress[] = [];
    await pullModel("fake-smolvlm", options({ onProgress: (p) => progress.push(p) }));
    const total = progress[0]!.overallTotal;
    expect(total).toBe(progress.at(-1)!.overallReceived);
    expect(hub.requests.some((r) => r.method === "HEAD" && r.file === "config.json")).toBe(true);
  });
});

describe("credentials never appear in messages", () => {
  it("refuses an HF_ENDPOINT with user:password at once, redacted, without a request or a retry", async () => {
    const endpoint = hub.url.replace("http://", "http://alice:s3cr3t@");
    const error = await pullModel("fake-smolvlm", options({ hfEndpoint: endpoint, retries: 4, retryDelayMs: 60_000 })).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(HubError);
    expect((error as HubError).retryable).toBe(false);
    expect((error as HubError).message).toMatch(/http:\/\/\*\*\*@127\.0\.0\.1.*HF_TOKEN/);
    expect((error as HubError).message).not.toMatch(/alice|s3cr3t/);
    expect(hub.requests).toHaveLength(0);
  });

  it("redacts user:password from any hub message", () => {
    expect(redactCredentials("Cannot reach https://bob:pw@mirror.example/x (ENOTFOUND)")).toBe("Cannot reach https://***@mirror.example/x (ENOTFOUND)");
    const error = networkError(new Error("boom"), "https://bob:pw@mirror.example", "config.json");
    expect(error.message).not.toMatch(/bob|pw@/);
  });
});

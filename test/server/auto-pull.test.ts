import { readdir, readFile } from "node:fs/promises";
import path from "node:path";
import { LoggingMessageNotificationSchema, type CallToolResult, type LoggingMessageNotification, type Progress } from "@modelcontextprotocol/sdk/types.js";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import type { ModelManifest } from "../../src/model/registry/index.js";
import { createModelProvider } from "../../src/server/model-provider.js";
import { defaultTinyModelDir } from "../../src/model/families/idefics3/tiny/index.js";
import { FakeHub, sha256 } from "../registry/fake-hub.js";
import { startHarness, testConfig, textOf, type Harness } from "../support/mcp-harness.js";
import { makeTempDir } from "../support/temp-dir.js";

const REPO = "test-org/tiny-for-server";
const REVISION = "2222222222222222222222222222222222222222";
const COMPONENTS = ["vision_encoder", "embed_tokens", "decoder_model_merged"] as const;

/** The generated tiny model's configs, tokenizer and fp32 graphs, as a hub repository. */
async function tinyRepoFiles(): Promise<Map<string, Buffer>> {
  const dir = defaultTinyModelDir();
  const files = new Map<string, Buffer>();
  for (const name of await readdir(dir)) {
    if (name.endsWith(".json") && !name.startsWith(".")) files.set(name, await readFile(path.join(dir, name)));
  }
  for (const c of COMPONENTS) files.set(`onnx/${c}.onnx`, await readFile(path.join(dir, "onnx", `${c}.onnx`)));
  return files;
}

function manifestFor(files: Map<string, Buffer>): ModelManifest {
  const entry = (p: string) => ({ path: p, size: files.get(p)!.length, sha256: sha256(files.get(p)!) });
  const graphs = (c: string) => ({ fp32: entry(`onnx/${c}.onnx`) });
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
    variants: { vision_encoder: graphs("vision_encoder"), embed_tokens: graphs("embed_tokens"), decoder_model_merged: graphs("decoder_model_merged") },
    defaultDtypes: { vision_encoder: "fp32", embed_tokens: "fp32", decoder_model_merged: "fp32" },
    defaultDtypesMeasured: false,
    unverified: [],
  };
}

describe("a task on a model that is not installed", () => {
  let temp: ReturnType<typeof makeTempDir>;
  let hub: FakeHub;
  let manifest: ModelManifest;

  async function start(autoPull: boolean, sub: string, served: ModelManifest = manifest): Promise<Harness> {
    const dirs = { dataDir: path.join(temp.dir, sub, "data"), modelsDir: path.join(temp.dir, sub, "models"), allowedDirs: [temp.dir] };
    const config = { ...testConfig(dirs), autoPull };
    const models = createModelProvider({ config, runner: { threads: 1 }, registry: { hfEndpoint: hub.url, extraManifests: [served] } });
    const harness = await startHarness({ ...dirs, models });
    return {
      ...harness,
      close: async () => {
        await harness.close();
        await models.close();
      },
    };
  }

  beforeAll(async () => {
    temp = makeTempDir();
    const files = await tinyRepoFiles();
    manifest = manifestFor(files);
    hub = await new FakeHub({ repo: REPO, revision: REVISION, files }).start();
  });
  afterAll(async () => {
    await hub?.stop();
    temp?.cleanup();
  });

  it("is refused with the install command, and nothing is downloaded, unless auto-pull is on", async () => {
    const harness = await start(false, "manual");
    try {
      const result = (await harness.client.callTool({ name: "create_sav_task", arguments: { name: "t", prompt: "Q?", model: "tiny-from-hub" } })) as CallToolResult;
      expect(result.isError).toBe(true);
      expect(textOf(result)).toContain("npx sav-mcp models pull tiny-from-hub");
      expect(hub.requests.filter((r) => r.method === "GET")).toEqual([]);
    } finally {
      await harness.close();
    }
  });

  it("with auto-pull, downloads the model inside the call and reports progress", async () => {
    const harness = await start(true, "auto");
    try {
      const progress: Progress[] = [];
      const result = (await harness.client.callTool(
        { name: "create_sav_task", arguments: { name: "t", prompt: "Q?", model: "tiny-from-hub" } },
        undefined,
        { onprogress: (p) => progress.push(p) },
      )) as CallToolResult;
      expect(result.isError, textOf(result)).toBeFalsy();
      expect(result.structuredContent).toMatchObject({ name: "t", model: { id: "tiny-from-hub", randomWeights: true } });
      expect(progress.some((p) => /downloading model tiny-from-hub/.test(p.message ?? ""))).toBe(true);
      expect(progress.some((p) => /loading model tiny-from-hub/.test(p.message ?? ""))).toBe(true);
      for (let i = 1; i < progress.length; i++) expect(progress[i]!.progress).toBeGreaterThan(progress[i - 1]!.progress);
      expect(hub.requests.filter((r) => r.method === "GET").length).toBeGreaterThan(0);
    } finally {
      await harness.close();
    }
  });

  it("with auto-pull, says loudly (call log and server stderr) which files were installed unverified", async () => {
    // config.json: no size or sha256 in the manifest, and a SHA-1 ETag from the hub, so nothing can check it.
    const unverified = { ...manifest, files: manifest.files.map((f) => (f.path === "config.json" ? { ...f, size: null, sha256: null } : f)) };
    hub.sha1Etag.add("config.json");
    const stderr = vi.spyOn(process.stderr, "write").mockImplementation(() => true);
    const harness = await start(true, "unverified", unverified);
    try {
      const logs: LoggingMessageNotification["params"][] = [];
      harness.client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => void logs.push(n.params));
      const result = (await harness.client.callTool({ name: "create_sav_task", arguments: { name: "u", prompt: "Q?", model: "tiny-from-hub" } })) as CallToolResult;
      expect(result.isError, textOf(result)).toBeFalsy();
      const warnings = logs.filter((l) => l.level === "warning").map((l) => String(l.data));
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).toMatch(/1 file\(s\) of the automatically downloaded model tiny-from-hub are UNVERIFIED: .*\(config\.json\)\. 'sav-mcp models verify tiny-from-hub'/);
      const written = stderr.mock.calls.map(([chunk]) => String(chunk)).join("");
      expect(written).toMatch(/sav-mcp: warning: 1 file\(s\) of the automatically downloaded model tiny-from-hub are UNVERIFIED/);
      // Many clients do not show log messages: the result's note says it too, and so does every later task on those files.
      const unverifiedNote = /1 file\(s\) of model tiny-from-hub are UNVERIFIED: .*\(config\.json\)\. 'sav-mcp models verify tiny-from-hub'/;
      expect((result.structuredContent as { note?: string }).note).toMatch(unverifiedNote);
      const second = (await harness.client.callTool({ name: "create_sav_task", arguments: { name: "u2", prompt: "Q?", model: "tiny-from-hub" } })) as CallToolResult;
      expect((second.structuredContent as { note?: string }).note).toMatch(unverifiedNote);
    } finally {
      stderr.mockRestore();
      hub.sha1Etag.delete("config.json");
      await harness.close();
    }
    // A later server finds the installed files unverified from what the download recorded, without downloading.
    const getsBefore = hub.requests.filter((r) => r.method === "GET").length;
    const later = await start(false, "unverified", unverified);
    try {
      const result = (await later.client.callTool({ name: "create_sav_task", arguments: { name: "u3", prompt: "Q?", model: "tiny-from-hub" } })) as CallToolResult;
      expect(result.isError, textOf(result)).toBeFalsy();
      expect((result.structuredContent as { note?: string }).note).toMatch(/1 file\(s\) of model tiny-from-hub are UNVERIFIED: .*\(config\.json\)/);
      expect(hub.requests.filter((r) => r.method === "GET").length).toBe(getsBefore);
    } finally {
      await later.close();
    }
  });

  it("reports no unverified files when every download was checked", async () => {
    const stderr = vi.spyOn(process.stderr, "write").mockImplementation(() => true);
    const harness = await start(true, "verified");
    try {
      const logs: LoggingMessageNotification["params"][] = [];
      harness.client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => void logs.push(n.params));
      const result = (await harness.client.callTool({ name: "create_sav_task", arguments: { name: "v", prompt: "Q?", model: "tiny-from-hub" } })) as CallToolResult;
      expect(result.isError, textOf(result)).toBeFalsy();
      expect(logs.some((l) => l.level === "info" && /downloading model tiny-from-hub/.test(String(l.data)))).toBe(true);
      expect(logs.filter((l) => /UNVERIFIED/.test(String(l.data)))).toEqual([]);
      expect((result.structuredContent as { note?: string }).note ?? "").not.toMatch(/UNVERIFIED/);
      expect(stderr.mock.calls.map(([chunk]) => String(chunk)).join("")).not.toMatch(/UNVERIFIED/);
    } finally {
      stderr.mockRestore();
      await harness.close();
    }
  });
});

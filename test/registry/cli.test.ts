import { existsSync } from "node:fs";
import { readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { Command } from "commander";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { registerModelsCommand } from "../../src/model/registry/cli.js";
import type { ModelListing } from "../../src/model/registry/index.js";
import {
  FAKE_REPO,
  FAKE_REVISION,
  FakeHub,
  makeFakeManifest,
  makeFakeModelFiles,
  tempDir,
  writeManifestFile,
} from "./fake-hub.js";

let hub: FakeHub;
let files: Map<string, Buffer>;
let work: { dir: string; cleanup: () => Promise<void> };
let manifestFile: string;
let modelsDir: string;
const savedEnv = { ...process.env };

/** Runs `sav-mcp models ...` in-process and captures what it prints. */
async function run(...args: string[]): Promise<{ stdout: string; stderr: string; exitCode: number }> {
  const program = new Command().name("sav-mcp").exitOverride();
  registerModelsCommand(program);
  let stdout = "";
  let stderr = "";
  const out = vi.spyOn(process.stdout, "write").mockImplementation((chunk: string | Uint8Array) => {
    stdout += chunk.toString();
    return true;
  });
  const err = vi.spyOn(process.stderr, "write").mockImplementation((chunk: string | Uint8Array) => {
    stderr += chunk.toString();
    return true;
  });
  process.exitCode = undefined;
  try {
    await program.parseAsync(["models", ...args], { from: "user" });
  } finally {
    out.mockRestore();
    err.mockRestore();
  }
  const exitCode = Number(process.exitCode ?? 0);
  process.exitCode = undefined;
  return { stdout, stderr, exitCode };
}

beforeEach(async () => {
  files = makeFakeModelFiles();
  hub = await new FakeHub({ repo: FAKE_REPO, revision: FAKE_REVISION, files, redirectToCdn: true }).start();
  work = await tempDir();
  modelsDir = path.join(work.dir, "models");
  manifestFile = await writeManifestFile(work.dir, makeFakeManifest(files));
  process.env.SAV_MODELS_DIR = modelsDir;
  process.env.HF_ENDPOINT = hub.url;
  delete process.env.HF_TOKEN;
  delete process.env.SAV_MODEL_DIR;
  delete process.env.SAV_MODEL;
});

afterEach(async () => {
  for (const key of ["SAV_MODELS_DIR", "HF_ENDPOINT", "HF_TOKEN", "SAV_MODEL_DIR", "SAV_MODEL"]) {
    if (savedEnv[key] === undefined) delete process.env[key];
    else process.env[key] = savedEnv[key];
  }
  await hub.stop();
  await work.cleanup();
});

describe("sav-mcp models", () => {
  it("pull, list, verify and rm a model from a manifest file", async () => {
    const pulled = await run("pull", manifestFile, "--dtype", "decoder_model_merged=int8");
    expect(pulled.stderr).not.toMatch(/error/);
    expect(pulled.exitCode).toBe(0);
    expect(pulled.stdout).toMatch(/^Pulled .*fake-smolvlm\.json into .*fake-smolvlm \(/);
    // Plain progress lines (stderr is not a terminal here), one per finished file.
    expect(pulled.stderr).toContain("got onnx/decoder_model_merged_int8.onnx");
    const dir = path.join(modelsDir, "fake-smolvlm");
    expect(existsSync(path.join(dir, "onnx/decoder_model_merged_int8.onnx"))).toBe(true);
    expect(existsSync(path.join(dir, "onnx/decoder_model_merged.onnx"))).toBe(false);

    const listed = await run("list", "--json");
    const listings = JSON.parse(listed.stdout) as ModelListing[];
    const fake = listings.find((m) => m.id === "fake-smolvlm");
    expect(fake).toMatchObject({ installed: true, dir, dtypes: { decoder_model_merged: "int8" } });
    expect(listings.find((m) => m.id === "smolvlm-256m-instruct")?.isDefault).toBe(true);

    const table = await run("list");
    expect(table.stdout).toMatch(/smolvlm-256m-instruct \(default\)\s+no\s+2\d\d MB/);
    expect(table.stdout).toContain("npx sav-mcp models pull smolvlm-256m-instruct");

    const verified = await run("verify", "fake-smolvlm");
    expect(verified.exitCode).toBe(0);
    expect(verified.stdout).toContain("fake-smolvlm: all 5 files verified.");

    const target = path.join(dir, "onnx/vision_encoder_int8.onnx");
    const bytes = await readFile(target);
    bytes[5] = (bytes[5] ?? 0) ^ 0x80;
    await writeFile(target, bytes);
    const broken = await run("verify", "fake-smolvlm");
    expect(broken.exitCode).toBe(1);
    expect(broken.stdout).toMatch(/BAD\s+onnx\/vision_encoder_int8\.onnx: sha256/);
    expect(broken.stderr).toMatch(/^error: 1 file\(s\) of fake-smolvlm failed verification/);
    const repairCommand = "npx sav-mcp models pull fake-smolvlm --dtype decoder_model_merged=int8";
    expect(broken.stderr).toContain(repairCommand);

    // The suggested command repairs exactly that file.
    hub.requests.length = 0;
    const repaired = await run(...repairCommand.split(" ").slice(3));
    expect(repaired.exitCode).toBe(0);
    expect(hub.gets().map((r) => r.file)).toEqual(["onnx/vision_encoder_int8.onnx"]);

    const removed = await run("rm", "fake-smolvlm");
    expect(removed.stdout).toMatch(/^Removed fake-smolvlm \(\d/);
    expect(existsSync(dir)).toBe(false);
  });

  it("prints hub errors as one `error:` line with the remedy and exits 1", async () => {
    hub.requireToken = "hf_needed";
    const result = await run("pull", manifestFile);
    expect(result.exitCode).toBe(1);
    const errorLines = result.stderr.split("\n").filter((l) => l.startsWith("error: "));
    expect(errorLines).toHaveLength(1);
    expect(errorLines[0]).toContain("HF_TOKEN");
    expect(result.stderr).not.toMatch(/\n\s+at /); // no stack trace
  });

  it("names the known models for an unknown id and rejects bad --dtype values", async () => {
    const unknown = await run("pull", "smolvlm-70b");
    expect(unknown.exitCode).toBe(1);
    expect(unknown.stderr).toMatch(/^error: Unknown model "smolvlm-70b"/);
    const badDtype = await run("pull", manifestFile, "--dtype", "vision_encoder=fp8");
    expect(badDtype.exitCode).toBe(1);
    expect(badDtype.stderr).toMatch(/^error: fake-smolvlm has no vision_encoder in dtype "fp8"/);
  });

  it("rm refuses the generated tiny model", async () => {
    const result = await run("rm", "tiny-smolvlm");
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toMatch(/^error: tiny-smolvlm is generated locally/);
  });
});

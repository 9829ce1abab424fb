import { execFile } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { DEFAULT_LIMITS } from "../../src/config.js";
import { listingSizeText, TINY_MODEL_HOW_TO, whereOrHow } from "../../src/model/registry/cli.js";
import { listModels } from "../../src/model/registry/index.js";
import { limitsText } from "../../src/server/wording.js";
import { REPO_ROOT, SOURCE_CLI } from "../support/stdio-server.js";
import { makeTempDir } from "../support/temp-dir.js";

const run = promisify(execFile);

/** Runs the CLI from source; resolves with its output and exit code, whatever the code. */
async function cli(args: string[], env: Record<string, string> = {}): Promise<{ stdout: string; stderr: string; code: number }> {
  try {
    const { stdout, stderr } = await run(process.execPath, ["--import", "tsx", SOURCE_CLI, ...args], {
      cwd: REPO_ROOT,
      env: { ...process.env, ...env },
    });
    return { stdout, stderr, code: 0 };
  } catch (error) {
    const e = error as { stdout: string; stderr: string; code: number };
    return { stdout: e.stdout, stderr: e.stderr, code: e.code };
  }
}

const GLOBAL_OPTIONS = ["--data-dir", "--model", "--model-dir", "--models-dir"];
const SERVE_OPTIONS = ["--allowed-dir", "--allow-private-urls", "--auto-pull", "--threads"];

describe("sav-mcp --help and the docs", () => {
  it("serve --help lists every option, the global ones too, and the limits; the README quotes the same limits", async () => {
    const serve = await cli(["serve", "--help"]);
    for (const option of [...GLOBAL_OPTIONS, ...SERVE_OPTIONS]) expect(serve.stdout).toMatch(new RegExp(`^\\s+${option}\\b`, "m"));
    const limits = limitsText(DEFAULT_LIMITS);
    expect(serve.stdout).toContain(`Limits: ${limits}.`);
    const top = await cli(["--help"]);
    for (const option of [...GLOBAL_OPTIONS, ...SERVE_OPTIONS]) expect(top.stdout).toContain(option);
    expect(top.stdout).toContain(`Limits: ${limits}.`);
    expect(fs.readFileSync(path.join(REPO_ROOT, "README.md"), "utf8")).toContain(limits);
  });

  it("models verify on a model that is not installed says so in one line", async () => {
    const temp = makeTempDir();
    try {
      const result = await cli(["models", "verify", "smolvlm-instruct"], { SAV_MODELS_DIR: temp.dir });
      expect(result.code).toBe(1);
      expect(result.stderr.trim()).toBe("error: smolvlm-instruct is not installed; install it with npx sav-mcp models pull smolvlm-instruct.");
      expect(result.stdout).not.toMatch(/BAD/);
    } finally {
      temp.cleanup();
    }
  });

  it("docs/models.md gives the 2.2B model the size models list shows, and models list says how to get the tiny model", async () => {
    const temp = makeTempDir();
    try {
      const listings = await listModels({ modelsDir: temp.dir, defaultModel: "smolvlm-256m-instruct" });
      const big = listings.find((m) => m.id === "smolvlm-instruct")!;
      const row = fs
        .readFileSync(path.join(REPO_ROOT, "docs", "models.md"), "utf8")
        .split("\n")
        .find((line) => line.startsWith("| `smolvlm-instruct` (2.2B)"))!;
      expect(row).toContain(listingSizeText(big));
      const tiny = listings.find((m) => m.randomWeights)!;
      expect(whereOrHow({ ...tiny, installed: false, installCommand: null })).toBe(TINY_MODEL_HOW_TO);
      expect(TINY_MODEL_HOW_TO).toMatch(/sav-mcp demo/);
      expect(whereOrHow({ ...tiny, installed: true, dir: "/m/tiny" })).toBe("/m/tiny (random weights)");
    } finally {
      temp.cleanup();
    }
  });
});

import { execFile } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { promisify } from "node:util";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { describe, expect, it } from "vitest";
import { TOOL_NAMES } from "../../src/server/tools/index.js";
import { REPO_ROOT } from "../support/stdio-server.js";
import { makeTempDir } from "../support/temp-dir.js";

const run = promisify(execFile);
const NPM = process.platform === "win32" ? "npm.cmd" : "npm";

async function npmAvailable(): Promise<boolean> {
  try {
    await run(NPM, ["--version"]);
    return true;
  } catch {
    return false;
  }
}

const built = fs.existsSync(path.join(REPO_ROOT, "dist", "cli.js"));
const haveNpm = await npmAvailable();
if (!haveNpm) process.stderr.write("packed-install test skipped: npm is not available\n");
if (!built) process.stderr.write("packed-install test skipped: run `npm run build` first (the tarball packs dist/)\n");

/**
 * The README's tarball path: `npm pack`, `npm install <tgz>` into an empty directory, and the installed
 * `sav-mcp` answers --help and serves tools/list over stdio. Dependencies come from npm's cache when it
 * has them; install scripts are skipped and better-sqlite3's native build is taken from this checkout,
 * so the test needs neither a compiler nor GitHub (where prebuilt binaries live).
 */
describe.skipIf(!haveNpm || !built)("packed tarball install", () => {
  it("installs from the tarball into an empty directory and serves tools/list over stdio", { timeout: 600_000 }, async () => {
    const temp = makeTempDir("sav-pack-");
    try {
      const { stdout: packed } = await run(NPM, ["pack", "--ignore-scripts", "--pack-destination", temp.dir, "--json"], { cwd: REPO_ROOT });
      const tarball = path.join(temp.dir, (JSON.parse(packed) as { filename: string }[])[0]!.filename);
      const app = path.join(temp.dir, "app");
      fs.mkdirSync(app);
      fs.writeFileSync(path.join(app, "package.json"), JSON.stringify({ name: "app", version: "1.0.0", private: true }));
      await run(NPM, ["install", "--ignore-scripts", "--prefer-offline", "--no-audit", "--no-fund", tarball], {
        cwd: app,
        env: { ...process.env, ONNXRUNTIME_NODE_INSTALL: "skip" },
        maxBuffer: 16 * 1024 * 1024,
      });
      const nativeBuild = (dir: string) => path.join(dir, "node_modules", "better-sqlite3", "build");
      const version = (dir: string) => (JSON.parse(fs.readFileSync(path.join(dir, "node_modules", "better-sqlite3", "package.json"), "utf8")) as { version: string }).version;
      expect(version(app), "better-sqlite3 in the install and in this checkout").toBe(version(REPO_ROOT));
      fs.cpSync(nativeBuild(REPO_ROOT), nativeBuild(app), { recursive: true });

      const bin = path.join(app, "node_modules", ".bin", "sav-mcp");
      const { stdout: help } = await run(bin, ["serve", "--help"], { cwd: app });
      expect(help).toMatch(/--allowed-dir/);
      expect(help).toMatch(/--models-dir/);

      const transport = new StdioClientTransport({
        command: bin,
        args: ["serve"],
        cwd: app,
        env: { PATH: process.env.PATH ?? "", SAV_DATA_DIR: path.join(temp.dir, "data"), SAV_MODELS_DIR: path.join(temp.dir, "models") },
        stderr: "pipe",
      });
      const client = new Client({ name: "packed-install-test", version: "1.0.0" });
      await client.connect(transport);
      try {
        const { tools } = await client.listTools();
        expect(tools.map((t) => t.name)).toEqual([...TOOL_NAMES]);
      } finally {
        await client.close();
      }
    } finally {
      temp.cleanup();
    }
  });
});

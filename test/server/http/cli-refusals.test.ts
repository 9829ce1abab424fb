import { spawn } from "node:child_process";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { REPO_ROOT, SOURCE_CLI } from "../../support/stdio-server.js";
import { makeTempDir } from "../../support/temp-dir.js";

const temp = makeTempDir();
afterAll(() => temp.cleanup());

/** Runs `sav-mcp serve ...` from source and returns its exit code and stderr (these runs stop before listening). */
function serve(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ["--import", "tsx", SOURCE_CLI, "serve", ...args], {
      cwd: REPO_ROOT,
      env: { PATH: process.env.PATH ?? "", SAV_DATA_DIR: path.join(temp.dir, "data"), SAV_MODELS_DIR: path.join(temp.dir, "models"), ...env },
      stdio: ["ignore", "ignore", "pipe"],
    });
    let stderr = "";
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    child.on("exit", (code) => resolve({ code, stderr }));
  });
}

describe("serve --http refuses unsafe or broken settings before listening", () => {
  it("refuses a non-loopback bind without auth", async () => {
    const { code, stderr } = await serve(["--http", "0.0.0.0:0"]);
    expect(code).toBe(1);
    expect(stderr).toMatch(/Refusing to listen on 0\.0\.0\.0 without auth.*SAV_AUTH_TOKENS/);
  });

  it("names the problem in a malformed address, token list or store URL, without echoing secrets", async () => {
    const address = await serve(["--http", "localhost:http"]);
    expect(address.code).toBe(1);
    expect(address.stderr).toMatch(/Invalid --http address/);
    const tokens = await serve(["--http", "127.0.0.1:0"], { SAV_AUTH_TOKENS: "alpha:short-secret" });
    expect(tokens.code).toBe(1);
    expect(tokens.stderr).toMatch(/at least 16 characters/);
    expect(tokens.stderr).not.toContain("short-secret");
    const limit = await serve(["--limit", "maxPixels=5"]);
    expect(limit.code).toBe(1);
    expect(limit.stderr).toMatch(/--limit: "maxPixels=5" is not a limit setting.*maxImagePixels/);
    const store = await serve(["--http", "127.0.0.1:0"], { SAV_STORE_URL: "mysql://user:hunter2@db/sav" });
    expect(store.code).toBe(1);
    expect(store.stderr).toMatch(/SAV_STORE_URL must be a postgres/);
    expect(store.stderr).not.toContain("hunter2");
  });
});

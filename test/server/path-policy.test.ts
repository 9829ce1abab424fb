import { spawn, execFileSync, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { checkContainment, isInside, PathPolicyError, readFileInside, resolveAllowedRoots, writeFileInside } from "../../src/server/path-policy.js";
import { readTaskFile, writeTaskFile } from "../../src/server/task-file.js";
import { makeTempDir } from "../support/temp-dir.js";

const TASK_JSON = '{"format":"sav-mcp/task","version":1}';
const RACE_ROUNDS = 400;

let temp: ReturnType<typeof makeTempDir>;
let allowed: string;
let outside: string;

beforeEach(() => {
  temp = makeTempDir("sav-path-policy-");
  allowed = path.join(fs.realpathSync(temp.dir), "allowed");
  outside = path.join(fs.realpathSync(temp.dir), "outside");
  fs.mkdirSync(allowed);
  fs.mkdirSync(outside);
});
/** Swappers still running if a test failed half-way; they are killed before the directory goes. */
const swappers = new Set<ChildProcess>();
afterEach(async () => {
  for (const child of swappers) await stop(child);
  swappers.clear();
  temp.cleanup();
});

async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof PathPolicyError) return error.code;
    throw error;
  }
  return "ok";
}

/**
 * A child process that keeps swapping `dir` between a real directory and a symbolic link (or a file between
 * a regular file and a FIFO) as fast as it can, in parallel with the test's own file operations.
 */
async function startSwapper(mode: "dir-to-link" | "file-to-fifo", target: string, other: string): Promise<ChildProcess> {
  const script = `
    const fs = require("node:fs"); const { execFileSync } = require("node:child_process");
    const [mode, target, other] = process.argv.slice(1);
    const aside = target + ".aside";
    if (mode === "file-to-fifo") { try { execFileSync("mkfifo", [other]); } catch {} }
    let announced = false;
    for (;;) {
      if (!announced) { announced = true; process.stdout.write("swapping\\n"); }
      try {
        fs.renameSync(target, aside);
        if (mode === "dir-to-link") fs.symlinkSync(other, target); else fs.renameSync(other, target);
        if (mode === "dir-to-link") fs.unlinkSync(target); else fs.renameSync(target, other);
        fs.renameSync(aside, target);
      } catch {}
    }`;
  const child = spawn(process.execPath, ["-e", script, mode, target, other], { stdio: ["ignore", "pipe", "ignore"] });
  swappers.add(child);
  // The race only means something once the swapper runs: wait for its first line.
  await new Promise<void>((resolve, reject) => {
    child.stdout!.once("data", () => resolve());
    child.once("exit", () => reject(new Error("the swapper exited before swapping")));
  });
  return child;
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  await new Promise<void>((resolve) => {
    child.once("exit", () => resolve());
    child.kill("SIGKILL");
  });
}

/** Puts back the real directory a killed swapper may have left aside. */
function restoreSwapped(target: string): void {
  if (fs.lstatSync(target, { throwIfNoEntry: false })?.isSymbolicLink()) fs.unlinkSync(target);
  if (fs.existsSync(`${target}.aside`)) fs.renameSync(`${target}.aside`, target);
}

describe("containment check", () => {
  it("gives a reason code for every refusal and compares whole path components", () => {
    const roots = [{ configured: "/data", real: "/srv/data" }];
    expect(checkContainment("/data/a.png", roots)).toEqual({ ok: true });
    expect(checkContainment("/srv/data/x/a.png", roots)).toEqual({ ok: true });
    expect(checkContainment("/data/..foo", roots)).toEqual({ ok: true });
    expect(checkContainment("/data2/a.png", roots)).toEqual({ ok: false, reason: "outside" });
    expect(checkContainment("/data/../etc/passwd", roots)).toEqual({ ok: false, reason: "outside" });
    expect(checkContainment("/data/a\0.png", roots)).toEqual({ ok: false, reason: "nul-byte" });
    expect(checkContainment("", roots)).toEqual({ ok: false, reason: "empty" });
    expect(checkContainment("/data/a.png", [])).toEqual({ ok: false, reason: "no-allowed-dirs" });
    expect(isInside("/", "/")).toBe(true);
    expect(isInside("/data", "/data/sub")).toBe(false);
  });

  it("resolves allowed directories, expanding ~ and marking missing ones", async () => {
    const roots = await resolveAllowedRoots([allowed, path.join(allowed, "missing"), "~"]);
    expect(roots[0]).toEqual({ configured: allowed, real: allowed });
    expect(roots[1]!.real).toBeUndefined();
    expect(roots[2]!.configured).not.toContain("~");
  });
});

describe("reads", () => {
  it("never returns a file from outside while a directory is swapped for a symbolic link", async () => {
    const swapped = path.join(allowed, "swap");
    fs.mkdirSync(swapped);
    fs.writeFileSync(path.join(swapped, "img.png"), "inside");
    fs.writeFileSync(path.join(outside, "img.png"), "SECRET");
    const swapper = await startSwapper("dir-to-link", swapped, outside);
    const outcomes: Record<string, number> = {};
    let escapes = 0;
    try {
      for (let round = 0; round < RACE_ROUNDS; round++) {
        try {
          const { bytes } = await readFileInside(path.join(swapped, "img.png"), [allowed], { maxBytes: 1024, kind: "image" });
          if (bytes.toString() === "SECRET") escapes++;
          outcomes.ok = (outcomes.ok ?? 0) + 1;
        } catch (error) {
          const code = error instanceof PathPolicyError ? error.code : String(error);
          outcomes[code] = (outcomes[code] ?? 0) + 1;
        }
      }
    } finally {
      await stop(swapper);
      restoreSwapped(swapped);
    }
    expect(escapes, JSON.stringify(outcomes)).toBe(0);
    // The race happened (some reads met the swapped-in link), and with the swapping over the read works.
    expect(outcomes["path-not-allowed"] ?? 0, JSON.stringify(outcomes)).toBeGreaterThan(0);
    const { bytes } = await readFileInside(path.join(swapped, "img.png"), [allowed], { maxBytes: 1024, kind: "image" });
    expect(bytes.toString()).toBe("inside");
    // Every call ended with a known answer: a read or a policy refusal.
    expect(Object.keys(outcomes).every((code) => ["ok", "path-not-allowed", "not-found"].includes(code)), JSON.stringify(outcomes)).toBe(true);
  });

  it.runIf(process.platform !== "win32")("never blocks on a FIFO swapped in for the file", async () => {
    const file = path.join(allowed, "task.json");
    fs.writeFileSync(file, TASK_JSON);
    const swapper = await startSwapper("file-to-fifo", file, path.join(allowed, "fifo"));
    const outcomes: Record<string, number> = {};
    try {
      for (let round = 0; round < RACE_ROUNDS / 2; round++) {
        const code = await codeOf(readTaskFile(file, [allowed]).catch((error: unknown) => {
          throw error instanceof Error && error.name === "ToolError" ? new PathPolicyError("not-a-file", error.message, "") : error;
        }));
        outcomes[code] = (outcomes[code] ?? 0) + 1;
      }
    } finally {
      await stop(swapper);
    }
    expect(Object.values(outcomes).reduce((a, b) => a + b, 0)).toBe(RACE_ROUNDS / 2);
  });

  it("refuses a FIFO in place of a task file at once", async () => {
    execFileSync("mkfifo", [path.join(allowed, "pipe.json")]);
    await expect(readTaskFile(path.join(allowed, "pipe.json"), [allowed])).rejects.toThrow(/not a regular file/);
  });

  it("refuses task files when no directory is allowed, saying how to allow one", async () => {
    fs.writeFileSync(path.join(allowed, "t.json"), TASK_JSON);
    await expect(readTaskFile(path.join(allowed, "t.json"), [])).rejects.toThrow(/no allowed directories.*--allowed-dir/s);
  });
});

describe("writes", () => {
  it("never write outside while the target directory is swapped for a symbolic link", async () => {
    const swapped = path.join(allowed, "swap");
    fs.mkdirSync(swapped);
    const swapper = await startSwapper("dir-to-link", swapped, outside);
    const outcomes: Record<string, number> = {};
    try {
      for (let round = 0; round < RACE_ROUNDS; round++) {
        const code = await codeOf(writeFileInside(path.join(swapped, "out.json"), [allowed], Buffer.from(TASK_JSON), {
          kind: "task file",
          extension: ".json",
          overwrite: true,
          mayReplace: () => true,
        }));
        outcomes[code] = (outcomes[code] ?? 0) + 1;
      }
    } finally {
      await stop(swapper);
      restoreSwapped(swapped);
    }
    expect(fs.readdirSync(outside), JSON.stringify(outcomes)).toEqual([]);
    expect(outcomes["path-not-allowed"] ?? 0, JSON.stringify(outcomes)).toBeGreaterThan(0);
    await writeFileInside(path.join(swapped, "out.json"), [allowed], Buffer.from(TASK_JSON), { kind: "task file", extension: ".json", overwrite: true, mayReplace: () => true });
    expect(fs.readFileSync(path.join(swapped, "out.json"), "utf8")).toBe(TASK_JSON);
  });

  it("write only .json names, and never replace a file that is not a task file, even with overwrite", async () => {
    const notes = path.join(allowed, "notes.json");
    fs.writeFileSync(notes, '{"my": "notes"}');
    fs.writeFileSync(path.join(allowed, ".bashrc"), "alias x=y");
    await expect(writeTaskFile(path.join(allowed, ".bashrc"), [allowed], TASK_JSON, { overwrite: true })).rejects.toThrow(/ending in "\.json"/);
    await expect(writeTaskFile(path.join(allowed, "t.txt"), [allowed], TASK_JSON, { overwrite: true })).rejects.toThrow(/ending in "\.json"/);
    await expect(writeTaskFile(notes, [allowed], TASK_JSON, { overwrite: true })).rejects.toThrow(/not a sav-mcp task file.*even with overwrite/);
    expect(fs.readFileSync(notes, "utf8")).toBe('{"my": "notes"}');
    fs.symlinkSync(path.join(outside, "x.json"), path.join(allowed, "link.json"));
    await expect(writeTaskFile(path.join(allowed, "link.json"), [allowed], TASK_JSON, { overwrite: true })).rejects.toThrow(/not a regular file/);
    expect(fs.existsSync(path.join(outside, "x.json"))).toBe(false);

    const task = path.join(allowed, "task.json");
    expect(await writeTaskFile(task, [allowed], TASK_JSON, { overwrite: false })).toEqual({ path: task, replaced: false });
    await expect(writeTaskFile(task, [allowed], TASK_JSON, { overwrite: false })).rejects.toThrow(/already exists.*overwrite: true/);
    expect(await writeTaskFile("task.json", [allowed], `${TASK_JSON} `, { overwrite: true })).toEqual({ path: task, replaced: true });
    expect(fs.readFileSync(task, "utf8")).toBe(`${TASK_JSON} `);
    expect(fs.readdirSync(allowed).filter((name) => name.endsWith(".tmp"))).toEqual([]);
  });

  it("leave the previous file whole and no temporary file behind when the disk is full", async () => {
    const task = path.join(allowed, "task.json");
    fs.writeFileSync(task, TASK_JSON);
    const full = async () => {
      throw Object.assign(new Error("ENOSPC: no space left on device, write"), { code: "ENOSPC" });
    };
    const error = await writeTaskFile(task, [allowed], `${TASK_JSON}  `, { overwrite: true, writeContent: full }).then(() => new Error("the write succeeded"), (e: Error) => e);
    expect(error.message).toMatch(/disk holding .*task\.json is full \(ENOSPC\); nothing was written\. Free some space/);
    expect(fs.readFileSync(task, "utf8")).toBe(TASK_JSON);
    expect(fs.readdirSync(allowed)).toEqual(["task.json"]);
  });

  it("refuse a NUL byte in the path as an input error", async () => {
    await expect(writeTaskFile(path.join(allowed, "a\0.json"), [allowed], TASK_JSON, { overwrite: false })).rejects.toThrow(/NUL character/);
  });
});

import { spawn, type ChildProcess } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import Database from "better-sqlite3";
import { afterEach, describe, expect, it } from "vitest";
import { SavStore } from "../../src/store/index.js";
import { makeTempDir } from "../support/temp-dir.js";

const WRITER = fileURLToPath(new URL("../support/store-writer.ts", import.meta.url));
const BATCH = 5;

interface Writer {
  child: ChildProcess;
  committed: number[];
}

function startWriter(dataDir: string, name: string): Writer {
  const child = spawn(process.execPath, ["--import", "tsx", WRITER, dataDir, "shared", name, String(BATCH)], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  const writer: Writer = { child, committed: [] };
  let buffered = "";
  child.stdout!.on("data", (chunk: Buffer) => {
    buffered += chunk.toString();
    const lines = buffered.split("\n");
    buffered = lines.pop()!;
    for (const line of lines) {
      const match = /^committed (\d+)$/.exec(line);
      if (match) writer.committed.push(Number(match[1]));
    }
  });
  child.stderr!.on("data", (chunk: Buffer) => process.stderr.write(chunk));
  return writer;
}

async function waitFor(condition: () => boolean, what: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

function killed(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    // "close", not "exit": it fires after stdout is drained, so every printed commit has been read.
    child.once("close", () => resolve());
    child.kill("SIGKILL");
  });
}

describe("crash safety and concurrent processes", () => {
  const temps: (() => void)[] = [];
  afterEach(() => temps.splice(0).forEach((cleanup) => cleanup()));

  it("two processes writing the same data dir, killed mid-stream, leave only whole calls", async () => {
    const { dir, cleanup } = makeTempDir();
    temps.push(cleanup);
    const dataDir = path.join(dir, "data");
    const writers = [startWriter(dataDir, "w1"), startWriter(dataDir, "w2")];
    try {
      await waitFor(() => writers.every((w) => w.committed.length >= 5), "both writers to commit 5 batches");
    } finally {
      await Promise.all(writers.map((w) => killed(w.child)));
    }

    const db = new Database(path.join(dataDir, "sav.db"));
    try {
      expect(db.pragma("integrity_check", { simple: true })).toBe("ok");
      expect(db.pragma("foreign_key_check")).toEqual([]);
    } finally {
      db.close();
    }

    const store = new SavStore({ dataDir });
    try {
      const task = store.getTask("shared")!;
      const examples = store.listExamples(task.id);
      const perCall = new Map<string, number>();
      for (const e of examples) perCall.set(e.text!, (perCall.get(e.text!) ?? 0) + 1);
      // Every stored call is whole.
      for (const [call, count] of perCall) expect(count, call).toBe(BATCH);
      // Every call a writer saw committed is stored; at most one more per writer (committed, then killed before printing).
      for (const [index, writer] of writers.entries()) {
        const name = `w${index + 1}`;
        const stored = [...perCall.keys()].filter((call) => call.startsWith(`${name}:`)).map((c) => Number(c.split(":")[1]));
        for (const batch of writer.committed) expect(stored).toContain(batch);
        expect(stored.length - writer.committed.length).toBeGreaterThanOrEqual(0);
        expect(stored.length - writer.committed.length).toBeLessThanOrEqual(1);
      }
      // The version counter moved once per stored call.
      expect(task.exampleVersion).toBe(perCall.size);
    } finally {
      store.close();
    }
  });
});

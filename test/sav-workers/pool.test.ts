import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { buildClassifier, crossValidate, type HeadShape } from "../../src/sav/index.js";
import { buildClassifierOffThread, calibrateOffThread, crossValidateOffThread, fitCalibrationOffThread } from "../../src/sav-workers/off-thread.js";
import { acquireWorker, discardWorker, idleWorkers, releaseWorker, startedWorkers } from "../../src/sav-workers/pool.js";
import { structuredData } from "../sav/helpers.js";

const shape: HeadShape = { layers: 3, heads: 4, headDim: 6 };
const { examples } = structuredData(shape, ["a", "b", "c"], 6, 5, 0.15);
const first = structuredData(shape, ["a", "b", "c", "d"], 6, 5, 0.15).examples;
const second = structuredData(shape, ["x", "y", "z"], 5, 9, 0.3).examples;
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");

describe("the worker-thread pool", () => {
  it("hands a released thread to the next job and ends a discarded one", async () => {
    const first = acquireWorker();
    const idleBefore = idleWorkers();
    releaseWorker(first);
    expect(idleWorkers()).toBe(idleBefore + 1);
    const again = acquireWorker();
    expect(again).toBe(first);
    expect(idleWorkers()).toBe(idleBefore);
    await discardWorker(again);
    const next = acquireWorker();
    expect(next).not.toBe(first);
    await discardWorker(next);
  });

  it("does not end a thread beyond the pool's size right after its job, and lets a new one finish starting before it is discarded", async () => {
    const extra = os.availableParallelism() + 1;
    const workers = Array.from({ length: extra }, acquireWorker);
    const idleBefore = idleWorkers();
    workers.forEach(releaseWorker);
    expect(idleWorkers()).toBe(idleBefore + extra);
    const taken = Array.from({ length: extra }, acquireWorker);
    expect(new Set(taken)).toEqual(new Set(workers));
    // Every idle thread taken, so the next one is new.
    while (idleWorkers() > 0) taken.push(acquireWorker());
    const startedBefore = startedWorkers();
    let online = false;
    const fresh = acquireWorker();
    expect(startedWorkers()).toBe(startedBefore + 1);
    fresh.once("online", () => (online = true));
    await discardWorker(fresh);
    expect(online).toBe(true);
    await Promise.all(taken.map(discardWorker));
  });

  it("keeps the thread of a finished job, or of one the engine refused, for the next job", async () => {
    await buildClassifierOffThread(examples, shape);
    const idle = idleWorkers();
    expect(idle).toBeGreaterThan(0);
    // The next job takes the idle thread and gives it back.
    await fitCalibrationOffThread(buildClassifier(examples, shape), examples);
    expect(idleWorkers()).toBe(idle);
    // An engine error is an answer: the thread stays usable.
    await expect(buildClassifierOffThread(examples.filter((e) => e.label === "a"), shape)).rejects.toMatchObject({ code: "too-few-classes" });
    expect(idleWorkers()).toBe(idle);
  });
});

describe("cross-validation through the pool", () => {
  it("reuses the threads of a completed call, and a reused thread keeps nothing of the previous examples", async () => {
    await crossValidateOffThread(first, shape, { k: 3 }, { threads: 2 });
    const startedBefore = startedWorkers();
    expect(idleWorkers()).toBeGreaterThanOrEqual(2);
    const report = await crossValidateOffThread(second, shape, { k: 2 }, { threads: 2 });
    expect(report).toEqual(crossValidate(second, shape, { k: 2 }));
    await calibrateOffThread(second, shape, { k: 2 });
    expect(startedWorkers()).toBe(startedBefore);
  });

  it("terminates the threads of an aborted call instead of keeping them", async () => {
    const bigShape: HeadShape = { layers: 20, heads: 9, headDim: 64 };
    const big = structuredData(bigShape, ["a", "b", "c", "d"], 80, 3, 0.2).examples;
    await crossValidateOffThread(first, shape, {}, { threads: 2 });
    const idleBefore = idleWorkers();
    const controller = new AbortController();
    const pending = crossValidateOffThread(big, bigShape, {}, { signal: controller.signal, threads: 2 });
    // Aborted once the call holds its threads (seconds of work each), not before.
    while (idleWorkers() > idleBefore - 2) await new Promise((resolve) => setImmediate(resolve));
    controller.abort(new Error("user cancelled"));
    await expect(pending).rejects.toThrow("user cancelled");
    expect(idleWorkers()).toBe(idleBefore - 2);
  });

  it("does not keep the process alive once the work is done", () => {
    const script = [
      `import { crossValidateOffThread } from ${JSON.stringify(path.join(root, "src/sav-workers/off-thread.ts"))};`,
      `import { keepIdleFor } from ${JSON.stringify(path.join(root, "src/sav-workers/pool.ts"))};`,
      `import { structuredData } from ${JSON.stringify(path.join(root, "test/sav/helpers.ts"))};`,
      "keepIdleFor(60 * 60 * 1000);",
      "const shape = { layers: 2, heads: 2, headDim: 4 };",
      'const report = await crossValidateOffThread(structuredData(shape, ["a", "b"], 4, 1, 0.2).examples, shape, {}, { threads: 2 });',
      "console.log(report.total);",
    ].join("\n");
    const dir = mkdtempSync(path.join(os.tmpdir(), "sav-pool-"));
    const file = path.join(dir, "run.mts");
    writeFileSync(file, script);
    // The idle threads are kept for an hour: the process exits at once or, should they hold it, the timeout fails the test.
    const run = spawnSync(process.execPath, ["--import", "tsx", file], { cwd: root, encoding: "utf8", timeout: 120_000 });
    rmSync(dir, { recursive: true, force: true });
    expect(run.error).toBeUndefined();
    expect(run.stderr).toBe("");
    expect(run.status).toBe(0);
    expect(run.stdout.trim()).toBe("8");
  });
});

import { describe, expect, it } from "vitest";
import { buildClassifier, type HeadShape } from "../../src/sav/index.js";
import { buildClassifierOffThread, fitCalibrationOffThread } from "../../src/sav-workers/off-thread.js";
import { acquireWorker, discardWorker, idleWorkers, releaseWorker } from "../../src/sav-workers/pool.js";
import { structuredData } from "../sav/helpers.js";

const shape: HeadShape = { layers: 3, heads: 4, headDim: 6 };
const { examples } = structuredData(shape, ["a", "b", "c"], 6, 5, 0.15);

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

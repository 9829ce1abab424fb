import { describe, expect, it } from "vitest";
import { mapInOrder } from "../../src/server/pipeline.js";

const tick = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("mapInOrder", () => {
  it("keeps input order while running up to N at once", async () => {
    let running = 0;
    let peak = 0;
    const done: number[] = [];
    const results = await mapInOrder(
      [30, 5, 20, 1, 10],
      2,
      async (ms, i) => {
        running++;
        peak = Math.max(peak, running);
        await tick(ms);
        running--;
        return i * 10;
      },
      (count) => done.push(count),
    );
    expect(results).toEqual([0, 10, 20, 30, 40]);
    expect(peak).toBe(2);
    expect(done).toEqual([1, 2, 3, 4, 5]);
  });

  it("stops starting work after a failure and throws it", async () => {
    const started: number[] = [];
    await expect(
      mapInOrder([0, 1, 2, 3, 4, 5], 2, async (_, i) => {
        started.push(i);
        await tick(1);
        if (i === 1) throw new Error("boom");
        return i;
      }),
    ).rejects.toThrow("boom");
    expect(started.length).toBeLessThan(6);
  });
});

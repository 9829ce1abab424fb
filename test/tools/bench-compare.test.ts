/** The benchmark comparison helpers (tools/bench/compare.ts): schedule, agreement statistics, dtype choice. */
import { describe, expect, it, vi } from "vitest";
import { chooseDtype, cosine, headAgreement, interleaved, timeSessions } from "../../tools/bench/compare.js";

describe("interleaved", () => {
  it("drops the warm-up round and alternates which side goes first", async () => {
    const calls: string[] = [];
    const result = await interleaved(
      3,
      async (round) => (calls.push(`a${round}`), `a${round}`),
      async (round) => (calls.push(`b${round}`), `b${round}`),
    );
    expect(calls).toEqual(["a0", "b0", "b1", "a1", "a2", "b2", "b3", "a3"]);
    expect(result).toEqual({ a: ["a1", "a2", "a3"], b: ["b1", "b2", "b3"] });
  });
});

describe("headAgreement", () => {
  it("gives cosine 1 for identical vectors and finds the worst head", () => {
    const reference = Float32Array.from([1, 0, 0, 1, 3, 4]);
    expect(headAgreement([reference], [reference], 2)).toMatchObject({ meanCosine: 1, minCosine: 1, wholeCosine: 1, pairs: 1 });
    // Head 1 turned by 90°, the others unchanged: per-head cosines 1, 0, 1.
    const turned = Float32Array.from([1, 0, 1, 0, 3, 4]);
    const a = headAgreement([turned], [reference], 2);
    expect(a.minCosine).toBeCloseTo(0, 6);
    expect(a.p5Cosine).toBeCloseTo(0, 6);
    expect(a.meanCosine).toBeCloseTo(2 / 3, 6);
    expect(a.wholeCosine).toBeCloseTo(cosine(turned, reference), 9);
    expect(a.wholeCosine).toBeCloseTo(26 / 27, 6);
  });

  it("refuses mismatched inputs", () => {
    expect(() => headAgreement([], [], 2)).toThrow(/at least one/);
    expect(() => headAgreement([new Float32Array(4)], [new Float32Array(6)], 2)).toThrow(/does not match/);
    expect(() => headAgreement([new Float32Array(5)], [new Float32Array(5)], 2)).toThrow(/whole heads/);
  });
});

describe("chooseDtype", () => {
  const candidates = ["int8", "q4"];
  it("keeps the safe dtype unless the other is faster by the margin", () => {
    expect(chooseDtype({ int8: 100, q4: 95 }, candidates, "int8", 0.1)).toBe("int8");
    expect(chooseDtype({ int8: 100, q4: 89 }, candidates, "int8", 0.1)).toBe("q4");
    expect(chooseDtype({ int8: 100, q4: 120 }, candidates, "int8", 0.1)).toBe("int8");
  });
  it("ignores dtypes that are not candidates or not measured", () => {
    expect(chooseDtype({ fp32: 10, int8: 100, q4: 300 }, candidates, "int8", 0.1)).toBe("int8");
    expect(chooseDtype({ int8: Number.NaN, q4: 300 }, candidates, "int8", 0.1)).toBe("q4");
    expect(() => chooseDtype({ fp32: 1 }, candidates, "int8", 0.1)).toThrow(/no measured time/);
  });
});

describe("timeSessions", () => {
  it("adds each session's run time under its name and passes results through", async () => {
    const clock = vi.spyOn(performance, "now");
    [0, 5, 10, 30, 40, 41].forEach((t) => clock.mockReturnValueOnce(t));
    const sessions = { vision: { run: async (x: unknown) => x }, decoder: { run: async () => "done" } };
    const times = timeSessions(sessions as Record<string, { run: (...args: unknown[]) => Promise<unknown> }>);
    try {
      expect(await sessions.vision.run(7)).toBe(7);
      expect(await sessions.decoder.run()).toBe("done");
      expect(await sessions.vision.run(8)).toBe(8);
    } finally {
      clock.mockRestore();
    }
    expect(times).toEqual({ vision: 6, decoder: 20 });
  });
});

import * as ort from "onnxruntime-node";
import { describe, expect, it } from "vitest";
import { floatTensor, readFloats } from "../../src/model/tensors.js";

describe("float16 tensors for fp16 graphs", () => {
  it("encodes IEEE half bit patterns, rounding to nearest even", () => {
    const values = [1, -2, 0.5, 65504, 2 ** -24, 0, 1 + 2 ** -11, 1 + 3 * 2 ** -11, 1e6, -Infinity];
    const bits = Array.from(floatTensor(new Float32Array(values), [values.length], "float16").data as Uint16Array);
    expect(bits).toEqual([0x3c00, 0xc000, 0x3800, 0x7bff, 0x0001, 0x0000, 0x3c00, 0x3c02, 0x7c00, 0xfc00]);
  });

  it("decodes half back to float32 (normal, subnormal, infinity, NaN)", () => {
    const tensor = new ort.Tensor("float16", new Uint16Array([0x3c00, 0xc000, 0x0001, 0x7c00, 0x7e00, 0x3555]), [6]);
    const floats = readFloats(tensor);
    expect(Array.from(floats.subarray(0, 4))).toEqual([1, -2, 2 ** -24, Infinity]);
    expect(Number.isNaN(floats[4])).toBe(true);
    expect(floats[5]).toBeCloseTo(1 / 3, 3);
  });

  it("round-trips values within half precision", () => {
    const values = Float32Array.from({ length: 1000 }, (_, i) => Math.sin(i) * 10);
    const back = readFloats(floatTensor(values, [1000], "float16"));
    for (let i = 0; i < values.length; i++) expect(Math.abs(back[i] - values[i])).toBeLessThanOrEqual(Math.abs(values[i]) * 2 ** -11 + 1e-7);
  });

  it("passes float32 through unchanged and refuses non-float inputs", () => {
    const values = new Float32Array([1.5, -3]);
    expect(floatTensor(values, [2]).data).toBe(values);
    expect(() => floatTensor(values, [2], "int64")).toThrow(/float input/);
  });
});

import { describe, expect, it } from "vitest";
import { resizeRgb, type RgbImage } from "../../src/model/image.js";
import { composedAxis, resampleRgb, sharpAxis, type AxisWeights } from "../../tools/bench/composed-resize.js";

function noise(width: number, height: number, seed: number): RgbImage {
  const data = Buffer.alloc(width * height * 3);
  let state = seed;
  for (let i = 0; i < data.length; i++) {
    state = (state * 1103515245 + 12345) >>> 0;
    // Smooth structure plus noise, so both ringing and averaging show.
    const x = Math.floor(i / 3) % width;
    data[i] = Math.max(0, Math.min(255, Math.round(128 + 90 * Math.sin(x / 3 + (i % 3)) + ((state >>> 24) - 128) / 3)));
  }
  return { data, width, height };
}

/** A map as a dense outSize × inSize matrix. */
function dense(map: AxisWeights): Float64Array[] {
  return Array.from({ length: map.outSize }, (_, out) => {
    const row = new Float64Array(map.inSize);
    for (let k = 0; k < map.taps; k++) row[map.start[out]! + k] += map.weights[out * map.taps + k]!;
    return row;
  });
}

function product(first: Float64Array[], second: Float64Array[]): Float64Array[] {
  return second.map((row) => {
    const out = new Float64Array(first[0]!.length);
    row.forEach((w, mid) => first[mid]!.forEach((v, i) => (out[i] += w * v)));
    return out;
  });
}

function maxDifference(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i]! - b[i]!));
  return max;
}

describe("composed separable resampling", () => {
  it("equals the stages applied one after another in double precision, computed directly per output pixel", () => {
    const image = noise(23, 17, 5);
    const xs = [23, 70, 16]; // enlarge, then box 2 + Lanczos by 2.19
    const ys = [17, 52, 16]; // enlarge, then Lanczos by 3.25
    const chain = (sizes: number[]): Float64Array[] =>
      sizes.slice(1).flatMap((size, i) => sharpAxis(sizes[i]!, size)).map(dense).reduce((a, b) => product(a, b));
    const wx = chain(xs);
    const wy = chain(ys);
    const reference = new Float64Array(16 * 16 * 3);
    for (let oy = 0; oy < 16; oy++) {
      for (let ox = 0; ox < 16; ox++) {
        for (let c = 0; c < 3; c++) {
          let sum = 0;
          for (let y = 0; y < image.height; y++) {
            for (let x = 0; x < image.width; x++) sum += wy[oy]![y]! * wx[ox]![x]! * image.data[(y * image.width + x) * 3 + c]!;
          }
          reference[(oy * 16 + ox) * 3 + c] = sum;
        }
      }
    }
    const values = resampleRgb(image.data, image.width, image.height, composedAxis(xs), composedAxis(ys), true);
    // Float32 intermediate: a few thousandths of a step at most.
    expect(maxDifference(values, reference)).toBeLessThan(0.01);
    const rounded = resampleRgb(image.data, image.width, image.height, composedAxis(xs), composedAxis(ys));
    expect(maxDifference(rounded, reference.map((v) => Math.min(255, Math.max(0, Math.round(v)))))).toBeLessThanOrEqual(1);
  });

  it("keeps every map's rows summing to one (flat images stay flat)", () => {
    for (const sizes of [[640, 2048, 512], [4000, 2048, 512], [480, 1536, 512], [7, 7]]) {
      const map = composedAxis(sizes);
      for (let out = 0; out < map.outSize; out++) {
        const row = map.weights.subarray(out * map.taps, (out + 1) * map.taps);
        expect(row.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 9);
      }
    }
  });

  // These model libvips 8.18 (sharp 0.35): if sharp's resampling changes, they say so.
  it("models sharp's lanczos3 enlargement (bicubic, X/s − 0.5) within one 8-bit step", async () => {
    const image = noise(40, 30, 9);
    const theirs = await resizeRgb(image, 128, 96);
    const ours = resampleRgb(image.data, 40, 30, composedAxis([40, 128]), composedAxis([30, 96]));
    expect(maxDifference(ours, theirs.data)).toBeLessThanOrEqual(1);
  });

  it("models sharp's lanczos3 reduction (box shrink for the gap, then Lanczos 3) within one 8-bit step", async () => {
    const image = noise(128, 96, 11);
    const theirs = await resizeRgb(image, 32, 32);
    const ours = resampleRgb(image.data, 128, 96, composedAxis([128, 32]), composedAxis([96, 32]));
    expect(maxDifference(ours, theirs.data)).toBeLessThanOrEqual(1);
  });
});

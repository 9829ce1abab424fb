import { describe, expect, it } from "vitest";
import { KernelArena } from "../../src/sav/kernel-arena.js";
import { seededGaussian } from "./helpers.js";

/** x_i · x_j summed in d order in float64: the arithmetic the closed forms were checked with. */
function scalarGram(packed: Float64Array, n: number, dim: number): Float64Array {
  const gram = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      let sum = 0;
      for (let d = 0; d < dim; d++) sum += packed[i * dim + d]! * packed[j * dim + d]!;
      gram[i * n + j] = sum;
    }
  }
  return gram;
}

describe("WebAssembly Gram and class-sum kernels", () => {
  it.each([
    [1, 1],
    [3, 7],
    [4, 64],
    [9, 5],
    [30, 64],
  ])("equal the scalar float64 loops bit for bit (%i examples × %i values), zero padding", (n, dim) => {
    const gaussian = seededGaussian(n * 100 + dim);
    // float32 inputs, as stored head vectors are
    const packed = Float64Array.from({ length: n * dim }, () => Math.fround(gaussian()));
    const arena = new KernelArena(n, dim, 2);
    const gram = arena.computeGram(packed);
    const reference = scalarGram(packed, n, dim);
    const { stride } = arena;
    expect(stride % 4).toBe(0);
    for (let i = 0; i < stride; i++) {
      for (let j = 0; j < stride; j++) {
        const expected = i < n && j < n ? reference[i * n + j]! : 0;
        if (!Object.is(gram[i * stride + j], expected)) {
          throw new Error(`gram[${i}][${j}] = ${gram[i * stride + j]}, expected ${expected}`);
        }
      }
    }
    // Products with class sums (rectangular, classes padded too), after the Gram matrix of the same rows.
    for (const classCount of [1, 3, 6]) {
      const sums = Float64Array.from({ length: classCount * dim }, () => gaussian());
      const withSums = new KernelArena(n, dim, classCount);
      withSums.computeGram(packed);
      const dots = new Float64Array(n * classCount);
      withSums.computeDots(sums, dots);
      for (let j = 0; j < n; j++) {
        for (let c = 0; c < classCount; c++) {
          let sum = 0;
          for (let d = 0; d < dim; d++) sum += packed[j * dim + d]! * sums[c * dim + d]!;
          if (!Object.is(dots[j * classCount + c], sum)) throw new Error(`dots[${j}][${c}] = ${dots[j * classCount + c]}, expected ${sum}`);
        }
      }
    }
    // A second head through the same arena overwrites the first completely.
    const again = arena.computeGram(packed.map((v) => -v));
    expect(again[0]).toBe(reference[0]);
  });
});

/**
 * The Idefics3 two-step resize (sharp: longest edge to L, then to M×M) as one separable resampling per axis whose
 * weights compose every linear stage libvips 8.18 runs, applied with a float intermediate and one final rounding.
 *
 * What sharp's `resize(…, { kernel: "lanczos3" })` does on 8-bit RGB (libvips resize.c, reduce{h,v}.cpp):
 * - enlarging an axis: vips_affine with the *bicubic* (Catmull-Rom) interpolator — libvips has no Lanczos
 *   interpolator — sampling at x = X / s − 0.5 (not quite centres: 8.19 changes that), the fraction quantised
 *   to 1/64, edges copied;
 * - reducing an axis by r: with the default gap 2, first a box shrink by k = ⌊r / 2⌋ (when k > 1), then a
 *   Lanczos-3 reduce by r / k with 2·rint(3r/k)+1 taps, its fraction quantised to 1/64, edges copied;
 * - each stage writes 8-bit pixels (rounding), and the two sharp calls add another rounding in between.
 * Here those stages are linear maps in double precision, multiplied into one map per axis: the difference from
 * today's output is exactly what the roundings (and libvips' 12-bit fixed-point coefficients) contribute.
 *
 * Measured only (the bench's `preprocess` section): it is not within 1/255 of sharp on every pixel.
 */

/** A linear map from `inSize` samples to `outSize`: output i = Σ_k weights[i·taps + k] · input[start[i] + k]. */
export interface AxisWeights {
  inSize: number;
  outSize: number;
  taps: number;
  start: Int32Array;
  weights: Float64Array;
}

const SUBPIXELS = 64; // VIPS_TRANSFORM_SCALE

/** Round-to-nearest index into libvips' 65-entry coefficient tables for the fraction of `x` (x ≥ 0). */
function tableIndex(x: number): number {
  const scaled = Math.trunc(x * SUBPIXELS * 2);
  return ((scaled & (SUBPIXELS * 2 - 1)) + 1) >> 1;
}

function sinc(x: number): number {
  if (x === 0) return 1;
  const px = Math.PI * x;
  return Math.sin(px) / px;
}

function lanczos3(x: number): number {
  return x >= -3 && x <= 3 ? sinc(x) * sinc(x / 3) : 0;
}

function catmullRom(x: number): number[] {
  const cr1 = 1 - x;
  const cr2 = -0.5 * x;
  const cr3 = cr1 * cr2;
  const cone = cr1 * cr3;
  const cfou = x * cr3;
  const cr4 = cfou - cone;
  return [cone, cr1 - cone + cr4, x - cfou - cr4, cfou];
}

/** Builds weights from per-output lists of (input index, weight), clamping indices to the edge (extend copy). */
function fromTaps(inSize: number, rows: { index: number; weight: number }[][]): AxisWeights {
  const clamp = (i: number): number => Math.min(inSize - 1, Math.max(0, i));
  let taps = 1;
  const spans = rows.map((row) => {
    const lo = Math.min(...row.map((t) => clamp(t.index)));
    const hi = Math.max(...row.map((t) => clamp(t.index)));
    taps = Math.max(taps, hi - lo + 1);
    return lo;
  });
  const start = new Int32Array(rows.length);
  const weights = new Float64Array(rows.length * taps);
  rows.forEach((row, i) => {
    start[i] = Math.min(spans[i]!, inSize - taps);
    for (const t of row) weights[i * taps + clamp(t.index) - start[i]!] += t.weight;
  });
  return { inSize, outSize: rows.length, taps, start, weights };
}

/** vips_affine with the bicubic interpolator along one axis, from `inSize` to `outSize` (> inSize). */
export function bicubicEnlarge(inSize: number, outSize: number): AxisWeights {
  const scale = outSize / inSize;
  const rows = Array.from({ length: outSize }, (_, out) => {
    // libvips 8.18 samples at X / s − 0.5 (8.19 moves this to centres); +2 keeps x positive at the left edge.
    const x = out / scale - 0.5 + 2;
    const ix = Math.trunc(x);
    const c = catmullRom(tableIndex(x) / SUBPIXELS);
    return c.map((weight, k) => ({ index: ix - 3 + k, weight }));
  });
  return fromTaps(inSize, rows);
}

/** vips_shrink{h,v} by an integer factor (box average), output size ⌈in / k⌉. */
export function boxShrink(inSize: number, factor: number): AxisWeights {
  const rows = Array.from({ length: Math.ceil(inSize / factor) }, (_, out) =>
    Array.from({ length: factor }, (_, k) => ({ index: out * factor + k, weight: 1 / factor })),
  );
  return fromTaps(inSize, rows);
}

/** vips_reduce{h,v} with Lanczos 3 by `shrink` ≥ 1 and no gap, to `outSize`. */
export function lanczosReduce(inSize: number, outSize: number, shrink: number): AxisWeights {
  const points = 2 * Math.round(3 * shrink) + 1;
  const extra = outSize * shrink - inSize;
  const offset = (1 + extra) / 2 - 1;
  const pad = Math.ceil(points / 2) - 1;
  const rows = Array.from({ length: outSize }, (_, out) => {
    const y = (out + 0.5) * shrink - 0.5 - offset;
    const py = Math.trunc(y);
    const fraction = tableIndex(y) / SUBPIXELS;
    const half = fraction + points / 2 - 1;
    const c = Array.from({ length: points }, (_, i) => lanczos3((i - half) / shrink));
    const sum = c.reduce((a, b) => a + b, 0);
    return c.map((weight, i) => ({ index: py - pad + i, weight: weight / sum }));
  });
  return fromTaps(inSize, rows);
}

/** out ← mid ← in: the product of two maps. */
export function compose(first: AxisWeights, second: AxisWeights): AxisWeights {
  if (first.outSize !== second.inSize) throw new Error(`cannot compose ${first.inSize}→${first.outSize} with ${second.inSize}→${second.outSize}`);
  const rows = Array.from({ length: second.outSize }, (_, out) => {
    const acc = new Map<number, number>();
    for (let k = 0; k < second.taps; k++) {
      const w2 = second.weights[out * second.taps + k]!;
      if (w2 === 0) continue;
      const mid = second.start[out]! + k;
      for (let j = 0; j < first.taps; j++) {
        const w1 = first.weights[mid * first.taps + j]!;
        if (w1 !== 0) acc.set(first.start[mid]! + j, (acc.get(first.start[mid]! + j) ?? 0) + w1 * w2);
      }
    }
    return [...acc].map(([index, weight]) => ({ index, weight }));
  });
  return fromTaps(first.inSize, rows);
}

/** The map sharp's lanczos3 resize applies along one axis from `inSize` to `outSize`. */
export function sharpAxis(inSize: number, outSize: number): AxisWeights[] {
  if (outSize > inSize) return [bicubicEnlarge(inSize, outSize)];
  if (outSize === inSize) return [];
  const shrink = inSize / outSize;
  const box = Math.max(1, Math.floor(shrink / 2));
  if (box === 1) return [lanczosReduce(inSize, outSize, shrink)];
  const shrunk = Math.ceil(inSize / box);
  return [boxShrink(inSize, box), lanczosReduce(shrunk, outSize, shrink / box)];
}

/** All stages of several sharp resizes along one axis (sizes[0] → sizes[1] → …), composed into one map. */
export function composedAxis(sizes: readonly number[]): AxisWeights {
  const stages = sizes.slice(1).flatMap((size, i) => sharpAxis(sizes[i]!, size));
  if (stages.length === 0) return lanczosReduce(sizes[0]!, sizes[0]!, 1);
  return stages.reduce((a, b) => compose(a, b));
}

/**
 * Resamples 8-bit interleaved RGB with one map per axis: horizontal into a Float32 intermediate, then vertical,
 * rounding once at the end (clamped to 0…255) — or, with `exact`, returning the unrounded values.
 */
export function resampleRgb(data: Uint8Array, width: number, height: number, horizontal: AxisWeights, vertical: AxisWeights): Uint8Array;
export function resampleRgb(data: Uint8Array, width: number, height: number, horizontal: AxisWeights, vertical: AxisWeights, exact: true): Float64Array;
export function resampleRgb(data: Uint8Array, width: number, height: number, horizontal: AxisWeights, vertical: AxisWeights, exact = false): Uint8Array | Float64Array {
  if (horizontal.inSize !== width || vertical.inSize !== height) throw new Error(`weights for ${horizontal.inSize}×${vertical.inSize}, image ${width}×${height}`);
  const outW = horizontal.outSize;
  const outH = vertical.outSize;
  const mid = new Float32Array(outW * height * 3);
  const { taps: th, start: sh, weights: wh } = horizontal;
  for (let y = 0; y < height; y++) {
    const row = y * width * 3;
    const midRow = y * outW * 3;
    for (let x = 0; x < outW; x++) {
      let r = 0;
      let g = 0;
      let b = 0;
      let src = row + sh[x]! * 3;
      const w0 = x * th;
      for (let k = 0; k < th; k++, src += 3) {
        const w = wh[w0 + k]!;
        r += w * data[src]!;
        g += w * data[src + 1]!;
        b += w * data[src + 2]!;
      }
      const at = midRow + x * 3;
      mid[at] = r;
      mid[at + 1] = g;
      mid[at + 2] = b;
    }
  }
  const out = exact ? new Float64Array(outW * outH * 3) : new Uint8Array(outW * outH * 3);
  const { taps: tv, start: sv, weights: wv } = vertical;
  const acc = new Float64Array(outW * 3);
  for (let y = 0; y < outH; y++) {
    acc.fill(0);
    for (let k = 0; k < tv; k++) {
      const w = wv[y * tv + k]!;
      if (w === 0) continue;
      const base = (sv[y]! + k) * outW * 3;
      for (let i = 0; i < acc.length; i++) acc[i] += w * mid[base + i]!;
    }
    const base = y * outW * 3;
    if (exact) out.set(acc, base);
    else for (let i = 0; i < acc.length; i++) out[base + i] = Math.min(255, Math.max(0, Math.round(acc[i]!)));
  }
  return out;
}

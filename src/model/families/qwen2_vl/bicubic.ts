/**
 * PIL's `Image.resize(..., Image.BICUBIC)` for 8-bit RGB (libImaging/Resample.c), which is what the Python
 * Qwen2VLImageProcessor runs: a separable filter (a = -0.5) whose support widens with the scale on
 * downscaling (antialiasing), fixed-point coefficients (22 fraction bits), a horizontal pass into an 8-bit
 * intermediate image and then a vertical pass. Ported rather than delegated to sharp/libvips because
 * libvips shrinks large factors with a box filter first and rounds differently, so pixels would differ.
 */

/** Rows of `channels` bytes per pixel, row-major. */
export interface Rgb8Image {
  data: Uint8Array;
  width: number;
  height: number;
}

const PRECISION_BITS = 32 - 8 - 2;
const FIXED_ONE = 1 << PRECISION_BITS;
const HALF = 1 << (PRECISION_BITS - 1);
const BICUBIC_SUPPORT = 2;
const BICUBIC_A = -0.5;

export function bicubicWeight(distance: number): number {
  const x = Math.abs(distance);
  if (x < 1) return ((BICUBIC_A + 2) * x - (BICUBIC_A + 3)) * x * x + 1;
  if (x < 2) return (((x - 5) * x + 8) * x - 4) * BICUBIC_A;
  return 0;
}

/** Per output index: the first source index, the tap count and fixed-point taps (PIL precompute_coeffs + normalize_coeffs_8bpc). */
export interface ResampleCoefficients {
  taps: number;
  first: Int32Array;
  count: Int32Array;
  weights: Int32Array;
}

export function resampleCoefficients(inSize: number, outSize: number): ResampleCoefficients {
  const scale = inSize / outSize;
  const filterScale = Math.max(scale, 1);
  const support = BICUBIC_SUPPORT * filterScale;
  const taps = Math.ceil(support) * 2 + 1;
  const first = new Int32Array(outSize);
  const count = new Int32Array(outSize);
  const weights = new Int32Array(outSize * taps);
  const row = new Float64Array(taps);
  for (let out = 0; out < outSize; out++) {
    const center = (out + 0.5) * scale;
    // C's (int) cast truncates toward zero; both values here are >= -0.5 + ..., so trunc equals PIL.
    const xmin = Math.max(Math.trunc(center - support + 0.5), 0);
    const xmax = Math.min(Math.trunc(center + support + 0.5), inSize) - xmin;
    let total = 0;
    for (let x = 0; x < xmax; x++) {
      const w = bicubicWeight((x + xmin - center + 0.5) / filterScale);
      row[x] = w;
      total += w;
    }
    for (let x = 0; x < xmax; x++) {
      const w = total !== 0 ? (row[x] as number) / total : (row[x] as number);
      weights[out * taps + x] = w < 0 ? Math.trunc(-0.5 + w * FIXED_ONE) : Math.trunc(0.5 + w * FIXED_ONE);
    }
    first[out] = xmin;
    count[out] = xmax;
  }
  return { taps, first, count, weights };
}

function clip8(sum: number): number {
  if (sum <= 0) return 0;
  const v = Math.floor(sum / FIXED_ONE);
  return v > 255 ? 255 : v;
}

function resampleHorizontal(src: Rgb8Image, outWidth: number, rowStart: number, rowCount: number, c: ResampleCoefficients): Rgb8Image {
  const out = new Uint8Array(outWidth * rowCount * 3);
  const { taps, first, count, weights } = c;
  for (let y = 0; y < rowCount; y++) {
    const srcRow = (y + rowStart) * src.width * 3;
    const dstRow = y * outWidth * 3;
    for (let x = 0; x < outWidth; x++) {
      const x0 = first[x] as number;
      const n = count[x] as number;
      const k = x * taps;
      let r = HALF;
      let g = HALF;
      let b = HALF;
      let at = srcRow + x0 * 3;
      for (let t = 0; t < n; t++, at += 3) {
        const w = weights[k + t] as number;
        r += (src.data[at] as number) * w;
        g += (src.data[at + 1] as number) * w;
        b += (src.data[at + 2] as number) * w;
      }
      const d = dstRow + x * 3;
      out[d] = clip8(r);
      out[d + 1] = clip8(g);
      out[d + 2] = clip8(b);
    }
  }
  return { data: out, width: outWidth, height: rowCount };
}

function resampleVertical(src: Rgb8Image, outHeight: number, rowOffset: number, c: ResampleCoefficients): Rgb8Image {
  const width = src.width;
  const out = new Uint8Array(width * outHeight * 3);
  const { taps, first, count, weights } = c;
  const stride = width * 3;
  for (let y = 0; y < outHeight; y++) {
    const y0 = (first[y] as number) - rowOffset;
    const n = count[y] as number;
    const k = y * taps;
    const dstRow = y * stride;
    for (let i = 0; i < stride; i++) {
      let sum = HALF;
      let at = y0 * stride + i;
      for (let t = 0; t < n; t++, at += stride) sum += (src.data[at] as number) * (weights[k + t] as number);
      out[dstRow + i] = clip8(sum);
    }
  }
  return { data: out, width, height: outHeight };
}

/** PIL ImagingResampleInner: horizontal pass over only the source rows the vertical pass reads, then vertical. */
export function resizeBicubic(image: Rgb8Image, width: number, height: number): Rgb8Image {
  if (width < 1 || height < 1) throw new Error(`cannot resize to ${width}x${height}`);
  const needHorizontal = width !== image.width;
  const needVertical = height !== image.height;
  const vertical = resampleCoefficients(image.height, height);
  let current = image;
  let rowOffset = 0;
  if (needHorizontal) {
    const firstRow = vertical.first[0] as number;
    const lastRow = (vertical.first[height - 1] as number) + (vertical.count[height - 1] as number);
    current = resampleHorizontal(image, width, needVertical ? firstRow : 0, needVertical ? lastRow - firstRow : image.height, resampleCoefficients(image.width, width));
    rowOffset = needVertical ? firstRow : 0;
  }
  if (needVertical) current = resampleVertical(current, height, rowOffset, vertical);
  return current === image ? { data: image.data.slice(), width, height } : current;
}

/**
 * Test oracle: a literal, unoptimised transcription of PIL's 8-bit bicubic resize (Resample.c), written
 * per output pixel with the coefficients recomputed each time, to check the production port against.
 */
import type { Rgb8Image } from "../../../src/model/families/qwen2_vl/bicubic.js";

const PRECISION_BITS = 22;

function filter(x: number): number {
  const a = -0.5;
  x = Math.abs(x);
  if (x < 1) return ((a + 2) * x - (a + 3)) * x * x + 1;
  if (x < 2) return (((x - 5) * x + 8) * x - 4) * a;
  return 0;
}

function coefficients(inSize: number, outSize: number, index: number): { xmin: number; k: number[] } {
  const scale = inSize / outSize;
  const filterscale = scale < 1 ? 1 : scale;
  const support = 2 * filterscale;
  const center = (index + 0.5) * scale;
  let xmin = Math.trunc(center - support + 0.5);
  if (xmin < 0) xmin = 0;
  let xmax = Math.trunc(center + support + 0.5);
  if (xmax > inSize) xmax = inSize;
  xmax -= xmin;
  const k: number[] = [];
  let ww = 0;
  for (let x = 0; x < xmax; x++) {
    const w = filter((x + xmin - center + 0.5) / filterscale);
    k.push(w);
    ww += w;
  }
  return { xmin, k: k.map((w) => (ww !== 0 ? w / ww : w)).map((w) => (w < 0 ? Math.trunc(-0.5 + w * 2 ** PRECISION_BITS) : Math.trunc(0.5 + w * 2 ** PRECISION_BITS))) };
}

function clip8(v: number): number {
  if (v >= 2 ** PRECISION_BITS * 256) return 255;
  if (v <= 0) return 0;
  return Math.floor(v / 2 ** PRECISION_BITS);
}

export function oracleResize(image: Rgb8Image, width: number, height: number): Rgb8Image {
  let current = image;
  if (width !== image.width) {
    const out = new Uint8Array(width * image.height * 3);
    for (let y = 0; y < image.height; y++) {
      for (let x = 0; x < width; x++) {
        const { xmin, k } = coefficients(image.width, width, x);
        for (let c = 0; c < 3; c++) {
          let ss = 2 ** (PRECISION_BITS - 1);
          k.forEach((w, i) => (ss += (image.data[(y * image.width + xmin + i) * 3 + c] as number) * w));
          out[(y * width + x) * 3 + c] = clip8(ss);
        }
      }
    }
    current = { data: out, width, height: image.height };
  }
  if (height !== image.height) {
    const out = new Uint8Array(width * height * 3);
    for (let y = 0; y < height; y++) {
      const { xmin: ymin, k } = coefficients(image.height, height, y);
      for (let x = 0; x < width; x++) {
        for (let c = 0; c < 3; c++) {
          let ss = 2 ** (PRECISION_BITS - 1);
          k.forEach((w, i) => (ss += (current.data[((ymin + i) * width + x) * 3 + c] as number) * w));
          out[(y * width + x) * 3 + c] = clip8(ss);
        }
      }
    }
    current = { data: out, width, height };
  }
  return current;
}

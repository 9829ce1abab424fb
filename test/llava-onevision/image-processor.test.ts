import sharp from "sharp";
import { describe, expect, it } from "vitest";
import { parsePinpoints } from "../../src/model/families/llava_onevision/anyres.js";
import type { LlavaImageSettings } from "../../src/model/families/llava_onevision/config.js";
import { prepareImage } from "../../src/model/families/llava_onevision/image-processor.js";
import { ImageError } from "../../src/model/image.js";
import { resizeBicubic } from "../../src/model/families/qwen2_vl/bicubic.js";

const settings: LlavaImageSettings = { size: 384, rescaleFactor: 1 / 255, imageMean: [0.5, 0.5, 0.5], imageStd: [0.5, 0.5, 0.5] };
const STEPS = [384, 768, 1152, 1536, 1920, 2304];
const PINPOINTS = parsePinpoints(
  STEPS.flatMap((h) => STEPS.map((w) => [h, w])),
  384,
);
const MAX_PIXELS = 64 * 1024 * 1024;
const normalised = (v: number) => (v / 255 - 0.5) / 0.5;

function solid(width: number, height: number, rgb: [number, number, number]): Promise<Buffer> {
  return sharp({ create: { width, height, channels: 3, background: { r: rgb[0], g: rgb[1], b: rgb[2] } } })
    .png()
    .toBuffer();
}

/** Left half red, right half blue. */
async function halves(width: number, height: number): Promise<Buffer> {
  const data = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) data.set(x < width / 2 ? [255, 0, 0] : [0, 0, 255], (y * width + x) * 3);
  }
  return sharp(data, { raw: { width, height, channels: 3 } }).png().toBuffer();
}

/** Value of channel c at (y, x) of crop k in [crops, 3, S, S]. */
function at(pixels: Float32Array, k: number, c: number, y: number, x: number, size = 384): number {
  return pixels[((k * 3 + c) * size + y) * size + x];
}

describe("LLaVA-OneVision image processor", () => {
  it("single: one squashed 384² crop, rescaled and normalised to [-1, 1]", async () => {
    const image = await prepareImage(await solid(640, 480, [255, 0, 128]), "single", settings, PINPOINTS, MAX_PIXELS);
    expect(image.crops).toBe(1);
    expect(image.pixels.length).toBe(3 * 384 * 384);
    expect(image.original).toEqual({ height: 480, width: 640 });
    expect(at(image.pixels, 0, 0, 10, 10)).toBeCloseTo(1, 5);
    expect(at(image.pixels, 0, 1, 200, 300)).toBeCloseTo(-1, 5);
    expect(at(image.pixels, 0, 2, 383, 383)).toBeCloseTo(normalised(128), 5);
  });

  it("anyres 480×640: base crop + 2×2 grid; the 96-px zero padding above and below reads -1", async () => {
    const image = await prepareImage(await solid(640, 480, [200, 100, 50]), "anyres", settings, PINPOINTS, MAX_PIXELS);
    expect(image.crops).toBe(5);
    expect(image.plan?.best).toEqual({ height: 768, width: 768 });
    // Base view: the whole image, no padding.
    expect(at(image.pixels, 0, 0, 0, 0)).toBeCloseTo(normalised(200), 5);
    // Crop 1 (top-left): rows 0..95 are padding, row 200 is image.
    expect(at(image.pixels, 1, 0, 50, 10)).toBe(-1);
    expect(at(image.pixels, 1, 0, 95, 10)).toBe(-1);
    expect(at(image.pixels, 1, 0, 200, 10)).toBeCloseTo(normalised(200), 5);
    // Crop 4 (bottom-right): canvas rows 672.. are padding (crop row 288..).
    expect(at(image.pixels, 4, 1, 287, 383)).toBeCloseTo(normalised(100), 5);
    expect(at(image.pixels, 4, 1, 288, 383)).toBe(-1);
  });

  it("anyres crops run row-major over the canvas (red left crop, blue right crop)", async () => {
    const image = await prepareImage(await halves(768, 384), "anyres", settings, PINPOINTS, MAX_PIXELS);
    expect(image.plan?.best).toEqual({ height: 384, width: 768 });
    expect(image.crops).toBe(3);
    expect(at(image.pixels, 1, 0, 100, 100)).toBeCloseTo(1, 5);
    expect(at(image.pixels, 1, 2, 100, 100)).toBeCloseTo(-1, 5);
    expect(at(image.pixels, 2, 0, 100, 100)).toBeCloseTo(-1, 5);
    expect(at(image.pixels, 2, 2, 100, 100)).toBeCloseTo(1, 5);
  });

  it("square (multi-image): pads to a square with the mean colour int(0.5·255) = 127, one crop", async () => {
    const image = await prepareImage(await solid(300, 100, [0, 255, 0]), "square", settings, PINPOINTS, MAX_PIXELS);
    expect(image.crops).toBe(1);
    // 300² canvas, image rows 100..199 → crop rows 128..255; the bands above and below are 127.
    expect(at(image.pixels, 0, 0, 20, 192)).toBeCloseTo(normalised(127), 5);
    expect(at(image.pixels, 0, 1, 370, 192)).toBeCloseTo(normalised(127), 5);
    expect(at(image.pixels, 0, 1, 192, 192)).toBeCloseTo(1, 5);
  });

  it("resizes with PIL's bicubic (the exact port), not sharp's kernel: the crop is the port's output, normalised", async () => {
    const png = await halves(500, 300);
    const image = await prepareImage(png, "single", settings, PINPOINTS, MAX_PIXELS);
    const { data, info } = await sharp(png).removeAlpha().raw().toBuffer({ resolveWithObject: true });
    const resized = resizeBicubic({ data, width: info.width, height: info.height }, 384, 384);
    let max = 0;
    for (let y = 0; y < 384; y++) {
      for (let x = 0; x < 384; x++) {
        for (let c = 0; c < 3; c++) max = Math.max(max, Math.abs(at(image.pixels, 0, c, y, x) - normalised(resized.data[(y * 384 + x) * 3 + c]!)));
      }
    }
    expect(max).toBeLessThan(1e-6);
  });

  it("a corrupt file is an ImageError that names the accepted formats", async () => {
    const error = await prepareImage(new Uint8Array([1, 2, 3]), "anyres", settings, PINPOINTS, MAX_PIXELS).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ImageError);
    expect((error as Error).message).toMatch(/JPEG, PNG/);
  });
});

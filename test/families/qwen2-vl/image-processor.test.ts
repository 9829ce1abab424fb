/**
 * The Qwen2-VL image processor follows the Python Qwen2VLImageProcessor: smart_resize with Python's
 * rounding and its refusal of images under 28 px, PIL's antialiased bicubic, the CLIP normalisation in
 * numpy's float32 arithmetic, and the temporal tiling + patch permutation (checked against
 * transformers.js's processor where the two agree: no resize).
 */
import sharp from "sharp";
import { Qwen2VLImageProcessor, RawImage } from "@huggingface/transformers";
import { describe, expect, it } from "vitest";
import { resizeBicubic, type Rgb8Image } from "../../../src/model/families/qwen2_vl/bicubic.js";
import { DEFAULT_MAX_PIXELS, imageTokenCount, patchify, processRgb, type Qwen2VLImageConfig } from "../../../src/model/families/qwen2_vl/image-processor.js";
import { ModelInputError } from "../../../src/model/errors.js";
import { pythonRound, smartResize } from "../../../src/model/families/qwen2_vl/smart-resize.js";
import { QWEN2_VL_PREPROCESSOR_CONFIG } from "../../../src/model/families/qwen2_vl/tiny/published.js";
import { oracleResize } from "./pil-bicubic-oracle.js";

const published = QWEN2_VL_PREPROCESSOR_CONFIG;
const config: Qwen2VLImageConfig = {
  patchSize: published.patch_size,
  temporalPatchSize: published.temporal_patch_size,
  mergeSize: published.merge_size,
  minPixels: published.min_pixels,
  maxPixels: published.max_pixels,
  doResize: true,
  doRescale: true,
  rescaleFactor: published.rescale_factor,
  doNormalize: true,
  imageMean: published.image_mean as [number, number, number],
  imageStd: published.image_std as [number, number, number],
};
const limits = { factor: 28, minPixels: published.min_pixels, maxPixels: published.max_pixels };

function testImage(width: number, height: number, seed = 1): Rgb8Image {
  const data = new Uint8Array(width * height * 3);
  let s = seed >>> 0;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      for (let c = 0; c < 3; c++) {
        s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
        // Smooth structure plus noise: resampling differences show in both.
        const smooth = 127.5 + 100 * Math.sin(x * 0.07 * (c + 1) + y * 0.045) * Math.cos(y * 0.031 * (c + 1));
        data[(y * width + x) * 3 + c] = Math.max(0, Math.min(255, Math.round(smooth + ((s >>> 24) - 128) * 0.2)));
      }
    }
  }
  return { data, width, height };
}

describe("smart_resize (Python semantics)", () => {
  it("rounds halves to even like Python's round", () => {
    expect([0.5, 1.5, 2.5, 8.5, 9.5, 2.4999, 2.5001].map(pythonRound)).toEqual([0, 2, 2, 8, 10, 2, 3]);
  });

  it("238×238 → 224×224 (64 tokens), where transformers.js's half-up rounding gives 252×252 (81 tokens)", () => {
    const size = smartResize(238, 238, limits);
    expect(size).toEqual({ height: 224, width: 224 });
    expect(imageTokenCount([1, size.height / 14, size.width / 14], 2)).toBe(64);
  });

  it("reproduces the worked examples of vlm-families.md §A4", () => {
    expect(smartResize(224, 224, limits)).toEqual({ height: 224, width: 224 });
    expect(smartResize(480, 640, limits)).toEqual({ height: 476, width: 644 });
    expect(smartResize(100, 1000, limits)).toEqual({ height: 112, width: 1008 });
    const huge = smartResize(3000, 4000, limits);
    expect([huge.height / 14, huge.width / 14]).toEqual([214, 286]);
    expect(imageTokenCount([1, 214, 286], 2)).toBe(15301);
    expect(imageTokenCount([1, 34, 46], 2)).toBe(391);
  });

  it("the default budget gives a 640×480 photo 504×364: 234 image tokens", () => {
    const size = smartResize(480, 640, { ...limits, maxPixels: DEFAULT_MAX_PIXELS });
    expect(size).toEqual({ height: 364, width: 504 });
    expect(imageTokenCount([1, 26, 36], 2)).toBe(234);
    expect(size.height * size.width).toBeLessThanOrEqual(DEFAULT_MAX_PIXELS);
  });

  it("scales tiny-area images up to min_pixels with ceil", () => {
    // 28×28 = 784 < 3136: beta = 2, ceil(56 / 28) · 28.
    expect(smartResize(28, 28, limits)).toEqual({ height: 56, width: 56 });
    expect(smartResize(30, 40, limits)).toEqual({ height: 56, width: 84 });
  });

  it("refuses sides under 28 px (Python raises; transformers.js would upscale 20×20 to 56×56)", () => {
    expect(() => smartResize(20, 20, limits)).toThrow(ModelInputError);
    expect(() => smartResize(27, 500, limits)).toThrow(/at least 28 pixels on each side/);
    expect(() => smartResize(28, 28, limits)).not.toThrow();
  });

  it("refuses aspect ratios over 200:1", () => {
    expect(() => smartResize(28, 5601, limits)).toThrow(/aspect ratio over 200/);
    expect(() => smartResize(28, 5600, limits)).not.toThrow();
  });
});

describe("PIL bicubic resize", () => {
  for (const [w, h, W, H] of [
    [640, 480, 644, 476],
    [300, 200, 112, 84],
    [61, 47, 224, 168],
    [238, 238, 224, 224],
    [90, 64, 90, 28],
  ] as const) {
    it(`equals the literal PIL transcription byte for byte: ${w}×${h} → ${W}×${H}`, () => {
      const image = testImage(w, h, w + h);
      expect(Buffer.from(resizeBicubic(image, W, H).data).equals(Buffer.from(oracleResize(image, W, H).data))).toBe(true);
    });
  }

  it("antialiases on downscale: white noise shrunk 8× keeps little of its variance", () => {
    const side = 256;
    const data = new Uint8Array(side * side * 3);
    let s = 12345;
    for (let i = 0; i < data.length; i++) data[i] = (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) >>> 24;
    const std = (values: Uint8Array): number => {
      const mean = values.reduce((a, b) => a + b, 0) / values.length;
      return Math.sqrt(values.reduce((a, b) => a + (b - mean) ** 2, 0) / values.length);
    };
    // A 4-tap filter that ignored the scale would keep about half the input's standard deviation (~74).
    expect(std(data)).toBeGreaterThan(70);
    expect(std(resizeBicubic({ data, width: side, height: side }, 32, 32).data)).toBeLessThan(15);
  });

  it("differs from sharp's cubic kernel (why sharp is not used): upscaling 640×480 → 644×476", async () => {
    const image = testImage(640, 480);
    const viaSharp = await sharp(Buffer.from(image.data), { raw: { width: 640, height: 480, channels: 3 } })
      .resize(644, 476, { fit: "fill", kernel: "cubic" })
      .raw()
      .toBuffer();
    const ours = resizeBicubic(image, 644, 476).data;
    let total = 0;
    for (let i = 0; i < ours.length; i++) total += Math.abs((viaSharp[i] as number) - (ours[i] as number));
    expect(total / ours.length).toBeGreaterThan(1);
  });
});

describe("patches", () => {
  it("matches transformers.js's Qwen2VLImageProcessor where both agree (no resize): pixel_values and image_grid_thw", async () => {
    const image = testImage(224, 196, 7);
    const ours = processRgb(image, config, DEFAULT_MAX_PIXELS);
    const js = await new Qwen2VLImageProcessor(published)(new RawImage(new Uint8ClampedArray(image.data), 224, 196, 3));
    expect(js.image_grid_thw.tolist()).toEqual([[1n, 14n, 16n]]);
    expect(ours.grid).toEqual([1, 14, 16]);
    expect(js.pixel_values.dims).toEqual([ours.patches, ours.patchLength]);
    const theirs = js.pixel_values.data as Float32Array;
    let maxDiff = 0;
    for (let i = 0; i < theirs.length; i++) maxDiff = Math.max(maxDiff, Math.abs((theirs[i] as number) - (ours.pixelValues[i] as number)));
    expect(maxDiff).toBeLessThan(1e-5);
  });

  it("orders rows by 2×2 merge blocks and each row channel, frame, y, x (the permute (0,3,6,4,7,2,1,5,8))", () => {
    const image = testImage(56, 84, 3);
    const { pixelValues, patchLength, grid } = patchify(image, { ...config, doNormalize: false, doRescale: false });
    expect(grid).toEqual([1, 6, 4]);
    // Row 5 = block (0, 0)? No: blocks per row = 4 / 2 = 2; row 5 = block 1 (bh 0, bw 1), mh 0, mw 1 → patch (0, 3).
    const row = 5;
    const [py, px] = [0, 3];
    for (const [c, t, y, x] of [[0, 0, 0, 0], [2, 1, 13, 5], [1, 0, 7, 13]] as const) {
      const value = pixelValues[row * patchLength + ((c * 2 + t) * 14 + y) * 14 + x];
      expect(value).toBe(image.data[((py * 14 + y) * 56 + px * 14 + x) * 3 + c]);
    }
    // Row 8 starts block row 1: patch (2, 0).
    expect(pixelValues[8 * patchLength]).toBe(image.data[(28 * 56 + 0) * 3]);
  });

  it("normalises with numpy's float32 arithmetic", () => {
    const image: Rgb8Image = { data: new Uint8Array(56 * 56 * 3).fill(200), width: 56, height: 56 };
    const { pixelValues } = patchify(image, config);
    const expected = Math.fround(Math.fround(Math.fround(200 / 255) - Math.fround(0.48145466)) / Math.fround(0.26862954));
    expect(pixelValues[0]).toBe(expected);
  });
});

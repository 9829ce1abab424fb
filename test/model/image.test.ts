import sharp from "sharp";
import { describe, expect, it } from "vitest";
import { idefics3Config } from "../support/idefics3-config.js";
import { ImageError, inspectImage } from "../../src/model/image.js";
import {
  preprocessImage,
  resizeForVisionEncoder,
  resizeToLongestEdge,
} from "../../src/model/families/idefics3/image-processor.js";

const limits = { maxImageBytes: 5 * 1024 * 1024, maxImagePixels: 4096 * 4096 };
const config = idefics3Config();

function solid(width: number, height: number, rgb: [number, number, number], format: "png" | "jpeg" | "webp" = "png") {
  return sharp({ create: { width, height, channels: 3, background: { r: rgb[0], g: rgb[1], b: rgb[2] } } })
    .toFormat(format)
    .toBuffer();
}

async function expectImageError(promise: Promise<unknown>, code: string): Promise<ImageError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ImageError);
  expect((error as ImageError).code).toBe(code);
  return error as ImageError;
}

describe("resize rules of the Idefics3 processor", () => {
  it("scales the longest edge to the target, keeping aspect, rounding the other side up to even", () => {
    expect(resizeToLongestEdge(640, 480, 2048)).toEqual({ width: 2048, height: 1536 });
    expect(resizeToLongestEdge(480, 640, 2048)).toEqual({ width: 1536, height: 2048 });
    expect(resizeToLongestEdge(100, 33, 2048)).toEqual({ width: 2048, height: 676 }); // 675.84 → 675 → 676
    expect(resizeToLongestEdge(64, 64, 256)).toEqual({ width: 256, height: 256 });
  });

  it("rounds both sides up to tile multiples for splitting (640×480 at 2048 → 4×3 tiles of 512)", () => {
    expect(resizeForVisionEncoder(2048, 1536, 512)).toEqual({ width: 2048, height: 1536 });
    expect(resizeForVisionEncoder(2048, 676, 512)).toEqual({ width: 2048, height: 1024 });
    expect(resizeForVisionEncoder(2048, 2048, 512)).toEqual({ width: 2048, height: 2048 });
  });
});

describe("preprocessImage", () => {
  it("gives one normalised M×M frame in [-1, 1], channels first, without splitting", async () => {
    const image = await preprocessImage(await solid(120, 80, [255, 0, 128]), config, limits.maxImagePixels);
    expect(image.frames).toBe(1);
    expect([image.rows, image.cols]).toEqual([0, 0]);
    expect(image.pixels.length).toBe(3 * 64 * 64);
    const plane = 64 * 64;
    expect(image.pixels[0]).toBeCloseTo(1, 5); // red 255 → 1
    expect(image.pixels[plane]).toBeCloseTo(-1, 5); // green 0 → -1
    expect(image.pixels[2 * plane]).toBeCloseTo(128 / 127.5 - 1, 5);
  });

  it("splits into row-major tiles plus a last global frame when splitting is on", async () => {
    // 200×100 → 256×128 → tiles of 64: 4 columns × 2 rows, plus the global view.
    const gradient = await sharp(Buffer.from(Array.from({ length: 200 * 100 * 3 }, (_, i) => Math.floor((i / 3) % 200))), {
      raw: { width: 200, height: 100, channels: 3 },
    })
      .png()
      .toBuffer();
    const image = await preprocessImage(gradient, { ...config, doImageSplitting: true }, limits.maxImagePixels);
    expect([image.rows, image.cols, image.frames]).toEqual([2, 4, 9]);
    const frame = 3 * 64 * 64;
    // Left tiles are darker than right tiles: the horizontal gradient survives the split.
    const mean = (f: number) => image.pixels.subarray(f * frame, f * frame + 64 * 64).reduce((s, v) => s + v, 0) / (64 * 64);
    expect(mean(0)).toBeLessThan(mean(3));
  });

  it("flattens transparency onto white, as convert_to_rgb does", async () => {
    const transparent = await sharp({ create: { width: 10, height: 10, channels: 4, background: { r: 0, g: 0, b: 0, alpha: 0 } } })
      .png()
      .toBuffer();
    const image = await preprocessImage(transparent, config, limits.maxImagePixels);
    expect(Math.min(...image.pixels)).toBeCloseTo(1, 5);
  });

  it("depends on the pixels", async () => {
    const a = await preprocessImage(await solid(32, 32, [10, 200, 30]), config, limits.maxImagePixels);
    const b = await preprocessImage(await solid(32, 32, [200, 10, 30]), config, limits.maxImagePixels);
    expect(a.pixels[0]).not.toBeCloseTo(b.pixels[0], 2);
  });
});

describe("image validation errors", () => {
  it("accepts PNG, JPEG and WebP and reports their size", async () => {
    for (const format of ["png", "jpeg", "webp"] as const) {
      const info = await inspectImage(await solid(30, 20, [1, 2, 3], format), limits);
      expect(info).toMatchObject({ format, width: 30, height: 20 });
    }
  });

  it("rejects an empty buffer", async () => {
    await expectImageError(inspectImage(new Uint8Array(0), limits), "empty");
  });

  it("rejects bytes that are not an image", async () => {
    const error = await expectImageError(inspectImage(Buffer.from("hello, not an image"), limits), "unsupported-format");
    expect(error.message).toMatch(/JPEG, PNG/);
  });

  it("rejects an unsupported format (SVG)", async () => {
    const svg = Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect width="10" height="10"/></svg>');
    await expectImageError(inspectImage(svg, limits), "unsupported-format");
  });

  it("rejects a truncated PNG and a corrupt JPEG", async () => {
    const png = await sharp({ create: { width: 64, height: 64, channels: 3, background: "#808080" } })
      .png({ compressionLevel: 0 })
      .toBuffer();
    await expectImageError(inspectImage(png.subarray(0, Math.floor(png.length / 2)), limits), "corrupt");
    const jpeg = Buffer.from(await solid(64, 64, [9, 9, 9], "jpeg"));
    jpeg.fill(0xff, 200, jpeg.length - 2);
    await expect(inspectImage(jpeg, limits)).rejects.toBeInstanceOf(ImageError);
  });

  it("rejects images over the byte and pixel limits with the limit in the message", async () => {
    const big = await solid(300, 300, [1, 1, 1]);
    const bytesError = await expectImageError(inspectImage(big, { ...limits, maxImageBytes: 100 }), "too-large");
    expect(bytesError.message).toMatch(/limit/);
    await expectImageError(inspectImage(big, { ...limits, maxImagePixels: 1000 }), "too-many-pixels");
  });
});

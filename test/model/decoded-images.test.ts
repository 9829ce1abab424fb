import sharp from "sharp";
import { describe, expect, it } from "vitest";
import { idefics3Config } from "../support/idefics3-config.js";
import { DecodedImageCache, decodedImages, type RgbImage } from "../../src/model/decoded-images.js";
import { preprocessImage } from "../../src/model/families/idefics3/image-processor.js";
import { decodeRgb, ImageError, inspectImage } from "../../src/model/image.js";

const limits = { maxImageBytes: 5 * 1024 * 1024, maxImagePixels: 4096 * 4096 };
const config = idefics3Config();

function rgb(width: number, height: number): RgbImage {
  return { data: Buffer.alloc(width * height * 3, 7), width, height };
}

/** A noisy image with transparency and an EXIF rotation, so every decoding step matters. */
async function photo(format: "png" | "jpeg" | "webp"): Promise<Uint8Array> {
  const width = 97;
  const height = 61;
  const channels = format === "jpeg" ? 3 : 4;
  const pixels = Buffer.alloc(width * height * channels);
  for (let i = 0; i < pixels.length; i++) pixels[i] = (i * 7919 + (i >> 5) * 104729) % 256;
  return sharp(pixels, { raw: { width, height, channels } }).withMetadata({ orientation: 6 }).toFormat(format).toBuffer();
}

describe("DecodedImageCache", () => {
  it("hands kept pixels out once and counts them against its budget", () => {
    const cache = new DecodedImageCache(1000);
    const key = new Uint8Array(4);
    const image = rgb(10, 10);
    expect(cache.put(key, image)).toBe(true);
    expect(cache.heldBytes).toBe(300);
    expect(cache.take(new Uint8Array(4))).toBeUndefined(); // equal bytes, another object
    expect(cache.take(key)).toBe(image);
    expect(cache.take(key)).toBeUndefined();
    expect(cache.heldBytes).toBe(0);
  });

  it("refuses new entries once the budget is spent, keeping the earlier ones (they are extracted first)", () => {
    const cache = new DecodedImageCache(700);
    const first = new Uint8Array(1);
    const second = new Uint8Array(1);
    const third = new Uint8Array(1);
    expect(cache.put(first, rgb(10, 10))).toBe(true);
    expect(cache.put(second, rgb(10, 10))).toBe(true);
    expect(cache.put(third, rgb(10, 10))).toBe(false);
    expect(cache.heldBytes).toBe(600);
    expect(cache.take(first)).toBeDefined();
    expect(cache.take(third)).toBeUndefined();
    cache.discard(second);
    expect(cache.heldBytes).toBe(0);
    expect(cache.put(third, rgb(10, 10))).toBe(true);
  });

  it("replaces an entry put twice for the same bytes without counting it twice", () => {
    const cache = new DecodedImageCache(1000);
    const key = new Uint8Array(1);
    cache.put(key, rgb(10, 10));
    cache.put(key, rgb(5, 5));
    expect(cache.heldBytes).toBe(75);
  });
});

describe("decode once", () => {
  for (const format of ["png", "jpeg", "webp"] as const) {
    it(`preprocessing a ${format} after inspectImage reuses its pixels and gives the same values as decoding afresh`, async () => {
      const bytes = await photo(format);
      const fresh = await preprocessImage(Uint8Array.from(bytes), config, limits.maxImagePixels);
      const before = decodedImages.heldBytes;
      await inspectImage(bytes, limits);
      // 97×61 rotated by EXIF orientation 6 is kept as 61×97 RGB.
      expect(decodedImages.heldBytes - before).toBe(97 * 61 * 3);
      const reused = await preprocessImage(bytes, config, limits.maxImagePixels);
      expect(decodedImages.heldBytes).toBe(before);
      expect(reused.frames).toBe(fresh.frames);
      expect(Buffer.from(reused.pixels.buffer).equals(Buffer.from(fresh.pixels.buffer))).toBe(true);
    });
  }

  it("still refuses an image over the decoder's pixel limit when its pixels were kept under a larger one", async () => {
    const bytes = await photo("png");
    await inspectImage(bytes, limits);
    await expect(decodeRgb(bytes, 100)).rejects.toBeInstanceOf(ImageError);
  });
});

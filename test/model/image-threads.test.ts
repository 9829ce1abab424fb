import sharp from "sharp";
import { describe, expect, it } from "vitest";
import { idefics3Config } from "../support/idefics3-config.js";
import { preprocessImage } from "../../src/model/families/idefics3/image-processor.js";
import { IMAGE_THREADS } from "../../src/model/image.js";

const config = idefics3Config({ resizeLongestEdge: 2048, tileSize: 512, doImageSplitting: true });

async function noisyJpeg(width: number, height: number): Promise<Uint8Array> {
  const pixels = Buffer.alloc(width * height * 3);
  for (let i = 0; i < pixels.length; i++) pixels[i] = (i * 7919 + (i >> 7) * 104729) % 256;
  return new Uint8Array(await sharp(pixels, { raw: { width, height, channels: 3 } }).jpeg({ quality: 90 }).toBuffer());
}

describe("libvips threads", () => {
  it("are set to IMAGE_THREADS when the image module loads (sharp's own default here is one)", () => {
    expect(IMAGE_THREADS).toBeGreaterThanOrEqual(1);
    expect(sharp.concurrency()).toBe(IMAGE_THREADS);
  });

  it("do not change a single pixel value: preprocessing on one thread and on two gives the same tiles", async () => {
    const bytes = await noisyJpeg(733, 411);
    const before = sharp.concurrency();
    try {
      sharp.concurrency(1);
      const one = await preprocessImage(Uint8Array.from(bytes), config, 1e8);
      sharp.concurrency(2);
      const two = await preprocessImage(Uint8Array.from(bytes), config, 1e8);
      expect(two.frames).toBe(one.frames);
      expect(Buffer.from(two.pixels.buffer).equals(Buffer.from(one.pixels.buffer))).toBe(true);
    } finally {
      sharp.concurrency(before);
    }
  });
});

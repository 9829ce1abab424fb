import { decodeRgb, resizeRgb, type RgbImage } from "../../image.js";
import type { PixelNormalization } from "../config-fields.js";

/** Idefics3 image processor settings (preprocessor_config.json). */
export interface Idefics3ImageConfig extends PixelNormalization {
  /** `size.longest_edge`: the first resize, keeping aspect (small images are upscaled). */
  resizeLongestEdge: number;
  /** `max_image_size.longest_edge`: the vision encoder's square input size M. */
  tileSize: number;
  /** Split large images into M×M tiles plus a global view. Off by default: one global tile is ~17× cheaper. */
  doImageSplitting: boolean;
}

export interface PreprocessedImage {
  /** [frames, 3, M, M] channels-first, normalised. Tiles row-major, the global view last. */
  pixels: Float32Array;
  frames: number;
  rows: number;
  cols: number;
}

/** The size after the first resize: longest edge = L, aspect kept, the other side rounded up to even (as transformers does). */
export function resizeToLongestEdge(width: number, height: number, longestEdge: number): { width: number; height: number } {
  const aspect = width / height;
  let w: number;
  let h: number;
  if (width >= height) {
    w = longestEdge;
    h = Math.trunc(w / aspect);
    if (h % 2 !== 0) h += 1;
  } else {
    h = longestEdge;
    w = Math.trunc(h * aspect);
    if (w % 2 !== 0) w += 1;
  }
  return { width: Math.max(w, 1), height: Math.max(h, 1) };
}

/** Size for splitting: both sides rounded up to multiples of M, aspect kept as the processor does. */
export function resizeForVisionEncoder(width: number, height: number, tile: number): { width: number; height: number } {
  const aspect = width / height;
  let w: number;
  let h: number;
  if (width >= height) {
    w = Math.ceil(width / tile) * tile;
    h = Math.ceil(Math.floor(w / aspect) / tile) * tile;
  } else {
    h = Math.ceil(height / tile) * tile;
    w = Math.ceil(Math.floor(h * aspect) / tile) * tile;
  }
  return { width: Math.max(w, tile), height: Math.max(h, tile) };
}

function writeFrame(
  out: Float32Array,
  frame: number,
  image: RgbImage,
  left: number,
  top: number,
  tile: number,
  scale: Float32Array,
  shift: Float32Array,
): void {
  const plane = tile * tile;
  const base = frame * 3 * plane;
  for (let y = 0; y < tile; y++) {
    let src = ((top + y) * image.width + left) * 3;
    const row = y * tile;
    for (let x = 0; x < tile; x++, src += 3) {
      const at = base + row + x;
      out[at] = image.data[src] * scale[0] + shift[0];
      out[at + plane] = image.data[src + 1] * scale[1] + shift[1];
      out[at + 2 * plane] = image.data[src + 2] * scale[2] + shift[2];
    }
  }
}

/**
 * The Idefics3 image processor: RGB, resize to the longest edge, optional splitting into M×M tiles plus a
 * global view, rescale and normalise. Resizes run on 8-bit pixels with Lanczos, like the Python processor.
 */
export async function preprocessImage(bytes: Uint8Array, config: Idefics3ImageConfig, maxPixels: number): Promise<PreprocessedImage> {
  let image = await decodeRgb(bytes, maxPixels);
  if (config.doResize) {
    const size = resizeToLongestEdge(image.width, image.height, config.resizeLongestEdge);
    image = await resizeRgb(image, size.width, size.height);
  }

  // value * rescale, then (v - mean) / std, folded into one multiply-add per channel.
  const scale = new Float32Array(3);
  const shift = new Float32Array(3);
  for (let c = 0; c < 3; c++) {
    const rescale = config.doRescale ? config.rescaleFactor : 1;
    const mean = config.doNormalize ? config.imageMean[c] : 0;
    const std = config.doNormalize ? config.imageStd[c] : 1;
    scale[c] = rescale / std;
    shift[c] = -mean / std;
  }

  const tile = config.tileSize;
  let rows = 0;
  let cols = 0;
  const frames: { image: RgbImage; left: number; top: number }[] = [];
  if (config.doImageSplitting) {
    const size = resizeForVisionEncoder(image.width, image.height, tile);
    const resized = await resizeRgb(image, size.width, size.height);
    if (resized.width > tile || resized.height > tile) {
      rows = Math.ceil(resized.height / tile);
      cols = Math.ceil(resized.width / tile);
      const tileH = Math.ceil(resized.height / rows);
      const tileW = Math.ceil(resized.width / cols);
      for (let r = 0; r < rows; r++) {
        for (let c = 0; c < cols; c++) {
          const top = r === rows - 1 ? resized.height - tileH : r * tileH;
          const left = c === cols - 1 ? resized.width - tileW : c * tileW;
          frames.push({ image: resized, left, top });
        }
      }
    }
    frames.push({ image: await resizeRgb(resized, tile, tile), left: 0, top: 0 });
  } else {
    frames.push({ image: await resizeRgb(image, tile, tile), left: 0, top: 0 });
  }

  const pixels = new Float32Array(frames.length * 3 * tile * tile);
  frames.forEach((frame, index) => writeFrame(pixels, index, frame.image, frame.left, frame.top, tile, scale, shift));
  return { pixels, frames: frames.length, rows, cols };
}

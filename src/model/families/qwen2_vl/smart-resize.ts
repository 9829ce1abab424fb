/**
 * Qwen2VLImageProcessor's `smart_resize` (transformers, Python) — the training-time truth, which differs
 * from transformers.js in two places, both followed here:
 * - `round` is Python's (halves to even): 238 px / 28 = 8.5 rounds to 8 (224 px, 64 tokens for 238×238);
 *   transformers.js rounds halves up (252 px, 81 tokens).
 * - An image with a side under `factor` (28 px) is refused (Python raises ValueError); transformers.js
 *   upscales it first.
 */
import { ModelInputError } from "../../errors.js";


export interface SmartResizeLimits {
  /** patch_size × merge_size (28 for Qwen2-VL). */
  factor: number;
  minPixels: number;
  maxPixels: number;
}

/** Longest side over shortest side above which Python refuses an image. */
export const MAX_ASPECT_RATIO = 200;

/** Python 3 `round(x)` for a float: the nearest integer, halves to the even one. */
export function pythonRound(x: number): number {
  const nearest = Math.round(x);
  return nearest - x === 0.5 && nearest % 2 !== 0 ? nearest - 1 : nearest;
}

/** The resized [height, width], both multiples of `factor`, with height·width within [minPixels, maxPixels]. */
export function smartResize(height: number, width: number, limits: SmartResizeLimits): { height: number; width: number } {
  const { factor, minPixels, maxPixels } = limits;
  if (height < factor || width < factor) {
    throw new ModelInputError(
      `The image is ${width}x${height} pixels; this model needs at least ${factor} pixels on each side. Use a larger image or upscale it.`,
    );
  }
  if (Math.max(height, width) / Math.min(height, width) > MAX_ASPECT_RATIO) {
    throw new ModelInputError(
      `The image is ${width}x${height} pixels, an aspect ratio over ${MAX_ASPECT_RATIO}:1, which this model refuses. Crop it to a less elongated shape.`,
    );
  }
  let h = pythonRound(height / factor) * factor;
  let w = pythonRound(width / factor) * factor;
  if (h * w > maxPixels) {
    const beta = Math.sqrt((height * width) / maxPixels);
    h = Math.floor(height / beta / factor) * factor;
    w = Math.floor(width / beta / factor) * factor;
  } else if (h * w < minPixels) {
    const beta = Math.sqrt(minPixels / (height * width));
    h = Math.ceil((height * beta) / factor) * factor;
    w = Math.ceil((width * beta) / factor) * factor;
  }
  if (h < factor || w < factor) {
    // Python would go on with a zero side and fail inside the resize; say what to change instead.
    throw new ModelInputError(
      `The image is ${width}x${height} pixels; under the pixel budget of ${maxPixels} its shorter side would shrink below ${factor} pixels. Crop it to a less elongated shape or raise maxPixels.`,
    );
  }
  return { height: h, width: w };
}

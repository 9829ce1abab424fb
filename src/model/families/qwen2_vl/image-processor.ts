/**
 * Qwen2VLImageProcessor (the Python, PIL-based processor): RGB, smart_resize, PIL bicubic, rescale, CLIP
 * normalisation, the single image tiled to `temporal_patch_size` frames, and the patch permutation to
 * pixel_values [grid_h·grid_w, 3·temporal·patch·patch] with rows ordered by merge_size² blocks.
 */
import type { PixelNormalization } from "../config-fields.js";
import { resizeBicubic, type Rgb8Image } from "./bicubic.js";
import { smartResize } from "./smart-resize.js";

export interface Qwen2VLImageConfig extends PixelNormalization {
  patchSize: number;
  temporalPatchSize: number;
  mergeSize: number;
  /** From preprocessor_config.json: the processor's own bounds. */
  minPixels: number;
  maxPixels: number;
}

/**
 * The pixel budget sav-mcp uses unless a task says otherwise: 256 merged tokens (256·28·28). The model's
 * own max_pixels (12845056) allows ~16k image tokens, far too slow on a CPU. A 640×480 photo resizes to
 * 504×364 under it: grid 26×36, 936 patches, 234 image tokens.
 */
export const DEFAULT_MAX_PIXELS = 256 * 28 * 28;

export interface Qwen2VLPixels {
  /** [patches, channels·temporal·patch²] row-major. */
  pixelValues: Float32Array;
  patches: number;
  patchLength: number;
  /** (t, h, w) in patches: what `grid_thw` / `image_grid_thw` holds. */
  grid: [number, number, number];
  /** The resized image size. */
  width: number;
  height: number;
}

const CHANNELS = 3;

/** numpy's float32 arithmetic of transformers' rescale (float64 product stored as float32) and normalize (float32). */
function normalisationTable(config: Qwen2VLImageConfig): Float32Array[] {
  return [0, 1, 2].map((c) => {
    const table = new Float32Array(256);
    const mean = Math.fround(config.imageMean[c] as number);
    const std = Math.fround(config.imageStd[c] as number);
    for (let v = 0; v < 256; v++) {
      let x = config.doRescale ? Math.fround(v * config.rescaleFactor) : v;
      if (config.doNormalize) x = Math.fround(Math.fround(x - mean) / std);
      table[v] = x;
    }
    return table;
  });
}

/**
 * The reshape [t, T, C, gh/m, m, p, gw/m, m, p] → permute (0,3,6,4,7,2,1,5,8) → [t·gh·gw, C·T·p·p] of a
 * single image repeated over the T temporal frames, read straight from the HWC resized image.
 */
export function patchify(image: Rgb8Image, config: Qwen2VLImageConfig): Qwen2VLPixels {
  const p = config.patchSize;
  const m = config.mergeSize;
  const T = config.temporalPatchSize;
  const gh = image.height / p;
  const gw = image.width / p;
  if (!Number.isInteger(gh / m) || !Number.isInteger(gw / m)) {
    throw new Error(`resized image ${image.width}x${image.height} is not a multiple of ${p * m}`);
  }
  const tables = normalisationTable(config);
  const patchLength = CHANNELS * T * p * p;
  const patches = gh * gw;
  const out = new Float32Array(patches * patchLength);
  let row = 0;
  for (let bh = 0; bh < gh / m; bh++) {
    for (let bw = 0; bw < gw / m; bw++) {
      for (let mh = 0; mh < m; mh++) {
        for (let mw = 0; mw < m; mw++, row++) {
          const top = (bh * m + mh) * p;
          const left = (bw * m + mw) * p;
          let at = row * patchLength;
          for (let c = 0; c < CHANNELS; c++) {
            const table = tables[c] as Float32Array;
            for (let t = 0; t < T; t++) {
              for (let y = 0; y < p; y++) {
                let src = ((top + y) * image.width + left) * CHANNELS + c;
                for (let x = 0; x < p; x++, src += CHANNELS) out[at++] = table[image.data[src] as number] as number;
              }
            }
          }
        }
      }
    }
  }
  return { pixelValues: out, patches, patchLength, grid: [1, gh, gw], width: image.width, height: image.height };
}

/** Resize (when configured) and patchify one decoded RGB image under the given pixel budget. */
export function processRgb(image: Rgb8Image, config: Qwen2VLImageConfig, maxPixels: number): Qwen2VLPixels {
  const factor = config.patchSize * config.mergeSize;
  const size = smartResize(image.height, image.width, { factor, minPixels: config.minPixels, maxPixels: Math.min(maxPixels, config.maxPixels) });
  const resized = config.doResize ? resizeBicubic(image, size.width, size.height) : image;
  return patchify(resized, config);
}

/** Image tokens in the prompt for a grid: t·h·w / merge². */
export function imageTokenCount(grid: readonly [number, number, number], mergeSize: number): number {
  return (grid[0] * grid[1] * grid[2]) / (mergeSize * mergeSize);
}

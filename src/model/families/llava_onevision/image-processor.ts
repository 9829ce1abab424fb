/**
 * The LLaVA-OneVision image processor, on 8-bit RGB as the Python one works:
 * - single: the whole image resized (squashed) to one S×S crop — what transformers.js feeds the ONNX encoder;
 * - anyres: crop 0 = the whole image squashed to S×S, then the best-pinpoint canvas (aspect-preserving
 *   resize, centred zero padding) cut into S×S crops row-major;
 * - square: several images in one prompt are each padded to a square with the mean colour, one crop each.
 * Resizes are PIL's bicubic (preprocessor resample 3, the Qwen2-VL family's exact port); values are rescaled and
 * normalised (SigLIP mean/std 0.5).
 */
import { decodeRgb } from "../../image.js";
import { resizeBicubic } from "../qwen2_vl/bicubic.js";
import { planAnyres, squarePadding, type AnyresPlan, type Size } from "./anyres.js";
import type { LlavaImageSettings } from "./config.js";

export type CropMode = "single" | "anyres" | "square";

export interface PreparedImage {
  mode: CropMode;
  /** [crops, 3, S, S], channels first, normalised. */
  pixels: Float32Array;
  crops: number;
  cropSize: number;
  original: Size;
  /** The anyres grid (mode "anyres" only). */
  plan?: AnyresPlan;
}

interface Rgb {
  data: Buffer;
  width: number;
  height: number;
}

/** PIL's BICUBIC resize (the Python processor's `resample` 3), ported exactly; sharp's cubic kernel rounds and shrinks differently. */
function resize(image: Rgb, width: number, height: number): Rgb {
  if (image.width === width && image.height === height) return image;
  const out = resizeBicubic(image, width, height);
  return { data: Buffer.from(out.data.buffer, out.data.byteOffset, out.data.byteLength), width, height };
}

/** `image` centred on a `side`² canvas of the colour `fill`. */
function padToSquare(image: Rgb, fill: [number, number, number]): Rgb {
  const { side, padding } = squarePadding({ height: image.height, width: image.width });
  const data = Buffer.alloc(side * side * 3);
  for (let i = 0; i < data.length; i += 3) data.set(fill, i);
  for (let y = 0; y < image.height; y++) {
    image.data.copy(data, ((y + padding.top) * side + padding.left) * 3, y * image.width * 3, (y + 1) * image.width * 3);
  }
  return { data, width: side, height: side };
}

class CropWriter {
  readonly pixels: Float32Array;
  private readonly scale = new Float32Array(3);
  private readonly shift = new Float32Array(3);

  constructor(
    crops: number,
    private readonly size: number,
    settings: LlavaImageSettings,
  ) {
    this.pixels = new Float32Array(crops * 3 * size * size);
    for (let c = 0; c < 3; c++) {
      // (v · rescale − mean) / std as one multiply-add per channel.
      this.scale[c] = settings.rescaleFactor / settings.imageStd[c];
      this.shift[c] = -settings.imageMean[c] / settings.imageStd[c];
    }
  }

  /** Writes crop `index` from the window at (top, left) of `image` placed at (offsetTop, offsetLeft) on a zero canvas. */
  write(index: number, image: Rgb, top: number, left: number, offsetTop = 0, offsetLeft = 0): void {
    const { size, scale, shift, pixels } = this;
    const plane = size * size;
    const base = index * 3 * plane;
    for (let y = 0; y < size; y++) {
      const sourceY = top + y - offsetTop;
      for (let x = 0; x < size; x++) {
        const sourceX = left + x - offsetLeft;
        const at = base + y * size + x;
        const inside = sourceY >= 0 && sourceY < image.height && sourceX >= 0 && sourceX < image.width;
        const src = (sourceY * image.width + sourceX) * 3;
        for (let c = 0; c < 3; c++) pixels[at + c * plane] = (inside ? image.data[src + c] : 0) * scale[c] + shift[c];
      }
    }
  }
}

/** Prepares one image for the vision encoder in the given mode. */
export async function prepareImage(
  bytes: Uint8Array,
  mode: CropMode,
  settings: LlavaImageSettings,
  pinpoints: readonly Size[],
  maxPixels: number,
): Promise<PreparedImage> {
  const image = await decodeRgb(bytes, maxPixels);
  const original = { height: image.height, width: image.width };
  const size = settings.size;
  if (mode === "single" || mode === "square") {
    // The mean colour as the Python processor rounds it: int(mean · 255) per channel (127 for 0.5).
    const fill = settings.imageMean.map((mean) => Math.trunc(mean * 255)) as [number, number, number];
    const source = mode === "square" ? padToSquare(image, fill) : image;
    const writer = new CropWriter(1, size, settings);
    writer.write(0, resize(source, size, size), 0, 0);
    return { mode, pixels: writer.pixels, crops: 1, cropSize: size, original };
  }
  const plan = planAnyres(original, pinpoints, size);
  const writer = new CropWriter(1 + plan.crops.length, size, settings);
  writer.write(0, resize(image, size, size), 0, 0);
  const fitted = resize(image, plan.resized.width, plan.resized.height);
  plan.crops.forEach((crop, i) => writer.write(i + 1, fitted, crop.top, crop.left, plan.padding.top, plan.padding.left));
  return { mode, pixels: writer.pixels, crops: 1 + plan.crops.length, cropSize: size, original, plan };
}

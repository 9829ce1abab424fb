import { availableParallelism } from "node:os";
import sharp from "sharp";
import type { Sharp } from "sharp";
import { decodedImages, type RgbImage } from "./decoded-images.js";

/**
 * libvips threads per image operation. sharp picks 1 on glibc without jemalloc (to limit heap fragmentation);
 * 2 halves the Lanczos enlargement that dominates preprocessing (90 → 51 ms for 640×480 → 2048×1536 → 512², quiet
 * 2-core host; BENCHMARKS.md `preprocess`), with pixels identical. More threads would only compete with ONNX Runtime.
 */
export const IMAGE_THREADS = Math.min(2, availableParallelism());
sharp.concurrency(IMAGE_THREADS);

export type { RgbImage } from "./decoded-images.js";

export interface ImageLimits {
  maxImageBytes: number;
  maxImagePixels: number;
  /** Called with the image's size once its header is read, before it is decoded; may throw to refuse it. */
  beforeDecode?: (info: { width: number; height: number }) => void;
}

export interface ImageInfo {
  format: string;
  width: number;
  height: number;
  bytes: number;
}

export type ImageErrorCode = "empty" | "too-large" | "too-many-pixels" | "unsupported-format" | "corrupt";

/** An image that cannot be used, with a message that says how to fix it. */
export class ImageError extends Error {
  readonly code: ImageErrorCode;
  constructor(code: ImageErrorCode, message: string) {
    super(message);
    this.name = "ImageError";
    this.code = code;
  }
}

/** sharp's format names for the formats we accept (GIF: first frame). */
export const SUPPORTED_FORMATS = ["jpeg", "png", "webp", "gif", "avif", "heif", "tiff"] as const;
const SUPPORTED = new Set<string>(SUPPORTED_FORMATS);
const ACCEPTED_TEXT = "JPEG, PNG, WebP, GIF (first frame), AVIF, TIFF";

function megabytes(bytes: number): string {
  return `${(bytes / (1024 * 1024)).toFixed(1)} MB`;
}

/**
 * Decodes the whole image (so truncated files are caught), enforcing the limits. The RGB pixels are kept in
 * `decodedImages` (when they fit its budget) for decodeRgb, so preprocessing does not decode the image again.
 */
export async function inspectImage(bytes: Uint8Array, limits: ImageLimits): Promise<ImageInfo> {
  if (bytes.byteLength === 0) throw new ImageError("empty", "The image is empty (0 bytes). Provide a non-empty image file.");
  if (bytes.byteLength > limits.maxImageBytes) {
    throw new ImageError(
      "too-large",
      `The image is ${megabytes(bytes.byteLength)}, over the ${megabytes(limits.maxImageBytes)} limit. Downscale or recompress it.`,
    );
  }
  let format: string | undefined;
  let width = 0;
  let height = 0;
  try {
    const meta = await sharp(bytes, { limitInputPixels: false, failOn: "none" }).metadata();
    format = meta.format;
    width = meta.width ?? 0;
    height = meta.height ?? 0;
  } catch {
    throw new ImageError("unsupported-format", `The data is not a readable image. Accepted formats: ${ACCEPTED_TEXT}.`);
  }
  if (!format || !SUPPORTED.has(format)) {
    throw new ImageError("unsupported-format", `Image format "${format ?? "unknown"}" is not supported. Accepted formats: ${ACCEPTED_TEXT}.`);
  }
  if (width < 1 || height < 1) throw new ImageError("empty", "The image has zero width or height.");
  if (width * height > limits.maxImagePixels) {
    throw new ImageError(
      "too-many-pixels",
      `The image is ${width}x${height} = ${width * height} pixels, over the ${limits.maxImagePixels} pixel limit. Downscale it.`,
    );
  }
  limits.beforeDecode?.({ width, height });
  let image: RgbImage;
  try {
    // The very pipeline decodeRgb runs, so the kept pixels are the ones it would decode.
    image = await toRgb(decoder(bytes, limits.maxImagePixels));
  } catch (error) {
    const reason = error instanceof Error ? error.message.split("\n")[0] : String(error);
    throw new ImageError("corrupt", `The ${format.toUpperCase()} image is corrupt or truncated (${reason}). Re-export or re-download it.`);
  }
  decodedImages.put(bytes, image);
  return { format, width, height, bytes: bytes.byteLength };
}

/** A sharp pipeline that refuses truncated data, decodes the first frame and applies EXIF orientation. */
export function decoder(bytes: Uint8Array, maxPixels: number): Sharp {
  return sharp(bytes, { failOn: "truncated", limitInputPixels: maxPixels, pages: 1 }).rotate();
}

export async function toRgb(pipeline: Sharp): Promise<RgbImage> {
  // Transparent pixels become white, as transformers' convert_to_rgb composites onto white.
  const { data, info } = await pipeline
    .flatten({ background: { r: 255, g: 255, b: 255 } })
    .toColourspace("srgb")
    .removeAlpha()
    .raw()
    .toBuffer({ resolveWithObject: true });
  if (info.channels !== 3) throw new ImageError("corrupt", `Decoded image has ${info.channels} channels; expected RGB.`);
  return { data, width: info.width, height: info.height };
}

/**
 * A resize on 8-bit pixels with sharp's kernel (Lanczos by default, as the Python processors do with PIL). Note that
 * libvips 8.18 reduces with the kernel but enlarges with Catmull-Rom bicubic (sampling at X / s − 0.5), whatever
 * the kernel; tools/bench/composed-resize.ts models both (BENCHMARKS.md, preprocess).
 */
export function resizeRgb(image: RgbImage, width: number, height: number, kernel: "lanczos3" | "cubic" | "linear" | "nearest" = "lanczos3"): Promise<RgbImage> {
  if (image.width === width && image.height === height) return Promise.resolve(image);
  return toRgb(
    sharp(image.data, { raw: { width: image.width, height: image.height, channels: 3 } }).resize(width, height, {
      fit: "fill",
      kernel,
    }),
  );
}


/**
 * The image decoded to RGB (EXIF orientation applied, transparency on white), or an ImageError. Pixels that
 * inspectImage kept are taken instead of decoding again (the caller owns them), unless over `maxPixels`.
 */
export async function decodeRgb(bytes: Uint8Array, maxPixels: number): Promise<RgbImage> {
  const kept = decodedImages.take(bytes);
  if (kept && kept.width * kept.height <= maxPixels) return kept;
  try {
    return await toRgb(decoder(bytes, maxPixels));
  } catch (error) {
    if (error instanceof ImageError) throw error;
    const reason = error instanceof Error ? error.message.split("\n")[0] : String(error);
    throw new ImageError("corrupt", `The image cannot be decoded (${reason}). Use a valid JPEG, PNG, WebP, GIF, AVIF or TIFF file.`);
  }
}

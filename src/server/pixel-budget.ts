/**
 * The decoded-pixel budget of one add_examples or classify_image call: every image is decoded in full
 * before model work, so without a bound one call could decode thousands of images at the per-image limit.
 * Each image's width × height is charged when its header is read, before it is decoded.
 */
import type { SavLimits } from "../config.js";
import { ToolError } from "./errors.js";

/** Charges one image's pixels; throws to refuse the image before it is decoded. */
export type PixelCharge = (pixels: number) => void;

/** The call's total went over maxPixelsPerCall: the whole call is refused, not just one example. */
export class CallPixelLimitError extends ToolError {}

export function describePixels(pixels: number): string {
  const mi = pixels / (1024 * 1024);
  if (mi < 1) return `${pixels} pixels`;
  return `${pixels} pixels (${mi >= 10 ? Math.round(mi) : mi.toFixed(1)} Mi)`;
}

export class PixelBudget {
  private used = 0;

  constructor(
    private readonly limits: Pick<SavLimits, "maxPixelsPerCall" | "maxPixelsPerExample">,
    /** How the call is split, for the message: e.g. "send the examples from example 12 on in further calls". */
    private readonly splitAdvice: (index: number) => string,
    private readonly refusal: string,
  ) {}

  /** The charge for the images of item `index` (an example or a query), which share the per-example limit. */
  forItem(index: number, kind: "example" | "query" | "image"): PixelCharge {
    let item = 0;
    return (pixels) => {
      const { maxPixelsPerCall, maxPixelsPerExample } = this.limits;
      if (item + pixels > maxPixelsPerExample) {
        throw new ToolError(
          `The images of this ${kind === "image" ? "query" : kind} add up to ${describePixels(item + pixels)}, over the limit of ${describePixels(maxPixelsPerExample)} per example ` +
            "(maxPixelsPerExample). Downscale the images (e.g. about 1024 px on the long side) or use fewer images per example.",
        );
      }
      if (this.used + pixels > maxPixelsPerCall) {
        throw new CallPixelLimitError(
          `${this.refusal}: the images of this call add up to more than ${describePixels(maxPixelsPerCall)} (maxPixelsPerCall), ` +
            `reached at ${kind} ${index} (counting from 0). ${this.splitAdvice(index)}, or downscale the images (e.g. about 1024 px on the long side).`,
        );
      }
      item += pixels;
      this.used += pixels;
    };
  }

  get total(): number {
    return this.used;
  }
}

/**
 * Geometry of LLaVA-OneVision's "anyres" image path (pure: sizes only, no pixels).
 *
 * The image processor picks the grid resolution that keeps the most of the original pixels
 * (`select_best_resolution`), resizes the image into it keeping the aspect ratio, pads it centred,
 * and cuts it into crop-size tiles row-major; crop 0 is the whole image squashed to one crop.
 * All sizes are (height, width), as the Python processor orders them.
 */

export interface Size {
  height: number;
  width: number;
}

/** Padding, in pixels, around the resized image inside the best resolution. */
export interface Padding {
  top: number;
  bottom: number;
  left: number;
  right: number;
}

/** One crop of the padded canvas, in canvas pixels. */
export interface CropRect {
  top: number;
  left: number;
  size: number;
}

export interface AnyresPlan {
  original: Size;
  /** The chosen grid pinpoint. */
  best: Size;
  /** The image resized into `best`, aspect kept. */
  resized: Size;
  padding: Padding;
  gridRows: number;
  gridCols: number;
  /** Grid crops of the padded canvas, row-major; the whole-image crop 0 is not in this list. */
  crops: CropRect[];
  cropSize: number;
}

/** Reads `image_grid_pinpoints` ([[h, w], …]) from config.json, refusing anything else. */
export function parsePinpoints(value: unknown, cropSize: number): Size[] {
  if (!Array.isArray(value) || value.length === 0) {
    throw new Error("config.json image_grid_pinpoints must be a non-empty list of [height, width] pairs.");
  }
  return value.map((pair, index) => {
    if (!Array.isArray(pair) || pair.length !== 2 || !pair.every((v) => Number.isInteger(v) && v > 0)) {
      throw new Error(`config.json image_grid_pinpoints[${index}] must be a [height, width] pair of positive integers.`);
    }
    const [height, width] = pair as [number, number];
    if (height % cropSize !== 0 || width % cropSize !== 0) {
      throw new Error(`config.json image_grid_pinpoints[${index}] = [${height}, ${width}] is not a multiple of the ${cropSize}-px crop size.`);
    }
    return { height, width };
  });
}

/**
 * The pinpoint that keeps the most original pixels after an aspect-preserving fit; ties go to the
 * one that wastes the fewest canvas pixels, and earlier pinpoints win exact ties (strict comparisons).
 */
export function selectBestResolution(original: Size, pinpoints: readonly Size[]): Size {
  let best: Size | undefined;
  let maxEffective = 0;
  let minWasted = Number.POSITIVE_INFINITY;
  for (const candidate of pinpoints) {
    const scale = Math.min(candidate.width / original.width, candidate.height / original.height);
    const fittedWidth = Math.trunc(original.width * scale);
    const fittedHeight = Math.trunc(original.height * scale);
    const effective = Math.min(fittedWidth * fittedHeight, original.width * original.height);
    const wasted = candidate.width * candidate.height - effective;
    if (effective > maxEffective || (effective === maxEffective && wasted < minWasted)) {
      maxEffective = effective;
      minWasted = wasted;
      best = candidate;
    }
  }
  if (!best) throw new Error("No grid pinpoint fits the image.");
  return best;
}

/** The aspect-preserving size inside `target`: the tighter side fills it, the other is rounded up (ceil) and capped. */
export function fitInside(original: Size, target: Size): Size {
  const scaleWidth = target.width / original.width;
  const scaleHeight = target.height / original.height;
  if (scaleWidth < scaleHeight) {
    return { width: target.width, height: Math.min(Math.ceil(original.height * scaleWidth), target.height) };
  }
  return { height: target.height, width: Math.min(Math.ceil(original.width * scaleHeight), target.width) };
}

/** Centred padding; an odd remainder goes to the bottom / right. */
export function centredPadding(inner: Size, outer: Size): Padding {
  const extraHeight = outer.height - inner.height;
  const extraWidth = outer.width - inner.width;
  const top = Math.floor(extraHeight / 2);
  const left = Math.floor(extraWidth / 2);
  return { top, bottom: extraHeight - top, left, right: extraWidth - left };
}

/** Everything the processor decides about an image before touching its pixels. */
export function planAnyres(original: Size, pinpoints: readonly Size[], cropSize: number): AnyresPlan {
  if (!(original.height >= 1 && original.width >= 1)) throw new Error("The image has zero width or height.");
  const best = selectBestResolution(original, pinpoints);
  const resized = fitInside(original, best);
  const gridRows = Math.ceil(best.height / cropSize);
  const gridCols = Math.ceil(best.width / cropSize);
  const crops: CropRect[] = [];
  for (let row = 0; row < gridRows; row++) {
    for (let col = 0; col < gridCols; col++) crops.push({ top: row * cropSize, left: col * cropSize, size: cropSize });
  }
  return { original, best, resized, padding: centredPadding(resized, best), gridRows, gridCols, crops, cropSize };
}

/** The square a multi-image prompt pads each image to (centred, mean colour), before one crop each. */
export function squarePadding(original: Size): { side: number; padding: Padding } {
  const side = Math.max(original.height, original.width);
  return { side, padding: centredPadding(original, { height: side, width: side }) };
}

/** Parses `vision_aspect_ratio` ("anyres_max_9") into the crop budget the packing pools down to. */
export function maxCropsOf(visionAspectRatio: unknown): number {
  const match = typeof visionAspectRatio === "string" ? /^anyres_max_(\d+)$/.exec(visionAspectRatio) : null;
  if (!match || Number(match[1]) < 1) {
    throw new Error(`config.json vision_aspect_ratio ${JSON.stringify(visionAspectRatio)} is not of the form "anyres_max_N"; only that form is supported.`);
  }
  return Number(match[1]);
}

/**
 * LLaVA-OneVision feature packing (pure): the rows `pack_image_features` in transformers'
 * modeling_llava_onevision.py hands to the language model, computed by direct indexing.
 *
 * anyres: the base crop's rows first; then the grid crops re-tiled into one (rows·s)×(cols·s) map,
 * the padding rows/columns the processor added cut away again (unpad), bilinearly shrunk when the
 * map is over the `anyres_max_N` budget, and an `image_newline` row after every map row.
 * One crop (multi-image prompts): its rows, then one newline.
 */
import type { Size } from "./anyres.js";

/** The unpadded and (maybe) pooled feature map of one image's grid crops. */
export interface PackLayout {
  /** Side of one crop's feature map (image_size / patch_size, 27 for SigLIP-384/14). */
  side: number;
  gridRows: number;
  gridCols: number;
  /** Window of the re-tiled map that survives unpadding. */
  top: number;
  left: number;
  unpadded: Size;
  /** Size after pooling (equal to `unpadded` when under budget). */
  pooled: Size;
  /** Rows handed to the language model: base + pooled.height × (pooled.width + 1). */
  rows: number;
}

/** Python's `a // b` for positive floats (fmod-based, then rounded as CPython does), not Math.floor(a / b). */
export function pythonFloorDiv(a: number, b: number): number {
  const mod = a % b;
  const div = (a - mod) / b;
  let floor = Math.floor(div);
  if (div - floor > 0.5) floor += 1;
  return floor;
}

/** `int(round(x, 7))` for x ≥ 0, as `unpad_image` rounds the scaled side. */
function roundSevenThenTruncate(x: number): number {
  return Math.trunc(Number(x.toFixed(7)));
}

/** Where unpadding and pooling leave the grid map of an image of `original` size (model semantics). */
export function packLayout(original: Size, gridRows: number, gridCols: number, side: number, maxCrops: number): PackLayout {
  const fullHeight = gridRows * side;
  const fullWidth = gridCols * side;
  let top = 0;
  let left = 0;
  let height = fullHeight;
  let width = fullWidth;
  if (original.width / original.height > fullWidth / fullHeight) {
    const kept = roundSevenThenTruncate(original.height * (fullWidth / original.width));
    top = Math.floor((fullHeight - kept) / 2);
    height = fullHeight - 2 * top;
  } else {
    const kept = roundSevenThenTruncate(original.width * (fullHeight / original.height));
    left = Math.floor((fullWidth - kept) / 2);
    width = fullWidth - 2 * left;
  }
  const ratio = Math.sqrt((height * width) / (maxCrops * side * side));
  // The model interpolates to int(h // ratio) × int(w // ratio) only above 1.1× the budget.
  const pooled = ratio > 1.1 ? { height: pythonFloorDiv(height, ratio), width: pythonFloorDiv(width, ratio) } : { height, width };
  const rows = side * side + pooled.height * (pooled.width + 1);
  return { side, gridRows, gridCols, top, left, unpadded: { height, width }, pooled, rows };
}

/**
 * The processor's image-token count (`_get_number_of_features` in processing_llava_onevision.py):
 * the same geometry, but its unpadding truncates without the model's round(·, 7), and its
 * budget is the literal 9 there (here `maxCrops`, 9 for anyres_max_9).
 */
export function processorTokenCount(original: Size, best: Size, cropSize: number, patchSize: number, maxCrops: number): number {
  const side = Math.floor(cropSize / patchSize);
  let height = side * Math.floor(best.height / cropSize);
  let width = side * Math.floor(best.width / cropSize);
  if (original.width / original.height > width / height) {
    const kept = Math.trunc(original.height * (width / original.width));
    height -= 2 * Math.floor((height - kept) / 2);
  } else {
    const kept = Math.trunc(original.width * (height / original.height));
    width -= 2 * Math.floor((width - kept) / 2);
  }
  let unpadded = height * width;
  let newlines = height;
  const ratio = Math.sqrt((height * width) / (maxCrops * side * side));
  if (ratio > 1.1) {
    unpadded = pythonFloorDiv(height, ratio) * pythonFloorDiv(width, ratio);
    newlines = pythonFloorDiv(height, ratio);
  }
  return unpadded + newlines + side * side;
}

/** Crop features as the vision encoder returned them: [crops, rowsPerCrop, hidden], crop 0 the base view. */
export interface CropFeatures {
  data: Float32Array;
  crops: number;
  rowsPerCrop: number;
  hidden: number;
}

/**
 * Splits off a newline row the vision encoder may already emit: side² rows per crop is the bare
 * projector output; side² + 1 means each crop ends in the newline (the export's single-crop packing).
 * Anything else is refused, since the rows could not be placed on the feature map.
 */
export function splitEmbeddedNewline(features: CropFeatures, side: number): { grid: CropFeatures; newline?: Float32Array } {
  const { data, crops, rowsPerCrop, hidden } = features;
  if (data.length !== crops * rowsPerCrop * hidden) {
    throw new Error(`Vision features hold ${data.length} values, not ${crops} crops × ${rowsPerCrop} rows × ${hidden}.`);
  }
  const square = side * side;
  if (rowsPerCrop === square) return { grid: features };
  if (rowsPerCrop !== square + 1) {
    throw new Error(`The vision encoder returned ${rowsPerCrop} rows per crop; expected ${square} (${side}×${side}) or ${square + 1} (with a newline row).`);
  }
  const newline = data.slice(square * hidden, rowsPerCrop * hidden);
  const grid = new Float32Array(crops * square * hidden);
  for (let crop = 0; crop < crops; crop++) {
    const start = crop * rowsPerCrop * hidden;
    grid.set(data.subarray(start, start + square * hidden), crop * square * hidden);
    for (let i = 0; i < hidden; i++) {
      if (data[start + square * hidden + i] !== newline[i]) {
        throw new Error(`Crop ${crop}'s extra row differs from crop 0's, so it is not a newline row; the encoder's ${rowsPerCrop}-row layout is not understood.`);
      }
    }
  }
  return { grid: { data: grid, crops, rowsPerCrop: square, hidden }, newline };
}

function checkNewline(newline: Float32Array, hidden: number): void {
  if (newline.length !== hidden) throw new Error(`image_newline has ${newline.length} values; the features are ${hidden} wide.`);
}

/** One crop (multi-image prompts): its rows, then one newline row. */
export function packSingleCrop(features: CropFeatures, newline: Float32Array): Float32Array {
  if (features.crops !== 1) throw new Error(`A single-crop image has ${features.crops} crops.`);
  checkNewline(newline, features.hidden);
  const out = new Float32Array((features.rowsPerCrop + 1) * features.hidden);
  out.set(features.data);
  out.set(newline, features.rowsPerCrop * features.hidden);
  return out;
}

/** Base rows, then the unpadded, pooled grid map row by row, each row closed by `newline`. Returns [layout.rows, hidden]. */
export function packAnyres(features: CropFeatures, layout: PackLayout, newline: Float32Array): Float32Array {
  const { side, gridCols, top, left, unpadded, pooled } = layout;
  const { data, hidden } = features;
  const square = side * side;
  if (features.rowsPerCrop !== square) throw new Error(`Expected ${square} rows per crop, got ${features.rowsPerCrop}.`);
  if (features.crops !== 1 + layout.gridRows * gridCols) {
    throw new Error(`A ${layout.gridRows}×${gridCols} grid needs ${1 + layout.gridRows * gridCols} crops; the encoder returned ${features.crops}.`);
  }
  checkNewline(newline, hidden);
  const out = new Float32Array(layout.rows * hidden);
  out.set(data.subarray(0, square * hidden));

  // Offset of the feature at (y, x) of the re-tiled map: crop 1 + (y/side)·cols + x/side, row (y%side)·side + x%side.
  const offsetOf = (y: number, x: number): number => {
    const crop = 1 + Math.floor(y / side) * gridCols + Math.floor(x / side);
    return (crop * square + (y % side) * side + (x % side)) * hidden;
  };
  const pooling = pooled.height !== unpadded.height || pooled.width !== unpadded.width;
  const ys = pooling ? bilinearTaps(unpadded.height, pooled.height) : undefined;
  const xs = pooling ? bilinearTaps(unpadded.width, pooled.width) : undefined;
  let at = square * hidden;
  for (let y = 0; y < pooled.height; y++) {
    for (let x = 0; x < pooled.width; x++, at += hidden) {
      if (!ys || !xs) {
        out.set(data.subarray(offsetOf(top + y, left + x), offsetOf(top + y, left + x) + hidden), at);
        continue;
      }
      const a = offsetOf(top + ys.low[y], left + xs.low[x]);
      const b = offsetOf(top + ys.low[y], left + xs.high[x]);
      const c = offsetOf(top + ys.high[y], left + xs.low[x]);
      const d = offsetOf(top + ys.high[y], left + xs.high[x]);
      const wy = ys.weight[y];
      const wx = xs.weight[x];
      for (let i = 0; i < hidden; i++) {
        const upper = (1 - wx) * data[a + i] + wx * data[b + i];
        const lower = (1 - wx) * data[c + i] + wx * data[d + i];
        out[at + i] = (1 - wy) * upper + wy * lower;
      }
    }
    out.set(newline, at);
    at += hidden;
  }
  return out;
}

/**
 * Source taps of a bilinear resize from `input` to `output` samples with half-pixel centres and no
 * corner alignment (torch's `interpolate(mode="bilinear")` default): src = (dst + ½)·in/out − ½, clamped at 0.
 */
export function bilinearTaps(input: number, output: number): { low: Int32Array; high: Int32Array; weight: Float32Array } {
  const low = new Int32Array(output);
  const high = new Int32Array(output);
  const weight = new Float32Array(output);
  const scale = Math.fround(input / output);
  for (let i = 0; i < output; i++) {
    const source = Math.max(Math.fround(scale * (i + 0.5) - 0.5), 0);
    low[i] = Math.trunc(source);
    high[i] = low[i] + (low[i] < input - 1 ? 1 : 0);
    weight[i] = source - low[i];
  }
  return { low, high, weight };
}

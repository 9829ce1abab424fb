import { describe, expect, it } from "vitest";
import { maxCropsOf, parsePinpoints, planAnyres, selectBestResolution, type Size } from "../../src/model/families/llava_onevision/anyres.js";
import {
  bilinearTaps,
  packAnyres,
  packLayout,
  packSingleCrop,
  processorTokenCount,
  pythonFloorDiv,
  splitEmbeddedNewline,
  type CropFeatures,
} from "../../src/model/families/llava_onevision/packing.js";
import { Tensor, packImageFeatures, selectBestResolution as oracleSelect, type OracleConfig } from "./python-oracle.js";

const CROP = 384;
const PATCH = 14;
const SIDE = 27;
const STEPS = [384, 768, 1152, 1536, 1920, 2304];
/** The published config's pinpoints: every (h, w) pair of the six steps, h-major as in the config. */
const PINPOINTS_RAW = STEPS.flatMap((h) => STEPS.map((w) => [h, w]));
const PINPOINTS = parsePinpoints(PINPOINTS_RAW, CROP);
const ORACLE: OracleConfig = {
  imageSize: CROP,
  patchSize: PATCH,
  gridPinpoints: PINPOINTS_RAW as [number, number][],
  visionAspectRatio: "anyres_max_9",
};

/** Deterministic, position-dependent features so that any misplaced row shows. */
function cropFeatures(crops: number, rowsPerCrop: number, hidden: number): CropFeatures {
  const data = new Float32Array(crops * rowsPerCrop * hidden);
  for (let i = 0; i < data.length; i++) data[i] = Math.fround(Math.sin(i * 0.7311 + 0.3) * 2);
  return { data, crops, rowsPerCrop, hidden };
}

function newlineOf(hidden: number): Float32Array {
  return Float32Array.from({ length: hidden }, (_, i) => 100 + i);
}

function packBoth(size: Size, hidden: number) {
  const plan = planAnyres(size, PINPOINTS, CROP);
  const features = cropFeatures(1 + plan.crops.length, SIDE * SIDE, hidden);
  const newline = newlineOf(hidden);
  const layout = packLayout(size, plan.gridRows, plan.gridCols, SIDE, 9);
  const ours = packAnyres(features, layout, newline);
  const oracle = packImageFeatures(
    Tensor.from([features.crops, features.rowsPerCrop, hidden], features.data),
    [size.height, size.width],
    Tensor.from([hidden], newline),
    ORACLE,
  );
  return { plan, layout, ours, oracle };
}

function maxDifference(a: Float32Array, b: Float64Array): number {
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i] - b[i]));
  return max;
}

describe("select_best_resolution and the crop plan", () => {
  it("picks the pinpoint the Python rule picks (hand-checked cases)", () => {
    // 480×640: at 768², scale 1.2 → 576×768 keeps all 307200 px with the least waste.
    expect(selectBestResolution({ height: 480, width: 640 }, PINPOINTS)).toEqual({ height: 768, width: 768 });
    // 1080×1920: 1152×1920 is the smallest canvas holding every original pixel at scale 1.
    expect(selectBestResolution({ height: 1080, width: 1920 }, PINPOINTS)).toEqual({ height: 1152, width: 1920 });
    expect(selectBestResolution({ height: 384, width: 384 }, PINPOINTS)).toEqual({ height: 384, width: 384 });
    expect(selectBestResolution({ height: 100, width: 3000 }, PINPOINTS)).toEqual({ height: 384, width: 2304 });
  });

  it("agrees with the oracle transcription on many sizes", () => {
    for (let h = 17; h < 2600; h += 97) {
      for (let w = 23; w < 2600; w += 131) {
        const ours = selectBestResolution({ height: h, width: w }, PINPOINTS);
        expect([ours.height, ours.width]).toEqual(oracleSelect([h, w], ORACLE.gridPinpoints));
      }
    }
  });

  it("resizes keeping aspect, pads centred and cuts row-major crops", () => {
    const plan = planAnyres({ height: 480, width: 640 }, PINPOINTS, CROP);
    expect(plan.resized).toEqual({ height: 576, width: 768 });
    expect(plan.padding).toEqual({ top: 96, bottom: 96, left: 0, right: 0 });
    expect([plan.gridRows, plan.gridCols]).toEqual([2, 2]);
    expect(plan.crops.map((c) => [c.top, c.left])).toEqual([
      [0, 0],
      [0, 384],
      [384, 0],
      [384, 384],
    ]);
    // 899×1024 → 1152²: scale min(1152/1024, 1152/899) = 1.125 → width 1152, height ceil(1011.375) = 1012, pad 70 / 70.
    const odd = planAnyres({ height: 899, width: 1024 }, PINPOINTS, CROP);
    expect(odd.resized).toEqual({ height: 1012, width: 1152 });
    expect(odd.padding).toEqual({ top: 70, bottom: 70, left: 0, right: 0 });
    // An odd remainder goes after: 1152 − 1011 = 141 → 70 above, 71 below.
    expect(planAnyres({ height: 1011, width: 1152 }, PINPOINTS, CROP).padding).toEqual({ top: 70, bottom: 71, left: 0, right: 0 });
  });

  it("refuses malformed pinpoints and aspect-ratio strings with a message naming the field", () => {
    expect(() => parsePinpoints([[384, 400]], CROP)).toThrow(/image_grid_pinpoints\[0\].*multiple of the 384/);
    expect(() => parsePinpoints("384x384", CROP)).toThrow(/non-empty list/);
    expect(maxCropsOf("anyres_max_9")).toBe(9);
    expect(() => maxCropsOf("anyres")).toThrow(/vision_aspect_ratio/);
  });
});

describe("token counts: the issue's table, the processor formula and the packing", () => {
  // (h, w) → crops incl. the base view, tokens; from the issue, re-derived by hand for 384² and 480×640.
  const table: [number, number, number, number][] = [
    [384, 384, 2, 1485], // 729 base + 27×27 map + 27 newlines
    [480, 640, 5, 2929], // 54×54 map, unpad to 40 rows (pad 7 each side): 729 + 40×55
    [899, 1024, 10, 6551],
    [1080, 1920, 16, 7269],
    [2304, 2304, 37, 7371],
  ];
  for (const [height, width, crops, tokens] of table) {
    it(`${height}×${width} → ${crops} crops, ${tokens} tokens (processor, packing and oracle)`, () => {
      const size = { height, width };
      const plan = planAnyres(size, PINPOINTS, CROP);
      expect(1 + plan.crops.length).toBe(crops);
      expect(processorTokenCount(size, plan.best, CROP, PATCH, 9)).toBe(tokens);
      const { layout, ours, oracle } = packBoth(size, 2);
      expect(layout.rows).toBe(tokens);
      expect(oracle.shape).toEqual([tokens, 2]);
      expect(ours.length).toBe(tokens * 2);
      expect(maxDifference(ours, oracle.data)).toBeLessThan(1e-4);
    });
  }

  it("369×820: the old processor's truncation and the model's round(·, 7) differ (transformers #34625/#35775)", () => {
    // Grid 1×3 (384×1152), map 27×81. 820 · (27/369) is 60 exactly but 59.999… in floating point:
    // the processor truncates to 59 → padding 11 → 59 columns → 729 + 27·60 = 2349 tokens;
    // the model rounds to 60 → padding (81 − 60) // 2 = 10 → 61 columns → 729 + 27·62 = 2403 rows.
    const size = { height: 369, width: 820 };
    const plan = planAnyres(size, PINPOINTS, CROP);
    expect(plan.best).toEqual({ height: 384, width: 1152 });
    expect(processorTokenCount(size, plan.best, CROP, PATCH, 9)).toBe(2349);
    const { layout, ours, oracle } = packBoth(size, 1);
    expect(layout.unpadded).toEqual({ height: 27, width: 61 });
    expect(layout.rows).toBe(2403);
    expect(oracle.shape[0]).toBe(2403);
    expect(maxDifference(ours, oracle.data)).toBe(0);
  });
});

describe("packing equals pack_image_features", () => {
  it("places every row as the oracle does on hand-checked grids (no pooling)", () => {
    // 1×2 grid, wide image: the map is 27×54 and unpadding removes rows top and bottom.
    for (const size of [
      { height: 300, width: 700 },
      { height: 700, width: 300 },
      { height: 384, width: 384 },
      { height: 480, width: 640 },
    ]) {
      const { layout, ours, oracle } = packBoth(size, 3);
      expect(ours.length).toBe(oracle.data.length);
      expect(maxDifference(ours, oracle.data)).toBe(0);
      expect(layout.pooled).toEqual(layout.unpadded);
    }
  });

  it("hand-checked 300×700: 1×2 grid, 27×54 map unpadded to rows 1..25", () => {
    const layout = packLayout({ height: 300, width: 700 }, 1, 2, SIDE, 9);
    // 300 · 54/700 = 23.14 → 23 rows kept, padding (27 − 23) // 2 = 2 each side → 23 rows.
    expect(layout.unpadded).toEqual({ height: 23, width: 54 });
    expect(layout.top).toBe(2);
    expect(layout.rows).toBe(729 + 23 * 55);
  });

  it("pools bilinearly over the anyres_max_9 budget, as the oracle", () => {
    for (const size of [
      { height: 1080, width: 1920 },
      { height: 2304, width: 2304 },
      { height: 1200, width: 1600 },
      { height: 2200, width: 900 },
    ]) {
      const { layout, ours, oracle } = packBoth(size, 2);
      expect(layout.pooled.height * layout.pooled.width).toBeLessThan(layout.unpadded.height * layout.unpadded.width);
      // Tap positions in float32 (as torch's CPU kernel computes them) against the oracle's float64.
      expect(maxDifference(ours, oracle.data)).toBeLessThan(1e-4);
    }
  });

  it("puts a newline after every map row and the base rows first", () => {
    const hidden = 2;
    const { layout, ours } = packBoth({ height: 480, width: 640 }, hidden);
    const features = cropFeatures(5, SIDE * SIDE, hidden);
    expect(Array.from(ours.subarray(0, SIDE * SIDE * hidden))).toEqual(Array.from(features.data.subarray(0, SIDE * SIDE * hidden)));
    const rowWidth = layout.pooled.width + 1;
    for (let y = 0; y < layout.pooled.height; y++) {
      const at = (SIDE * SIDE + y * rowWidth + layout.pooled.width) * hidden;
      expect(Array.from(ours.subarray(at, at + hidden))).toEqual([100, 101]);
    }
  });

  it("a single crop gets its rows then one newline", () => {
    const features = cropFeatures(1, SIDE * SIDE, 2);
    const out = packSingleCrop(features, newlineOf(2));
    const oracle = packImageFeatures(Tensor.from([1, SIDE * SIDE, 2], features.data), [500, 300], Tensor.from([2], newlineOf(2)), ORACLE);
    expect(Array.from(out)).toEqual(Array.from(oracle.data));
  });
});

describe("vision output of 729 or 730 rows per crop", () => {
  it("keeps 729-row crops as they are", () => {
    const features = cropFeatures(3, SIDE * SIDE, 2);
    const split = splitEmbeddedNewline(features, SIDE);
    expect(split.newline).toBeUndefined();
    expect(split.grid).toBe(features);
  });

  it("takes the 730th row as the newline when every crop ends in the same row", () => {
    const bare = cropFeatures(3, SIDE * SIDE, 2);
    const withRow = new Float32Array(3 * 730 * 2);
    for (let crop = 0; crop < 3; crop++) {
      withRow.set(bare.data.subarray(crop * 729 * 2, (crop + 1) * 729 * 2), crop * 730 * 2);
      withRow.set([7, 8], (crop * 730 + 729) * 2);
    }
    const split = splitEmbeddedNewline({ data: withRow, crops: 3, rowsPerCrop: 730, hidden: 2 }, SIDE);
    expect(Array.from(split.newline!)).toEqual([7, 8]);
    expect(Array.from(split.grid.data)).toEqual(Array.from(bare.data));
    withRow[(2 * 730 + 729) * 2] = 9;
    expect(() => splitEmbeddedNewline({ data: withRow, crops: 3, rowsPerCrop: 730, hidden: 2 }, SIDE)).toThrow(/not a newline row/);
  });

  it("refuses other row counts with the expected ones in the message", () => {
    expect(() => splitEmbeddedNewline(cropFeatures(1, 728, 2), SIDE)).toThrow(/728 rows per crop; expected 729 .* or 730/);
  });
});

describe("numeric helpers", () => {
  it("floor division follows Python for floats", () => {
    expect(pythonFloorDiv(54, 1.5)).toBe(36);
    expect(pythonFloorDiv(7, 2)).toBe(3);
    expect(pythonFloorDiv(1, 0.1)).toBe(9); // Python: 1 // 0.1 == 9.0, while Math.floor(1 / 0.1) is 10
  });

  it("bilinear taps use half-pixel centres and clamp at the edges", () => {
    const taps = bilinearTaps(4, 2);
    expect(Array.from(taps.low)).toEqual([0, 2]);
    expect(Array.from(taps.weight)).toEqual([0.5, 0.5]);
    const up = bilinearTaps(2, 4);
    expect(Array.from(up.low)).toEqual([0, 0, 0, 1]);
    expect(Array.from(up.high)).toEqual([1, 1, 1, 1]);
    expect(Array.from(up.weight)).toEqual([0, 0.25, 0.75, 0.25]); // the first tap clamps at 0 instead of weighting −0.25
  });
});

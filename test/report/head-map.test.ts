import sharp from "sharp";
import { describe, expect, it } from "vitest";
import { headMapLayout, renderHeadMap, scoreColour } from "../../src/report/head-map.js";

const layers = 6;
const heads = 4;
const scores = Array.from({ length: layers * heads }, (_, i) => (i % 7) / 6);
const selected = [
  { layer: 2, head: 1 },
  { layer: 5, head: 3 },
];

async function pixels(png: Buffer): Promise<{ data: Buffer; width: number; height: number }> {
  const { data, info } = await sharp(png).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height };
}

function rgbAt(image: { data: Buffer; width: number }, x: number, y: number): [number, number, number] {
  const i = (Math.round(y) * image.width + Math.round(x)) * 3;
  return [image.data[i]!, image.data[i + 1]!, image.data[i + 2]!];
}

function hex(colour: string): [number, number, number] {
  return [1, 3, 5].map((p) => parseInt(colour.slice(p, p + 2), 16)) as [number, number, number];
}

function near(a: number[], b: number[], tolerance = 6): boolean {
  return a.every((v, i) => Math.abs(v - b[i]!) <= tolerance);
}

describe("head map", () => {
  it("decodes as a PNG of the stated size", async () => {
    const { png, layout } = await renderHeadMap({ layers, heads, scores, selected, curve: [{ heads: 1, accuracy: 0.5 }] });
    const meta = await sharp(png).metadata();
    expect(meta.format).toBe("png");
    expect([meta.width, meta.height]).toEqual([layout.width, layout.height]);
    expect(layout).toEqual(headMapLayout(layers, heads));
  });

  it("outlines selected cells in red, leaves others unoutlined, and colours each cell by its score", async () => {
    const { png, layout } = await renderHeadMap({ layers, heads, scores, selected });
    const image = await pixels(png);
    const { cell, gridLeft, gridTop, outline } = layout;
    const red: [number, number, number] = [255, 0, 0];
    for (let layer = 0; layer < layers; layer++) {
      for (let head = 0; head < heads; head++) {
        const left = gridLeft + layer * cell;
        const top = gridTop + head * cell;
        const edge = rgbAt(image, left + outline / 2, top + cell / 2);
        const centre = rgbAt(image, left + cell / 2, top + cell / 2);
        const isSelected = selected.some((s) => s.layer === layer && s.head === head);
        expect(near(edge, red), `edge of (${layer}, ${head})`).toBe(isSelected);
        expect(near(centre, hex(scoreColour(scores[layer * heads + head]!))), `centre of (${layer}, ${head})`).toBe(true);
      }
    }
  });

  it("the colour scale runs from dark (0) to bright (1) and never reaches the outline red", () => {
    const brightness = (c: string): number => hex(c).reduce((a, b) => a + b, 0);
    expect(brightness(scoreColour(1))).toBeGreaterThan(brightness(scoreColour(0)));
    for (let s = 0; s <= 1; s += 0.05) expect(near(hex(scoreColour(s)), [255, 0, 0], 60)).toBe(false);
  });

  it("rejects scores that do not match the grid and heads outside it", async () => {
    await expect(renderHeadMap({ layers, heads, scores: [0.5], selected })).rejects.toThrow(/24 scores/);
    await expect(renderHeadMap({ layers, heads, scores, selected: [{ layer: 6, head: 0 }] })).rejects.toThrow(/outside/);
  });
});

/**
 * The head map: a PNG of layers × heads coloured by each head's score, the selected heads outlined, axes
 * labelled, a colour legend, and beside it the accuracy-vs-head-count curve. Drawn as SVG and rasterised by
 * sharp (librsvg), so no pixel code lives here. Layers run along x (left to right, 0 first), heads along y (0 at
 * the top), as in the SAVs paper's head visualisations.
 */
import sharp from "sharp";
import { z } from "zod";

export const headMapInputSchema = z.object({
  layers: z.number().int().min(1),
  heads: z.number().int().min(1),
  /** Row-major [layer][head] scores in 0..1 (e.g. leave-one-out nearest-centroid accuracy of the head). */
  scores: z.array(z.number().min(0).max(1)),
  selected: z.array(z.object({ layer: z.number().int().min(0), head: z.number().int().min(0) })),
  /** Accuracy by number of heads kept; drawn when it has at least one point. */
  curve: z.array(z.object({ heads: z.number().int().min(1), accuracy: z.number().min(0).max(1) })).default([]),
  title: z.string().default("SAV head map"),
});
export type HeadMapInput = z.input<typeof headMapInputSchema>;

/** Where things are in the picture, in pixels; the test reads pixels back at these places. */
export interface HeadMapLayout {
  width: number;
  height: number;
  cell: number;
  /** Top-left corner of the grid. */
  gridLeft: number;
  gridTop: number;
  /** Width of a selected cell's outline, drawn inside the cell. */
  outline: number;
}

export interface HeadMapPicture {
  png: Buffer;
  layout: HeadMapLayout;
}

/** The outline colour is pure red, which the colour scale never produces. */
export const OUTLINE_COLOUR = "#ff0000";
const MARGIN = { left: 56, top: 60, bottom: 48 };
const LEGEND_WIDTH = 70;
const CURVE = { width: 300, height: 200, left: 56, gap: 40 };
const MAX_GRID_PIXELS = 900;

/** A perceptually ordered scale (viridis control points), low score dark blue, high score yellow. */
const SCALE = ["#440154", "#3b528b", "#21918c", "#5ec962", "#fde725"];

export function scoreColour(score: number): string {
  const t = Math.min(1, Math.max(0, score)) * (SCALE.length - 1);
  const i = Math.min(SCALE.length - 2, Math.floor(t));
  const f = t - i;
  const parse = (hex: string): number[] => [1, 3, 5].map((p) => parseInt(hex.slice(p, p + 2), 16));
  const [a, b] = [parse(SCALE[i]!), parse(SCALE[i + 1]!)];
  const mixed = a!.map((v, c) => Math.round(v + (b![c]! - v) * f));
  return `#${mixed.map((v) => v.toString(16).padStart(2, "0")).join("")}`;
}

export function headMapLayout(layers: number, heads: number): HeadMapLayout {
  const cell = Math.max(6, Math.min(24, Math.floor(MAX_GRID_PIXELS / Math.max(layers, heads))));
  const gridWidth = layers * cell;
  const gridHeight = heads * cell;
  const width = MARGIN.left + gridWidth + LEGEND_WIDTH + CURVE.left + CURVE.width + 20;
  const height = MARGIN.top + Math.max(gridHeight, CURVE.height) + MARGIN.bottom;
  return { width, height, cell, gridLeft: MARGIN.left, gridTop: MARGIN.top, outline: Math.max(2, Math.round(cell / 6)) };
}

function escapeXml(text: string): string {
  return text.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function tickLabels(count: number): number[] {
  const step = count <= 10 ? 1 : count <= 40 ? 5 : 10;
  return Array.from({ length: count }, (_, i) => i).filter((i) => i % step === 0);
}

function curveSvg(curve: { heads: number; accuracy: number }[], left: number, top: number): string {
  const { width, height } = CURVE;
  const maxHeads = Math.max(...curve.map((p) => p.heads), 2);
  const x = (heads: number): number => left + (Math.log(heads) / Math.log(maxHeads)) * width;
  const y = (accuracy: number): number => top + (1 - accuracy) * height;
  const points = curve.map((p) => `${x(p.heads).toFixed(1)},${y(p.accuracy).toFixed(1)}`).join(" ");
  const parts = [
    `<rect x="${left}" y="${top}" width="${width}" height="${height}" fill="none" stroke="#888"/>`,
    `<polyline points="${points}" fill="none" stroke="#1f77b4" stroke-width="2"/>`,
    ...curve.map(
      (p) =>
        `<circle cx="${x(p.heads).toFixed(1)}" cy="${y(p.accuracy).toFixed(1)}" r="3" fill="#1f77b4"/>` +
        `<text x="${x(p.heads).toFixed(1)}" y="${top + height + 14}" font-size="10" text-anchor="middle">${p.heads}</text>`,
    ),
    ...[0, 0.5, 1].map(
      (a) => `<text x="${left - 6}" y="${y(a) + 4}" font-size="10" text-anchor="end">${a.toFixed(1)}</text>`,
    ),
    `<text x="${left + width / 2}" y="${top + height + 32}" font-size="12" text-anchor="middle">heads kept (log scale)</text>`,
    `<text x="${left - 40}" y="${top + height / 2}" font-size="12" text-anchor="middle" ` +
      `transform="rotate(-90 ${left - 40} ${top + height / 2})">accuracy</text>`,
    `<text x="${left}" y="${top - 10}" font-size="12">accuracy vs number of heads</text>`,
  ];
  return parts.join("\n");
}

/** The SVG source of the head map (exposed for debugging; `renderHeadMap` rasterises it). */
export function headMapSvg(input: HeadMapInput): { svg: string; layout: HeadMapLayout } {
  const { layers, heads, scores, selected, curve, title } = headMapInputSchema.parse(input);
  if (scores.length !== layers * heads) {
    throw new Error(`the head map needs ${layers * heads} scores (layers × heads); got ${scores.length}`);
  }
  for (const s of selected) {
    if (s.layer >= layers || s.head >= heads) {
      throw new Error(`selected head (${s.layer}, ${s.head}) is outside ${layers} layers × ${heads} heads`);
    }
  }
  const layout = headMapLayout(layers, heads);
  const { cell, gridLeft, gridTop, outline } = layout;
  const parts: string[] = [`<rect width="100%" height="100%" fill="#ffffff"/>`];
  parts.push(`<text x="${gridLeft}" y="20" font-size="14" font-weight="bold">${escapeXml(title)}</text>`);
  for (let layer = 0; layer < layers; layer++) {
    for (let head = 0; head < heads; head++) {
      const colour = scoreColour(scores[layer * heads + head]!);
      parts.push(
        `<rect x="${gridLeft + layer * cell}" y="${gridTop + head * cell}" width="${cell}" height="${cell}" fill="${colour}"/>`,
      );
    }
  }
  for (const { layer, head } of selected) {
    const inset = outline / 2;
    parts.push(
      `<rect x="${gridLeft + layer * cell + inset}" y="${gridTop + head * cell + inset}" width="${cell - outline}" ` +
        `height="${cell - outline}" fill="none" stroke="${OUTLINE_COLOUR}" stroke-width="${outline}"/>`,
    );
  }
  const gridBottom = gridTop + heads * cell;
  for (const layer of tickLabels(layers)) {
    parts.push(
      `<text x="${gridLeft + layer * cell + cell / 2}" y="${gridBottom + 14}" font-size="10" text-anchor="middle">${layer}</text>`,
    );
  }
  for (const head of tickLabels(heads)) {
    parts.push(
      `<text x="${gridLeft - 6}" y="${gridTop + head * cell + cell / 2 + 4}" font-size="10" text-anchor="end">${head}</text>`,
    );
  }
  parts.push(
    `<text x="${gridLeft + (layers * cell) / 2}" y="${gridBottom + 32}" font-size="12" text-anchor="middle">layer</text>`,
    `<text x="16" y="${gridTop + (heads * cell) / 2}" font-size="12" text-anchor="middle" ` +
      `transform="rotate(-90 16 ${gridTop + (heads * cell) / 2})">head</text>`,
  );
  // Legend: a vertical gradient from score 1 (top) to 0 (bottom), and a sample of the outline.
  const legendLeft = gridLeft + layers * cell + 16;
  const legendHeight = Math.max(60, Math.min(heads * cell, 160));
  // Stops must ascend in offset, so the scale is walked from its top (score 1) down.
  const stops = [...SCALE]
    .reverse()
    .map((colour, i) => `<stop offset="${(i / (SCALE.length - 1)).toFixed(2)}" stop-color="${colour}"/>`)
    .join("");
  parts.push(
    `<defs><linearGradient id="scale" x1="0" y1="0" x2="0" y2="1">${stops}</linearGradient></defs>`,
    `<rect x="${legendLeft}" y="${gridTop}" width="12" height="${legendHeight}" fill="url(#scale)"/>`,
    `<text x="${legendLeft + 16}" y="${gridTop + 8}" font-size="10">1.0</text>`,
    `<text x="${legendLeft + 16}" y="${gridTop + legendHeight}" font-size="10">0.0</text>`,
    `<text x="${legendLeft}" y="${gridTop - 6}" font-size="10">score</text>`,
    `<rect x="${legendLeft}" y="${gridTop + legendHeight + 12}" width="12" height="12" fill="none" ` +
      `stroke="${OUTLINE_COLOUR}" stroke-width="2"/>`,
    `<text x="${legendLeft + 16}" y="${gridTop + legendHeight + 22}" font-size="10">selected</text>`,
  );
  if (curve.length > 0) {
    parts.push(curveSvg([...curve].sort((a, b) => a.heads - b.heads), legendLeft + LEGEND_WIDTH + CURVE.left - 16, gridTop));
  }
  const svg =
    `<svg xmlns="http://www.w3.org/2000/svg" width="${layout.width}" height="${layout.height}" ` +
    `font-family="DejaVu Sans, Arial, sans-serif">\n${parts.join("\n")}\n</svg>`;
  return { svg, layout };
}

/** Renders the head map to PNG. */
export async function renderHeadMap(input: HeadMapInput): Promise<HeadMapPicture> {
  const { svg, layout } = headMapSvg(input);
  const png = await sharp(Buffer.from(svg)).png().toBuffer();
  return { png, layout };
}

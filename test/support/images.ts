import fs from "node:fs/promises";
import path from "node:path";
import sharp from "sharp";
import { seededRandom } from "./store-fixtures.js";

export type Shape = "red-circle" | "blue-square";

/** A small PNG of a red circle or a blue square on a light background, placed and sized by the seed. */
export async function shapeImage(shape: Shape, seed: number, size = 64): Promise<Buffer> {
  const random = seededRandom(seed * 7919 + (shape === "red-circle" ? 1 : 2));
  const extent = size * (0.35 + random() * 0.25);
  const x = random() * (size - extent);
  const y = random() * (size - extent);
  const background = `rgb(${230 + Math.floor(random() * 20)},${230 + Math.floor(random() * 20)},${225 + Math.floor(random() * 25)})`;
  const figure =
    shape === "red-circle"
      ? `<circle cx="${x + extent / 2}" cy="${y + extent / 2}" r="${extent / 2}" fill="rgb(${200 + Math.floor(random() * 55)},20,30)"/>`
      : `<rect x="${x}" y="${y}" width="${extent}" height="${extent}" fill="rgb(20,40,${200 + Math.floor(random() * 55)})"/>`;
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${size}" height="${size}"><rect width="100%" height="100%" fill="${background}"/>${figure}</svg>`;
  return sharp(Buffer.from(svg)).png().toBuffer();
}

/** Writes `count` images of each shape into `dir` and returns their paths by shape. */
export async function writeShapeImages(dir: string, count: number, firstSeed = 0): Promise<Record<Shape, string[]>> {
  await fs.mkdir(dir, { recursive: true });
  const result: Record<Shape, string[]> = { "red-circle": [], "blue-square": [] };
  for (const shape of ["red-circle", "blue-square"] as const) {
    for (let i = 0; i < count; i++) {
      const file = path.join(dir, `${shape}-${firstSeed + i}.png`);
      await fs.writeFile(file, await shapeImage(shape, firstSeed + i));
      result[shape].push(file);
    }
  }
  return result;
}

/** Random noise as PNG: compresses badly, so its file size is about width * height * 3 bytes. */
export async function noiseImage(width: number, height: number, seed = 1): Promise<Buffer> {
  const random = seededRandom(seed);
  const pixels = Buffer.alloc(width * height * 3);
  for (let i = 0; i < pixels.length; i++) pixels[i] = Math.floor(random() * 256);
  return sharp(pixels, { raw: { width, height, channels: 3 } }).png({ compressionLevel: 0 }).toBuffer();
}

/** A plain LCG in [0, 1): reproducible variety for the synthetic classes below. */
export function lcgRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => (state = (Math.imul(state, 1664525) + 1013904223) >>> 0) / 2 ** 32;
}

const DRAWN: Record<string, (x: number, y: number, r: number) => string> = {
  "red circle": (x, y, r) => `<circle cx="${x}" cy="${y}" r="${r}" fill="#d22"/>`,
  "blue square": (x, y, r) => `<rect x="${x - r}" y="${y - r}" width="${2 * r}" height="${2 * r}" fill="#23c"/>`,
  "green triangle": (x, y, r) => `<polygon points="${x},${y - r} ${x - r},${y + r} ${x + r},${y + r}" fill="#2a3"/>`,
  "yellow bar": (x, y, r) => `<rect x="${x - r}" y="${y - r / 3}" width="${2 * r}" height="${(2 * r) / 3}" fill="#ec2"/>`,
};
/** Four synthetic classes a frozen model's heads can tell apart: colour and shape. */
export const DRAWN_CLASSES = Object.keys(DRAWN);

/** A shape of the class's colour at a random place and size (radius minRadius + up to spread) on a random grey background. */
export function drawnShape(label: string, rng: () => number, size: number, minRadius: number, spread: number): Promise<Buffer> {
  const r = minRadius + rng() * spread;
  const x = r + rng() * (size - 2 * r);
  const y = r + rng() * (size - 2 * r);
  const grey = Math.round(200 + rng() * 40);
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${size}" height="${size}"><rect width="${size}" height="${size}" fill="rgb(${grey},${grey},${grey})"/>${DRAWN[label]!(x, y, r)}</svg>`;
  return sharp(Buffer.from(svg)).png().toBuffer();
}

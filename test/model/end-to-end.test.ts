import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ModelRunner } from "../../src/model/runner.js";
import { crossValidate, type LabelledVector } from "../../src/sav/index.js";
import { tinyModelDir } from "./paths.js";

function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

const CLASSES: Record<string, (x: number, y: number, r: number) => string> = {
  "red circle": (x, y, r) => `<circle cx="${x}" cy="${y}" r="${r}" fill="#d22"/>`,
  "blue square": (x, y, r) => `<rect x="${x - r}" y="${y - r}" width="${2 * r}" height="${2 * r}" fill="#23c"/>`,
  "green triangle": (x, y, r) => `<polygon points="${x},${y - r} ${x - r},${y + r} ${x + r},${y + r}" fill="#2a3"/>`,
  "yellow bar": (x, y, r) => `<rect x="${x - r}" y="${y - r / 3}" width="${2 * r}" height="${(2 * r) / 3}" fill="#ec2"/>`,
};

/** A shape of the class's colour at a random place and size on a random grey background. */
function drawing(label: string, rng: () => number): Promise<Buffer> {
  const size = 96;
  const r = 24 + rng() * 12;
  const x = r + rng() * (size - 2 * r);
  const y = r + rng() * (size - 2 * r);
  const grey = Math.round(200 + rng() * 40);
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${size}" height="${size}"><rect width="${size}" height="${size}" fill="rgb(${grey},${grey},${grey})"/>${CLASSES[label](x, y, r)}</svg>`;
  return sharp(Buffer.from(svg)).png().toBuffer();
}

describe("SAV on the tiny model: the pixels reach the heads", () => {
  let runner: ModelRunner;
  beforeAll(async () => {
    runner = await ModelRunner.create({ id: "tiny-smolvlm", dir: tinyModelDir }, { threads: 2 });
  });
  afterAll(() => runner?.close());

  it("reaches at least 90% leave-one-out accuracy on 4 synthetic classes × 10 images", async () => {
    const rng = random(42);
    const examples: LabelledVector[] = [];
    for (const label of Object.keys(CLASSES)) {
      for (let i = 0; i < 10; i++) {
        const { vectors } = await runner.extract({ images: [await drawing(label, rng)], text: "What is drawn in this image?" });
        examples.push({ vector: vectors, label });
      }
    }
    const report = crossValidate(examples, runner.info.shape, { k: 20 });
    expect(report.total).toBe(40);
    expect(report.accuracy).toBeGreaterThanOrEqual(0.9);
  });
});

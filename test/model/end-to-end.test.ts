import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ModelRunner } from "../../src/model/runner.js";
import { crossValidate, type LabelledVector } from "../../src/sav/index.js";
import { DRAWN_CLASSES, drawnShape, lcgRandom } from "../support/images.js";
import { tinyModelDir } from "./paths.js";

const drawing = (label: string, rng: () => number): Promise<Buffer> => drawnShape(label, rng, 96, 24, 12);

describe("SAV on the tiny model: the pixels reach the heads", () => {
  let runner: ModelRunner;
  beforeAll(async () => {
    runner = await ModelRunner.create({ id: "tiny-smolvlm", dir: tinyModelDir }, { threads: 2 });
  });
  afterAll(() => runner?.close());

  it("reaches at least 90% leave-one-out accuracy on 4 synthetic classes × 10 images", async () => {
    const rng = lcgRandom(42);
    const examples: LabelledVector[] = [];
    for (const label of DRAWN_CLASSES) {
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

/**
 * SAV end to end through the MCP tools on tiny-llava-onevision, on both image paths: create a task, add
 * synthetic red-circle / blue-square examples, evaluate by leave-one-out (≥ 90%), classify new images.
 */
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TINY_LLAVA_ONEVISION_ID } from "../../src/model/families/llava_onevision/tiny/index.js";
import { writeShapeImages } from "../support/images.js";
import { call, callOk, startHarness, textOf, type Harness } from "../support/mcp-harness.js";
import { makeTempDir } from "../support/temp-dir.js";

interface Evaluation {
  accuracy: number;
  total: number;
  folds: string | number;
}
interface Classified {
  results: { label: string }[];
}

let temp: ReturnType<typeof makeTempDir>;
let imagesDir: string;
let train: Awaited<ReturnType<typeof writeShapeImages>>;
let query: Awaited<ReturnType<typeof writeShapeImages>>;

beforeAll(async () => {
  temp = makeTempDir();
  imagesDir = path.join(temp.dir, "images");
  // 64×64 images: the anyres path gives pinpoint 384² → base + 1 crop → 729 + 27 × 28 = 1485 rows each; single 729.
  train = await writeShapeImages(path.join(imagesDir, "train"), 6);
  query = await writeShapeImages(path.join(imagesDir, "query"), 2, 200);
});
afterAll(() => temp?.cleanup());

describe("SAV on tiny-llava-onevision through the MCP tools", () => {
  let harness: Harness;

  beforeAll(async () => {
    harness = await startHarness({ dataDir: path.join(temp.dir, "data"), modelsDir: path.join(temp.dir, "models"), allowedDirs: [imagesDir] });
  });
  afterAll(async () => {
    await harness?.close();
  });

  for (const imagePath of ["anyres", "single"] as const) {
    it(`${imagePath} path: the task records it; leave-one-out accuracy is at least 90%; new images get the right labels`, async () => {
      const { client } = harness;
      const task = `shapes-${imagePath}`;
      const created = await callOk<{ processing: Record<string, unknown> }>(client, "create_sav_task", {
        name: task,
        prompt: "What shape is in this picture? Answer circle or square.",
        labels: ["circle", "square"],
        heads: 8,
        model: TINY_LLAVA_ONEVISION_ID,
        processing: { imagePath },
      });
      expect(created.processing).toEqual({ imagePath, promptStyle: "chat_template" });
      const examples = [
        ...train["red-circle"].map((file) => ({ image: { path: file }, label: "circle" })),
        ...train["blue-square"].map((file) => ({ image: { path: file }, label: "square" })),
      ];
      await callOk(client, "add_examples", { task, examples });
      const evaluation = await callOk<Evaluation>(client, "evaluate_task", { task });
      expect(evaluation.folds).toBe("leave-one-out");
      expect(evaluation.total).toBe(12);
      process.stderr.write(`tiny-llava-onevision ${imagePath}: leave-one-out accuracy ${evaluation.accuracy}\n`);
      expect(evaluation.accuracy).toBeGreaterThanOrEqual(0.9);
      const images = [...query["red-circle"], ...query["blue-square"]].map((file) => ({ path: file }));
      const classified = await callOk<Classified>(client, "classify_image", { task, images });
      const correct = classified.results.filter((r, i) => r.label === (i < 2 ? "circle" : "square")).length;
      expect(correct).toBeGreaterThanOrEqual(3);
    });
  }

  it("an unknown image path is an error that lists the valid ones", async () => {
    const bad = await call(harness.client, "create_sav_task", { name: "bad", prompt: "Q?", model: TINY_LLAVA_ONEVISION_ID, processing: { imagePath: "tiles" } });
    expect(bad.isError).toBe(true);
    expect(textOf(bad)).toMatch(/imagePath must be "anyres" or "single"/);
  });
});

/**
 * Qwen2-VL end to end on tiny-qwen2-vl: SAV separates synthetic classes (the pixels reach the heads through
 * the vision tower, the merger and M-RoPE), and the whole MCP scenario works on it: create, add, classify
 * single and batch, evaluate, export, import.
 */
import fs from "node:fs";
import path from "node:path";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ModelRunner } from "../../../src/model/runner.js";
import { defaultTinyQwen2VLDir, ensureQwen2VLModel } from "../../../src/model/families/qwen2_vl/tiny/index.js";
import { crossValidate, type LabelledVector } from "../../../src/sav/index.js";
import { DRAWN_CLASSES, drawnShape, lcgRandom, writeShapeImages } from "../../support/images.js";
import { call, callOk, startHarness, textOf, type Harness } from "../../support/mcp-harness.js";
import { makeTempDir } from "../../support/temp-dir.js";

const MODEL_ID = "tiny-qwen2-vl";

/** A drawn shape 112×112 (16 image tokens). */
const drawing = (label: string, rng: () => number): Promise<Buffer> => drawnShape(label, rng, 112, 26, 14);

describe("SAV on tiny-qwen2-vl", () => {
  let runner: ModelRunner;
  beforeAll(async () => {
    runner = await ModelRunner.create({ id: MODEL_ID, dir: await ensureQwen2VLModel(defaultTinyQwen2VLDir()) }, { threads: 1 });
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

interface ClassifyOutput {
  heads: number;
  results: { index: number; label: string; votes: Record<string, number> }[];
}

describe("MCP scenario on tiny-qwen2-vl", () => {
  let temp: ReturnType<typeof makeTempDir>;
  let harness: Harness;
  let imagesDir: string;

  beforeAll(async () => {
    await ensureQwen2VLModel(defaultTinyQwen2VLDir());
    temp = makeTempDir();
    imagesDir = path.join(temp.dir, "images");
    harness = await startHarness({ dataDir: path.join(temp.dir, "data"), modelsDir: path.join(temp.dir, "models"), allowedDirs: [imagesDir] });
  });
  afterAll(async () => {
    await harness?.close();
    temp?.cleanup();
  });

  it("create → add → classify (single, batch) → evaluate → export → delete → import → same answers", async () => {
    const { client } = harness;
    const train = await writeShapeImages(path.join(imagesDir, "train"), 4);
    const query = await writeShapeImages(path.join(imagesDir, "query"), 2, 100);
    const queries = [query["red-circle"][0]!, query["blue-square"][0]!, query["red-circle"][1]!, query["blue-square"][1]!];
    const created = await callOk(client, "create_sav_task", { name: "qshapes", prompt: "Circle or square?", labels: ["circle", "square"], heads: 8, model: MODEL_ID });
    expect(created).toMatchObject({ name: "qshapes", exampleCount: 0, ready: false });
    expect((created as { model: unknown }).model).toMatchObject({ id: MODEL_ID, randomWeights: true });

    const examples = [
      ...train["red-circle"].map((file) => ({ image: { path: file }, label: "circle" })),
      ...train["blue-square"].map((file) => ({ image: { path: file }, label: "square" })),
    ];
    const added = await callOk<{ examplesPerLabel: Record<string, number>; ready: boolean }>(client, "add_examples", { task: "qshapes", examples });
    expect(added).toMatchObject({ examplesPerLabel: { circle: 4, square: 4 }, ready: true });

    const single = await callOk<ClassifyOutput>(client, "classify_image", { task: "qshapes", image: { path: queries[0] } });
    expect(single.results).toHaveLength(1);
    expect(single.results[0]!.votes.circle! + single.results[0]!.votes.square!).toBe(single.heads);
    const batch = await callOk<ClassifyOutput>(client, "classify_image", { task: "qshapes", images: queries.map((file) => ({ path: file })) });
    expect(batch.results.map((r) => r.index)).toEqual([0, 1, 2, 3]);
    expect(batch.results[0]!.votes).toEqual(single.results[0]!.votes);
    // Distinct shapes on tiny-qwen2-vl are told apart (the pixels reach the selected heads).
    expect(batch.results.map((r) => r.label)).toEqual(["circle", "square", "circle", "square"]);

    const evaluation = await callOk<{ total: number; accuracy: number; confusion: number[][] }>(client, "evaluate_task", { task: "qshapes" });
    expect(evaluation.total).toBe(8);
    expect(evaluation.confusion.map((row) => row.reduce((a, b) => a + b, 0))).toEqual([4, 4]);

    const exportPath = path.join(imagesDir, "qshapes.sav.json");
    expect(await callOk(client, "export_task", { task: "qshapes", path: exportPath })).toMatchObject({ exampleCount: 8 });
    expect(JSON.parse(fs.readFileSync(exportPath, "utf8")).model.id).toBe(MODEL_ID);
    await callOk(client, "delete_task", { task: "qshapes" });
    expect(textOf(await call(client, "classify_image", { task: "qshapes", image: { path: queries[0] } }))).toMatch(/Unknown task 'qshapes'/);
    expect(await callOk(client, "import_task", { path: exportPath })).toMatchObject({ name: "qshapes", exampleCount: 8, ready: true });
    const again = await callOk<ClassifyOutput>(client, "classify_image", { task: "qshapes", images: queries.map((file) => ({ path: file })) });
    expect(again.results.map((r) => [r.label, r.votes])).toEqual(batch.results.map((r) => [r.label, r.votes]));
  });

  it("a task records maxPixels: defaults filled in, a budget out of range refused with the valid range", async () => {
    const { client } = harness;
    const plain = await callOk<{ processing: Record<string, unknown> }>(client, "create_sav_task", { name: "qplain", prompt: "Q?", model: MODEL_ID });
    expect(plain.processing).toEqual({ maxPixels: 200704 });
    const small = await callOk<{ processing: Record<string, unknown> }>(client, "create_sav_task", { name: "qsmall", prompt: "Q?", model: MODEL_ID, processing: { maxPixels: 12544 } });
    expect(small.processing).toEqual({ maxPixels: 12544 });
    const bad = await call(client, "create_sav_task", { name: "qbad", prompt: "Q?", model: MODEL_ID, processing: { maxPixels: 10 } });
    expect(bad.isError).toBe(true);
    expect(textOf(bad)).toMatch(/maxPixels must be an integer from 3136 to 12845056/);
  });

  it("an image under 28 px gets an isError result that says the limit", async () => {
    const { client } = harness;
    const tiny = path.join(imagesDir, "tiny.png");
    await sharp({ create: { width: 20, height: 20, channels: 3, background: "#888" } }).png().toFile(tiny);
    const result = await call(client, "classify_image", { task: "qshapes", image: { path: tiny } });
    expect(result.isError).toBe(true);
    expect(textOf(result)).toMatch(/at least 28 pixels on each side/);
    expect(textOf(result)).not.toMatch(/Unexpected error/);
  });
});

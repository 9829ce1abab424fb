/**
 * Confidence through the MCP tools on the tiny model: classify_image's calibrated probability, abstention at
 * minConfidence, nearest examples; evaluate_task's calibration figures; the head map as image content.
 */
import path from "node:path";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TINY_MODEL_ID } from "../../src/config.js";
import { writeShapeImages } from "../support/images.js";
import { call, callOk, startHarness, type Harness } from "../support/mcp-harness.js";
import { makeTempDir } from "../support/temp-dir.js";

interface Result {
  label: string | null;
  uncertain?: boolean;
  bestGuess?: string;
  share: number;
  probability: number | null;
  nearest?: { exampleId: number; label: string; similarity: number; sources?: string[] }[];
}

describe("calibrated confidence through the tools (tiny model)", () => {
  let temp: ReturnType<typeof makeTempDir>;
  let harness: Harness;
  let images: Awaited<ReturnType<typeof writeShapeImages>>;
  let queries: Awaited<ReturnType<typeof writeShapeImages>>;

  beforeAll(async () => {
    temp = makeTempDir();
    const imagesDir = path.join(temp.dir, "images");
    images = await writeShapeImages(imagesDir, 4);
    queries = await writeShapeImages(path.join(imagesDir, "queries"), 3, 50);
    harness = await startHarness({ dataDir: path.join(temp.dir, "data"), modelsDir: path.join(temp.dir, "models"), allowedDirs: [imagesDir] });
    await callOk(harness.client, "create_sav_task", { name: "shapes", prompt: "Which shape is this?", heads: 6, model: TINY_MODEL_ID });
    const examples = (["red-circle", "blue-square"] as const).flatMap((label) => images[label].map((file) => ({ image: { path: file }, label })));
    await callOk(harness.client, "add_examples", { task: "shapes", examples });
    // Labels that mostly follow the pictures, one mislabelled per label: the classifier is right but unsure.
    await callOk(harness.client, "create_sav_task", { name: "arbitrary", prompt: "Which shape is this?", heads: 6, model: TINY_MODEL_ID });
    const arbitrary = (["red-circle", "blue-square"] as const).flatMap((shape) =>
      images[shape].map((file, i) => ({ image: { path: file }, label: (shape === "red-circle") === (i !== 0) ? "red" : "blue" })),
    );
    await callOk(harness.client, "add_examples", { task: "arbitrary", examples: arbitrary });
  });
  afterAll(async () => {
    await harness?.close();
    temp?.cleanup();
  });

  const all = () => [...queries["red-circle"], ...queries["blue-square"]].map((file) => ({ path: file }));

  it("returns a probability beside share, and abstains below minConfidence keeping the best guess", async () => {
    const plain = await callOk<{ results: Result[] }>(harness.client, "classify_image", { task: "arbitrary", images: all() });
    for (const r of plain.results) {
      expect(r.label).not.toBeNull();
      expect(r.probability).toBeGreaterThanOrEqual(0);
      expect(r.probability).toBeLessThanOrEqual(1);
      expect(r.uncertain).toBeUndefined();
    }
    const probabilities = plain.results.map((r) => r.probability!).sort((a, b) => a - b);
    const threshold = (probabilities[0]! + probabilities[probabilities.length - 1]!) / 2;
    const gated = await callOk<{ results: Result[] }>(harness.client, "classify_image", { task: "arbitrary", images: all(), minConfidence: threshold });
    gated.results.forEach((r, i) => {
      const before = plain.results[i]!;
      expect(r.probability).toBe(before.probability);
      if (before.probability! < threshold) {
        expect(r).toMatchObject({ label: null, uncertain: true, bestGuess: before.label });
      } else {
        expect(r.label).toBe(before.label);
      }
    });
    expect(probabilities[probabilities.length - 1]!).toBeGreaterThan(probabilities[0]!);
    expect(gated.results.some((r) => r.uncertain)).toBe(true);
    expect(gated.results.some((r) => !r.uncertain)).toBe(true);

    // The same threshold as the task's own minConfidence (update_task), used when a call names none.
    const updated = await callOk<{ minConfidence: number | null; changed: string[]; classifierRebuilt: boolean }>(harness.client, "update_task", {
      task: "arbitrary",
      minConfidence: threshold,
    });
    expect(updated.minConfidence).toBe(threshold);
    expect(updated.classifierRebuilt).toBe(false);
    const byTask = await callOk<{ results: Result[] }>(harness.client, "classify_image", { task: "arbitrary", images: all() });
    expect(byTask.results.map((r) => r.label)).toEqual(gated.results.map((r) => r.label));
    const overridden = await callOk<{ results: Result[] }>(harness.client, "classify_image", { task: "arbitrary", images: all(), minConfidence: 0 });
    expect(overridden.results.map((r) => r.label)).toEqual(plain.results.map((r) => r.label));
    await callOk(harness.client, "update_task", { task: "arbitrary", minConfidence: 0 });
    expect((await callOk<{ minConfidence: number | null }>(harness.client, "get_task", { task: "arbitrary" })).minConfidence).toBeNull();
  });

  it("create_sav_task records minConfidence and refuses one outside 0..1", async () => {
    const created = await callOk<{ minConfidence: number | null }>(harness.client, "create_sav_task", {
      name: "careful",
      prompt: "Which shape is this?",
      model: TINY_MODEL_ID,
      minConfidence: 0.8,
    });
    expect(created.minConfidence).toBe(0.8);
    const bad = await call(harness.client, "create_sav_task", { name: "reckless", prompt: "Which shape?", model: TINY_MODEL_ID, minConfidence: 2 });
    expect(bad.isError).toBe(true);
    expect(JSON.stringify(bad.content)).toMatch(/probability from 0 to 1/);
    // A task file carries the threshold.
    const file = path.join(temp.dir, "images", "careful.json");
    await callOk(harness.client, "export_task", { task: "careful", path: file });
    await callOk(harness.client, "import_task", { path: file, name: "careful-copy" });
    expect((await callOk<{ minConfidence: number | null }>(harness.client, "get_task", { task: "careful-copy" })).minConfidence).toBe(0.8);
  });

  it("explain: true returns the nearest stored examples with their sources, most similar first", async () => {
    const query = images["red-circle"][0]!;
    const out = await callOk<{ results: Result[] }>(harness.client, "classify_image", { task: "shapes", image: { path: query }, explain: true });
    const nearest = out.results[0]!.nearest!;
    expect(nearest).toHaveLength(3);
    // The query is itself a stored example: it is its own nearest neighbour.
    expect(nearest[0]!.sources?.[0]).toContain(path.basename(query));
    expect(nearest[0]!.similarity).toBeCloseTo(1, 4);
    for (let i = 1; i < nearest.length; i++) expect(nearest[i - 1]!.similarity).toBeGreaterThanOrEqual(nearest[i]!.similarity);
  });

  it("evaluate_task reports calibration, coverage at minConfidence and a suggestion; picture: true adds a PNG", async () => {
    const result = await call(harness.client, "evaluate_task", { task: "shapes", minConfidence: 0.5, picture: true });
    expect(result.isError).toBeFalsy();
    const out = result.structuredContent as {
      exampleCount: number;
      calibration: {
        share: { ece: number; bins: { count: number }[] };
        probability: { ece: number; bins: { count: number }[] };
        atMinConfidence: { threshold: number; coverage: number };
        suggestedMinConfidence: unknown;
      };
    };
    const c = out.calibration;
    expect(c.share.bins.reduce((s, b) => s + b.count, 0)).toBe(out.exampleCount);
    expect(c.probability.bins.reduce((s, b) => s + b.count, 0)).toBe(out.exampleCount);
    for (const ece of [c.share.ece, c.probability.ece]) expect(ece).toBeGreaterThanOrEqual(0);
    expect(c.atMinConfidence.threshold).toBe(0.5);
    expect(c.atMinConfidence.coverage).toBeGreaterThanOrEqual(0);
    const image = result.content.find((item) => item.type === "image") as { data: string; mimeType: string } | undefined;
    expect(image?.mimeType).toBe("image/png");
    expect((await sharp(Buffer.from(image!.data, "base64")).metadata()).format).toBe("png");
    const withoutPicture = await call(harness.client, "evaluate_task", { task: "shapes" });
    expect(withoutPicture.content.some((item) => item.type === "image")).toBe(false);
  });

  it("get_task returns the head map with picture: true", async () => {
    const result = await call(harness.client, "get_task", { task: "shapes", picture: true });
    expect(result.content.some((item) => item.type === "image")).toBe(true);
  });
});

import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TINY_MODEL_ID } from "../../src/config.js";
import { GatedModels } from "../support/gated-models.js";
import { writeShapeImages } from "../support/images.js";
import { callOk, startHarness, testConfig, testModels, type Harness } from "../support/mcp-harness.js";
import { makeTempDir } from "../support/temp-dir.js";

describe("classification depth", () => {
  let temp: ReturnType<typeof makeTempDir>;
  let harness: Harness;
  let models: GatedModels;
  let images: Awaited<ReturnType<typeof writeShapeImages>>;

  beforeAll(async () => {
    temp = makeTempDir();
    const imagesDir = path.join(temp.dir, "images");
    images = await writeShapeImages(imagesDir, 4);
    const dirs = { dataDir: path.join(temp.dir, "data"), modelsDir: path.join(temp.dir, "models"), allowedDirs: [imagesDir] };
    // No gate: every extraction runs at once; the wrapper only records the requests.
    models = new GatedModels(testModels(testConfig(dirs)), Number.POSITIVE_INFINITY);
    harness = await startHarness({ ...dirs, models });
  });
  afterAll(async () => {
    await harness?.close();
    await models?.close();
    temp?.cleanup();
  });

  it("extracts examples at full depth and queries only up to the deepest selected head", async () => {
    const { client } = harness;
    const requests = models.requests;
    await callOk(client, "create_sav_task", { name: "depth", prompt: "Circle or square?", model: TINY_MODEL_ID, heads: 2 });
    const examples = [
      ...images["red-circle"].slice(0, 3).map((file) => ({ image: { path: file }, label: "circle" })),
      ...images["blue-square"].slice(0, 3).map((file) => ({ image: { path: file }, label: "square" })),
    ];
    await callOk(client, "add_examples", { task: "depth", examples });
    expect(requests.map((r) => r.layers)).toEqual(new Array(6).fill(undefined));

    const task = await callOk<{ selectedHeads: { layer: number }[] }>(client, "get_task", { task: "depth" });
    const deepest = Math.max(...task.selectedHeads.map((h) => h.layer));
    requests.length = 0;
    await callOk(client, "classify_image", { task: "depth", image: { path: images["red-circle"][3] } });
    expect(requests).toHaveLength(1);
    expect(requests[0].layers).toBe(deepest + 1);
  });
});

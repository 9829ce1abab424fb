import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEFAULT_LIMITS, TINY_MODEL_ID } from "../../src/config.js";
import { writeShapeImages } from "../support/images.js";
import { call, callOk, startHarness, textOf, type Harness } from "../support/mcp-harness.js";
import { makeTempDir } from "../support/temp-dir.js";

// Shape images are 64x64 = 4096 pixels: two fit in a call, one in an example.
const limits = { maxPixelsPerCall: 2 * 4096 + 100, maxPixelsPerExample: 4096 + 100 };

describe("decoded pixels per call and per example are bounded", () => {
  let temp: ReturnType<typeof makeTempDir>;
  let harness: Harness;
  let dir: string;
  let shapes: Awaited<ReturnType<typeof writeShapeImages>>;
  let truncated: string;

  const counts = async (task: string) =>
    (await callOk<{ examplesPerLabel: Record<string, number> }>(harness.client, "get_task", { task })).examplesPerLabel;

  beforeAll(async () => {
    temp = makeTempDir();
    dir = path.join(temp.dir, "images");
    shapes = await writeShapeImages(dir, 3);
    // A PNG whose header is intact and whose pixel data is cut off: decoding it would fail as "corrupt".
    const whole = fs.readFileSync(shapes["red-circle"][2]!);
    truncated = path.join(dir, "truncated.png");
    fs.writeFileSync(truncated, whole.subarray(0, Math.floor(whole.length / 2)));
    harness = await startHarness({ dataDir: path.join(temp.dir, "data"), modelsDir: path.join(temp.dir, "models"), allowedDirs: [dir], limits });
    await callOk(harness.client, "create_sav_task", { name: "shapes", prompt: "Which shape?", labels: ["circle", "square"], model: TINY_MODEL_ID, heads: 4 });
  });
  afterAll(async () => {
    await harness?.close();
    temp?.cleanup();
  });

  it("has documented defaults that keep 2048 full-size decodes out of one call", () => {
    expect(DEFAULT_LIMITS.maxPixelsPerCall).toBe(1024 * 1024 * 1024);
    expect(DEFAULT_LIMITS.maxPixelsPerExample).toBe(256 * 1024 * 1024);
    expect(DEFAULT_LIMITS.maxPixelsPerCall).toBeLessThan(DEFAULT_LIMITS.maxExamplesPerCall * DEFAULT_LIMITS.maxImagePixels);
    expect(fs.readFileSync(path.join(__dirname, "../../docs/tools.md"), "utf8")).toMatch(/maxPixelsPerCall.*maxPixelsPerExample/s);
  });

  it("refuses an add_examples call over maxPixelsPerCall as a whole, even with skipInvalid, and stores nothing", async () => {
    const examples = [
      { image: shapes["red-circle"][0], label: "circle" },
      { image: shapes["blue-square"][0], label: "square" },
      { image: shapes["red-circle"][1], label: "circle" },
    ];
    for (const skipInvalid of [false, true]) {
      const result = await call(harness.client, "add_examples", { task: "shapes", examples, skipInvalid });
      expect(result.isError, textOf(result)).toBe(true);
      expect(textOf(result)).toMatch(/^Nothing was stored: the images of this call add up to more than 8292 pixels \(maxPixelsPerCall\), reached at example 2 \(counting from 0\)/);
      expect(textOf(result)).toMatch(/send at most 2 examples per add_examples call \(with `folder` or `manifest`: `limit: 2`, then `offset`/);
      expect(await counts("shapes")).toEqual({});
    }
    const dataset = path.join(dir, "dataset");
    for (const [label, shape] of [["circle", "red-circle"], ["square", "blue-square"]] as const) {
      fs.mkdirSync(path.join(dataset, label), { recursive: true });
      for (const file of shapes[shape]) fs.copyFileSync(file, path.join(dataset, label, path.basename(file)));
    }
    const folder = await call(harness.client, "add_examples", { task: "shapes", folder: dataset, limit: 3 });
    expect(folder.isError, textOf(folder)).toBe(true);
    expect(textOf(folder)).toMatch(/maxPixelsPerCall/);
    // Split as the message says, the same examples are accepted.
    await callOk(harness.client, "add_examples", { task: "shapes", examples: examples.slice(0, 2) });
    await callOk(harness.client, "add_examples", { task: "shapes", examples: [examples[2], { image: shapes["blue-square"][1], label: "square" }] });
    expect(await counts("shapes")).toEqual({ circle: 2, square: 2 });
  });

  it("refuses an example whose images are over maxPixelsPerExample, naming the example", async () => {
    await callOk(harness.client, "create_sav_task", { name: "pairs", prompt: "Which shape?", model: TINY_MODEL_ID, heads: 4 });
    const result = await call(harness.client, "add_examples", {
      task: "pairs",
      examples: [{ images: [shapes["red-circle"][0], shapes["red-circle"][1]], label: "circle" }],
    });
    expect(result.isError, textOf(result)).toBe(true);
    expect(textOf(result)).toMatch(/- example 0 \(label 'circle'\): image 1: The images of this example add up to 8192 pixels, over the limit of 4196 pixels per example \(maxPixelsPerExample\)/);
    expect(await counts("pairs")).toEqual({});
  });

  it("refuses a classify_image batch over maxPixelsPerCall before decoding the image that goes over", async () => {
    const refused = await call(harness.client, "classify_image", {
      task: "shapes",
      images: [shapes["red-circle"][2], shapes["blue-square"][2], truncated],
    });
    expect(refused.isError, textOf(refused)).toBe(true);
    // The third image would be "corrupt or truncated" if it were decoded: the limit is checked on its header first.
    expect(textOf(refused)).toMatch(/^Nothing was classified: the images of this call add up to more than 8292 pixels .*reached at image 2 .*Split the batch into calls of at most 2 images/);
    const answer = await callOk<{ results: unknown[] }>(harness.client, "classify_image", { task: "shapes", images: [shapes["red-circle"][2], shapes["blue-square"][2]] });
    expect(answer.results).toHaveLength(2);
    const corrupt = await call(harness.client, "classify_image", { task: "shapes", image: truncated });
    expect(textOf(corrupt)).toMatch(/corrupt or truncated/);
  });
});

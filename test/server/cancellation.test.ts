import path from "node:path";
import type { Progress } from "@modelcontextprotocol/sdk/types.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TINY_MODEL_ID } from "../../src/config.js";
import { GatedModels } from "../support/gated-models.js";
import { writeShapeImages } from "../support/images.js";
import { callOk, startHarness, testConfig, testModels, type Harness } from "../support/mcp-harness.js";
import { makeTempDir } from "../support/temp-dir.js";

describe("cancelling add_examples", () => {
  let temp: ReturnType<typeof makeTempDir>;
  let harness: Harness;
  let models: GatedModels;
  let images: Awaited<ReturnType<typeof writeShapeImages>>;

  beforeAll(async () => {
    temp = makeTempDir();
    const imagesDir = path.join(temp.dir, "images");
    images = await writeShapeImages(imagesDir, 4);
    const dirs = { dataDir: path.join(temp.dir, "data"), modelsDir: path.join(temp.dir, "models"), allowedDirs: [imagesDir] };
    // Two extractions run freely; the third waits for the test.
    models = new GatedModels(testModels(testConfig(dirs)), 2);
    harness = await startHarness({ ...dirs, models });
  });
  afterAll(async () => {
    await harness?.close();
    await models?.close();
    temp?.cleanup();
  });

  it("midway stores nothing, and the server keeps serving", async () => {
    const { client } = harness;
    await callOk(client, "create_sav_task", { name: "cancel-me", prompt: "Circle or square?", model: TINY_MODEL_ID });
    const examples = [
      ...images["red-circle"].map((file) => ({ image: { path: file }, label: "circle" })),
      ...images["blue-square"].map((file) => ({ image: { path: file }, label: "square" })),
    ];
    const controller = new AbortController();
    const progress: Progress[] = [];
    const pending = client.callTool({ name: "add_examples", arguments: { task: "cancel-me", examples } }, undefined, {
      signal: controller.signal,
      onprogress: (p) => {
        progress.push(p);
        // Cancel once two examples went through the model and the third is in progress.
        if (p.message === "extracted example 2 of 8") controller.abort(new Error("user cancelled"));
      },
    });
    await expect(pending).rejects.toThrow(/cancelled/);
    // The server-side handler saw the cancellation while extracting the third example.
    await models.aborted;
    // Extraction is pipelined two deep, so the third and perhaps the fourth were in progress.
    expect(models.extractCalls).toBeGreaterThanOrEqual(3);
    expect(models.extractCalls).toBeLessThanOrEqual(4);
    expect(progress.at(-1)!.message).toBe("extracted example 2 of 8");

    models.release();
    const task = await callOk<{ exampleCount: number; exampleVersion: number }>(client, "get_task", { task: "cancel-me" });
    expect(task).toMatchObject({ exampleCount: 0, exampleVersion: 0 });

    const added = await callOk<{ exampleCount: number }>(client, "add_examples", { task: "cancel-me", examples: examples.slice(0, 2) });
    expect(added.exampleCount).toBe(2);
  });
});

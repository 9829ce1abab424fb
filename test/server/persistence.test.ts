import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TINY_MODEL_ID } from "../../src/config.js";
import type { ModelProvider } from "../../src/server/models.js";
import { writeShapeImages } from "../support/images.js";
import { callOk, startHarness, testConfig, testModels, type Harness } from "../support/mcp-harness.js";
import { makeTempDir } from "../support/temp-dir.js";

interface Classified {
  results: { label: string; votes: Record<string, number> }[];
}

describe("persistence across servers on one data directory", () => {
  let temp: ReturnType<typeof makeTempDir>;
  let models: ModelProvider;
  let images: Awaited<ReturnType<typeof writeShapeImages>>;
  let dirs: { dataDir: string; modelsDir: string; allowedDirs: string[] };
  const open: Harness[] = [];

  const start = async () => {
    const harness = await startHarness({ ...dirs, models });
    open.push(harness);
    return harness;
  };

  beforeAll(async () => {
    temp = makeTempDir();
    const imagesDir = path.join(temp.dir, "images");
    images = await writeShapeImages(imagesDir, 4);
    dirs = { dataDir: path.join(temp.dir, "data"), modelsDir: path.join(temp.dir, "models"), allowedDirs: [imagesDir] };
    models = testModels(testConfig(dirs));
  });
  afterAll(async () => {
    for (const harness of open) await harness.close();
    await models?.close();
    temp?.cleanup();
  });

  const examples = (count: number) => [
    ...images["red-circle"].slice(0, count).map((file) => ({ image: { path: file }, label: "circle" })),
    ...images["blue-square"].slice(0, count).map((file) => ({ image: { path: file }, label: "square" })),
  ];
  const queries = () => [images["red-circle"][3]!, images["blue-square"][3]!].map((file) => ({ path: file }));

  it("a second server sees the tasks, and the built classifier survives a restart", async () => {
    const first = await start();
    await callOk(first.client, "create_sav_task", { name: "kept", prompt: "Circle or square?", model: TINY_MODEL_ID, heads: 6 });
    await callOk(first.client, "add_examples", { task: "kept", examples: examples(3) });
    const before = await callOk<Classified>(first.client, "classify_image", { task: "kept", images: queries() });
    expect(first.savServer.service.classifiers.stats.builds).toBe(1);
    await first.close();
    open.splice(open.indexOf(first), 1);

    const second = await start();
    const { tasks } = await callOk<{ tasks: { name: string; exampleCount: number }[] }>(second.client, "list_tasks", {});
    expect(tasks).toEqual([expect.objectContaining({ name: "kept", exampleCount: 6 })]);
    const after = await callOk<Classified>(second.client, "classify_image", { task: "kept", images: queries() });
    expect(after.results).toEqual(before.results);
    // Restored from the persisted state, not rebuilt.
    expect(second.savServer.service.classifiers.stats).toMatchObject({ restored: 1, builds: 0 });
  });

  it("two live servers share the data directory; a change made by one is used by the other after one rebuild", async () => {
    const [a, b] = [await start(), await start()];
    await callOk(a.client, "create_sav_task", { name: "shared", prompt: "Circle or square?", model: TINY_MODEL_ID, heads: 6 });
    await callOk(b.client, "add_examples", { task: "shared", examples: examples(2) });
    const buildsBefore = a.savServer.service.classifiers.stats.builds;
    const seenByA = await callOk<{ examplesPerLabel: Record<string, number> }>(a.client, "get_task", { task: "shared" });
    expect(seenByA.examplesPerLabel).toEqual({ circle: 2, square: 2 });

    await callOk(a.client, "classify_image", { task: "shared", images: queries() });
    await callOk(a.client, "classify_image", { task: "shared", images: queries() });
    await callOk(b.client, "add_examples", { task: "shared", examples: examples(1) });
    await callOk(a.client, "classify_image", { task: "shared", images: queries() });
    await callOk(a.client, "classify_image", { task: "shared", images: queries() });
    const stats = a.savServer.service.classifiers.stats;
    // Once for the first version (by get_task), once after b's change; the repeated queries hit memory.
    expect(stats.builds - buildsBefore).toBe(2);
    const detail = await callOk<{ exampleCount: number; exampleVersion: number }>(a.client, "get_task", { task: "shared" });
    expect(detail).toMatchObject({ exampleCount: 6, exampleVersion: 2 });

    await callOk(b.client, "delete_task", { task: "shared" });
    const { tasks } = await callOk<{ tasks: { name: string }[] }>(a.client, "list_tasks", {});
    expect(tasks.map((t) => t.name)).not.toContain("shared");
  });
});

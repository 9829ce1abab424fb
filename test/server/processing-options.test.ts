/** A task records its model family's processing options; every example and query is read with them, exports carry them. */
import path from "node:path";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TINY_MODEL_ID } from "../../src/config.js";
import { ModelRunner } from "../../src/model/runner.js";
import { SavStore, SqliteTaskStore } from "../../src/store/index.js";
import { tinyModelDir } from "../model/paths.js";
import { call, callOk, startHarness, textOf, type Harness } from "../support/mcp-harness.js";
import { makeTempDir } from "../support/temp-dir.js";

describe("processing options recorded in the task", () => {
  let temp: ReturnType<typeof makeTempDir>;
  let harness: Harness;
  let imagePath: string;
  beforeAll(async () => {
    temp = makeTempDir();
    imagePath = path.join(temp.dir, "images", "wide.png");
    const raw = Buffer.alloc(200 * 90 * 3);
    for (let i = 0; i < raw.length; i++) raw[i] = (i * 37) % 251;
    await import("node:fs/promises").then((fs) => fs.mkdir(path.dirname(imagePath), { recursive: true }));
    await sharp(raw, { raw: { width: 200, height: 90, channels: 3 } }).png().toFile(imagePath);
    harness = await startHarness({ dataDir: path.join(temp.dir, "data"), modelsDir: path.join(temp.dir, "models"), allowedDirs: [temp.dir] });
  });
  afterAll(async () => {
    await harness?.close();
    temp?.cleanup();
  });

  it("fills in the family's defaults and refuses options the family does not have, naming the valid ones", async () => {
    const plain = await callOk<{ processing: Record<string, unknown> }>(harness.client, "create_sav_task", { name: "plain", prompt: "Q?", model: TINY_MODEL_ID });
    expect(plain.processing).toEqual({ imageSplitting: false });
    const bad = await call(harness.client, "create_sav_task", { name: "bad", prompt: "Q?", model: TINY_MODEL_ID, processing: { maxPixels: 5 } });
    expect(bad.isError).toBe(true);
    expect(textOf(bad)).toMatch(/Unknown processing option\(s\) maxPixels .*imageSplitting/);
  });

  it("extracts every example with the task's options, and exports and imports them", async () => {
    const split = await callOk<{ processing: Record<string, unknown> }>(harness.client, "create_sav_task", {
      name: "split",
      prompt: "Q?",
      model: TINY_MODEL_ID,
      processing: { imageSplitting: true },
    });
    expect(split.processing).toEqual({ imageSplitting: true });
    for (const name of ["plain", "split"]) {
      await callOk(harness.client, "add_examples", { task: name, examples: [{ image: { path: imagePath }, label: "a" }] });
    }
    const store = new SqliteTaskStore(new SavStore({ dataDir: harness.config.dataDir }));
    const runner = await ModelRunner.create({ id: TINY_MODEL_ID, dir: tinyModelDir }, { threads: 1 });
    try {
      const bytes = await import("node:fs/promises").then((fs) => fs.readFile(imagePath));
      for (const [name, imageSplitting] of [["plain", false], ["split", true]] as const) {
        const task = (await store.getTask(name))!;
        const stored = (await store.loadTrainingSet(task.id)).examples[0]!.vectors;
        const expected = await runner.extract({ images: [bytes], text: "Q?", options: { imageSplitting } });
        expect(Array.from(stored), name).toEqual(Array.from(expected.vectors));
      }
      const file = path.join(temp.dir, "split.json");
      await callOk(harness.client, "export_task", { task: "split", path: file });
      const imported = await callOk<{ processing: Record<string, unknown> }>(harness.client, "import_task", { path: file, name: "split-again" });
      expect(imported.processing).toEqual({ imageSplitting: true });
    } finally {
      await runner.close();
      await store.close();
    }
  });
});

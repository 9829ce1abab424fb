import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TINY_MODEL_ID } from "../../src/config.js";
import { recommendations } from "../../src/server/wording.js";
import type { TaskRecord } from "../../src/store/index.js";
import { writeShapeImages } from "../support/images.js";
import { call, callOk, startHarness, textOf, type Harness } from "../support/mcp-harness.js";
import { makeTempDir } from "../support/temp-dir.js";

interface UpdateOutput {
  heads: number;
  selection: string;
  labels: string[] | null;
  prompt: string;
  description: string | null;
  examplesPerLabel: Record<string, number>;
  exampleVersion: number;
  changed: string[];
  classifierRebuilt: boolean;
}

describe("update_task through an in-memory MCP client (tiny model)", () => {
  let temp: ReturnType<typeof makeTempDir>;
  let harness: Harness;
  let images: Awaited<ReturnType<typeof writeShapeImages>>;

  beforeAll(async () => {
    temp = makeTempDir();
    const imagesDir = path.join(temp.dir, "images");
    images = await writeShapeImages(imagesDir, 3);
    harness = await startHarness({ dataDir: path.join(temp.dir, "data"), modelsDir: path.join(temp.dir, "models"), allowedDirs: [imagesDir] });
    await callOk(harness.client, "create_sav_task", {
      name: "shapes",
      prompt: "Which shape is this?",
      labels: ["red-circle", "blue-square"],
      heads: 8,
      model: TINY_MODEL_ID,
    });
    const examples = (["red-circle", "blue-square"] as const).flatMap((label) => images[label].map((file) => ({ image: { path: file }, label })));
    await callOk(harness.client, "add_examples", { task: "shapes", examples });
  });
  afterAll(async () => {
    await harness?.close();
    temp?.cleanup();
  });

  const update = (args: Record<string, unknown>) => callOk<UpdateOutput>(harness.client, "update_task", { task: "shapes", ...args });
  const query = () => ({ task: "shapes", image: { path: images["red-circle"][0] } });

  it("changing heads bumps the version and the next classification uses the new k", async () => {
    const before = await callOk<{ heads: number; exampleVersion: number }>(harness.client, "classify_image", query());
    expect(before.heads).toBe(8);
    const updated = await update({ heads: 3 });
    expect(updated).toMatchObject({ heads: 3, changed: ["heads 8 → 3"], classifierRebuilt: true, exampleVersion: before.exampleVersion + 1 });
    const after = await callOk<{ heads: number; exampleVersion: number }>(harness.client, "classify_image", query());
    expect(after.heads).toBe(3);
    expect(after.exampleVersion).toBe(updated.exampleVersion);
    const detail = await callOk<{ selectedHeads: unknown[] }>(harness.client, "get_task", { task: "shapes" });
    expect(detail.selectedHeads).toHaveLength(3);
    const same = await update({ heads: 3 });
    expect(same).toMatchObject({ changed: [], classifierRebuilt: false, exampleVersion: updated.exampleVersion });
  });

  it("adds labels and edits the description without rebuilding; selection rebuilds", async () => {
    const start = (await update({})).exampleVersion;
    const widened = await update({ addLabels: ["green-triangle", "red-circle"], description: "three shapes" });
    expect(widened).toMatchObject({ labels: ["red-circle", "blue-square", "green-triangle"], classifierRebuilt: false, exampleVersion: start });
    expect((await callOk<{ description: string }>(harness.client, "get_task", { task: "shapes" })).description).toBe("three shapes");
    await callOk(harness.client, "add_examples", { task: "shapes", examples: [{ image: { path: images["blue-square"][0] }, label: "green-triangle" }] });
    const selection = await update({ selection: "leave-one-out" });
    expect(selection.classifierRebuilt).toBe(true);
    expect(selection.selection).toBe("leave-one-out");
    await update({ selection: "in-sample" });
    await callOk(harness.client, "remove_examples", { task: "shapes", label: "green-triangle" });
  });

  it("renames a label in the set and on its examples; votes use the new name", async () => {
    const renamed = await update({ renameLabel: { from: "red-circle", to: "circle" } });
    expect(renamed.labels).toEqual(["circle", "blue-square", "green-triangle"]);
    const counts = await callOk<{ examplesPerLabel: Record<string, number> }>(harness.client, "get_task", { task: "shapes" });
    expect(counts.examplesPerLabel).toEqual({ "blue-square": 3, circle: 3 });
    expect(renamed.classifierRebuilt).toBe(true);
    const answer = await callOk<{ results: { votes: Record<string, number> }[] }>(harness.client, "classify_image", query());
    expect(Object.keys(answer.results[0]!.votes).sort()).toEqual(["blue-square", "circle"]);
    const clash = await call(harness.client, "update_task", { task: "shapes", renameLabel: { from: "circle", to: "blue-square" } });
    expect(clash.isError).toBe(true);
    expect(textOf(clash)).toContain("already in use");
    const unknown = await call(harness.client, "update_task", { task: "shapes", renameLabel: { from: "nope", to: "x" } });
    expect(textOf(unknown)).toContain("'circle', 'blue-square', 'green-triangle'");
  });

  it("refuses a prompt change while the task has examples, and allows it on an empty task", async () => {
    const refused = await call(harness.client, "update_task", { task: "shapes", prompt: "Is it round?", heads: 5 });
    expect(refused.isError).toBe(true);
    expect(textOf(refused)).toContain("cannot change while it has 6 examples");
    expect((await update({})).heads).toBe(3);
    await callOk(harness.client, "create_sav_task", { name: "empty", prompt: "Old?", model: TINY_MODEL_ID });
    const changed = await callOk<UpdateOutput>(harness.client, "update_task", { task: "empty", prompt: "New?" });
    expect(changed).toMatchObject({ changed: ["prompt"], classifierRebuilt: true });
    expect((await callOk<{ prompt: string }>(harness.client, "get_task", { task: "empty" })).prompt).toBe("New?");
    const open = await call(harness.client, "update_task", { task: "empty", addLabels: ["a"] });
    expect(textOf(open)).toContain("accepts any label already");
  });

  it("evaluate_task's head advice names the update_task call that applies it", () => {
    const task = { name: "t", k: 20, randomWeights: false, shape: { layers: 4, heads: 4, headDim: 8 } } as unknown as TaskRecord;
    const advice = recommendations(task, { a: 10, b: 10 }, 0.7, [{ heads: 5, accuracy: 0.95 }, { heads: 16, accuracy: 0.7 }], 16);
    expect(advice.join("\n")).toContain("update_task with heads: 5");
  });
});

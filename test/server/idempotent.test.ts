import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TINY_MODEL_ID } from "../../src/config.js";
import { writeShapeImages } from "../support/images.js";
import { call, callOk, startHarness, textOf, type Harness } from "../support/mcp-harness.js";
import { makeTempDir } from "../support/temp-dir.js";

interface Removed {
  removed: number[];
  exampleCount: number;
  exampleVersion: number;
  note?: string;
}

/** remove_examples and delete_task are marked idempotent: a repeated call succeeds and changes nothing. */
describe("idempotent removals", () => {
  let temp: ReturnType<typeof makeTempDir>;
  let harness: Harness;
  let ids: number[];

  beforeAll(async () => {
    temp = makeTempDir();
    const imagesDir = path.join(temp.dir, "images");
    const images = await writeShapeImages(imagesDir, 3);
    harness = await startHarness({ dataDir: path.join(temp.dir, "data"), modelsDir: path.join(temp.dir, "models"), allowedDirs: [imagesDir] });
    for (const name of ["keep", "doomed"]) {
      await callOk(harness.client, "create_sav_task", { name, prompt: "What shape is this?", model: TINY_MODEL_ID });
    }
    const added = await callOk<{ added: { id: number }[] }>(harness.client, "add_examples", {
      task: "keep",
      examples: [
        ...images["red-circle"].map((p) => ({ image: { path: p }, label: "circle" })),
        ...images["blue-square"].map((p) => ({ image: { path: p }, label: "square" })),
      ],
    });
    ids = added.added.map((a) => a.id);
  });
  afterAll(async () => {
    await harness?.close();
    temp?.cleanup();
  });

  it("removing the same ids twice: the second call is a successful no-op with a note", async () => {
    const first = await callOk<Removed>(harness.client, "remove_examples", { task: "keep", ids: [ids[0]] });
    expect(first.removed).toEqual([ids[0]]);
    expect(first.note).toBeUndefined();
    const again = await call(harness.client, "remove_examples", { task: "keep", ids: [ids[0]] });
    expect(again.isError, textOf(again)).toBeFalsy();
    const second = again.structuredContent as unknown as Removed;
    expect(second.removed).toEqual([]);
    expect(second.exampleCount).toBe(first.exampleCount);
    expect(second.exampleVersion).toBe(first.exampleVersion);
    expect(second.note).toMatch(new RegExp(`already removed.*${ids[0]}.*Nothing changed`));
  });

  it("ids some of which exist and some not are still refused, and nothing is removed", async () => {
    const result = await call(harness.client, "remove_examples", { task: "keep", ids: [ids[1], ids[0]] });
    expect(result.isError).toBe(true);
    expect(textOf(result)).toMatch(new RegExp(`No example with id ${ids[0]}.*Nothing was removed`));
    const detail = await callOk<{ exampleCount: number }>(harness.client, "get_task", { task: "keep" });
    expect(detail.exampleCount).toBe(ids.length - 1);
  });

  it("removing a label twice: the second call is a no-op naming the labels that have examples", async () => {
    const first = await callOk<Removed>(harness.client, "remove_examples", { task: "keep", label: "square" });
    expect(first.removed).toHaveLength(3);
    const second = await callOk<Removed>(harness.client, "remove_examples", { task: "keep", label: "square" });
    expect(second.removed).toEqual([]);
    expect(second.exampleVersion).toBe(first.exampleVersion);
    expect(second.note).toMatch(/no examples labelled 'square'; nothing changed. Labels with examples: 'circle'/);
  });

  it("deleting a task twice: the second call is a successful no-op with a note", async () => {
    expect(await callOk(harness.client, "delete_task", { task: "doomed" })).toEqual({ deleted: "doomed", examplesRemoved: 0 });
    const again = await call(harness.client, "delete_task", { task: "doomed" });
    expect(again.isError, textOf(again)).toBeFalsy();
    expect(again.structuredContent).toMatchObject({ deleted: "doomed", examplesRemoved: 0 });
    expect((again.structuredContent as { note: string }).note).toMatch(/no task 'doomed'.*nothing changed. Known tasks: 'keep'/);
    const { tasks } = await callOk<{ tasks: { name: string }[] }>(harness.client, "list_tasks", {});
    expect(tasks.map((t) => t.name)).toEqual(["keep"]);
  });

  it("the tool list still marks both idempotent", async () => {
    const { tools } = await harness.client.listTools();
    for (const name of ["remove_examples", "delete_task"]) expect(tools.find((t) => t.name === name)!.annotations).toMatchObject({ idempotentHint: true });
  });
});

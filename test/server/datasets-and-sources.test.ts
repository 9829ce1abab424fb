import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TINY_MODEL_ID } from "../../src/config.js";
import { writeShapeImages } from "../support/images.js";
import { call, callOk, startHarness, textOf, type Harness } from "../support/mcp-harness.js";
import { makeTempDir } from "../support/temp-dir.js";

interface AddOutput {
  added: { id: number; index: number; label: string; location?: string }[];
  skipped: { index: number; reason: string; location?: string }[];
  examplesPerLabel: Record<string, number>;
  dataset?: { available: number; offset: number; nextOffset?: number };
}
interface TaskOutput {
  examples?: { id: number; label: string; sources?: string[] }[];
}

describe("datasets in one call, example sources and multi-image queries (tiny model)", () => {
  let temp: ReturnType<typeof makeTempDir>;
  let harness: Harness;
  let imagesDir: string;
  let folder: string;

  beforeAll(async () => {
    temp = makeTempDir();
    imagesDir = path.join(temp.dir, "images");
    folder = path.join(imagesDir, "shapes");
    const shapes = await writeShapeImages(path.join(imagesDir, "flat"), 3);
    for (const [label, files] of Object.entries(shapes)) {
      fs.mkdirSync(path.join(folder, label), { recursive: true });
      for (const file of files) fs.copyFileSync(file, path.join(folder, label, path.basename(file)));
    }
    harness = await startHarness({ dataDir: path.join(temp.dir, "data"), modelsDir: path.join(temp.dir, "models"), allowedDirs: [imagesDir] });
  });
  afterAll(async () => {
    await harness?.close();
    temp?.cleanup();
  });

  const create = (name: string, extra: Record<string, unknown> = {}) =>
    callOk(harness.client, "create_sav_task", { name, prompt: "Which shape is this?", model: TINY_MODEL_ID, ...extra });

  it("adds a folder in balanced batches, records sources, and removes by source", async () => {
    await create("folder-task");
    const first = await callOk<AddOutput>(harness.client, "add_examples", { task: "folder-task", folder, limit: 4 });
    expect(first.added.map((a) => a.label)).toEqual(["blue-square", "red-circle", "blue-square", "red-circle"]);
    expect(first.added[0]!.location).toBe("blue-square/blue-square-0.png");
    expect(first.dataset).toEqual({ available: 6, offset: 0, nextOffset: 4 });
    const rest = await callOk<AddOutput>(harness.client, "add_examples", { task: "folder-task", folder, offset: 4 });
    expect(rest.dataset).toEqual({ available: 6, offset: 4 });
    expect(rest.examplesPerLabel).toEqual({ "blue-square": 3, "red-circle": 3 });

    const detail = await callOk<TaskOutput>(harness.client, "get_task", { task: "folder-task", includeExamples: true });
    const real = fs.realpathSync(folder);
    expect(detail.examples![0]!.sources).toEqual([path.join(real, "blue-square", "blue-square-0.png")]);

    const removed = await callOk<{ removed: number[] }>(harness.client, "remove_examples", {
      task: "folder-task",
      sources: [path.join(folder, "red-circle", "red-circle-1.png")],
    });
    const byPath = detail.examples!.find((e) => e.sources?.[0]?.endsWith("red-circle-1.png"))!;
    expect(removed.removed).toEqual([byPath.id]);
    const again = await call(harness.client, "remove_examples", { task: "folder-task", sources: [path.join(folder, "red-circle", "red-circle-1.png")] });
    // Idempotent: a repeat removes nothing and says why.
    expect(again.isError).toBeFalsy();
    expect((again.structuredContent as { removed: number[]; note?: string }).removed).toEqual([]);
    expect((again.structuredContent as { note?: string }).note).toContain("get_task with includeExamples");
  });

  it("records base64 images by size", async () => {
    await create("inline");
    const bytes = fs.readFileSync(path.join(folder, "red-circle", "red-circle-0.png"));
    await callOk(harness.client, "add_examples", { task: "inline", examples: [{ image: { data: bytes.toString("base64") }, label: "x" }] });
    const detail = await callOk<TaskOutput>(harness.client, "get_task", { task: "inline", includeExamples: true });
    expect(detail.examples![0]!.sources).toEqual([`base64 (${bytes.length} bytes)`]);
  });

  it("shows sources of misclassified examples in evaluate_task", async () => {
    await create("mixed");
    // Labels that ignore the shapes: some examples must be misclassified.
    const files = fs.readdirSync(path.join(folder, "red-circle")).map((f) => path.join(folder, "red-circle", f));
    const others = fs.readdirSync(path.join(folder, "blue-square")).map((f) => path.join(folder, "blue-square", f));
    const examples = [...files, ...others].map((file, i) => ({ image: { path: file }, label: i % 2 === 0 ? "x" : "y" }));
    await callOk(harness.client, "add_examples", { task: "mixed", examples });
    const report = await callOk<{ misclassified: { exampleId: number; sources?: string[] }[] }>(harness.client, "evaluate_task", { task: "mixed" });
    expect(report.misclassified.length).toBeGreaterThan(0);
    for (const m of report.misclassified) expect(m.sources?.[0]).toMatch(/\.png$/);
  });

  it("refuses a folder with labels outside a closed label set, naming them", async () => {
    await create("closed", { labels: ["red-circle", "green"] });
    const result = await call(harness.client, "add_examples", { task: "closed", folder });
    expect(result.isError).toBe(true);
    expect(textOf(result)).toContain("'blue-square'");
    expect(textOf(result)).toContain("update_task");
  });

  it("reads a manifest with several images per row and classifies queries of as many images", async () => {
    await create("pairs");
    const red = fs.readdirSync(path.join(folder, "red-circle")).map((f) => `shapes/red-circle/${f}`);
    const blue = fs.readdirSync(path.join(folder, "blue-square")).map((f) => `shapes/blue-square/${f}`);
    const manifest = path.join(imagesDir, "pairs.csv");
    fs.writeFileSync(manifest, `path,label\n${red[0]}|${red[1]},same\n${blue[0]}|${blue[1]},same\n${red[0]}|${blue[0]},different\n${blue[1]}|${red[1]},different\n`);
    const added = await callOk<AddOutput>(harness.client, "add_examples", { task: "pairs", manifest });
    expect(added.added.map((a) => a.location)).toEqual(["line 4", "line 2", "line 5", "line 3"]);

    const single = await call(harness.client, "add_examples", { task: "pairs", examples: [{ image: { path: path.join(folder, "red-circle", "red-circle-0.png") }, label: "same" }] });
    expect(single.isError).toBe(true);
    expect(textOf(single)).toContain("has 1 image, but the task's examples have 2");

    const wrong = await call(harness.client, "classify_image", { task: "pairs", image: { path: path.join(folder, "red-circle", "red-circle-2.png") } });
    expect(wrong.isError).toBe(true);
    expect(textOf(wrong)).toContain('"queries"');

    const answer = await callOk<{ results: { index: number; images?: string[]; label: string }[] }>(harness.client, "classify_image", {
      task: "pairs",
      queries: [{ images: [{ path: path.join(folder, "red-circle", "red-circle-2.png") }, { path: path.join(folder, "blue-square", "blue-square-2.png") }] }],
    });
    expect(answer.results).toHaveLength(1);
    expect(answer.results[0]!.images).toHaveLength(2);
    expect(["same", "different"]).toContain(answer.results[0]!.label);

    const three = await call(harness.client, "classify_image", {
      task: "pairs",
      queries: [{ images: [{ path: path.join(folder, "red-circle", "red-circle-2.png") }, { path: path.join(folder, "red-circle", "red-circle-1.png") }, { path: path.join(folder, "red-circle", "red-circle-0.png") }] }],
    });
    expect(textOf(three)).toContain("query 0 has 3");
  });

  it("reports bad manifest lines by number before any model work", async () => {
    const manifest = path.join(imagesDir, "bad.jsonl");
    fs.writeFileSync(
      manifest,
      '{"path":"shapes/red-circle/red-circle-0.png","label":"a"}\n{"path":"missing.png","label":"b"}\n{oops\n{"path":"../../outside.png","label":"b"}\n',
    );
    await create("bad-manifest");
    const result = await call(harness.client, "add_examples", { task: "bad-manifest", manifest });
    expect(result.isError).toBe(true);
    expect(textOf(result)).toContain("line 3: not valid JSON");
    const skipping = await call(harness.client, "add_examples", { task: "bad-manifest", manifest, skipInvalid: true });
    const output = skipping.structuredContent as unknown as AddOutput;
    expect(output.added.map((a) => a.location)).toEqual(["line 1"]);
    expect(output.skipped.map((s) => s.location).sort()).toEqual(["line 2", "line 3", "line 4"]);
    expect(output.skipped.find((s) => s.location === "line 4")!.reason).toContain("outside the allowed image directories");
  });
});

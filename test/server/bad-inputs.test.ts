import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TINY_MODEL_ID } from "../../src/config.js";
import { noiseImage, writeShapeImages } from "../support/images.js";
import { call, callOk, startHarness, textOf, type Harness } from "../support/mcp-harness.js";
import { makeTempDir } from "../support/temp-dir.js";

const MAX_IMAGE_BYTES = 60_000;

const ok = (label: string, image: Record<string, string>) => ({ image, label });

describe("bad inputs: isError with a recovery hint, and the store unchanged", () => {
  let temp: ReturnType<typeof makeTempDir>;
  let harness: Harness;
  let imagesDir: string;
  let outsideDir: string;
  let circle: string;
  let square: string;
  const files: Record<string, string> = {};
  let exportPath: string;

  /** Everything a client can observe about the stored state. */
  async function snapshot(): Promise<string> {
    const { tasks } = await callOk<{ tasks: { name: string }[] }>(harness.client, "list_tasks", {});
    const details = [];
    for (const task of tasks) details.push(await callOk(harness.client, "get_task", { task: task.name, includeExamples: true }));
    return JSON.stringify(details);
  }

  beforeAll(async () => {
    temp = makeTempDir();
    imagesDir = path.join(temp.dir, "images");
    outsideDir = path.join(temp.dir, "outside");
    fs.mkdirSync(outsideDir);
    const shapes = await writeShapeImages(imagesDir, 3);
    circle = shapes["red-circle"][0]!;
    square = shapes["blue-square"][0]!;
    const png = fs.readFileSync(circle);
    files.corrupt = path.join(imagesDir, "corrupt.png");
    fs.writeFileSync(files.corrupt, Buffer.concat([png.subarray(0, 16), Buffer.from("this is not image data at all, just text".repeat(4))]));
    files.truncated = path.join(imagesDir, "truncated.png");
    fs.writeFileSync(files.truncated, png.subarray(0, Math.floor(png.length * 0.6)));
    files.oversized = path.join(imagesDir, "oversized.png");
    fs.writeFileSync(files.oversized, await noiseImage(200, 200));
    expect(fs.statSync(files.oversized).size).toBeGreaterThan(MAX_IMAGE_BYTES);
    files.outside = path.join(outsideDir, "circle.png");
    fs.copyFileSync(circle, files.outside);

    harness = await startHarness({
      dataDir: path.join(temp.dir, "data"),
      modelsDir: path.join(temp.dir, "models"),
      allowedDirs: [imagesDir],
      limits: { maxImageBytes: MAX_IMAGE_BYTES },
    });
    await callOk(harness.client, "create_sav_task", {
      name: "shapes",
      prompt: "What shape is this? Answer circle or square.",
      labels: ["circle", "square"],
      model: TINY_MODEL_ID,
      heads: 4,
    });
    await callOk(harness.client, "create_sav_task", { name: "claims", prompt: "Claim: {text}. Is the claim true?", model: TINY_MODEL_ID });
    await callOk(harness.client, "add_examples", {
      task: "shapes",
      examples: [...shapes["red-circle"].map((f) => ({ image: { path: f }, label: "circle" })), ...shapes["blue-square"].map((f) => ({ image: { path: f }, label: "square" }))],
    });
    await callOk(harness.client, "create_sav_task", { name: "strict", prompt: "Circle or square?", model: TINY_MODEL_ID, selection: "leave-one-out" });
    await callOk(harness.client, "add_examples", { task: "strict", examples: [ok("circle", { path: circle }), ok("square", { path: square })] });
    // A file exported by "another model": same content, different fingerprint.
    exportPath = path.join(imagesDir, "shapes.sav.json");
    await callOk(harness.client, "export_task", { task: "shapes", path: exportPath });
    const foreign = JSON.parse(fs.readFileSync(exportPath, "utf8"));
    foreign.model.fingerprint = "0".repeat(64);
    files.foreignExport = path.join(imagesDir, "foreign.sav.json");
    fs.writeFileSync(files.foreignExport, JSON.stringify(foreign));
    files.notJson = path.join(imagesDir, "not-json.sav.json");
    fs.writeFileSync(files.notJson, "{ this is not json");
  });
  afterAll(async () => {
    await harness?.close();
    temp?.cleanup();
  });

  

  const cases: { name: string; tool: string; args: () => Record<string, unknown>; expect: RegExp[] }[] = [
    { name: "unknown task", tool: "add_examples", args: () => ({ task: "shapez", examples: [ok("circle", { path: circle })] }), expect: [/Unknown task 'shapez'/, /Known tasks: 'claims', 'shapes', 'strict'/] },
    { name: "unknown task (classify)", tool: "classify_image", args: () => ({ task: "nope", image: { path: circle } }), expect: [/Unknown task 'nope'/, /list_tasks|create_sav_task/] },
    {
      name: "unknown label for a closed label set",
      tool: "add_examples",
      args: () => ({ task: "shapes", examples: [ok("circle", { path: circle }), ok("triangle", { path: square })] }),
      expect: [/Nothing was stored/, /example 1 \(label 'triangle'\)/, /'circle', 'square'/, /skipInvalid/],
    },
    {
      name: "duplicate task name",
      tool: "create_sav_task",
      args: () => ({ name: "shapes", prompt: "Another question?", model: TINY_MODEL_ID }),
      expect: [/'shapes' already exists/, /another name|delete_task/],
    },
    { name: "corrupt image", tool: "add_examples", args: () => ({ task: "shapes", examples: [ok("circle", { path: files.corrupt! })] }), expect: [/Nothing was stored/, /not a readable image|corrupt/i] },
    { name: "truncated PNG", tool: "add_examples", args: () => ({ task: "shapes", examples: [ok("circle", { path: files.truncated! })] }), expect: [/corrupt or truncated/, /Re-export|re-download/] },
    { name: "oversized image", tool: "add_examples", args: () => ({ task: "shapes", examples: [ok("circle", { path: files.oversized! })] }), expect: [/limit/i, /Nothing was stored/] },
    {
      name: "path outside the allowed dirs",
      tool: "add_examples",
      args: () => ({ task: "shapes", examples: [ok("circle", { path: files.outside! })] }),
      expect: [/allowed image directories/, /SAV_ALLOWED_DIRS|base64/],
    },
    { name: "missing file", tool: "classify_image", args: () => ({ task: "shapes", image: { path: path.join(imagesDir, "nope.png") } }), expect: [/No file at/, /Nothing was classified/] },
    { name: "file:// URL", tool: "add_examples", args: () => ({ task: "shapes", examples: [ok("circle", { url: `file://${circle}` })] }), expect: [/only http and https/] },
    { name: "private-address URL", tool: "classify_image", args: () => ({ task: "shapes", image: { url: "http://127.0.0.1:9/cat.png" } }), expect: [/loopback|private/i] },
    { name: "link-local URL", tool: "add_examples", args: () => ({ task: "shapes", examples: [ok("circle", { url: "http://169.254.169.254/latest/meta-data" })] }), expect: [/link-local|private/i] },
    { name: "invalid base64", tool: "add_examples", args: () => ({ task: "shapes", examples: [ok("circle", { data: "this is *not* base64!" })] }), expect: [/base64/] },
    { name: "image source with two fields", tool: "classify_image", args: () => ({ task: "shapes", image: { path: circle, url: "https://example.com/a.png" } }), expect: [/exactly one of "path", "url" or "data"/] },
    { name: "empty example list", tool: "add_examples", args: () => ({ task: "shapes", examples: [] }), expect: [/at least one example/] },
    {
      name: "batch over the limit",
      tool: "classify_image",
      args: () => ({ task: "shapes", images: Array.from({ length: 33 }, () => ({ path: circle })) }),
      expect: [/At most 32 images/, /split the batch/],
    },
    { name: "image and images together", tool: "classify_image", args: () => ({ task: "shapes", image: { path: circle }, images: [{ path: square }] }), expect: [/exactly one of "image".*or "images"/] },
    { name: "text missing for a {text} prompt", tool: "add_examples", args: () => ({ task: "claims", examples: [ok("true", { path: circle })] }), expect: [/\{text\}/, /needs `text`/] },
    {
      name: "import of a file from another model",
      tool: "import_task",
      args: () => ({ path: files.foreignExport!, name: "foreign" }),
      expect: [/Import refused/, /fingerprint/, /not comparable/],
    },
    { name: "import of a non-JSON file", tool: "import_task", args: () => ({ path: files.notJson!, name: "broken" }), expect: [/is not JSON/, /export_task/] },
    { name: "import under a taken name", tool: "import_task", args: () => ({ path: exportPath }), expect: [/'shapes' already exists/, /Pass `name`/] },
    { name: "export outside the allowed dirs", tool: "export_task", args: () => ({ task: "shapes", path: path.join(outsideDir, "x.json") }), expect: [/outside the directories/, /SAV_ALLOWED_DIRS/] },
    { name: "export over an existing file", tool: "export_task", args: () => ({ task: "shapes", path: exportPath }), expect: [/already exists/, /overwrite: true/] },
    { name: "remove unknown example ids", tool: "remove_examples", args: () => ({ task: "shapes", ids: [1, 999_999] }), expect: [/999999/, /Nothing was removed/, /includeExamples/] },
    { name: "remove with neither ids nor label", tool: "remove_examples", args: () => ({ task: "shapes" }), expect: [/exactly one of `ids`.*or `label`/] },
    { name: "classify a task without examples", tool: "classify_image", args: () => ({ task: "claims", image: { path: circle }, text: "x" }), expect: [/cannot classify yet/, /add_examples/] },
    { name: "evaluate without examples", tool: "evaluate_task", args: () => ({ task: "claims" }), expect: [/cannot be evaluated yet/, /add_examples/] },
    {
      name: "classify with leave-one-out selection and one example per label",
      tool: "classify_image",
      args: () => ({ task: "strict", image: { path: circle } }),
      expect: [/cannot classify yet/, /leave-one-out/, /at least 2 per label/, /circle: 1, square: 1/, /two examples each/],
    },
    { name: "evaluate with too many folds", tool: "evaluate_task", args: () => ({ task: "shapes", folds: 50 }), expect: [/needs at least 50 examples/, /fewer folds/] },
    { name: "unknown model", tool: "create_sav_task", args: () => ({ name: "m", prompt: "Q?", model: "no-such-model" }), expect: [/Unknown model 'no-such-model'/, /tiny-smolvlm/, /list_models/] },
    { name: "invalid task name", tool: "create_sav_task", args: () => ({ name: "has spaces/slash", prompt: "Q?" }), expect: [/letters, digits/] },
    { name: "closed label set with one label", tool: "create_sav_task", args: () => ({ name: "one", prompt: "Q?", labels: ["only"] }), expect: [/at least two labels/] },
  ];

  it.each(cases)("$name", async ({ tool, args, expect: patterns }) => {
    const before = await snapshot();
    const result = await call(harness.client, tool, args());
    expect(result.isError, JSON.stringify(result)).toBe(true);
    const text = textOf(result);
    // SAV_SHOW_ERRORS=1 prints what a client sees (used to write docs/tools.md).
    if (process.env.SAV_SHOW_ERRORS) process.stderr.write(`\n### ${tool}: ${JSON.stringify(args()).slice(0, 200)}\n${text}\n`);
    for (const pattern of patterns) expect(text).toMatch(pattern);
    expect(text).not.toMatch(/[^.]\.\.(\s|$)/);
    expect(await snapshot()).toBe(before);
  });

  it("skipInvalid stores the valid examples and reports the invalid ones", async () => {
    const result = await callOk<{ added: { index: number }[]; skipped: { index: number; label: string; reason: string }[]; examplesPerLabel: Record<string, number> }>(
      harness.client,
      "add_examples",
      { task: "shapes", skipInvalid: true, examples: [ok("circle", { path: files.truncated! }), ok("square", { path: square }), ok("oval", { path: circle })] },
    );
    expect(result.added.map((a) => a.index)).toEqual([1]);
    expect(result.skipped.map((s) => [s.index, s.label])).toEqual([
      [0, "circle"],
      [2, "oval"],
    ]);
    expect(result.skipped[0]!.reason).toMatch(/truncated/);
    expect(result.examplesPerLabel).toEqual({ circle: 3, square: 4 });
  });
});

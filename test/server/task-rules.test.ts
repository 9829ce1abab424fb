import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TINY_MODEL_ID } from "../../src/config.js";
import { checkLabelSet, labelProblem, normalizeLabel, promptProblem, TASK_LIMITS } from "../../src/server/task-rules.js";
import { writeShapeImages } from "../support/images.js";
import { call, callOk, startHarness, textOf, type Harness } from "../support/mcp-harness.js";
import { makeTempDir } from "../support/temp-dir.js";

describe("label and prompt rules", () => {
  it("normalizes labels to NFC and refuses invisible characters, so look-alikes cannot be two labels", () => {
    const composed = "caf\u00e9";
    const decomposed = "cafe\u0301";
    expect(normalizeLabel(decomposed)).toBe(composed);
    expect(() => checkLabelSet([composed, decomposed])).toThrow(/repeats 'café'/);
    expect(() => checkLabelSet(["cat", " cat "])).toThrow(/repeats 'cat'/);
    for (const invisible of ["\u200b", "\u200d", "\u00ad", "\u2060", "\ufeff", "\u202e", "\u00a0", "\ufe0f", "\u0007"]) {
      expect(labelProblem(`cat${invisible}`), JSON.stringify(invisible)).toMatch(/invisible or control character U\+/);
    }
    expect(labelProblem("hot dog")).toBeUndefined();
    expect(labelProblem("__proto__")).toBeUndefined();
    expect(labelProblem("x".repeat(TASK_LIMITS.labelChars + 1))).toMatch(/at most 100/);
    expect(() => checkLabelSet(Array.from({ length: TASK_LIMITS.maxLabels + 1 }, (_, i) => `l${i}`))).toThrow(/at most 100 labels/);
  });

  it("refuses <image> in a prompt", () => {
    expect(promptProblem("Is <image> a cat?")).toMatch(/reserves for images/);
    expect(promptProblem("Is the image a cat?")).toBeUndefined();
    expect(promptProblem("x".repeat(TASK_LIMITS.promptChars + 1))).toMatch(/at most 4000/);
  });

  it("limits the {text} placeholders of a prompt to 8", () => {
    expect(TASK_LIMITS.maxTextPlaceholders).toBe(8);
    expect(promptProblem("{text} ".repeat(8) + "?")).toBeUndefined();
    expect(promptProblem("{text} ".repeat(9) + "?")).toMatch(/uses \{text\} 9 times; the limit is 8/);
    expect(promptProblem("{text}".repeat(500))).toMatch(/500 times/);
  });
});

describe("the same rules at create_sav_task, add_examples and import_task", () => {
  let temp: ReturnType<typeof makeTempDir>;
  let harness: Harness;
  let dir: string;
  let exported: Record<string, any>;
  let shapes: Awaited<ReturnType<typeof writeShapeImages>>;

  async function snapshot(): Promise<string> {
    const { tasks } = await callOk<{ tasks: { name: string }[] }>(harness.client, "list_tasks", {});
    const details = [];
    for (const task of tasks) details.push(await callOk(harness.client, "get_task", { task: task.name, includeExamples: true }));
    return JSON.stringify(details);
  }

  beforeAll(async () => {
    temp = makeTempDir();
    dir = path.join(temp.dir, "files");
    shapes = await writeShapeImages(dir, 2);
    harness = await startHarness({ dataDir: path.join(temp.dir, "data"), modelsDir: path.join(temp.dir, "models"), allowedDirs: [dir] });
    await callOk(harness.client, "create_sav_task", { name: "proto", prompt: "Which?", labels: ["__proto__", "constructor"], model: TINY_MODEL_ID, heads: 4 });
    await callOk(harness.client, "add_examples", {
      task: "proto",
      examples: [
        ...shapes["red-circle"].map((file) => ({ image: file, label: "__proto__" })),
        ...shapes["blue-square"].map((file) => ({ image: file, label: "constructor" })),
      ],
    });
    await callOk(harness.client, "export_task", { task: "proto", path: path.join(dir, "proto.json") });
    exported = JSON.parse(fs.readFileSync(path.join(dir, "proto.json"), "utf8"));
  });
  afterAll(async () => {
    await harness?.close();
    temp?.cleanup();
  });

  it("keeps a label named __proto__ in every listing and in classification", async () => {
    const { tasks } = await callOk<{ tasks: { name: string; examplesPerLabel: Record<string, number> }[] }>(harness.client, "list_tasks", {});
    const listed = tasks.find((t) => t.name === "proto")!;
    expect(Object.entries(listed.examplesPerLabel)).toEqual([
      ["__proto__", 2],
      ["constructor", 2],
    ]);
    const detail = await callOk<{ examplesPerLabel: Record<string, number>; ready: boolean }>(harness.client, "get_task", { task: "proto" });
    expect(Object.keys(detail.examplesPerLabel)).toEqual(["__proto__", "constructor"]);
    expect(detail.ready).toBe(true);
    const answer = await callOk<{ results: { votes: Record<string, number> }[] }>(harness.client, "classify_image", { task: "proto", image: shapes["red-circle"][0] });
    expect(Object.keys(answer.results[0]!.votes).sort()).toEqual(["__proto__", "constructor"]);
  });

  it("refuses look-alike labels and <image> prompts at create_sav_task", async () => {
    const before = await snapshot();
    for (const [args, message] of [
      [{ labels: ["caf\u00e9", "cafe\u0301"] }, /repeats 'café'/],
      [{ labels: ["cat", "cat\u200b"] }, /invisible or control character U\+200B/],
      [{ prompt: "Does <image> show a cat?" }, /reserves for images/],
      [{ prompt: "Is {text} ok? ".repeat(9) }, /uses \{text\} 9 times; the limit is 8/],
    ] as const) {
      const result = await call(harness.client, "create_sav_task", { name: "t", prompt: "Which?", model: TINY_MODEL_ID, ...args });
      expect(result.isError, textOf(result)).toBe(true);
      expect(textOf(result)).toMatch(message);
    }
    const added = await call(harness.client, "add_examples", { task: "proto", examples: [{ image: shapes["red-circle"][0], label: "__proto__\u200b" }] });
    expect(added.isError).toBe(true);
    expect(textOf(added)).toMatch(/invisible/);
    expect(await snapshot()).toBe(before);
  });

  it("refuses a prompt with too many {text} placeholders at update_task", async () => {
    await callOk(harness.client, "create_sav_task", { name: "texts", prompt: "Is {text} ok?", model: TINY_MODEL_ID });
    const refused = await call(harness.client, "update_task", { task: "texts", prompt: "{text} and ".repeat(12) + "?" });
    expect(refused.isError, textOf(refused)).toBe(true);
    expect(textOf(refused)).toMatch(/uses \{text\} 12 times; the limit is 8/);
    expect((await callOk<{ prompt: string }>(harness.client, "get_task", { task: "texts" })).prompt).toBe("Is {text} ok?");
    await callOk(harness.client, "delete_task", { task: "texts" });
  });

  const mutations: [string, (file: Record<string, any>) => void, RegExp][] = [
    ["a 120k-character prompt", (f) => (f.task.prompt = "x".repeat(120_000)), /prompt is at most 4000 characters/],
    ["<image> in the prompt", (f) => (f.task.prompt = "Is <image> ok?"), /reserves for images/],
    ["300 {text} placeholders", (f) => (f.task.prompt = "{text}".repeat(300)), /uses \{text\} 300 times; the limit is 8/],
    ["a 3000-character description", (f) => (f.task.description = "d".repeat(3000)), /description is at most 2000/],
    ["10,002 labels", (f) => (f.task.labels = [...f.task.labels, ...Array.from({ length: 10_000 }, (_, i) => `l${i}`)]), /at most 100 labels/],
    ["heads: 1e15", (f) => (f.task.heads = 1e15), /heads \(k\) is a whole number from 1 to 4096/],
    ["duplicate labels", (f) => (f.task.labels = ["__proto__", "constructor", "__proto__"]), /repeats '__proto__'/],
    ["a 1000-character label", (f) => (f.task.labels = ["__proto__", "y".repeat(1000)]), /label is at most 100 characters/],
    ["an NFD duplicate", (f) => (f.task.labels = ["caf\u00e9", "cafe\u0301"]), /repeats 'café'/],
    ["an example label with an invisible character", (f) => ((f.task.labels = null), (f.examples[0].label = "__proto__\u2060")), /Example 0 .*U\+2060/],
    ["a 30k-character example text", (f) => (f.examples[1].text = "t".repeat(30_000)), /Example 1 .*at most 20000 characters/],
    ["a bad task name", (f) => (f.task.name = "../etc"), /task name is 1-64 characters/],
    ["vectors of the wrong length", (f) => (f.examples[0].vectors = f.examples[0].vectors.slice(0, 16)), /truncated or corrupt/],
    ["a non-finite value", (f) => (f.examples[0].vectors = Buffer.alloc(Buffer.from(f.examples[0].vectors, "base64").length, 0xff).toString("base64")), /non-finite/],
    ["a shape that is not the model's", (f) => (f.examples[0].shape = { ...f.examples[0].shape, heads: f.examples[0].shape.heads + 1 }), /shape/],
  ];

  it.each(mutations)("import_task refuses a file with %s and stores nothing", async (_name, mutate, message) => {
    const file = structuredClone(exported);
    mutate(file);
    const target = path.join(dir, "mutated.json");
    fs.writeFileSync(target, JSON.stringify(file));
    const before = await snapshot();
    const result = await call(harness.client, "import_task", { path: target, ...(file.task.name === "proto" ? { name: "imported" } : {}) });
    expect(result.isError, textOf(result)).toBe(true);
    expect(textOf(result)).toMatch(message);
    expect(textOf(result).length).toBeLessThan(2000);
    expect(await snapshot()).toBe(before);
  });

  it("import_task accepts the unmutated file, labels normalized", async () => {
    const file = structuredClone(exported);
    file.examples[0].label = " __proto__ ";
    fs.writeFileSync(path.join(dir, "ok.json"), JSON.stringify(file));
    await callOk(harness.client, "import_task", { path: "ok.json", name: "copy" });
    const imported = await callOk<{ examplesPerLabel: Record<string, number> }>(harness.client, "get_task", { task: "copy" });
    expect(imported.examplesPerLabel).toEqual(Object.fromEntries([["__proto__", 2], ["constructor", 2]]));
    await callOk(harness.client, "delete_task", { task: "copy" });
  });
});

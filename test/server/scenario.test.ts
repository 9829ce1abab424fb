import fs from "node:fs";
import path from "node:path";
import type { Progress } from "@modelcontextprotocol/sdk/types.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TINY_MODEL_ID } from "../../src/config.js";
import { SHARED_FIELDS } from "../../src/server/instructions.js";
import { DEFAULT_HINTS } from "../../src/server/tools/lean-tool-list.js";
import { TOOL_NAMES } from "../../src/server/tools/index.js";
import { shapeImage, writeShapeImages } from "../support/images.js";
import { call, callOk, startHarness, textOf, type Harness } from "../support/mcp-harness.js";
import { makeTempDir } from "../support/temp-dir.js";

function resourceText(result: { contents: ({ text: string } | { blob: string })[] }): string {
  const first = result.contents[0]!;
  return "text" in first ? first.text : "";
}

interface ClassifyOutput {
  heads: number;
  results: { index: number; label: string; share: number; votes: Record<string, number>; heads?: { layer: number; head: number; vote: string; similarity: number }[] }[];
  note?: string;
}

describe("whole scenario through an in-memory MCP client on the tiny model", () => {
  let temp: ReturnType<typeof makeTempDir>;
  let harness: Harness;
  let imagesDir: string;
  let train: Awaited<ReturnType<typeof writeShapeImages>>;
  let queries: string[];

  beforeAll(async () => {
    temp = makeTempDir();
    imagesDir = path.join(temp.dir, "images");
    train = await writeShapeImages(path.join(imagesDir, "train"), 4);
    const query = await writeShapeImages(path.join(imagesDir, "query"), 2, 100);
    queries = [query["red-circle"][0]!, query["blue-square"][0]!, query["red-circle"][1]!, query["blue-square"][1]!];
    harness = await startHarness({
      dataDir: path.join(temp.dir, "data"),
      modelsDir: path.join(temp.dir, "models"),
      allowedDirs: [imagesDir],
    });
  });
  afterAll(async () => {
    await harness?.close();
    temp?.cleanup();
  });

  it("lists every tool with a title, description, input and output schema and all four annotations", async () => {
    const { tools } = await harness.client.listTools();
    expect(tools.map((t) => t.name).sort()).toEqual([...TOOL_NAMES].sort());
    for (const tool of tools) {
      expect(tool.title, tool.name).toBeTruthy();
      expect(tool.description!.length, tool.name).toBeGreaterThan(80);
      expect(tool.outputSchema?.type, tool.name).toBe("object");
      // Hints equal to MCP's defaults are left out of the list; every tool says something about its effects.
      expect(Object.keys(tool.annotations ?? {}).length, tool.name).toBeGreaterThan(0);
      // Every input property is described for the agent: by itself, in its tool's description, or (shared fields) in the instructions.
      for (const [field, schema] of Object.entries(tool.inputSchema.properties ?? {})) {
        const described =
          !!(schema as { description?: string }).description || new RegExp(`\\b${field}\\b`).test(tool.description!) || field in SHARED_FIELDS;
        expect(described, `${tool.name}.${field}`).toBe(true);
      }
    }
    const byName = Object.fromEntries(tools.map((t) => [t.name, { ...DEFAULT_HINTS, ...t.annotations }]));
    expect(byName.classify_image).toMatchObject({ readOnlyHint: true, openWorldHint: true });
    expect(byName.delete_task).toMatchObject({ readOnlyHint: false, destructiveHint: true, idempotentHint: true });
    expect(byName.remove_examples).toMatchObject({ readOnlyHint: false, destructiveHint: true, idempotentHint: true });
    expect(byName.add_examples).toMatchObject({ readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: true });
    expect(byName.list_tasks).toMatchObject({ readOnlyHint: true, openWorldHint: false });
    expect(harness.client.getInstructions()).toMatch(/create_sav_task/);
    for (const field of Object.keys(SHARED_FIELDS)) expect(harness.client.getInstructions()).toContain(`\`${field}\``);
  });

  it("create → add (with progress) → classify → evaluate → export → delete → import → same labels", async () => {
    const { client } = harness;
    const created = await callOk(client, "create_sav_task", {
      name: "shapes",
      prompt: "What shape is in this picture? Answer circle or square.",
      labels: ["circle", "square"],
      heads: 8,
      model: TINY_MODEL_ID,
    });
    expect(created).toMatchObject({ name: "shapes", labels: ["circle", "square"], heads: 8, exampleCount: 0, ready: false });
    expect(created.model).toMatchObject({ id: TINY_MODEL_ID, randomWeights: true });
    expect(created.note).toMatch(/random weights/);

    const progress: Progress[] = [];
    const examples = [
      ...train["red-circle"].map((file) => ({ image: { path: file }, label: "circle" })),
      ...train["blue-square"].map((file) => ({ image: path.relative(imagesDir, file), label: "square" })),
    ];
    const added = (await client.callTool({ name: "add_examples", arguments: { task: "shapes", examples } }, undefined, {
      onprogress: (p) => progress.push(p),
    })) as unknown as { structuredContent: { added: { id: number; index: number }[]; examplesPerLabel: Record<string, number>; ready: boolean } };
    expect(added.structuredContent.added.map((a) => a.index)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(added.structuredContent.examplesPerLabel).toEqual({ circle: 4, square: 4 });
    expect(added.structuredContent.ready).toBe(true);
    expect(progress.length).toBeGreaterThanOrEqual(examples.length);
    for (let i = 1; i < progress.length; i++) expect(progress[i]!.progress).toBeGreaterThan(progress[i - 1]!.progress);
    const last = progress.at(-1)!;
    expect(last.progress).toBe(last.total);

    const single = await callOk<ClassifyOutput>(client, "classify_image", { task: "shapes", image: { path: queries[0] } });
    expect(single.results).toHaveLength(1);
    const [one] = single.results;
    expect(["circle", "square"]).toContain(one!.label);
    expect(one!.votes.circle! + one!.votes.square!).toBe(single.heads);
    expect(one!.share).toBeCloseTo(one!.votes[one!.label]! / single.heads, 3);
    expect(single.note).toMatch(/random weights/);

    const batch = await callOk<ClassifyOutput>(client, "classify_image", {
      task: "shapes",
      images: [...queries.map((file) => ({ path: file })), { data: (await shapeImage("red-circle", 100)).toString("base64") }],
      detail: true,
    });
    expect(batch.results.map((r) => r.index)).toEqual([0, 1, 2, 3, 4]);
    expect(batch.results[0]!.label).toBe(one!.label);
    // The base64 copy of query 0 gets the same answer as the file.
    expect(batch.results[4]!.votes).toEqual(batch.results[0]!.votes);
    for (const result of batch.results) {
      expect(result.heads).toHaveLength(batch.heads);
      const tally: Record<string, number> = { circle: 0, square: 0 };
      for (const head of result.heads!) tally[head.vote]!++;
      expect(tally).toEqual(result.votes);
    }

    const evaluation = await callOk<{ accuracy: number; confusion: number[][]; total: number; labels: string[]; recommendations: string[]; accuracyByHeadCount: unknown[] }>(
      client,
      "evaluate_task",
      { task: "shapes" },
    );
    expect(evaluation.total).toBe(8);
    expect(evaluation.labels).toEqual(["circle", "square"]);
    expect(evaluation.accuracy).toBeGreaterThanOrEqual(0);
    expect(evaluation.accuracy).toBeLessThanOrEqual(1);
    expect(evaluation.confusion.flat().reduce((a, b) => a + b, 0)).toBe(8);
    expect(evaluation.confusion.map((row) => row.reduce((a, b) => a + b, 0))).toEqual([4, 4]);
    expect(evaluation.recommendations.join(" ")).toMatch(/Few examples/);

    const exportPath = path.join(imagesDir, "shapes.sav.json");
    const exported = await callOk<{ path: string; exampleCount: number }>(client, "export_task", { task: "shapes", path: exportPath });
    expect(exported.exampleCount).toBe(8);
    const file = JSON.parse(fs.readFileSync(exportPath, "utf8"));
    expect(file.format).toBe("sav-mcp/task");
    expect(file.model.id).toBe(TINY_MODEL_ID);
    expect(file.examples).toHaveLength(8);
    expect(Object.keys(file.examples[0]).sort()).toEqual(["imageSha256", "label", "shape", "text", "vectors"]);

    expect(await callOk(client, "delete_task", { task: "shapes" })).toEqual({ deleted: "shapes", examplesRemoved: 8 });
    const gone = await call(client, "classify_image", { task: "shapes", image: { path: queries[0] } });
    expect(gone.isError).toBe(true);
    expect(textOf(gone)).toMatch(/Unknown task 'shapes'.*create_sav_task/);

    const imported = await callOk(client, "import_task", { path: exportPath });
    expect(imported).toMatchObject({ name: "shapes", exampleCount: 8, heads: 8, ready: true });
    const again = await callOk<ClassifyOutput>(client, "classify_image", { task: "shapes", images: queries.map((file) => ({ path: file })) });
    expect(again.results.map((r) => [r.label, r.votes])).toEqual(batch.results.slice(0, 4).map((r) => [r.label, r.votes]));
  });

  it("exposes tasks as listed JSON resources", async () => {
    const { client } = harness;
    const templates = await client.listResourceTemplates();
    expect(templates.resourceTemplates.map((t) => t.uriTemplate)).toContain("sav://tasks/{name}");
    const listed = await client.listResources();
    const uris = listed.resources.map((r) => r.uri);
    expect(uris).toContain("sav://tasks");
    expect(uris).toContain("sav://tasks/shapes");
    const all = JSON.parse(resourceText(await client.readResource({ uri: "sav://tasks" })));
    expect(all.tasks.map((t: { name: string }) => t.name)).toEqual(["shapes"]);
    const one = JSON.parse(resourceText(await client.readResource({ uri: "sav://tasks/shapes" })));
    expect(one.selectedHeads).toHaveLength(8);
    await expect(client.readResource({ uri: "sav://tasks/nope" })).rejects.toThrow(/Unknown task 'nope'/);
  });

  it("get_task shows the voting heads and lists examples; remove_examples drops them", async () => {
    const { client } = harness;
    const detail = await callOk<{ selectedHeads: { layer: number; head: number; score: number }[]; examples: { id: number; label: string }[]; model: { randomWeights: boolean }; note: string }>(
      client,
      "get_task",
      { task: "shapes", includeExamples: true },
    );
    expect(detail.selectedHeads).toHaveLength(8);
    expect(detail.model.randomWeights).toBe(true);
    expect(detail.note).toMatch(/not meaningful|random/);
    expect(detail.examples).toHaveLength(8);
    const circleIds = detail.examples.filter((e) => e.label === "circle").map((e) => e.id);
    const removed = await callOk<{ removed: number[]; examplesPerLabel: Record<string, number> }>(client, "remove_examples", {
      task: "shapes",
      ids: circleIds.slice(0, 1),
    });
    expect(removed.removed).toEqual(circleIds.slice(0, 1));
    expect(removed.examplesPerLabel).toEqual({ circle: 3, square: 4 });
    const byLabel = await callOk<{ removed: number[]; ready: boolean; nextStep: string }>(client, "remove_examples", { task: "shapes", label: "square" });
    expect(byLabel.removed).toHaveLength(4);
    expect(byLabel.ready).toBe(false);
    const notReady = await call(client, "classify_image", { task: "shapes", image: { path: queries[0] } });
    expect(notReady.isError).toBe(true);
    expect(textOf(notReady)).toMatch(/cannot classify yet.*circle: 3.*add_examples/s);
  });

  it("list_models says the tiny model has random weights; the default model names its install command", async () => {
    const { client } = harness;
    const listed = await callOk<{ defaultModel: string; models: { id: string; randomWeights: boolean; note?: string; installed: boolean }[] }>(
      client,
      "list_models",
      {},
    );
    expect(listed.defaultModel).toBe("smolvlm-256m-instruct");
    const tiny = listed.models.find((m) => m.id === TINY_MODEL_ID)!;
    expect(tiny).toMatchObject({ randomWeights: true, installed: true });
    expect(tiny.note).toMatch(/random weights/);
    const missing = await call(client, "create_sav_task", { name: "real", prompt: "Is this safe? Answer yes or no." });
    expect(missing.isError).toBe(true);
    expect(textOf(missing)).toContain("npx sav-mcp models pull smolvlm-256m-instruct");
  });
});

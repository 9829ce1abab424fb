import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SavStore } from "../../src/store/index.js";
import { MAX_TASKS_PER_PAGE } from "../../src/server/schemas/tasks.js";
import { call, callOk, startHarness, textOf, type Harness } from "../support/mcp-harness.js";
import { clusteredExamples, newTask } from "../support/store-fixtures.js";
import { makeTempDir } from "../support/temp-dir.js";

const TASKS = 300;
const HUGE_DESCRIPTION = "d".repeat(6 * 1024 * 1024);

interface Page {
  tasks: { name: string; description: string | null; prompt: string; exampleCount: number }[];
  nextCursor?: string;
}

function resourceText(result: { contents: ({ text: string } | { blob: string })[] }): string {
  const first = result.contents[0]!;
  return "text" in first ? first.text : "";
}

/** Replies stay bounded however many tasks are stored and however long their texts are. */
describe("reply bounds", () => {
  let temp: ReturnType<typeof makeTempDir>;
  let harness: Harness;
  let exampleIds: number[];

  beforeAll(async () => {
    temp = makeTempDir();
    const dataDir = path.join(temp.dir, "data");
    // Tasks written straight into the store (another process could have), so no model is needed.
    const store = new SavStore({ dataDir });
    for (let i = 0; i < TASKS; i++) {
      const name = `task-${String(i).padStart(3, "0")}`;
      const task = store.createTask(newTask(name, i === 7 ? { description: HUGE_DESCRIPTION, prompt: `${"p".repeat(10_000)} {text}` } : {}));
      if (i === 7) exampleIds = store.addExamples(task.id, clusteredExamples(["a", "b"], 125)).ids;
    }
    store.close();
    harness = await startHarness({ dataDir, modelsDir: path.join(temp.dir, "models"), allowedDirs: [temp.dir] });
  });
  afterAll(async () => {
    await harness?.close();
    temp?.cleanup();
  });

  it("list_tasks pages through 300 tasks with cursors; a 6 MB description is cut, not a failure", async () => {
    const names: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const result = await call(harness.client, "list_tasks", cursor === undefined ? {} : { cursor });
      expect(result.isError, textOf(result)).toBeFalsy();
      expect(textOf(result).length).toBeLessThan(100_000);
      const page = result.structuredContent as unknown as Page;
      expect(page.tasks.length).toBeLessThanOrEqual(MAX_TASKS_PER_PAGE);
      names.push(...page.tasks.map((t) => t.name));
      const huge = page.tasks.find((t) => t.name === "task-007");
      if (huge) {
        expect(huge.description!.length).toBeLessThan(1000);
        expect(huge.description).toMatch(/cut: 6291456 characters/);
        expect(huge.prompt.length).toBeLessThan(1000);
        expect(huge.exampleCount).toBe(250);
      }
      cursor = page.nextCursor;
      pages++;
    } while (cursor !== undefined);
    expect(pages).toBe(3);
    expect(names).toEqual(Array.from({ length: TASKS }, (_, i) => `task-${String(i).padStart(3, "0")}`));

    const small = await callOk<Page>(harness.client, "list_tasks", { limit: 7 });
    expect(small.tasks).toHaveLength(7);
    const next = await callOk<Page>(harness.client, "list_tasks", { limit: 7, cursor: small.nextCursor });
    expect(next.tasks[0]!.name).toBe("task-007");
  });

  it("a cursor the server did not give out is refused with what to do instead", async () => {
    const result = await call(harness.client, "list_tasks", { cursor: "not-a-cursor" });
    expect(result.isError).toBe(true);
    expect(textOf(result)).toMatch(/`cursor` is not a cursor this server gave out\. Omit it to start from the first page/);
  });

  it("sav://tasks pages the same way", async () => {
    const first = JSON.parse(resourceText(await harness.client.readResource({ uri: "sav://tasks" })));
    expect(first.tasks).toHaveLength(MAX_TASKS_PER_PAGE);
    expect(first.nextPage).toMatch(/^sav:\/\/tasks\?cursor=/);
    const second = JSON.parse(resourceText(await harness.client.readResource({ uri: first.nextPage })));
    expect(second.tasks[0].name).toBe(`task-${MAX_TASKS_PER_PAGE}`);
  });

  it("resources/list pages: a client following nextCursor sees every task once, each page bounded", async () => {
    const uris: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const listed = await harness.client.listResources(cursor === undefined ? {} : { cursor });
      expect(listed.resources.length).toBeLessThanOrEqual(MAX_TASKS_PER_PAGE + 1);
      uris.push(...listed.resources.map((r) => r.uri));
      cursor = listed.nextCursor;
      pages++;
    } while (cursor !== undefined);
    expect(pages).toBe(3);
    expect(uris).toEqual(["sav://tasks", ...Array.from({ length: TASKS }, (_, i) => `sav://tasks/task-${String(i).padStart(3, "0")}`)]);
    await expect(harness.client.listResources({ cursor: "not-a-cursor" })).rejects.toThrow(/not a cursor this server gave out/);
  });

  it("reads one task resource however long its texts", async () => {
    const one = resourceText(await harness.client.readResource({ uri: "sav://tasks/task-007" }));
    expect(one.length).toBeLessThan(100_000);
  });

  it("get_task cuts long texts and pages its examples", async () => {
    const first = await callOk<{ description: string; examples: { id: number }[]; nextExampleCursor?: string }>(harness.client, "get_task", {
      task: "task-007",
      includeExamples: true,
      exampleLimit: 100,
    });
    expect(first.description.length).toBeLessThan(10_000);
    const ids = first.examples.map((e) => e.id);
    let cursor = first.nextExampleCursor;
    while (cursor !== undefined) {
      const page = await callOk<{ examples: { id: number }[]; nextExampleCursor?: string }>(harness.client, "get_task", {
        task: "task-007",
        includeExamples: true,
        exampleLimit: 100,
        exampleCursor: cursor,
      });
      ids.push(...page.examples.map((e) => e.id));
      cursor = page.nextExampleCursor;
    }
    expect(ids).toEqual(exampleIds);
  });

  it("remove_examples with thousands of unknown ids answers briefly", async () => {
    const unknown = Array.from({ length: 5000 }, (_, i) => 1_000_000 + i);
    const result = await call(harness.client, "remove_examples", { task: "task-007", ids: [exampleIds[0], ...unknown] });
    expect(result.isError).toBe(true);
    expect(textOf(result)).toMatch(/1000000, 1000001.*… \(4980 more\).*Nothing was removed/);
    expect(textOf(result).length).toBeLessThan(2000);
  });
});

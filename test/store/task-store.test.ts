import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { asTaskStore, SavStore, SqliteTaskStore, StoreError, type TaskStore } from "../../src/store/index.js";
import { clusteredExamples, newTask } from "../support/store-fixtures.js";
import { makeTempDir } from "../support/temp-dir.js";

describe("TaskStore over SQLite", () => {
  let cleanup: () => void;
  let sqlite: SavStore;
  let store: TaskStore;

  beforeEach(() => {
    const temp = makeTempDir();
    cleanup = temp.cleanup;
    sqlite = new SavStore({ dataDir: path.join(temp.dir, "data") });
    store = asTaskStore(sqlite);
  });
  afterEach(async () => {
    await store.close();
    cleanup();
  });

  it("wraps the SQLite store once and passes any other TaskStore through", () => {
    expect(store).toBeInstanceOf(SqliteTaskStore);
    expect(asTaskStore(store)).toBe(store);
  });

  it("answers with promises and rejects with the store's errors", async () => {
    const created = store.createTask(newTask("a"));
    expect(created).toBeInstanceOf(Promise);
    const task = await created;
    await store.addExamples(task.id, clusteredExamples(["x", "y"], 2));
    expect(await store.labelCounts(task.id)).toEqual({ x: 2, y: 2 });
    await expect(store.createTask(newTask("a"))).rejects.toThrow(StoreError);
    await expect(store.removeExamples(task.id, { ids: [999] })).rejects.toMatchObject({ code: "unknown-examples" });
  });

  it("pages tasks in name order with their own example counts", async () => {
    for (const name of ["c", "a", "e", "b", "d"]) {
      const task = await store.createTask(newTask(name));
      if (name === "b" || name === "e") await store.addExamples(task.id, clusteredExamples([`${name}1`, `${name}2`], name === "b" ? 1 : 3));
    }
    const first = await store.listTasks({ limit: 2 });
    expect(first.map((t) => t.name)).toEqual(["a", "b"]);
    expect(first[1]!.examplesPerLabel).toEqual({ b1: 1, b2: 1 });
    const rest = await store.listTasks({ afterName: "b", limit: 10 });
    expect(rest.map((t) => [t.name, t.exampleCount])).toEqual([["c", 0], ["d", 0], ["e", 6]]);
    expect((await store.listTasks()).map((t) => t.name)).toEqual(["a", "b", "c", "d", "e"]);
    expect(await store.listTasks({ afterName: "e" })).toEqual([]);
  });
});

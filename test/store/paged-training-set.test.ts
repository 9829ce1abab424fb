/**
 * The SQLite TaskStore reads a training set in pages between turns of the event loop: the same examples and
 * version as the one-snapshot read, also when the examples change while the pages are read.
 */
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { SavStore, SqliteTaskStore, StoreError } from "../../src/store/index.js";
import { clusteredExamples, newTask } from "../support/store-fixtures.js";
import { makeTempDir } from "../support/temp-dir.js";

describe("loadTrainingSet in pages", () => {
  let cleanup: () => void;
  let sqlite: SavStore;
  let store: SqliteTaskStore;

  beforeEach(() => {
    const temp = makeTempDir();
    cleanup = temp.cleanup;
    sqlite = new SavStore({ dataDir: path.join(temp.dir, "data") });
    store = new SqliteTaskStore(sqlite);
  });
  afterEach(async () => {
    await store.close();
    cleanup();
  });

  it("gives the snapshot read's examples, in order, over several pages", async () => {
    const task = sqlite.createTask(newTask("paged"));
    // 3 labels × 50 = 150 examples: pages of 32 (four full, one of 21); one example removed leaves a gap in the ids.
    const { ids } = sqlite.addExamples(task.id, clusteredExamples(["a", "b", "c"], 50));
    sqlite.removeExamples(task.id, { ids: [ids[70]!] });
    const paged = await store.loadTrainingSet(task.id);
    expect(paged.examples).toHaveLength(149);
    expect(paged).toEqual(sqlite.loadTrainingSet(task.id));
  });

  it("reads again when the examples change between pages", async () => {
    const task = sqlite.createTask(newTask("changing"));
    sqlite.addExamples(task.id, clusteredExamples(["a", "b"], 70));
    const reading = store.loadTrainingSet(task.id); // has read its first page, waits for the next turn
    sqlite.addExamples(task.id, clusteredExamples(["c"], 3, { seed: 9 }));
    const paged = await reading;
    expect(paged.examples).toHaveLength(143);
    expect(paged).toEqual(sqlite.loadTrainingSet(task.id));
  });

  it("an unknown task is the store's error", async () => {
    await expect(store.loadTrainingSet(12345)).rejects.toThrow(StoreError);
  });
});

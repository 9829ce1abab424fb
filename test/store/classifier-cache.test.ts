import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { SavError, classify } from "../../src/sav/index.js";
import { ClassifierCache, SavStore } from "../../src/store/index.js";
import { makeTempDir } from "../support/temp-dir.js";
import { clusteredExamples, newTask } from "../support/store-fixtures.js";

describe("ClassifierCache", () => {
  let dataDir: string;
  let cleanup: () => void;
  let store: SavStore;

  beforeEach(() => {
    const temp = makeTempDir();
    cleanup = temp.cleanup;
    dataDir = path.join(temp.dir, "data");
    store = new SavStore({ dataDir });
  });
  afterEach(() => {
    store.close();
    cleanup();
  });

  it("builds once per example version and serves repeats from memory", async () => {
    const task = store.createTask(newTask("t"));
    store.addExamples(task.id, clusteredExamples(["a", "b"], 3));
    const cache = new ClassifierCache(store);
    const first = await cache.get(task);
    const second = await cache.get(task);
    expect(first.origin).toBe("built");
    expect(second.origin).toBe("memory");
    expect(second.classifier).toBe(first.classifier);
    expect(cache.stats).toEqual({ hits: 1, restored: 0, builds: 1 });
    const query = clusteredExamples(["a", "b"], 1, { seed: 99 });
    expect(classify(first.classifier, query[1]!.vectors).label).toBe("b");

    store.addExamples(task.id, clusteredExamples(["c"], 3, { seed: 5 }));
    const rebuilt = await cache.get(task);
    expect(rebuilt.origin).toBe("built");
    expect(rebuilt.exampleVersion).toBe(2);
    expect(rebuilt.classifier.labels).toEqual(["a", "b", "c"]);
    expect((await cache.get(task)).origin).toBe("memory");
    expect(cache.stats.builds).toBe(2);
  });

  it("restores the persisted classifier after a restart instead of rebuilding", async () => {
    const task = store.createTask(newTask("t"));
    store.addExamples(task.id, clusteredExamples(["a", "b"], 3));
    const before = (await new ClassifierCache(store).get(task)).classifier;
    store.close();
    store = new SavStore({ dataDir });
    const cache = new ClassifierCache(store);
    const after = await cache.get(task);
    expect(after.origin).toBe("store");
    expect(cache.stats.builds).toBe(0);
    expect(after.classifier.heads).toEqual(before.heads);
    expect(Array.from(after.classifier.centroids)).toEqual(Array.from(before.centroids));
  });

  it("ignores a persisted state from an older example version", async () => {
    const task = store.createTask(newTask("t"));
    store.addExamples(task.id, clusteredExamples(["a", "b"], 3));
    await new ClassifierCache(store).get(task);
    store.removeExamples(task.id, { label: "b" });
    store.addExamples(task.id, clusteredExamples(["b", "c"], 2, { seed: 3 }));
    const cache = new ClassifierCache(store);
    const current = await cache.get(task);
    expect(current.origin).toBe("built");
    expect(current.classifier.labels).toEqual(["a", "b", "c"]);
  });

  it("stays within its byte budget", async () => {
    const cache = new ClassifierCache(store, { maxBytes: 2_000 });
    for (const name of ["t1", "t2", "t3"]) {
      const task = store.createTask(newTask(name));
      store.addExamples(task.id, clusteredExamples(["a", "b"], 2));
      await cache.get(task);
    }
    expect(cache.calculatedBytes).toBeLessThanOrEqual(2_000);
    expect(cache.size).toBeLessThan(3);
    expect(cache.size).toBeGreaterThan(0);
  });

  it("reports a task with one label as a SavError", async () => {
    const task = store.createTask(newTask("t"));
    store.addExamples(task.id, clusteredExamples(["a"], 3));
    await expect(new ClassifierCache(store).get(task)).rejects.toThrow(SavError);
  });
});

import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { SavError, buildClassifier, classify, serializeClassifier } from "../../src/sav/index.js";
import { buildInThread, ClassifierCache, type ClassifierBuilder, SavStore } from "../../src/store/index.js";
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

  describe("with an injected builder", () => {
    /** Records each build and lets the test decide when it may run (the builder a server injects runs elsewhere). */
    function gatedBuilder() {
      const calls: AbortSignal[] = [];
      let open!: () => void;
      const gate = new Promise<void>((resolve) => (open = resolve));
      const build: ClassifierBuilder = async (examples, shape, options, signal) => {
        calls.push(signal);
        await Promise.race([gate, new Promise((_, reject) => signal.addEventListener("abort", () => reject(signal.reason), { once: true }))]);
        return buildInThread(examples, shape, options, signal);
      };
      return { calls, build, open };
    }

    it("uses it instead of building on the calling thread, with the same classifier", async () => {
      const task = store.createTask(newTask("t"));
      store.addExamples(task.id, clusteredExamples(["a", "b", "c"], 4));
      const { calls, build, open } = gatedBuilder();
      open();
      const injected = await new ClassifierCache(store, { build }).get(task);
      expect(calls).toHaveLength(1);
      expect(injected.origin).toBe("built");
      const { examples } = store.loadTrainingSet(task.id);
      const reference = buildClassifier(
        examples.map((e) => ({ vector: e.vectors, label: e.label })),
        task.shape,
        { k: task.k, selection: task.selection },
      );
      expect(serializeClassifier(injected.classifier)).toEqual(serializeClassifier(reference));
    });

    it("shares one build among concurrent calls for the same task and version", async () => {
      const task = store.createTask(newTask("t"));
      store.addExamples(task.id, clusteredExamples(["a", "b"], 3));
      const { calls, build, open } = gatedBuilder();
      const cache = new ClassifierCache(store, { build });
      const pending = [cache.get(task), cache.get(task, { signal: new AbortController().signal }), cache.get(task)];
      while (calls.length === 0) await new Promise((resolve) => setImmediate(resolve));
      open();
      const results = await Promise.all(pending);
      expect(calls).toHaveLength(1);
      expect(cache.stats.builds).toBe(1);
      expect(results.map((r) => r.classifier)).toEqual([results[0]!.classifier, results[0]!.classifier, results[0]!.classifier]);
      expect((await cache.get(task)).origin).toBe("memory");
    });

    it("aborts the build when its only caller cancels, caches nothing, and builds again on the next call", async () => {
      const task = store.createTask(newTask("t"));
      store.addExamples(task.id, clusteredExamples(["a", "b"], 3));
      const { calls, build, open } = gatedBuilder();
      const cache = new ClassifierCache(store, { build });
      const controller = new AbortController();
      const pending = cache.get(task, { signal: controller.signal });
      while (calls.length === 0) await new Promise((resolve) => setImmediate(resolve));
      controller.abort(new Error("user cancelled"));
      await expect(pending).rejects.toThrow("user cancelled");
      expect(calls[0]!.aborted).toBe(true);
      expect(cache.stats.builds).toBe(0);
      expect(cache.building).toBe(0);
      expect(store.getClassifierState(task.id)).toBeUndefined();
      open();
      expect((await cache.get(task)).origin).toBe("built");
      expect(calls).toHaveLength(2);
    });

    it("does not cache a build that was under way when its task was forgotten", async () => {
      const task = store.createTask(newTask("t"));
      store.addExamples(task.id, clusteredExamples(["a", "b"], 3));
      const { calls, build, open } = gatedBuilder();
      const cache = new ClassifierCache(store, { build });
      const pending = cache.get(task);
      while (calls.length === 0) await new Promise((resolve) => setImmediate(resolve));
      cache.forget(task.id);
      open();
      expect((await pending).origin).toBe("built");
      expect(cache.size).toBe(0);
    });

    it("passes the builder's SavError on", async () => {
      const task = store.createTask(newTask("t"));
      store.addExamples(task.id, clusteredExamples(["a"], 3));
      const { build, open } = gatedBuilder();
      open();
      const error = await new ClassifierCache(store, { build }).get(task).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(SavError);
      expect((error as SavError).code).toBe("too-few-classes");
    });
  });
});

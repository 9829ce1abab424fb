import path from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { PostgresTaskStore } from "../../src/store/postgres-store.js";
import { asTaskStore, SavStore, StoreError, type TaskStore } from "../../src/store/index.js";
import { createTestDatabase, postgresAvailable, type TestDatabase } from "../support/postgres.js";
import { clusteredExamples, newTask, SMALL_SHAPE } from "../support/store-fixtures.js";
import { makeTempDir } from "../support/temp-dir.js";

interface StoreKind {
  name: string;
  available: boolean;
  /** A store on an empty database, and a second handle on the same database (another process or replica). */
  open(): Promise<{ store: TaskStore; reopen: () => Promise<TaskStore>; cleanup: () => Promise<void> }>;
}

const sqlite: StoreKind = {
  name: "SQLite",
  available: true,
  async open() {
    const temp = makeTempDir();
    const dataDir = path.join(temp.dir, "data");
    return { store: asTaskStore(new SavStore({ dataDir })), reopen: async () => asTaskStore(new SavStore({ dataDir })), cleanup: async () => temp.cleanup() };
  },
};

const postgres: StoreKind = {
  name: "PostgreSQL",
  available: await postgresAvailable(),
  async open() {
    const database: TestDatabase = await createTestDatabase();
    return { store: await PostgresTaskStore.open({ url: database.url }), reopen: () => PostgresTaskStore.open({ url: database.url }), cleanup: () => database.drop() };
  },
};

for (const kind of [sqlite, postgres]) {
  describe.skipIf(!kind.available)(`the store contract on ${kind.name}`, () => {
    let store: TaskStore;
    let reopen: () => Promise<TaskStore>;
    let cleanup: () => Promise<void>;
    const others: TaskStore[] = [];

    beforeAll(async () => {
      ({ store, reopen, cleanup } = await kind.open());
    });
    afterAll(async () => {
      await Promise.all(others.map((s) => s.close()));
      await store?.close();
      await cleanup?.();
    });
    let counter = 0;
    let name: string;
    beforeEach(() => {
      name = `task-${++counter}`;
    });

    it("creates, reads and refuses duplicate names", async () => {
      const created = await store.createTask(newTask(name, { labels: ["x", "y"], description: "d" }));
      expect(created).toMatchObject({ name, labels: ["x", "y"], description: "d", exampleVersion: 0, shape: SMALL_SHAPE, randomWeights: false });
      expect(await store.getTask(name)).toEqual(created);
      expect(await store.getTaskById(created.id)).toEqual(created);
      expect(await store.getTask("missing")).toBeUndefined();
      await expect(store.createTask(newTask(name))).rejects.toMatchObject({ code: "duplicate-name" });
    });

    it("keeps a task's confidence threshold through create, update, clearing and a second handle", async () => {
      const task = await store.createTask(newTask(name, { minConfidence: 0.7 }));
      expect(task.minConfidence).toBe(0.7);
      expect((await store.updateTask(task.id, { minConfidence: 0.55 })).minConfidence).toBe(0.55);
      const other = await reopen();
      others.push(other);
      expect((await other.getTask(name))?.minConfidence).toBe(0.55);
      expect((await store.updateTask(task.id, { minConfidence: null })).minConfidence ?? null).toBeNull();
      expect((await store.createTask(newTask(`${name}-plain`))).minConfidence ?? null).toBeNull();
    });

    it("stores examples whole, with exact vectors, and bumps the version once per call", async () => {
      const task = await store.createTask(newTask(name));
      const examples = clusteredExamples(["a", "b"], 3, { text: "t" });
      const { ids, task: after } = await store.addExamples(task.id, examples);
      expect(ids).toHaveLength(6);
      expect(after.exampleVersion).toBe(1);
      const training = await store.loadTrainingSet(task.id);
      expect(training.exampleVersion).toBe(1);
      expect(training.examples.map((e) => [e.id, e.label, e.text, e.imageHashes])).toEqual(
        examples.map((e, i) => [ids[i], e.label, "t", e.imageHashes]),
      );
      training.examples.forEach((e, i) => expect(Array.from(e.vectors)).toEqual(Array.from(examples[i]!.vectors)));
      expect(await store.labelCounts(task.id)).toEqual({ a: 3, b: 3 });
      expect((await store.listExamples(task.id, { limit: 2, offset: 1 })).map((e) => e.id)).toEqual(ids.slice(1, 3));
    });

    it("stores nothing of a call with one bad example", async () => {
      const task = await store.createTask(newTask(name));
      const bad = [...clusteredExamples(["a"], 2), { label: "a", imageHashes: [], vectors: new Float32Array(3) }];
      await expect(store.addExamples(task.id, bad)).rejects.toMatchObject({ code: "shape-mismatch" });
      expect(await store.labelCounts(task.id)).toEqual({});
      expect(await store.exampleVersion(task.id)).toBe(0);
      await expect(store.addExamples(999_999, clusteredExamples(["a"], 1))).rejects.toMatchObject({ code: "unknown-task" });
    });

    it("removes by id (all or none) and by label", async () => {
      const task = await store.createTask(newTask(name));
      const { ids } = await store.addExamples(task.id, clusteredExamples(["a", "b"], 2));
      await expect(store.removeExamples(task.id, { ids: [ids[0]!, 999_999] })).rejects.toBeInstanceOf(StoreError);
      expect(await store.labelCounts(task.id)).toEqual({ a: 2, b: 2 });
      const byId = await store.removeExamples(task.id, { ids: [ids[1]!, ids[0]!] });
      expect(byId.removed).toEqual([ids[0], ids[1]]);
      expect(byId.task.exampleVersion).toBe(2);
      const byLabel = await store.removeExamples(task.id, { label: "b" });
      expect(byLabel.removed).toEqual([ids[2], ids[3]]);
      expect(await store.labelCounts(task.id)).toEqual({});
      const none = await store.removeExamples(task.id, { label: "b" });
      expect(none.task.exampleVersion).toBe(3);
    });

    it("pages tasks in bytewise name order with their own counts", async () => {
      const prefix = `${name}-`;
      for (const suffix of ["b", "B", "a", "_"]) {
        const task = await store.createTask(newTask(prefix + suffix));
        if (suffix === "a") await store.addExamples(task.id, clusteredExamples(["p", "q"], 2));
      }
      const mine = (await store.listTasks()).filter((t) => t.name.startsWith(prefix));
      expect(mine.map((t) => t.name)).toEqual(["B", "_", "a", "b"].map((s) => prefix + s));
      expect(mine.find((t) => t.name === `${prefix}a`)).toMatchObject({ exampleCount: 4, examplesPerLabel: { p: 2, q: 2 } });
      const page = await store.listTasks({ afterName: `${prefix}_`, limit: 1 });
      expect(page.map((t) => t.name)).toEqual([`${prefix}a`]);
      expect((await store.taskNames()).filter((n) => n.startsWith(prefix))).toEqual(mine.map((t) => t.name));
    });

    it("keeps a classifier state only for the version it was built from", async () => {
      const task = await store.createTask(newTask(name));
      await store.addExamples(task.id, clusteredExamples(["a", "b"], 1));
      expect(await store.saveClassifierState(task.id, 1, new Uint8Array([1, 2, 3]))).toBe(true);
      expect(await store.getClassifierState(task.id)).toEqual({ exampleVersion: 1, state: new Uint8Array([1, 2, 3]) });
      await store.addExamples(task.id, clusteredExamples(["a"], 1));
      expect(await store.saveClassifierState(task.id, 1, new Uint8Array([9]))).toBe(false);
      expect((await store.getClassifierState(task.id))?.state).toEqual(new Uint8Array([1, 2, 3]));
    });

    it("deletes a task with its examples and never reuses its id", async () => {
      const task = await store.createTask(newTask(name));
      await store.addExamples(task.id, clusteredExamples(["a"], 2));
      await store.saveClassifierState(task.id, 1, new Uint8Array([1]));
      expect(await store.deleteTask(name)).toBe(true);
      expect(await store.deleteTask(name)).toBe(false);
      expect(await store.getTaskById(task.id)).toBeUndefined();
      expect(await store.exampleVersion(task.id)).toBeUndefined();
      expect(await store.getClassifierState(task.id)).toBeUndefined();
      const again = await store.createTask(newTask(name));
      expect(again.id).toBeGreaterThan(task.id);
    });

    it("keeps processing options and image sources, and removes examples by source", async () => {
      const task = await store.createTask(newTask(name, { processing: { maxPixels: 401408 } }));
      expect((await store.getTask(name))?.processing).toEqual({ maxPixels: 401408 });
      expect((await store.createTask(newTask(`${name}-plain`))).processing).toEqual({});
      const [first, second] = clusteredExamples(["a"], 2);
      const { ids } = await store.addExamples(task.id, [
        { ...first!, sources: ["/img/one.png"] },
        { ...second!, sources: ["https://example.com/two.png"] },
      ]);
      expect((await store.listExamples(task.id)).map((e) => e.sources)).toEqual([["/img/one.png"], ["https://example.com/two.png"]]);
      const removed = await store.removeExamples(task.id, { sources: ["https://example.com/two.png", "/not/there.png"] });
      expect(removed.removed).toEqual([ids[1]]);
      expect((await store.listExamples(task.id)).map((e) => e.id)).toEqual([ids[0]]);
    });

    it("updates settings, bumping the version only when the classifier could change", async () => {
      const task = await store.createTask(newTask(name, { labels: ["a", "b"] }));
      expect((await store.updateTask(task.id, { prompt: "New prompt?" })).prompt).toBe("New prompt?");
      await store.addExamples(task.id, [...clusteredExamples(["a"], 1), ...clusteredExamples(["b"], 1)]);
      const base = (await store.exampleVersion(task.id))!;
      expect((await store.updateTask(task.id, { description: "words" })).exampleVersion).toBe(base);
      expect((await store.updateTask(task.id, { k: 2 })).exampleVersion).toBe(base + 1);
      await expect(store.updateTask(task.id, { renameLabel: { from: "a", to: "b" } })).rejects.toMatchObject({ code: "label-exists" });
      await expect(store.updateTask(task.id, { prompt: "Other?" })).rejects.toMatchObject({ code: "has-examples" });
      const renamed = await store.updateTask(task.id, { renameLabel: { from: "a", to: "c" }, labels: ["b", "c"] });
      expect(renamed).toMatchObject({ labels: ["b", "c"], exampleVersion: base + 2 });
      expect(await store.labelCounts(task.id)).toEqual({ b: 1, c: 1 });
      await expect(store.updateTask(999_999, { k: 1 })).rejects.toMatchObject({ code: "unknown-task" });
    });

    it("makes a write on one handle visible on another handle of the same database", async () => {
      const other = await reopen();
      others.push(other);
      const task = await store.createTask(newTask(name));
      await other.addExamples(task.id, clusteredExamples(["a", "b"], 2));
      expect(await store.exampleVersion(task.id)).toBe(1);
      expect(await store.labelCounts(task.id)).toEqual({ a: 2, b: 2 });
    });

    it("keeps every whole call when two handles add examples to one task at once", async () => {
      const other = await reopen();
      others.push(other);
      const task = await store.createTask(newTask(name));
      const calls = Array.from({ length: 8 }, (_, i) => ({ via: i % 2 ? other : store, examples: clusteredExamples([`l${i}`], 3, { seed: i + 1 }) }));
      const results = await Promise.all(calls.map((c) => c.via.addExamples(task.id, c.examples)));
      expect(await store.exampleVersion(task.id)).toBe(calls.length);
      // Each call got its own consecutive version; each call's examples are all there.
      expect(results.map((r) => r.task.exampleVersion).sort((a, b) => a - b)).toEqual(calls.map((_, i) => i + 1));
      const counts = await store.labelCounts(task.id);
      expect(counts).toEqual(Object.fromEntries(calls.map((_, i) => [`l${i}`, 3])));
    });
  });
}

import fs from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { SCHEMA_VERSION, SavStore, StoreError, float32ToLittleEndian, littleEndianToFloat32 } from "../../src/store/index.js";
import { makeTempDir } from "../support/temp-dir.js";
import { SMALL_SHAPE, clusteredExamples, newTask } from "../support/store-fixtures.js";

describe("SavStore", () => {
  let dir: string;
  let cleanup: () => void;
  let store: SavStore;

  beforeEach(() => {
    ({ dir, cleanup } = makeTempDir());
    store = new SavStore({ dataDir: path.join(dir, "data") });
  });
  afterEach(() => {
    store.close();
    cleanup();
  });

  it("creates the database in WAL mode with foreign keys and the current schema version", () => {
    expect(fs.existsSync(path.join(dir, "data", "sav.db"))).toBe(true);
    const db = new Database(store.file, { readonly: true });
    try {
      expect(db.pragma("journal_mode", { simple: true })).toBe("wal");
      const versions = db.prepare("SELECT version FROM schema_migrations ORDER BY version").all() as { version: number }[];
      expect(versions.map((v) => v.version)).toEqual(Array.from({ length: SCHEMA_VERSION }, (_, i) => i + 1));
    } finally {
      db.close();
    }
  });

  it("stores a task and refuses a duplicate name", () => {
    const created = store.createTask(newTask("colours", { labels: ["red", "blue"], description: "d" }));
    expect(created).toMatchObject({ name: "colours", labels: ["red", "blue"], description: "d", exampleVersion: 0, shape: SMALL_SHAPE });
    expect(() => store.createTask(newTask("colours"))).toThrow(StoreError);
    expect(store.taskNames()).toEqual(["colours"]);
  });

  it("adds examples in one transaction and bumps the example version", () => {
    const task = store.createTask(newTask("t"));
    const { ids, task: after } = store.addExamples(task.id, clusteredExamples(["a", "b"], 2));
    expect(ids).toHaveLength(4);
    expect(after.exampleVersion).toBe(1);
    expect(store.labelCounts(task.id)).toEqual({ a: 2, b: 2 });
    const training = store.loadTrainingSet(task.id);
    expect(training.exampleVersion).toBe(1);
    expect(training.examples.map((e) => e.label)).toEqual(["a", "a", "b", "b"]);
    expect(Array.from(training.examples[0]!.vectors)).toEqual(Array.from(clusteredExamples(["a", "b"], 2)[0]!.vectors));
  });

  it("stores nothing from a call whose last example is invalid", () => {
    const task = store.createTask(newTask("t"));
    const examples = clusteredExamples(["a", "b"], 2);
    examples.push({ label: "a", imageHashes: [], vectors: new Float32Array(3) });
    expect(() => store.addExamples(task.id, examples)).toThrow(/shape/);
    expect(store.labelCounts(task.id)).toEqual({});
    expect(store.exampleVersion(task.id)).toBe(0);
  });

  it("removes examples by id (all or nothing) and by label", () => {
    const task = store.createTask(newTask("t"));
    const { ids } = store.addExamples(task.id, clusteredExamples(["a", "b"], 3));
    expect(() => store.removeExamples(task.id, { ids: [ids[0]!, 999_999] })).toThrow(/999999/);
    expect(store.labelCounts(task.id)).toEqual({ a: 3, b: 3 });
    const byId = store.removeExamples(task.id, { ids: [ids[0]!] });
    expect(byId.removed).toEqual([ids[0]]);
    expect(byId.task.exampleVersion).toBe(2);
    const byLabel = store.removeExamples(task.id, { label: "b" });
    expect(byLabel.removed).toEqual(ids.slice(3));
    expect(store.labelCounts(task.id)).toEqual({ a: 2 });
    const none = store.removeExamples(task.id, { label: "zzz" });
    expect(none.removed).toEqual([]);
    expect(none.task.exampleVersion).toBe(3);
  });

  it("deletes a task with its examples and classifier state, and never reuses its id", () => {
    const task = store.createTask(newTask("t"));
    store.addExamples(task.id, clusteredExamples(["a", "b"], 2));
    store.saveClassifierState(task.id, 1, new Uint8Array([1, 2, 3]));
    expect(store.deleteTask("t")).toBe(true);
    expect(store.deleteTask("t")).toBe(false);
    expect(store.getTask("t")).toBeUndefined();
    expect(store.getClassifierState(task.id)).toBeUndefined();
    const again = store.createTask(newTask("t"));
    expect(again.id).not.toBe(task.id);
    expect(store.listExamples(again.id)).toEqual([]);
  });

  it("never persists a classifier state for a stale example version", () => {
    const task = store.createTask(newTask("t"));
    store.addExamples(task.id, clusteredExamples(["a", "b"], 2));
    expect(store.saveClassifierState(task.id, 0, new Uint8Array([9]))).toBe(false);
    expect(store.getClassifierState(task.id)).toBeUndefined();
    expect(store.saveClassifierState(task.id, 1, new Uint8Array([7, 8]))).toBe(true);
    expect(store.getClassifierState(task.id)).toEqual({ exampleVersion: 1, state: new Uint8Array([7, 8]) });
  });

  it("keeps everything across reopening, and a second instance sees the first one's writes", () => {
    const task = store.createTask(newTask("t", { labels: ["a", "b"] }));
    const other = new SavStore({ dataDir: path.join(dir, "data") });
    try {
      store.addExamples(task.id, clusteredExamples(["a"], 2));
      other.addExamples(task.id, clusteredExamples(["b"], 1));
      expect(store.labelCounts(task.id)).toEqual({ a: 2, b: 1 });
      expect(other.getTask("t")?.exampleVersion).toBe(2);
    } finally {
      other.close();
    }
    store.close();
    store = new SavStore({ dataDir: path.join(dir, "data") });
    expect(store.listTasks()).toMatchObject([{ name: "t", exampleCount: 3, examplesPerLabel: { a: 2, b: 1 }, labels: ["a", "b"] }]);
  });

  it("creates a task with its examples atomically", () => {
    const examples = clusteredExamples(["a", "b"], 2);
    const created = store.createTaskWithExamples(newTask("imported"), examples);
    expect(created.exampleVersion).toBe(1);
    expect(store.labelCounts(created.id)).toEqual({ a: 2, b: 2 });
    const broken = [...examples, { label: "a", imageHashes: [], vectors: new Float32Array(1) }];
    expect(() => store.createTaskWithExamples(newTask("broken"), broken)).toThrow(StoreError);
    expect(store.getTask("broken")).toBeUndefined();
  });
});

describe("float32 little-endian encoding", () => {
  it("writes IEEE-754 little-endian bytes and reads them back from an unaligned buffer", () => {
    const values = new Float32Array([1, -2.5, Math.PI, 0]);
    const bytes = float32ToLittleEndian(values);
    expect(bytes.readFloatLE(4)).toBe(-2.5);
    expect([...bytes.subarray(0, 4)]).toEqual([0x00, 0x00, 0x80, 0x3f]);
    const unaligned = new Uint8Array(bytes.length + 1);
    unaligned.set(bytes, 1);
    expect(Array.from(littleEndianToFloat32(unaligned.subarray(1)))).toEqual(Array.from(values));
    expect(() => littleEndianToFloat32(new Uint8Array(5))).toThrow(RangeError);
  });
});

import path from "node:path";
import Database from "better-sqlite3";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { SavStore, StoreError } from "../../src/store/index.js";
import { makeTempDir } from "../support/temp-dir.js";
import { clusteredExamples, newTask } from "../support/store-fixtures.js";

describe("example sources and task updates", () => {
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

  function withSources(labels: string[], perLabel: number) {
    return clusteredExamples(labels, perLabel).map((e, i) => ({ ...e, sources: [`/img/${e.label}-${i}.png`, `https://h/${i}.png`] }));
  }

  it("stores each example's sources and removes by any of them", () => {
    const task = store.createTask(newTask("t"));
    store.addExamples(task.id, withSources(["a", "b"], 2));
    const listed = store.listExamples(task.id);
    expect(listed.map((e) => e.sources)).toEqual([
      ["/img/a-0.png", "https://h/0.png"],
      ["/img/a-1.png", "https://h/1.png"],
      ["/img/b-2.png", "https://h/2.png"],
      ["/img/b-3.png", "https://h/3.png"],
    ]);
    const { removed, task: after } = store.removeExamples(task.id, { sources: ["/img/a-1.png", "https://h/3.png", "/nope.png"] });
    expect(removed).toEqual([listed[1]!.id, listed[3]!.id]);
    expect(after.exampleVersion).toBe(2);
    expect(store.removeExamples(task.id, { sources: ["/nope.png"] }).removed).toEqual([]);
  });

  it("opens a database written before sources were kept; old rows have null sources", () => {
    store.close();
    const file = path.join(dir, "old", "sav.db");
    const old = new SavStore({ dataDir: path.join(dir, "old") });
    const task = old.createTask(newTask("legacy"));
    old.addExamples(task.id, clusteredExamples(["a", "b"], 1));
    old.close();
    // Take the database back to schema version 1: no sources, processing or min_confidence column, one recorded migration.
    const db = new Database(file);
    db.exec(
      "ALTER TABLE examples DROP COLUMN sources; ALTER TABLE tasks DROP COLUMN processing; ALTER TABLE tasks DROP COLUMN min_confidence; " +
        "DELETE FROM schema_migrations WHERE version > 1;",
    );
    db.close();
    store = new SavStore({ dataDir: path.join(dir, "old") });
    const reopened = store.getTask("legacy")!;
    expect(store.listExamples(reopened.id).map((e) => e.sources)).toEqual([null, null]);
    expect(reopened.processing).toEqual({});
    expect(store.loadTrainingSet(reopened.id).examples).toHaveLength(2);
    store.addExamples(reopened.id, withSources(["a"], 1));
    expect(store.listExamples(reopened.id).map((e) => e.sources?.length ?? null)).toEqual([null, null, 2]);
  });

  it("bumps the version for heads, selection and renames, not for description or new labels", () => {
    const task = store.createTask(newTask("t", { labels: ["a", "b"] }));
    store.addExamples(task.id, clusteredExamples(["a", "b"], 2));
    const v = store.getTask("t")!.exampleVersion;
    const described = store.updateTask(task.id, { description: "new", labels: ["a", "b", "c"] });
    expect(described).toMatchObject({ description: "new", labels: ["a", "b", "c"], exampleVersion: v });
    expect(store.updateTask(task.id, { k: 7 })).toMatchObject({ k: 7, exampleVersion: v + 1 });
    expect(store.updateTask(task.id, { k: 7 }).exampleVersion).toBe(v + 1);
    expect(store.updateTask(task.id, { selection: "leave-one-out" }).exampleVersion).toBe(v + 2);
    const renamed = store.updateTask(task.id, { renameLabel: { from: "a", to: "c" }, labels: ["c", "b"] });
    expect(renamed).toMatchObject({ labels: ["c", "b"], exampleVersion: v + 3 });
    expect(store.labelCounts(task.id)).toEqual({ b: 2, c: 2 });
  });

  it("refuses a rename onto a label with examples and a prompt change with examples, changing nothing", () => {
    const task = store.createTask(newTask("t"));
    expect(store.updateTask(task.id, { prompt: "New?" }).prompt).toBe("New?");
    store.addExamples(task.id, clusteredExamples(["a", "b"], 1));
    const before = store.getTask("t")!;
    const codeOf = (fn: () => unknown) => {
      try {
        fn();
      } catch (error) {
        return (error as StoreError).code;
      }
      return undefined;
    };
    expect(codeOf(() => store.updateTask(task.id, { renameLabel: { from: "a", to: "b" }, k: 9 }))).toBe("label-exists");
    expect(codeOf(() => store.updateTask(task.id, { prompt: "Other?", k: 9 }))).toBe("has-examples");
    expect(store.getTask("t")).toEqual(before);
    expect(store.labelCounts(task.id)).toEqual({ a: 1, b: 1 });
  });
});

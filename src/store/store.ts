import fs from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import { migrate } from "./schema.js";
import { EXAMPLE_COLUMNS, EXAMPLE_INSERT_COLUMNS, exampleFromRow, exampleInsertValues, taskFromRow, type ExampleRow, type TaskRow } from "./rows.js";
import { describeStorageFailure, nameStorageFailures } from "./storage-failures.js";
import { applyTaskChanges, examplesWithSources } from "./task-updates.js";
import {
  StoreError,
  type ClassifierState,
  type ExampleRecord,
  type ExampleWithVectors,
  type NewExample,
  type NewTask,
  type RemoveWhich,
  type TaskChanges,
  type TaskListOptions,
  type TaskRecord,
  type TaskSummary,
} from "./types.js";
import { littleEndianToFloat32 } from "./vectors.js";

export const DATABASE_FILE = "sav.db";

export interface StoreOptions {
  /** Directory holding `sav.db`; created if missing. */
  dataDir: string;
  /** How long a writer waits for another process's lock before failing. */
  busyTimeoutMs?: number;
  /** Test seam: caps the database at this many pages, so a "full disk" (SQLITE_FULL) can be met on purpose. */
  maxPageCount?: number;
}

const now = (): string => new Date().toISOString();

/**
 * Tasks, examples and built classifier state in one SQLite file. Every mutation is a single
 * IMMEDIATE transaction, so a killed process leaves each call either fully stored or not at all,
 * and several processes can share the file (WAL + busy timeout).
 */
export class SavStore {
  readonly file: string;
  private readonly db: Database.Database;

  constructor(options: StoreOptions) {
    this.file = path.join(path.resolve(options.dataDir), DATABASE_FILE);
    let db: Database.Database | undefined;
    try {
      fs.mkdirSync(options.dataDir, { recursive: true });
      db = new Database(this.file);
      db.pragma(`busy_timeout = ${Math.max(0, Math.floor(options.busyTimeoutMs ?? 10_000))}`);
      db.pragma("journal_mode = WAL");
      // FULL: a commit survives a power cut too, not only a process crash; writes are rare and small.
      db.pragma("synchronous = FULL");
      db.pragma("foreign_keys = ON");
      if (options.maxPageCount !== undefined) db.pragma(`max_page_count = ${Math.floor(options.maxPageCount)}`);
      migrate(db, this.file);
    } catch (error) {
      if (db?.open) db.close();
      throw describeStorageFailure(error, this.file) ?? error;
    }
    this.db = db;
  }

  close(): void {
    if (this.db.open) this.db.close();
  }

  createTask(task: NewTask): TaskRecord {
    const insert = this.db.transaction((): TaskRecord => {
      if (this.findTaskRow(task.name)) {
        throw new StoreError("duplicate-name", `A task named '${task.name}' already exists.`);
      }
      const stamp = now();
      const info = this.db
        .prepare(
          `INSERT INTO tasks (name, description, prompt, labels, k, selection, model_id, model_fingerprint,
             random_weights, layers, heads, head_dim, processing, example_version, min_confidence, created_at, updated_at)
           VALUES (@name, @description, @prompt, @labels, @k, @selection, @modelId, @modelFingerprint,
             @randomWeights, @layers, @heads, @headDim, @processing, 0, @minConfidence, @stamp, @stamp)`,
        )
        .run({
          name: task.name,
          description: task.description ?? null,
          prompt: task.prompt,
          labels: task.labels ? JSON.stringify(task.labels) : null,
          k: task.k,
          selection: task.selection,
          modelId: task.modelId,
          modelFingerprint: task.modelFingerprint,
          randomWeights: task.randomWeights ? 1 : 0,
          layers: task.shape.layers,
          heads: task.shape.heads,
          headDim: task.shape.headDim,
          processing: task.processing && Object.keys(task.processing).length > 0 ? JSON.stringify(task.processing) : null,
          minConfidence: task.minConfidence ?? null,
          stamp,
        });
      return this.requireTaskById(Number(info.lastInsertRowid));
    });
    return insert.immediate();
  }

  /** Creates a task and its examples in one transaction (import). */
  createTaskWithExamples(task: NewTask, examples: NewExample[]): TaskRecord {
    const run = this.db.transaction((): TaskRecord => {
      const created = this.createTask(task);
      this.insertExamples(created, examples);
      return this.requireTaskById(created.id);
    });
    return run.immediate();
  }

  getTask(name: string): TaskRecord | undefined {
    const row = this.findTaskRow(name);
    return row ? taskFromRow(row) : undefined;
  }

  getTaskById(id: number): TaskRecord | undefined {
    const row = this.db.prepare("SELECT * FROM tasks WHERE id = ?").get(id) as TaskRow | undefined;
    return row ? taskFromRow(row) : undefined;
  }

  taskNames(): string[] {
    return (this.db.prepare("SELECT name FROM tasks ORDER BY name").all() as { name: string }[]).map((r) => r.name);
  }

  /** Tasks with example counts in name order; all of them unless paged (names after `afterName`, at most `limit`). */
  listTasks(options: TaskListOptions = {}): TaskSummary[] {
    const read = this.db.transaction((): TaskSummary[] => {
      const rows = this.db
        .prepare("SELECT * FROM tasks WHERE name > ? ORDER BY name LIMIT ?")
        .all(options.afterName ?? "", options.limit ?? -1) as TaskRow[];
      const tasks = rows.map(taskFromRow);
      if (tasks.length === 0) return [];
      const counts = this.db
        .prepare(
          `SELECT task_id, label, COUNT(*) AS n FROM examples WHERE task_id IN (${tasks.map(() => "?").join(", ")})
           GROUP BY task_id, label ORDER BY label`,
        )
        .all(...tasks.map((t) => t.id)) as { task_id: number; label: string; n: number }[];
      const byTask = new Map<number, { task_id: number; label: string; n: number }[]>();
      for (const c of counts) byTask.set(c.task_id, [...(byTask.get(c.task_id) ?? []), c]);
      return tasks.map((task) => {
        const own = byTask.get(task.id) ?? [];
        // Object.fromEntries defines own properties: a label such as "__proto__" stays a label.
        const examplesPerLabel: Record<string, number> = Object.fromEntries(own.map((c) => [c.label, c.n]));
        const exampleCount = own.reduce((sum, c) => sum + c.n, 0);
        return { ...task, exampleCount, examplesPerLabel };
      });
    });
    return read();
  }

  /** Examples per label, labels in sorted order. */
  labelCounts(taskId: number): Record<string, number> {
    const rows = this.db
      .prepare("SELECT label, COUNT(*) AS n FROM examples WHERE task_id = ? GROUP BY label ORDER BY label")
      .all(taskId) as { label: string; n: number }[];
    return Object.fromEntries(rows.map((r) => [r.label, r.n]));
  }

  /** Deletes the task, its examples and its classifier state. Returns false when no such task. */
  deleteTask(name: string): boolean {
    const run = this.db.transaction(() => this.db.prepare("DELETE FROM tasks WHERE name = ?").run(name).changes > 0);
    return run.immediate();
  }

  /**
   * Stores all examples or none, and bumps the task's example version.
   * Fails if the task was deleted meanwhile (by this or another process).
   */
  addExamples(taskId: number, examples: NewExample[]): { ids: number[]; task: TaskRecord } {
    const run = this.db.transaction(() => {
      const task = this.getTaskById(taskId);
      if (!task) throw new StoreError("unknown-task", `The task (id ${taskId}) no longer exists.`);
      const ids = this.insertExamples(task, examples);
      return { ids, task: this.requireTaskById(taskId) };
    });
    return run.immediate();
  }

  /**
   * Removes examples by id (all must belong to the task, else nothing is removed) or every example
   * with a label. Returns the removed ids.
   */
  removeExamples(taskId: number, which: RemoveWhich): { removed: number[]; task: TaskRecord } {
    const run = this.db.transaction(() => {
      let ids: number[];
      if ("ids" in which) {
        const wanted = [...new Set(which.ids)];
        const owned = new Set(
          (this.db.prepare("SELECT id FROM examples WHERE task_id = ?").all(taskId) as { id: number }[]).map((r) => r.id),
        );
        const unknown = wanted.filter((id) => !owned.has(id));
        if (unknown.length > 0) {
          throw new StoreError("unknown-examples", `No example with id ${unknown.join(", ")} in this task.`);
        }
        ids = wanted;
      } else if ("sources" in which) {
        ids = examplesWithSources(this.db, taskId, which.sources);
      } else {
        ids = (
          this.db.prepare("SELECT id FROM examples WHERE task_id = ? AND label = ?").all(taskId, which.label) as {
            id: number;
          }[]
        ).map((r) => r.id);
      }
      const remove = this.db.prepare("DELETE FROM examples WHERE id = ? AND task_id = ?");
      for (const id of ids) remove.run(id, taskId);
      if (ids.length > 0) this.bumpVersion(taskId);
      const task = this.getTaskById(taskId);
      if (!task) throw new StoreError("unknown-task", `The task (id ${taskId}) no longer exists.`);
      return { removed: ids.sort((a, b) => a - b), task };
    });
    return run.immediate();
  }

  /** Applies setting changes in one transaction (see TaskChanges for which bump the example version). */
  updateTask(taskId: number, changes: TaskChanges): TaskRecord {
    const run = this.db.transaction((): TaskRecord => {
      const task = this.getTaskById(taskId);
      if (!task) throw new StoreError("unknown-task", `The task (id ${taskId}) no longer exists.`);
      applyTaskChanges(this.db, task, changes, now());
      return this.requireTaskById(taskId);
    });
    return run.immediate();
  }

  /** Example metadata without vectors, in insertion order. */
  listExamples(taskId: number, options: { limit?: number; offset?: number } = {}): ExampleRecord[] {
    const rows = this.db
      .prepare(
        `SELECT ${EXAMPLE_COLUMNS} FROM examples WHERE task_id = ? ORDER BY id LIMIT ? OFFSET ?`,
      )
      .all(taskId, options.limit ?? -1, options.offset ?? 0) as ExampleRow[];
    return rows.map(exampleFromRow);
  }

  /** All examples with vectors and the example version they correspond to, read from one snapshot. */
  loadTrainingSet(taskId: number): { exampleVersion: number; examples: ExampleWithVectors[] } {
    const read = this.db.transaction(() => {
      const task = this.getTaskById(taskId);
      if (!task) throw new StoreError("unknown-task", `The task (id ${taskId}) no longer exists.`);
      const rows = this.db.prepare("SELECT * FROM examples WHERE task_id = ? ORDER BY id").all(taskId) as ExampleRow[];
      const examples = rows.map((row) => ({ ...exampleFromRow(row), vectors: littleEndianToFloat32(row.vectors!) }));
      return { exampleVersion: task.exampleVersion, examples };
    });
    return read();
  }

  /** Up to `limit` examples with vectors whose id is above `afterId`, in id order (a page of loadTrainingSet). */
  trainingPage(taskId: number, afterId: number, limit: number): ExampleWithVectors[] {
    const rows = this.db.prepare("SELECT * FROM examples WHERE task_id = ? AND id > ? ORDER BY id LIMIT ?").all(taskId, afterId, limit) as ExampleRow[];
    return rows.map((row) => ({ ...exampleFromRow(row), vectors: littleEndianToFloat32(row.vectors!) }));
  }

  exampleVersion(taskId: number): number | undefined {
    const row = this.db.prepare("SELECT example_version FROM tasks WHERE id = ?").get(taskId) as
      | { example_version: number }
      | undefined;
    return row?.example_version;
  }

  getClassifierState(taskId: number): ClassifierState | undefined {
    const row = this.db.prepare("SELECT example_version, state FROM classifiers WHERE task_id = ?").get(taskId) as
      | { example_version: number; state: Buffer }
      | undefined;
    return row ? { exampleVersion: row.example_version, state: new Uint8Array(row.state) } : undefined;
  }

  /**
   * Persists a built classifier, unless the task's examples changed since `exampleVersion`
   * (another call or process got there first): a stale state is never written.
   */
  saveClassifierState(taskId: number, exampleVersion: number, state: Uint8Array): boolean {
    const run = this.db.transaction(() => {
      if (this.exampleVersion(taskId) !== exampleVersion) return false;
      this.db
        .prepare(
          `INSERT INTO classifiers (task_id, example_version, state, built_at) VALUES (?, ?, ?, ?)
           ON CONFLICT(task_id) DO UPDATE SET example_version = excluded.example_version, state = excluded.state,
             built_at = excluded.built_at`,
        )
        .run(taskId, exampleVersion, Buffer.from(state.buffer, state.byteOffset, state.byteLength), now());
      return true;
    });
    return run.immediate();
  }

  private insertExamples(task: TaskRecord, examples: NewExample[]): number[] {
    const insert = this.db.prepare(`INSERT INTO examples (${EXAMPLE_INSERT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`);
    const stamp = now();
    const ids: number[] = [];
    for (const example of examples) {
      ids.push(Number(insert.run(...exampleInsertValues(task, example, stamp)).lastInsertRowid));
    }
    if (examples.length > 0) this.bumpVersion(task.id);
    return ids;
  }

  private bumpVersion(taskId: number): void {
    this.db
      .prepare("UPDATE tasks SET example_version = example_version + 1, updated_at = ? WHERE id = ?")
      .run(now(), taskId);
  }

  private findTaskRow(name: string): TaskRow | undefined {
    return this.db.prepare("SELECT * FROM tasks WHERE name = ?").get(name) as TaskRow | undefined;
  }

  private requireTaskById(id: number): TaskRecord {
    const task = this.getTaskById(id);
    if (!task) throw new StoreError("unknown-task", `The task (id ${id}) no longer exists.`);
    return task;
  }
}

// Every query may meet a damaged file, a full disk or a read-only directory: each method names them.
nameStorageFailures(SavStore.prototype);

import pg from "pg";
import { migratePostgres } from "./postgres-migrations.js";
import type { Query } from "./postgres-rows.js";
import { EXAMPLE_COLUMNS, EXAMPLE_INSERT_COLUMNS, exampleFromRow, exampleInsertValues, taskFromRow, type ExampleRow, type TaskRow } from "./rows.js";
import { applyTaskChanges, examplesWithSources } from "./postgres-task-updates.js";
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
  type TaskStore,
  type TaskSummary,
} from "./types.js";
import { littleEndianToFloat32 } from "./vectors.js";

/** Bytewise name order, the same as SQLite's default, whatever the database's collation. */
const BYTE_ORDER = 'COLLATE "C"';
const UNIQUE_VIOLATION = "23505";
const DEFAULT_POOL_SIZE = 8;

export function isPostgresUrl(url: string | undefined): url is string {
  return url !== undefined && /^postgres(ql)?:\/\//i.test(url.trim());
}

/** A connection failure, worded without the URL (it may hold a password). */
function unavailable(cause: unknown): StoreError {
  const code = (cause as { code?: string })?.code;
  return new StoreError(
    "unavailable",
    `The task store (PostgreSQL) is not reachable${code ? ` (${code})` : ""}; nothing was changed. Retry shortly; if it persists, the operator should check SAV_STORE_URL and the database server.`,
  );
}

const now = (): string => new Date().toISOString();

export interface PostgresStoreOptions {
  url: string;
  poolSize?: number;
}

/**
 * Tasks, examples and classifier state in PostgreSQL, for several replicas on one database. Each
 * method is one transaction; writers lock the task row, so concurrent calls on one task from any
 * replica apply one after the other and each bumps the example version once.
 */
export class PostgresTaskStore implements TaskStore {
  private readonly pool: pg.Pool;
  private active = 0;
  private closing: Promise<void> | undefined;
  private idle: (() => void) | undefined;

  private constructor(options: PostgresStoreOptions) {
    this.pool = new pg.Pool({ connectionString: options.url, max: options.poolSize ?? DEFAULT_POOL_SIZE });
    // An idle client losing its connection must not crash the process; the next call reconnects.
    this.pool.on("error", (error) => process.stderr.write(`sav-mcp: PostgreSQL connection lost: ${error.message}\n`));
  }

  /** Connects and migrates (replicas starting at once serialize on an advisory lock). */
  static async open(options: PostgresStoreOptions): Promise<PostgresTaskStore> {
    const store = new PostgresTaskStore(options);
    try {
      await store.run(async (client) => migratePostgres(client));
    } catch (error) {
      await store.pool.end().catch(() => undefined);
      throw error;
    }
    return store;
  }

  /** One round trip, for readiness checks. */
  async ping(): Promise<void> {
    await this.read((query) => query("SELECT 1"));
  }

  async createTask(task: NewTask): Promise<TaskRecord> {
    return this.transaction((query) => this.insertTask(query, task));
  }

  async createTaskWithExamples(task: NewTask, examples: NewExample[]): Promise<TaskRecord> {
    return this.transaction(async (query) => {
      const created = await this.insertTask(query, task);
      await this.insertExamples(query, created, examples);
      return this.requireTask(query, created.id);
    });
  }

  async getTask(name: string): Promise<TaskRecord | undefined> {
    const { rows } = await this.read((query) => query<TaskRow>("SELECT * FROM sav_tasks WHERE name = $1", [name]));
    return rows[0] ? taskFromRow(rows[0]) : undefined;
  }

  async getTaskById(id: number): Promise<TaskRecord | undefined> {
    return this.read((query) => this.findTask(query, id));
  }

  async taskNames(): Promise<string[]> {
    const { rows } = await this.read((query) => query<{ name: string }>(`SELECT name FROM sav_tasks ORDER BY name ${BYTE_ORDER}`));
    return rows.map((r) => r.name);
  }

  async listTasks(options: TaskListOptions = {}): Promise<TaskSummary[]> {
    return this.transaction(async (query) => {
      const { rows } = await query<TaskRow>(
        `SELECT * FROM sav_tasks WHERE name ${BYTE_ORDER} > $1 ORDER BY name ${BYTE_ORDER} LIMIT $2`,
        [options.afterName ?? "", options.limit ?? null],
      );
      const tasks = rows.map(taskFromRow);
      if (tasks.length === 0) return [];
      const counts = await query<{ task_id: string; label: string; n: string }>(
        `SELECT task_id, label, COUNT(*) AS n FROM sav_examples WHERE task_id = ANY($1::bigint[])
         GROUP BY task_id, label ORDER BY label ${BYTE_ORDER}`,
        [tasks.map((t) => t.id)],
      );
      return tasks.map((task) => {
        const examplesPerLabel: Record<string, number> = {};
        let exampleCount = 0;
        for (const c of counts.rows) {
          if (Number(c.task_id) !== task.id) continue;
          examplesPerLabel[c.label] = Number(c.n);
          exampleCount += Number(c.n);
        }
        return { ...task, exampleCount, examplesPerLabel };
      });
    }, "REPEATABLE READ, READ ONLY");
  }

  async labelCounts(taskId: number): Promise<Record<string, number>> {
    const { rows } = await this.read((query) =>
      query<{ label: string; n: string }>(
        `SELECT label, COUNT(*) AS n FROM sav_examples WHERE task_id = $1 GROUP BY label ORDER BY label ${BYTE_ORDER}`,
        [taskId],
      ),
    );
    return Object.fromEntries(rows.map((r) => [r.label, Number(r.n)]));
  }

  async deleteTask(name: string): Promise<boolean> {
    return this.transaction(async (query) => ((await query("DELETE FROM sav_tasks WHERE name = $1", [name])).rowCount ?? 0) > 0);
  }

  async addExamples(taskId: number, examples: NewExample[]): Promise<{ ids: number[]; task: TaskRecord }> {
    return this.transaction(async (query) => {
      const task = await this.lockTask(query, taskId);
      const ids = await this.insertExamples(query, task, examples);
      return { ids, task: await this.requireTask(query, taskId) };
    });
  }

  async removeExamples(taskId: number, which: RemoveWhich): Promise<{ removed: number[]; task: TaskRecord }> {
    return this.transaction(async (query) => {
      await this.lockTask(query, taskId);
      let ids: number[];
      if ("ids" in which) {
        const wanted = [...new Set(which.ids)];
        const { rows } = await query<{ id: string }>("SELECT id FROM sav_examples WHERE task_id = $1 AND id = ANY($2::bigint[])", [taskId, wanted]);
        const owned = new Set(rows.map((r) => Number(r.id)));
        const unknown = wanted.filter((id) => !owned.has(id));
        if (unknown.length > 0) throw new StoreError("unknown-examples", `No example with id ${unknown.join(", ")} in this task.`);
        ids = wanted;
      } else if ("sources" in which) {
        ids = await examplesWithSources(query, taskId, which.sources);
      } else {
        const { rows } = await query<{ id: string }>("SELECT id FROM sav_examples WHERE task_id = $1 AND label = $2", [taskId, which.label]);
        ids = rows.map((r) => Number(r.id));
      }
      if (ids.length > 0) {
        await query("DELETE FROM sav_examples WHERE task_id = $1 AND id = ANY($2::bigint[])", [taskId, ids]);
        await this.bumpVersion(query, taskId);
      }
      return { removed: ids.sort((a, b) => a - b), task: await this.requireTask(query, taskId) };
    });
  }

  async updateTask(taskId: number, changes: TaskChanges): Promise<TaskRecord> {
    return this.transaction(async (query) => {
      const task = await this.lockTask(query, taskId);
      await applyTaskChanges(query, task, changes, now());
      return this.requireTask(query, taskId);
    });
  }

  async listExamples(taskId: number, options: { limit?: number; offset?: number } = {}): Promise<ExampleRecord[]> {
    const { rows } = await this.read((query) =>
      query<ExampleRow>(`SELECT ${EXAMPLE_COLUMNS} FROM sav_examples WHERE task_id = $1 ORDER BY id LIMIT $2 OFFSET $3`, [
        taskId,
        options.limit ?? null,
        options.offset ?? 0,
      ]),
    );
    return rows.map(exampleFromRow);
  }

  async loadTrainingSet(taskId: number): Promise<{ exampleVersion: number; examples: ExampleWithVectors[] }> {
    // One snapshot: the examples are exactly those of the version returned with them.
    return this.transaction(async (query) => {
      const task = await this.requireTask(query, taskId);
      const { rows } = await query<ExampleRow>("SELECT * FROM sav_examples WHERE task_id = $1 ORDER BY id", [taskId]);
      const examples = rows.map((row) => ({ ...exampleFromRow(row), vectors: littleEndianToFloat32(row.vectors!) }));
      return { exampleVersion: task.exampleVersion, examples };
    }, "REPEATABLE READ, READ ONLY");
  }

  async exampleVersion(taskId: number): Promise<number | undefined> {
    const { rows } = await this.read((query) => query<{ example_version: string }>("SELECT example_version FROM sav_tasks WHERE id = $1", [taskId]));
    return rows[0] ? Number(rows[0].example_version) : undefined;
  }

  async getClassifierState(taskId: number): Promise<ClassifierState | undefined> {
    const { rows } = await this.read((query) =>
      query<{ example_version: string; state: Buffer }>("SELECT example_version, state FROM sav_classifiers WHERE task_id = $1", [taskId]),
    );
    return rows[0] ? { exampleVersion: Number(rows[0].example_version), state: new Uint8Array(rows[0].state) } : undefined;
  }

  async saveClassifierState(taskId: number, exampleVersion: number, state: Uint8Array): Promise<boolean> {
    return this.transaction(async (query) => {
      // FOR SHARE: an add_examples on another replica cannot bump the version between this check and the write.
      const { rows } = await query<{ example_version: string }>("SELECT example_version FROM sav_tasks WHERE id = $1 FOR SHARE", [taskId]);
      if (!rows[0] || Number(rows[0].example_version) !== exampleVersion) return false;
      await query(
        `INSERT INTO sav_classifiers (task_id, example_version, state, built_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT (task_id) DO UPDATE SET example_version = EXCLUDED.example_version, state = EXCLUDED.state, built_at = EXCLUDED.built_at`,
        [taskId, exampleVersion, Buffer.from(state.buffer, state.byteOffset, state.byteLength), now()],
      );
      return true;
    });
  }

  /** Waits for calls in progress (their transactions commit or roll back whole), then disconnects. */
  async close(): Promise<void> {
    this.closing ??= (async () => {
      if (this.active > 0) await new Promise<void>((resolve) => (this.idle = resolve));
      await this.pool.end();
    })();
    return this.closing;
  }

  private async insertTask(query: Query, task: NewTask): Promise<TaskRecord> {
    const stamp = now();
    try {
      const { rows } = await query<TaskRow>(
        `INSERT INTO sav_tasks (name, description, prompt, labels, k, selection, model_id, model_fingerprint,
           random_weights, layers, heads, head_dim, processing, example_version, min_confidence, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $14, 0, $15, $13, $13) RETURNING *`,
        [
          task.name,
          task.description ?? null,
          task.prompt,
          task.labels ? JSON.stringify(task.labels) : null,
          task.k,
          task.selection,
          task.modelId,
          task.modelFingerprint,
          task.randomWeights,
          task.shape.layers,
          task.shape.heads,
          task.shape.headDim,
          stamp,
          task.processing && Object.keys(task.processing).length > 0 ? JSON.stringify(task.processing) : null,
          task.minConfidence ?? null,
        ],
      );
      return taskFromRow(rows[0]!);
    } catch (error) {
      if ((error as { code?: string }).code === UNIQUE_VIOLATION) {
        throw new StoreError("duplicate-name", `A task named '${task.name}' already exists.`);
      }
      throw error;
    }
  }

  private async insertExamples(query: Query, task: TaskRecord, examples: NewExample[]): Promise<number[]> {
    const stamp = now();
    const ids: number[] = [];
    for (const example of examples) {
      const { rows } = await query<{ id: string }>(
        `INSERT INTO sav_examples (${EXAMPLE_INSERT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING id`,
        exampleInsertValues(task, example, stamp),
      );
      ids.push(Number(rows[0]!.id));
    }
    if (examples.length > 0) await this.bumpVersion(query, task.id);
    return ids;
  }

  private async bumpVersion(query: Query, taskId: number): Promise<void> {
    await query("UPDATE sav_tasks SET example_version = example_version + 1, updated_at = $1 WHERE id = $2", [now(), taskId]);
  }

  private async findTask(query: Query, id: number): Promise<TaskRecord | undefined> {
    const { rows } = await query<TaskRow>("SELECT * FROM sav_tasks WHERE id = $1", [id]);
    return rows[0] ? taskFromRow(rows[0]) : undefined;
  }

  private async requireTask(query: Query, id: number): Promise<TaskRecord> {
    const task = await this.findTask(query, id);
    if (!task) throw new StoreError("unknown-task", `The task (id ${id}) no longer exists.`);
    return task;
  }

  /** The task row, locked until the transaction ends: writers to one task take turns across replicas. */
  private async lockTask(query: Query, id: number): Promise<TaskRecord> {
    const { rows } = await query<TaskRow>("SELECT * FROM sav_tasks WHERE id = $1 FOR UPDATE", [id]);
    if (!rows[0]) throw new StoreError("unknown-task", `The task (id ${id}) no longer exists.`);
    return taskFromRow(rows[0]);
  }

  private read<T>(work: (query: Query) => Promise<T>): Promise<T> {
    return this.run((client) => work(client.query.bind(client) as Query));
  }

  private transaction<T>(work: (query: Query) => Promise<T>, mode = "READ COMMITTED"): Promise<T> {
    return this.run(async (client) => {
      await client.query(`BEGIN ISOLATION LEVEL ${mode}`);
      try {
        const result = await work(client.query.bind(client) as Query);
        await client.query("COMMIT");
        return result;
      } catch (error) {
        await client.query("ROLLBACK").catch(() => undefined);
        throw error;
      }
    });
  }

  private async run<T>(work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    if (this.closing) throw new StoreError("unavailable", "The server is shutting down and its store is closed; nothing was changed. Retry on another replica or after the restart.");
    this.active++;
    try {
      let client: pg.PoolClient;
      try {
        client = await this.pool.connect();
      } catch (error) {
        throw unavailable(error);
      }
      let broken: Error | undefined;
      try {
        return await work(client);
      } catch (error) {
        // A connection-level failure: do not return the client to the pool.
        if (!(error instanceof StoreError) && (error as { code?: string }).code === undefined) broken = error as Error;
        throw error;
      } finally {
        client.release(broken);
      }
    } finally {
      if (--this.active === 0) this.idle?.();
    }
  }
}

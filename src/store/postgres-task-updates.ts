/** PostgreSQL twins of task-updates.ts; always run inside the caller's transaction, the task row locked. */
import type { Query } from "./postgres-rows.js";
import { StoreError, type TaskChanges, type TaskRecord } from "./types.js";

/** Ids of the task's examples with at least one image whose recorded source is one of `sources`. */
export async function examplesWithSources(query: Query, taskId: number, sources: readonly string[]): Promise<number[]> {
  if (sources.length === 0) return [];
  const { rows } = await query<{ id: string }>(
    `SELECT DISTINCT e.id FROM sav_examples e, jsonb_array_elements_text(e.sources) AS s(value)
     WHERE e.task_id = $1 AND e.sources IS NOT NULL AND s.value = ANY($2::text[])`,
    [taskId, [...sources]],
  );
  return rows.map((r) => Number(r.id));
}

async function count(query: Query, sql: string, params: unknown[]): Promise<number> {
  const { rows } = await query<{ n: string }>(sql, params);
  return Number(rows[0]?.n ?? 0);
}

/** Applies `changes` to `task`; bumps the example version when the classifier's output could change. */
export async function applyTaskChanges(query: Query, task: TaskRecord, changes: TaskChanges, stamp: string): Promise<void> {
  let affectsClassifier = false;
  const set = async (column: string, value: unknown): Promise<void> => {
    await query(`UPDATE sav_tasks SET ${column} = $1 WHERE id = $2`, [value, task.id]);
  };
  if (changes.prompt !== undefined && changes.prompt !== task.prompt) {
    const examples = await count(query, "SELECT COUNT(*) AS n FROM sav_examples WHERE task_id = $1", [task.id]);
    if (examples > 0) throw new StoreError("has-examples", `The task has ${examples} examples whose vectors depend on its prompt.`);
    await set("prompt", changes.prompt);
    affectsClassifier = true;
  }
  if (changes.renameLabel) {
    const { from, to } = changes.renameLabel;
    if (from !== to) {
      if ((await count(query, "SELECT COUNT(*) AS n FROM sav_examples WHERE task_id = $1 AND label = $2", [task.id, to])) > 0) {
        throw new StoreError("label-exists", `Label '${to}' already has examples.`);
      }
      const renamed = await query("UPDATE sav_examples SET label = $1 WHERE task_id = $2 AND label = $3", [to, task.id, from]);
      affectsClassifier = (renamed.rowCount ?? 0) > 0 || affectsClassifier;
    }
  }
  if (changes.labels !== undefined) await set("labels", changes.labels === null ? null : JSON.stringify(changes.labels));
  if (changes.description !== undefined) await set("description", changes.description);
  if (changes.minConfidence !== undefined) await set("min_confidence", changes.minConfidence);
  if (changes.k !== undefined && changes.k !== task.k) {
    await set("k", changes.k);
    affectsClassifier = true;
  }
  if (changes.selection !== undefined && changes.selection !== task.selection) {
    await set("selection", changes.selection);
    affectsClassifier = true;
  }
  await query("UPDATE sav_tasks SET example_version = example_version + $1, updated_at = $2 WHERE id = $3", [affectsClassifier ? 1 : 0, stamp, task.id]);
}

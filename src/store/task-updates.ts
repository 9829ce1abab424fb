/** SQL for changing a task's settings and finding examples by source; always run inside the caller's transaction. */
import type Database from "better-sqlite3";
import { StoreError, type TaskChanges, type TaskRecord } from "./types.js";

/** Ids of the task's examples with at least one image whose recorded source is one of `sources`. */
export function examplesWithSources(db: Database.Database, taskId: number, sources: readonly string[]): number[] {
  if (sources.length === 0) return [];
  const rows = db
    .prepare(
      `SELECT DISTINCT e.id AS id FROM examples e, json_each(e.sources) s
       WHERE e.task_id = ? AND e.sources IS NOT NULL AND s.value IN (SELECT value FROM json_each(?))`,
    )
    .all(taskId, JSON.stringify(sources)) as { id: number }[];
  return rows.map((r) => r.id);
}

function labelCount(db: Database.Database, taskId: number, label: string): number {
  return (db.prepare("SELECT COUNT(*) AS n FROM examples WHERE task_id = ? AND label = ?").get(taskId, label) as { n: number }).n;
}

/** Applies `changes` to `task`; bumps the example version when the classifier's output could change. */
export function applyTaskChanges(db: Database.Database, task: TaskRecord, changes: TaskChanges, stamp: string): void {
  let affectsClassifier = false;
  const set = (column: string, value: unknown): void => {
    db.prepare(`UPDATE tasks SET ${column} = ? WHERE id = ?`).run(value, task.id);
  };
  if (changes.prompt !== undefined && changes.prompt !== task.prompt) {
    const examples = (db.prepare("SELECT COUNT(*) AS n FROM examples WHERE task_id = ?").get(task.id) as { n: number }).n;
    if (examples > 0) throw new StoreError("has-examples", `The task has ${examples} examples whose vectors depend on its prompt.`);
    set("prompt", changes.prompt);
    affectsClassifier = true;
  }
  if (changes.renameLabel) {
    const { from, to } = changes.renameLabel;
    if (from !== to) {
      if (labelCount(db, task.id, to) > 0) throw new StoreError("label-exists", `Label '${to}' already has examples.`);
      affectsClassifier = db.prepare("UPDATE examples SET label = ? WHERE task_id = ? AND label = ?").run(to, task.id, from).changes > 0 || affectsClassifier;
    }
  }
  if (changes.labels !== undefined) set("labels", changes.labels === null ? null : JSON.stringify(changes.labels));
  if (changes.description !== undefined) set("description", changes.description);
  if (changes.k !== undefined && changes.k !== task.k) {
    set("k", changes.k);
    affectsClassifier = true;
  }
  if (changes.selection !== undefined && changes.selection !== task.selection) {
    set("selection", changes.selection);
    affectsClassifier = true;
  }
  if (changes.minConfidence !== undefined) set("min_confidence", changes.minConfidence);
  const bump = affectsClassifier ? 1 : 0;
  db.prepare("UPDATE tasks SET example_version = example_version + ?, updated_at = ? WHERE id = ?").run(bump, stamp, task.id);
}

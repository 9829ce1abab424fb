import { setImmediate as nextTurn } from "node:timers/promises";
import { SavStore } from "./store.js";
import type {
  ClassifierState,
  ExampleRecord,
  ExampleWithVectors,
  NewExample,
  NewTask,
  RemoveWhich,
  TaskChanges,
  TaskListOptions,
  TaskRecord,
  TaskStore,
  TaskSummary,
} from "./types.js";

/** Examples read between two turns of the event loop by loadTrainingSet (~2 MB of full-size vectors, as sav-workers copy between turns). */
const TRAINING_PAGE = 32;
/** Reads of a training set that changed while it was read in pages, before one blocking read is taken instead. */
const PAGED_ATTEMPTS = 3;

/**
 * The SQLite store behind the promise-returning TaskStore interface. SQLite calls are synchronous and
 * each is already one transaction, so every method just resolves with (or rejects with) the sync result.
 */
export class SqliteTaskStore implements TaskStore {
  constructor(readonly sqlite: SavStore) {}

  async createTask(task: NewTask): Promise<TaskRecord> {
    return this.sqlite.createTask(task);
  }
  async createTaskWithExamples(task: NewTask, examples: NewExample[]): Promise<TaskRecord> {
    return this.sqlite.createTaskWithExamples(task, examples);
  }
  async getTask(name: string): Promise<TaskRecord | undefined> {
    return this.sqlite.getTask(name);
  }
  async getTaskById(id: number): Promise<TaskRecord | undefined> {
    return this.sqlite.getTaskById(id);
  }
  async taskNames(): Promise<string[]> {
    return this.sqlite.taskNames();
  }
  async listTasks(options?: TaskListOptions): Promise<TaskSummary[]> {
    return this.sqlite.listTasks(options);
  }
  async labelCounts(taskId: number): Promise<Record<string, number>> {
    return this.sqlite.labelCounts(taskId);
  }
  async deleteTask(name: string): Promise<boolean> {
    return this.sqlite.deleteTask(name);
  }
  async addExamples(taskId: number, examples: NewExample[]): Promise<{ ids: number[]; task: TaskRecord }> {
    return this.sqlite.addExamples(taskId, examples);
  }
  async removeExamples(taskId: number, which: RemoveWhich): Promise<{ removed: number[]; task: TaskRecord }> {
    return this.sqlite.removeExamples(taskId, which);
  }
  async updateTask(taskId: number, changes: TaskChanges): Promise<TaskRecord> {
    return this.sqlite.updateTask(taskId, changes);
  }
  async listExamples(taskId: number, options?: { limit?: number; offset?: number }): Promise<ExampleRecord[]> {
    return this.sqlite.listExamples(taskId, options);
  }
  /**
   * Read in pages between turns of the event loop (at 2,000 full-size examples one read blocks it ~1 s). The
   * example version before and after says whether the pages form one snapshot; if not, the read is repeated.
   */
  async loadTrainingSet(taskId: number): Promise<{ exampleVersion: number; examples: ExampleWithVectors[] }> {
    for (let attempt = 0; attempt < PAGED_ATTEMPTS; attempt++) {
      const version = this.sqlite.exampleVersion(taskId);
      if (version === undefined) break;
      const examples: ExampleWithVectors[] = [];
      for (let page = this.sqlite.trainingPage(taskId, 0, TRAINING_PAGE); ; ) {
        examples.push(...page);
        if (page.length < TRAINING_PAGE) break;
        await nextTurn();
        page = this.sqlite.trainingPage(taskId, page[page.length - 1]!.id, TRAINING_PAGE);
      }
      if (this.sqlite.exampleVersion(taskId) === version) return { exampleVersion: version, examples };
    }
    // An unknown task (its error), or examples changing faster than they can be read: one snapshot read.
    return this.sqlite.loadTrainingSet(taskId);
  }
  async exampleVersion(taskId: number): Promise<number | undefined> {
    return this.sqlite.exampleVersion(taskId);
  }
  async getClassifierState(taskId: number): Promise<ClassifierState | undefined> {
    return this.sqlite.getClassifierState(taskId);
  }
  async saveClassifierState(taskId: number, exampleVersion: number, state: Uint8Array): Promise<boolean> {
    return this.sqlite.saveClassifierState(taskId, exampleVersion, state);
  }
  async close(): Promise<void> {
    this.sqlite.close();
  }
}

/** A TaskStore for either kind of argument: the SQLite store is wrapped, any other store is used as it is. */
export function asTaskStore(store: SavStore | TaskStore): TaskStore {
  return store instanceof SavStore ? new SqliteTaskStore(store) : store;
}

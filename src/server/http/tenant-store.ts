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
} from "../../store/index.js";

/** Task names cannot contain it (taskNameSchema), so a stored `tenant/name` never collides with a plain name. */
export const TENANT_SEPARATOR = "/";

function unknownTask(id: number): StoreError {
  return new StoreError("unknown-task", `The task (id ${id}) no longer exists.`);
}

/**
 * One tenant's view of a shared store: its tasks are stored as `tenant/name`, and it sees, names and
 * touches only those. With no tenant (a loopback server without auth) it sees only names without a
 * tenant. Every id-based call first checks the id belongs to the view; a foreign id is "unknown".
 */
export class TenantTaskStore implements TaskStore {
  private readonly prefix: string;

  constructor(
    private readonly base: TaskStore,
    readonly tenant: string | undefined,
  ) {
    this.prefix = tenant === undefined ? "" : `${tenant}${TENANT_SEPARATOR}`;
  }

  private stored(name: string): string | undefined {
    // A name with a separator can only be another tenant's stored name: never addressable through a view.
    return name.includes(TENANT_SEPARATOR) ? undefined : this.prefix + name;
  }

  private owns(storedName: string): boolean {
    if (this.tenant === undefined) return !storedName.includes(TENANT_SEPARATOR);
    return storedName.startsWith(this.prefix) && !storedName.slice(this.prefix.length).includes(TENANT_SEPARATOR);
  }

  private view<T extends TaskRecord>(task: T): T {
    return { ...task, name: task.name.slice(this.prefix.length) };
  }

  private async mine(taskId: number): Promise<TaskRecord> {
    const task = await this.base.getTaskById(taskId);
    if (!task || !this.owns(task.name)) throw unknownTask(taskId);
    return task;
  }

  private renamed(task: NewTask): NewTask {
    const name = this.stored(task.name);
    if (name === undefined) throw new StoreError("duplicate-name", `Task names cannot contain '${TENANT_SEPARATOR}'.`);
    return { ...task, name };
  }

  private async creating<T>(name: string, create: () => Promise<T>): Promise<T> {
    try {
      return await create();
    } catch (error) {
      // The store's message names the stored (prefixed) name; the tenant knows only its own.
      if (error instanceof StoreError && error.code === "duplicate-name") throw new StoreError("duplicate-name", `A task named '${name}' already exists.`);
      throw error;
    }
  }

  async createTask(task: NewTask): Promise<TaskRecord> {
    const renamed = this.renamed(task);
    return this.view(await this.creating(task.name, () => this.base.createTask(renamed)));
  }

  async createTaskWithExamples(task: NewTask, examples: NewExample[]): Promise<TaskRecord> {
    const renamed = this.renamed(task);
    return this.view(await this.creating(task.name, () => this.base.createTaskWithExamples(renamed, examples)));
  }

  async getTask(name: string): Promise<TaskRecord | undefined> {
    const stored = this.stored(name);
    const task = stored === undefined ? undefined : await this.base.getTask(stored);
    return task && this.owns(task.name) ? this.view(task) : undefined;
  }

  async getTaskById(id: number): Promise<TaskRecord | undefined> {
    const task = await this.base.getTaskById(id);
    return task && this.owns(task.name) ? this.view(task) : undefined;
  }

  async taskNames(): Promise<string[]> {
    return (await this.base.taskNames()).filter((n) => this.owns(n)).map((n) => n.slice(this.prefix.length));
  }

  async listTasks(options: TaskListOptions = {}): Promise<TaskSummary[]> {
    if (this.tenant === undefined) {
      // Plain names and prefixed ones interleave in name order: page through and keep the plain ones.
      const all = await this.base.listTasks({ afterName: options.afterName });
      return all.filter((t) => this.owns(t.name)).slice(0, options.limit);
    }
    // A tenant's stored names sort together, right after the bare prefix: read from there, stop at the first foreign one.
    const page = await this.base.listTasks({ afterName: this.prefix + (options.afterName ?? ""), limit: options.limit });
    const end = page.findIndex((t) => !t.name.startsWith(this.prefix));
    return (end === -1 ? page : page.slice(0, end)).filter((t) => this.owns(t.name)).map((t) => this.view(t));
  }

  async labelCounts(taskId: number): Promise<Record<string, number>> {
    await this.mine(taskId);
    return this.base.labelCounts(taskId);
  }

  async deleteTask(name: string): Promise<boolean> {
    const stored = this.stored(name);
    return stored === undefined ? false : this.base.deleteTask(stored);
  }

  async addExamples(taskId: number, examples: NewExample[]): Promise<{ ids: number[]; task: TaskRecord }> {
    await this.mine(taskId);
    const result = await this.base.addExamples(taskId, examples);
    return { ids: result.ids, task: this.view(result.task) };
  }

  async removeExamples(taskId: number, which: RemoveWhich): Promise<{ removed: number[]; task: TaskRecord }> {
    await this.mine(taskId);
    const result = await this.base.removeExamples(taskId, which);
    return { removed: result.removed, task: this.view(result.task) };
  }

  async updateTask(taskId: number, changes: TaskChanges): Promise<TaskRecord> {
    await this.mine(taskId);
    return this.view(await this.base.updateTask(taskId, changes));
  }

  async listExamples(taskId: number, options?: { limit?: number; offset?: number }): Promise<ExampleRecord[]> {
    await this.mine(taskId);
    return this.base.listExamples(taskId, options);
  }

  async loadTrainingSet(taskId: number): Promise<{ exampleVersion: number; examples: ExampleWithVectors[] }> {
    await this.mine(taskId);
    return this.base.loadTrainingSet(taskId);
  }

  async exampleVersion(taskId: number): Promise<number | undefined> {
    const task = await this.base.getTaskById(taskId);
    return task && this.owns(task.name) ? task.exampleVersion : undefined;
  }

  async getClassifierState(taskId: number): Promise<ClassifierState | undefined> {
    await this.mine(taskId);
    return this.base.getClassifierState(taskId);
  }

  async saveClassifierState(taskId: number, exampleVersion: number, state: Uint8Array): Promise<boolean> {
    await this.mine(taskId);
    return this.base.saveClassifierState(taskId, exampleVersion, state);
  }

  /** The shared store outlives every view: closing a view closes nothing. */
  async close(): Promise<void> {}
}

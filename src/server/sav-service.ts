/**
 * What the tools do, independent of MCP: validation, model work, storage, and answers shaped for agents.
 * This facade keeps one object for the tool modules and library users; the work lives in services/*, one
 * module per concern, and the wording agents read lives in wording.ts.
 */
import type { TaskRecord } from "../store/index.js";
import type { ModelListingView, TaskView } from "./schemas.js";
import type { ClassifyInput, ClassifyResult } from "./schemas/classify.js";
import type { EvaluateInput, EvaluateResult } from "./schemas/evaluate.js";
import type { AddExamplesInput, AddExamplesResult, RemoveExamplesInput, RemoveExamplesResult } from "./schemas/examples.js";
import type { CreatedTask, CreateTaskInput, DeleteTaskResult, GetTaskInput, ListTasksInput, ListTasksResult, TaskDetail } from "./schemas/tasks.js";
import type { ExportResult, ExportTaskInput, ImportResult, ImportTaskInput } from "./schemas/transfer.js";
import { classify } from "./services/classify.js";
import { ServiceContext, type CallContext, type SavServiceDeps } from "./services/context.js";
import { evaluate } from "./services/evaluate.js";
import { headMapPicture } from "./services/confidence.js";
import { addExamples, removeExamples } from "./services/examples.js";
import { createTask, deleteTask, getTask, listTasks } from "./services/tasks.js";
import { exportTask, importTask } from "./services/transfer.js";

export { DEFAULT_HEADS, DEFAULT_SELECTION } from "./schemas/tasks.js";
export { RANDOM_WEIGHTS_NOTE } from "./wording.js";
export type { CallContext, SavServiceDeps } from "./services/context.js";
export type { CreatedTask, CreateTaskInput, TaskDetail, DeleteTaskResult, ListTasksInput, ListTasksResult } from "./schemas/tasks.js";
export type { AddExamplesInput, AddExamplesResult, ExampleInput, RemoveExamplesInput, RemoveExamplesResult } from "./schemas/examples.js";
export type { ClassifyInput, ClassifyResult, HeadVoteView } from "./schemas/classify.js";
export type { EvaluateInput, EvaluateResult } from "./schemas/evaluate.js";
export type { ExportResult, ExportTaskInput, ImportResult, ImportTaskInput } from "./schemas/transfer.js";

export class SavService {
  readonly context: ServiceContext;

  constructor(deps: SavServiceDeps) {
    this.context = new ServiceContext(deps);
  }

  get classifiers(): ServiceContext["classifiers"] {
    return this.context.classifiers;
  }

  createTask(input: CreateTaskInput, ctx: CallContext = {}): Promise<CreatedTask> {
    return createTask(this.context, input, ctx);
  }

  listTasks(input: ListTasksInput = {}): Promise<ListTasksResult> {
    return listTasks(this.context, input);
  }

  /** Every task name, sorted (for completions). */
  taskNames(): Promise<string[]> {
    return this.context.store.taskNames();
  }

  getTask(name: string, options: Omit<GetTaskInput, "task"> = {}): Promise<TaskDetail> {
    return getTask(this.context, { ...options, task: name });
  }

  deleteTask(name: string): Promise<DeleteTaskResult> {
    return deleteTask(this.context, name);
  }

  addExamples(input: AddExamplesInput, ctx: CallContext = {}): Promise<AddExamplesResult> {
    return addExamples(this.context, input, ctx);
  }

  removeExamples(input: RemoveExamplesInput): Promise<RemoveExamplesResult> {
    return removeExamples(this.context, input);
  }

  classify(input: ClassifyInput, ctx: CallContext = {}): Promise<ClassifyResult> {
    return classify(this.context, input, ctx);
  }

  evaluate(input: EvaluateInput, ctx: CallContext = {}): Promise<EvaluateResult> {
    return evaluate(this.context, input, ctx);
  }

  /** The task's head map as PNG (optionally with an accuracy-vs-head-count curve). */
  headMap(task: string, curve?: { heads: number; accuracy: number }[]): Promise<Buffer> {
    return headMapPicture(this.context, task, curve);
  }

  exportTask(input: ExportTaskInput): Promise<ExportResult> {
    return exportTask(this.context, input);
  }

  importTask(input: ImportTaskInput, ctx: CallContext = {}): Promise<ImportResult> {
    return importTask(this.context, input, ctx);
  }

  get defaultModel(): string {
    return this.context.models.defaultModel;
  }

  listModels(): Promise<ModelListingView[]> {
    return this.context.models.listModels();
  }

  taskView(task: TaskRecord, counts?: Record<string, number>): Promise<TaskView> {
    return this.context.taskView(task, counts);
  }

  requireTask(name: string): Promise<TaskRecord> {
    return this.context.requireTask(name);
  }
}

/** create_sav_task, list_tasks, get_task and delete_task. */
import { StoreError } from "../../store/index.js";
import { errorText, quoteList, ToolError } from "../errors.js";
import {
  createdTaskSchema,
  DEFAULT_HEADS,
  DEFAULT_SELECTION,
  MAX_TASKS_PER_PAGE,
  pickFields,
  taskSummarySchema,
  type CreatedTask,
  type CreateTaskInput,
  type DeleteTaskResult,
  type GetTaskInput,
  type ListTasksInput,
  type ListTasksResult,
  type TaskDetail,
} from "../schemas/tasks.js";
import { cutText, DETAIL_TEXT_CHARS, LISTING_TEXT_CHARS, round } from "../wording.js";
import { checkLabelSet } from "../task-rules.js";
import type { CallContext, ServiceContext } from "./context.js";

/** Examples listed by get_task with includeExamples when no exampleLimit is given. */
export const DEFAULT_EXAMPLE_LIMIT = 200;

/**
 * Opaque page cursors (MCP convention: `cursor` in, `nextCursor` out). They carry the position only,
 * so a task created or deleted between pages neither repeats nor hides the others.
 */
function encodeCursor(position: string | number): string {
  return Buffer.from(JSON.stringify({ after: position })).toString("base64url");
}

function decodeCursor<T extends "string" | "number">(cursor: string, kind: T, field: string): T extends "string" ? string : number {
  try {
    const { after } = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8")) as { after: unknown };
    if (typeof after === kind) return after as T extends "string" ? string : number;
  } catch {
    // Reported below.
  }
  throw new ToolError(`\`${field}\` is not a cursor this server gave out. Omit it to start from the first page, or pass the last answer's next cursor unchanged.`);
}

export async function createTask(service: ServiceContext, input: CreateTaskInput, ctx: CallContext = {}): Promise<CreatedTask> {
  await service.refuseDuplicate(input.name);
  const labels = input.labels ? checkLabelSet(input.labels) : null;
  const modelId = input.model?.trim() || service.models.defaultModel;
  const extractor = await service.extractorFor(modelId, ctx);
  const info = extractor.info;
  // Validated and completed by the model's family now, so every example and query is read the same way.
  const processing = extractor.resolveOptions(input.processing);
  try {
    const task = await service.store.createTask({
      name: input.name,
      description: input.description ?? null,
      prompt: input.prompt,
      labels,
      k: input.heads ?? DEFAULT_HEADS,
      selection: input.selection ?? DEFAULT_SELECTION,
      minConfidence: input.minConfidence ?? null,
      modelId: info.id,
      modelFingerprint: info.fingerprint,
      randomWeights: info.randomWeights,
      shape: info.shape,
      processing,
    });
    service.tasksChanged();
    const created = pickFields(createdTaskSchema, await service.taskView(task));
    // The download's warning went to the log, which many clients do not show: the agent hears it here, on every task built on those files.
    const warnings = service.models.modelWarnings?.(modelId) ?? [];
    return warnings.length === 0 ? created : { ...created, note: [created.note, ...warnings].filter(Boolean).join(" ") };
  } catch (error) {
    if (error instanceof StoreError && error.code === "duplicate-name") await service.refuseDuplicate(input.name);
    throw error;
  }
}

export async function listTasks(service: ServiceContext, input: ListTasksInput = {}): Promise<ListTasksResult> {
  const limit = Math.min(input.limit ?? MAX_TASKS_PER_PAGE, MAX_TASKS_PER_PAGE);
  const afterName = input.cursor === undefined ? undefined : decodeCursor(input.cursor, "string", "cursor");
  // One more than the page, to know whether another page follows.
  const found = await service.store.listTasks({ afterName, limit: limit + 1 });
  const page = found.slice(0, limit);
  const tasks = await Promise.all(
    page.map(async (task) => {
      const summary = pickFields(taskSummarySchema, await service.taskView(task, task.examplesPerLabel));
      return { ...summary, description: cutText(summary.description, LISTING_TEXT_CHARS), prompt: cutText(summary.prompt, LISTING_TEXT_CHARS) };
    }),
  );
  return { tasks, ...(found.length > limit ? { nextCursor: encodeCursor(page[page.length - 1]!.name) } : {}) };
}

export async function getTask(service: ServiceContext, input: GetTaskInput): Promise<TaskDetail> {
  const task = await service.requireTask(input.task);
  const view = await service.taskView(task);
  const detail: TaskDetail = {
    ...view,
    description: cutText(view.description, DETAIL_TEXT_CHARS),
    prompt: cutText(view.prompt, DETAIL_TEXT_CHARS),
    selectedHeads: null,
  };
  if (view.ready) {
    try {
      const { classifier } = await service.classifiers.get(task);
      detail.selectedHeads = classifier.heads.map((h) => ({ layer: h.layer, head: h.head, score: round(h.score), margin: round(h.margin) }));
    } catch (error) {
      detail.classifierProblem = errorText(error);
    }
  }
  if (input.includeExamples) {
    const limit = input.exampleLimit ?? DEFAULT_EXAMPLE_LIMIT;
    const offset = input.exampleCursor === undefined ? 0 : decodeCursor(input.exampleCursor, "number", "exampleCursor");
    const examples = await service.store.listExamples(task.id, { limit, offset });
    detail.examples = examples.map((e) => ({
      id: e.id,
      label: e.label,
      text: cutText(e.text, LISTING_TEXT_CHARS),
      imageSha256: e.imageHashes,
      ...(e.sources ? { sources: e.sources } : {}),
      createdAt: e.createdAt,
    }));
    if (offset + examples.length < view.exampleCount) detail.nextExampleCursor = encodeCursor(offset + examples.length);
  }
  return detail;
}

/** Deleting a task that is not there is a successful no-op with a note (the tool is idempotent). */
export async function deleteTask(service: ServiceContext, name: string): Promise<DeleteTaskResult> {
  const task = await service.store.getTask(name);
  const gone = async (): Promise<DeleteTaskResult> => {
    const names = await service.store.taskNames();
    return {
      deleted: name,
      examplesRemoved: 0,
      note: `There is no task '${name}' (already deleted, or never created); nothing changed. Known tasks: ${quoteList(names)}.`,
    };
  };
  if (!task) return gone();
  const examples = Object.values(await service.store.labelCounts(task.id)).reduce((a, b) => a + b, 0);
  // Another call or process may have deleted it in between: that is the same no-op.
  if (!(await service.store.deleteTask(name))) return gone();
  service.classifiers.forget(task.id);
  service.tasksChanged();
  return { deleted: name, examplesRemoved: examples };
}

/** create_sav_task, list_tasks, get_task and delete_task. */
import { StoreError } from "../../store/index.js";
import { errorText, quoteList, ToolError } from "../errors.js";
import type { TaskView } from "../schemas.js";
import { DEFAULT_HEADS, DEFAULT_SELECTION, type CreateTaskInput, type DeleteTaskResult, type GetTaskInput, type TaskDetail } from "../schemas/tasks.js";
import { round } from "../wording.js";
import type { CallContext, ServiceContext } from "./context.js";

/** Examples listed by get_task with includeExamples when no exampleLimit is given. */
export const DEFAULT_EXAMPLE_LIMIT = 200;

function checkLabelSet(labels: string[]): string[] {
  const trimmed = labels.map((l) => l.trim());
  const duplicates = trimmed.filter((l, i) => trimmed.indexOf(l) !== i);
  if (duplicates.length > 0) throw new ToolError(`The labels list repeats ${quoteList([...new Set(duplicates)])}. Give each label once.`);
  if (trimmed.length < 2) {
    throw new ToolError("A closed label set needs at least two labels (e.g. [\"safe\", \"unsafe\"]); omit `labels` to accept any label.");
  }
  return trimmed;
}

export async function createTask(service: ServiceContext, input: CreateTaskInput, ctx: CallContext = {}): Promise<TaskView> {
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
      modelId: info.id,
      modelFingerprint: info.fingerprint,
      randomWeights: info.randomWeights,
      shape: info.shape,
      processing,
    });
    service.tasksChanged();
    return await service.taskView(task);
  } catch (error) {
    if (error instanceof StoreError && error.code === "duplicate-name") await service.refuseDuplicate(input.name);
    throw error;
  }
}

export async function listTasks(service: ServiceContext): Promise<TaskView[]> {
  const tasks = await service.store.listTasks();
  return Promise.all(tasks.map((task) => service.taskView(task, task.examplesPerLabel)));
}

export async function getTask(service: ServiceContext, input: GetTaskInput): Promise<TaskDetail> {
  const task = await service.requireTask(input.task);
  const view = await service.taskView(task);
  const detail: TaskDetail = { ...view, selectedHeads: null };
  if (view.ready) {
    try {
      const { classifier } = await service.classifiers.get(task);
      detail.selectedHeads = classifier.heads.map((h) => ({ layer: h.layer, head: h.head, score: round(h.score), margin: round(h.margin) }));
    } catch (error) {
      detail.classifierProblem = errorText(error);
    }
  }
  if (input.includeExamples) {
    const examples = await service.store.listExamples(task.id, { limit: input.exampleLimit ?? DEFAULT_EXAMPLE_LIMIT });
    detail.examples = examples.map((e) => ({
      id: e.id,
      label: e.label,
      text: e.text,
      imageSha256: e.imageHashes,
      ...(e.sources ? { sources: e.sources } : {}),
      createdAt: e.createdAt,
    }));
  }
  return detail;
}

export async function deleteTask(service: ServiceContext, name: string): Promise<DeleteTaskResult> {
  const task = await service.requireTask(name);
  const examples = Object.values(await service.store.labelCounts(task.id)).reduce((a, b) => a + b, 0);
  if (!(await service.store.deleteTask(name))) await service.requireTask(name);
  service.classifiers.forget(task.id);
  service.tasksChanged();
  return { deleted: name, examplesRemoved: examples };
}

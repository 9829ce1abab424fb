/** export_task and import_task: a task and its head vectors as a portable file. */
import fs from "node:fs/promises";
import { sameShape, StoreError, type TaskRecord } from "../../store/index.js";
import { ToolError } from "../errors.js";
import { resolveReadablePath, resolveWritablePath, writeFileAtomically } from "../file-access.js";
import { taskNameSchema } from "../schemas.js";
import { pickFields } from "../schemas/tasks.js";
import { importTaskOutputSchema, type ExportResult, type ExportTaskInput, type ImportResult, type ImportTaskInput } from "../schemas/transfer.js";
import { decodeTaskFile, encodeTaskFile, MAX_TASK_FILE_BYTES } from "../task-file.js";
import type { CallContext, ServiceContext } from "./context.js";

export async function exportTask(service: ServiceContext, input: ExportTaskInput): Promise<ExportResult> {
  const task = await service.requireTask(input.task);
  const { file, exists } = await resolveWritablePath(input.path, await service.allowedDirs());
  if (exists && !input.overwrite) {
    throw new ToolError(`'${input.path}' already exists. Choose another path, or pass overwrite: true to replace it.`);
  }
  const { examples } = await service.store.loadTrainingSet(task.id);
  const content = JSON.stringify(encodeTaskFile(task, examples, service.deps.generator ?? "sav-mcp"));
  await writeFileAtomically(file, content);
  return {
    task: task.name,
    path: file,
    bytes: Buffer.byteLength(content),
    exampleCount: examples.length,
    model: { id: task.modelId, fingerprint: task.modelFingerprint },
  };
}

export async function importTask(service: ServiceContext, input: ImportTaskInput, ctx: CallContext = {}): Promise<ImportResult> {
  const file = await resolveReadablePath(input.path, await service.allowedDirs());
  const size = (await fs.stat(file)).size;
  if (size > MAX_TASK_FILE_BYTES) {
    throw new ToolError(`'${input.path}' is ${size} bytes, over the ${MAX_TASK_FILE_BYTES}-byte limit for task files.`);
  }
  const { file: parsed, examples } = decodeTaskFile(await fs.readFile(file, "utf8"), input.path);
  const name = input.name ?? parsed.task.name;
  if (!taskNameSchema.safeParse(name).success) {
    throw new ToolError(`The task name '${name}' in the file is not valid here. Pass \`name\` (letters, digits, '.', '_', '-') to import it under another name.`);
  }
  if (await service.store.getTask(name)) {
    throw new ToolError(`A task named '${name}' already exists. Pass \`name\` to import under another name, or delete the existing task first with delete_task.`);
  }
  const extractor = await service.extractorFor(parsed.model.id, ctx);
  const info = extractor.info;
  if (info.fingerprint !== parsed.model.fingerprint) {
    throw new ToolError(
      `Import refused: '${input.path}' was made with model '${parsed.model.id}' whose files have fingerprint ${parsed.model.fingerprint.slice(0, 16)}…, ` +
        `but the installed '${info.id}' has fingerprint ${info.fingerprint.slice(0, 16)}…. Head vectors from different model files are not comparable. ` +
        "Install the exact model files the file was made with (same model revision and dtypes), or rebuild the task from its images with create_sav_task and add_examples.",
    );
  }
  if (!sameShape(info.shape, parsed.model.shape)) {
    throw new ToolError(`Import refused: the file's head shape does not match model '${info.id}'. The file is inconsistent; export it again.`);
  }
  const labels = parsed.task.labels ?? null;
  let task: TaskRecord;
  try {
    task = await service.store.createTaskWithExamples(
      {
        name,
        description: parsed.task.description ?? null,
        prompt: parsed.task.prompt,
        labels: labels && labels.length > 0 ? labels : null,
        k: parsed.task.heads,
        selection: parsed.task.selection,
        modelId: info.id,
        modelFingerprint: info.fingerprint,
        randomWeights: info.randomWeights,
        shape: info.shape,
        // Through the family again: an option the installed model does not take is refused, not stored.
        processing: extractor.resolveOptions(parsed.task.processing),
      },
      examples,
    );
  } catch (error) {
    if (error instanceof StoreError && error.code === "duplicate-name") {
      throw new ToolError(`A task named '${name}' already exists. Pass \`name\` to import under another name.`);
    }
    throw error;
  }
  service.tasksChanged();
  return pickFields(importTaskOutputSchema, { ...(await service.taskView(task)), importedFrom: file });
}

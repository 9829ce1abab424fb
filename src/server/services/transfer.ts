/** export_task and import_task: a task and its head vectors as a portable file. */
import { sameShape, StoreError, type TaskRecord } from "../../store/index.js";
import { ToolError } from "../errors.js";
import { pickFields } from "../schemas/tasks.js";
import { importTaskOutputSchema, type ExportResult, type ExportTaskInput, type ImportResult, type ImportTaskInput } from "../schemas/transfer.js";
import { decodeTaskFile, encodeTaskFile, readTaskFile, writeTaskFile } from "../task-file.js";
import { checkTaskName } from "../task-rules.js";
import type { CallContext, ServiceContext } from "./context.js";

export async function exportTask(service: ServiceContext, input: ExportTaskInput): Promise<ExportResult> {
  const task = await service.requireTask(input.task);
  const { examples } = await service.store.loadTrainingSet(task.id);
  const content = JSON.stringify(encodeTaskFile(task, examples, service.deps.generator ?? "sav-mcp"));
  const { path: file } = await writeTaskFile(input.path, await service.allowedDirs(), content, {
    overwrite: input.overwrite ?? false,
    writeContent: service.deps.writeContent,
  });
  return {
    task: task.name,
    path: file,
    bytes: Buffer.byteLength(content),
    exampleCount: examples.length,
    model: { id: task.modelId, fingerprint: task.modelFingerprint },
  };
}

export async function importTask(service: ServiceContext, input: ImportTaskInput, ctx: CallContext = {}): Promise<ImportResult> {
  const { text, path: file } = await readTaskFile(input.path, await service.allowedDirs());
  // The rules of create_sav_task and add_examples are applied by decodeTaskFile (task-rules.ts).
  const { file: parsed, definition, examples } = decodeTaskFile(text, input.path);
  const name = checkTaskName(input.name ?? parsed.task.name, `'${input.path}'`);
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
  const labels = definition.labels;
  let task: TaskRecord;
  try {
    task = await service.store.createTaskWithExamples(
      {
        name,
        description: definition.description,
        prompt: definition.prompt,
        labels: labels && labels.length > 0 ? labels : null,
        k: parsed.task.heads,
        selection: parsed.task.selection,
        modelId: info.id,
        modelFingerprint: info.fingerprint,
        randomWeights: info.randomWeights,
        shape: info.shape,
        // Through the family again: an option the installed model does not take is refused, not stored.
        processing: extractor.resolveOptions(parsed.task.processing),
        minConfidence: parsed.task.minConfidence ?? null,
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

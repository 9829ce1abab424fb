import { registerAddExamples } from "./add-examples.js";
import { registerClassifyImage } from "./classify-image.js";
import { registerCreateSavTask } from "./create-sav-task.js";
import { registerDeleteTask } from "./delete-task.js";
import { registerEvaluateTask } from "./evaluate-task.js";
import { registerExportTask } from "./export-task.js";
import { registerGetTask } from "./get-task.js";
import { registerImportTask } from "./import-task.js";
import { registerListModels } from "./list-models.js";
import { registerListTasks } from "./list-tasks.js";
import { registerRemoveExamples } from "./remove-examples.js";
import type { ToolDeps } from "./shared.js";
import { useLeanToolList } from "./lean-tool-list.js";
import { registerUpdateTask } from "./update-task.js";

/** Every tool, in the order a client lists them (workflow order). */
export function registerTools(deps: ToolDeps): void {
  registerCreateSavTask(deps);
  registerAddExamples(deps);
  registerClassifyImage(deps);
  registerEvaluateTask(deps);
  registerListTasks(deps);
  registerGetTask(deps);
  registerUpdateTask(deps);
  registerRemoveExamples(deps);
  registerDeleteTask(deps);
  registerExportTask(deps);
  registerImportTask(deps);
  registerListModels(deps);
  useLeanToolList(deps.server);
}

export const TOOL_NAMES = [
  "create_sav_task",
  "add_examples",
  "classify_image",
  "evaluate_task",
  "list_tasks",
  "get_task",
  "update_task",
  "remove_examples",
  "delete_task",
  "export_task",
  "import_task",
  "list_models",
] as const;

/** Tools whose calls can take minutes, so a client may run them as MCP tasks (see tool-tasks.ts). */
export const TASK_CAPABLE_TOOLS = ["add_examples", "classify_image", "evaluate_task"] as const;

export type { ToolDeps } from "./shared.js";

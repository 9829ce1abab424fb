import { updateTaskInputSchema, updateTaskOutputSchema } from "../schemas/update-task.js";
import { updateTask } from "../services/update-task.js";
import { runTool, type ToolDeps } from "./shared.js";

export const UPDATE_TASK = "update_task";

/** Registers update_task. */
export function registerUpdateTask({ server, service }: ToolDeps): void {
  server.registerTool(
    UPDATE_TASK,
    {
      title: "Change a task's settings",
      description:
        "Change a task in place: description, heads (k, e.g. as evaluate_task advises), head selection, new labels for a closed label set, or a label rename (examples keep their vectors). " +
        "The prompt can change only while the task has no examples. Changes to heads, selection or labels rebuild the classifier on next use.",
      inputSchema: updateTaskInputSchema,
      outputSchema: updateTaskOutputSchema,
      annotations: { title: "Change a task's settings", readOnlyHint: false, destructiveHint: false, idempotentHint: true, openWorldHint: false },
    },
    async (args) => runTool(() => updateTask(service.context, args)),
  );
}

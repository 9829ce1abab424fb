import { updateTaskInputSchema, updateTaskOutputSchema } from "../schemas/update-task.js";
import { updateTask } from "../services/update-task.js";
import { runTool, type ToolDeps } from "./shared.js";

export const UPDATE_TASK = "update_task";

/** Registers update_task. */
export function registerUpdateTask({ server, service }: ToolDeps): void {
  server.registerTool(
    UPDATE_TASK,
    {
      title: "Update a task",
      description:
        "Change a task in place: description, heads (as evaluate_task advises), selection, new labels, a label rename. " +
        "The prompt only while it has no examples.",
      inputSchema: updateTaskInputSchema,
      outputSchema: updateTaskOutputSchema,
      annotations: { title: "Update a task", readOnlyHint: false, destructiveHint: false, idempotentHint: true, openWorldHint: false },
    },
    async (args) => runTool(() => updateTask(service.context, args)),
  );
}

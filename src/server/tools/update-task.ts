import { updateTaskInputSchema, updateTaskOutputSchema } from "../schemas/update-task.js";
import { updateTask } from "../services/update-task.js";
import { runTool, type ToolDeps } from "./shared.js";

export const UPDATE_TASK = "update_task";

/** Registers update_task. */
export function registerUpdateTask({ server, service }: ToolDeps): void {
  server.registerTool(
    UPDATE_TASK,
    {
      title: "Change a task",
      description:
        "Change a task in place: heads (as evaluate_task advises), selection, labels (add, rename), description; the prompt only while it has no examples.",
      inputSchema: updateTaskInputSchema,
      outputSchema: updateTaskOutputSchema,
      annotations: { title: "Change a task", readOnlyHint: false, destructiveHint: false, idempotentHint: true, openWorldHint: false },
    },
    async (args) => runTool(() => updateTask(service.context, args)),
  );
}

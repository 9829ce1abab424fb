import { deleteTaskInputSchema, deleteTaskOutputSchema } from "../schemas/tasks.js";
import { runTool, type ToolDeps } from "./shared.js";

export const DELETE_TASK = "delete_task";

/** Registers delete_task. */
export function registerDeleteTask({ server, service }: ToolDeps): void {
  server.registerTool(
    DELETE_TASK,
    {
      title: "Delete a task and all its examples",
      description:
        "Permanently delete a task, its stored examples and its classifier. This cannot be undone; export_task first to keep a copy. " +
        "Use remove_examples instead to drop only some examples.",
      inputSchema: deleteTaskInputSchema,
      outputSchema: deleteTaskOutputSchema,
      annotations: {
        title: "Delete a task and all its examples",
        readOnlyHint: false,
        destructiveHint: true,
        // Deleting again changes nothing (the call is refused: no such task).
        idempotentHint: true,
        openWorldHint: false,
      },
    },
    async (args) => runTool(() => service.deleteTask(args.task)),
  );
}

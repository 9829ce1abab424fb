import { deleteTaskInputSchema, deleteTaskOutputSchema } from "../schemas/tasks.js";
import { runTool, type ToolDeps } from "./shared.js";

export const DELETE_TASK = "delete_task";

/** Registers delete_task. */
export function registerDeleteTask({ server, service }: ToolDeps): void {
  server.registerTool(
    DELETE_TASK,
    {
      title: "Delete a task",
      description:
        "Delete a task and its examples for good (export_task keeps a copy). Already gone: noted, not an error.",
      inputSchema: deleteTaskInputSchema,
      outputSchema: deleteTaskOutputSchema,
      annotations: {
        title: "Delete a task",
        readOnlyHint: false,
        destructiveHint: true,
        // Deleting again changes nothing: a success with a note.
        idempotentHint: true,
        openWorldHint: false,
      },
    },
    async (args) => runTool(() => service.deleteTask(args.task)),
  );
}

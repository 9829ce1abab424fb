import { listTasksInputSchema, listTasksOutputSchema } from "../schemas/tasks.js";
import { runTool, type ToolDeps } from "./shared.js";

export const LIST_TASKS = "list_tasks";

/** Registers list_tasks. */
export function registerListTasks({ server, service }: ToolDeps): void {
  server.registerTool(
    LIST_TASKS,
    {
      title: "List tasks",
      description:
        "List tasks by name, to find a `task` or reuse one before create_sav_task. Pages with `cursor`, `limit`.",
      inputSchema: listTasksInputSchema,
      outputSchema: listTasksOutputSchema,
      annotations: { title: "List tasks", readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
    },
    async (args) => runTool(() => service.listTasks(args)),
  );
}

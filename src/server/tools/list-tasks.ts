import { z } from "zod";
import { listTasksOutputSchema } from "../schemas/tasks.js";
import { runTool, type ToolDeps } from "./shared.js";

export const LIST_TASKS = "list_tasks";

/** Registers list_tasks. */
export function registerListTasks({ server, service }: ToolDeps): void {
  server.registerTool(
    LIST_TASKS,
    {
      title: "List classification tasks",
      description:
        "List every stored task with its prompt, labels, model and examples per label, and whether it is ready to classify. " +
        "Use it to find the name to pass as `task`, or to check whether a suitable task already exists before create_sav_task.",
      inputSchema: z.object({}),
      outputSchema: listTasksOutputSchema,
      annotations: { title: "List classification tasks", readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
    },
    async () => runTool(async () => ({ tasks: await service.listTasks() })),
  );
}

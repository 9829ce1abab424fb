import { createdTaskSchema, createTaskInputSchema } from "../schemas/tasks.js";
import { callContext, runTool, type ToolDeps } from "./shared.js";

export const CREATE_SAV_TASK = "create_sav_task";

/** Registers create_sav_task: defines a new few-shot classification task. */
export function registerCreateSavTask({ server, service, logs }: ToolDeps): void {
  server.registerTool(
    CREATE_SAV_TASK,
    {
      title: "Create a task",
      description:
        "Start here: a task (`name`, `description`) is a question asked with each image (`prompt`) and optional closed `labels`. Next: add_examples.",
      inputSchema: createTaskInputSchema,
      outputSchema: createdTaskSchema,
      annotations: {
        title: "Create a task",
        readOnlyHint: false,
        destructiveHint: false,
        // A repeated call with the same name changes nothing: it is refused because the name exists.
        idempotentHint: true,
        openWorldHint: false,
      },
    },
    async (args, extra) => runTool(() => service.createTask(args, callContext(extra, logs))),
  );
}

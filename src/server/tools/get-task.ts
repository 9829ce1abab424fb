import { getTaskInputSchema, taskDetailSchema } from "../schemas/tasks.js";
import { runTool, withPicture, type ToolDeps } from "./shared.js";

export const GET_TASK = "get_task";


/** Registers get_task. */
export function registerGetTask({ server, service }: ToolDeps): void {
  server.registerTool(
    GET_TASK,
    {
      title: "Show a task",
      description:
        "Show one task in full with its voting heads; includeExamples lists example ids for remove_examples.",
      inputSchema: getTaskInputSchema,
      outputSchema: taskDetailSchema,
      annotations: { title: "Show a task", readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
    },
    async (args) => {
      const result = await runTool(() => service.getTask(args.task, args));
      return args.picture ? withPicture(result, () => service.headMap(args.task)) : result;
    },
  );
}

import { getTaskInputSchema, taskDetailSchema } from "../schemas/tasks.js";
import { runTool, type ToolDeps } from "./shared.js";

export const GET_TASK = "get_task";


/** Registers get_task. */
export function registerGetTask({ server, service }: ToolDeps): void {
  server.registerTool(
    GET_TASK,
    {
      title: "Show one task in detail",
      description:
        "Show a task's definition (prompt, labels, k, head selection, model), its examples per label, whether it is ready, and the attention heads that vote " +
        "(layer, head, score). includeExamples: true also lists every example's id, label and text, e.g. to pick ids for remove_examples.",
      inputSchema: getTaskInputSchema,
      outputSchema: taskDetailSchema,
      annotations: { title: "Show one task in detail", readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
    },
    async (args) => runTool(() => service.getTask(args.task, args)),
  );
}

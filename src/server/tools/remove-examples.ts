import { z } from "zod";
import { labelSchema, taskRefSchema } from "../schemas.js";
import { runTool, type ToolDeps } from "./shared.js";

export const REMOVE_EXAMPLES = "remove_examples";

/** Registers remove_examples. */
export function registerRemoveExamples({ server, service }: ToolDeps): void {
  server.registerTool(
    REMOVE_EXAMPLES,
    {
      title: "Remove examples from a task",
      description:
        "Delete some of a task's examples: by `ids` (from add_examples, get_task with includeExamples, or evaluate_task's misclassified list) or every example with a `label`. " +
        "Give exactly one of the two. With ids, all must belong to the task or nothing is removed. The classifier is rebuilt on the next use.",
      inputSchema: z.object({
        task: taskRefSchema,
        ids: z.array(z.number().int().positive()).min(1).max(10_000).optional().describe("Example ids to remove."),
        label: labelSchema.optional().describe("Remove every example with this label."),
      }),
      outputSchema: z.object({
        task: z.string().describe("Task name"),
        removed: z.array(z.number().int()).describe("Ids of the removed examples"),
        exampleCount: z.number().int().describe("Examples left"),
        examplesPerLabel: z.record(z.string(), z.number().int()).describe("Examples left per label"),
        exampleVersion: z.number().int().describe("The task's example version after this call"),
        ready: z.boolean().describe("True when classify_image can still answer"),
        nextStep: z.string().describe("What to do next"),
      }),
      annotations: {
        title: "Remove examples from a task",
        readOnlyHint: false,
        destructiveHint: true,
        // Removing the same examples again changes nothing (the call is refused: they are gone).
        idempotentHint: true,
        openWorldHint: false,
      },
    },
    async (args) => runTool(() => service.removeExamples(args)),
  );
}

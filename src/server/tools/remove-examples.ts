import { removeExamplesInputSchema, removeExamplesOutputSchema } from "../schemas/examples.js";
import { runTool, type ToolDeps } from "./shared.js";

export const REMOVE_EXAMPLES = "remove_examples";

/** Registers remove_examples. */
export function registerRemoveExamples({ server, service }: ToolDeps): void {
  server.registerTool(
    REMOVE_EXAMPLES,
    {
      title: "Remove examples from a task",
      description:
        "Delete some of a task's examples: by `ids` (from add_examples, get_task with includeExamples, or evaluate_task's misclassified list) every example with a `label`, or by the `sources` its images came from. " +
        "Give exactly one of the three. With ids, all must belong to the task or nothing is removed. The classifier is rebuilt on the next use.",
      inputSchema: removeExamplesInputSchema,
      outputSchema: removeExamplesOutputSchema,
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

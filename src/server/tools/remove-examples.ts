import { removeExamplesInputSchema, removeExamplesOutputSchema } from "../schemas/examples.js";
import { runTool, type ToolDeps } from "./shared.js";

export const REMOVE_EXAMPLES = "remove_examples";

/** Registers remove_examples. */
export function registerRemoveExamples({ server, service }: ToolDeps): void {
  server.registerTool(
    REMOVE_EXAMPLES,
    {
      title: "Remove examples",
      description:
        "Delete a task's examples by `ids`, `label` or image `sources`. Already gone: noted, not an error.",
      inputSchema: removeExamplesInputSchema,
      outputSchema: removeExamplesOutputSchema,
      annotations: {
        title: "Remove examples",
        readOnlyHint: false,
        destructiveHint: true,
        // Removing the same examples again changes nothing: a success with a note.
        idempotentHint: true,
        openWorldHint: false,
      },
    },
    async (args) => runTool(() => service.removeExamples(args)),
  );
}

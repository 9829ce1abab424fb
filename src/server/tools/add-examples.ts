import { addExamplesInputSchema, addExamplesOutputSchema } from "../schemas/examples.js";
import { callContext, runTool, type ToolDeps } from "./shared.js";

export const ADD_EXAMPLES = "add_examples";

/** Registers add_examples: labelled images become stored head-vector examples. */
export function registerAddExamples({ server, service, config, logs, lane }: ToolDeps): void {
  const inputSchema = addExamplesInputSchema(config.limits);

  server.registerTool(
    ADD_EXAMPLES,
    {
      title: "Add labelled examples",
      description:
        "Teach a task labelled images (2+ labels, 5-20 each), then classify_image: `examples` (each an `image` or `images`), a `folder` (a subfolder per label) or a CSV/JSONL `manifest` (path,label[,text]). Repeats add again.",
      inputSchema,
      outputSchema: addExamplesOutputSchema,
      annotations: {
        title: "Add labelled examples",
        readOnlyHint: false,
        destructiveHint: false,
        idempotentHint: false,
        // Image URLs are fetched from the network.
        openWorldHint: true,
      },
    },
    async (args, extra) => runTool(() => service.addExamples(args, callContext(extra, logs, lane(extra)))),
  );
}

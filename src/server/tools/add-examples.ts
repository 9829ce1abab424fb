import { addExamplesInputSchema, addExamplesOutputSchema } from "../schemas/examples.js";
import { callContext, runTool, type ToolDeps } from "./shared.js";

export const ADD_EXAMPLES = "add_examples";

/** Registers add_examples: labelled images become stored head-vector examples. */
export function registerAddExamples({ server, service, config }: ToolDeps): void {
  const inputSchema = addExamplesInputSchema(config.limits);

  server.registerTool(
    ADD_EXAMPLES,
    {
      title: "Add labelled example images to a task",
      description:
        "Teach a task (made with create_sav_task) with labelled images: each example is one image (or a few read together), optional text for the prompt's {text}, and its label. " +
        "The model reads each image with the task's prompt and the per-head attention vectors are stored with the label. " +
        "Needs examples of at least two labels before classify_image works; 5-20 per label is typical. Every example is checked first (label, image readable and decodable, limits); " +
        "by default one bad example makes the whole call store nothing and the error lists what to fix. Images: local paths inside the allowed directories, http(s) URLs, or base64/data URIs. " +
        "For a whole dataset pass `folder` (one subfolder per label) or `manifest` (CSV/JSONL of path,label[,text]) instead of `examples`. " +
        "Sends progress notifications when given a progressToken, and stops without storing anything when cancelled. Calling it twice adds the examples twice.",
      inputSchema,
      outputSchema: addExamplesOutputSchema,
      annotations: {
        title: "Add labelled example images to a task",
        readOnlyHint: false,
        destructiveHint: false,
        idempotentHint: false,
        // Image URLs are fetched from the network.
        openWorldHint: true,
      },
    },
    async (args, extra) => runTool(() => service.addExamples(args, callContext(extra))),
  );
}

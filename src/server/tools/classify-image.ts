import { classifyInputSchema, classifyOutputSchema } from "../schemas/classify.js";
import { callContext, runTool, type ToolDeps } from "./shared.js";

export { classifyOutputSchema } from "../schemas/classify.js";

export const CLASSIFY_IMAGE = "classify_image";

/** Registers classify_image: labels one image or a batch with a task's classifier. */
export function registerClassifyImage({ server, service, config }: ToolDeps): void {
  const inputSchema = classifyInputSchema(config.limits);
  server.registerTool(
    CLASSIFY_IMAGE,
    {
      title: "Classify images with a few-shot task",
      description:
        "Label new images with a task's classifier (after create_sav_task and add_examples with at least two labels). " +
        "Returns per image the predicted label, `share` (fraction of the voting attention heads that chose it: a rough confidence) and the votes per label; " +
        "detail: true adds which heads voted for what. Give one `image` or a batch `images` (each classified separately). " +
        "Images: local paths inside the allowed directories, http(s) URLs, or base64/data URIs. Stores nothing.",
      inputSchema,
      outputSchema: classifyOutputSchema,
      annotations: {
        title: "Classify images with a few-shot task",
        readOnlyHint: true,
        destructiveHint: false,
        idempotentHint: true,
        // Image URLs are fetched from the network.
        openWorldHint: true,
      },
    },
    async (args, extra) => runTool(() => service.classify(args, callContext(extra))),
  );
}

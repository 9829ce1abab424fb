import { classifyInputSchema, classifyOutputSchema } from "../schemas/classify.js";
import { callContext, runTool, type ToolDeps } from "./shared.js";

export { classifyOutputSchema } from "../schemas/classify.js";

export const CLASSIFY_IMAGE = "classify_image";

/** Registers classify_image: labels one image or a batch with a task's classifier. */
export function registerClassifyImage({ server, service, config, logs, lane }: ToolDeps): void {
  const inputSchema = classifyInputSchema(config.limits);
  server.registerTool(
    CLASSIFY_IMAGE,
    {
      title: "Classify images",
      description:
        "Label new images with a trained task: one `image`, a batch of `images`, or multi-image `queries`. Gives label, vote share, calibrated probability; abstains below minConfidence. Stores nothing.",
      inputSchema,
      outputSchema: classifyOutputSchema,
      annotations: {
        title: "Classify images",
        readOnlyHint: true,
        destructiveHint: false,
        idempotentHint: true,
        // Image URLs are fetched from the network.
        openWorldHint: true,
      },
    },
    async (args, extra) => runTool(() => service.classify(args, callContext(extra, logs, lane(extra)))),
  );
}

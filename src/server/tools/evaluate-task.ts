import { evaluateInputSchema, evaluateOutputSchema } from "../schemas/evaluate.js";
import { callContext, runTool, withPicture, type ToolDeps } from "./shared.js";

export const EVALUATE_TASK = "evaluate_task";

/** Registers evaluate_task: cross-validation on the stored examples. */
export function registerEvaluateTask({ server, service }: ToolDeps): void {
  server.registerTool(
    EVALUATE_TASK,
    {
      title: "Measure a task's accuracy by cross-validation",
      description:
        "Estimate how well a task classifies, using only its stored examples (no new images): leave-one-out by default, or k-fold. " +
        "Returns accuracy, precision/recall/F1 per label, the confusion matrix, accuracy for several numbers of voting heads, the misclassified example ids, " +
        "recommendations (e.g. add examples when a label has fewer than 5), and calibration: ECE of the vote share and of the calibrated probability, coverage and selective accuracy at minConfidence, and a suggested minConfidence. picture: true adds the head map as a PNG. Use it after add_examples, before trusting classify_image. Needs 2+ labels and 2+ examples per label.",
      inputSchema: evaluateInputSchema,
      outputSchema: evaluateOutputSchema,
      annotations: {
        title: "Measure a task's accuracy by cross-validation",
        readOnlyHint: true,
        destructiveHint: false,
        idempotentHint: true,
        openWorldHint: false,
      },
    },
    async (args, extra) => {
      const result = await runTool(() => service.evaluate(args, callContext(extra)));
      if (!args.picture) return result;
      const curve = (result.structuredContent as { accuracyByHeadCount?: { heads: number; accuracy: number }[] } | undefined)?.accuracyByHeadCount;
      return withPicture(result, () => service.headMap(args.task, curve));
    },
  );
}

import { evaluateInputSchema, evaluateOutputSchema } from "../schemas/evaluate.js";
import { runTool, type ToolDeps } from "./shared.js";

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
        "and recommendations (e.g. add examples when a label has fewer than 5). Use it after add_examples, before trusting classify_image. Needs 2+ labels and 2+ examples per label.",
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
    async (args) => runTool(() => service.evaluate(args)),
  );
}

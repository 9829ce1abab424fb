import { evaluateInputSchema, evaluateOutputSchema } from "../schemas/evaluate.js";
import { callContext, runTool, withPicture, type ToolDeps } from "./shared.js";

export const EVALUATE_TASK = "evaluate_task";

/** Registers evaluate_task: cross-validation on the stored examples. */
export function registerEvaluateTask({ server, service }: ToolDeps): void {
  server.registerTool(
    EVALUATE_TASK,
    {
      title: "Evaluate a task",
      description:
        "Cross-validate a task on its examples before trusting it: accuracy, confusion, misclassified ids, calibration, advice.",
      inputSchema: evaluateInputSchema,
      outputSchema: evaluateOutputSchema,
      annotations: {
        title: "Evaluate a task",
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

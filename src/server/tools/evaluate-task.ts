import { evaluateInputSchema, evaluateOutputSchema } from "../schemas/evaluate.js";
import { runTool, type ToolDeps } from "./shared.js";

export const EVALUATE_TASK = "evaluate_task";

/** Registers evaluate_task: cross-validation on the stored examples. */
export function registerEvaluateTask({ server, service }: ToolDeps): void {
  server.registerTool(
    EVALUATE_TASK,
    {
      title: "Evaluate a task",
      description:
        "Cross-validate a task on its examples before trusting it: accuracy, confusion, misclassified ids, advice.",
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
    async (args) => runTool(() => service.evaluate(args)),
  );
}

/** Input and output of evaluate_task; the service's types are inferred from them. */
import { z } from "zod";
import { taskRefSchema } from "../schemas.js";
import { headSelectionSchema } from "./tasks.js";
import { EXAMPLE_SOURCES_DESCRIPTION } from "./examples.js";

export const evaluateInputSchema = z.object({
  task: taskRefSchema,
  folds: z
    .union([z.literal("leave-one-out"), z.number().int().min(2, "Use at least 2 folds, or 'leave-one-out'.")])
    .optional()
    .describe("'leave-one-out' (default: each example is classified by a classifier built from all the others) or a number of stratified folds (2 or more)."),
  seed: z.number().int().optional().describe("Seed for assigning examples to folds (k-fold only; default 0). Same seed, same result."),
  heads: z
    .number()
    .int()
    .min(1)
    .max(4096)
    .optional()
    .describe("Evaluate with this many voting heads instead of the task's own k (to try another k without changing the task)."),
});
export type EvaluateInput = z.infer<typeof evaluateInputSchema>;

export const evaluateOutputSchema = z.object({
  task: z.string().describe("Task name"),
  method: z.string().describe("The cross-validation that was run, in words"),
  folds: z.union([z.literal("leave-one-out"), z.number().int()]).describe("'leave-one-out' or the number of folds"),
  seed: z.number().int().describe("Seed of the fold assignment (k-fold only)"),
  heads: z.number().int().describe("Number of voting heads (k) evaluated"),
  selection: headSelectionSchema.describe("Head scoring mode of the task"),
  exampleCount: z.number().int().describe("Examples evaluated"),
  accuracy: z.number().describe("Fraction of held-out examples labelled correctly (0..1)"),
  correct: z.number().int().describe("Held-out examples labelled correctly"),
  total: z.number().int().describe("Held-out examples"),
  labels: z.array(z.string()).describe("Labels, in the order of the confusion matrix rows and columns"),
  perClass: z
    .array(
      z.object({
        label: z.string().describe("The label"),
        precision: z.number().describe("Of the examples predicted as this label, the fraction that have it"),
        recall: z.number().describe("Of the examples with this label, the fraction predicted as it"),
        f1: z.number().describe("Harmonic mean of precision and recall"),
        support: z.number().int().describe("Examples with this label"),
      }),
    )
    .describe("Precision, recall and F1 per label"),
  confusion: z.array(z.array(z.number().int())).describe("confusion[i][j]: examples labelled labels[i] that were predicted as labels[j]"),
  accuracyByHeadCount: z
    .array(z.object({ heads: z.number().int().describe("Number of voting heads"), accuracy: z.number().describe("Accuracy with that many") }))
    .describe("Cross-validated accuracy for several head counts, to choose k"),
  misclassified: z
    .array(
      z.object({
        exampleId: z.number().int().describe("Example id (see get_task with includeExamples; remove_examples takes it)"),
        label: z.string().describe("Its stored label"),
        predicted: z.string().describe("What the other examples predicted"),
        share: z.number().describe("Vote share of the prediction"),
        sources: z.array(z.string()).optional().describe(EXAMPLE_SOURCES_DESCRIPTION),
      }),
    )
    .describe("Held-out examples that were labelled wrongly: candidates for mislabelled or ambiguous examples"),
  recommendations: z.array(z.string()).describe("What would improve the task, e.g. more examples of a label"),
  note: z.string().optional().describe("Caveat, e.g. random model weights"),
});
export type EvaluateResult = z.infer<typeof evaluateOutputSchema>;

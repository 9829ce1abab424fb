/** Input and output of evaluate_task; the service's types are inferred from them. */
import { z } from "zod";
import { accuracyByHeadCountSchema, calibrationBinSchema, perClassSchema, selectiveSchema } from "../../report/metric-schemas.js";
import { headSelectionSchema, integerInput, taskRefSchema } from "../schemas.js";
import { TASK_LIMITS } from "../task-rules.js";
import { exampleSourcesSchema } from "./examples.js";

const FOLDS_RULE = "folds must be a whole number of at least 2, or 'leave-one-out'.";

export const evaluateInputSchema = z.object({
  task: taskRefSchema,
  folds: z
    .union([z.literal("leave-one-out"), integerInput("folds", { min: 2, message: FOLDS_RULE })], {
      // Neither branch fits (e.g. "two"): one message rather than zod's "Invalid input".
      error: (issue) => (issue.code === "invalid_union" ? `${FOLDS_RULE} Got ${JSON.stringify(issue.input)}.` : undefined),
    })
    .optional()
    // Listed as an integer so generic clients send one; "leave-one-out" (the default) is still accepted.
    .meta({ anyOf: undefined, type: "integer", minimum: 2 })
    .describe("Stratified folds; omit for leave-one-out."),
  seed: integerInput("seed").optional().describe("Default 0."),
  heads: integerInput("heads", { min: 1, max: TASK_LIMITS.maxHeads }).optional().describe("Instead of the task's."),
  minConfidence: z.number().min(0).max(1).optional().describe("Also report coverage at this confidence."),
  picture: z.boolean().optional(),
});
export type EvaluateInput = z.infer<typeof evaluateInputSchema>;

const calibrationSchema = z.object({
  method: z.string(),
  temperature: z.number(),
  share: z.object({ ece: z.number(), bins: z.array(calibrationBinSchema) }),
  probability: z.object({ ece: z.number(), bins: z.array(calibrationBinSchema) }),
  atMinConfidence: selectiveSchema.optional(),
  suggestedMinConfidence: selectiveSchema.extend({ targetAccuracy: z.number() }).nullable(),
});

export const evaluateOutputSchema = z.object({
  task: z.string(),
  method: z.string(),
  folds: z.union([z.literal("leave-one-out"), z.number().int()]),
  seed: z.number().int(),
  heads: z.number().int(),
  selection: headSelectionSchema,
  exampleCount: z.number().int(),
  accuracy: z.number(),
  correct: z.number().int(),
  total: z.number().int(),
  labels: z.array(z.string()),
  perClass: perClassSchema,
  confusion: z.array(z.array(z.number().int())),
  accuracyByHeadCount: accuracyByHeadCountSchema,
  misclassified: z.array(
    z.object({ exampleId: z.number().int(), label: z.string(), predicted: z.string(), share: z.number(), sources: exampleSourcesSchema.optional() }),
  ),
  recommendations: z.array(z.string()),
  calibration: calibrationSchema.nullable(),
  note: z.string().optional(),
});
export type EvaluateResult = z.infer<typeof evaluateOutputSchema>;

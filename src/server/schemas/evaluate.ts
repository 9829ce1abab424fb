/** Input and output of evaluate_task; the service's types are inferred from them. */
import { z } from "zod";
import { accuracyByHeadCountSchema, calibrationBinSchema, perClassSchema, selectiveSchema } from "../../report/metric-schemas.js";
import { headSelectionSchema, taskRefSchema } from "../schemas.js";
import { exampleSourcesSchema } from "./examples.js";

export const evaluateInputSchema = z.object({
  task: taskRefSchema,
  folds: z
    .union([z.literal("leave-one-out"), z.number().int().min(2, "Use at least 2 folds, or 'leave-one-out'.")])
    .optional()
    // Listed as an integer so generic clients send one; "leave-one-out" (the default) is still accepted.
    .meta({ anyOf: undefined, type: "integer", minimum: 2 })
    .describe("Stratified folds (2+); omit for leave-one-out."),
  seed: z.number().int().optional().describe("Fold assignment seed (default 0)."),
  heads: z.number().int().min(1).max(4096).optional().describe("Try this k instead of the task's."),
  minConfidence: z.number().min(0).max(1).optional().describe("Also report coverage at this confidence."),
  picture: z.boolean().optional().describe("Add the head map (PNG)."),
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

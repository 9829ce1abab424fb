/** Zod schemas shared by several tools' inputs and outputs. Output types are inferred from them. */
import { z } from "zod";
import { labelProblem, promptProblem, TASK_NAME_PATTERN, TASK_NAME_RULE } from "./task-rules.js";

/** A whole number written as digits, perhaps signed and padded ("5", " -3 "): what agents send when they quote numbers. */
const DIGITS = /^\s*-?\d+\s*$/;

function rangeText(min: number | undefined, max: number | undefined): string {
  if (min !== undefined && max !== undefined) return `a whole number from ${min} to ${max}`;
  if (min !== undefined) return `a whole number of at least ${min}`;
  if (max !== undefined) return `a whole number of at most ${max}`;
  return "a whole number";
}

/**
 * An integer input that also takes a string of digits ("5"), since agents often quote numbers; any other
 * value gets one message naming the field and its range. z.preprocess keeps the inner schema's JSON form,
 * so tools/list still says `type: integer` with its bounds and strict clients send numbers.
 */
export function integerInput(field: string, range: { min?: number; max?: number; message?: string } = {}) {
  const { min, max } = range;
  const error = (issue: { input?: unknown }) =>
    `${range.message ?? `${field} must be ${rangeText(min, max)}.`} Got ${JSON.stringify(issue.input) ?? String(issue.input)}.`;
  let schema = z.number({ error }).int({ error });
  if (min !== undefined) schema = schema.min(min, { error });
  if (max !== undefined) schema = schema.max(max, { error });
  return z.preprocess((value) => (typeof value === "string" && DIGITS.test(value) ? Number(value) : value), schema);
}

export const headSelectionSchema = z.enum(["in-sample", "leave-one-out"]);

/** Counts per label (examples or votes). */
export const countsSchema = z.record(z.string(), z.number().int());

export { TASK_NAME_PATTERN } from "./task-rules.js";

export const taskNameSchema = z.string().regex(TASK_NAME_PATTERN, TASK_NAME_RULE);

export const taskRefSchema = z
  .string()
  .min(1, "Give the task's name (see list_tasks).")
  // Any string is worth a lookup (the error lists the known names), so tools/list shows no length rule.
  .meta({ minLength: undefined });

/** A label, trimmed and in Unicode NFC; invisible and control characters are refused (task-rules.ts). */
export const labelSchema = z
  .string()
  .trim()
  .normalize("NFC")
  .superRefine((label, ctx) => {
    const problem = labelProblem(label);
    if (problem) ctx.addIssue({ code: "custom", message: problem });
  });

export const promptSchema = z
  .string()
  .trim()
  .superRefine((prompt, ctx) => {
    const problem = promptProblem(prompt);
    if (problem) ctx.addIssue({ code: "custom", message: problem });
  });

/**
 * Output schemas describe only what a field's name does not say (docs/tools.md describes every field):
 * tools/list has a 13 KB budget (test/server/tool-list.test.ts) and the task view below appears in four
 * tools' outputs. The JSON schemas are made lean after conversion (tools/lean-tool-list.ts).
 */
export const shapeOutputSchema = z.object({ layers: z.number().int(), heads: z.number().int(), headDim: z.number().int() });

export const modelRefOutputSchema = z.object({ id: z.string(), fingerprint: z.string(), randomWeights: z.boolean() });

/** A model family's processing options: names and scalar values (the family validates them). */
export const processingSchema = z.record(z.string(), z.union([z.string(), z.number(), z.boolean()]));

export const taskOutputSchema = z.object({
  name: z.string(),
  description: z.string().nullable(),
  prompt: z.string(),
  usesText: z.boolean(),
  labels: z.array(z.string()).nullable(),
  heads: z.number().int(),
  selection: headSelectionSchema,
  model: modelRefOutputSchema,
  shape: shapeOutputSchema,
  processing: processingSchema,
  exampleCount: z.number().int(),
  examplesPerLabel: countsSchema,
  exampleVersion: z.number().int(),
  /** classify_image abstains below this calibrated probability; null: never. */
  minConfidence: z.number().nullable(),
  ready: z.boolean(),
  createdAt: z.string(),
  updatedAt: z.string(),
  nextStep: z.string(),
  note: z.string().optional(),
});

export type TaskView = z.infer<typeof taskOutputSchema>;

export const votesSchema = countsSchema;

export const modelListingSchema = z.object({
  id: z.string(),
  title: z.string(),
  installed: z.boolean(),
  isDefault: z.boolean(),
  randomWeights: z.boolean(),
  downloadBytes: z.number().nullable(),
  installCommand: z.string().nullable(),
  note: z.string().optional(),
});

export type ModelListingView = z.infer<typeof modelListingSchema>;

/** Zod schemas shared by several tools' inputs and outputs. Output types are inferred from them. */
import { z } from "zod";

export const headSelectionSchema = z.enum(["in-sample", "leave-one-out"]);

/** Counts per label (examples or votes). */
export const countsSchema = z.record(z.string(), z.number().int());

/** Task names are used in resource URIs and file names, hence the conservative alphabet. */
export const TASK_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export const taskNameSchema = z
  .string()
  .regex(
    TASK_NAME_PATTERN,
    "A task name is 1-64 characters: letters, digits, '.', '_' or '-', starting with a letter or digit (e.g. 'kid-safe').",
  );

export const taskRefSchema = z
  .string()
  .min(1, "Give the task's name (see list_tasks).")
  // Any string is worth a lookup (the error lists the known names), so tools/list shows no length rule.
  .meta({ minLength: undefined })
  .describe("Task name.");

export const labelSchema = z
  .string()
  .trim()
  .min(1, "A label cannot be empty.")
  .max(100, "A label is at most 100 characters.");

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

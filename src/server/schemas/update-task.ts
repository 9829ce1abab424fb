/** Input and output of update_task; the service's types are inferred from them. */
import { z } from "zod";
import { headSelectionSchema, labelSchema, taskOutputSchema, taskRefSchema } from "../schemas.js";
import { minConfidenceSchema } from "./tasks.js";

export const updateTaskInputSchema = z.object({
  task: taskRefSchema,
  description: z.string().max(2000).optional().describe('New description ("" clears it).'),
  heads: z.number().int().min(1).max(4096).optional().describe("New k."),
  selection: headSelectionSchema.optional().describe("New head scoring."),
  minConfidence: minConfidenceSchema.nullable().optional().describe("New abstention threshold; null: never."),
  addLabels: z.array(labelSchema).min(1).max(100).optional().describe("Labels to add to a closed set."),
  renameLabel: z
    .object({ from: labelSchema.describe("Current label."), to: labelSchema.describe("New name.") })
    .optional()
    .describe("Rename a label everywhere."),
  prompt: z
    .string()
    .trim()
    .min(1)
    .max(4000)
    .optional()
    .describe("New prompt; only while there are no examples."),
});
export type UpdateTaskInput = z.infer<typeof updateTaskInputSchema>;

/** The settings update_task can change, and what follows from them (get_task shows the rest). */
export const updateTaskOutputSchema = taskOutputSchema
  .pick({
    name: true,
    description: true,
    prompt: true,
    labels: true,
    heads: true,
    selection: true,
    minConfidence: true,
    examplesPerLabel: true,
    exampleVersion: true,
    ready: true,
    nextStep: true,
    note: true,
  })
  .extend({ changed: z.array(z.string()), classifierRebuilt: z.boolean() });
export type UpdateTaskResult = z.infer<typeof updateTaskOutputSchema>;

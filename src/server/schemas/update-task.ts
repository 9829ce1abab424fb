/** Input and output of update_task; the service's types are inferred from them. */
import { z } from "zod";
import { labelSchema, taskOutputSchema, taskRefSchema } from "../schemas.js";
import { headSelectionSchema } from "./tasks.js";

export const updateTaskInputSchema = z.object({
  task: taskRefSchema,
  description: z.string().max(2000).optional().describe('New description ("" clears it).'),
  heads: z.number().int().min(1).max(4096).optional().describe("New k: how many heads vote (e.g. the count evaluate_task recommends)."),
  selection: headSelectionSchema.optional().describe("New head selection: 'in-sample' or 'leave-one-out'."),
  addLabels: z.array(labelSchema).min(1).max(100).optional().describe("Labels to add to a closed label set."),
  renameLabel: z
    .object({ from: labelSchema.describe("The current label"), to: labelSchema.describe("Its new name (not a label in use)") })
    .optional()
    .describe("Rename a label, in the label set and on every example that has it."),
  prompt: z
    .string()
    .trim()
    .min(1)
    .max(4000)
    .optional()
    .describe("New prompt; only while the task has no examples (stored vectors depend on the prompt)."),
});
export type UpdateTaskInput = z.infer<typeof updateTaskInputSchema>;

export const updateTaskOutputSchema = taskOutputSchema.extend({
  changed: z.array(z.string()).describe("What this call changed, e.g. \"heads 20 → 10\"; empty when nothing differed"),
  classifierRebuilt: z.boolean().describe("True when the change alters classification: the classifier is rebuilt on next use"),
});
export type UpdateTaskResult = z.infer<typeof updateTaskOutputSchema>;

/** Input and output of update_task; the service's types are inferred from them. */
import { z } from "zod";
import { headSelectionSchema, integerInput, labelSchema, promptSchema, taskOutputSchema, taskRefSchema } from "../schemas.js";
import { TASK_LIMITS } from "../task-rules.js";
import { minConfidenceSchema } from "./tasks.js";

/** Field names say what changes; limits are checked by zod and, for the agent, named in its messages. */
export const updateTaskInputSchema = z.object({
  task: taskRefSchema,
  description: z.string().max(TASK_LIMITS.descriptionChars).meta({ maxLength: undefined }).optional().describe('"" clears it.'),
  heads: integerInput("heads", { min: 1, max: TASK_LIMITS.maxHeads }).optional(),
  selection: headSelectionSchema.optional(),
  // 0 rather than null turns abstention off: generic clients cannot send a null they are not told the type of.
  minConfidence: minConfidenceSchema.optional().describe("0: never abstain."),
  addLabels: z.array(labelSchema).min(1).max(TASK_LIMITS.maxLabels).meta({ minItems: undefined, maxItems: undefined }).optional().describe("For a closed set."),
  renameLabel: z.object({ from: z.string(), to: labelSchema.meta({ minLength: undefined, maxLength: undefined }) }).optional().describe("Also on examples."),
  // The tool description says when the prompt may change.
  prompt: promptSchema.meta({ minLength: undefined, maxLength: undefined }).optional(),
});
export type UpdateTaskInput = z.infer<typeof updateTaskInputSchema>;

/** What update_task changed, the settings it can change, and what to do next. */
export const updateTaskOutputSchema = taskOutputSchema
  .pick({ name: true, labels: true, heads: true, selection: true, minConfidence: true, exampleVersion: true, nextStep: true })
  .extend({ changed: z.array(z.string()), classifierRebuilt: z.boolean() });
export type UpdateTaskResult = z.infer<typeof updateTaskOutputSchema>;

/** Inputs and outputs of the task tools (create, list, get, delete); the service's types are inferred from them. */
import { z } from "zod";
import type { HeadSelection } from "../../sav/index.js";
import { headSelectionSchema, integerInput, labelSchema, processingSchema, promptSchema, taskNameSchema, taskOutputSchema, taskRefSchema } from "../schemas.js";
import { TASK_LIMITS } from "../task-rules.js";
import { exampleSourcesSchema } from "./examples.js";

/** A calibrated probability threshold. */
export const minConfidenceSchema = z.number().min(0, "minConfidence is a probability from 0 to 1.").max(1, "minConfidence is a probability from 0 to 1.");

export const DEFAULT_HEADS = 20;
export const DEFAULT_SELECTION: HeadSelection = "in-sample";

/** Most tasks in one list_tasks page (and one page of the sav://tasks resource). */
export const MAX_TASKS_PER_PAGE = 100;
/** Most examples in one get_task page. */
export const MAX_EXAMPLES_PER_PAGE = 1000;

export const createTaskInputSchema = z.object({
  name: taskNameSchema,
  prompt: promptSchema
    .meta({ minLength: undefined, maxLength: undefined })
    .describe("Asked of each image, e.g. 'Is it safe for kids? Answer yes or no.'; {text}: the example's text."),
  description: z.string().max(TASK_LIMITS.descriptionChars).optional(),
  labels: z
    .array(labelSchema)
    .min(TASK_LIMITS.minLabels, "A closed label set needs at least two labels; omit `labels` to accept any label.")
    .max(TASK_LIMITS.maxLabels)
    .optional()
    .describe("Closed set; omit for any."),
  heads: integerInput("heads", { min: 1, max: TASK_LIMITS.maxHeads }).optional().describe(`Voting heads (default ${DEFAULT_HEADS}).`),
  selection: headSelectionSchema
    .optional()
    .describe("Default in-sample."),
  model: z.string().optional().describe("From list_models."),
  processing: processingSchema
    .optional()
    .describe("Family image options, e.g. {maxPixels: N} (docs/families.md)."),
  minConfidence: minConfidenceSchema.optional().describe("Abstain below this calibrated probability (default: never)."),
});
export type CreateTaskInput = z.infer<typeof createTaskInputSchema>;

/** What create_sav_task answers: the definition and what to do next (get_task shows the rest). */
export const createdTaskSchema = taskOutputSchema.pick({
  name: true,
  processing: true,
  usesText: true,
  labels: true,
  heads: true,
  model: true,
  shape: true,
  minConfidence: true,
  exampleCount: true,
  ready: true,
  nextStep: true,
  note: true,
});
export type CreatedTask = z.infer<typeof createdTaskSchema>;

/** One task in a listing: enough to recognise and pick it; long strings are cut. */
export const taskSummarySchema = taskOutputSchema.pick({
  name: true,
  description: true,
  prompt: true,
  labels: true,
  exampleCount: true,
  examplesPerLabel: true,
  ready: true,
});
export type TaskSummaryView = z.infer<typeof taskSummarySchema>;

/** The fields of `schema` taken from a fuller view, so a result carries exactly what its schema lists. */
export function pickFields<T extends z.ZodRawShape>(schema: z.ZodObject<T>, view: Record<string, unknown>): z.infer<z.ZodObject<T>> {
  return Object.fromEntries(Object.keys(schema.shape).filter((key) => view[key] !== undefined).map((key) => [key, view[key]])) as z.infer<
    z.ZodObject<T>
  >;
}

export const listTasksInputSchema = z.object({
  cursor: z.string().optional().describe("Its nextCursor."),
  limit: integerInput("limit", { min: 1, max: MAX_TASKS_PER_PAGE }).optional(),
});
export type ListTasksInput = z.infer<typeof listTasksInputSchema>;

export const listTasksOutputSchema = z.object({
  tasks: z.array(taskSummarySchema),
  nextCursor: z.string().optional(),
});
export type ListTasksResult = z.infer<typeof listTasksOutputSchema>;

export const getTaskInputSchema = z.object({
  task: taskRefSchema,
  includeExamples: z.boolean().optional(),
  exampleLimit: integerInput("exampleLimit", { min: 1, max: MAX_EXAMPLES_PER_PAGE }).optional().describe("Default 200."),
  exampleCursor: z.string().optional().describe("Its nextExampleCursor."),
  picture: z.boolean().optional(),
});
export type GetTaskInput = z.infer<typeof getTaskInputSchema>;

export const taskDetailSchema = taskOutputSchema.extend({
  selectedHeads: z
    .array(z.object({ layer: z.number().int(), head: z.number().int(), score: z.number(), margin: z.number() }))
    .nullable()
    ,
  classifierProblem: z.string().optional(),
  examples: z
    .array(
      z.object({
        id: z.number().int(),
        label: z.string(),
        text: z.string().nullable(),
        imageSha256: z.array(z.string()),
        sources: exampleSourcesSchema.optional(),
        createdAt: z.string(),
      }),
    )
    .optional(),
  nextExampleCursor: z.string().optional(),
});
export type TaskDetail = z.infer<typeof taskDetailSchema>;

export const deleteTaskInputSchema = z.object({ task: taskRefSchema });

export const deleteTaskOutputSchema = z.object({
  deleted: z.string(),
  examplesRemoved: z.number().int(),
  note: z.string().optional(),
});
export type DeleteTaskResult = z.infer<typeof deleteTaskOutputSchema>;

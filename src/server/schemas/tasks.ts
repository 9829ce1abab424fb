/** Inputs and outputs of the task tools (create, list, get, delete); the service's types are inferred from them. */
import { z } from "zod";
import type { HeadSelection } from "../../sav/index.js";
import { labelSchema, processingSchema, taskNameSchema, taskOutputSchema, taskRefSchema } from "../schemas.js";
import { EXAMPLE_SOURCES_DESCRIPTION } from "./examples.js";

export const DEFAULT_HEADS = 20;
export const DEFAULT_SELECTION: HeadSelection = "in-sample";

export const headSelectionSchema = z.enum(["in-sample", "leave-one-out"]);

export const createTaskInputSchema = z.object({
  name: taskNameSchema.describe(
    "Unique name of the new task, used as `task` in every other tool (1-64 letters, digits, '.', '_', '-'), e.g. 'kid-safe'.",
  ),
  prompt: z
    .string()
    .trim()
    .min(1, "The prompt cannot be empty: give the question asked with each image.")
    .max(4000, "The prompt is at most 4000 characters.")
    .describe(
      "The question the model reads after each image, phrased like a question to a person, e.g. 'Is this image safe to show to children? Answer yes or no.' " +
        "Put {text} where each example's or query's own text goes (an instruction, a claim, a caption), e.g. 'Claim: {text}. Does the image support the claim? Answer yes or no.'",
    ),
  description: z.string().max(2000).optional().describe("Optional free-text description of what the task is for."),
  labels: z
    .array(labelSchema)
    .min(2, "A closed label set needs at least two labels; omit `labels` to accept any label.")
    .max(100)
    .optional()
    .describe("Optional closed label set, e.g. ['safe', 'unsafe']; add_examples then refuses other labels. Omit to accept any label."),
  heads: z
    .number()
    .int()
    .min(1)
    .max(4096)
    .optional()
    .describe(`k: how many of the most discriminative attention heads vote (default ${DEFAULT_HEADS}, as in the SAV paper).`),
  selection: headSelectionSchema
    .optional()
    .describe(
      "How heads are scored on the examples: 'in-sample' (default, as in the SAV paper) or 'leave-one-out' (each example scored without itself; stricter, needs 2+ examples per label).",
    ),
  model: z
    .string()
    .optional()
    .describe("Model id (see list_models). Default: the server's default model. 'tiny-smolvlm' is a random-weight test model."),
  processing: processingSchema
    .optional()
    .describe(
      "Optional image processing options of the model's family, kept for every example and query of the task: SmolVLM {imageSplitting: true} (tiles plus a global view; ~17x slower), " +
        "Qwen2-VL {maxPixels: N} (pixel budget per image), LLaVA-OneVision {imagePath: 'anyres' (the SAVs paper's tiling, default when available) or 'single' (one 384-px view), " +
        "promptStyle: 'chat_template' (default) or 'qwen_1_5' (the paper code's system turn)}. Omit for the family's defaults.",
    ),
});
export type CreateTaskInput = z.infer<typeof createTaskInputSchema>;

export const listTasksOutputSchema = z.object({
  tasks: z.array(taskOutputSchema).describe("All tasks, sorted by name"),
});
export type ListTasksResult = z.infer<typeof listTasksOutputSchema>;

export const getTaskInputSchema = z.object({
  task: taskRefSchema,
  includeExamples: z.boolean().optional().describe("true: also list the examples (id, label, text, image hashes). Default false."),
  exampleLimit: z.number().int().min(1).max(10_000).optional().describe("Most examples listed with includeExamples (default 200)."),
});
export type GetTaskInput = z.infer<typeof getTaskInputSchema>;

export const taskDetailSchema = taskOutputSchema.extend({
  selectedHeads: z
    .array(
      z.object({
        layer: z.number().int().describe("Decoder layer, from 0"),
        head: z.number().int().describe("Head within the layer, from 0"),
        score: z.number().describe("Fraction of the examples this head alone labels correctly (0..1)"),
        margin: z.number().describe("Mean cosine margin between the own label's centroid and the closest other"),
      }),
    )
    .nullable()
    .describe("The k voting heads, best first; null until the task has examples of two labels"),
  classifierProblem: z.string().optional().describe("Why no classifier could be built, when ready is false or building failed"),
  examples: z
    .array(
      z.object({
        id: z.number().int().describe("Example id (remove_examples takes it)"),
        label: z.string().describe("Its label"),
        text: z.string().nullable().describe("Its text, or null"),
        imageSha256: z.array(z.string()).describe("sha256 of each image's bytes (images themselves are not stored)"),
        sources: z.array(z.string()).optional().describe(EXAMPLE_SOURCES_DESCRIPTION),
        createdAt: z.string().describe("ISO 8601 time it was added"),
      }),
    )
    .optional()
    .describe("The examples, oldest first (only with includeExamples: true)"),
});
export type TaskDetail = z.infer<typeof taskDetailSchema>;

export const deleteTaskInputSchema = z.object({ task: taskRefSchema });

export const deleteTaskOutputSchema = z.object({
  deleted: z.string().describe("Name of the deleted task"),
  examplesRemoved: z.number().int().describe("Examples deleted with it"),
});
export type DeleteTaskResult = z.infer<typeof deleteTaskOutputSchema>;

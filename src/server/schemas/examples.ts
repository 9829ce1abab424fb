/** Inputs and outputs of add_examples and remove_examples; the service's types are inferred from them. */
import { z } from "zod";
import type { SavLimits } from "../../config.js";
import { imageSourceSchema } from "../image-source.js";
import { labelSchema, taskRefSchema } from "../schemas.js";

/** The most characters of `text` an example or query may carry. */
export const MAX_TEXT_CHARS = 20_000;

export function exampleInputSchema(limits: Pick<SavLimits, "maxImagesPerPrompt">) {
  const { maxImagesPerPrompt } = limits;
  return z.object({
    image: imageSourceSchema.optional().describe('The example\'s image: {"path": ...}, {"url": ...} or {"data": base64 or data URI}. Give this or `images`.'),
    images: z
      .array(imageSourceSchema)
      .min(1)
      .max(maxImagesPerPrompt, `At most ${maxImagesPerPrompt} images per example.`)
      .optional()
      .describe(`Several images read together in one prompt (up to ${maxImagesPerPrompt}), in order. Give this or \`image\`.`),
    text: z
      .string()
      .max(MAX_TEXT_CHARS)
      .optional()
      .describe("Text for the prompt's {text} placeholder (required when the task's prompt has one); without a placeholder it is put before the prompt."),
    label: labelSchema.describe("The example's label, e.g. 'safe'. Must be one of the task's labels when it has a closed label set."),
  });
}
export type ExampleInput = z.infer<ReturnType<typeof exampleInputSchema>>;

export function addExamplesInputSchema(limits: Pick<SavLimits, "maxImagesPerPrompt" | "maxExamplesPerCall">) {
  const { maxExamplesPerCall } = limits;
  return z.object({
    task: taskRefSchema,
    examples: z
      .array(exampleInputSchema(limits))
      .min(1, 'Give at least one example, e.g. [{"image": {"path": "cat.jpg"}, "label": "cat"}].')
      .max(maxExamplesPerCall, `At most ${maxExamplesPerCall} examples per call; send the rest in further calls.`)
      .describe(`Labelled examples to add (1-${maxExamplesPerCall} per call).`),
    skipInvalid: z
      .boolean()
      .optional()
      .describe("false (default): one invalid example stores nothing from the call. true: store the valid ones and list the invalid ones in `skipped`."),
  });
}
export type AddExamplesInput = z.infer<ReturnType<typeof addExamplesInputSchema>>;

export const addExamplesOutputSchema = z.object({
  task: z.string().describe("Task name"),
  added: z
    .array(
      z.object({
        id: z.number().int().describe("Example id (for remove_examples)"),
        index: z.number().int().describe("Position of the example in the call's list, from 0"),
        label: z.string().describe("Its label"),
      }),
    )
    .describe("Examples stored by this call"),
  skipped: z
    .array(
      z.object({
        index: z.number().int().describe("Position in the call's list, from 0"),
        label: z.string().describe("The label it had"),
        reason: z.string().describe("Why it was skipped and how to fix it"),
      }),
    )
    .describe("Invalid examples left out (only with skipInvalid: true)"),
  exampleCount: z.number().int().describe("Examples the task has now"),
  examplesPerLabel: z.record(z.string(), z.number().int()).describe("Examples per label now"),
  exampleVersion: z.number().int().describe("The task's example version after this call"),
  ready: z.boolean().describe("True when classify_image can answer"),
  nextStep: z.string().describe("What to do next"),
  note: z.string().optional().describe("Caveat, e.g. random model weights"),
});
export type AddExamplesResult = z.infer<typeof addExamplesOutputSchema>;

export const removeExamplesInputSchema = z.object({
  task: taskRefSchema,
  ids: z.array(z.number().int().positive()).min(1).max(10_000).optional().describe("Example ids to remove."),
  label: labelSchema.optional().describe("Remove every example with this label."),
});
export type RemoveExamplesInput = z.infer<typeof removeExamplesInputSchema>;

export const removeExamplesOutputSchema = z.object({
  task: z.string().describe("Task name"),
  removed: z.array(z.number().int()).describe("Ids of the removed examples"),
  exampleCount: z.number().int().describe("Examples left"),
  examplesPerLabel: z.record(z.string(), z.number().int()).describe("Examples left per label"),
  exampleVersion: z.number().int().describe("The task's example version after this call"),
  ready: z.boolean().describe("True when classify_image can still answer"),
  nextStep: z.string().describe("What to do next"),
});
export type RemoveExamplesResult = z.infer<typeof removeExamplesOutputSchema>;

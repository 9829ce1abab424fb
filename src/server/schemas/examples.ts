/** Inputs and outputs of add_examples and remove_examples; the service's types are inferred from them. */
import { z } from "zod";
import type { SavLimits } from "../../config.js";
import { imageSourceSchema } from "../image-source.js";
import { countsSchema, labelSchema, taskRefSchema } from "../schemas.js";

/** The most characters of `text` an example or query may carry. */
export const MAX_TEXT_CHARS = 20_000;

/** Image source schema, listed once per tool (as a definition) though `image` and `images` both use it. */
export const imageSourceRef = imageSourceSchema.meta({ id: "ImageSource" });

export function exampleInputSchema(limits: Pick<SavLimits, "maxImagesPerPrompt">) {
  const { maxImagesPerPrompt } = limits;
  return z.object({
    image: imageSourceRef.optional().describe("The image; or give `images`."),
    images: z
      .array(imageSourceRef)
      .min(1)
      .max(maxImagesPerPrompt, `At most ${maxImagesPerPrompt} images per example.`)
      .optional()
      .describe("Several images read together."),
    text: z.string().max(MAX_TEXT_CHARS).optional().describe("Fills the prompt's {text}."),
    label: labelSchema.describe("Its label."),
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
      .optional()
      .describe("Labelled examples; or `folder` or `manifest`."),
    folder: z.string().min(1).optional().describe("ImageFolder layout: <folder>/<label>/<image>."),
    manifest: z
      .string()
      .min(1)
      .optional()
      .describe('.csv (path,label[,text]; "a.jpg|b.jpg" for several) or .jsonl ({path, label, text}); paths relative to it.'),
    include: z.string().min(1).max(500).optional().describe('Glob over folder/manifest paths, e.g. "*.png".'),
    limit: z.number().int().min(1).optional().describe(`Most examples from folder/manifest (${maxExamplesPerCall} per call).`),
    offset: z.number().int().min(0).optional().describe("Skip this many (the last nextOffset)."),
    skipInvalid: z.boolean().optional().describe("Store the valid examples, skip the rest."),
  });
}
export type AddExamplesInput = z.infer<ReturnType<typeof addExamplesInputSchema>>;

const afterChange = {
  exampleCount: z.number().int(),
  examplesPerLabel: countsSchema,
  exampleVersion: z.number().int(),
  ready: z.boolean(),
  nextStep: z.string(),
};

export const addExamplesOutputSchema = z.object({
  task: z.string(),
  added: z.array(z.object({ id: z.number().int(), index: z.number().int(), label: z.string(), location: z.string().optional() })),
  skipped: z.array(z.object({ index: z.number().int(), label: z.string(), reason: z.string(), location: z.string().optional() })),
  ...afterChange,
  dataset: z.object({ available: z.number().int(), offset: z.number().int(), nextOffset: z.number().int().optional() }).optional(),
  note: z.string().optional(),
});
export type AddExamplesResult = z.infer<typeof addExamplesOutputSchema>;

export const removeExamplesInputSchema = z.object({
  task: taskRefSchema,
  ids: z.array(z.number().int().positive()).min(1).max(10_000).optional().describe("Example ids to remove."),
  label: labelSchema.optional().describe("Remove every example with this label."),
  sources: z
    .array(z.string().min(1))
    .min(1)
    .max(10_000)
    .optional()
    .describe("Remove every example one of whose images came from one of these paths or URLs (as get_task's `sources` shows them)."),
});
export type RemoveExamplesInput = z.infer<typeof removeExamplesInputSchema>;

export const removeExamplesOutputSchema = z.object({
  task: z.string(),
  removed: z.array(z.number().int()),
  ...afterChange,
  note: z.string().optional(),
});
export type RemoveExamplesResult = z.infer<typeof removeExamplesOutputSchema>;

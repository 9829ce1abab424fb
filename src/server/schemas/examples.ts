/** Inputs and outputs of add_examples and remove_examples; the service's types are inferred from them. */
import { z } from "zod";
import type { SavLimits } from "../../config.js";
import { imageSourceSchema } from "../image-source.js";
import { countsSchema, integerInput, labelSchema, taskRefSchema } from "../schemas.js";
import { TASK_LIMITS } from "../task-rules.js";

export const EXAMPLE_SOURCES_DESCRIPTION =
  'Where each image came from: its real path, its URL without the query string, or "base64 (N bytes)"; remove_examples takes them as `sources`. Absent for examples stored before sources were kept, or imported.';

/** The most characters of `text` an example or query may carry (one definition, in task-rules.ts). */
export const MAX_TEXT_CHARS = TASK_LIMITS.textChars;

/** Image source schema, listed once per tool (as a definition) though `image` and `images` both use it. */
export const imageSourceRef = imageSourceSchema.meta({ id: "ImageSource" });

/** Where each image of an example came from: real path, URL without query, or "base64 (N bytes)". */
export const exampleSourcesSchema = z.array(z.string());

export function exampleInputSchema(limits: Pick<SavLimits, "maxImagesPerPrompt">) {
  const { maxImagesPerPrompt } = limits;
  return z.object({
    // The tool descriptions say "image or images" once, rather than each field twice.
    image: imageSourceRef.optional(),
    images: z
      .array(imageSourceRef)
      .min(1)
      .max(maxImagesPerPrompt, `At most ${maxImagesPerPrompt} images per example.`)
      .meta({ minItems: undefined })
      .optional()
      .describe("Read together as one example."),
    text: z.string().max(MAX_TEXT_CHARS).optional(),
    label: labelSchema,
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
      .meta({ minItems: undefined })
      .optional(),
    // The tool description says what these are; docs/tools.md has the rules. Empty strings are refused by the service.
    folder: z.string().optional(),
    manifest: z.string().optional(),
    include: z.string().optional().describe("Glob, e.g. *.png."),
    limit: integerInput("limit", { min: 1 }).optional().describe("Most examples, labels in turn."),
    offset: integerInput("offset", { min: 0 }).optional().describe("Skip this many (nextOffset)."),
    skipInvalid: z.boolean().optional().describe("Store the valid ones, skip the rest."),
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
  ids: z.array(integerInput("ids", { min: 1 })).min(1).max(10_000).meta({ minItems: undefined }).optional(),
  label: labelSchema.optional(),
  sources: z.array(z.string()).max(10_000).meta({ maxItems: undefined }).optional().describe("Image paths/URLs (get_task)."),
});
export type RemoveExamplesInput = z.infer<typeof removeExamplesInputSchema>;

export const removeExamplesOutputSchema = z.object({
  task: z.string(),
  removed: z.array(z.number().int()),
  ...afterChange,
  note: z.string().optional(),
});
export type RemoveExamplesResult = z.infer<typeof removeExamplesOutputSchema>;

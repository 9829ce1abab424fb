/** Inputs and outputs of add_examples and remove_examples; the service's types are inferred from them. */
import { z } from "zod";
import type { SavLimits } from "../../config.js";
import { imageSourceSchema } from "../image-source.js";
import { labelSchema, taskRefSchema } from "../schemas.js";

const LOCATION_DESCRIPTION = 'With folder/manifest input: the image path relative to the folder, or the manifest line ("line 12")';

export const EXAMPLE_SOURCES_DESCRIPTION =
  'Where each image came from: its real path, its URL without the query string, or "base64 (N bytes)"; remove_examples takes them as `sources`. Absent for examples stored before sources were kept, or imported.';

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
      .optional()
      .describe(`Labelled examples to add (1-${maxExamplesPerCall} per call). Give this, \`folder\` or \`manifest\`.`),
    folder: z
      .string()
      .min(1)
      .optional()
      .describe("A folder with one subfolder per label, named after it, holding that label's images (ImageFolder layout: <folder>/<label>/<image>)."),
    manifest: z
      .string()
      .min(1)
      .optional()
      .describe(
        'A .csv (path,label[,text], optional header; several images of one example as "a.jpg|b.jpg") or .jsonl ({"path": "a.jpg" or [...], "label": ..., "text": ...}) file; paths relative to the manifest.',
      ),
    include: z.string().min(1).max(500).optional().describe('With folder/manifest: only image paths matching this glob, e.g. "*.png" or "cat/**".'),
    limit: z.number().int().min(1).optional().describe(`With folder/manifest: at most this many examples, taken from each label in turn (at most ${maxExamplesPerCall} per call).`),
    offset: z.number().int().min(0).optional().describe("With folder/manifest: skip this many examples first (the previous call's nextOffset)."),
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
        location: z.string().optional().describe(LOCATION_DESCRIPTION),
      }),
    )
    .describe("Examples stored by this call"),
  skipped: z
    .array(
      z.object({
        index: z.number().int().describe("Position in the call's list, from 0 (-1 for a manifest line that could not be read)"),
        label: z.string().describe("The label it had"),
        reason: z.string().describe("Why it was skipped and how to fix it"),
        location: z.string().optional().describe(LOCATION_DESCRIPTION),
      }),
    )
    .describe("Invalid examples left out (only with skipInvalid: true)"),
  exampleCount: z.number().int().describe("Examples the task has now"),
  examplesPerLabel: z.record(z.string(), z.number().int()).describe("Examples per label now"),
  exampleVersion: z.number().int().describe("The task's example version after this call"),
  ready: z.boolean().describe("True when classify_image can answer"),
  nextStep: z.string().describe("What to do next"),
  dataset: z
    .object({
      available: z.number().int().describe("Examples the folder/manifest holds (after include)"),
      offset: z.number().int().describe("Where this call started in them"),
      nextOffset: z.number().int().optional().describe("Pass as offset to add the next batch; absent when none are left"),
    })
    .optional()
    .describe("With folder/manifest input: how far through the dataset this call got"),
  note: z.string().optional().describe("Caveat, e.g. random model weights"),
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
  task: z.string().describe("Task name"),
  removed: z.array(z.number().int()).describe("Ids of the removed examples"),
  exampleCount: z.number().int().describe("Examples left"),
  examplesPerLabel: z.record(z.string(), z.number().int()).describe("Examples left per label"),
  exampleVersion: z.number().int().describe("The task's example version after this call"),
  ready: z.boolean().describe("True when classify_image can still answer"),
  nextStep: z.string().describe("What to do next"),
});
export type RemoveExamplesResult = z.infer<typeof removeExamplesOutputSchema>;

import { z } from "zod";
import { imageSourceSchema } from "../image-source.js";
import { exampleTextSchema, labelSchema, taskRefSchema } from "../schemas.js";
import { callContext, runTool, type ToolDeps } from "./shared.js";

export const ADD_EXAMPLES = "add_examples";

const addExamplesOutputSchema = z.object({
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

/** Registers add_examples: labelled images become stored head-vector examples. */
export function registerAddExamples({ server, service, config }: ToolDeps): void {
  const { maxExamplesPerCall, maxImagesPerPrompt } = config.limits;
  const exampleSchema = z.object({
    image: imageSourceSchema.optional().describe('The example\'s image: {"path": ...}, {"url": ...} or {"data": base64 or data URI}. Give this or `images`.'),
    images: z
      .array(imageSourceSchema)
      .min(1)
      .max(maxImagesPerPrompt, `At most ${maxImagesPerPrompt} images per example.`)
      .optional()
      .describe(`Several images read together in one prompt (up to ${maxImagesPerPrompt}), in order. Give this or \`image\`.`),
    text: exampleTextSchema
      .optional()
      .describe("Text for the prompt's {text} placeholder (required when the task's prompt has one); without a placeholder it is put before the prompt."),
    label: labelSchema.describe("The example's label, e.g. 'safe'. Must be one of the task's labels when it has a closed label set."),
  });
  const inputSchema = z.object({
    task: taskRefSchema,
    examples: z
      .array(exampleSchema)
      .min(1, 'Give at least one example, e.g. [{"image": {"path": "cat.jpg"}, "label": "cat"}].')
      .max(maxExamplesPerCall, `At most ${maxExamplesPerCall} examples per call; send the rest in further calls.`)
      .describe(`Labelled examples to add (1-${maxExamplesPerCall} per call).`),
    skipInvalid: z
      .boolean()
      .optional()
      .describe("false (default): one invalid example stores nothing from the call. true: store the valid ones and list the invalid ones in `skipped`."),
  });

  server.registerTool(
    ADD_EXAMPLES,
    {
      title: "Add labelled example images to a task",
      description:
        "Teach a task (made with create_sav_task) with labelled images: each example is one image (or a few read together), optional text for the prompt's {text}, and its label. " +
        "The model reads each image with the task's prompt and the per-head attention vectors are stored with the label. " +
        "Needs examples of at least two labels before classify_image works; 5-20 per label is typical. Every example is checked first (label, image readable and decodable, limits); " +
        "by default one bad example makes the whole call store nothing and the error lists what to fix. Images: local paths inside the allowed directories, http(s) URLs, or base64/data URIs. " +
        "Sends progress notifications when given a progressToken, and stops without storing anything when cancelled. Calling it twice adds the examples twice.",
      inputSchema,
      outputSchema: addExamplesOutputSchema,
      annotations: {
        title: "Add labelled example images to a task",
        readOnlyHint: false,
        destructiveHint: false,
        idempotentHint: false,
        // Image URLs are fetched from the network.
        openWorldHint: true,
      },
    },
    async (args, extra) => runTool(() => service.addExamples(args, callContext(extra))),
  );
}

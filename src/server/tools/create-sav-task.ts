import { z } from "zod";
import { labelSchema, promptSchema, taskNameSchema, taskOutputSchema } from "../schemas.js";
import { TASK_LIMITS } from "../task-rules.js";
import { DEFAULT_HEADS } from "../sav-service.js";
import { callContext, runTool, type ToolDeps } from "./shared.js";

export const CREATE_SAV_TASK = "create_sav_task";

/** Registers create_sav_task: defines a new few-shot classification task. */
export function registerCreateSavTask({ server, service }: ToolDeps): void {
  const inputSchema = z.object({
    name: taskNameSchema.describe(
      "Unique name of the new task, used as `task` in every other tool (1-64 letters, digits, '.', '_', '-'), e.g. 'kid-safe'.",
    ),
    prompt: promptSchema.describe(
        "The question the model reads after each image, phrased like a question to a person, e.g. 'Is this image safe to show to children? Answer yes or no.' " +
          "Put {text} where each example's or query's own text goes (an instruction, a claim, a caption), e.g. 'Claim: {text}. Does the image support the claim? Answer yes or no.'",
      ),
    description: z.string().max(TASK_LIMITS.descriptionChars).optional().describe("Optional free-text description of what the task is for."),
    labels: z
      .array(labelSchema)
      .min(TASK_LIMITS.minLabels, "A closed label set needs at least two labels; omit `labels` to accept any label.")
      .max(TASK_LIMITS.maxLabels)
      .optional()
      .describe("Optional closed label set, e.g. ['safe', 'unsafe']; add_examples then refuses other labels. Omit to accept any label."),
    heads: z
      .number()
      .int()
      .min(1)
      .max(TASK_LIMITS.maxHeads)
      .optional()
      .describe(`k: how many of the most discriminative attention heads vote (default ${DEFAULT_HEADS}, as in the SAV paper).`),
    selection: z
      .enum(["in-sample", "leave-one-out"])
      .optional()
      .describe(
        "How heads are scored on the examples: 'in-sample' (default, as in the SAV paper) or 'leave-one-out' (each example scored without itself; stricter, needs 2+ examples per label).",
      ),
    model: z
      .string()
      .optional()
      .describe("Model id (see list_models). Default: the server's default model. 'tiny-smolvlm' is a random-weight test model."),
  });

  server.registerTool(
    CREATE_SAV_TASK,
    {
      title: "Create a few-shot image classification task",
      description:
        "Start here to build an image classifier from a few labelled examples. Creates a named task: the question asked with each image (`prompt`), " +
        "optionally a closed set of labels, and the vision-language model whose attention heads become the features. " +
        "Then add labelled images with add_examples (2+ labels, ideally 5-20 images each), and classify new images with classify_image; " +
        "check accuracy with evaluate_task. Fails if the name is taken (use list_tasks) or the model is not installed (the error gives the install command).",
      inputSchema,
      outputSchema: taskOutputSchema,
      annotations: {
        title: "Create a few-shot image classification task",
        readOnlyHint: false,
        destructiveHint: false,
        // A repeated call with the same name changes nothing: it is refused because the name exists.
        idempotentHint: true,
        openWorldHint: false,
      },
    },
    async (args, extra) => runTool(() => service.createTask(args, callContext(extra))),
  );
}

import { taskOutputSchema } from "../schemas.js";
import { createTaskInputSchema } from "../schemas/tasks.js";
import { callContext, runTool, type ToolDeps } from "./shared.js";

export const CREATE_SAV_TASK = "create_sav_task";

/** Registers create_sav_task: defines a new few-shot classification task. */
export function registerCreateSavTask({ server, service }: ToolDeps): void {
  server.registerTool(
    CREATE_SAV_TASK,
    {
      title: "Create a few-shot image classification task",
      description:
        "Start here to build an image classifier from a few labelled examples. Creates a named task: the question asked with each image (`prompt`), " +
        "optionally a closed set of labels, and the vision-language model whose attention heads become the features. " +
        "Then add labelled images with add_examples (2+ labels, ideally 5-20 images each), and classify new images with classify_image; " +
        "check accuracy with evaluate_task. Fails if the name is taken (use list_tasks) or the model is not installed (the error gives the install command).",
      inputSchema: createTaskInputSchema,
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

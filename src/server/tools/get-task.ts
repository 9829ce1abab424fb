import { z } from "zod";
import { taskOutputSchema, taskRefSchema } from "../schemas.js";
import { runTool, type ToolDeps } from "./shared.js";

export const GET_TASK = "get_task";

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
        createdAt: z.string().describe("ISO 8601 time it was added"),
      }),
    )
    .optional()
    .describe("The examples, oldest first (only with includeExamples: true)"),
});

/** Registers get_task. */
export function registerGetTask({ server, service }: ToolDeps): void {
  server.registerTool(
    GET_TASK,
    {
      title: "Show one task in detail",
      description:
        "Show a task's definition (prompt, labels, k, head selection, model), its examples per label, whether it is ready, and the attention heads that vote " +
        "(layer, head, score). includeExamples: true also lists every example's id, label and text, e.g. to pick ids for remove_examples.",
      inputSchema: z.object({
        task: taskRefSchema,
        includeExamples: z.boolean().optional().describe("true: also list the examples (id, label, text, image hashes). Default false."),
        exampleLimit: z.number().int().min(1).max(10_000).optional().describe("Most examples listed with includeExamples (default 200)."),
      }),
      outputSchema: taskDetailSchema,
      annotations: { title: "Show one task in detail", readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
    },
    async (args) => runTool(() => service.getTask(args.task, args)),
  );
}

/** Input and output of classify_image; the service's types are inferred from them. */
import { z } from "zod";
import type { SavLimits } from "../../config.js";
import { taskRefSchema, votesSchema } from "../schemas.js";
import { exampleSourcesSchema, imageSourceRef, MAX_TEXT_CHARS } from "./examples.js";

export function classifyInputSchema(limits: Pick<SavLimits, "maxBatchImages" | "maxImagesPerPrompt">) {
  const { maxBatchImages, maxImagesPerPrompt } = limits;
  return z.object({
    task: taskRefSchema,
    image: imageSourceRef.optional(),
    images: z
      .array(imageSourceRef)
      .min(1)
      .max(maxBatchImages, `At most ${maxBatchImages} images per classify_image call; split the batch into several calls.`)
      .meta({ minItems: undefined })
      .optional(),
    queries: z
      .array(
        z.object({
          images: z
            .array(imageSourceRef)
            .min(1)
            .max(maxImagesPerPrompt, `At most ${maxImagesPerPrompt} images per query.`)
            .meta({ minItems: undefined, maxItems: undefined }),
          text: z.string().max(MAX_TEXT_CHARS).meta({ maxLength: undefined }).optional(),
        }),
      )
      .min(1)
      .max(maxBatchImages, `At most ${maxBatchImages} queries per classify_image call.`)
      .meta({ minItems: undefined, maxItems: undefined })
      .optional(),
    text: z.string().max(MAX_TEXT_CHARS).optional(),
    detail: z.boolean().optional().describe("Add per-head votes."),
    minConfidence: z.number().min(0).max(1).optional().describe("Overrides the task's."),
    explain: z.boolean().optional().describe("Add the nearest stored examples."),
  });
}
export type ClassifyInput = z.infer<ReturnType<typeof classifyInputSchema>>;

export const headVoteSchema = z.object({ layer: z.number().int(), head: z.number().int(), vote: z.string(), similarity: z.number() });
export type HeadVoteView = z.infer<typeof headVoteSchema>;

export const classifyOutputSchema = z.object({
  task: z.string(),
  model: z.string(),
  heads: z.number().int(),
  exampleVersion: z.number().int(),
  results: z
    .array(
      z.object({
        index: z.number().int(),
        image: z.string(),
        images: z.array(z.string()).optional(),
        label: z.string().nullable(),
        uncertain: z.boolean().optional(),
        bestGuess: z.string().optional(),
        share: z.number(),
        probability: z.number().nullable(),
        votes: votesSchema,
        nearest: z
          .array(z.object({ exampleId: z.number().int(), label: z.string(), similarity: z.number(), sources: exampleSourcesSchema.optional() }))
          .optional(),
        heads: z.array(headVoteSchema).optional(),
      }),
    ),
  note: z.string().optional(),
});
export type ClassifyResult = z.infer<typeof classifyOutputSchema>;

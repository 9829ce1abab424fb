/** Input and output of classify_image; the service's types are inferred from them. */
import { z } from "zod";
import type { SavLimits } from "../../config.js";
import { imageSourceSchema } from "../image-source.js";
import { taskRefSchema, votesSchema } from "../schemas.js";
import { MAX_TEXT_CHARS } from "./examples.js";

export function classifyInputSchema(limits: Pick<SavLimits, "maxBatchImages" | "maxImagesPerPrompt">) {
  const { maxBatchImages, maxImagesPerPrompt } = limits;
  return z.object({
    task: taskRefSchema,
    image: imageSourceSchema
      .optional()
      .describe('The image to classify: {"path": ...}, {"url": ...} or {"data": base64 or data URI}. Give this or `images`.'),
    images: z
      .array(imageSourceSchema)
      .min(1)
      .max(maxBatchImages, `At most ${maxBatchImages} images per classify_image call; split the batch into several calls.`)
      .optional()
      .describe(`A batch of up to ${maxBatchImages} images, each classified on its own; results keep this order. Give this or \`image\`.`),
    queries: z
      .array(
        z.object({
          images: z
            .array(imageSourceSchema)
            .min(1)
            .max(maxImagesPerPrompt, `At most ${maxImagesPerPrompt} images per query.`)
            .describe("The images read together in one prompt, in order; as many as each of the task's examples has."),
          text: z.string().max(MAX_TEXT_CHARS).optional().describe("This query's text for {text} (default: the call's `text`)."),
        }),
      )
      .min(1)
      .max(maxBatchImages, `At most ${maxBatchImages} queries per classify_image call.`)
      .optional()
      .describe("Queries made of several images (plus text), for tasks whose examples have several images; one result per query. Give this, `image` or `images`."),
    text: z
      .string()
      .max(MAX_TEXT_CHARS)
      .optional()
      .describe("Text for the prompt's {text} placeholder (required when the task's prompt has one), used for every image of the call."),
    detail: z.boolean().optional().describe("true: also return each voting head's layer, head, vote and similarity (default false)."),
  });
}
export type ClassifyInput = z.infer<ReturnType<typeof classifyInputSchema>>;

export const headVoteSchema = z.object({
  layer: z.number().int().describe("Decoder layer of the head, from 0"),
  head: z.number().int().describe("Head index within the layer, from 0"),
  vote: z.string().describe("The label this head voted for"),
  similarity: z.number().describe("Cosine similarity between the image's head vector and the voted label's centroid"),
});
export type HeadVoteView = z.infer<typeof headVoteSchema>;

export const classifyOutputSchema = z.object({
  task: z.string().describe("Task name"),
  model: z.string().describe("Model id that read the images"),
  heads: z.number().int().describe("Number of heads that voted (k)"),
  exampleVersion: z.number().int().describe("The task's example version the classifier was built from"),
  results: z
    .array(
      z.object({
        index: z.number().int().describe("Position of the image (or query) in the request, from 0"),
        image: z.string().describe("Where the image came from (path, URL without query, or base64 size); a query's images joined by ' + '"),
        images: z.array(z.string()).optional().describe("For a query of several images: where each came from"),
        label: z.string().describe("The predicted label: the one most heads voted for"),
        share: z.number().describe("Votes for the predicted label divided by the number of voting heads (0..1); a rough confidence"),
        votes: votesSchema,
        heads: z.array(headVoteSchema).optional().describe("Per-head votes, best-ranked head first (only with detail: true)"),
      }),
    )
    .describe("One entry per image, in request order"),
  note: z.string().optional().describe("Caveat, e.g. that the model has random weights"),
});
export type ClassifyResult = z.infer<typeof classifyOutputSchema>;

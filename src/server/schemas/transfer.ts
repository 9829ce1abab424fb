/** Inputs and outputs of export_task and import_task; the service's types are inferred from them. */
import { z } from "zod";
import { taskNameSchema, taskOutputSchema, taskRefSchema } from "../schemas.js";

export const exportTaskInputSchema = z.object({
  task: taskRefSchema,
  path: z.string().min(1).meta({ minLength: undefined }).describe("Inside an allowed directory."),
  overwrite: z.boolean().optional().describe("Replace an existing file."),
});
export type ExportTaskInput = z.infer<typeof exportTaskInputSchema>;

export const exportTaskOutputSchema = z.object({
  task: z.string(),
  path: z.string(),
  bytes: z.number().int(),
  exampleCount: z.number().int(),
  model: z.object({ id: z.string(), fingerprint: z.string() }),
});
export type ExportResult = z.infer<typeof exportTaskOutputSchema>;

export const importTaskInputSchema = z.object({
  path: z.string().min(1).meta({ minLength: undefined }),
  name: taskNameSchema.optional().describe("Default: the exported name."),
});
export type ImportTaskInput = z.infer<typeof importTaskInputSchema>;

export const importTaskOutputSchema = taskOutputSchema
  .pick({ name: true, heads: true, processing: true, exampleCount: true, ready: true, nextStep: true, note: true })
  .extend({ importedFrom: z.string() });
export type ImportResult = z.infer<typeof importTaskOutputSchema>;

/** Inputs and outputs of export_task and import_task; the service's types are inferred from them. */
import { z } from "zod";
import { taskNameSchema, taskOutputSchema, taskRefSchema } from "../schemas.js";

export const exportTaskInputSchema = z.object({
  task: taskRefSchema,
  path: z.string().min(1).describe("File to write, e.g. 'exports/kid-safe.sav.json' (relative to the server's working directory, inside an allowed directory)."),
  overwrite: z.boolean().optional().describe("true: replace an existing file. Default false (an existing file is an error)."),
});
export type ExportTaskInput = z.infer<typeof exportTaskInputSchema>;

export const exportTaskOutputSchema = z.object({
  task: z.string().describe("Task name"),
  path: z.string().describe("Absolute path of the written file"),
  bytes: z.number().int().describe("File size"),
  exampleCount: z.number().int().describe("Examples written"),
  model: z
    .object({ id: z.string().describe("Model id"), fingerprint: z.string().describe("Model fingerprint; import needs the same") })
    .describe("The model the vectors come from"),
});
export type ExportResult = z.infer<typeof exportTaskOutputSchema>;

export const importTaskInputSchema = z.object({
  path: z.string().min(1).describe("The exported task file."),
  name: taskNameSchema.optional().describe("Name for the imported task (default: the name in the file)."),
});
export type ImportTaskInput = z.infer<typeof importTaskInputSchema>;

export const importTaskOutputSchema = taskOutputSchema.extend({ importedFrom: z.string().describe("Absolute path of the file read") });
export type ImportResult = z.infer<typeof importTaskOutputSchema>;

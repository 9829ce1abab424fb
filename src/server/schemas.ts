/** Zod schemas shared by several tools' inputs and outputs. Output types are inferred from them. */
import { z } from "zod";

/** Task names are used in resource URIs and file names, hence the conservative alphabet. */
export const TASK_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export const taskNameSchema = z
  .string()
  .regex(
    TASK_NAME_PATTERN,
    "A task name is 1-64 characters: letters, digits, '.', '_' or '-', starting with a letter or digit (e.g. 'kid-safe').",
  );

export const taskRefSchema = z.string().min(1, "Give the task's name (see list_tasks).").describe("Name of the task (as given to create_sav_task; list_tasks shows them all).");

export const labelSchema = z
  .string()
  .trim()
  .min(1, "A label cannot be empty.")
  .max(100, "A label is at most 100 characters.");

export const shapeOutputSchema = z
  .object({
    layers: z.number().int().describe("Decoder layers"),
    heads: z.number().int().describe("Attention heads per layer"),
    headDim: z.number().int().describe("Values per head vector"),
  })
  .describe("Shape of each example's head vectors: [layers, heads, headDim]");

export const modelRefOutputSchema = z
  .object({
    id: z.string().describe("Model id, e.g. smolvlm-256m-instruct or tiny-smolvlm"),
    fingerprint: z.string().describe("sha256 over the model files that determine the features"),
    randomWeights: z.boolean().describe("True for the generated test model: its labels are not meaningful"),
  })
  .describe("The vision-language model the task's features come from");

/** A model family's processing options: names and scalar values (the family validates them). */
export const processingSchema = z.record(z.string(), z.union([z.string(), z.number(), z.boolean()]));

export const taskOutputSchema = z.object({
  name: z.string().describe("Unique task name; pass it as `task` to the other tools"),
  description: z.string().nullable().describe("Free-text description, or null"),
  prompt: z.string().describe("The question asked with every image; `{text}` takes each example's or query's text"),
  usesText: z.boolean().describe("True when the prompt has a {text} placeholder, so every example and query needs `text`"),
  labels: z.array(z.string()).nullable().describe("The closed label set, or null when any label is accepted"),
  heads: z.number().int().describe("k: how many attention heads vote"),
  selection: z.enum(["in-sample", "leave-one-out"]).describe("How heads are scored on the examples"),
  model: modelRefOutputSchema,
  shape: shapeOutputSchema,
  processing: processingSchema.describe("The model family's image processing options used for every example and query (defaults filled in)"),
  exampleCount: z.number().int().describe("Stored examples"),
  examplesPerLabel: z.record(z.string(), z.number().int()).describe("Stored examples per label"),
  exampleVersion: z.number().int().describe("Increases with every change to the examples"),
  ready: z.boolean().describe("True when classify_image can answer (examples of at least two labels)"),
  createdAt: z.string().describe("ISO 8601 creation time"),
  updatedAt: z.string().describe("ISO 8601 time of the last change"),
  nextStep: z.string().describe("What to do next with this task"),
  note: z.string().optional().describe("Caveat about the results, e.g. that the model has random weights"),
});

export type TaskView = z.infer<typeof taskOutputSchema>;

export const votesSchema = z.record(z.string(), z.number().int()).describe("Votes per label (every label, 0 when none)");

export const modelListingSchema = z.object({
  id: z.string().describe("Model id to pass as `model` to create_sav_task"),
  title: z.string().describe("Human-readable name"),
  installed: z.boolean().describe("True when the model's files are present locally"),
  isDefault: z.boolean().describe("True for the model used when create_sav_task gets no `model`"),
  randomWeights: z.boolean().describe("True for generated test models: labels are not meaningful"),
  downloadBytes: z.number().nullable().describe("Bytes to download to install it (null when unknown or nothing to download)"),
  installCommand: z.string().nullable().describe("Shell command that installs it, or null when installed or generated locally"),
  note: z.string().optional().describe("Caveat, e.g. about random weights"),
});

export type ModelListingView = z.infer<typeof modelListingSchema>;

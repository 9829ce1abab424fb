import { z } from "zod";
import type { HeadShape } from "../model/types.js";
import { float32ToLittleEndian, littleEndianToFloat32, sameShape, shapeSize, type ExampleWithVectors, type TaskRecord } from "../store/index.js";
import { ToolError } from "./errors.js";
import { PathPolicyError, readFileInside, writeFileInside } from "./path-policy.js";
import { checkExample, checkTaskDefinition, type TaskDefinition } from "./task-rules.js";

/** Identifies the portable task file format (docs/task-format.md). */
export const TASK_FILE_FORMAT = "sav-mcp/task";
export const TASK_FILE_VERSION = 1;
/** Larger files are refused before parsing: JSON.parse holds the whole text in memory. */
export const MAX_TASK_FILE_BYTES = 512 * 1024 * 1024;

const shapeSchema = z.object({
  layers: z.number().int().positive(),
  heads: z.number().int().positive(),
  headDim: z.number().int().positive(),
});

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

export const taskFileSchema = z.object({
  format: z.literal(TASK_FILE_FORMAT),
  version: z.literal(TASK_FILE_VERSION),
  exportedAt: z.string().optional(),
  generator: z.string().optional(),
  task: z.object({
    name: z.string().min(1),
    description: z.string().nullable().optional(),
    prompt: z.string().min(1),
    labels: z.array(z.string().min(1)).nullable().optional(),
    heads: z.number().int().positive(),
    selection: z.enum(["in-sample", "leave-one-out"]),
    /** The model family's processing options; absent in files from before they existed (the family's defaults). */
    processing: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])).optional(),
    /** classify_image's abstention threshold (a calibrated probability); absent or null: never abstain. */
    minConfidence: z.number().min(0).max(1).nullable().optional(),
  }),
  model: z.object({
    id: z.string().min(1),
    fingerprint: z.string().min(1),
    shape: shapeSchema,
    randomWeights: z.boolean().optional(),
  }),
  examples: z.array(
    z.object({
      label: z.string().min(1),
      text: z.string().nullable().optional(),
      imageSha256: z.array(z.string()).optional(),
      shape: shapeSchema,
      vectors: z.string().regex(BASE64, "vectors must be standard base64 (no data: prefix, no line breaks)"),
    }),
  ),
});

export type TaskFile = z.infer<typeof taskFileSchema>;

export interface DecodedTaskFile {
  file: TaskFile;
  /** The task as create_sav_task would have stored it (trimmed, labels normalized). */
  definition: TaskDefinition;
  examples: { label: string; text: string | null; imageHashes: string[]; vectors: Float32Array }[];
}

export function encodeTaskFile(task: TaskRecord, examples: ExampleWithVectors[], generator: string): TaskFile {
  return {
    format: TASK_FILE_FORMAT,
    version: TASK_FILE_VERSION,
    exportedAt: new Date().toISOString(),
    generator,
    task: {
      name: task.name,
      description: task.description,
      prompt: task.prompt,
      labels: task.labels,
      heads: task.k,
      selection: task.selection,
      processing: task.processing,
      minConfidence: task.minConfidence ?? null,
    },
    model: { id: task.modelId, fingerprint: task.modelFingerprint, shape: task.shape, randomWeights: task.randomWeights },
    examples: examples.map((e) => ({
      label: e.label,
      text: e.text,
      imageSha256: e.imageHashes,
      shape: e.shape,
      vectors: float32ToLittleEndian(e.vectors).toString("base64"),
    })),
  };
}

const describeShape = (s: HeadShape): string => `[${s.layers}, ${s.heads}, ${s.headDim}]`;

/** Parses and checks a task file's text; every problem is a ToolError naming the field. */
export function decodeTaskFile(text: string, origin: string): DecodedTaskFile {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    // V8's message quotes the text around the problem: never pass it on (the file may be .env or /proc/self/environ).
    const position = /position (\d+)/.exec((error as Error).message)?.[1];
    throw new ToolError(
      `'${origin}' is not a JSON file${position ? ` (it stops parsing at character ${position})` : ""}. Give a file written by export_task (format ${TASK_FILE_FORMAT}).`,
    );
  }
  const parsed = taskFileSchema.safeParse(json);
  if (!parsed.success) {
    const issues = parsed.error.issues
      .slice(0, 5)
      .map((issue) => `${issue.path.join(".") || "(top level)"}: ${issue.message}`)
      .join("; ");
    throw new ToolError(
      `'${origin}' is not a valid ${TASK_FILE_FORMAT} version ${TASK_FILE_VERSION} file: ${issues}. See docs/task-format.md for the format.`,
    );
  }
  const file = parsed.data;
  // The rules of create_sav_task and add_examples, before anything else is looked at.
  const definition = checkTaskDefinition(
    { prompt: file.task.prompt, description: file.task.description ?? null, labels: file.task.labels ?? null, heads: file.task.heads },
    `'${origin}'`,
  );
  const labels = definition.labels;
  const expected = shapeSize(file.model.shape);
  const examples = file.examples.map((example, index) => {
    if (!sameShape(example.shape, file.model.shape)) {
      throw new ToolError(
        `Example ${index} of '${origin}' has shape ${describeShape(example.shape)} but the file's model has ${describeShape(file.model.shape)}. The file is inconsistent; export it again.`,
      );
    }
    const label = checkExample({ label: example.label, text: example.text ?? null }, labels, `Example ${index} of '${origin}'`);
    const bytes = Buffer.from(example.vectors, "base64");
    if (bytes.byteLength !== expected * 4) {
      throw new ToolError(
        `Example ${index} of '${origin}' holds ${bytes.byteLength} bytes of vectors; shape ${describeShape(example.shape)} needs ${expected * 4} (float32). The file is truncated or corrupt.`,
      );
    }
    const vectors = littleEndianToFloat32(bytes);
    for (const value of vectors) {
      if (!Number.isFinite(value)) throw new ToolError(`Example ${index} of '${origin}' contains a non-finite value. The file is corrupt.`);
    }
    return { label, text: example.text ?? null, imageHashes: example.imageSha256 ?? [], vectors };
  });
  return { file, definition, examples };
}

/** How an exported task file starts (export writes `format` first); only such files are ever replaced. */
const TASK_FILE_HEAD = /^\s*\{\s*"format"\s*:\s*"sav-mcp\/task"/;

function asToolError(error: unknown): unknown {
  return error instanceof PathPolicyError ? new ToolError(error.message) : error;
}

/** Reads a task file's text through the path policy (inside the allowed directories, size-limited). */
export async function readTaskFile(raw: string, allowedDirs: readonly string[]): Promise<{ text: string; path: string }> {
  try {
    const { bytes, path } = await readFileInside(raw, allowedDirs, { maxBytes: MAX_TASK_FILE_BYTES, kind: "task file" });
    return { text: bytes.toString("utf8"), path };
  } catch (error) {
    throw asToolError(error);
  }
}

/** Writes a task file (a ".json" name) through the path policy; replaces only an earlier task file, and only with overwrite. */
export async function writeTaskFile(
  raw: string,
  allowedDirs: readonly string[],
  content: string,
  options: { overwrite: boolean; writeContent?: Parameters<typeof writeFileInside>[3]["writeContent"] },
): Promise<{ path: string; replaced: boolean }> {
  try {
    return await writeFileInside(raw, allowedDirs, Buffer.from(content, "utf8"), {
      kind: "sav-mcp task file",
      extension: ".json",
      overwrite: options.overwrite,
      mayReplace: (head) => TASK_FILE_HEAD.test(head.toString("utf8")),
      writeContent: options.writeContent,
    });
  } catch (error) {
    throw asToolError(error);
  }
}

import { existsSync } from "node:fs";
import { readFile, readdir } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { z } from "zod";
import { tensorRequestSchema, type TensorRequest } from "./safetensors-range.js";

import { FAMILIES, familyById } from "../families/index.js";
import { DTYPES, type Dtype } from "../onnx-files.js";

export { DTYPE_SUFFIX, DTYPES, type Dtype } from "../onnx-files.js";

/**
 * The ONNX graphs a manifest lists, in the order the runner loads them. Every family so far names its three
 * graphs alike; a family that names them otherwise adds its names here through its `components`.
 */
export const COMPONENTS = [...new Set(FAMILIES.flatMap((f) => [f.components.vision, f.components.embed, f.components.decoder]))] as [
  "vision_encoder",
  "embed_tokens",
  "decoder_model_merged",
];
export type Component = (typeof COMPONENTS)[number];

export interface ManifestFile {
  /** Path inside the repository, `/`-separated; the local copy keeps the same layout. */
  path: string;
  /** Exact size in bytes, or null when not known. */
  size: number | null;
  /** Lower-case hex sha256, or null when not known (the hub's X-Linked-Etag is used instead). */
  sha256: string | null;
  /** Rounded size from a listing, for display only, when the exact size is unknown. */
  approxSize?: number;
  /** A file that may be absent from the repository: a 404 for it is not an error. */
  optional?: boolean;
}

export interface ManifestVariant extends ManifestFile {
  /** External-data files ORT loads from beside the graph (`*.onnx_data`). */
  externalData?: ManifestFile[];
}

export interface ModelManifest {
  id: string;
  title: string;
  /** `hub`: downloaded from `repo`; `generated`: built locally, never downloaded. */
  source: "hub" | "generated";
  repo: string | null;
  revision: string | null;
  /** False when the pinned revision (or `main`) was not confirmed to hold exactly these files. */
  revisionVerified: boolean;
  /** A family id from src/model/families (e.g. "idefics3"). */
  family: string;
  license: string;
  randomWeights: boolean;
  /** Configuration and tokenizer files every dtype variant needs. */
  files: ManifestFile[];
  variants: Record<Component, Partial<Record<Dtype, ManifestVariant>>>;
  defaultDtypes: Record<Component, Dtype>;
  /** False while the default dtype set is a placeholder rather than a benchmarked choice. */
  defaultDtypesMeasured: boolean;
  /** Facts in this manifest that were not verified against the real files. */
  unverified: string[];
  notes?: string[];
  /** Tensors no ONNX graph exposes, fetched by Range requests from the repository's safetensors at pull time. */
  safetensorsTensors?: TensorRequest[];
}

const SHA256 = /^[0-9a-f]{64}$/;
// Relative, `/`-separated, no `.`/`..` segments: a manifest must not be able to write outside the model directory.
const SAFE_RELATIVE_PATH = /^(?!.*(?:^|\/)\.{1,2}(?:\/|$))[A-Za-z0-9_.-]+(?:\/[A-Za-z0-9_.-]+)*$/;
export const MODEL_ID_PATTERN = /^[a-z0-9][a-z0-9._-]{0,63}$/;

const fileSchema = z.object({
  path: z.string().regex(SAFE_RELATIVE_PATH, "must be a relative path without . or .. segments"),
  size: z.number().int().nonnegative().nullable(),
  sha256: z
    .string()
    .transform((s) => s.toLowerCase())
    .pipe(z.string().regex(SHA256, "must be 64 hex digits"))
    .nullable(),
  approxSize: z.number().int().positive().optional(),
  optional: z.boolean().optional(),
});

const variantSchema = fileSchema.extend({ externalData: z.array(fileSchema).optional() });
const dtypeSchema = z.enum(DTYPES as [Dtype, ...Dtype[]]);
const componentSchema = z.enum(COMPONENTS);

export const manifestSchema = z
  .object({
    $comment: z.string().optional(),
    id: z.string().regex(MODEL_ID_PATTERN, "must be lower-case letters, digits, '.', '_' or '-'"),
    title: z.string().min(1),
    source: z.enum(["hub", "generated"]).default("hub"),
    repo: z
      .string()
      .regex(/^[A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+$/, "must be owner/name")
      .nullable(),
    revision: z.string().min(1).nullable(),
    revisionVerified: z.boolean(),
    family: z.string().refine((id) => familyById(id) !== undefined, {
      message: `must be one of the supported families: ${FAMILIES.map((f) => f.id).join(", ")}`,
    }),
    license: z.string().min(1),
    randomWeights: z.boolean().default(false),
    files: z.array(fileSchema),
    variants: z.record(componentSchema, z.partialRecord(dtypeSchema, variantSchema)),
    defaultDtypes: z.record(componentSchema, dtypeSchema),
    defaultDtypesMeasured: z.boolean(),
    unverified: z.array(z.string()),
    notes: z.array(z.string()).optional(),
    safetensorsTensors: z.array(tensorRequestSchema).optional(),
  })
  .superRefine((m, ctx) => {
    if (m.source === "hub" && (m.repo === null || m.revision === null)) {
      ctx.addIssue({ code: "custom", message: "a hub model needs repo and revision", path: ["repo"] });
    }
    for (const component of COMPONENTS) {
      if (m.variants[component][m.defaultDtypes[component]] === undefined) {
        ctx.addIssue({
          code: "custom",
          message: `default dtype ${m.defaultDtypes[component]} has no ${component} variant`,
          path: ["defaultDtypes", component],
        });
      }
    }
  });

export class ManifestError extends Error {
  override name = "ManifestError";
}

/** Validates parsed JSON as a manifest; the message names the source and every problem. */
export function parseManifest(json: unknown, source: string): ModelManifest {
  const result = manifestSchema.safeParse(json);
  if (!result.success) {
    const problems = result.error.issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`).join("; ");
    throw new ManifestError(`Invalid model manifest ${source}: ${problems}`);
  }
  const { $comment: _comment, ...manifest } = result.data;
  return manifest;
}

/** `models/` at the package root: from src/model/registry and from dist/model/registry alike. */
export function builtinManifestDir(): string {
  return fileURLToPath(new URL("../../../models/", import.meta.url));
}

async function readManifestFile(file: string): Promise<ModelManifest> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (err) {
    throw new ManifestError(`Cannot read model manifest ${file}: ${(err as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new ManifestError(`Model manifest ${file} is not valid JSON: ${(err as Error).message}`);
  }
  return parseManifest(json, file);
}

/** All manifests shipped in `models/*.json`, sorted by id. */
export async function builtinManifests(dir = builtinManifestDir()): Promise<ModelManifest[]> {
  let names: string[];
  try {
    names = (await readdir(dir)).filter((n) => n.endsWith(".json")).sort();
  } catch {
    return [];
  }
  return Promise.all(names.map((n) => readManifestFile(path.join(dir, n))));
}

export function looksLikeManifestPath(pathOrId: string): boolean {
  return pathOrId.endsWith(".json") || pathOrId.includes("/") || pathOrId.includes(path.sep);
}

/** A manifest by file path (custom models) or by built-in id. */
export async function loadManifest(pathOrId: string): Promise<ModelManifest> {
  if (looksLikeManifestPath(pathOrId)) return readManifestFile(path.resolve(pathOrId));
  const file = path.join(builtinManifestDir(), `${pathOrId}.json`);
  if (!MODEL_ID_PATTERN.test(pathOrId) || !existsSync(file)) {
    const known = (await builtinManifests()).map((m) => m.id).join(", ");
    throw new ManifestError(`Unknown model "${pathOrId}". Known models: ${known}; or pass a manifest file (*.json).`);
  }
  return readManifestFile(file);
}

/** The default dtypes with `overrides` applied; throws for a dtype the manifest does not publish. */
export function chooseDtypes(manifest: ModelManifest, overrides: Record<string, string> = {}): Record<Component, Dtype> {
  const chosen = { ...manifest.defaultDtypes };
  for (const [component, dtype] of Object.entries(overrides)) {
    if (!(COMPONENTS as readonly string[]).includes(component)) {
      throw new ManifestError(`Unknown component "${component}"; expected one of ${COMPONENTS.join(", ")}.`);
    }
    const available = Object.keys(manifest.variants[component as Component]);
    if (!available.includes(dtype)) {
      throw new ManifestError(
        `${manifest.id} has no ${component} in dtype "${dtype}"; available: ${available.join(", ")}.`,
      );
    }
    chosen[component as Component] = dtype as Dtype;
  }
  return chosen;
}

/** Every file a model needs for one dtype set: configs and tokenizer first, then graphs with their external data. */
export function filesFor(manifest: ModelManifest, dtypes: Record<Component, Dtype>): ManifestFile[] {
  const files: ManifestFile[] = [...manifest.files];
  for (const component of COMPONENTS) {
    const variant = manifest.variants[component][dtypes[component]];
    if (variant === undefined) throw new ManifestError(`${manifest.id} has no ${component} in dtype ${dtypes[component]}.`);
    const { externalData, ...graph } = variant;
    files.push(graph, ...(externalData ?? []));
  }
  // Two components never share a file, but a custom manifest might list one twice.
  const seen = new Set<string>();
  return files.filter((f) => (seen.has(f.path) ? false : (seen.add(f.path), true)));
}

/** Bytes to download for a file set, and whether that figure is exact. */
export function totalBytes(files: ManifestFile[]): { bytes: number; exact: boolean } {
  let bytes = 0;
  let exact = true;
  for (const f of files) {
    if (f.size !== null) bytes += f.size;
    else {
      exact = false;
      bytes += f.approxSize ?? 0;
    }
  }
  return { bytes, exact };
}

/** Parses `--dtype` text: `q4` (every component) or `vision_encoder=int8,decoder_model_merged=q4`. */
export function parseDtypeSpec(spec: string): Record<string, string> {
  const result: Record<string, string> = {};
  for (const part of spec.split(",").map((p) => p.trim()).filter((p) => p !== "")) {
    const eq = part.indexOf("=");
    if (eq === -1) {
      for (const component of COMPONENTS) result[component] = part;
    } else {
      result[part.slice(0, eq).trim()] = part.slice(eq + 1).trim();
    }
  }
  return result;
}

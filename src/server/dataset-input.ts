/**
 * Expands a whole dataset named in one add_examples call — a folder in the ImageFolder layout or a
 * manifest file — into the same labelled examples the `examples` list takes, so an agent does not
 * have to write one entry per image. Only names files; reading and checking the images stays with
 * the example validation, which enforces the allowed directories again on every image.
 */
import path from "node:path";
import { IMAGE_EXTENSIONS, listImageFolder, naturalOrder } from "../datasets/image-folder.js";
import { manifestFormat, parseManifest, type ManifestProblem } from "../datasets/manifest.js";
import { quoteList, ToolError } from "./errors.js";
import { PathPolicyError, readFileInside, resolveFolderInside } from "./path-policy.js";
import { globMatcher } from "./glob.js";

export interface DatasetRequest {
  /** ImageFolder layout: one subfolder per label, named after it, holding that label's images. */
  folder?: string;
  /** CSV or JSONL file of path,label[,text] rows; paths relative to the manifest's folder. */
  manifest?: string;
  /** Glob on image paths relative to the folder / manifest, e.g. "*.png" or "cat/**". */
  include?: string;
  /** At most this many examples, taken in turn from each label so a cut keeps labels balanced. */
  limit?: number;
  /** Skips this many examples of that order first (for adding a large dataset in batches). */
  offset?: number;
}

export interface DatasetExample {
  images: { path: string }[];
  label: string;
  text?: string;
  /** Where the example comes from, for messages: "cat/001.jpg" or "line 12". */
  location: string;
}

export interface DatasetContext {
  allowedDirs: readonly string[];
  /** The per-call example limit; a larger selection is refused with advice to use limit/offset. */
  maxExamples: number;
}

export interface DatasetExpansion {
  examples: DatasetExample[];
  /** Examples the dataset holds after `include`, before offset/limit. */
  available: number;
  /** Malformed manifest lines (only when the caller skips invalid input; otherwise they are an error). */
  rejected: { location: string; reason: string }[];
}

/** Manifests are read whole; this bounds memory for a file given by mistake. */
export const MAX_MANIFEST_BYTES = 8 * 1024 * 1024;

export async function expandDataset(
  request: DatasetRequest,
  ctx: DatasetContext,
  options: { skipInvalid?: boolean } = {},
): Promise<DatasetExpansion> {
  const given = [request.folder, request.manifest].filter((value) => value !== undefined);
  if (given.length !== 1) throw new ToolError("Give exactly one of `folder` or `manifest`.");
  if (request.folder?.trim() === "" || request.manifest?.trim() === "") throw new ToolError("`folder` / `manifest` cannot be empty: give the path of a folder or of a .csv/.jsonl file.");
  const include = request.include?.trim() ? globMatcher(request.include.trim()) : undefined;
  const { perLabel, rejected } =
    request.folder !== undefined
      ? { perLabel: await folderExamples(request.folder, ctx.allowedDirs, include), rejected: [] }
      : await manifestExamples(request.manifest!, ctx.allowedDirs, include, options.skipInvalid === true);
  const ordered = interleave(perLabel);
  const what = request.folder !== undefined ? `folder '${request.folder}'` : `manifest '${request.manifest}'`;
  if (ordered.length === 0) {
    throw new ToolError(
      `No images found in ${what}${request.include ? ` matching '${request.include}'` : ""}. ` +
        (request.folder !== undefined
          ? `A folder needs one subfolder per label holding image files (${IMAGE_EXTENSIONS.join(", ")}), e.g. ${request.folder}/cat/1.jpg.`
          : "Each manifest row needs an image path and a label."),
    );
  }
  const offset = request.offset ?? 0;
  if (offset >= ordered.length) {
    throw new ToolError(`offset ${offset} skips every example: ${what} has ${ordered.length}. Use an offset below ${ordered.length}.`);
  }
  const selected = ordered.slice(offset, request.limit === undefined ? undefined : offset + request.limit);
  if (selected.length > ctx.maxExamples) {
    throw new ToolError(
      `${what} holds ${ordered.length - offset} examples from offset ${offset}; one call adds at most ${ctx.maxExamples}. ` +
        `Pass limit: ${ctx.maxExamples} (labels are taken in turn, so a cut stays balanced), then offset: ${offset + ctx.maxExamples} for the next batch, or narrow it with include.`,
    );
  }
  return { examples: selected, available: ordered.length, rejected };
}

/** One from each label in turn: label order stays sorted, and any prefix is as balanced as it can be. */
function interleave(perLabel: Map<string, DatasetExample[]>): DatasetExample[] {
  const lists = [...perLabel.entries()].sort(([a], [b]) => naturalOrder(a, b)).map(([, list]) => list);
  const result: DatasetExample[] = [];
  for (let round = 0; lists.some((list) => round < list.length); round++) {
    for (const list of lists) if (round < list.length) result.push(list[round]!);
  }
  return result;
}

// ---------------------------------------------------------------------------------------- folders

async function folderExamples(
  raw: string,
  allowedDirs: readonly string[],
  include: ((relativePath: string) => boolean) | undefined,
): Promise<Map<string, DatasetExample[]>> {
  const root = await resolveReadableFolder(raw, allowedDirs);
  const { labels, looseImages } = await listImageFolder(root);
  if (labels.length === 0) {
    throw new ToolError(
      `Folder '${raw}' has no label subfolders${looseImages ? ` (it holds ${looseImages} images directly)` : ""}. ` +
        `The folder layout is one subfolder per label, named after the label: ${raw}/<label>/<image>. ` +
        "Move the images into label subfolders, or list them in a manifest (CSV path,label) and pass `manifest`.",
    );
  }
  const perLabel = new Map<string, DatasetExample[]>();
  for (const { label, files } of labels) {
    const examples = files
      .filter((relative) => include === undefined || include(relative))
      .map((relative) => ({ images: [{ path: path.join(root, relative) }], label, location: relative }));
    if (examples.length > 0) perLabel.set(label, examples);
  }
  return perLabel;
}

/** The folder's real path, through the one path policy (inside an allowed directory, as written and as resolved). */
async function resolveReadableFolder(raw: string, allowedDirs: readonly string[]): Promise<string> {
  try {
    return await resolveFolderInside(raw, allowedDirs);
  } catch (error) {
    throw error instanceof PathPolicyError ? new ToolError(error.message) : error;
  }
}

// -------------------------------------------------------------------------------------- manifests

async function manifestExamples(
  raw: string,
  allowedDirs: readonly string[],
  include: ((relativePath: string) => boolean) | undefined,
  skipInvalid: boolean,
): Promise<{ perLabel: Map<string, DatasetExample[]>; rejected: { location: string; reason: string }[] }> {
  const format = manifestFormat(raw);
  if (!format) throw new ToolError(`Manifest '${raw}' must be a .csv or .jsonl file (rows of path,label[,text]).`);
  let manifest: { bytes: Buffer; path: string };
  try {
    manifest = await readFileInside(raw, allowedDirs, { maxBytes: MAX_MANIFEST_BYTES, kind: "manifest" });
  } catch (error) {
    throw error instanceof PathPolicyError ? new ToolError(`${error.message}${error.code === "too-large" ? " Split it into several manifests." : ""}`) : error;
  }
  const file = manifest.path;
  const { rows, problems } = parseManifest(manifest.bytes.toString("utf8"), format);
  if (problems.length > 0 && !skipInvalid) throw manifestError(raw, problems);
  const base = path.dirname(file);
  const perLabel = new Map<string, DatasetExample[]>();
  for (const row of rows) {
    if (include !== undefined && !include(row.paths[0]!)) continue;
    const example: DatasetExample = {
      images: row.paths.map((p) => ({ path: path.resolve(base, p) })),
      label: row.label,
      ...(row.text !== undefined ? { text: row.text } : {}),
      location: `line ${row.line}`,
    };
    const list = perLabel.get(row.label) ?? [];
    list.push(example);
    perLabel.set(row.label, list);
  }
  // Manifest order within a label is kept: the author chose it.
  return { perLabel, rejected: problems.map((p) => ({ location: `line ${p.line}`, reason: p.reason })) };
}

function manifestError(raw: string, problems: ManifestProblem[]): ToolError {
  const lines = problems.slice(0, 20).map((p) => `- line ${p.line}: ${p.reason}`);
  if (problems.length > 20) lines.push(`- … and ${problems.length - 20} more`);
  return new ToolError(
    `Nothing was stored: manifest '${raw}' has ${problems.length} bad line${problems.length === 1 ? "" : "s"}.\n${lines.join("\n")}\n` +
      "Fix those lines (CSV: path,label[,text] with an optional header; JSONL: {\"path\": …, \"label\": …}), or pass skipInvalid: true to skip them.",
  );
}

/** For messages: the labels a dataset would add that a closed label set does not have. */
export function unknownDatasetLabels(examples: readonly DatasetExample[], labels: readonly string[] | null): string | undefined {
  if (!labels) return undefined;
  const unknown = [...new Set(examples.map((e) => e.label))].filter((label) => !labels.includes(label));
  return unknown.length === 0 ? undefined : quoteList(unknown);
}

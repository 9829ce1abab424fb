/**
 * Where the dataset input meets the allowed directories: the folder and the manifest file are checked here,
 * and only here, so adopting the shared path policy (src/server/path-policy.ts on the reliability branch:
 * checkContainment / readFileInside) is a change to this module alone. Images named by a dataset are
 * checked again, one by one, by the image reader.
 */
import fs from "node:fs/promises";
import path from "node:path";
import { ToolError } from "./errors.js";
import { resolveReadablePath } from "./file-access.js";

function isInside(candidate: string, dir: string): boolean {
  const relative = path.relative(dir, candidate);
  return relative === "" || (relative !== ".." && !relative.startsWith(`..${path.sep}`) && !path.isAbsolute(relative));
}

/** The folder's real path, after checking it (as written and as resolved) lies inside an allowed directory. */
export async function resolveReadableFolder(raw: string, allowedDirs: readonly string[]): Promise<string> {
  const absolute = path.resolve(raw);
  const roots = await Promise.all(allowedDirs.map(async (dir) => ({ configured: path.resolve(dir), real: await fs.realpath(dir).catch(() => undefined) })));
  const outside = (): ToolError =>
    new ToolError(
      `The folder '${raw}' is outside the directories this server may read: ${roots.map((r) => r.configured).join(", ") || "(none)"}. ` +
        "Use a folder inside one of them, or ask the user to add a directory with --allowed-dir / SAV_ALLOWED_DIRS.",
    );
  // Checked before touching the filesystem, so folders outside cannot be probed for existence.
  if (!roots.some((root) => isInside(absolute, root.configured) || (root.real !== undefined && isInside(absolute, root.real)))) throw outside();
  let real: string;
  try {
    real = await fs.realpath(absolute);
  } catch {
    throw new ToolError(`No folder at '${raw}' (resolved to ${absolute}). Check the path; it is resolved from ${process.cwd()}.`);
  }
  if (!roots.some((root) => root.real !== undefined && isInside(real, root.real))) throw outside();
  if (!(await fs.stat(real)).isDirectory()) {
    throw new ToolError(`'${raw}' is a file, not a folder. Pass a folder as \`folder\`, or a CSV/JSONL file as \`manifest\`.`);
  }
  return real;
}

/** The manifest's real path and text, after the allowed-directory check and the size limit. */
export async function readManifestFile(raw: string, allowedDirs: readonly string[], maxBytes: number): Promise<{ file: string; text: string }> {
  const file = await resolveReadablePath(raw, allowedDirs);
  const size = (await fs.stat(file)).size;
  if (size > maxBytes) {
    throw new ToolError(`Manifest '${raw}' is ${size} bytes, over the ${maxBytes}-byte limit. Split it into several manifests.`);
  }
  return { file, text: await fs.readFile(file, "utf8") };
}

import fs from "node:fs/promises";
import path from "node:path";
import { ToolError } from "./errors.js";

/** Real paths of the allowed directories that exist (a missing one allows nothing). */
async function realDirs(dirs: readonly string[]): Promise<string[]> {
  const resolved: string[] = [];
  for (const dir of dirs) {
    try {
      resolved.push(await fs.realpath(path.resolve(dir)));
    } catch {
      // A configured directory that does not exist holds no files.
    }
  }
  return resolved;
}

function isInside(candidate: string, dir: string): boolean {
  const relative = path.relative(dir, candidate);
  return relative === "" || (!relative.startsWith("..") && !path.isAbsolute(relative));
}

function notAllowed(raw: string, dirs: readonly string[]): ToolError {
  return new ToolError(
    `The path '${raw}' is outside the directories this server may read and write: ${dirs.join(", ") || "(none)"}. ` +
      "Use a path inside one of them, or ask the user to add a directory with --allowed-dir / SAV_ALLOWED_DIRS.",
  );
}

/**
 * Resolves a file path for reading (import). Relative paths are taken from the working directory; the
 * file's real path (symbolic links followed) must be inside an allowed directory.
 */
export async function resolveReadablePath(raw: string, allowedDirs: readonly string[]): Promise<string> {
  const absolute = path.resolve(raw);
  let real: string;
  try {
    real = await fs.realpath(absolute);
  } catch {
    const roots = await realDirs(allowedDirs);
    if (!roots.some((dir) => isInside(absolute, dir))) throw notAllowed(raw, allowedDirs);
    throw new ToolError(`No file at '${raw}' (resolved to ${absolute}). Check the path; it is resolved from ${process.cwd()}.`);
  }
  const roots = await realDirs(allowedDirs);
  if (!roots.some((dir) => isInside(real, dir))) throw notAllowed(raw, allowedDirs);
  const info = await fs.stat(real);
  if (!info.isFile()) throw new ToolError(`'${raw}' is not a regular file. Give the path of an exported task file.`);
  return real;
}

/**
 * Resolves a file path for writing (export): its directory must exist and really be inside an allowed
 * directory, and the file must not be a directory or a symbolic link.
 */
export async function resolveWritablePath(raw: string, allowedDirs: readonly string[]): Promise<{ file: string; exists: boolean }> {
  const absolute = path.resolve(raw);
  let parent: string;
  try {
    parent = await fs.realpath(path.dirname(absolute));
  } catch {
    const roots = await realDirs(allowedDirs);
    if (!roots.some((dir) => isInside(absolute, dir))) throw notAllowed(raw, allowedDirs);
    throw new ToolError(`The directory of '${raw}' (${path.dirname(absolute)}) does not exist. Create it first or choose another path.`);
  }
  const file = path.join(parent, path.basename(absolute));
  const roots = await realDirs(allowedDirs);
  if (!roots.some((dir) => isInside(file, dir))) throw notAllowed(raw, allowedDirs);
  try {
    const info = await fs.lstat(file);
    if (!info.isFile()) throw new ToolError(`'${raw}' exists and is not a regular file. Choose another path.`);
    return { file, exists: true };
  } catch (error) {
    if (error instanceof ToolError) throw error;
    return { file, exists: false };
  }
}

/** Writes via a temporary file and a rename, so readers never see half a file. */
export async function writeFileAtomically(file: string, content: string): Promise<void> {
  const temporary = `${file}.${process.pid}.${Date.now()}.tmp`;
  try {
    await fs.writeFile(temporary, content, { flag: "wx" });
    await fs.rename(temporary, file);
  } catch (error) {
    await fs.rm(temporary, { force: true });
    throw error;
  }
}

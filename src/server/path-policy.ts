/**
 * The one place that decides which files a tool call may read or write (images, task files).
 *
 * Two layers, as in the reference filesystem server's validatePath: a pure containment check with reason
 * codes (`checkContainment`), and opens that cannot be raced (`readFileInside`, `writeFileInside`): the file
 * is opened with O_NOFOLLOW | O_NONBLOCK and the opened handle itself (its path in /proc/self/fd, and its
 * device + inode) is checked against the allowed roots before a byte is read or written. A directory swapped
 * for a symbolic link between check and use is caught on the handle; a FIFO never blocks the open.
 */
import { randomBytes } from "node:crypto";
import { constants as fsConstants } from "node:fs";
import fs from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { expandHome } from "../config.js";

export type PathErrorCode =
  | "bad-path"
  | "no-allowed-dirs"
  | "path-not-allowed"
  | "not-found"
  | "not-a-file"
  | "too-large"
  | "empty"
  | "permission"
  | "exists"
  | "not-a-task-file"
  | "disk-full"
  | "io-error";

/** A refused or failed file access. `message` says what is wrong and how to recover; `hint` is the recovery part. */
export class PathPolicyError extends Error {
  override readonly name = "PathPolicyError";
  constructor(
    readonly code: PathErrorCode,
    readonly problem: string,
    readonly hint: string,
  ) {
    super(`${problem} ${hint}`);
  }
}

export interface AllowedRoot {
  /** As configured (absolute, `~` expanded). */
  configured: string;
  /** With symbolic links resolved; undefined when the directory does not exist (it then allows nothing). */
  real?: string;
}

export const HOW_TO_ALLOW =
  "The server operator allows a directory with --allowed-dir DIR (repeatable) or SAV_ALLOWED_DIRS; an MCP client can also declare it as a root.";

/** Compares whole path components: /data2 is not inside /data, and /data/..foo is inside /data. */
export function isInside(candidate: string, dir: string): boolean {
  const relative = path.relative(dir, candidate);
  if (relative === "") return true;
  return relative !== ".." && !relative.startsWith(`..${path.sep}`) && !path.isAbsolute(relative);
}

export type ContainmentVerdict = { ok: true } | { ok: false; reason: "nul-byte" | "empty" | "no-allowed-dirs" | "outside" };

/** Pure: is this absolute path, as written, inside one of the roots (configured or real spelling)? */
export function checkContainment(candidate: string, roots: readonly AllowedRoot[]): ContainmentVerdict {
  if (candidate === "") return { ok: false, reason: "empty" };
  if (candidate.includes("\0")) return { ok: false, reason: "nul-byte" };
  if (roots.length === 0) return { ok: false, reason: "no-allowed-dirs" };
  const inside = roots.some((root) => isInside(candidate, root.configured) || (root.real !== undefined && isInside(candidate, root.real)));
  return inside ? { ok: true } : { ok: false, reason: "outside" };
}

export async function resolveAllowedRoots(dirs: readonly string[]): Promise<AllowedRoot[]> {
  const unique = [...new Set(dirs.map((dir) => path.resolve(expandHome(dir))))];
  return Promise.all(unique.map(async (configured) => ({ configured, real: await fs.realpath(configured).catch(() => undefined) })));
}

function rootsText(roots: readonly AllowedRoot[]): string {
  return roots.length === 0 ? "none" : roots.map((root) => root.configured).join(", ");
}

function refuse(reason: Exclude<ContainmentVerdict, { ok: true }>["reason"], raw: string, shown: string, roots: readonly AllowedRoot[], kind: string): PathPolicyError {
  switch (reason) {
    case "empty":
      return new PathPolicyError("bad-path", `The ${kind} path is empty.`, "Give the path of a file.");
    case "nul-byte":
      return new PathPolicyError("bad-path", `The ${kind} path contains a NUL character.`, "Give a plain file path.");
    case "no-allowed-dirs":
      return new PathPolicyError(
        "no-allowed-dirs",
        `This server has no allowed directories, so it reads and writes no local files (${kind} path ${shorten(raw)} refused).`,
        `Send images as {"url": ...} or {"data": base64} instead. ${HOW_TO_ALLOW}`,
      );
    case "outside":
      return new PathPolicyError(
        "path-not-allowed",
        `Path ${shown} is outside the allowed directories (${rootsText(roots)}).`,
        `Use a path inside one of them (move or copy the file there), or send images as data (base64). ${HOW_TO_ALLOW}`,
      );
  }
}

/** Strips a file: URL and resolves a relative path against the allowed roots (the first where it exists). */
async function locate(raw: string, roots: readonly AllowedRoot[], kind: string, forWrite: boolean): Promise<string> {
  let requested = raw;
  if (/^file:/i.test(raw)) {
    try {
      requested = fileURLToPath(raw);
    } catch {
      throw new PathPolicyError("bad-path", `"${shorten(raw)}" is not a valid file URL.`, "Give a plain file path instead.");
    }
  }
  if (requested === "") throw refuse("empty", raw, raw, roots, kind);
  if (requested.includes("\0")) throw refuse("nul-byte", raw, raw, roots, kind);
  if (roots.length === 0) throw refuse("no-allowed-dirs", raw, raw, roots, kind);
  requested = expandHome(requested);
  if (path.isAbsolute(requested)) return path.resolve(requested);
  for (const root of roots) {
    const candidate = path.resolve(root.real ?? root.configured, requested);
    const probe = forWrite ? path.dirname(candidate) : candidate;
    if (isInside(candidate, root.real ?? root.configured) && (await fs.lstat(probe).then(() => true, () => false))) return candidate;
  }
  return path.resolve(roots[0]!.real ?? roots[0]!.configured, requested);
}

function errnoOf(error: unknown): string | undefined {
  return (error as NodeJS.ErrnoException | undefined)?.code;
}

function fileSystemError(error: unknown, raw: string, shown: string, roots: readonly AllowedRoot[], kind: string): PathPolicyError {
  if (error instanceof PathPolicyError) return error;
  const code = errnoOf(error);
  switch (code) {
    case "ENOENT":
    case "ENOTDIR":
      return new PathPolicyError("not-found", `No ${kind === "folder" ? "folder" : "file"} at ${shown}.`, `Check the path; relative paths are taken from the allowed directories (${rootsText(roots)}).`);
    case "EISDIR":
      return new PathPolicyError("not-a-file", `Path ${raw} is a directory, not a ${kind} file.`, `Give the path of one ${kind} file.`);
    case "EACCES":
    case "EPERM":
    case "EROFS":
      return new PathPolicyError("permission", `The server may not access ${shown} (${code}).`, "Make it accessible to the server's user, or choose another path.");
    case "ELOOP":
      return new PathPolicyError("path-not-allowed", `Path ${raw} is or became a symbolic link while being opened.`, `Give the path of the ${kind} file itself.`);
    case "ENOSPC":
    case "EDQUOT":
      return new PathPolicyError("disk-full", `The disk holding ${shown} is full (${code}); nothing was written.`, "Free some space or choose a path on another disk, then retry.");
    case "ENAMETOOLONG":
      return new PathPolicyError("bad-path", `Path ${shorten(raw)} is too long.`, "Give a shorter path.");
    default:
      return new PathPolicyError("io-error", `Could not access ${shown}${code ? ` (${code})` : ""}.`, "Check that the path exists and is accessible to the server, then retry.");
  }
}

/** Where the kernel says an open handle really is; undefined when the platform has no /proc. */
async function handlePath(handle: fs.FileHandle): Promise<string | undefined> {
  const target = await fs.readlink(`/proc/self/fd/${handle.fd}`).catch(() => undefined);
  return target?.replace(/ \(deleted\)$/, "");
}

/** Refuses a handle that is not the checked file: raced into a symbolic link or swapped directory. */
async function verifyHandle(handle: fs.FileHandle, expected: { dev: number; ino: number }, roots: readonly AllowedRoot[], raw: string, kind: string): Promise<void> {
  const info = await handle.stat();
  const where = await handlePath(handle);
  const escaped = where !== undefined && !roots.some((root) => root.real !== undefined && isInside(where, root.real));
  if (escaped || info.dev !== expected.dev || info.ino !== expected.ino) {
    throw new PathPolicyError(
      "path-not-allowed",
      `Path ${raw} changed while being opened (a directory or file was replaced, e.g. by a symbolic link to outside the allowed directories).`,
      `Give the path of the ${kind} file itself, in a directory nobody is changing.`,
    );
  }
}

/** Resolves, contains and lstats a path; returns its real path and identity. */
async function resolveInside(raw: string, roots: readonly AllowedRoot[], kind: string, forWrite: boolean): Promise<{ absolute: string; real: string }> {
  const absolute = await locate(raw, roots, kind, forWrite);
  const shown = raw === absolute ? raw : `${raw} (${absolute})`;
  // The path as written is checked before the filesystem is touched: paths outside cannot be probed for existence.
  const verdict = checkContainment(absolute, roots);
  if (!verdict.ok) throw refuse(verdict.reason, raw, shown, roots, kind);
  const target = forWrite ? path.dirname(absolute) : absolute;
  let real: string;
  try {
    real = await fs.realpath(target);
  } catch (error) {
    throw fileSystemError(error, raw, forWrite ? `${path.dirname(absolute)} (the directory of ${raw})` : shown, roots, kind);
  }
  // The real path decides: a symbolic link inside an allowed directory may point anywhere.
  if (!roots.some((root) => root.real !== undefined && isInside(real, root.real))) {
    throw new PathPolicyError(
      "path-not-allowed",
      `Path ${raw} resolves through a symbolic link to ${real}, which is outside the allowed directories (${rootsText(roots)}).`,
      `Use a path whose real location is inside one of them. ${HOW_TO_ALLOW}`,
    );
  }
  return { absolute, real: forWrite ? path.join(real, path.basename(absolute)) : real };
}

const READ_FLAGS = fsConstants.O_RDONLY | (fsConstants.O_NOFOLLOW ?? 0) | (fsConstants.O_NONBLOCK ?? 0);

async function readAtMost(handle: fs.FileHandle, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  while (total < limit) {
    const want = Math.min(limit - total, 4 * 1024 * 1024);
    const chunk = Buffer.allocUnsafe(want);
    const { bytesRead } = await handle.read(chunk, 0, want, total);
    if (bytesRead === 0) break;
    chunks.push(chunk.subarray(0, bytesRead));
    total += bytesRead;
  }
  return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, total);
}

export interface ReadOptions {
  maxBytes: number;
  /** "image" or "task file", for messages. */
  kind: string;
}

/** Reads a whole regular file inside the allowed directories, through a verified handle. */
export async function readFileInside(raw: string, dirs: readonly string[], options: ReadOptions): Promise<{ bytes: Buffer; path: string }> {
  const roots = await resolveAllowedRoots(dirs);
  const { kind, maxBytes } = options;
  const { real } = await resolveInside(raw, roots, kind, false);
  let handle: fs.FileHandle | undefined;
  try {
    const expected = await fs.lstat(real);
    checkRegular(expected, raw, kind, maxBytes);
    handle = await fs.open(real, READ_FLAGS);
    await verifyHandle(handle, expected, roots, raw, kind);
    checkRegular(await handle.stat(), raw, kind, maxBytes);
    const bytes = await readAtMost(handle, maxBytes + 1);
    if (bytes.length > maxBytes) throw tooLarge(`The ${kind} file ${raw} grew past ${formatBytes(maxBytes)} while being read.`, maxBytes, kind);
    if (bytes.length === 0) throw emptyFile(raw, kind);
    return { bytes, path: real };
  } catch (error) {
    throw fileSystemError(error, raw, raw, roots, kind);
  } finally {
    await handle?.close().catch(() => undefined);
  }
}

function checkRegular(info: { isFile(): boolean; isDirectory(): boolean; size: number }, raw: string, kind: string, maxBytes: number): void {
  if (info.isDirectory()) throw new PathPolicyError("not-a-file", `Path ${raw} is a directory, not a ${kind} file.`, `Give the path of one ${kind} file.`);
  if (!info.isFile()) {
    throw new PathPolicyError("not-a-file", `Path ${raw} is not a regular file (it is a link, device, socket or pipe).`, `Give the path of a ${kind} file.`);
  }
  if (info.size > maxBytes) {
    throw kind === "image"
      ? tooLarge(`The ${kind} file ${raw} is ${formatBytes(info.size)}.`, maxBytes, kind)
      : new PathPolicyError("too-large", `The ${kind} file ${raw} is ${info.size} bytes, over the ${maxBytes}-byte limit.`, `Give a ${kind} of at most ${formatBytes(maxBytes)}.`);
  }
  if (info.size === 0) throw emptyFile(raw, kind);
}

/** The real path of a directory inside the allowed directories (listing it is the caller's job). */
export async function resolveFolderInside(raw: string, dirs: readonly string[]): Promise<string> {
  const roots = await resolveAllowedRoots(dirs);
  const { real } = await resolveInside(raw, roots, "folder", false);
  const info = await fs.stat(real).catch((error: unknown) => {
    throw fileSystemError(error, raw, raw, roots, "folder");
  });
  if (!info.isDirectory()) {
    throw new PathPolicyError("not-a-file", `'${raw}' is a file, not a folder.`, "Pass a folder as `folder`, or a CSV/JSONL file as `manifest`.");
  }
  return real;
}

export interface WriteOptions {
  kind: string;
  /** Required file name ending, e.g. ".json" (compared case-insensitively). */
  extension: string;
  overwrite: boolean;
  /** Decides from an existing file's first bytes whether it may be replaced. */
  mayReplace: (head: Buffer) => boolean;
  /** Test seam: replaces the write of the content (e.g. to inject ENOSPC). */
  writeContent?: (handle: fs.FileHandle, content: Buffer) => Promise<void>;
}

const REPLACE_CHECK_BYTES = 4096;

/**
 * Writes a file inside the allowed directories: into a fresh temporary file created through the verified
 * parent directory's handle, then renamed over the target, so readers never see half a file and a failed
 * write (full disk) leaves any previous file as it was.
 */
export async function writeFileInside(raw: string, dirs: readonly string[], content: Buffer, options: WriteOptions): Promise<{ path: string; replaced: boolean }> {
  const roots = await resolveAllowedRoots(dirs);
  const { kind } = options;
  const name = path.basename(raw.replace(/[\\/]+$/, ""));
  if (!name.toLowerCase().endsWith(options.extension) || name.length <= options.extension.length) {
    throw new PathPolicyError("bad-path", `A ${kind} must be written to a file name ending in "${options.extension}" (got ${shorten(raw)}).`, `Choose a path such as "my-task${options.extension}".`);
  }
  const { real: file } = await resolveInside(raw, roots, kind, true);
  const parentReal = path.dirname(file);
  let dir: fs.FileHandle | undefined;
  let temporary: string | undefined;
  try {
    const expected = await fs.lstat(parentReal);
    dir = await fs.open(parentReal, fsConstants.O_RDONLY | fsConstants.O_DIRECTORY | (fsConstants.O_NOFOLLOW ?? 0));
    await verifyHandle(dir, expected, roots, raw, kind);
    // Through the directory handle, no later swap of a path component can redirect the write.
    const base = (await handlePath(dir)) !== undefined ? `/proc/self/fd/${dir.fd}` : parentReal;
    const target = path.join(base, name);
    const replaced = await checkReplaceable(target, raw, kind, options);
    temporary = path.join(base, `.${name}.${randomBytes(8).toString("hex")}.tmp`);
    const out = await fs.open(temporary, fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_EXCL | (fsConstants.O_NOFOLLOW ?? 0), 0o644);
    try {
      await (options.writeContent ?? ((handle, bytes) => handle.writeFile(bytes)))(out, content);
      await out.sync();
    } finally {
      await out.close();
    }
    await fs.rename(temporary, target);
    temporary = undefined;
    return { path: file, replaced };
  } catch (error) {
    throw fileSystemError(error, raw, file, roots, kind);
  } finally {
    if (temporary !== undefined) await fs.rm(temporary, { force: true }).catch(() => undefined);
    await dir?.close().catch(() => undefined);
  }
}

async function checkReplaceable(target: string, raw: string, kind: string, options: WriteOptions): Promise<boolean> {
  const info = await fs.lstat(target).catch((error: unknown) => {
    if (errnoOf(error) === "ENOENT") return undefined;
    throw error;
  });
  if (info === undefined) return false;
  if (!info.isFile()) {
    throw new PathPolicyError("not-a-task-file", `${raw} exists and is not a regular file.`, "Choose another path; the server only replaces files it wrote.");
  }
  if (!options.overwrite) throw new PathPolicyError("exists", `${raw} already exists.`, "Choose another path, or pass overwrite: true to replace it.");
  const handle = await fs.open(target, READ_FLAGS);
  try {
    const head = Buffer.alloc(REPLACE_CHECK_BYTES);
    const { bytesRead } = await handle.read(head, 0, REPLACE_CHECK_BYTES, 0);
    if (!options.mayReplace(head.subarray(0, bytesRead))) {
      throw new PathPolicyError("not-a-task-file", `${raw} exists and is not a ${kind}, so it is not replaced (even with overwrite).`, "Choose another path.");
    }
  } finally {
    await handle.close();
  }
  return true;
}

function tooLarge(problem: string, max: number, kind: string): PathPolicyError {
  return new PathPolicyError("too-large", `${problem} The limit is ${formatBytes(max)}.`, kind === "image" ? `Send an image of at most ${formatBytes(max)}: resize or recompress it (e.g. JPEG, about 1024 px on the long side).` : `Give a ${kind} of at most ${formatBytes(max)}.`);
}

function emptyFile(raw: string, kind: string): PathPolicyError {
  return new PathPolicyError("empty", `The ${kind} file ${raw} is empty (0 bytes).`, `Give a complete ${kind} file.`);
}

export function formatBytes(bytes: number): string {
  const units: Array<[number, string]> = [
    [1024 * 1024 * 1024, "GB"],
    [1024 * 1024, "MB"],
    [1024, "KB"],
  ];
  for (const [size, unit] of units) {
    if (bytes >= size) return `${(bytes / size).toFixed(1).replace(/\.0$/, "")} ${unit}`;
  }
  return `${bytes} bytes`;
}

export function shorten(text: string, limit = 200): string {
  return text.length <= limit ? text : `${text.slice(0, limit - 1)}…`;
}

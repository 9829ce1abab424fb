/**
 * Files the runner caches beside a model (edited graphs, verdicts, registry state): atomic writes, whether a
 * directory takes them, and the hash of the code that made them.
 */
import { randomBytes } from "node:crypto";
import { constants, existsSync, readFileSync } from "node:fs";
import { access, rename, rm, writeFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { threadId } from "node:worker_threads";
import { sha256Hex } from "./file-hash.js";

/** Whether files can be written into `dir` (a read-only model directory gets its edits in memory instead). */
export async function writable(dir: string): Promise<boolean> {
  try {
    await access(dir, constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * sha256 of the modules `names` beside `moduleUrl` (as built: .js, or .ts from source), so that any change to the
 * code that edits graphs yields new cached files instead of reusing what an earlier version made.
 */
export function codeHashOf(moduleUrl: string, names: readonly string[], what: string): string {
  const sources = names.map((name) => {
    for (const extension of [".js", ".ts"]) {
      const file = fileURLToPath(new URL(`./${name}${extension}`, moduleUrl));
      if (existsSync(file)) return readFileSync(file, "utf8");
    }
    throw new Error(`cannot find the ${what}'s source ${name} beside ${fileURLToPath(moduleUrl)}`);
  });
  return sha256Hex(...sources);
}

/** `path` made unique to this process, thread and call, for temporary files beside it. */
export function uniqueStem(path: string): string {
  return `${path}.${process.pid}-${threadId}-${randomBytes(4).toString("hex")}`;
}

/**
 * Writes `data` to `file` through a temporary file renamed over it, so readers see the old or the new
 * content, never a partial one. The temporary name is unique per process, thread and call: two threads of
 * one process (two models' session threads, or test files run in parallel) may write the same file at once.
 */
export async function writeFileAtomic(file: string, data: string | Uint8Array): Promise<void> {
  const temporary = `${uniqueStem(file)}.tmp`;
  try {
    await writeFile(temporary, data);
    await rename(temporary, file);
  } catch (error) {
    await rm(temporary, { force: true });
    throw error;
  }
}

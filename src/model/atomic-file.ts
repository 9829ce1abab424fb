import { randomBytes } from "node:crypto";
import { rename, rm, writeFile } from "node:fs/promises";
import { threadId } from "node:worker_threads";

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

/** Failures of the disk under the task database, as StoreErrors that name the file and the remedy. */
import path from "node:path";
import { SchemaTooNewError } from "./schema.js";
import { StoreError } from "./types.js";

/**
 * The failures of the disk under the database, named with the file and the remedy. SQLite rolls the
 * failed transaction back, so what was stored before is intact in every case but corruption.
 */
export function describeStorageFailure(error: unknown, file: string): StoreError | undefined {
  if (error instanceof StoreError || error instanceof SchemaTooNewError) return undefined;
  const code = String((error as { code?: unknown } | undefined)?.code ?? "");
  const dir = path.dirname(file);
  if (code === "SQLITE_CORRUPT" || code === "SQLITE_NOTADB" || code.startsWith("SQLITE_CORRUPT_")) {
    return new StoreError(
      "corrupt",
      `The task database ${file} is damaged or not a SQLite database (${code}); nothing was changed. ` +
        `To recover: stop sav-mcp, move ${file} and any ${file}-wal / ${file}-shm aside (try 'sqlite3 <file> .recover' on the copy to rescue tasks), ` +
        "restart to begin with an empty store, and import exported tasks again with import_task.",
    );
  }
  if (code === "SQLITE_FULL" || code === "ENOSPC" || code === "EDQUOT") {
    return new StoreError(
      "disk-full",
      `The disk holding the task database ${file} is full (${code}); this change was not stored, and everything stored before is intact. Free some space on that disk (or move SAV_DATA_DIR), then retry.`,
    );
  }
  if (code.startsWith("SQLITE_READONLY") || code.startsWith("SQLITE_CANTOPEN") || code === "EACCES" || code === "EPERM" || code === "EROFS") {
    return new StoreError(
      "read-only",
      `The data directory ${dir} (task database ${file}) cannot be written (${code}); nothing was changed. ` +
        "Make it writable by the server's user, or point SAV_DATA_DIR / --data-dir at a writable directory.",
    );
  }
  if (code.startsWith("SQLITE_")) {
    return new StoreError(
      "storage-error",
      `The task database ${file} could not be used (${code}); nothing was changed by this call. Check the disk and the file's permissions, then retry.`,
    );
  }
  return undefined;
}


/** Wraps every method of a store class so that a SQLite or file-system failure is named (see above). */
export function nameStorageFailures(prototype: { file: string }): void {
  for (const name of Object.getOwnPropertyNames(prototype)) {
    if (name === "constructor" || name === "close") continue;
    const descriptor = Object.getOwnPropertyDescriptor(prototype, name);
    const method = descriptor?.value as ((this: { file: string }, ...args: unknown[]) => unknown) | undefined;
    if (typeof method !== "function") continue;
    Object.defineProperty(prototype, name, {
      ...descriptor,
      value: function (this: { file: string }, ...args: unknown[]) {
        try {
          return method.apply(this, args);
        } catch (error) {
          throw describeStorageFailure(error, this.file) ?? error;
        }
      },
    });
  }
}

import { isPostgresUrl, PostgresTaskStore } from "./postgres-store.js";
import { SqliteTaskStore } from "./sqlite-task-store.js";
import { SavStore } from "./store.js";
import type { TaskStore } from "./types.js";

export class StoreUrlError extends Error {
  constructor(url: string) {
    // Only the scheme: the rest of the URL may carry a password.
    super(`SAV_STORE_URL must be a postgres:// (or postgresql://) URL; got one starting '${url.split(":")[0]?.slice(0, 20)}:'. Unset it to use SQLite in SAV_DATA_DIR.`);
    this.name = "StoreUrlError";
  }
}

/** PostgreSQL when SAV_STORE_URL names one (replicas share it), else the embedded SQLite file in dataDir. */
export async function openTaskStore(options: { dataDir: string; storeUrl?: string }): Promise<TaskStore> {
  const url = options.storeUrl?.trim();
  if (!url) return new SqliteTaskStore(new SavStore({ dataDir: options.dataDir }));
  if (!isPostgresUrl(url)) throw new StoreUrlError(url);
  return PostgresTaskStore.open({ url });
}

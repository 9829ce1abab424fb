import type pg from "pg";

/**
 * PostgreSQL schema migrations, applied in order; entry `i` moves the schema from version i to i + 1.
 * Never edit a released migration: append a new one. Tables are prefixed so the database can be shared.
 */
export const POSTGRES_MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE sav_tasks (
    -- Identity values are never reused, so a cached classifier keyed by id never belongs to a newer task.
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    description TEXT,
    prompt TEXT NOT NULL,
    labels JSONB,                       -- array for a closed label set, NULL when open
    k INTEGER NOT NULL CHECK (k > 0),
    selection TEXT NOT NULL,
    model_id TEXT NOT NULL,
    model_fingerprint TEXT NOT NULL,
    random_weights BOOLEAN NOT NULL DEFAULT FALSE,
    layers INTEGER NOT NULL,
    heads INTEGER NOT NULL,
    head_dim INTEGER NOT NULL,
    processing JSONB,                   -- the model family's processing options; NULL = none
    example_version BIGINT NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,           -- ISO 8601, as the SQLite store writes it
    updated_at TEXT NOT NULL
  );
  CREATE TABLE sav_examples (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    task_id BIGINT NOT NULL REFERENCES sav_tasks(id) ON DELETE CASCADE,
    label TEXT NOT NULL,
    text TEXT,
    image_hashes JSONB NOT NULL,        -- sha256 hex digests, in prompt order
    sources JSONB,                      -- where each image came from, in prompt order; NULL when not kept
    model_id TEXT NOT NULL,
    model_fingerprint TEXT NOT NULL,
    layers INTEGER NOT NULL,
    heads INTEGER NOT NULL,
    head_dim INTEGER NOT NULL,
    vectors BYTEA NOT NULL,             -- little-endian float32, row-major [layers, heads, head_dim]
    created_at TEXT NOT NULL
  );
  CREATE INDEX sav_examples_by_task ON sav_examples(task_id, label);
  CREATE TABLE sav_classifiers (
    task_id BIGINT PRIMARY KEY REFERENCES sav_tasks(id) ON DELETE CASCADE,
    example_version BIGINT NOT NULL,    -- the sav_tasks.example_version this state was built from
    state BYTEA NOT NULL,
    built_at TEXT NOT NULL
  );
  `,
  // The calibrated-confidence threshold (SQLite migration 4); version 1 silently dropped it.
  `ALTER TABLE sav_tasks ADD COLUMN min_confidence DOUBLE PRECISION;`,
];

export const POSTGRES_SCHEMA_VERSION = POSTGRES_MIGRATIONS.length;
/** Any fixed key: replicas starting together take turns migrating instead of racing. */
const MIGRATION_LOCK_KEY = 0x5a_76_6d_63;

export class PostgresSchemaTooNewError extends Error {
  constructor(found: number) {
    super(
      `The PostgreSQL database has sav-mcp schema version ${found}, newer than this sav-mcp understands (${POSTGRES_SCHEMA_VERSION}). ` +
        "Upgrade every replica to the same sav-mcp version, or point SAV_STORE_URL at another database.",
    );
    this.name = "PostgresSchemaTooNewError";
  }
}

/** Brings the database to POSTGRES_SCHEMA_VERSION in one transaction, under an advisory lock. */
export async function migratePostgres(client: pg.PoolClient): Promise<void> {
  await client.query("BEGIN");
  try {
    await client.query("SELECT pg_advisory_xact_lock($1)", [MIGRATION_LOCK_KEY]);
    await client.query("CREATE TABLE IF NOT EXISTS sav_schema_migrations (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)");
    const { rows } = await client.query<{ version: number | null }>("SELECT MAX(version) AS version FROM sav_schema_migrations");
    const current = rows[0]?.version ?? 0;
    if (current > POSTGRES_SCHEMA_VERSION) throw new PostgresSchemaTooNewError(current);
    for (let version = current; version < POSTGRES_SCHEMA_VERSION; version++) {
      await client.query(POSTGRES_MIGRATIONS[version]!);
      await client.query("INSERT INTO sav_schema_migrations (version, applied_at) VALUES ($1, $2)", [version + 1, new Date().toISOString()]);
    }
    await client.query("COMMIT");
  } catch (error) {
    await client.query("ROLLBACK").catch(() => undefined);
    throw error;
  }
}

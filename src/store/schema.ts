import type Database from "better-sqlite3";

/**
 * Schema migrations, applied in order. Each entry moves the schema from version `index` to `index + 1`.
 * Never edit a released migration: append a new one.
 */
const MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE tasks (
    -- AUTOINCREMENT: ids are never reused, so a cached classifier keyed by id can never belong to a
    -- deleted task that happened to share the id of a new one.
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL UNIQUE,
    description TEXT,
    prompt TEXT NOT NULL,
    labels TEXT,                       -- JSON array for a closed label set, NULL when open
    k INTEGER NOT NULL CHECK (k > 0),
    selection TEXT NOT NULL,
    model_id TEXT NOT NULL,
    model_fingerprint TEXT NOT NULL,
    random_weights INTEGER NOT NULL DEFAULT 0,
    layers INTEGER NOT NULL,
    heads INTEGER NOT NULL,
    head_dim INTEGER NOT NULL,
    example_version INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
  );
  CREATE TABLE examples (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    task_id INTEGER NOT NULL REFERENCES tasks(id) ON DELETE CASCADE,
    label TEXT NOT NULL,
    text TEXT,
    image_hashes TEXT NOT NULL,        -- JSON array of sha256 hex digests, in prompt order
    model_id TEXT NOT NULL,
    model_fingerprint TEXT NOT NULL,
    layers INTEGER NOT NULL,
    heads INTEGER NOT NULL,
    head_dim INTEGER NOT NULL,
    vectors BLOB NOT NULL,             -- little-endian float32, row-major [layers, heads, head_dim]
    created_at TEXT NOT NULL
  );
  CREATE INDEX examples_by_task ON examples(task_id, label);
  CREATE TABLE classifiers (
    task_id INTEGER PRIMARY KEY REFERENCES tasks(id) ON DELETE CASCADE,
    example_version INTEGER NOT NULL,  -- the tasks.example_version this state was built from
    state BLOB NOT NULL,
    built_at TEXT NOT NULL
  );
  `,
  // Where each example's images came from. NULL for rows written before this column existed.
  `
  ALTER TABLE examples ADD COLUMN sources TEXT;  -- JSON array of image origins, in prompt order
  `,
  // The model family's processing options a task's examples and queries are read with (e.g. a pixel budget).
  `
  ALTER TABLE tasks ADD COLUMN processing TEXT;  -- JSON object; NULL means the family's defaults
  `,
  // The calibrated probability below which classify_image abstains. NULL: never abstain.
  `
  ALTER TABLE tasks ADD COLUMN min_confidence REAL;
  `,
];

export const SCHEMA_VERSION = MIGRATIONS.length;

export class SchemaTooNewError extends Error {
  constructor(found: number) {
    super(
      `The data directory's database has schema version ${found}, newer than this sav-mcp understands (${SCHEMA_VERSION}). ` +
        "Upgrade sav-mcp or point SAV_DATA_DIR at another directory.",
    );
    this.name = "SchemaTooNewError";
  }
}

/** Brings the database to SCHEMA_VERSION. Safe when several processes open the same file at once. */
export function migrate(db: Database.Database): void {
  db.exec("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)");
  const apply = db.transaction(() => {
    // Read inside the write transaction: a second process that raced us sees our migrations and skips them.
    const row = db.prepare("SELECT MAX(version) AS version FROM schema_migrations").get() as { version: number | null };
    const current = row.version ?? 0;
    if (current > SCHEMA_VERSION) throw new SchemaTooNewError(current);
    const record = db.prepare("INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)");
    for (let version = current; version < SCHEMA_VERSION; version++) {
      db.exec(MIGRATIONS[version]!);
      record.run(version + 1, new Date().toISOString());
    }
  });
  apply.immediate();
}

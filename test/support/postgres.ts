import { randomBytes } from "node:crypto";
import pg from "pg";

/**
 * A PostgreSQL server for tests: SAV_TEST_PG_URL (set by .ci/run), else the one `.ci/postgres.sh`
 * starts locally. Tests create and drop their own databases on it.
 */
export const TEST_PG_URL = process.env.SAV_TEST_PG_URL ?? "postgres://postgres@127.0.0.1:55432/postgres";

async function reachable(url: string): Promise<string | undefined> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3000 });
  try {
    await client.connect();
    await client.query("SELECT 1");
    return undefined;
  } catch (error) {
    return (error as Error).message;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/**
 * Whether PostgreSQL tests run. Locally they skip with a message when no server answers; in CI
 * (CI=true) an unreachable server is a failure, never a skip.
 */
export async function postgresAvailable(): Promise<boolean> {
  const problem = await reachable(TEST_PG_URL);
  if (problem === undefined) return true;
  if (process.env.CI === "true") throw new Error(`CI=true but no PostgreSQL at SAV_TEST_PG_URL (${problem}); .ci/run starts one.`);
  process.stderr.write(`PostgreSQL tests skipped: no server at ${TEST_PG_URL} (${problem}). Start one with: bash .ci/postgres.sh /tmp/sav-pg\n`);
  return false;
}

export interface TestDatabase {
  url: string;
  drop(): Promise<void>;
}

/** A fresh, empty database on the test server. */
export async function createTestDatabase(): Promise<TestDatabase> {
  const name = `sav_test_${randomBytes(6).toString("hex")}`;
  const admin = new pg.Client({ connectionString: TEST_PG_URL });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(TEST_PG_URL);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      const client = new pg.Client({ connectionString: TEST_PG_URL });
      await client.connect();
      try {
        await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await client.end();
      }
    },
  };
}

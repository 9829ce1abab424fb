import { execFileSync, spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { DATABASE_FILE, SavStore, SchemaTooNewError, StoreError } from "../../src/store/index.js";
import { BUILT_CLI, builtCliExists } from "../support/stdio-server.js";
import { clusteredExamples, newTask } from "../support/store-fixtures.js";
import { makeTempDir } from "../support/temp-dir.js";

let temp: ReturnType<typeof makeTempDir>;
let dataDir: string;
let dbFile: string;

beforeEach(() => {
  temp = makeTempDir("sav-store-failures-");
  dataDir = path.join(temp.dir, "data");
  dbFile = path.join(dataDir, DATABASE_FILE);
});
afterEach(() => temp.cleanup());

function storeError(run: () => unknown): StoreError {
  try {
    run();
  } catch (error) {
    expect(error, String(error)).toBeInstanceOf(StoreError);
    return error as StoreError;
  }
  throw new Error("expected a StoreError");
}

/** A store holding one task with `perLabel` examples per label, closed again. */
function writeStore(perLabel: number): void {
  const store = new SavStore({ dataDir });
  const task = store.createTask(newTask("kept", { labels: ["a", "b"] }));
  store.addExamples(task.id, clusteredExamples(["a", "b"], perLabel));
  store.close();
}

describe("storage failures are named, with the file and the remedy", () => {
  it("a full disk during add_examples stores nothing of that call and keeps everything before", () => {
    writeStore(2);
    const pages = (new Database(dbFile).pragma("page_count", { simple: true }) as number) + 2;
    const store = new SavStore({ dataDir, maxPageCount: pages });
    try {
      const task = store.getTask("kept")!;
      const big = clusteredExamples(["a", "b"], 200, { seed: 9 });
      const error = storeError(() => store.addExamples(task.id, big));
      expect(error.code).toBe("disk-full");
      expect(error.message).toContain(dbFile);
      expect(error.message).toMatch(/not stored, and everything stored before is intact\. Free some space/);
      expect(store.labelCounts(task.id)).toEqual({ a: 2, b: 2 });
      expect(store.loadTrainingSet(task.id).examples).toHaveLength(4);
    } finally {
      store.close();
    }
  });

  it("a file that is not SQLite is refused at open, naming it and how to start over", () => {
    fs.mkdirSync(dataDir);
    fs.writeFileSync(dbFile, "this is not a database ".repeat(200));
    const error = storeError(() => new SavStore({ dataDir }));
    expect(error.code).toBe("corrupt");
    expect(error.message).toContain(dbFile);
    expect(error.message).toMatch(/move .* aside.*import_task/);
    // Nothing was overwritten.
    expect(fs.readFileSync(dbFile, "utf8")).toMatch(/^this is not a database/);
  });

  it("a truncated database fails at open or at first read with the same named error", () => {
    writeStore(60);
    const bytes = fs.readFileSync(dbFile);
    fs.writeFileSync(dbFile, bytes.subarray(0, Math.floor(bytes.length / 3)));
    const error = storeError(() => {
      const store = new SavStore({ dataDir });
      try {
        const task = store.getTask("kept");
        store.loadTrainingSet(task!.id);
      } finally {
        store.close();
      }
    });
    expect(error.code).toBe("corrupt");
    expect(error.message).toContain(dbFile);
  });

  it("a schema from a newer version is refused without touching the file", () => {
    writeStore(1);
    const db = new Database(dbFile);
    db.prepare("INSERT INTO schema_migrations (version, applied_at) VALUES (99, 'later')").run();
    db.close();
    const before = fs.readFileSync(dbFile);
    let caught: unknown;
    try {
      new SavStore({ dataDir }).close();
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(SchemaTooNewError);
    expect((caught as Error).message).toContain(dbFile);
    expect((caught as Error).message).toMatch(/version 99, newer .*Upgrade sav-mcp/);
    expect(fs.readFileSync(dbFile).equals(before)).toBe(true);
  });

  it("a read-only data directory is named with the remedy", (context) => {
    writeStore(1);
    let undo: () => void;
    if (process.getuid?.() === 0) {
      // Root ignores permissions: make the directory read-only with a read-only bind mount.
      try {
        execFileSync("mount", ["--bind", dataDir, dataDir]);
        execFileSync("mount", ["-o", "remount,ro,bind", dataDir]);
      } catch {
        context.skip("needs permission to bind-mount read-only (root without mount rights)");
        return;
      }
      undo = () => execFileSync("umount", [dataDir]);
    } else {
      fs.chmodSync(dataDir, 0o555);
      fs.chmodSync(dbFile, 0o444);
      undo = () => {
        fs.chmodSync(dataDir, 0o755);
        fs.chmodSync(dbFile, 0o644);
      };
    }
    try {
      const error = storeError(() => {
        const store = new SavStore({ dataDir });
        try {
          store.createTask(newTask("new"));
        } finally {
          store.close();
        }
      });
      expect(error.code).toBe("read-only");
      expect(error.message).toContain(dataDir);
      expect(error.message).toMatch(/writable .*SAV_DATA_DIR/);
    } finally {
      undo();
    }
    const reopened = new SavStore({ dataDir });
    expect(reopened.taskNames()).toEqual(["kept"]);
    reopened.close();
  });

  it.skipIf(!builtCliExists())("the CLI refuses a damaged database at start-up: one paragraph on stderr, non-zero exit", () => {
    fs.mkdirSync(dataDir);
    fs.writeFileSync(dbFile, "garbage ".repeat(500));
    const run = spawnSync(process.execPath, [BUILT_CLI, "serve"], {
      env: { PATH: process.env.PATH ?? "", SAV_DATA_DIR: dataDir, SAV_MODELS_DIR: path.join(temp.dir, "models") },
      input: "",
      encoding: "utf8",
    });
    expect(run.status).not.toBe(0);
    expect(run.stdout).toBe("");
    expect(run.stderr).toContain(dbFile);
    expect(run.stderr).toMatch(/damaged or not a SQLite database/);
    expect(run.stderr).not.toMatch(/\n\s+at /);
  });
});

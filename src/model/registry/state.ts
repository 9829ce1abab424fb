import { mkdir, open, readFile, rm, stat } from "node:fs/promises";
import path from "node:path";
import { writeFileAtomic } from "../cache-files.js";
import { parseManifest, type Component, type Dtype, type ModelManifest } from "./manifest.js";

/**
 * Book-keeping beside a pulled model, in `<modelDir>/.sav-mcp/`, so the repository layout itself stays exactly as
 * published: which files were verified (so a second pull need not re-hash 500 MB), which dtypes the last pull
 * fetched, the manifest it used (custom models resolve by id afterwards) and a lock against concurrent pulls.
 */
export const STATE_DIR = ".sav-mcp";

export interface VerifiedStamp {
  size: number;
  /** The file's mtime when it was verified; a later change invalidates the stamp. */
  mtimeMs: number;
  sha256: string;
  checkedAgainst: "manifest" | "hub-etag" | "none";
}

export interface PullRecord {
  id: string;
  repo: string | null;
  revision: string | null;
  dtypes: Record<Component, Dtype>;
  completedAt: string;
}

function stampPath(modelDir: string, file: string): string {
  return path.join(modelDir, STATE_DIR, "verified", `${file}.json`);
}

async function writeJsonAtomic(file: string, value: unknown): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true });
  await writeFileAtomic(file, `${JSON.stringify(value, null, 2)}\n`);
}

async function readJson(file: string): Promise<unknown> {
  try {
    return JSON.parse(await readFile(file, "utf8")) as unknown;
  } catch {
    return undefined;
  }
}

export async function writeStamp(
  modelDir: string,
  file: string,
  stamp: Omit<VerifiedStamp, "mtimeMs" | "size">,
): Promise<void> {
  const info = await stat(path.join(modelDir, file));
  await writeJsonAtomic(stampPath(modelDir, file), { ...stamp, size: info.size, mtimeMs: info.mtimeMs });
}

export async function removeStamp(modelDir: string, file: string): Promise<void> {
  await rm(stampPath(modelDir, file), { force: true });
}

/** The stamp of a file, only while the file still has the size and mtime it had when it was verified. */
export async function readValidStamp(modelDir: string, file: string): Promise<VerifiedStamp | null> {
  const stamp = (await readJson(stampPath(modelDir, file))) as VerifiedStamp | undefined;
  if (stamp === undefined || typeof stamp.sha256 !== "string") return null;
  try {
    const info = await stat(path.join(modelDir, file));
    return info.size === stamp.size && info.mtimeMs === stamp.mtimeMs ? stamp : null;
  } catch {
    return null;
  }
}

/** The recorded sha256 of a file even when the file changed since: `verify` compares against it. */
export async function readStampSha(modelDir: string, file: string): Promise<string | null> {
  const stamp = (await readJson(stampPath(modelDir, file))) as VerifiedStamp | undefined;
  return typeof stamp?.sha256 === "string" ? stamp.sha256 : null;
}

/** What a file's recorded sha256 was checked against at download ("none": nothing, the file is unverified). */
export async function readStampOrigin(modelDir: string, file: string): Promise<VerifiedStamp["checkedAgainst"] | null> {
  const stamp = (await readJson(stampPath(modelDir, file))) as VerifiedStamp | undefined;
  return stamp?.checkedAgainst ?? null;
}

export async function writePullRecord(modelDir: string, record: PullRecord, manifest: ModelManifest): Promise<void> {
  await writeJsonAtomic(path.join(modelDir, STATE_DIR, "manifest.json"), manifest);
  await writeJsonAtomic(path.join(modelDir, STATE_DIR, "pull.json"), record);
}

export async function readPullRecord(modelDir: string): Promise<PullRecord | null> {
  const record = (await readJson(path.join(modelDir, STATE_DIR, "pull.json"))) as PullRecord | undefined;
  return record !== undefined && typeof record.dtypes === "object" && record.dtypes !== null ? record : null;
}

/** The manifest a model directory was pulled with, or null. */
export async function readStoredManifest(modelDir: string): Promise<ModelManifest | null> {
  const json = await readJson(path.join(modelDir, STATE_DIR, "manifest.json"));
  if (json === undefined) return null;
  try {
    return parseManifest(json, path.join(modelDir, STATE_DIR, "manifest.json"));
  } catch {
    return null;
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** An exclusive lock file holding our pid; a lock left by a dead process is taken over. */
export async function acquirePullLock(modelDir: string): Promise<(() => Promise<void>) | { heldBy: number }> {
  const lockFile = path.join(modelDir, STATE_DIR, "pull.lock");
  await mkdir(path.dirname(lockFile), { recursive: true });
  for (let tries = 0; tries < 2; tries++) {
    try {
      const handle = await open(lockFile, "wx");
      await handle.writeFile(String(process.pid));
      await handle.close();
      return () => rm(lockFile, { force: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      const holder = Number((await readFile(lockFile, "utf8").catch(() => "")).trim());
      if (Number.isInteger(holder) && holder > 0 && holder !== process.pid && processAlive(holder)) {
        return { heldBy: holder };
      }
      await rm(lockFile, { force: true });
    }
  }
  throw new Error(`Cannot take the pull lock ${lockFile}.`);
}

import { rm, statfs } from "node:fs/promises";
import path from "node:path";
import { downloadFile, headFile, maxBytesWithoutSize, sha256File, type HubContext } from "./download.js";
import { diskFullError, HubError } from "./errors.js";
import { chooseDtypes, filesFor, type Component, type Dtype, type ManifestFile, type ModelManifest } from "./manifest.js";
import { sizeOf } from "./installed.js";
import { installDir, isGenerated, requireManifest } from "./lookup.js";
import { resolveModel } from "./resolve.js";
import { pullSafetensorsTensors } from "./safetensors-range.js";
import { acquirePullLock, readValidStamp, removeStamp, writePullRecord, writeStamp } from "./state.js";
import type { PullOptions, PullResult, RegistryOptions } from "./index.js";

const DEFAULT_ENDPOINT = "https://huggingface.co";

function endpointOf(opts: RegistryOptions): string {
  return (opts.hfEndpoint ?? process.env.HF_ENDPOINT ?? DEFAULT_ENDPOINT).replace(/\/+$/, "");
}

function tokenOf(opts: RegistryOptions): string | undefined {
  const token = opts.hfToken ?? process.env.HF_TOKEN;
  return token === undefined || token.trim() === "" ? undefined : token.trim();
}

/** Serializes pulls of one directory inside this process; the lock file covers other processes. */
const pullsInProgress = new Map<string, Promise<unknown>>();

/**
 * Downloads a model's files for a dtype set into `<modelsDir>/<id>/` in the repository layout: resumable, retried,
 * several files at once, each verified (size, sha256) before an atomic rename. Files already complete are skipped.
 */
export async function pullModel(idOrPath: string, opts: PullOptions): Promise<PullResult> {
  const manifest = await requireManifest(idOrPath, opts);
  if (isGenerated(manifest)) {
    const resolved = await resolveModel(manifest.id, opts);
    return { dir: resolved.dir, downloadedBytes: 0, skippedFiles: 0, unverifiedFiles: [] };
  }
  const dtypes = chooseDtypes(manifest, opts.dtypes);
  const dir = installDir(opts, manifest.id);
  const previous = pullsInProgress.get(dir) ?? Promise.resolve();
  const run = previous.catch(() => undefined).then(() => pullLocked(manifest, dtypes, dir, opts));
  pullsInProgress.set(dir, run);
  try {
    return await run;
  } finally {
    if (pullsInProgress.get(dir) === run) pullsInProgress.delete(dir);
  }
}

async function pullLocked(
  manifest: ModelManifest,
  dtypes: Record<Component, Dtype>,
  dir: string,
  opts: PullOptions,
): Promise<PullResult> {
  const lock = await acquirePullLock(dir);
  if (typeof lock !== "function") {
    throw new HubError(
      "http",
      `Another process (pid ${lock.heldBy}) is pulling ${manifest.id} into ${dir}.`,
      "Wait for it to finish, or stop it and run the pull again.",
    );
  }
  try {
    return await pullFiles(manifest, dtypes, dir, opts);
  } finally {
    await lock();
  }
}

async function freeBytes(dir: string): Promise<number | null> {
  try {
    const info = await statfs(dir);
    return info.bavail * info.bsize;
  } catch {
    return null;
  }
}

async function pullFiles(
  manifest: ModelManifest,
  dtypes: Record<Component, Dtype>,
  dir: string,
  opts: PullOptions,
): Promise<PullResult> {
  const abort = new AbortController();
  const onOuterAbort = () => abort.abort(opts.signal?.reason);
  if (opts.signal?.aborted) throw opts.signal.reason;
  opts.signal?.addEventListener("abort", onOuterAbort, { once: true });

  const pending = new Map<string, { received: number; total: number }>();
  const ctx: HubContext = {
    endpoint: endpointOf(opts),
    token: tokenOf(opts),
    fetchImpl: opts.fetchImpl ?? globalThis.fetch,
    repo: manifest.repo ?? "",
    revision: manifest.revision ?? "main",
    timeoutMs: opts.timeoutMs ?? 60_000,
    retries: opts.retries ?? 4,
    retryDelayMs: opts.retryDelayMs ?? 1000,
    modelsDir: opts.modelsDir,
    remainingBytes: () => [...pending.values()].reduce((sum, f) => sum + Math.max(0, f.total - f.received), 0),
    signal: abort.signal,
  };

  try {
    const files = filesFor(manifest, dtypes);
    const toDownload: ManifestFile[] = [];
    let skippedFiles = 0;
    for (const file of files) {
      if (await alreadyComplete(ctx, dir, file)) skippedFiles++;
      else toDownload.push(file);
    }

    for (const file of toDownload) {
      const partialBytes = (await sizeOf(path.join(dir, `${file.path}.partial`))) ?? 0;
      // An unknown size is asked of the hub, else counted at its maximum: never as 0 in the free-space check.
      const total = file.size ?? file.approxSize ?? (await headFile(ctx, file.path).then((r) => r.size, () => null)) ?? maxBytesWithoutSize(file);
      pending.set(file.path, { received: partialBytes, total });
    }
    const free = await freeBytes(opts.modelsDir);
    if (free !== null && ctx.remainingBytes() > free) throw diskFullError(opts.modelsDir, ctx.remainingBytes(), free);

    const progress = progressTracker(pending, opts);
    let downloadedBytes = 0;
    const unverifiedFiles: string[] = [];
    let firstError: unknown;
    const queue = [...toDownload];
    const worker = async () => {
      for (let file = queue.shift(); file !== undefined && firstError === undefined; file = queue.shift()) {
        const current = file;
        try {
          const result = await downloadFile(ctx, current, path.join(dir, current.path), (received, total, delta) =>
            progress.update(current.path, received, total, delta),
          );
          downloadedBytes += result.downloadedBytes;
          if (result.checkedAgainst === "none") unverifiedFiles.push(current.path);
          await writeStamp(dir, current.path, { sha256: result.sha256, checkedAgainst: result.checkedAgainst });
          progress.complete(current.path);
        } catch (err) {
          if (current.optional && err instanceof HubError && err.kind === "not-found") {
            pending.delete(current.path);
            continue;
          }
          if (firstError === undefined) {
            firstError = err;
            // Stop the other downloads; their partial files stay for the next pull to resume.
            abort.abort(new Error("stopped because another file failed"));
          }
        }
      }
    };
    const workers = Math.max(1, Math.min(opts.concurrency ?? 3, toDownload.length));
    await Promise.all(Array.from({ length: workers }, worker));
    if (firstError !== undefined) throw firstError;
    const warnings = await pullSafetensorsTensors(ctx, dir, manifest.safetensorsTensors ?? []);

    await writePullRecord(
      dir,
      { id: manifest.id, repo: manifest.repo, revision: manifest.revision, dtypes, completedAt: new Date().toISOString() },
      manifest,
    );
    return { dir, downloadedBytes, skippedFiles, unverifiedFiles, ...(warnings.length > 0 ? { warnings } : {}) };
  } finally {
    opts.signal?.removeEventListener("abort", onOuterAbort);
  }
}

/**
 * A file already in place counts as complete when its verified stamp is current, or when re-hashing it matches the
 * manifest (or the hub's sha256 / size when the manifest has none). A mismatching file is deleted to be downloaded.
 */
async function alreadyComplete(ctx: HubContext, dir: string, file: ManifestFile): Promise<boolean> {
  const local = path.join(dir, file.path);
  const size = await sizeOf(local);
  if (size === null) return false;
  const stamp = await readValidStamp(dir, file.path);
  if (
    stamp !== null &&
    (file.size === null || stamp.size === file.size) &&
    (file.sha256 === null || stamp.sha256 === file.sha256)
  ) {
    return true;
  }
  let ok = file.size === null || size === file.size;
  let checkedAgainst: "manifest" | "hub-etag" | "none" = "manifest";
  let sha256 = "";
  if (ok) {
    sha256 = await sha256File(local);
    if (file.sha256 !== null) ok = sha256 === file.sha256;
    else {
      const remote = await headFile(ctx, file.path);
      checkedAgainst = remote.sha256 !== null ? "hub-etag" : "none";
      ok = remote.sha256 !== null ? sha256 === remote.sha256 : remote.size === null || remote.size === size;
    }
  }
  if (!ok) {
    await rm(local, { force: true });
    await removeStamp(dir, file.path);
    return false;
  }
  await writeStamp(dir, file.path, { sha256, checkedAgainst });
  return true;
}

function progressTracker(pending: Map<string, { received: number; total: number }>, opts: PullOptions) {
  const interval = opts.progressIntervalMs ?? 200;
  const started = Date.now();
  let networkBytes = 0;
  let lastEmit = 0;
  const emit = (file: string, force: boolean) => {
    if (opts.onProgress === undefined) return;
    const now = Date.now();
    if (!force && now - lastEmit < interval) return;
    lastEmit = now;
    const entry = pending.get(file) ?? { received: 0, total: 0 };
    let overallReceived = 0;
    let overallTotal = 0;
    for (const f of pending.values()) {
      overallReceived += f.received;
      overallTotal += Math.max(f.total, f.received);
    }
    const seconds = Math.max((now - started) / 1000, 0.001);
    opts.onProgress({
      file,
      receivedBytes: entry.received,
      totalBytes: Math.max(entry.total, entry.received),
      overallReceived,
      overallTotal,
      bytesPerSecond: networkBytes / seconds,
    });
  };
  return {
    update(file: string, received: number, total: number | null, delta: number) {
      networkBytes += delta;
      const entry = pending.get(file);
      if (entry) {
        entry.received = received;
        if (total !== null) entry.total = total;
      }
      emit(file, false);
    },
    complete(file: string) {
      const entry = pending.get(file);
      if (entry) entry.total = entry.received;
      emit(file, true);
    },
  };
}

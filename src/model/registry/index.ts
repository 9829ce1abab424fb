import { existsSync } from "node:fs";
import { readdir, rm, stat, statfs } from "node:fs/promises";
import path from "node:path";
import { DTYPE_PREFERENCE } from "../onnx-files.js";
import { downloadFile, headFile, sha256File, type HubContext } from "./download.js";
import { diskFullError, HubError, installCommandFor, ModelNotInstalledError } from "./errors.js";
import { pullSafetensorsTensors } from "./safetensors-range.js";
import {
  builtinManifests,
  chooseDtypes,
  COMPONENTS,
  DTYPE_SUFFIX,
  DTYPES,
  filesFor,
  loadManifest,
  looksLikeManifestPath,
  ManifestError,
  MODEL_ID_PATTERN,
  totalBytes,
  type Component,
  type Dtype,
  type ManifestFile,
  type ModelManifest,
} from "./manifest.js";
import {
  acquirePullLock,
  readPullRecord,
  readStampSha,
  readStoredManifest,
  readValidStamp,
  removeStamp,
  STATE_DIR,
  writePullRecord,
  writeStamp,
} from "./state.js";

export { HubError, ModelNotInstalledError, installCommandFor } from "./errors.js";
export type { HubErrorKind } from "./errors.js";
export {
  COMPONENTS,
  DTYPES,
  ManifestError,
  builtinManifests,
  chooseDtypes,
  filesFor,
  loadManifest,
  parseDtypeSpec,
  parseManifest,
} from "./manifest.js";
export type { Component, Dtype, ManifestFile, ManifestVariant, ModelManifest } from "./manifest.js";

export interface RegistryOptions {
  modelsDir: string;
  /** A directory in the published layout used as is for `defaultModel`. */
  modelDir?: string;
  defaultModel: string;
  /** Default `process.env.HF_ENDPOINT ?? "https://huggingface.co"`. */
  hfEndpoint?: string;
  /** Default `process.env.HF_TOKEN`. */
  hfToken?: string;
  fetchImpl?: typeof fetch;
  /** Custom manifests (see `loadManifest`), consulted before the built-in ones. */
  extraManifests?: ModelManifest[];
  /** Generated models (manifest `source: "generated"`) by id: registered by the program, never downloaded. */
  generators?: Readonly<Record<string, ModelGenerator>>;
}

/** A locally generated model (random weights, published layout): where it lives, and how to make it. */
export interface ModelGenerator {
  dir: string;
  /** Generates the model when it is missing or stale; resolves to its directory. */
  ensure(): Promise<string>;
}

export interface ModelListing {
  id: string;
  title: string;
  repo: string | null;
  installed: boolean;
  dir: string | null;
  /**
   * Bytes a pull of `dtypes` fetches (configs included). When `downloadBytesExact` is false some sizes are unknown:
   * the figure is then a lower bound from the rounded sizes that are known (0 when none is).
   */
  downloadBytes: number;
  downloadBytesExact: boolean;
  installedBytes: number;
  isDefault: boolean;
  randomWeights: boolean;
  dtypes: Record<string, string>;
  installCommand: string | null;
}

export interface ResolvedModel {
  id: string;
  dir: string;
  dtypes: Record<string, string>;
  randomWeights: boolean;
  manifest: ModelManifest | null;
}

export interface PullProgress {
  file: string;
  receivedBytes: number;
  totalBytes: number;
  overallReceived: number;
  overallTotal: number;
  bytesPerSecond: number;
}

export interface PullOptions extends RegistryOptions {
  dtypes?: Record<string, string>;
  signal?: AbortSignal;
  onProgress?: (p: PullProgress) => void;
  /** Files downloaded at once (default 3). */
  concurrency?: number;
  /** Extra attempts per file after transient failures (default 4). */
  retries?: number;
  /** A request fails after this long without a byte (default 60 s). */
  timeoutMs?: number;
  /** First retry delay, doubled each retry (default 1 s). */
  retryDelayMs?: number;
  /** Minimum interval between progress callbacks (default 200 ms); file completions are always reported. */
  progressIntervalMs?: number;
}

export interface PullResult {
  dir: string;
  downloadedBytes: number;
  skippedFiles: number;
  /** Optional extras that could not be had (e.g. a tensor from model.safetensors); the model works without them. */
  warnings?: string[];
}

export interface VerifyResult {
  ok: boolean;
  files: { path: string; ok: boolean; reason?: string }[];
  /** The pull command that re-fetches this dtype set (bad files only), or null when the model is not pulled. */
  repairCommand: string | null;
}

const DEFAULT_ENDPOINT = "https://huggingface.co";

function endpointOf(opts: RegistryOptions): string {
  return (opts.hfEndpoint ?? process.env.HF_ENDPOINT ?? DEFAULT_ENDPOINT).replace(/\/+$/, "");
}

function tokenOf(opts: RegistryOptions): string | undefined {
  const token = opts.hfToken ?? process.env.HF_TOKEN;
  return token === undefined || token.trim() === "" ? undefined : token.trim();
}

function isGenerated(manifest: ModelManifest | null): boolean {
  return manifest?.source === "generated";
}

function generatorFor(opts: RegistryOptions, id: string): ModelGenerator {
  const generator = opts.generators?.[id];
  if (!generator) throw new ManifestError(`${id} is a generated model, but this program has no generator registered for it.`);
  return generator;
}

function usesModelDir<T extends RegistryOptions>(id: string, opts: T): opts is T & { modelDir: string } {
  return opts.modelDir !== undefined && id === opts.defaultModel;
}

function installDir(opts: RegistryOptions, id: string): string {
  if (!MODEL_ID_PATTERN.test(id)) throw new ManifestError(`"${id}" is not a valid model id.`);
  return path.join(opts.modelsDir, id);
}

/** Manifests pulled earlier from custom files, found through the copy kept in each model directory. */
async function storedManifests(modelsDir: string): Promise<ModelManifest[]> {
  let entries: string[];
  try {
    entries = await readdir(modelsDir);
  } catch {
    return [];
  }
  const found = await Promise.all(
    entries.filter((e) => MODEL_ID_PATTERN.test(e)).map((e) => readStoredManifest(path.join(modelsDir, e))),
  );
  return found.filter((m): m is ModelManifest => m !== null && MODEL_ID_PATTERN.test(m.id));
}

/** Custom (extra) manifests first, then built-in ones, then those stored beside pulled custom models. */
async function allManifests(opts: RegistryOptions): Promise<ModelManifest[]> {
  const byId = new Map<string, ModelManifest>();
  for (const m of [...(opts.extraManifests ?? []), ...(await builtinManifests()), ...(await storedManifests(opts.modelsDir))]) {
    if (!byId.has(m.id)) byId.set(m.id, m);
  }
  return [...byId.values()];
}

/** The manifest for an id or a manifest file path; null for an unknown id. */
async function findManifest(idOrPath: string, opts: RegistryOptions): Promise<ModelManifest | null> {
  if (looksLikeManifestPath(idOrPath)) return loadManifest(idOrPath);
  const extra = opts.extraManifests?.find((m) => m.id === idOrPath);
  if (extra) return extra;
  const builtin = (await builtinManifests()).find((m) => m.id === idOrPath);
  if (builtin) return builtin;
  if (!MODEL_ID_PATTERN.test(idOrPath)) return null;
  return readStoredManifest(path.join(opts.modelsDir, idOrPath));
}

async function requireManifest(idOrPath: string, opts: RegistryOptions): Promise<ModelManifest> {
  const manifest = await findManifest(idOrPath, opts);
  if (manifest !== null) return manifest;
  const known = (await allManifests(opts)).map((m) => m.id).join(", ");
  throw new ManifestError(`Unknown model "${idOrPath}". Known models: ${known}; or pass a manifest file (*.json).`);
}

async function directoryBytes(dir: string): Promise<number> {
  let total = 0;
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch {
    return 0;
  }
  for (const entry of entries) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) total += await directoryBytes(full);
    else if (entry.isFile()) total += (await stat(full)).size;
  }
  return total;
}

async function sizeOf(file: string): Promise<number | null> {
  try {
    const info = await stat(file);
    return info.isFile() ? info.size : null;
  } catch {
    return null;
  }
}

/** Whether every file of a dtype set is present with the right size; problems say what is missing. */
async function checkInstalled(
  manifest: ModelManifest,
  dir: string,
  dtypes: Record<Component, Dtype>,
): Promise<{ ok: boolean; problems: string[] }> {
  const problems: string[] = [];
  for (const file of filesFor(manifest, dtypes)) {
    const size = await sizeOf(path.join(dir, file.path));
    if (size === null) {
      if (!file.optional) problems.push(`${file.path} is missing`);
      continue;
    }
    const expected = file.size ?? (await readValidStamp(dir, file.path))?.size ?? size;
    if (size !== expected) problems.push(`${file.path} has ${size} bytes instead of ${expected}`);
  }
  return { ok: problems.length === 0, problems };
}

function dtypeFlag(manifest: ModelManifest, dtypes: Record<Component, Dtype>): string {
  const changed = COMPONENTS.filter((c) => dtypes[c] !== manifest.defaultDtypes[c]).map((c) => `${c}=${dtypes[c]}`);
  return changed.length === 0 ? "" : ` --dtype ${changed.join(",")}`;
}

class NotInstalled extends ModelNotInstalledError {
  override readonly installCommand: string;
  constructor(manifest: ModelManifest, dtypes: Record<Component, Dtype>, detail: string) {
    super(manifest.id, detail);
    this.installCommand = `${installCommandFor(manifest.id)}${dtypeFlag(manifest, dtypes)}`;
    this.message = this.message.replace(installCommandFor(manifest.id), this.installCommand);
  }
}

/**
 * The dtype per component of a directory in the published layout: the requested one when given (and present),
 * otherwise fp32 when its file is there, otherwise the first variant found.
 */
export function detectDtypes(dir: string, requested: Record<string, string> = {}): Record<Component, Dtype> {
  const graph = (c: Component, d: Dtype) => path.join(dir, "onnx", `${c}${DTYPE_SUFFIX[d]}.onnx`);
  const result = {} as Record<Component, Dtype>;
  for (const component of COMPONENTS) {
    const wanted = requested[component];
    if (wanted !== undefined) {
      if (!(DTYPES as string[]).includes(wanted) || !existsSync(graph(component, wanted as Dtype))) {
        throw new ManifestError(`${dir} has no onnx/${component}${DTYPE_SUFFIX[wanted as Dtype] ?? `_${wanted}`}.onnx.`);
      }
      result[component] = wanted as Dtype;
      continue;
    }
    const found = DTYPE_PREFERENCE.find((d) => existsSync(graph(component, d)));
    if (found === undefined) {
      throw new ManifestError(
        `${dir} has no onnx/${component}*.onnx; a model directory must use a published ONNX layout (onnx/<graph><dtype suffix>.onnx).`,
      );
    }
    result[component] = found;
  }
  return result;
}

/** Installed and available models with sizes, the default, and how to install each. */
export async function listModels(opts: RegistryOptions): Promise<ModelListing[]> {
  const listings: ModelListing[] = [];
  const manifests = await allManifests(opts);
  for (const manifest of manifests) {
    const isDefault = manifest.id === opts.defaultModel;
    const base = {
      id: manifest.id,
      title: manifest.title,
      repo: manifest.repo,
      isDefault,
      randomWeights: manifest.randomWeights,
    };
    if (isGenerated(manifest)) {
      const dir = opts.generators?.[manifest.id]?.dir ?? null;
      const installed = dir !== null && (await checkInstalled(manifest, dir, manifest.defaultDtypes)).ok;
      listings.push({
        ...base,
        installed,
        dir: installed ? dir : null,
        downloadBytes: 0,
        downloadBytesExact: true,
        installedBytes: installed && dir !== null ? await directoryBytes(dir) : 0,
        dtypes: { ...manifest.defaultDtypes },
        installCommand: null,
      });
      continue;
    }
    let dir: string;
    let dtypes: Record<Component, Dtype>;
    let installed: boolean;
    if (usesModelDir(manifest.id, opts)) {
      dir = opts.modelDir;
      try {
        dtypes = detectDtypes(dir);
        installed = true;
      } catch {
        dtypes = manifest.defaultDtypes;
        installed = false;
      }
    } else {
      dir = installDir(opts, manifest.id);
      const pulled = (await readPullRecord(dir))?.dtypes;
      dtypes = manifest.defaultDtypes;
      installed = false;
      for (const candidate of pulled ? [pulled, manifest.defaultDtypes] : [manifest.defaultDtypes]) {
        if ((await checkInstalled(manifest, dir, candidate)).ok) {
          dtypes = candidate;
          installed = true;
          break;
        }
      }
    }
    const download = totalBytes(filesFor(manifest, dtypes));
    listings.push({
      ...base,
      installed,
      dir: installed ? dir : null,
      downloadBytes: download.bytes,
      downloadBytesExact: download.exact,
      installedBytes: installed ? await directoryBytes(dir) : 0,
      dtypes: { ...dtypes },
      installCommand: `${installCommandFor(manifest.id)}${dtypeFlag(manifest, dtypes)}`,
    });
  }
  if (opts.modelDir !== undefined && !manifests.some((m) => m.id === opts.defaultModel)) {
    // A model directory without a manifest: listed so the default is visible, with nothing to download.
    let dtypes: Record<string, string> = {};
    let installed = false;
    try {
      dtypes = detectDtypes(opts.modelDir);
      installed = true;
    } catch {
      installed = false;
    }
    listings.push({
      id: opts.defaultModel,
      title: `Model directory ${opts.modelDir}`,
      repo: null,
      installed,
      dir: installed ? opts.modelDir : null,
      downloadBytes: 0,
      downloadBytesExact: true,
      installedBytes: installed ? await directoryBytes(opts.modelDir) : 0,
      isDefault: true,
      randomWeights: false,
      dtypes,
      installCommand: null,
    });
  }
  return listings;
}

/**
 * Where a model's files are and which dtype variant to load per component. `tiny-smolvlm` is generated on demand;
 * the default model with `modelDir` set uses that directory as is; any other model must have been pulled, else
 * this throws ModelNotInstalledError naming the command that installs it.
 */
export async function resolveModel(
  id: string,
  opts: RegistryOptions & { dtypes?: Record<string, string> },
): Promise<ResolvedModel> {
  if (usesModelDir(id, opts)) {
    const manifest = await findManifest(id, opts).catch(() => null);
    return { id, dir: opts.modelDir, dtypes: detectDtypes(opts.modelDir, opts.dtypes), randomWeights: false, manifest };
  }
  const manifest = await requireManifest(id, opts);
  if (isGenerated(manifest)) {
    return {
      id: manifest.id,
      dir: await generatorFor(opts, manifest.id).ensure(),
      dtypes: chooseDtypes(manifest, opts.dtypes),
      randomWeights: true,
      manifest,
    };
  }
  const dir = installDir(opts, manifest.id);
  const pulled = (await readPullRecord(dir))?.dtypes;
  const candidates =
    opts.dtypes !== undefined
      ? [chooseDtypes(manifest, opts.dtypes)]
      : pulled
        ? [pulled, manifest.defaultDtypes]
        : [manifest.defaultDtypes];
  let firstProblem = "";
  for (const dtypes of candidates) {
    const check = await checkInstalled(manifest, dir, dtypes);
    if (check.ok) return { id: manifest.id, dir, dtypes: { ...dtypes }, randomWeights: manifest.randomWeights, manifest };
    firstProblem ||= check.problems.length > 3 ? `${check.problems.length} files missing` : check.problems.join("; ");
  }
  const reported = opts.dtypes !== undefined ? chooseDtypes(manifest, opts.dtypes) : manifest.defaultDtypes;
  throw new NotInstalled(manifest, reported, `${firstProblem} in ${dir}`);
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
    return { dir: resolved.dir, downloadedBytes: 0, skippedFiles: 0 };
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
      pending.set(file.path, { received: partialBytes, total: file.size ?? file.approxSize ?? 0 });
    }
    const free = await freeBytes(opts.modelsDir);
    if (free !== null && ctx.remainingBytes() > free) throw diskFullError(opts.modelsDir, ctx.remainingBytes(), free);

    const progress = progressTracker(pending, opts);
    let downloadedBytes = 0;
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
    return { dir, downloadedBytes, skippedFiles, ...(warnings.length > 0 ? { warnings } : {}) };
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

/** Re-hashes an installed model's files against the manifest (or the sha256 recorded when each was downloaded). */
export async function verifyModel(id: string, opts: RegistryOptions): Promise<VerifyResult> {
  const manifest = await findManifest(id, opts);
  const modelId = manifest?.id ?? id;
  if (isGenerated(manifest)) {
    const dir = opts.generators?.[modelId]?.dir ?? null;
    const files = manifest ? filesFor(manifest, manifest.defaultDtypes) : [];
    const results = files.map((f) => {
      const present = dir !== null && existsSync(path.join(dir, f.path));
      return present ? { path: f.path, ok: true, reason: "generated; presence only" } : { path: f.path, ok: false, reason: "missing" };
    });
    return { ok: results.every((r) => r.ok), files: results, repairCommand: null };
  }
  let dir: string;
  let dtypes: Record<Component, Dtype>;
  if (usesModelDir(modelId, opts)) {
    dir = opts.modelDir;
    dtypes = detectDtypes(dir);
  } else {
    if (manifest === null) await requireManifest(id, opts);
    dir = installDir(opts, modelId);
    dtypes = (await readPullRecord(dir))?.dtypes ?? (manifest as ModelManifest).defaultDtypes;
  }
  const files: ManifestFile[] =
    manifest !== null
      ? filesFor(manifest, dtypes)
      : COMPONENTS.map((c) => ({ path: `onnx/${c}${DTYPE_SUFFIX[dtypes[c]]}.onnx`, size: null, sha256: null }));

  const results: VerifyResult["files"] = [];
  for (const file of files) {
    const local = path.join(dir, file.path);
    const size = await sizeOf(local);
    if (size === null) {
      results.push(file.optional ? { path: file.path, ok: true, reason: "optional, absent" } : { path: file.path, ok: false, reason: "missing" });
      continue;
    }
    if (file.size !== null && size !== file.size) {
      results.push({ path: file.path, ok: false, reason: `${size} bytes instead of ${file.size}` });
      continue;
    }
    const sha256 = await sha256File(local);
    const recorded = file.sha256 === null ? await readStampSha(dir, file.path) : null;
    const expected = file.sha256 ?? recorded;
    if (expected === null) {
      results.push({ path: file.path, ok: true, reason: "no sha256 known; size only" });
      continue;
    }
    if (sha256 !== expected) {
      const source = file.sha256 !== null ? "the manifest's" : "the one recorded at download";
      results.push({ path: file.path, ok: false, reason: `sha256 ${sha256} differs from ${source} ${expected}` });
      continue;
    }
    if (!usesModelDir(modelId, opts)) {
      await writeStamp(dir, file.path, { sha256, checkedAgainst: file.sha256 !== null ? "manifest" : "hub-etag" });
    }
    results.push({ path: file.path, ok: true });
  }
  const repairCommand =
    manifest !== null && !usesModelDir(modelId, opts) ? `${installCommandFor(modelId)}${dtypeFlag(manifest, dtypes)}` : null;
  return { ok: results.every((r) => r.ok), files: results, repairCommand };
}

/** Deletes a pulled model's directory. Generated models and `modelDir` are never deleted. */
export async function removeModel(id: string, opts: RegistryOptions): Promise<{ removedBytes: number }> {
  const manifest = await findManifest(id, opts).catch(() => null);
  const modelId = manifest?.id ?? id;
  if (isGenerated(manifest)) {
    throw new ManifestError(`${modelId} is generated locally, not pulled; there is nothing to remove from ${opts.modelsDir}.`);
  }
  const dir = installDir(opts, modelId);
  if (!existsSync(dir)) return { removedBytes: 0 };
  if (manifest === null && !existsSync(path.join(dir, STATE_DIR))) {
    throw new ManifestError(`${dir} was not created by sav-mcp; remove it by hand if you mean to.`);
  }
  const removedBytes = await directoryBytes(dir);
  const lock = await acquirePullLock(dir);
  if (typeof lock !== "function") {
    throw new HubError("http", `A pull of ${modelId} (pid ${lock.heldBy}) is running.`, "Stop it first.");
  }
  await rm(dir, { recursive: true, force: true });
  return { removedBytes };
}

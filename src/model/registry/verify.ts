import { existsSync } from "node:fs";
import { rm } from "node:fs/promises";
import path from "node:path";
import { sha256File } from "./download.js";
import { HubError, installCommandFor } from "./errors.js";
import { COMPONENTS, DTYPE_SUFFIX, filesFor, ManifestError, type Component, type Dtype, type ManifestFile, type ModelManifest } from "./manifest.js";
import { detectDtypes, directoryBytes, dtypeFlag, sizeOf } from "./installed.js";
import { findManifest, installDir, isGenerated, requireManifest, usesModelDir } from "./lookup.js";
import { acquirePullLock, readPullRecord, readStampOrigin, readStampSha, STATE_DIR, writeStamp } from "./state.js";
import type { RegistryOptions, VerifyResult } from "./index.js";

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
      results.push({ path: file.path, ok: true, unverified: true, reason: "UNVERIFIED: no sha256 from the manifest or the hub; only its size was checked" });
      continue;
    }
    if (sha256 !== expected) {
      const source = file.sha256 !== null ? "the manifest's" : "the one recorded at download";
      results.push({ path: file.path, ok: false, reason: `sha256 ${sha256} differs from ${source} ${expected}` });
      continue;
    }
    const origin = file.sha256 !== null ? "manifest" : ((await readStampOrigin(dir, file.path)) ?? "hub-etag");
    if (origin === "none") {
      // Unchanged since download, but nothing ever vouched for the downloaded bytes.
      results.push({ path: file.path, ok: true, unverified: true, reason: "UNVERIFIED: unchanged since download, but no sha256 from the manifest or the hub to check it against" });
      continue;
    }
    if (!usesModelDir(modelId, opts)) await writeStamp(dir, file.path, { sha256, checkedAgainst: origin });
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

import { installCommandFor } from "./errors.js";
import { filesFor, totalBytes, type Component, type Dtype } from "./manifest.js";
import { checkInstalled, detectDtypes, directoryBytes, dtypeFlag } from "./installed.js";
import { allManifests, installDir, isGenerated, usesModelDir } from "./lookup.js";
import { readPullRecord } from "./state.js";
import type { ModelListing, RegistryOptions } from "./index.js";

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

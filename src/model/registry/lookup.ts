import path from "node:path";
import { readdir } from "node:fs/promises";
import { builtinManifests, loadManifest, looksLikeManifestPath, ManifestError, MODEL_ID_PATTERN, type ModelManifest } from "./manifest.js";
import { readStoredManifest } from "./state.js";
import type { RegistryOptions } from "./index.js";

export function isGenerated(manifest: ModelManifest | null): boolean {
  return manifest?.source === "generated";
}

export function usesModelDir<T extends RegistryOptions>(id: string, opts: T): opts is T & { modelDir: string } {
  return opts.modelDir !== undefined && id === opts.defaultModel;
}

export function installDir(opts: RegistryOptions, id: string): string {
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
export async function allManifests(opts: RegistryOptions): Promise<ModelManifest[]> {
  const byId = new Map<string, ModelManifest>();
  for (const m of [...(opts.extraManifests ?? []), ...(await builtinManifests()), ...(await storedManifests(opts.modelsDir))]) {
    if (!byId.has(m.id)) byId.set(m.id, m);
  }
  return [...byId.values()];
}

/** The manifest for an id or a manifest file path; null for an unknown id. */
export async function findManifest(idOrPath: string, opts: RegistryOptions): Promise<ModelManifest | null> {
  if (looksLikeManifestPath(idOrPath)) return loadManifest(idOrPath);
  const extra = opts.extraManifests?.find((m) => m.id === idOrPath);
  if (extra) return extra;
  const builtin = (await builtinManifests()).find((m) => m.id === idOrPath);
  if (builtin) return builtin;
  if (!MODEL_ID_PATTERN.test(idOrPath)) return null;
  return readStoredManifest(path.join(opts.modelsDir, idOrPath));
}

export async function requireManifest(idOrPath: string, opts: RegistryOptions): Promise<ModelManifest> {
  const manifest = await findManifest(idOrPath, opts);
  if (manifest !== null) return manifest;
  const known = (await allManifests(opts)).map((m) => m.id).join(", ");
  throw new ManifestError(`Unknown model "${idOrPath}". Known models: ${known}; or pass a manifest file (*.json).`);
}

import { chooseDtypes, ManifestError } from "./manifest.js";
import { checkInstalled, detectDtypes, NotInstalled, unverifiedInstalledFiles } from "./installed.js";
import { findManifest, installDir, isGenerated, requireManifest, usesModelDir } from "./lookup.js";
import { readPullRecord } from "./state.js";
import type { ModelGenerator, RegistryOptions, ResolvedModel } from "./index.js";

function generatorFor(opts: RegistryOptions, id: string): ModelGenerator {
  const generator = opts.generators?.[id];
  if (!generator) throw new ManifestError(`${id} is a generated model, but this program has no generator registered for it.`);
  return generator;
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
    // The operator's own directory: nothing was downloaded, so nothing is unverified by a download.
    return { id, dir: opts.modelDir, dtypes: detectDtypes(opts.modelDir, opts.dtypes), randomWeights: false, manifest, unverifiedFiles: [] };
  }
  const manifest = await requireManifest(id, opts);
  if (isGenerated(manifest)) {
    return {
      id: manifest.id,
      dir: await generatorFor(opts, manifest.id).ensure(),
      dtypes: chooseDtypes(manifest, opts.dtypes),
      randomWeights: true,
      manifest,
      unverifiedFiles: [],
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
    if (check.ok) {
      const unverifiedFiles = await unverifiedInstalledFiles(manifest, dir, dtypes);
      return { id: manifest.id, dir, dtypes: { ...dtypes }, randomWeights: manifest.randomWeights, manifest, unverifiedFiles };
    }
    firstProblem ||= check.problems.length > 3 ? `${check.problems.length} files missing` : check.problems.join("; ");
  }
  const reported = opts.dtypes !== undefined ? chooseDtypes(manifest, opts.dtypes) : manifest.defaultDtypes;
  throw new NotInstalled(manifest, reported, `${firstProblem} in ${dir}`);
}

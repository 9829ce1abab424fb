import { generatedModels } from "../generated-models.js";
import { TINY_MODEL_ID, type SavConfig } from "../config.js";
import { createExtractor, FairQueue, type RunnerOptions } from "../model/index.js";
import type { HeadVectorExtractor } from "../model/types.js";
import { listModels, ManifestError, ModelNotInstalledError, pullModel, resolveModel, type PullResult, type RegistryOptions } from "../model/registry/index.js";
import { isCancellation, ToolError } from "./errors.js";
import { ExtractorPool, type ExtractorRequestOptions, type ModelProvider } from "./models.js";
import type { ModelListingView } from "./schemas.js";

export const TINY_MODEL_NOTE =
  `'${TINY_MODEL_ID}' is generated locally with random weights: it runs offline and exercises the whole pipeline, but its labels are not meaningful.`;

export interface RegistryModelProviderOptions {
  config: SavConfig;
  /** Passed to every extractor (threads, caches). */
  runner?: RunnerOptions;
  /** Registry overrides (tests: a local hub endpoint, fetch). */
  registry?: Partial<RegistryOptions>;
}

function brokenModelRemedy(modelId: string): string {
  return (
    `Check the files with 'sav-mcp models verify ${modelId}' and reinstall them with 'sav-mcp models rm ${modelId}' then 'sav-mcp models pull ${modelId}' ` +
    `(or fix the directory given by SAV_MODEL_DIR); other models keep working (list_models).`
  );
}

/** The warning about installed files nothing vouched for, at download and whenever a task is created on them. */
export function unverifiedWarning(modelId: string, files: string[], justDownloaded = false): string {
  return (
    `${files.length} file(s) of ${justDownloaded ? "the automatically downloaded model" : "model"} ${modelId} are UNVERIFIED: neither the manifest nor the hub gave a sha256 ` +
    `to check them against (${files.join(", ")}). 'sav-mcp models verify ${modelId}' reports them as unverified; ` +
    `use a manifest with sha256 values, or 'sav-mcp models rm ${modelId}' if you do not trust the source.`
  );
}

/** What the operator must hear about an automatic download: unverified files and missing extras. */
export function pullWarnings(modelId: string, pulled: PullResult): string[] {
  const warnings: string[] = [];
  if (pulled.unverifiedFiles.length > 0) warnings.push(unverifiedWarning(modelId, pulled.unverifiedFiles, true));
  for (const warning of pulled.warnings ?? []) warnings.push(`model ${modelId}: ${warning}`);
  return warnings;
}

/** Models from the registry: resolved (and pulled when SAV_AUTO_PULL is set), loaded once per id and shared. */
export function createModelProvider(options: RegistryModelProviderOptions): ModelProvider {
  const { config } = options;
  const registry: RegistryOptions = {
    modelsDir: config.modelsDir,
    modelDir: config.modelDir,
    defaultModel: config.defaultModel,
    generators: generatedModels(config.modelsDir),
    ...options.registry,
  };

  async function resolve(modelId: string, request: ExtractorRequestOptions) {
    try {
      return await resolveModel(modelId, registry);
    } catch (error) {
      if (error instanceof ModelNotInstalledError && config.autoPull) {
        request.onProgress?.(`downloading model ${modelId}`, 0);
        const pulled = await pullModel(modelId, {
          ...registry,
          onProgress: (p) =>
            request.onProgress?.(
              `downloading model ${modelId}: ${Math.round(p.overallReceived / 1e6)} of ${Math.round(p.overallTotal / 1e6)} MB`,
              p.overallTotal > 0 ? p.overallReceived / p.overallTotal : undefined,
            ),
        });
        for (const warning of pullWarnings(modelId, pulled)) {
          // The server log (stderr) keeps it for the operator; the call's log shows it to the client.
          process.stderr.write(`sav-mcp: warning: ${warning}\n`);
          request.onWarning?.(warning);
        }
        return resolveModel(modelId, registry);
      }
      if (error instanceof ModelNotInstalledError) {
        throw new ToolError(`${error.message} (in a terminal), then retry; or pick an installed model from list_models (e.g. '${TINY_MODEL_ID}' for a random-weight test model).`);
      }
      if (error instanceof ManifestError) {
        const known = (await listModels(registry)).map((m) => m.id);
        // A known model whose files are broken is not "unknown": pass on what is wrong with it.
        if (known.includes(modelId)) throw new ToolError(`${error.message} ${brokenModelRemedy(modelId)}`);
        throw new ToolError(`Unknown model '${modelId}'. Known models: ${known.join(", ")}. list_models shows which are installed.`);
      }
      throw error;
    }
  }

  // Per model id, from its last load: the pool loads a model once, but each task created on it repeats these.
  const unverified = new Map<string, string[]>();
  // One inference queue for every model: sessions take turns whichever models they use.
  const queue = new FairQueue();
  const pool = new ExtractorPool(async (modelId, request): Promise<HeadVectorExtractor> => {
    const resolved = await resolve(modelId, request);
    if (resolved.unverifiedFiles.length > 0) unverified.set(modelId, resolved.unverifiedFiles);
    else unverified.delete(modelId);
    request.onProgress?.(`loading model ${modelId}`);
    try {
      return await createExtractor(
        { id: resolved.id, dir: resolved.dir, dtypes: resolved.dtypes, randomWeights: resolved.randomWeights },
        { maxImagePixels: config.limits.maxImagePixels, queue, ...options.runner },
      );
    } catch (error) {
      if (isCancellation(error)) throw error;
      // Truncated graphs, absurd configs, missing files: the model directory is at fault, not the call.
      const problem = error instanceof Error ? error.message.replace(/\.+$/, "") : String(error);
      throw new ToolError(`Model '${modelId}' in ${resolved.dir} cannot be loaded: ${problem}. ${brokenModelRemedy(modelId)}`);
    }
  });

  return {
    defaultModel: config.defaultModel,
    extractor: (modelId, request) => pool.get(modelId, request),
    modelWarnings: (modelId) => {
      const files = unverified.get(modelId);
      return files ? [unverifiedWarning(modelId, files)] : [];
    },
    async listModels(): Promise<ModelListingView[]> {
      return (await listModels(registry)).map((m) => ({
        id: m.id,
        title: m.title,
        installed: m.installed,
        isDefault: m.isDefault,
        randomWeights: m.randomWeights,
        downloadBytes: m.downloadBytes > 0 ? m.downloadBytes : null,
        installCommand: m.installed ? null : m.installCommand,
        ...(m.randomWeights ? { note: TINY_MODEL_NOTE } : {}),
      }));
    },
    close: () => pool.close(),
  };
}

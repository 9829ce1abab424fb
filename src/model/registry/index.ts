import type { ModelManifest } from "./manifest.js";

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
export { detectDtypes } from "./installed.js";
export { listModels } from "./listing.js";
export { resolveModel } from "./resolve.js";
export { pullModel } from "./pull.js";
export { removeModel, verifyModel } from "./verify.js";

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
  /** Installed files with no sha256 from the manifest or the hub to check them against (`models verify` says UNVERIFIED). */
  unverifiedFiles: string[];
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
  /** Files installed with no sha256 from the manifest or the hub to check them against (marked unverified). */
  unverifiedFiles: string[];
  /** Optional extras that could not be had (e.g. a tensor from model.safetensors); the model works without them. */
  warnings?: string[];
}

export interface VerifyResult {
  ok: boolean;
  files: { path: string; ok: boolean; reason?: string; unverified?: boolean }[];
  /** The pull command that re-fetches this dtype set (bad files only), or null when the model is not pulled. */
  repairCommand: string | null;
}

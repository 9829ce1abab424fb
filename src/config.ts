import path from "node:path";
import os from "node:os";
import envPaths from "env-paths";

/** `~` and `~/x` mean the user's home directory, as in a shell. */
export function expandHome(dir: string): string {
  if (dir === "~") return os.homedir();
  if (dir.startsWith("~/") || dir.startsWith(`~${path.sep}`)) return path.join(os.homedir(), dir.slice(2));
  return dir;
}

/** Limits that protect the server from oversized or hostile input. */
export interface SavLimits {
  /** Largest encoded image accepted, in bytes. */
  maxImageBytes: number;
  /** Largest decoded image accepted, in pixels (sharp's limitInputPixels). */
  maxImagePixels: number;
  /** Most images in one classify_image call. */
  maxBatchImages: number;
  /** Most examples in one add_examples call. */
  maxExamplesPerCall: number;
  /** Most images in one example or prompt. */
  maxImagesPerPrompt: number;
  /** Most decoded pixels (width × height, summed over its images) in one add_examples or classify_image call. */
  maxPixelsPerCall: number;
  /** Most decoded pixels summed over the images of one example (or one classify_image query). */
  maxPixelsPerExample: number;
  /** Time allowed for fetching one image URL. */
  urlTimeoutMs: number;
  /** Largest MCP message read over stdio; larger requests are answered with an error. */
  maxMessageBytes: number;
}

export interface SavConfig {
  /** Where tasks and example features live (SQLite). */
  dataDir: string;
  /** Where pulled models live, one directory per model id. */
  modelsDir: string;
  /** Model id used when a task names none. */
  defaultModel: string;
  /** A model directory in the published SmolVLM layout, used as is for the default model. */
  modelDir?: string;
  /**
   * Image paths and task files must resolve inside one of these directories (or the client's roots).
   * Empty by default: with neither these nor roots, no local file is read or written.
   */
  allowedDirs: string[];
  /** Allow image URLs on loopback, private and link-local addresses. */
  allowPrivateUrls: boolean;
  /** Download a missing model inside a tool call instead of failing with the install command. */
  autoPull: boolean;
  limits: SavLimits;
}

export const DEFAULT_MODEL_ID = "smolvlm-256m-instruct";
export const TINY_MODEL_ID = "tiny-smolvlm";

export const DEFAULT_LIMITS: SavLimits = {
  maxImageBytes: 20 * 1024 * 1024,
  maxImagePixels: 64 * 1024 * 1024,
  maxBatchImages: 32,
  maxExamplesPerCall: 256,
  maxImagesPerPrompt: 8,
  // 16 images at the per-image limit; about 85 twelve-megapixel photos.
  maxPixelsPerCall: 1024 * 1024 * 1024,
  // 4 images at the per-image limit.
  maxPixelsPerExample: 256 * 1024 * 1024,
  urlTimeoutMs: 15_000,
  // Two images at the byte limit sent as base64 (4/3 of their size) plus the JSON around them.
  maxMessageBytes: 2 * Math.ceil((20 * 1024 * 1024) / 3) * 4 + 1024 * 1024,
};

function paths() {
  return envPaths("sav-mcp", { suffix: "" });
}

export function defaultDataDir(): string {
  return paths().data;
}

export function defaultModelsDir(): string {
  return path.join(paths().cache, "models");
}

function truthy(value: string | undefined): boolean {
  return value !== undefined && /^(1|true|yes|on)$/i.test(value.trim());
}

function splitDirs(value: string | undefined): string[] | undefined {
  if (value === undefined || value.trim() === "") return undefined;
  return value
    .split(path.delimiter)
    .map((dir) => dir.trim())
    .filter((dir) => dir !== "")
    .map((dir) => path.resolve(expandHome(dir)));
}

/** Configuration from the environment, with explicit overrides (CLI flags) taking precedence. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, overrides: Partial<SavConfig> = {}): SavConfig {
  const fromEnv: SavConfig = {
    dataDir: path.resolve(env.SAV_DATA_DIR ?? defaultDataDir()),
    modelsDir: path.resolve(env.SAV_MODELS_DIR ?? defaultModelsDir()),
    defaultModel: env.SAV_MODEL?.trim() || DEFAULT_MODEL_ID,
    modelDir: env.SAV_MODEL_DIR ? path.resolve(env.SAV_MODEL_DIR) : undefined,
    allowedDirs: splitDirs(env.SAV_ALLOWED_DIRS) ?? [],
    allowPrivateUrls: truthy(env.SAV_ALLOW_PRIVATE_URLS),
    autoPull: truthy(env.SAV_AUTO_PULL),
    limits: { ...DEFAULT_LIMITS },
  };
  const defined = Object.fromEntries(Object.entries(overrides).filter(([, v]) => v !== undefined));
  return { ...fromEnv, ...defined, limits: { ...fromEnv.limits, ...(overrides.limits ?? {}) } };
}

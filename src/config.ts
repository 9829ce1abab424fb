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

/** The largest stdio message for a given image-byte limit: two images sent as base64 (4/3 of their size) plus the JSON around them. */
export function messageBytesFor(maxImageBytes: number): number {
  return 2 * Math.ceil(maxImageBytes / 3) * 4 + 1024 * 1024;
}

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
  maxMessageBytes: messageBytesFor(20 * 1024 * 1024),
};

export const LIMIT_NAMES = Object.keys(DEFAULT_LIMITS) as (keyof SavLimits)[];

/** A limit setting that cannot be used; the message names the valid names and values. */
export class LimitSettingError extends Error {}

/**
 * Limit overrides written `name=value` (SAV_LIMITS takes them comma-separated, --limit one per flag), e.g.
 * `maxImagePixels=134217728`. Values are whole numbers of at least 1, `_` allowed as a digit separator.
 */
export function parseLimitSettings(settings: readonly string[], source: string): Partial<SavLimits> {
  const parsed: Partial<SavLimits> = {};
  for (const setting of settings.map((s) => s.trim()).filter((s) => s !== "")) {
    const match = /^([A-Za-z]+)\s*=\s*([0-9][0-9_]*)$/.exec(setting);
    const name = match?.[1] as keyof SavLimits | undefined;
    if (!match || !name || !LIMIT_NAMES.includes(name)) {
      const shown = setting.length > 60 ? `${setting.slice(0, 60)}…` : setting;
      throw new LimitSettingError(
        `${source}: "${shown}" is not a limit setting. Write name=value with a whole number; names: ${LIMIT_NAMES.join(", ")}.`,
      );
    }
    const value = Number(match[2]!.replace(/_/g, ""));
    if (!Number.isSafeInteger(value) || value < 1) {
      throw new LimitSettingError(`${source}: ${name} must be a whole number from 1 to ${Number.MAX_SAFE_INTEGER} (got ${match[2]}).`);
    }
    parsed[name] = value;
  }
  return parsed;
}

/** Defaults, then SAV_LIMITS, then flags; a raised image-byte limit raises the stdio message limit with it unless that is set too. */
function resolveLimits(env: NodeJS.ProcessEnv, overrides: Partial<SavLimits> | undefined): SavLimits {
  const explicit = { ...parseLimitSettings((env.SAV_LIMITS ?? "").split(","), "SAV_LIMITS"), ...(overrides ?? {}) };
  const limits = { ...DEFAULT_LIMITS, ...explicit };
  if (explicit.maxMessageBytes === undefined) limits.maxMessageBytes = Math.max(DEFAULT_LIMITS.maxMessageBytes, messageBytesFor(limits.maxImageBytes));
  return limits;
}

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
export type ConfigOverrides = Partial<Omit<SavConfig, "limits">> & { limits?: Partial<SavLimits> };

export function loadConfig(env: NodeJS.ProcessEnv = process.env, overrides: ConfigOverrides = {}): SavConfig {
  const fromEnv: SavConfig = {
    dataDir: path.resolve(env.SAV_DATA_DIR ?? defaultDataDir()),
    modelsDir: path.resolve(env.SAV_MODELS_DIR ?? defaultModelsDir()),
    defaultModel: env.SAV_MODEL?.trim() || DEFAULT_MODEL_ID,
    modelDir: env.SAV_MODEL_DIR ? path.resolve(env.SAV_MODEL_DIR) : undefined,
    allowedDirs: splitDirs(env.SAV_ALLOWED_DIRS) ?? [],
    allowPrivateUrls: truthy(env.SAV_ALLOW_PRIVATE_URLS),
    autoPull: truthy(env.SAV_AUTO_PULL),
    limits: resolveLimits(env, overrides.limits),
  };
  const defined = Object.fromEntries(Object.entries(overrides).filter(([, v]) => v !== undefined));
  return { ...fromEnv, ...defined, limits: fromEnv.limits };
}

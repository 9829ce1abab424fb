export type HubErrorKind = "offline" | "unauthorized" | "not-found" | "timeout" | "disk-full" | "checksum" | "http";

/** A download failure as one sentence that ends with what the user can do about it. */
export class HubError extends Error {
  override name = "HubError";
  readonly kind: HubErrorKind;
  readonly remedy: string;
  /** Transient failures (cut connections, 5xx, timeouts) are retried; the others are not. */
  readonly retryable: boolean;

  constructor(kind: HubErrorKind, problem: string, remedy: string, options: { retryable?: boolean; cause?: unknown } = {}) {
    super(redactCredentials(remedy === "" ? problem : `${problem} ${remedy}`), { cause: options.cause });
    this.kind = kind;
    this.remedy = redactCredentials(remedy);
    this.retryable = options.retryable ?? false;
  }
}

/** A user name or password in a URL (e.g. in HF_ENDPOINT) never reaches a message or a log. */
export function redactCredentials(text: string): string {
  return text.replace(/\b([a-z][a-z0-9+.-]*:\/\/)[^\s/@]+@/gi, "$1***@");
}

export function installCommandFor(id: string): string {
  return `npx sav-mcp models pull ${id}`;
}

/** Thrown when a model is known but its files are not on disk; the message names the command that installs it. */
export class ModelNotInstalledError extends Error {
  override name = "ModelNotInstalledError";
  readonly modelId: string;
  readonly installCommand: string;

  constructor(modelId: string, detail = "") {
    const installCommand = installCommandFor(modelId);
    super(`Model ${modelId} is not installed${detail === "" ? "" : ` (${detail})`}. Install it with: ${installCommand}`);
    this.modelId = modelId;
    this.installCommand = installCommand;
  }
}

const OFFLINE_CODES = new Set([
  "ENOTFOUND",
  "EAI_AGAIN",
  "ECONNREFUSED",
  "ENETUNREACH",
  "EHOSTUNREACH",
  "ENETDOWN",
  "EHOSTDOWN",
  "EPROTO",
  "CERT_HAS_EXPIRED",
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "DEPTH_ZERO_SELF_SIGNED_CERT",
]);
const CONNECT_TIMEOUT_CODES = new Set(["UND_ERR_CONNECT_TIMEOUT", "ETIMEDOUT"]);

/** The innermost `code` of an error chain: undici wraps socket errors as `TypeError: fetch failed` with a cause. */
export function errorCode(err: unknown): string | undefined {
  let current: unknown = err;
  let code: string | undefined;
  for (let depth = 0; depth < 5 && current instanceof Object; depth++) {
    const candidate = (current as { code?: unknown }).code;
    if (typeof candidate === "string") code = candidate;
    current = (current as { cause?: unknown }).cause;
  }
  return code;
}

/** undici's own message is just "fetch failed"; the cause says what happened ("bad port", "other side closed"). */
function innermostMessage(err: unknown): string {
  let message = err instanceof Error ? err.message : String(err);
  let current: unknown = err;
  for (let depth = 0; depth < 5 && current instanceof Error; depth++) {
    if (current.message) message = current.message;
    current = current.cause;
  }
  return message;
}

export function offlineError(endpoint: string, code: string, cause?: unknown): HubError {
  return new HubError(
    "offline",
    `Cannot reach ${endpoint} (${code}).`,
    "Check your connection or set HF_ENDPOINT to a mirror.",
    { cause },
  );
}

export function timeoutError(endpoint: string, file: string, timeoutMs: number, cause?: unknown): HubError {
  return new HubError(
    "timeout",
    `${endpoint} sent nothing for ${Math.round(timeoutMs / 1000)} s while downloading ${file}.`,
    "Check your connection and run the pull again; it resumes where it stopped.",
    { retryable: true, cause },
  );
}

export function diskFullError(modelsDir: string, neededBytes: number, freeBytes: number | null, cause?: unknown): HubError {
  const free = freeBytes === null ? "" : ` (${formatBytes(freeBytes)} free)`;
  return new HubError(
    "disk-full",
    `Not enough disk space in ${modelsDir}${free}: the download needs ${formatBytes(neededBytes)} more.`,
    "Free some space or set SAV_MODELS_DIR to a larger disk.",
    { cause },
  );
}

/** Classifies a thrown network/file-system error; unknown errors become a retryable `http` error. */
export function networkError(err: unknown, endpoint: string, file: string): HubError {
  if (err instanceof HubError) return err;
  const code = errorCode(err);
  if (code !== undefined && OFFLINE_CODES.has(code)) return offlineError(endpoint, code, err);
  if (code !== undefined && CONNECT_TIMEOUT_CODES.has(code)) {
    return new HubError(
      "timeout",
      `Connecting to ${endpoint} timed out (${code}).`,
      "Check your connection or set HF_ENDPOINT to a mirror.",
      { retryable: true, cause: err },
    );
  }
  const detail = code ?? innermostMessage(err);
  return new HubError(
    "http",
    `The connection to ${endpoint} failed while downloading ${file} (${detail}).`,
    "Run the pull again; it resumes where it stopped.",
    { retryable: true, cause: err },
  );
}

/** An HTTP error status as a sentence with the remedy that fits it. */
export function statusError(
  status: number,
  context: { endpoint: string; repo: string; revision: string; file: string; tokenSet: boolean },
): HubError {
  const { endpoint, repo, revision, file, tokenSet } = context;
  if (status === 401 || status === 403) {
    const problem = `${endpoint} refused access to ${repo} (HTTP ${status}).`;
    const remedy = tokenSet
      ? `HF_TOKEN is set but was rejected or lacks access: check the token and accept the licence on ${endpoint}/${repo}.`
      : `If the model is gated or private, set HF_TOKEN to a Hugging Face access token and accept the licence on ${endpoint}/${repo}.`;
    return new HubError("unauthorized", problem, remedy);
  }
  if (status === 404) {
    return new HubError(
      "not-found",
      `${file} was not found in ${repo} at revision ${revision} (HTTP 404).`,
      "The revision or file name in the manifest is wrong, or HF_ENDPOINT does not mirror this repository.",
    );
  }
  const retryable = status === 408 || status === 429 || status >= 500;
  return new HubError(
    "http",
    `${endpoint} answered HTTP ${status} for ${repo}/${file}.`,
    retryable ? "The hub may be busy: try again later." : "Check HF_ENDPOINT and the manifest.",
    { retryable },
  );
}

export function formatBytes(bytes: number): string {
  const units = ["B", "kB", "MB", "GB", "TB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit++;
  }
  return `${unit === 0 ? value : value.toFixed(value >= 100 ? 0 : 1)} ${units[unit]}`;
}

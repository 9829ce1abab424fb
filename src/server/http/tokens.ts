import { createHash, timingSafeEqual } from "node:crypto";
import fs from "node:fs";

/** Tenant names: safe in logs, file names and SQL values; the same rule everywhere they are read. */
export const TENANT_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
/** Shorter secrets are guessable over the network. */
export const MIN_TOKEN_LENGTH = 16;
const SHA256_HEX = /^[0-9a-f]{64}$/;

export class TokenConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "TokenConfigError";
  }
}

/** A tenant and the sha256 of its bearer token; tokens themselves are not kept. */
export interface TokenEntry {
  tenant: string;
  sha256: Buffer;
}

export function sha256(text: string): Buffer {
  return createHash("sha256").update(text, "utf8").digest();
}

function checkTenant(tenant: string, where: string): void {
  if (!TENANT_NAME_PATTERN.test(tenant)) {
    throw new TokenConfigError(
      `${where}: tenant '${tenant}' is not a valid name (1-64 letters, digits, '.', '_' or '-', starting with a letter or digit).`,
    );
  }
}

/** `SAV_AUTH_TOKENS="tenant:token,tenant2:token2"`. */
export function parseTokenList(text: string): TokenEntry[] {
  return text
    .split(",")
    .map((item) => item.trim())
    .filter((item) => item !== "")
    .map((item, index) => {
      const colon = item.indexOf(":");
      const where = `SAV_AUTH_TOKENS entry ${index + 1}`;
      if (colon <= 0) throw new TokenConfigError(`${where} must be 'tenant:token'.`);
      const tenant = item.slice(0, colon);
      const token = item.slice(colon + 1);
      checkTenant(tenant, where);
      if (token.length < MIN_TOKEN_LENGTH) {
        throw new TokenConfigError(`${where} (tenant '${tenant}'): the token must have at least ${MIN_TOKEN_LENGTH} characters.`);
      }
      return { tenant, sha256: sha256(token) };
    });
}

/**
 * `SAV_AUTH_TOKENS_FILE`: one `tenant:sha256:HEX` line per token, where HEX is the lowercase hex sha256 of
 * the token's UTF-8 bytes (`printf %s "$TOKEN" | sha256sum`). Blank lines and lines starting with '#' are
 * ignored. The file holds no secret, only digests.
 */
export function parseTokenFile(text: string, file: string): TokenEntry[] {
  const entries: TokenEntry[] = [];
  text.split(/\r?\n/).forEach((raw, index) => {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) return;
    const where = `${file} line ${index + 1}`;
    const parts = line.split(":");
    if (parts.length !== 3 || parts[1] !== "sha256") {
      throw new TokenConfigError(`${where} must be 'tenant:sha256:HEX' (HEX = printf %s "$TOKEN" | sha256sum).`);
    }
    const [tenant, , hex] = parts as [string, string, string];
    checkTenant(tenant, where);
    if (!SHA256_HEX.test(hex)) throw new TokenConfigError(`${where}: '${hex.slice(0, 80)}' is not 64 lowercase hex digits.`);
    entries.push({ tenant, sha256: Buffer.from(hex, "hex") });
  });
  return entries;
}

/** Tokens from SAV_AUTH_TOKENS and SAV_AUTH_TOKENS_FILE (both may be set). */
export function loadTokens(env: NodeJS.ProcessEnv): TokenEntry[] {
  const entries: TokenEntry[] = [];
  if (env.SAV_AUTH_TOKENS?.trim()) entries.push(...parseTokenList(env.SAV_AUTH_TOKENS));
  const file = env.SAV_AUTH_TOKENS_FILE?.trim();
  if (file) {
    let text: string;
    try {
      text = fs.readFileSync(file, "utf8");
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code ?? "unreadable";
      throw new TokenConfigError(`SAV_AUTH_TOKENS_FILE '${file}' cannot be read (${code}).`);
    }
    entries.push(...parseTokenFile(text, file));
  }
  const seen = new Set<string>();
  for (const entry of entries) {
    const hex = entry.sha256.toString("hex");
    if (seen.has(hex)) throw new TokenConfigError(`The same token is configured twice (tenant '${entry.tenant}'): give each tenant its own.`);
    seen.add(hex);
  }
  return entries;
}

/**
 * The tenant a presented token belongs to. Every entry is compared (fixed-length digests with
 * timingSafeEqual, no early exit), so the time taken says nothing about which tokens exist.
 */
export function tenantForToken(entries: readonly TokenEntry[], token: string): string | undefined {
  const presented = sha256(token);
  let found: string | undefined;
  for (const entry of entries) {
    if (timingSafeEqual(entry.sha256, presented) && found === undefined) found = entry.tenant;
  }
  return found;
}

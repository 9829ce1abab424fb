import path from "node:path";
import { TENANT_NAME_PATTERN, TokenConfigError } from "./tokens.js";

/**
 * `SAV_TENANT_DIRS="alpha=/srv/a${path.delimiter}/srv/shared,beta=/srv/b"`: the directories each tenant's
 * image paths and export/import files must lie in.
 */
export function parseTenantDirs(text: string | undefined): Map<string, string[]> {
  const dirs = new Map<string, string[]>();
  if (!text?.trim()) return dirs;
  for (const item of text.split(",").map((s) => s.trim()).filter(Boolean)) {
    const equals = item.indexOf("=");
    const tenant = item.slice(0, equals);
    if (equals <= 0 || !TENANT_NAME_PATTERN.test(tenant)) {
      throw new TokenConfigError(`SAV_TENANT_DIRS entry '${item.slice(0, 100)}' must be 'tenant=DIR${path.delimiter}DIR...'.`);
    }
    const list = item
      .slice(equals + 1)
      .split(path.delimiter)
      .map((d) => d.trim())
      .filter(Boolean)
      .map((d) => path.resolve(d));
    dirs.set(tenant, [...(dirs.get(tenant) ?? []), ...list]);
  }
  return dirs;
}

/**
 * A tenant's allowed directories: its SAV_TENANT_DIRS entry, else its own subdirectory of each
 * allowed directory (so one tenant's exported files are never in another's reach by default).
 * Without a tenant (loopback, no auth) the allowed directories as configured.
 */
export function tenantAllowedDirs(allowedDirs: readonly string[], tenant: string | undefined, configured: Map<string, string[]>): string[] {
  if (tenant === undefined) return [...allowedDirs];
  return configured.get(tenant) ?? allowedDirs.map((dir) => path.join(dir, tenant));
}

/** Where the HTTP server listens: `PORT`, `HOST:PORT` or `[IPv6]:PORT`. */
export interface ListenAddress {
  host: string;
  port: number;
}

export const DEFAULT_HTTP_HOST = "127.0.0.1";
export const MCP_PATH = "/mcp";

export class ListenAddressError extends Error {
  constructor(text: string, reason: string) {
    super(`Invalid --http address '${text}': ${reason}. Use PORT, HOST:PORT or [IPv6]:PORT, e.g. 3333 or 127.0.0.1:3333.`);
    this.name = "ListenAddressError";
  }
}

function parsePort(text: string, whole: string): number {
  if (!/^\d{1,5}$/.test(text)) throw new ListenAddressError(whole, `'${text}' is not a port number`);
  const port = Number(text);
  // 0 asks the system for a free port (tests, and the printed URL says which one).
  if (port > 65_535) throw new ListenAddressError(whole, "a port is at most 65535");
  return port;
}

export function parseListenAddress(text: string): ListenAddress {
  const trimmed = text.trim();
  const bracketed = /^\[([0-9A-Fa-f:.]+)\]:(.+)$/.exec(trimmed);
  if (bracketed) return { host: bracketed[1]!, port: parsePort(bracketed[2]!, trimmed) };
  const colon = trimmed.lastIndexOf(":");
  if (colon === -1) return { host: DEFAULT_HTTP_HOST, port: parsePort(trimmed, trimmed) };
  const host = trimmed.slice(0, colon);
  if (host === "" || host.includes(":")) throw new ListenAddressError(trimmed, "write an IPv6 host in brackets");
  return { host, port: parsePort(trimmed.slice(colon + 1), trimmed) };
}

/** Addresses only this machine can reach: the ones that may run without auth. */
export function isLoopbackHost(host: string): boolean {
  const bare = host.replace(/^\[|\]$/g, "").toLowerCase();
  return bare === "localhost" || bare === "::1" || /^127(\.\d{1,3}){3}$/.test(bare);
}

/** The host as written in a URL or Host header (IPv6 in brackets). */
export function urlHost(host: string): string {
  return host.includes(":") && !host.startsWith("[") ? `[${host}]` : host;
}

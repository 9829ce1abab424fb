/**
 * Loads the bytes of one image given by an agent as a local path, an http(s) URL, or base64 / a data URI,
 * with the limits that keep a tool call from reading secrets, reaching internal services or exhausting memory.
 * Decoding the bytes into pixels (format and pixel limits) is the image decoder's job, not this module's.
 */
import { createHash } from "node:crypto";
import dns from "node:dns";
import { constants as fsConstants } from "node:fs";
import fs from "node:fs/promises";
import http from "node:http";
import https from "node:https";
import net from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { z } from "zod";
import { classifyAddress, describeAddressKind } from "./address-policy.js";

export type ImageSource = { path: string } | { url: string } | { data: string };

const SOURCE_FIELDS = ["path", "url", "data"] as const;

const imageSourceObject = z
  .strictObject(
    {
      path: z
        .string()
        .min(1, 'An image "path" cannot be empty.')
        .optional()
        .describe(
          "Local image file, absolute or relative to the server's working directory. It must lie inside the server's allowed image directories (SAV_ALLOWED_DIRS).",
        ),
      url: z
        .string()
        .min(1, 'An image "url" cannot be empty.')
        .optional()
        .describe(
          "http:// or https:// URL of the image. Loopback, private and link-local hosts are refused unless the server allows them; up to 3 redirects are followed.",
        ),
      data: z
        .string()
        .min(1, 'An image "data" cannot be empty.')
        .optional()
        .describe(
          "The image file's bytes as base64 (standard or URL-safe alphabet, whitespace ignored) or as a data URI such as data:image/png;base64,iVBORw0KGgo...",
        ),
    },
    {
      error: (issue) =>
        issue.code === "unrecognized_keys"
          ? `Unknown field(s) ${issue.keys.map((key) => `"${key}"`).join(", ")} in an image source; use exactly one of "path", "url" or "data".`
          : undefined,
    },
  )
  .superRefine((value, ctx) => {
    const given = SOURCE_FIELDS.filter((field) => value[field] !== undefined);
    if (given.length === 0) {
      ctx.addIssue({
        code: "custom",
        message:
          'An image source needs exactly one of "path" (local file), "url" (http/https) or "data" (base64 or data URI); none was given. Example: {"path": "images/cat.jpg"}.',
      });
    } else if (given.length > 1) {
      ctx.addIssue({
        code: "custom",
        message: `An image source needs exactly one of "path", "url" or "data", but got ${given.map((field) => `"${field}"`).join(" and ")}. Keep one; to send several images use a list.`,
      });
    }
  })
  .describe('One image: an object with exactly one of "path", "url" or "data".');

/**
 * Zod schema for one image source: a plain JSON object (MCP clients need that, not a union) with exactly
 * one of path / url / data. The refinement guarantees the output is one of the ImageSource variants,
 * which zod's object type cannot express, hence the cast.
 */
export const imageSourceSchema: z.ZodType<ImageSource> = imageSourceObject as unknown as z.ZodType<ImageSource>;

/** One address a host name resolves to. */
export interface ResolvedAddress {
  address: string;
  family: 4 | 6;
}

/** Resolves a host name to every address it has (tests inject one; the default is dns.lookup with all: true). */
export type HostLookup = (hostname: string) => Promise<ResolvedAddress[]>;

export interface ImageSourceContext {
  /** Local paths must resolve (after following symbolic links) inside one of these directories. */
  allowedDirs: string[];
  /** Allow URLs whose host is loopback, private, link-local, CGNAT, multicast or reserved. */
  allowPrivateUrls: boolean;
  maxImageBytes: number;
  /** Time for a whole URL download, redirects included. */
  urlTimeoutMs: number;
  /** Cancels the load; the abort reason is rethrown as is (it is not an ImageSourceError). */
  signal?: AbortSignal;
  /**
   * Replaces the built-in HTTP client. Every hop is still vetted and redirects are still followed by hand,
   * but the connection is no longer pinned to the vetted address, so a custom fetch must not be used
   * against untrusted DNS unless it pins addresses itself.
   */
  fetchImpl?: typeof fetch;
  /** Replaces DNS resolution of URL host names. */
  lookup?: HostLookup;
}

export type ImageSourceErrorCode =
  | "path-not-allowed"
  | "not-found"
  | "not-a-file"
  | "too-large"
  | "empty"
  | "bad-base64"
  | "bad-url"
  | "url-scheme"
  | "private-address"
  | "http-error"
  | "timeout"
  | "redirect-refused";

/** An image that cannot be loaded. `message` says what is wrong and how to recover; `hint` is the recovery part alone. */
export class ImageSourceError extends Error {
  override readonly name = "ImageSourceError";
  readonly code: ImageSourceErrorCode;
  readonly hint: string;

  constructor(code: ImageSourceErrorCode, problem: string, hint: string) {
    super(`${problem} ${hint}`);
    this.code = code;
    this.hint = hint;
  }
}

export interface LoadedImage {
  bytes: Uint8Array;
  /** Short human description for messages: the path, the URL without query, or "base64 (N bytes)". */
  origin: string;
  /** Hex SHA-256 of the bytes; the store uses it as the image's content hash. */
  sha256: string;
}

/** Redirects followed per URL; each target is vetted like the first URL. */
export const MAX_URL_REDIRECTS = 3;

export async function readImageSource(source: ImageSource, ctx: ImageSourceContext): Promise<LoadedImage> {
  throwIfCancelled(ctx.signal);
  const fields = source as { path?: unknown; url?: unknown; data?: unknown };
  const given = SOURCE_FIELDS.filter((field) => fields[field] !== undefined);
  if (given.length !== 1 || typeof fields[given[0]!] !== "string") {
    throw new ImageSourceError(
      "empty",
      given.length === 0
        ? "The image source has none of path, url or data."
        : `The image source must have exactly one string field among path, url and data (got ${given.join(", ")}).`,
      'Give one image as {"path": "..."}, {"url": "https://..."} or {"data": "data:image/png;base64,..."}.',
    );
  }
  let loaded: { bytes: Uint8Array; origin: string };
  if (typeof fields.path === "string") loaded = await readPathSource(fields.path, ctx);
  else if (typeof fields.url === "string") loaded = await readUrlSource(fields.url, ctx);
  else loaded = decodeDataSource(fields.data as string, ctx.maxImageBytes);
  return { ...loaded, sha256: createHash("sha256").update(loaded.bytes).digest("hex") };
}

/** A short description of a source for messages, without reading it. */
export function describeImageSource(source: ImageSource): string {
  const fields = source as { path?: unknown; url?: unknown; data?: unknown };
  if (typeof fields.path === "string") return shorten(fields.path);
  if (typeof fields.url === "string") {
    try {
      return urlForDisplay(new URL(fields.url.trim()));
    } catch {
      return shorten(fields.url);
    }
  }
  if (typeof fields.data === "string") {
    const { payload, mime } = splitDataUri(fields.data);
    const compactLength = payload.replace(/\s+/g, "").replace(/=+$/, "").length;
    return base64Origin(Math.floor((compactLength * 3) / 4), mime);
  }
  return "image source without path, url or data";
}

// ---------------------------------------------------------------------------------------------- paths

async function readPathSource(raw: string, ctx: ImageSourceContext): Promise<{ bytes: Uint8Array; origin: string }> {
  let requested = raw;
  if (/^file:/i.test(raw)) {
    // Agents often paste file URLs; accept them as paths, under the same directory rules.
    try {
      requested = fileURLToPath(raw);
    } catch {
      throw new ImageSourceError("not-found", `"${shorten(raw)}" is not a valid file URL.`, "Give a plain file path instead.");
    }
  }
  if (requested.includes("\0")) {
    throw new ImageSourceError("not-found", "The image path contains a NUL character.", "Give a plain file path.");
  }
  const resolved = path.resolve(requested);
  const roots = await allowedRoots(ctx.allowedDirs);
  // Check the path as written before touching the filesystem, so paths outside cannot be probed for existence.
  if (!roots.some((root) => isInside(resolved, root.configured) || (root.real !== undefined && isInside(resolved, root.real)))) {
    throw outsideAllowedDirs(raw, resolved, roots, false);
  }
  let real: string;
  try {
    real = await fs.realpath(resolved);
  } catch (error) {
    throw fileSystemError(error, raw, resolved, roots);
  }
  // The real path decides: a symbolic link inside an allowed directory may point anywhere.
  if (!roots.some((root) => root.real !== undefined && isInside(real, root.real))) {
    throw outsideAllowedDirs(raw, real, roots, true);
  }
  const max = ctx.maxImageBytes;
  let handle: fs.FileHandle | undefined;
  try {
    // stat before open: opening a FIFO for reading would block until a writer appears.
    const info = await fs.stat(real);
    checkFileInfo(info, raw, max);
    // O_NOFOLLOW and O_NONBLOCK close the window where the file is swapped for a link or a FIFO after the checks.
    handle = await fs.open(real, fsConstants.O_RDONLY | (fsConstants.O_NOFOLLOW ?? 0) | (fsConstants.O_NONBLOCK ?? 0));
    checkFileInfo(await handle.stat(), raw, max);
    const bytes = await readAtMost(handle, max + 1);
    if (bytes.length > max) throw tooLarge(`Image file ${raw} grew past ${formatBytes(max)} while being read.`, max);
    if (bytes.length === 0) throw emptyFile(raw);
    return { bytes, origin: real };
  } catch (error) {
    if (error instanceof ImageSourceError) throw error;
    throw fileSystemError(error, raw, real, roots);
  } finally {
    await handle?.close().catch(() => undefined);
  }
}

interface AllowedRoot {
  configured: string;
  /** The directory with symbolic links resolved; undefined when it does not exist. */
  real?: string;
}

async function allowedRoots(dirs: string[]): Promise<AllowedRoot[]> {
  return Promise.all(
    dirs.map(async (dir) => {
      const configured = path.resolve(dir);
      const real = await fs.realpath(configured).catch(() => undefined);
      return { configured, real };
    }),
  );
}

/** Compares whole path components, so /data2 is not inside /data. */
function isInside(candidate: string, dir: string): boolean {
  const relative = path.relative(dir, candidate);
  if (relative === "") return true;
  return relative !== ".." && !relative.startsWith(`..${path.sep}`) && !path.isAbsolute(relative);
}

function allowedDirsText(roots: AllowedRoot[]): string {
  return roots.length === 0 ? "none configured" : roots.map((root) => root.configured).join(", ");
}

function outsideAllowedDirs(raw: string, resolved: string, roots: AllowedRoot[], throughLink: boolean): ImageSourceError {
  const where = throughLink
    ? `Path ${raw} resolves through a symbolic link to ${resolved}, which is outside`
    : `Path ${raw === resolved ? raw : `${raw} (${resolved})`} is outside`;
  return new ImageSourceError(
    "path-not-allowed",
    `${where} the allowed image directories (${allowedDirsText(roots)}).`,
    "Move or copy the image into one of those directories, send its bytes as data (base64), or start the server with SAV_ALLOWED_DIRS including its directory.",
  );
}

function checkFileInfo(info: { isFile(): boolean; isDirectory(): boolean; size: number }, raw: string, max: number): void {
  if (info.isDirectory()) {
    throw new ImageSourceError("not-a-file", `Path ${raw} is a directory, not an image file.`, "Give the path of one image file.");
  }
  if (!info.isFile()) {
    throw new ImageSourceError(
      "not-a-file",
      `Path ${raw} is not a regular file (it is a device, socket or pipe).`,
      "Give the path of an image file.",
    );
  }
  if (info.size > max) throw tooLarge(`Image file ${raw} is ${formatBytes(info.size)}.`, max);
  if (info.size === 0) throw emptyFile(raw);
}

async function readAtMost(handle: fs.FileHandle, limit: number): Promise<Uint8Array> {
  const chunks: Buffer[] = [];
  let total = 0;
  while (total < limit) {
    const want = Math.min(limit - total, 4 * 1024 * 1024);
    const chunk = Buffer.allocUnsafe(want);
    const { bytesRead } = await handle.read(chunk, 0, want, total);
    if (bytesRead === 0) break;
    chunks.push(chunk.subarray(0, bytesRead));
    total += bytesRead;
  }
  return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, total);
}

function fileSystemError(error: unknown, raw: string, resolved: string, roots: AllowedRoot[]): ImageSourceError {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  const inAllowed = `Check the path; images must be inside ${allowedDirsText(roots)}.`;
  switch (code) {
    case "ENOENT":
    case "ENOTDIR":
      return new ImageSourceError("not-found", `No file at ${raw}${raw === resolved ? "" : ` (${resolved})`}.`, inAllowed);
    case "EISDIR":
      return new ImageSourceError("not-a-file", `Path ${raw} is a directory, not an image file.`, "Give the path of one image file.");
    case "EACCES":
    case "EPERM":
      return new ImageSourceError(
        "not-found",
        `The server may not read ${raw} (permission denied).`,
        "Make the file readable by the server's user, or send its bytes as data.",
      );
    case "ELOOP":
      return new ImageSourceError("not-found", `Path ${raw} is a loop of symbolic links.`, "Give the path of the image file itself.");
    default:
      return new ImageSourceError(
        "not-found",
        `Could not read ${raw}${code ? ` (${code})` : ""}.`,
        "Check that the file exists and is readable, or send its bytes as data.",
      );
  }
}

function emptyFile(raw: string): ImageSourceError {
  return new ImageSourceError("empty", `Image file ${raw} is empty (0 bytes).`, "Give a complete image file.");
}

// --------------------------------------------------------------------------------------------- base64

/** Base64 in one alphabet only; mixing +/ with -_ is almost always a corrupted string. */
const STANDARD_BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;
const URL_SAFE_BASE64 = /^[A-Za-z0-9\-_]*={0,2}$/;

function splitDataUri(raw: string): { payload: string; mime?: string; isDataUri: boolean; base64: boolean } {
  const trimmed = raw.trimStart();
  if (!/^data:/i.test(trimmed)) return { payload: raw, isDataUri: false, base64: true };
  const comma = trimmed.indexOf(",");
  if (comma < 0) return { payload: "", isDataUri: true, base64: false };
  const params = trimmed
    .slice("data:".length, comma)
    .split(";")
    .map((part) => part.trim());
  const mime = params[0] === "" ? undefined : params[0];
  const base64 = params.slice(1).some((part) => part.toLowerCase() === "base64");
  return { payload: trimmed.slice(comma + 1), mime, isDataUri: true, base64 };
}

function base64Origin(bytes: number, mime: string | undefined): string {
  return `base64${mime ? ` ${shorten(mime, 60)}` : ""} (${bytes} bytes)`;
}

function decodeDataSource(raw: string, max: number): { bytes: Uint8Array; origin: string } {
  const acceptedForms = 'Send base64 of the file\'s bytes (e.g. "iVBORw0KGgo...") or a data URI ("data:image/png;base64,iVBORw0KGgo...").';
  const { payload, mime, isDataUri, base64 } = splitDataUri(raw);
  if (isDataUri && !raw.includes(",")) {
    throw new ImageSourceError("bad-base64", "The data URI has no comma before its payload.", acceptedForms);
  }
  if (isDataUri && !base64) {
    throw new ImageSourceError(
      "bad-base64",
      `The data URI is not base64-encoded (its header "${shorten(raw.slice(0, raw.indexOf(",")), 80)}" lacks ";base64").`,
      acceptedForms,
    );
  }
  // Even generous whitespace (a line break every few characters) cannot make a small image this long;
  // refusing early avoids scanning a huge string.
  const maxEncoded = 4 * Math.ceil(max / 3);
  if (payload.length > 2 * maxEncoded + 1024) {
    throw tooLarge(`The base64 image data is ${payload.length} characters, more than ${formatBytes(max)} once decoded.`, max);
  }
  const compact = payload.replace(/\s+/g, "");
  if (compact === "") {
    throw new ImageSourceError("empty", `The ${isDataUri ? "data URI" : "base64 data"} holds no bytes.`, acceptedForms);
  }
  if (!STANDARD_BASE64.test(compact) && !URL_SAFE_BASE64.test(compact)) {
    throw new ImageSourceError("bad-base64", describeBase64Problem(compact), base64Hint(raw, acceptedForms));
  }
  const body = compact.replace(/=+$/, "");
  const padded = body.length !== compact.length;
  if ((padded && compact.length % 4 !== 0) || body.length % 4 === 1) {
    throw new ImageSourceError(
      "bad-base64",
      `The base64 data has an impossible length (${compact.length} characters${padded ? " with padding" : ""}); it looks truncated or padded wrongly.`,
      acceptedForms,
    );
  }
  const decodedLength = Math.floor((body.length * 3) / 4);
  if (decodedLength > max) throw tooLarge(`The base64 data decodes to ${formatBytes(decodedLength)}.`, max);
  // Buffer decodes both alphabets; the checks above make sure it skips nothing.
  const bytes = Buffer.from(body, "base64");
  return { bytes, origin: base64Origin(bytes.length, mime) };
}

function describeBase64Problem(compact: string): string {
  const invalid = /[^A-Za-z0-9+/\-_=]/.exec(compact);
  if (invalid) {
    return `The base64 data contains ${JSON.stringify(invalid[0])} at position ${invalid.index}, which is not a base64 character.`;
  }
  const innerPadding = compact.replace(/=+$/, "").indexOf("=");
  if (innerPadding >= 0 || /={3,}$/.test(compact)) {
    return `The base64 data has "=" padding in the wrong place (position ${innerPadding >= 0 ? innerPadding : compact.indexOf("=")}).`;
  }
  return "The base64 data mixes the standard (+ /) and URL-safe (- _) alphabets.";
}

function base64Hint(raw: string, acceptedForms: string): string {
  const trimmed = raw.trim();
  if (/^https?:\/\//i.test(trimmed)) return `This looks like a URL: pass it as {"url": "${shorten(trimmed, 80)}"} instead.`;
  if (/^(file:|\/|\.{1,2}[\\/]|~|[A-Za-z]:[\\/])/.test(trimmed) || /\.(png|jpe?g|webp|gif|avif|tiff?|bmp)$/i.test(trimmed)) {
    return `This looks like a file path: pass it as {"path": "${shorten(trimmed, 80)}"} instead.`;
  }
  return acceptedForms;
}

// ----------------------------------------------------------------------------------------------- URLs

function urlForDisplay(url: URL): string {
  // No credentials, query or fragment: they may hold secrets and the messages go back to the agent and logs.
  return shorten(`${url.protocol}//${url.host}${url.pathname}`);
}

function parseImageUrl(raw: string): URL {
  const hint = 'Give a full http:// or https:// URL such as "https://example.com/cat.jpg"; a local file goes in "path", base64 in "data".';
  if (raw.length > 8192) throw new ImageSourceError("bad-url", `The image URL is ${raw.length} characters long.`, hint);
  let url: URL;
  try {
    url = new URL(raw.trim());
  } catch {
    throw new ImageSourceError("bad-url", `"${shorten(raw, 120)}" is not a valid absolute URL.`, hint);
  }
  assertHttpScheme(url, "The image URL");
  return url;
}

function assertHttpScheme(url: URL, subject: string): void {
  if (url.protocol === "http:" || url.protocol === "https:") return;
  const scheme = url.protocol.replace(/:$/, "");
  const hint =
    scheme === "file"
      ? 'Pass local files as {"path": "..."} (inside the allowed image directories).'
      : scheme === "data"
        ? 'Pass data URIs as {"data": "data:image/...;base64,..."}.'
        : 'Use an http:// or https:// URL, or send the image as {"data": base64} or {"path": local file}.';
  throw new ImageSourceError("url-scheme", `${subject} uses the "${scheme}:" scheme; only http and https are fetched.`, hint);
}

const systemLookup: HostLookup = async (hostname) => {
  const addresses = await dns.promises.lookup(hostname, { all: true });
  return addresses.map(({ address, family }) => ({ address, family: family === 6 ? 6 : 4 }));
};

/** A URL whose host has been resolved and checked; requests must connect to `address`. */
export interface VettedUrl {
  url: URL;
  address: string;
  family: 4 | 6;
}

/**
 * Checks the scheme, resolves the host and refuses it when any address it resolves to is not public
 * (unless private URLs are allowed). Called for the first URL and again for every redirect target.
 */
export async function vetImageUrl(url: URL, ctx: Pick<ImageSourceContext, "allowPrivateUrls" | "lookup">): Promise<VettedUrl> {
  assertHttpScheme(url, `The URL ${urlForDisplay(url)}`);
  const host = url.hostname.startsWith("[") ? url.hostname.slice(1, -1) : url.hostname;
  let addresses: ResolvedAddress[];
  const literalFamily = net.isIP(host);
  if (literalFamily !== 0) {
    addresses = [{ address: host, family: literalFamily === 6 ? 6 : 4 }];
  } else {
    try {
      addresses = await (ctx.lookup ?? systemLookup)(host);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException | undefined)?.code;
      throw new ImageSourceError(
        "bad-url",
        `The host name "${shorten(host, 120)}" could not be resolved${code ? ` (${code})` : ""}.`,
        "Check the URL's spelling and that the host is reachable from the server, or send the image as path or data.",
      );
    }
  }
  const first = addresses[0];
  if (first === undefined) {
    throw new ImageSourceError("bad-url", `The host name "${shorten(host, 120)}" has no addresses.`, "Check the URL, or send the image as path or data.");
  }
  if (!ctx.allowPrivateUrls) {
    // Every address must be public: the connection may use any of them, and an attacker controls the order.
    for (const { address } of addresses) {
      const kind = classifyAddress(address);
      if (kind === "public") continue;
      const where = address === host ? `points to ${describeAddressKind(kind)}` : `resolves to ${address}, ${describeAddressKind(kind)}`;
      throw new ImageSourceError(
        "private-address",
        `The URL ${urlForDisplay(url)} ${where}; image URLs may not reach loopback, private, link-local or reserved networks.`,
        "Use a public URL, or download the image yourself and send it as data or as a path inside the allowed directories. The server operator can allow such URLs with SAV_ALLOW_PRIVATE_URLS=1.",
      );
    }
  }
  return { url, address: first.address, family: first.family };
}

/** The next URL for a redirect response, checked for scheme (the host is vetted by the next vetImageUrl). */
export function resolveRedirectTarget(from: URL, location: string | undefined): URL {
  if (location === undefined || location.trim() === "") {
    throw new ImageSourceError(
      "http-error",
      `The server at ${urlForDisplay(from)} answered with a redirect but no Location header.`,
      "Use the image's final URL directly, or send the image as data.",
    );
  }
  let next: URL;
  try {
    next = new URL(location.trim(), from);
  } catch {
    throw new ImageSourceError(
      "bad-url",
      `The server at ${urlForDisplay(from)} redirected to an invalid URL ("${shorten(location, 120)}").`,
      "Use the image's final URL directly, or send the image as data.",
    );
  }
  assertHttpScheme(next, `The redirect from ${urlForDisplay(from)}`);
  return next;
}

interface HttpResponse {
  status: number;
  location?: string;
  contentLength?: number;
  body: AsyncIterable<Uint8Array>;
  discard(): void;
}

const REQUEST_HEADERS = {
  accept: "image/avif,image/webp,image/png,image/jpeg,image/*;q=0.9,*/*;q=0.5",
  // Compressed transfer would let a small response expand past the byte limit unnoticed.
  "accept-encoding": "identity",
  "user-agent": "sav-mcp",
};

function parseContentLength(value: string | null | undefined): number | undefined {
  if (value === null || value === undefined || !/^\d+$/.test(value.trim())) return undefined;
  return Number(value.trim());
}

/** One GET over node:http(s), connecting to the vetted address whatever DNS says now (no rebinding). */
function requestPinned(target: VettedUrl, signal: AbortSignal): Promise<HttpResponse> {
  const pinnedLookup: net.LookupFunction = (_hostname, options, callback) => {
    if (options.all) callback(null, [{ address: target.address, family: target.family }]);
    else callback(null, target.address, target.family);
  };
  const client = target.url.protocol === "https:" ? https : http;
  return new Promise((resolve, reject) => {
    const request = client.request(
      target.url,
      // No agent: a pooled socket could have been opened for an earlier, differently vetted lookup.
      { method: "GET", agent: false, lookup: pinnedLookup, signal, headers: REQUEST_HEADERS },
      (response) => {
        resolve({
          status: response.statusCode ?? 0,
          location: response.headers.location,
          contentLength: parseContentLength(response.headers["content-length"]),
          body: response,
          discard: () => response.destroy(),
        });
      },
    );
    request.on("error", reject);
    request.end();
  });
}

async function requestWithFetch(target: VettedUrl, fetchImpl: typeof fetch, signal: AbortSignal): Promise<HttpResponse> {
  const response = await fetchImpl(target.url, { method: "GET", redirect: "manual", signal, headers: REQUEST_HEADERS });
  const stream = response.body;
  return {
    status: response.status,
    location: response.headers.get("location") ?? undefined,
    contentLength: parseContentLength(response.headers.get("content-length")),
    body: {
      async *[Symbol.asyncIterator]() {
        if (stream === null) return;
        const reader = stream.getReader();
        try {
          for (;;) {
            const { done, value } = await reader.read();
            if (done) return;
            yield value;
          }
        } finally {
          reader.releaseLock();
        }
      },
    },
    discard: () => void stream?.cancel().catch(() => undefined),
  };
}

function isRedirect(status: number): boolean {
  return status === 301 || status === 302 || status === 303 || status === 307 || status === 308;
}

async function readUrlSource(raw: string, ctx: ImageSourceContext): Promise<{ bytes: Uint8Array; origin: string }> {
  const first = parseImageUrl(raw);
  const origin = urlForDisplay(first);
  const max = ctx.maxImageBytes;
  const controller = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort(new Error("image download timed out"));
  }, ctx.urlTimeoutMs);
  const onCancel = () => controller.abort(ctx.signal?.reason);
  ctx.signal?.addEventListener("abort", onCancel, { once: true });
  const signal = controller.signal;
  try {
    let url = first;
    for (let redirects = 0; ; redirects++) {
      const target = await abortable(vetImageUrl(url, ctx), signal);
      const response = ctx.fetchImpl ? await requestWithFetch(target, ctx.fetchImpl, signal) : await requestPinned(target, signal);
      if (isRedirect(response.status)) {
        response.discard();
        if (redirects >= MAX_URL_REDIRECTS) {
          throw new ImageSourceError(
            "redirect-refused",
            `The URL ${origin} redirected more than ${MAX_URL_REDIRECTS} times.`,
            `At most ${MAX_URL_REDIRECTS} redirects are followed; use the image's final URL, or send the image as data.`,
          );
        }
        url = resolveRedirectTarget(url, response.location);
        continue;
      }
      if (response.status < 200 || response.status > 299) {
        response.discard();
        throw new ImageSourceError(
          "http-error",
          `Downloading ${urlForDisplay(url)} failed with HTTP status ${response.status}.`,
          response.status === 401 || response.status === 403
            ? "The image needs authorization the server does not have; download it yourself and send it as data."
            : "Check that the URL points to an image that exists, or send the image as path or data.",
        );
      }
      if (response.contentLength !== undefined && response.contentLength > max) {
        response.discard();
        throw tooLarge(`The image at ${urlForDisplay(url)} is ${formatBytes(response.contentLength)}.`, max);
      }
      const bytes = await readBodyAtMost(response, max, url);
      if (bytes.length === 0) {
        throw new ImageSourceError("empty", `The server at ${urlForDisplay(url)} sent an empty body.`, "Check that the URL points to an image.");
      }
      return { bytes, origin };
    }
  } catch (error) {
    if (error instanceof ImageSourceError) throw error;
    if (ctx.signal?.aborted) throw cancellationReason(ctx.signal);
    if (timedOut) {
      throw new ImageSourceError(
        "timeout",
        `Downloading ${origin} did not finish within ${formatSeconds(ctx.urlTimeoutMs)}.`,
        "Use a faster host or a smaller image, or download it yourself and send it as data.",
      );
    }
    throw networkError(error, origin);
  } finally {
    clearTimeout(timer);
    ctx.signal?.removeEventListener("abort", onCancel);
  }
}

async function readBodyAtMost(response: HttpResponse, max: number, url: URL): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let total = 0;
  for await (const chunk of response.body) {
    total += chunk.length;
    if (total > max) {
      response.discard();
      throw tooLarge(`The image at ${urlForDisplay(url)} is larger than allowed; the download was stopped.`, max);
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks, total);
}

function networkError(error: unknown, origin: string): ImageSourceError {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  const reason =
    code === "ECONNREFUSED"
      ? "the connection was refused"
      : code === "ECONNRESET"
        ? "the connection was reset"
        : code === "ETIMEDOUT"
          ? "the connection timed out"
          : error instanceof Error
            ? error.message
            : String(error);
  return new ImageSourceError(
    "http-error",
    `Could not download ${origin}: ${shorten(reason, 200)}${code && !reason.includes(code) ? ` (${code})` : ""}.`,
    "Check that the URL works from the machine running the server, or send the image as path or data.",
  );
}

function abortable<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener("abort", onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener("abort", onAbort);
        reject(error);
      },
    );
  });
}

function cancellationReason(signal: AbortSignal): unknown {
  return signal.reason ?? new DOMException("The image load was cancelled.", "AbortError");
}

function throwIfCancelled(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw cancellationReason(signal);
}

// --------------------------------------------------------------------------------------------- shared

function tooLarge(problem: string, max: number): ImageSourceError {
  return new ImageSourceError(
    "too-large",
    `${problem} The limit is ${formatBytes(max)}.`,
    `Send an image of at most ${formatBytes(max)}: resize or recompress it (e.g. JPEG, about 1024 px on the long side).`,
  );
}

function formatBytes(bytes: number): string {
  const units: Array<[number, string]> = [
    [1024 * 1024 * 1024, "GB"],
    [1024 * 1024, "MB"],
    [1024, "KB"],
  ];
  for (const [size, unit] of units) {
    if (bytes >= size) return `${(bytes / size).toFixed(1).replace(/\.0$/, "")} ${unit}`;
  }
  return `${bytes} bytes`;
}

function formatSeconds(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${(ms / 1000).toFixed(1)} s`;
}

function shorten(text: string, limit = 200): string {
  return text.length <= limit ? text : `${text.slice(0, limit - 1)}…`;
}

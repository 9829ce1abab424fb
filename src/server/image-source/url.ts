/**
 * Images fetched over http(s): every hop's host is resolved and vetted (no loopback, private or link-local
 * address unless allowed), the connection is pinned to the vetted address, and the body is cut at the limit.
 */
import dns from "node:dns";
import http from "node:http";
import https from "node:https";
import net from "node:net";
import { abortable } from "../../abortable.js";
import { classifyAddress, describeAddressKind } from "../address-policy.js";
import { ImageSourceError, formatBytes, formatSeconds, shorten, tooLarge } from "./error.js";

/** One address a host name resolves to. */
export interface ResolvedAddress {
  address: string;
  family: 4 | 6;
}

/** Resolves a host name to every address it has (tests inject one; the default is dns.lookup with all: true). */
export type HostLookup = (hostname: string) => Promise<ResolvedAddress[]>;

/** What URL loading needs from the image source context. */
export interface UrlLoading {
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

/** Redirects followed per URL; each target is vetted like the first URL. */
export const MAX_URL_REDIRECTS = 3;

export function urlForDisplay(url: URL): string {
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
export async function vetImageUrl(url: URL, ctx: Pick<UrlLoading, "allowPrivateUrls" | "lookup">): Promise<VettedUrl> {
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

export async function readUrlSource(raw: string, ctx: UrlLoading): Promise<{ bytes: Uint8Array; origin: string }> {
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

export function cancellationReason(signal: AbortSignal): unknown {
  return signal.reason ?? new DOMException("The image load was cancelled.", "AbortError");
}

export function throwIfCancelled(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw cancellationReason(signal);
}


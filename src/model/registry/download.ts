import { createHash, type Hash } from "node:crypto";
import { createReadStream } from "node:fs";
import { mkdir, open, rename, rm, stat } from "node:fs/promises";
import path from "node:path";
import { diskFullError, errorCode, HubError, networkError, redactCredentials, statusError, timeoutError } from "./errors.js";
import type { ManifestFile } from "./manifest.js";
import { IdleTimer, sleep } from "./timers.js";

/** Everything a download needs to know about where files come from and how hard to try. */
export interface HubContext {
  /** Hub base URL without a trailing slash, e.g. `https://huggingface.co`. */
  endpoint: string;
  token?: string;
  fetchImpl: typeof fetch;
  repo: string;
  revision: string;
  /** A request fails when no byte (headers or body) arrives for this long. */
  timeoutMs: number;
  /** Extra attempts after the first for transient failures. */
  retries: number;
  /** First backoff delay; doubles with every retry. */
  retryDelayMs: number;
  /** Named in disk-full messages. */
  modelsDir: string;
  /** Bytes the whole pull still has to write, for disk-full messages. */
  remainingBytes: () => number;
  signal?: AbortSignal;
}

export interface DownloadResult {
  path: string;
  size: number;
  sha256: string;
  /** What the sha256 was compared with. */
  checkedAgainst: "manifest" | "hub-etag" | "none";
  /** Bytes that came over the network for this file (excluding resumed bytes). */
  downloadedBytes: number;
}

/** `(bytes of this file on disk so far, expected total or null, bytes that just came over the network)`. */
export type FileProgress = (received: number, total: number | null, networkDelta: number) => void;

const SHA256_ETAG = /^[0-9a-f]{64}$/;
const RESUME_REMEDY = "Run the pull again; it resumes where it stopped.";
const MAX_REDIRECTS = 10;

export function resolveUrl(endpoint: string, repo: string, revision: string, file: string): string {
  // huggingface_hub quotes the revision as one segment (refs/pr/1 -> refs%2Fpr%2F1) and each path segment.
  const encodedPath = file.split("/").map(encodeURIComponent).join("/");
  return `${endpoint}/${repo}/resolve/${encodeURIComponent(revision)}/${encodedPath}`;
}

/** A sha256 from an `X-Linked-Etag`/`ETag` header, or null when the tag is something else (git blob sha1, CDN ids). */
export function sha256FromEtag(value: string | null): string | null {
  if (value === null) return null;
  const tag = value.trim().replace(/^W\//, "").replace(/^"|"$/g, "").toLowerCase();
  return SHA256_ETAG.test(tag) ? tag : null;
}

interface HubHeaders {
  /** sha256 from X-Linked-Etag (hub, on the redirect) or ETag, when it is one. */
  sha256: string | null;
  /** X-Linked-Size from the hub, when sent. */
  linkedSize: number | null;
}

/**
 * GET/HEAD following redirects by hand: the hub answers `/resolve/` for large files with a 302 to a CDN and puts
 * the file's sha256 and size only on that 302 (X-Linked-Etag, X-Linked-Size). The token goes to the hub's origin only.
 */
export async function hubRequest(
  ctx: HubContext,
  url: string,
  method: "GET" | "HEAD",
  extraHeaders: Record<string, string>,
  signal: AbortSignal,
): Promise<{ response: Response; hub: HubHeaders }> {
  const endpoint = new URL(ctx.endpoint);
  if (endpoint.username !== "" || endpoint.password !== "") {
    // fetch refuses such URLs; say so at once instead of retrying a request that can never be made.
    throw new HubError(
      "http",
      `HF_ENDPOINT (${redactCredentials(ctx.endpoint)}) contains a user name or password, which sav-mcp does not send.`,
      "Remove them from HF_ENDPOINT and put an access token in HF_TOKEN instead.",
    );
  }
  const hubOrigin = endpoint.origin;
  const hub: HubHeaders = { sha256: null, linkedSize: null };
  let current = url;
  for (let hop = 0; hop <= MAX_REDIRECTS; hop++) {
    const headers: Record<string, string> = { "user-agent": "sav-mcp", ...extraHeaders };
    if (ctx.token && new URL(current).origin === hubOrigin) headers.authorization = `Bearer ${ctx.token}`;
    const response = await ctx.fetchImpl(current, { method, headers, redirect: "manual", signal });
    hub.sha256 ??= sha256FromEtag(response.headers.get("x-linked-etag"));
    const linkedSize = response.headers.get("x-linked-size");
    if (hub.linkedSize === null && linkedSize !== null && /^\d+$/.test(linkedSize)) hub.linkedSize = Number(linkedSize);
    const location = response.headers.get("location");
    if (response.status >= 300 && response.status < 400 && location !== null) {
      await response.body?.cancel();
      current = new URL(location, current).toString();
      continue;
    }
    hub.sha256 ??= sha256FromEtag(response.headers.get("etag"));
    return { response, hub };
  }
  throw new HubError("http", `Too many redirects for ${url}.`, "Check HF_ENDPOINT.");
}

/** Size and sha256 as the hub reports them, without downloading the file. */
export async function headFile(ctx: HubContext, file: string): Promise<{ size: number | null; sha256: string | null }> {
  const url = resolveUrl(ctx.endpoint, ctx.repo, ctx.revision, file);
  const timer = new IdleTimer(ctx.timeoutMs, ctx.signal);
  try {
    const { response, hub } = await hubRequest(ctx, url, "HEAD", {}, timer.controller.signal);
    if (!response.ok) throw statusError(response.status, statusContext(ctx, file));
    const length = response.headers.get("content-length");
    return { size: hub.linkedSize ?? (length === null ? null : Number(length)), sha256: hub.sha256 };
  } catch (err) {
    throw classify(err, ctx, file, timer);
  } finally {
    timer.stop();
  }
}

function statusContext(ctx: HubContext, file: string) {
  return { endpoint: ctx.endpoint, repo: ctx.repo, revision: ctx.revision, file, tokenSet: Boolean(ctx.token) };
}

function classify(err: unknown, ctx: HubContext, file: string, timer: IdleTimer): unknown {
  if (ctx.signal?.aborted) return ctx.signal.reason ?? err;
  if (timer.fired) return timeoutError(ctx.endpoint, file, ctx.timeoutMs, err);
  const code = errorCode(err);
  if (code === "ENOSPC" || code === "EDQUOT") return diskFullError(ctx.modelsDir, ctx.remainingBytes(), null, err);
  if (err instanceof HubError) return err;
  // File-system errors other than a full disk are not the network's fault: pass them on unchanged.
  if (err instanceof Error && typeof code === "string" && /^E[A-Z]+$/.test(code) && "syscall" in err && "path" in err) {
    return err;
  }
  return networkError(err, ctx.endpoint, file);
}

async function fileSize(file: string): Promise<number> {
  try {
    return (await stat(file)).size;
  } catch {
    return 0;
  }
}

async function hashExisting(hash: Hash, file: string): Promise<void> {
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
}

/** sha256 of a whole file, streamed. */
export async function sha256File(file: string): Promise<string> {
  const hash = createHash("sha256");
  await hashExisting(hash, file);
  return hash.digest("hex");
}

/** `bytes 100-199/1000` from a 206, or the 416 form with `*` in place of the range (then start is null). */
function parseContentRange(value: string | null): { start: number | null; total: number | null } | null {
  const match = value === null ? null : /^bytes (?:(\d+)-\d+|\*)\/(\d+|\*)$/.exec(value.trim());
  if (match === null) return null;
  return { start: match[1] === undefined ? null : Number(match[1]), total: match[2] === "*" ? null : Number(match[2]) };
}

/**
 * The body's chunks, ending early when `signal` aborts. undici can leave a read pending forever when the fetch is
 * aborted just as the last chunk arrives, so each read races the signal instead of trusting the stream to error.
 */
async function* readChunks(response: Response, signal: AbortSignal): AsyncGenerator<Uint8Array> {
  if (response.body === null) return;
  const reader = response.body.getReader();
  let onAbort: () => void = () => undefined;
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(signal.reason);
    if (signal.aborted) onAbort();
    else signal.addEventListener("abort", onAbort, { once: true });
  });
  aborted.catch(() => undefined);
  try {
    for (;;) {
      const { done, value } = await Promise.race([reader.read(), aborted]);
      if (done) return;
      yield value;
    }
  } finally {
    signal.removeEventListener("abort", onAbort);
    void reader.cancel().catch(() => undefined);
  }
}

/** Largest file accepted when neither the manifest nor the hub gives its size. */
export const MAX_UNKNOWN_FILE_BYTES = 4 * 1024 ** 3;

/** The byte limit of a file of unknown size: a margin over the manifest's approximate size, else the maximum. */
export function maxBytesWithoutSize(file: Pick<ManifestFile, "approxSize">): number {
  return file.approxSize ? Math.ceil(file.approxSize * 1.25) + 1024 * 1024 : MAX_UNKNOWN_FILE_BYTES;
}

/** One attempt: resume `<dest>.partial` from its current size, verify, rename into place. */
async function attempt(
  ctx: HubContext,
  file: ManifestFile,
  dest: string,
  onProgress: FileProgress,
  stats: { downloadedBytes: number },
): Promise<Omit<DownloadResult, "downloadedBytes">> {
  const partial = `${dest}.partial`;
  let offset = await fileSize(partial);
  if (file.size !== null && offset > file.size) {
    await rm(partial, { force: true });
    offset = 0;
  }
  const url = resolveUrl(ctx.endpoint, ctx.repo, ctx.revision, file.path);
  const timer = new IdleTimer(ctx.timeoutMs, ctx.signal);
  let discardPartial = false;
  try {
    const rangeHeader: Record<string, string> = offset > 0 ? { range: `bytes=${offset}-` } : {};
    const { response, hub } = await hubRequest(ctx, url, "GET", rangeHeader, timer.controller.signal);
    timer.touch();

    if (response.status === 416 && offset > 0) {
      // The partial file is already as long as the remote one (or longer): check it as it is.
      await response.body?.cancel();
      const total = parseContentRange(response.headers.get("content-range"))?.total ?? hub.linkedSize;
      if (total !== offset) {
        await rm(partial, { force: true });
        throw new HubError("http", `The partial download of ${file.path} did not match the remote file.`, RESUME_REMEDY, {
          retryable: true,
        });
      }
      return await finish(file, dest, partial, hub, offset);
    }
    if (response.status !== 200 && response.status !== 206) {
      await response.body?.cancel();
      throw statusError(response.status, statusContext(ctx, file.path));
    }
    if (file.sha256 !== null && hub.sha256 !== null && hub.sha256 !== file.sha256) {
      await response.body?.cancel();
      throw new HubError(
        "checksum",
        `The hub reports sha256 ${hub.sha256} for ${file.path} but the manifest expects ${file.sha256}; nothing was kept.`,
        `The file changed at revision ${ctx.revision}: use a manifest that matches it.`,
      );
    }

    let total: number | null;
    if (response.status === 206) {
      const range = parseContentRange(response.headers.get("content-range"));
      if (range === null || range.start !== offset) {
        await response.body?.cancel();
        await rm(partial, { force: true });
        throw new HubError("http", `The server resumed ${file.path} at the wrong offset.`, RESUME_REMEDY, {
          retryable: true,
        });
      }
      total = range.total;
    } else {
      // 200 to a Range request: the server ignored the range, so start over.
      offset = 0;
      const length = response.headers.get("content-length");
      total = length === null ? null : Number(length);
    }
    const expectedSize = file.size ?? hub.linkedSize ?? total;
    // With no size from the manifest or the hub, a body is still cut off: a hostile mirror cannot fill the disk.
    const cap = file.size ?? Math.min(expectedSize ?? Number.POSITIVE_INFINITY, maxBytesWithoutSize(file));

    await mkdir(path.dirname(dest), { recursive: true });
    const hash = createHash("sha256");
    if (offset > 0) await hashExisting(hash, partial);
    const handle = await open(partial, offset > 0 ? "a" : "w");
    let received = offset;
    onProgress(received, expectedSize, 0);
    try {
      for await (const bytes of readChunks(response, timer.controller.signal)) {
        timer.touch();
        if (received + bytes.byteLength > cap) {
          discardPartial = true;
          if (file.size === null && received + bytes.byteLength > maxBytesWithoutSize(file)) {
            throw new HubError(
              "checksum",
              `${ctx.endpoint} sent more than ${cap} bytes for ${file.path}, more than the manifest allows for a file of unknown size; the download was stopped and deleted.`,
              "Use a manifest that gives this file's size and sha256, or another HF_ENDPOINT.",
            );
          }
          throw new HubError("http", `${ctx.endpoint} sent more bytes for ${file.path} than expected.`, RESUME_REMEDY, {
            retryable: true,
          });
        }
        await handle.write(bytes);
        hash.update(bytes);
        received += bytes.byteLength;
        stats.downloadedBytes += bytes.byteLength;
        onProgress(received, expectedSize, bytes.byteLength);
      }
    } finally {
      await handle.close();
    }
    if (expectedSize !== null && received < expectedSize) {
      throw new HubError("http", `The download of ${file.path} stopped early.`, RESUME_REMEDY, { retryable: true });
    }
    return await finish(file, dest, partial, hub, received, hash.digest("hex"));
  } catch (err) {
    if (discardPartial) await rm(partial, { force: true });
    throw classify(err, ctx, file.path, timer);
  } finally {
    timer.stop();
  }
}

/** Size and sha256 checks on a complete `.partial`, then the atomic rename. A mismatch deletes the file. */
async function finish(
  file: ManifestFile,
  dest: string,
  partial: string,
  hub: HubHeaders,
  size: number,
  knownSha?: string,
): Promise<Omit<DownloadResult, "downloadedBytes">> {
  const expectedSize = file.size ?? hub.linkedSize;
  if (expectedSize !== null && size !== expectedSize) {
    await rm(partial, { force: true });
    throw new HubError(
      "checksum",
      `${file.path} has ${size} bytes but ${expectedSize} were expected; the file was deleted.`,
      "Run the pull again.",
    );
  }
  const sha256 = knownSha ?? (await sha256File(partial));
  const expectedSha = file.sha256 ?? hub.sha256;
  if (expectedSha !== null && sha256 !== expectedSha) {
    await rm(partial, { force: true });
    throw new HubError(
      "checksum",
      `${file.path} failed verification: sha256 ${sha256} instead of ${expectedSha}; the file was deleted.`,
      "Run the pull again; if it fails again the mirror or the manifest is wrong.",
    );
  }
  await rename(partial, dest);
  return {
    path: file.path,
    size,
    sha256,
    checkedAgainst: file.sha256 !== null ? "manifest" : hub.sha256 !== null ? "hub-etag" : "none",
  };
}

/** Downloads one file into `dest` with resume, retries (exponential backoff) and verification. */
export async function downloadFile(
  ctx: HubContext,
  file: ManifestFile,
  dest: string,
  onProgress: FileProgress,
): Promise<DownloadResult> {
  const stats = { downloadedBytes: 0 };
  for (let attemptNo = 0; ; attemptNo++) {
    try {
      const result = await attempt(ctx, file, dest, onProgress, stats);
      return { ...result, downloadedBytes: stats.downloadedBytes };
    } catch (err) {
      if (!(err instanceof HubError) || !err.retryable || attemptNo >= ctx.retries || ctx.signal?.aborted) throw err;
      await sleep(ctx.retryDelayMs * 2 ** attemptNo, ctx.signal);
    }
  }
}

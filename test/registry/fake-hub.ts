import { createHash, randomBytes } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import http from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import type { ModelManifest } from "../../src/model/registry/index.js";

export interface SeenRequest {
  method: string;
  /** Repository path of the file, or `cdn:<path>` for the CDN leg of a redirect. */
  file: string;
  range: string | undefined;
  authorization: string | undefined;
}

export interface FakeHubOptions {
  repo: string;
  revision: string;
  files: Map<string, Buffer>;
  /** Answer `/resolve/` with a 302 to a second server (another origin), as the hub does for LFS files. */
  redirectToCdn?: boolean;
}

export function sha256(data: Buffer): string {
  return createHash("sha256").update(data).digest("hex");
}

/**
 * A loopback HTTP server in the Hugging Face URL layout (`/{repo}/resolve/{revision}/{path}`): ETag (sha256) headers,
 * HTTP Range, optional LFS-style redirects, and switches for the failures the downloader must survive.
 */
export class FakeHub {
  readonly requests: SeenRequest[] = [];
  /** The first GET of a file sends this many bytes and then drops the connection. */
  readonly cutAfter = new Map<string, number>();
  /** GETs of these files send the headers and then nothing. */
  readonly stall = new Set<string>();
  /** Serve these files with the byte at the offset flipped (the ETag still names the original). */
  readonly corrupt = new Map<string, number>();
  /** Answer with this status instead of the file. */
  readonly statusFor = new Map<string, number>();
  /** Answer 200 with the whole file even when a Range is asked for. */
  ignoreRange = false;
  /** When set, requests without `Authorization: Bearer <token>` get 401. */
  requireToken: string | undefined;
  /** Files that get no sha256 ETag (like non-LFS files on the hub, which carry a git sha1). */
  readonly sha1Etag = new Set<string>();
  inFlight = 0;
  maxInFlight = 0;

  private hub = http.createServer((req, res) => this.handleHub(req, res));
  private cdn = http.createServer((req, res) => this.handleCdn(req, res));
  private cutDone = new Set<string>();
  url = "";
  private cdnUrl = "";

  constructor(readonly options: FakeHubOptions) {}

  async start(): Promise<this> {
    this.url = await listen(this.hub);
    this.cdnUrl = await listen(this.cdn);
    return this;
  }

  async stop(): Promise<void> {
    for (const server of [this.hub, this.cdn]) {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  }

  gets(file?: string): SeenRequest[] {
    return this.requests.filter((r) => r.method === "GET" && !r.file.startsWith("cdn:") && (file === undefined || r.file === file));
  }

  private handleHub(req: http.IncomingMessage, res: http.ServerResponse): void {
    const url = new URL(req.url ?? "/", this.url);
    const prefix = `/${this.options.repo}/resolve/`;
    const pathname = url.pathname;
    if (!pathname.startsWith(prefix)) return void this.finish(res, 404, "Repository not found");
    const rest = pathname.slice(prefix.length);
    const slash = rest.indexOf("/");
    const revision = decodeURIComponent(rest.slice(0, slash));
    const file = rest
      .slice(slash + 1)
      .split("/")
      .map(decodeURIComponent)
      .join("/");
    this.requests.push({
      method: req.method ?? "GET",
      file,
      range: req.headers.range,
      authorization: req.headers.authorization,
    });
    if (this.requireToken !== undefined && req.headers.authorization !== `Bearer ${this.requireToken}`) {
      return void this.finish(res, 401, "Invalid credentials");
    }
    const status = this.statusFor.get(file);
    if (status !== undefined) return void this.finish(res, status, "forced status");
    const data = this.options.files.get(file);
    if (revision !== this.options.revision || data === undefined) return void this.finish(res, 404, "Entry not found");
    if (this.options.redirectToCdn) {
      res.writeHead(302, {
        location: `${this.cdnUrl}/cdn/${encodeURIComponent(file)}?signature=abc`,
        "x-linked-etag": `"${sha256(data)}"`,
        "x-linked-size": String(data.length),
        etag: `"${createHash("sha1").update(data).digest("hex")}"`,
      });
      res.end();
      return;
    }
    this.serveFile(req, res, file, data);
  }

  private handleCdn(req: http.IncomingMessage, res: http.ServerResponse): void {
    const url = new URL(req.url ?? "/", this.cdnUrl);
    const file = decodeURIComponent(url.pathname.replace(/^\/cdn\//, ""));
    this.requests.push({
      method: req.method ?? "GET",
      file: `cdn:${file}`,
      range: req.headers.range,
      authorization: req.headers.authorization,
    });
    const data = this.options.files.get(file);
    if (data === undefined) return void this.finish(res, 404, "no such object");
    this.serveFile(req, res, file, data);
  }

  private serveFile(req: http.IncomingMessage, res: http.ServerResponse, file: string, original: Buffer): void {
    let data = original;
    const flip = this.corrupt.get(file);
    if (flip !== undefined) {
      data = Buffer.from(original);
      data[flip] = (data[flip] ?? 0) ^ 0xff;
    }
    const etag = this.sha1Etag.has(file)
      ? `"${createHash("sha1").update(original).digest("hex")}"`
      : `"${sha256(original)}"`;
    const headers: http.OutgoingHttpHeaders = { etag, "accept-ranges": "bytes", "content-type": "application/octet-stream" };
    let start = 0;
    let status = 200;
    let end = data.length;
    const range = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? "");
    if (range !== null && !this.ignoreRange) {
      start = Number(range[1]);
      if (range[2] !== "") end = Math.min(data.length, Number(range[2]) + 1);
      if (start >= data.length || end <= start) {
        res.writeHead(416, { ...headers, "content-range": `bytes */${data.length}` });
        res.end();
        return;
      }
      status = 206;
      headers["content-range"] = `bytes ${start}-${end - 1}/${data.length}`;
    }
    const body = data.subarray(start, end);
    headers["content-length"] = String(body.length);
    res.writeHead(status, headers);
    if (req.method === "HEAD") return void res.end();

    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    res.on("close", () => this.inFlight--);
    if (this.stall.has(file)) {
      res.flushHeaders();
      return; // never sends the body; the client must time out
    }
    const cut = this.cutAfter.get(file);
    if (cut !== undefined && !this.cutDone.has(file)) {
      this.cutDone.add(file);
      // Give the client time to read the bytes before the cut: a stream that errors drops chunks still queued in it.
      res.write(body.subarray(0, cut), () => setTimeout(() => res.socket?.destroy(), 50));
      return;
    }
    res.end(body);
  }

  private finish(res: http.ServerResponse, status: number, text: string): void {
    res.writeHead(status, { "content-type": "text/plain" });
    res.end(text);
  }
}

function listen(server: http.Server): Promise<string> {
  return new Promise((resolve) => {
    server.listen(0, "127.0.0.1", () => resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}`));
  });
}

export const FAKE_REPO = "test-org/fake-smolvlm";
export const FAKE_REVISION = "0123456789abcdef0123456789abcdef01234567";

/** A small model in the published layout: configs plus fp32 and int8 graphs of a few hundred kB each. */
export function makeFakeModelFiles(): Map<string, Buffer> {
  const files = new Map<string, Buffer>();
  files.set("config.json", Buffer.from(JSON.stringify({ model_type: "idefics3", note: "fake" }, null, 2)));
  files.set("tokenizer.json", Buffer.from(JSON.stringify({ version: "1.0", model: { type: "BPE" } })));
  const sizes: Record<string, number> = {
    vision_encoder: 300_000,
    embed_tokens: 200_000,
    decoder_model_merged: 400_000,
  };
  for (const [component, size] of Object.entries(sizes)) {
    files.set(`onnx/${component}.onnx`, randomBytes(size));
    files.set(`onnx/${component}_int8.onnx`, randomBytes(Math.round(size / 4)));
  }
  return files;
}

/**
 * A custom manifest for the fake repository. The decoder graphs carry no sha256, so their check relies on the
 * hub's ETag, as for the 500M and 2.2B models.
 */
export function makeFakeManifest(files: Map<string, Buffer>, overrides: Partial<ModelManifest> = {}): ModelManifest {
  const entry = (p: string, withHash = true) => {
    const data = files.get(p);
    if (data === undefined) throw new Error(`no fake file ${p}`);
    return { path: p, size: data.length, sha256: withHash ? sha256(data) : null };
  };
  const variants = (component: string, withHash: boolean) => ({
    fp32: entry(`onnx/${component}.onnx`, withHash),
    int8: entry(`onnx/${component}_int8.onnx`, withHash),
  });
  return {
    id: "fake-smolvlm",
    title: "Fake SmolVLM for registry tests",
    source: "hub",
    repo: FAKE_REPO,
    revision: FAKE_REVISION,
    revisionVerified: true,
    family: "idefics3",
    license: "apache-2.0",
    randomWeights: true,
    files: [entry("config.json"), entry("tokenizer.json")],
    variants: {
      vision_encoder: variants("vision_encoder", true),
      embed_tokens: variants("embed_tokens", true),
      decoder_model_merged: variants("decoder_model_merged", false),
    },
    defaultDtypes: { vision_encoder: "int8", embed_tokens: "int8", decoder_model_merged: "fp32" },
    defaultDtypesMeasured: false,
    unverified: [],
    ...overrides,
  };
}

export async function tempDir(prefix = "sav-registry-"): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), prefix));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

export async function writeManifestFile(dir: string, manifest: ModelManifest): Promise<string> {
  const file = path.join(dir, `${manifest.id}.json`);
  await writeFile(file, JSON.stringify(manifest, null, 2));
  return file;
}

import { createHash, randomBytes } from "node:crypto";
import { execFileSync } from "node:child_process";
import fs from "node:fs/promises";
import http from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { classifyAddress, isPublicAddress, type AddressKind } from "../../src/server/address-policy.js";
import {
  ImageSourceError,
  MAX_URL_REDIRECTS,
  describeImageSource,
  imageSourceSchema,
  readImageSource,
  toImageSource,
  resolveRedirectTarget,
  vetImageUrl,
  type HostLookup,
  type ImageSource,
  type ImageSourceContext,
  type ImageSourceErrorCode,
} from "../../src/server/image-source.js";

const MAX_BYTES = 1024;

let root: string;
let allowed: string;
let catBytes: Buffer;
let catPath: string;

function context(overrides: Partial<ImageSourceContext> = {}): ImageSourceContext {
  return { allowedDirs: [allowed], allowPrivateUrls: false, maxImageBytes: MAX_BYTES, urlTimeoutMs: 10_000, ...overrides };
}

function sha256(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

/** Awaits a load that must fail, and checks the error carries the code and a recovery hint inside its message. */
async function loadError(source: ImageSource, ctx: ImageSourceContext, code: ImageSourceErrorCode): Promise<ImageSourceError> {
  let caught: unknown;
  try {
    await readImageSource(source, ctx);
  } catch (error) {
    caught = error;
  }
  expect(caught, `expected ${code} for ${describeImageSource(source)}`).toBeInstanceOf(ImageSourceError);
  const error = caught as ImageSourceError;
  expect(error.code, error.message).toBe(code);
  expect(error.hint.length).toBeGreaterThan(10);
  expect(error.message).toContain(error.hint);
  expect(error.message.length).toBeGreaterThan(error.hint.length + 10);
  expect(error.message).not.toMatch(/\n\s+at /);
  return error;
}

beforeAll(async () => {
  root = await fs.realpath(await fs.mkdtemp(path.join(os.tmpdir(), "sav-image-source-")));
  allowed = path.join(root, "x");
  await fs.mkdir(path.join(allowed, "sub", "dir"), { recursive: true });
  await fs.mkdir(path.join(root, "xy"));
  await fs.mkdir(path.join(root, "outside"));
  catBytes = Buffer.concat([Buffer.from("\x89PNG\r\n\x1a\n", "latin1"), randomBytes(200)]);
  catPath = path.join(allowed, "cat.png");
  await fs.writeFile(catPath, catBytes);
  await fs.writeFile(path.join(allowed, "empty.png"), Buffer.alloc(0));
  await fs.writeFile(path.join(allowed, "big.png"), randomBytes(MAX_BYTES + 1));
  await fs.writeFile(path.join(allowed, "exact.png"), randomBytes(MAX_BYTES));
  await fs.writeFile(path.join(root, "xy", "secret.png"), randomBytes(50));
  await fs.writeFile(path.join(root, "outside", "secret.png"), randomBytes(50));
  await fs.symlink(path.join(root, "outside", "secret.png"), path.join(allowed, "escape.png"));
  await fs.symlink(path.join(root, "outside"), path.join(allowed, "escape-dir"));
  await fs.symlink(catPath, path.join(allowed, "sub", "alias.png"));
  await fs.symlink(allowed, path.join(root, "x-link"));
});

afterAll(async () => {
  await fs.rm(root, { recursive: true, force: true });
});

describe("image source schema", () => {
  it("accepts exactly one of path, url or data", () => {
    for (const source of [{ path: "a.png" }, { url: "https://example.com/a.png" }, { data: "QUJD" }]) {
      expect(imageSourceSchema.parse(source)).toEqual(source);
    }
  });

  it.each([
    [{}, /none was given/],
    [{ path: "a.png", url: "https://example.com/a.png" }, /got "path" and "url"/],
    [{ path: "a.png", url: "https://example.com/a.png", data: "QUJD" }, /got "path" and "url" and "data"/],
    [{ file: "a.png" }, /Unknown field\(s\) "file"/],
    [{ path: "" }, /"path" cannot be empty/],
    [{ path: 42 }, /string/],
  ])("rejects %j with a clear message", (value, message) => {
    const result = imageSourceSchema.safeParse(value);
    expect(result.success).toBe(false);
    expect(result.error?.issues.map((issue) => issue.message).join(" | ")).toMatch(message);
  });

  it("accepts a plain string and tells a data URI, a URL and a path apart", () => {
    for (const value of ["images/cat.png", "https://example.com/a.png", "data:image/png;base64,QUJD"]) {
      expect(imageSourceSchema.parse(value)).toBe(value);
    }
    expect(toImageSource("images/cat.png")).toEqual({ path: "images/cat.png" });
    expect(toImageSource("file:///tmp/cat.png")).toEqual({ path: "file:///tmp/cat.png" });
    expect(toImageSource("HTTPS://example.com/a.png")).toEqual({ url: "HTTPS://example.com/a.png" });
    expect(toImageSource("ftp://example.com/a.png")).toEqual({ url: "ftp://example.com/a.png" });
    expect(toImageSource(" data:image/png;base64,QUJD")).toEqual({ data: " data:image/png;base64,QUJD" });
    expect(toImageSource({ data: "QUJD" })).toEqual({ data: "QUJD" });
    expect(imageSourceSchema.safeParse("").error?.issues[0]?.message).toMatch(/cannot be empty/);
    expect(imageSourceSchema.safeParse(42).error?.issues[0]?.message).toMatch(/a string .* or an object/);
  });

  it("is described once, as a string or an object with the three fields", async () => {
    const { z } = await import("zod");
    const json = z.toJSONSchema(imageSourceSchema, { io: "input" }) as {
      description?: string;
      anyOf: { type: string; additionalProperties?: boolean; properties?: Record<string, { description?: string }> }[];
    };
    expect(json.description).toMatch(/"path".*"url".*"data"/s);
    expect(json.description!.length).toBeLessThan(160);
    expect(json.anyOf.map((branch) => branch.type)).toEqual(["string", "object"]);
    const object = json.anyOf[1]!;
    // Not listed (tools/list budget): the description names the three fields, and validation refuses others by name.
    expect(object.additionalProperties).toBeUndefined();
    expect(imageSourceSchema.safeParse({ path: "a.png", file: "b.png" }).error?.issues[0]?.message).toMatch(/Unknown field\(s\) "file" in an image source/);
    expect(Object.keys(object.properties!).sort()).toEqual(["data", "path", "url"]);
    for (const field of Object.values(object.properties!)) expect(field.description).toBeUndefined();
  });

  it("reads a plain string path like a path object", async () => {
    const loaded = await readImageSource(catPath, context());
    expect(loaded.sha256).toBe(sha256(catBytes));
  });
});

describe("local paths", () => {
  it("reads a file inside an allowed directory, with its hash and real path", async () => {
    const loaded = await readImageSource({ path: catPath }, context());
    expect(Buffer.from(loaded.bytes).equals(catBytes)).toBe(true);
    expect(loaded.sha256).toBe(sha256(catBytes));
    expect(loaded.origin).toBe(catPath);
  });

  it("resolves a relative path against the allowed directories, not the working directory", async () => {
    const loaded = await readImageSource({ path: "cat.png" }, context({ allowedDirs: [path.join(root, "xy"), allowed] }));
    expect(loaded.sha256).toBe(sha256(catBytes));
    expect(loaded.origin).toBe(catPath);
    // package.json exists in the working directory (the repository) but not in the allowed directory.
    await fs.access(path.join(process.cwd(), "package.json"));
    const error = await loadError({ path: "package.json" }, context(), "not-found");
    expect(error.message).not.toContain(process.cwd());
  });

  it("refuses every path when no directory is allowed, saying how to allow one", async () => {
    const error = await loadError({ path: catPath }, context({ allowedDirs: [] }), "no-allowed-dirs");
    expect(error.message).toMatch(/--allowed-dir/);
    expect(error.message).toMatch(/SAV_ALLOWED_DIRS/);
    // URLs and base64 need no directory.
    expect((await readImageSource({ data: catBytes.toString("base64") }, context({ allowedDirs: [] }))).sha256).toBe(sha256(catBytes));
  });

  it("allows a file whose name starts with two dots", async () => {
    await fs.writeFile(path.join(allowed, "..foo.png"), catBytes);
    expect((await readImageSource({ path: path.join(allowed, "..foo.png") }, context())).sha256).toBe(sha256(catBytes));
    expect((await readImageSource({ path: "..foo.png" }, context())).sha256).toBe(sha256(catBytes));
  });

  it("expands ~ in allowed directories and paths", async () => {
    const home = os.homedir();
    const error = await loadError({ path: "~/definitely-missing-sav.png" }, context({ allowedDirs: ["~"] }), "not-found");
    expect(error.message).toContain(path.join(home, "definitely-missing-sav.png"));
  });

  it("refuses a NUL byte in a path as an input error", async () => {
    const error = await loadError({ path: `${catPath}\0.png` }, context(), "bad-path");
    expect(error.message).toMatch(/NUL/);
  });

  it("accepts a file URL in the path field under the same rules", async () => {
    const loaded = await readImageSource({ path: pathToFileURL(catPath).href }, context());
    expect(loaded.sha256).toBe(sha256(catBytes));
    await loadError({ path: pathToFileURL(path.join(root, "outside", "secret.png")).href }, context(), "path-not-allowed");
  });

  it("follows a symbolic link that stays inside the allowed directory", async () => {
    const loaded = await readImageSource({ path: path.join(allowed, "sub", "alias.png") }, context());
    expect(loaded.sha256).toBe(sha256(catBytes));
    expect(loaded.origin).toBe(catPath);
  });

  it("accepts paths through an allowed directory that is itself a symbolic link", async () => {
    const ctx = context({ allowedDirs: [path.join(root, "x-link")] });
    expect((await readImageSource({ path: path.join(root, "x-link", "cat.png") }, ctx)).sha256).toBe(sha256(catBytes));
    expect((await readImageSource({ path: catPath }, ctx)).sha256).toBe(sha256(catBytes));
  });

  it("reads a file of exactly the byte limit", async () => {
    const loaded = await readImageSource({ path: path.join(allowed, "exact.png") }, context());
    expect(loaded.bytes.length).toBe(MAX_BYTES);
  });

  it.each<[string, () => string, ImageSourceErrorCode, RegExp]>([
    ["a path outside the allowed dirs", () => path.join(root, "outside", "secret.png"), "path-not-allowed", /outside the allowed directories/],
    ["a system file", () => "/etc/passwd", "path-not-allowed", /SAV_ALLOWED_DIRS/],
    ["a missing file outside (no existence oracle)", () => path.join(root, "outside", "nope.png"), "path-not-allowed", /outside/],
    ["a .. traversal", () => `${allowed}${path.sep}..${path.sep}outside${path.sep}secret.png`, "path-not-allowed", /outside/],
    ["a symlink escaping the allowed dir", () => path.join(allowed, "escape.png"), "path-not-allowed", /symbolic link/],
    ["a file under a symlinked dir escaping", () => path.join(allowed, "escape-dir", "secret.png"), "path-not-allowed", /symbolic link/],
    ["a sibling directory sharing the prefix", () => path.join(root, "xy", "secret.png"), "path-not-allowed", /outside/],
    ["a directory", () => path.join(allowed, "sub"), "not-a-file", /directory/],
    ["the allowed directory itself", () => allowed, "not-a-file", /directory/],
    ["a missing file", () => path.join(allowed, "missing.png"), "not-found", /No file at/],
    ["a file under a missing directory", () => path.join(allowed, "nope", "missing.png"), "not-found", /No file at/],
    ["an oversized file", () => path.join(allowed, "big.png"), "too-large", /1 KB/],
    ["an empty file", () => path.join(allowed, "empty.png"), "empty", /empty/],
  ])("refuses %s", async (_name, makePath, code, message) => {
    const error = await loadError({ path: makePath() }, context(), code);
    expect(error.message).toMatch(message);
  });

  it("lists the allowed directories in the hint", async () => {
    const error = await loadError({ path: "/etc/passwd" }, context({ allowedDirs: [allowed, path.join(root, "xy")] }), "path-not-allowed");
    expect(error.message).toContain(allowed);
    expect(error.message).toContain(path.join(root, "xy"));
  });

  it.runIf(process.platform !== "win32")("refuses a FIFO without blocking on it", async () => {
    const fifo = path.join(allowed, "pipe.png");
    execFileSync("mkfifo", [fifo]);
    await loadError({ path: fifo }, context(), "not-a-file");
  });
});

describe("base64 and data URIs", () => {
  const bytes = Buffer.from([0xfb, 0xff, 0xbf, 0x00, 0x10, 0x83, 0xfe, 0xef, 0x3e, 0x7f]);

  it("decodes standard base64", async () => {
    const loaded = await readImageSource({ data: bytes.toString("base64") }, context());
    expect(Buffer.from(loaded.bytes).equals(bytes)).toBe(true);
    expect(loaded.sha256).toBe(sha256(bytes));
    expect(loaded.origin).toBe(`base64 (${bytes.length} bytes)`);
  });

  it("decodes a data URI with line breaks in the payload", async () => {
    const payload = catBytes.toString("base64").replace(/(.{76})/g, "$1\r\n");
    const loaded = await readImageSource({ data: `data:image/png;base64,${payload}` }, context());
    expect(Buffer.from(loaded.bytes).equals(catBytes)).toBe(true);
    expect(loaded.origin).toContain("image/png");
  });

  it("decodes URL-safe base64 without padding", async () => {
    const encoded = bytes.toString("base64url");
    expect(encoded).toMatch(/[-_]/);
    expect(encoded).not.toContain("=");
    const loaded = await readImageSource({ data: encoded }, context());
    expect(Buffer.from(loaded.bytes).equals(bytes)).toBe(true);
  });

  it.each<[string, string, ImageSourceErrorCode, RegExp]>([
    ["an invalid character", "iVBORw0K$Ggo=", "bad-base64", /"\$" at position 8/],
    ["padding in the middle", "QQ==QUJD", "bad-base64", /padding/],
    ["a wrong padding length", "QUJDRA=", "bad-base64", /impossible length/],
    ["a truncated length", "QUJDR", "bad-base64", /impossible length/],
    ["mixed alphabets", "ab+_", "bad-base64", /mixes/],
    ["a non-base64 data URI", "data:image/svg+xml,<svg/>", "bad-base64", /lacks ";base64"/],
    ["a data URI without a comma", "data:image/png;base64", "bad-base64", /no comma/],
    ["a URL in the data field", "https://example.com/cat.png", "bad-base64", /pass it as \{"url"/],
    ["a path in the data field", "/home/me/cat.png", "bad-base64", /pass it as \{"path"/],
    ["an empty data URI", "data:image/png;base64,", "empty", /no bytes/],
    ["whitespace only", "  \n ", "empty", /no bytes/],
    ["oversized data", "A".repeat(4 * Math.ceil((MAX_BYTES + 3) / 3)), "too-large", /1 KB/],
    ["a huge string", "A".repeat(50 * MAX_BYTES), "too-large", /1 KB/],
  ])("refuses %s", async (_name, data, code, message) => {
    const error = await loadError({ data }, context(), code);
    expect(error.message).toMatch(message);
  });

  it("accepts data decoding to exactly the byte limit", async () => {
    const exact = randomBytes(MAX_BYTES);
    const loaded = await readImageSource({ data: exact.toString("base64") }, context());
    expect(loaded.bytes.length).toBe(MAX_BYTES);
  });
});

describe("URL vetting", () => {
  it.each<[string, ImageSourceErrorCode]>([
    ["file:///etc/passwd", "url-scheme"],
    ["ftp://example.com/cat.png", "url-scheme"],
    ["data:image/png;base64,QUJD", "url-scheme"],
    ["javascript:alert(1)", "url-scheme"],
    ["not a url", "bad-url"],
    ["/relative/cat.png", "bad-url"],
    ["http://127.0.0.1/cat.png", "private-address"],
    ["http://localhost:9/cat.png", "private-address"],
    ["http://[::1]:9/cat.png", "private-address"],
    ["http://10.0.0.1/cat.png", "private-address"],
    ["http://172.16.5.4/cat.png", "private-address"],
    ["http://192.168.1.1/cat.png", "private-address"],
    ["http://169.254.169.254/latest/meta-data/", "private-address"],
    ["http://[::ffff:127.0.0.1]/cat.png", "private-address"],
    ["http://[fd00::1]/cat.png", "private-address"],
    ["http://[fe80::1]/cat.png", "private-address"],
    ["http://0.0.0.0/cat.png", "private-address"],
    ["http://100.64.0.1/cat.png", "private-address"],
    ["http://2130706433/cat.png", "private-address"],
    ["http://0x7f.0.0.1/cat.png", "private-address"],
  ])("refuses %s by default", async (url, code) => {
    const error = await loadError({ url }, context(), code);
    if (code === "private-address") expect(error.message).toMatch(/SAV_ALLOW_PRIVATE_URLS/);
  });

  it("refuses a host name when any of its addresses is private", async () => {
    const lookup: HostLookup = async () => [
      { address: "93.184.216.34", family: 4 },
      { address: "10.1.2.3", family: 4 },
    ];
    await expect(vetImageUrl(new URL("https://mixed.example/cat.png"), { allowPrivateUrls: false, lookup })).rejects.toMatchObject({
      code: "private-address",
      message: expect.stringContaining("10.1.2.3"),
    });
  });

  it("returns the vetted address of a public host", async () => {
    const lookup: HostLookup = async () => [{ address: "2606:4700::1111", family: 6 }];
    const vetted = await vetImageUrl(new URL("https://images.example/cat.png"), { allowPrivateUrls: false, lookup });
    expect(vetted).toMatchObject({ address: "2606:4700::1111", family: 6 });
  });

  it("reports a host name that does not resolve as a bad URL", async () => {
    const lookup: HostLookup = async () => {
      throw Object.assign(new Error("getaddrinfo ENOTFOUND"), { code: "ENOTFOUND" });
    };
    await loadError({ url: "https://nowhere.example/cat.png" }, context({ lookup }), "bad-url");
  });

  it("resolves redirect targets relative to the current URL and refuses other schemes", () => {
    const from = new URL("https://images.example/a/b.png?x=1");
    expect(resolveRedirectTarget(from, "../c.png").href).toBe("https://images.example/c.png");
    expect(resolveRedirectTarget(from, "//cdn.example/d.png").href).toBe("https://cdn.example/d.png");
    expect(() => resolveRedirectTarget(from, "file:///etc/passwd")).toThrow(expect.objectContaining({ code: "url-scheme" }));
    expect(() => resolveRedirectTarget(from, undefined)).toThrow(expect.objectContaining({ code: "http-error" }));
  });

  it("describes a URL without its credentials, query or fragment", () => {
    expect(describeImageSource({ url: "https://user:pw@images.example/cat.png?token=secret#frag" })).toBe("https://images.example/cat.png");
    expect(describeImageSource({ data: "data:image/jpeg;base64,QUJD" })).toBe("base64 image/jpeg (3 bytes)");
    expect(describeImageSource({ path: "cat.png" })).toBe("cat.png");
  });
});

describe("redirects through an injected fetch (connection not needed)", () => {
  const publicLookup: HostLookup = async (hostname) =>
    hostname === "internal.example" ? [{ address: "10.9.8.7", family: 4 }] : [{ address: "93.184.216.34", family: 4 }];

  function scriptedFetch(responses: Array<() => Response>): { fetchImpl: typeof fetch; urls: string[] } {
    const urls: string[] = [];
    const fetchImpl = (async (input: string | URL | Request) => {
      urls.push(String(input));
      const next = responses[urls.length - 1];
      if (next === undefined) throw new Error("unexpected request");
      return next();
    }) as typeof fetch;
    return { fetchImpl, urls };
  }

  it("downloads from a vetted public host", async () => {
    const { fetchImpl, urls } = scriptedFetch([() => new Response(catBytes)]);
    const loaded = await readImageSource({ url: "https://images.example/cat.png?sig=1" }, context({ fetchImpl, lookup: publicLookup }));
    expect(loaded.sha256).toBe(sha256(catBytes));
    expect(loaded.origin).toBe("https://images.example/cat.png");
    expect(urls).toEqual(["https://images.example/cat.png?sig=1"]);
  });

  it.each([
    ["a metadata address", "http://169.254.169.254/latest/meta-data/"],
    ["a host resolving to a private address", "http://internal.example/cat.png"],
    ["loopback", "http://127.0.0.1:8080/admin"],
  ])("refuses a redirect to %s without requesting it", async (_name, location) => {
    const { fetchImpl, urls } = scriptedFetch([() => new Response(null, { status: 302, headers: { location } })]);
    await loadError({ url: "https://images.example/cat.png" }, context({ fetchImpl, lookup: publicLookup }), "private-address");
    expect(urls).toHaveLength(1);
  });

  it("refuses a redirect to a file URL", async () => {
    const { fetchImpl, urls } = scriptedFetch([() => new Response(null, { status: 301, headers: { location: "file:///etc/passwd" } })]);
    await loadError({ url: "https://images.example/cat.png" }, context({ fetchImpl, lookup: publicLookup }), "url-scheme");
    expect(urls).toHaveLength(1);
  });
});

describe("URLs served on loopback", () => {
  let server: http.Server;
  let base: string;
  let port: number;
  const hostHeaders: string[] = [];

  beforeAll(async () => {
    server = http.createServer((request, response) => {
      hostHeaders.push(request.headers.host ?? "");
      const url = new URL(request.url ?? "/", "http://localhost");
      const hop = /^\/hop\/(\d+)$/.exec(url.pathname);
      if (url.pathname === "/cat.png") {
        response.writeHead(200, { "content-type": "image/png", "content-length": catBytes.length });
        response.end(catBytes);
      } else if (hop) {
        const remaining = Number(hop[1]);
        response.writeHead(302, { location: remaining === 0 ? "/cat.png" : `/hop/${remaining - 1}` });
        response.end();
      } else if (url.pathname === "/to-ftp") {
        response.writeHead(302, { location: "ftp://127.0.0.1/cat.png" });
        response.end();
      } else if (url.pathname === "/no-location") {
        response.writeHead(302);
        response.end();
      } else if (url.pathname === "/empty") {
        response.writeHead(200, { "content-type": "image/png" });
        response.end();
      } else if (url.pathname === "/huge-chunked") {
        // No Content-Length: only counting the body can stop it.
        response.writeHead(200, { "content-type": "image/png" });
        for (let i = 0; i < 8; i++) response.write(randomBytes(MAX_BYTES));
        response.end();
      } else if (url.pathname === "/huge-declared") {
        // Declares more than the limit and then stalls: only the header check can end this before the timeout.
        response.writeHead(200, { "content-type": "image/png", "content-length": 10 * MAX_BYTES });
        response.write(randomBytes(10));
      } else if (url.pathname === "/slow-body") {
        response.writeHead(200, { "content-type": "image/png" });
        response.write(randomBytes(10));
      } else if (url.pathname === "/no-answer") {
        // Never responds.
      } else {
        response.writeHead(404, { "content-type": "text/plain" });
        response.end("not found");
      }
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    port = (server.address() as AddressInfo).port;
    base = `http://127.0.0.1:${port}`;
  });

  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  const privateOk = (overrides: Partial<ImageSourceContext> = {}) => context({ allowPrivateUrls: true, ...overrides });

  it("refuses the loopback server by default", async () => {
    const before = hostHeaders.length;
    await loadError({ url: `${base}/cat.png` }, context(), "private-address");
    expect(hostHeaders.length).toBe(before);
  });

  it("downloads an image when private URLs are allowed", async () => {
    const loaded = await readImageSource({ url: `${base}/cat.png?token=abc` }, privateOk());
    expect(Buffer.from(loaded.bytes).equals(catBytes)).toBe(true);
    expect(loaded.sha256).toBe(sha256(catBytes));
    expect(loaded.origin).toBe(`${base}/cat.png`);
  });

  it("connects to the vetted address and keeps the original Host header", async () => {
    const lookups: string[] = [];
    const lookup: HostLookup = async (hostname) => {
      lookups.push(hostname);
      return [{ address: "127.0.0.1", family: 4 }];
    };
    // images.invalid cannot resolve through the system resolver, so the bytes prove the pinned address was used.
    const loaded = await readImageSource({ url: `http://images.invalid:${port}/cat.png` }, privateOk({ lookup }));
    expect(loaded.sha256).toBe(sha256(catBytes));
    expect(lookups).toEqual(["images.invalid"]);
    expect(hostHeaders.at(-1)).toBe(`images.invalid:${port}`);
  });

  it(`follows up to ${MAX_URL_REDIRECTS} redirects, re-vetting each`, async () => {
    const lookups: string[] = [];
    const lookup: HostLookup = async (hostname) => {
      lookups.push(hostname);
      return [{ address: "127.0.0.1", family: 4 }];
    };
    const loaded = await readImageSource({ url: `http://images.invalid:${port}/hop/${MAX_URL_REDIRECTS - 1}` }, privateOk({ lookup }));
    expect(loaded.sha256).toBe(sha256(catBytes));
    expect(lookups).toHaveLength(MAX_URL_REDIRECTS + 1);
  });

  it("refuses a longer redirect chain", async () => {
    const error = await loadError({ url: `${base}/hop/${MAX_URL_REDIRECTS}` }, privateOk(), "redirect-refused");
    expect(error.message).toContain(String(MAX_URL_REDIRECTS));
  });

  it("refuses a redirect to another scheme", async () => {
    await loadError({ url: `${base}/to-ftp` }, privateOk(), "url-scheme");
  });

  it("reports a redirect without a Location", async () => {
    await loadError({ url: `${base}/no-location` }, privateOk(), "http-error");
  });

  it("reports HTTP 404 with the status", async () => {
    const error = await loadError({ url: `${base}/missing.png` }, privateOk(), "http-error");
    expect(error.message).toContain("404");
  });

  it("reports an empty body", async () => {
    await loadError({ url: `${base}/empty` }, privateOk(), "empty");
  });

  it("cuts off a body larger than the limit", async () => {
    await loadError({ url: `${base}/huge-chunked` }, privateOk(), "too-large");
  });

  it("refuses a declared Content-Length over the limit before reading the body", async () => {
    await loadError({ url: `${base}/huge-declared` }, privateOk({ urlTimeoutMs: 60_000 }), "too-large");
  });

  it("times out on a body that never ends", async () => {
    const error = await loadError({ url: `${base}/slow-body` }, privateOk({ urlTimeoutMs: 300 }), "timeout");
    expect(error.message).toContain("0.3 s");
  });

  it("times out on a server that never answers", async () => {
    await loadError({ url: `${base}/no-answer` }, privateOk({ urlTimeoutMs: 300 }), "timeout");
  });

  it("reports a refused connection", async () => {
    const closed = http.createServer();
    await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
    const closedPort = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const error = await loadError({ url: `http://127.0.0.1:${closedPort}/cat.png` }, privateOk(), "http-error");
    expect(error.message).toMatch(/refused/);
  });

  it("rethrows the caller's cancellation instead of an image error", async () => {
    const controller = new AbortController();
    const reason = new Error("cancelled by client");
    const pending = readImageSource({ url: `${base}/slow-body` }, privateOk({ signal: controller.signal, urlTimeoutMs: 60_000 }));
    setTimeout(() => controller.abort(reason), 50);
    await expect(pending).rejects.toBe(reason);
  });

  it("does not start when already cancelled", async () => {
    const controller = new AbortController();
    controller.abort(new Error("already cancelled"));
    await expect(readImageSource({ path: catPath }, context({ signal: controller.signal }))).rejects.toThrow("already cancelled");
  });
});

describe("address policy", () => {
  it.each<[string, AddressKind]>([
    ["8.8.8.8", "public"],
    ["93.184.216.34", "public"],
    ["127.0.0.1", "loopback"],
    ["127.255.255.254", "loopback"],
    ["10.0.0.1", "private"],
    ["172.15.255.255", "public"],
    ["172.16.0.1", "private"],
    ["172.31.255.255", "private"],
    ["172.32.0.1", "public"],
    ["192.168.0.1", "private"],
    ["169.254.169.254", "link-local"],
    ["100.64.0.1", "shared"],
    ["100.127.255.255", "shared"],
    ["100.128.0.1", "public"],
    ["0.0.0.0", "unspecified"],
    ["224.0.0.251", "multicast"],
    ["255.255.255.255", "reserved"],
    ["192.0.2.10", "reserved"],
    ["::", "unspecified"],
    ["::1", "loopback"],
    ["0:0:0:0:0:0:0:1", "loopback"],
    ["::ffff:127.0.0.1", "loopback"],
    ["::ffff:7f00:1", "loopback"],
    ["::ffff:10.0.0.1", "private"],
    ["::ffff:8.8.8.8", "public"],
    ["::127.0.0.1", "loopback"],
    ["64:ff9b::a9fe:a9fe", "link-local"],
    ["2002:c0a8:0101::1", "private"],
    ["fc00::1", "private"],
    ["fd12:3456::1", "private"],
    ["fe80::1%eth0", "link-local"],
    ["ff02::1", "multicast"],
    ["2001:db8::1", "reserved"],
    ["2606:4700:4700::1111", "public"],
    ["not-an-ip", "invalid"],
  ])("classifies %s as %s", (address, kind) => {
    expect(classifyAddress(address)).toBe(kind);
    expect(isPublicAddress(address)).toBe(kind === "public");
  });
});

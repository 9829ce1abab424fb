import fs from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { exportJWK, generateKeyPair, SignJWT } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TINY_MODEL_ID } from "../../../src/config.js";
import { loadTokens, parseTokenFile, parseTokenList, sha256, tenantForToken, TokenConfigError } from "../../../src/server/http/tokens.js";
import { serveHttp } from "../../../src/server/http/serve-http.js";
import { SavStore, SqliteTaskStore } from "../../../src/store/index.js";
import { callOk, testConfig, testModels } from "../../support/mcp-harness.js";
import { INITIALIZE_BODY, MCP_POST_HEADERS, rawRequest, startHttpHarness, type HttpHarness } from "../../support/http-server.js";
import { makeTempDir } from "../../support/temp-dir.js";

const TOKEN_A = "token-of-tenant-a-0123456789";
const TOKEN_B = "token-of-tenant-b-9876543210";

describe("bearer tokens from the environment and a file", () => {
  it("ties each token to its tenant and rejects unknown ones", () => {
    const entries = parseTokenList(`alpha:${TOKEN_A}, beta:${TOKEN_B}`);
    expect(tenantForToken(entries, TOKEN_A)).toBe("alpha");
    expect(tenantForToken(entries, TOKEN_B)).toBe("beta");
    expect(tenantForToken(entries, `${TOKEN_A}x`)).toBeUndefined();
  });

  it("reads hashed tokens from a file and never needs the token itself", () => {
    const temp = makeTempDir();
    try {
      const file = path.join(temp.dir, "tokens");
      fs.writeFileSync(file, `# comment\n\ngamma:sha256:${sha256(TOKEN_A).toString("hex")}\n`);
      const entries = loadTokens({ SAV_AUTH_TOKENS_FILE: file });
      expect(fs.readFileSync(file, "utf8")).not.toContain(TOKEN_A);
      expect(tenantForToken(entries, TOKEN_A)).toBe("gamma");
    } finally {
      temp.cleanup();
    }
  });

  it("refuses malformed configuration with the line and the expected form", () => {
    expect(() => parseTokenList("alpha:short")).toThrow(/at least 16/);
    expect(() => parseTokenList(`bad name:${TOKEN_A}`)).toThrow(TokenConfigError);
    expect(() => parseTokenFile("alpha:md5:abcd", "tokens.txt")).toThrow(/tokens.txt line 1 .*tenant:sha256:HEX/);
    expect(() => loadTokens({ SAV_AUTH_TOKENS: `a:${TOKEN_A},b:${TOKEN_A}` })).toThrow(/twice/);
    expect(() => loadTokens({ SAV_AUTH_TOKENS_FILE: "/nonexistent/tokens" })).toThrow(/cannot be read \(ENOENT\)/);
  });
});

describe("an HTTP server with auth", () => {
  let temp: ReturnType<typeof makeTempDir>;
  let harness: HttpHarness;
  let jwks: http.Server;
  let issuer: string;
  let privateKey: Awaited<ReturnType<typeof generateKeyPair>>["privateKey"];

  beforeAll(async () => {
    temp = makeTempDir();
    // A local issuer: its JWKS served on loopback, as an authorization server would publish it.
    const keys = await generateKeyPair("ES256");
    privateKey = keys.privateKey;
    const publicJwk = { ...(await exportJWK(keys.publicKey)), kid: "test-key", alg: "ES256", use: "sig" };
    jwks = http.createServer((_req, res) => {
      res.setHeader("content-type", "application/json");
      res.end(JSON.stringify({ keys: [publicJwk] }));
    });
    await new Promise<void>((resolve) => jwks.listen(0, "127.0.0.1", resolve));
    issuer = `http://127.0.0.1:${(jwks.address() as AddressInfo).port}`;
    harness = await startHttpHarness({
      dir: temp.dir,
      publicUrl: "http://127.0.0.1:9/",
      auth: {
        tokens: parseTokenList(`alpha:${TOKEN_A},beta:${TOKEN_B}`),
        jwt: { issuer, jwksUrl: `${issuer}/jwks.json`, audience: "http://127.0.0.1:9/mcp", tenantClaim: "tenant" },
      },
    });
  });
  afterAll(async () => {
    await harness?.close();
    await new Promise((resolve) => jwks?.close(resolve));
    temp?.cleanup();
  });

  function jwt(claims: Record<string, unknown>, options: { audience?: string; expiresIn?: string | number } = {}) {
    return new SignJWT(claims)
      .setProtectedHeader({ alg: "ES256", kid: "test-key" })
      .setIssuer(issuer)
      .setAudience(options.audience ?? "http://127.0.0.1:9/mcp")
      .setIssuedAt()
      .setExpirationTime(options.expiresIn ?? "5m")
      .sign(privateKey);
  }

  async function initializeWith(token: string | undefined): Promise<Response> {
    return rawRequest(harness.running, "/mcp", {
      method: "POST",
      headers: { ...MCP_POST_HEADERS, ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: INITIALIZE_BODY,
    });
  }

  it("answers a missing or wrong token with 401 and a WWW-Authenticate pointing at the resource metadata", async () => {
    for (const token of [undefined, "not-a-known-token-at-all"]) {
      const response = await initializeWith(token);
      expect(response.status).toBe(401);
      const challenge = response.headers.get("www-authenticate") ?? "";
      expect(challenge).toMatch(/^Bearer /);
      expect(challenge).toContain('resource_metadata="http://127.0.0.1:9/.well-known/oauth-protected-resource/mcp"');
    }
    const metadata = await rawRequest(harness.running, "/.well-known/oauth-protected-resource/mcp");
    expect(await metadata.json()).toMatchObject({ resource: "http://127.0.0.1:9/mcp", authorization_servers: [issuer], bearer_methods_supported: ["header"] });
  });

  it("serves a client with a valid static token", async () => {
    const { client } = await harness.connect(TOKEN_A);
    await callOk(client, "create_sav_task", { name: "auth-task", prompt: "Which?", model: TINY_MODEL_ID });
    expect((await initializeWith(TOKEN_B)).status).toBe(200);
  });

  it("does not let another tenant's token use a session", async () => {
    const { transport } = await harness.connect(TOKEN_A);
    const hijack = await rawRequest(harness.running, "/mcp", {
      method: "POST",
      headers: { ...MCP_POST_HEADERS, authorization: `Bearer ${TOKEN_B}`, "mcp-session-id": transport.sessionId!, "mcp-protocol-version": "2025-06-18" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 9, method: "tools/list" }),
    });
    expect(hijack.status).toBe(404);
  });

  it("accepts a JWT from the issuer with the right audience, and refuses expired, foreign-audience and tenant-less ones", async () => {
    expect((await initializeWith(await jwt({ tenant: "delta" }))).status).toBe(200);
    const refused = [
      await jwt({ tenant: "delta" }, { expiresIn: Math.floor(Date.now() / 1000) - 60 }),
      await jwt({ tenant: "delta" }, { audience: "http://elsewhere.example/mcp" }),
      await jwt({ sub: "someone" }),
    ];
    const messages: string[] = [];
    for (const token of refused) {
      const response = await initializeWith(token);
      expect(response.status).toBe(401);
      messages.push(response.headers.get("www-authenticate") ?? "");
    }
    expect(messages[0]).toMatch(/expired/);
    expect(messages[1]).toMatch(/'aud' claim/);
    expect(messages[2]).toMatch(/'tenant' claim/);
  });

  it("defaults the JWT audience to the resource URL with the port actually bound, when started on port 0", async () => {
    const config = testConfig({ dataDir: path.join(temp.dir, "port0", "data"), modelsDir: path.join(temp.dir, "port0", "models"), allowedDirs: [temp.dir] });
    const models = testModels(config);
    const store = new SqliteTaskStore(new SavStore({ dataDir: config.dataDir }));
    const running = await serveHttp(
      { listen: { host: "127.0.0.1", port: 0 }, stateless: false, allowedHosts: [], corsOrigins: [], shutdownTimeoutMs: 0 },
      { config, models, store, env: { SAV_JWT_ISSUER: issuer, SAV_JWT_JWKS_URL: `${issuer}/jwks.json` }, log: () => undefined },
    );
    try {
      expect(running.port).toBeGreaterThan(0);
      expect(running.resourceUrl).toBe(`http://127.0.0.1:${running.port}/mcp`);
      const post = async (token: string) =>
        (await rawRequest(running, "/mcp", { method: "POST", headers: { ...MCP_POST_HEADERS, authorization: `Bearer ${token}` }, body: INITIALIZE_BODY })).status;
      expect(await post(await jwt({ tenant: "delta" }, { audience: running.resourceUrl }))).toBe(200);
      // What the default was before the bind: port 0.
      expect(await post(await jwt({ tenant: "delta" }, { audience: "http://127.0.0.1:0/mcp" }))).toBe(401);
      const metadata = await rawRequest(running, "/.well-known/oauth-protected-resource/mcp");
      expect(await metadata.json()).toMatchObject({ resource: running.resourceUrl, authorization_servers: [issuer] });
    } finally {
      await running.shutdown(0);
      await store.close();
      await models.close();
    }
  });
});

import http from "node:http";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TINY_MODEL_ID } from "../../../src/config.js";
import { InsecureBindError, startHttpServer } from "../../../src/server/http/http-server.js";
import { noiseImage, writeShapeImages } from "../../support/images.js";
import { call, callOk, textOf } from "../../support/mcp-harness.js";
import { INITIALIZE_BODY, MCP_POST_HEADERS, rawRequest, startHttpHarness, type HttpHarness } from "../../support/http-server.js";
import { makeTempDir } from "../../support/temp-dir.js";

/** http.request, because fetch does not let a test forge the Host header. */
function requestWithHost(url: string, host: string, body: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: "POST", headers: { ...MCP_POST_HEADERS, host } }, (res) => {
      let text = "";
      res.on("data", (chunk: Buffer) => (text += chunk.toString()));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on("error", reject);
    req.end(body);
  });
}

describe("Streamable HTTP, stateful sessions", () => {
  let temp: ReturnType<typeof makeTempDir>;
  let harness: HttpHarness;
  let images: Awaited<ReturnType<typeof writeShapeImages>>;

  beforeAll(async () => {
    temp = makeTempDir();
    images = await writeShapeImages(path.join(temp.dir, "images"), 3);
    // A small image limit keeps the body-limit test cheap: the body limit follows from it.
    harness = await startHttpHarness({ dir: temp.dir, limits: { maxImageBytes: 400_000 } });
  });
  afterAll(async () => {
    await harness?.close();
    temp?.cleanup();
  });

  it("serves two clients from one store: a task made through one session is classified through the other", async () => {
    const a = await harness.connect();
    const b = await harness.connect();
    expect(a.transport.sessionId).toBeDefined();
    expect(a.transport.sessionId).not.toBe(b.transport.sessionId);
    expect(harness.running.sessionCount()).toBe(2);

    await callOk(a.client, "create_sav_task", { name: "shapes", prompt: "Circle or square?", model: TINY_MODEL_ID });
    await callOk(a.client, "add_examples", {
      task: "shapes",
      examples: [
        ...images["red-circle"].map((p) => ({ image: { path: p }, label: "circle" })),
        ...images["blue-square"].map((p) => ({ image: { path: p }, label: "square" })),
      ],
    });
    const listed = await callOk<{ tasks: { name: string }[] }>(b.client, "list_tasks", {});
    expect(listed.tasks.map((t) => t.name)).toContain("shapes");
    const viaA = await callOk<{ results: { label: string; votes: Record<string, number> }[] }>(a.client, "classify_image", { task: "shapes", image: { path: images["red-circle"][0] } });
    const viaB = await callOk<{ results: { label: string; votes: Record<string, number> }[] }>(b.client, "classify_image", { task: "shapes", image: { path: images["red-circle"][0] } });
    expect(viaB.results).toEqual(viaA.results);

    await b.transport.terminateSession();
    expect(harness.running.sessionCount()).toBe(1);
  });

  it("accepts a base64 image far over Express's 100 kB default and refuses a body over the limit with 413", async () => {
    const { client } = await harness.connect();
    await callOk(client, "create_sav_task", { name: "big-body", prompt: "Noise?", model: TINY_MODEL_ID });
    const image = await noiseImage(300, 300); // ~270 kB PNG, ~360 kB as base64
    expect(image.length).toBeGreaterThan(200_000);
    const result = await call(client, "classify_image", { task: "big-body", image: { data: image.toString("base64") } });
    // The body got through: the answer is the service's own (the task has no examples yet), not a transport error.
    expect(result.isError).toBe(true);
    expect(textOf(result)).toMatch(/example/i);

    const tooBig = JSON.stringify({ jsonrpc: "2.0", id: 5, method: "tools/call", params: { name: "x", arguments: { data: "A".repeat(2_000_000) } } });
    const response = await rawRequest(harness.running, "/mcp", { method: "POST", headers: MCP_POST_HEADERS, body: tooBig });
    expect(response.status).toBe(413);
    expect(await response.text()).toMatch(/paths or URLs/);
  });

  it("refuses a forged Host (DNS rebinding) and a browser Origin that was not configured", async () => {
    const forged = await requestWithHost(harness.running.url, "attacker.example:80", INITIALIZE_BODY);
    expect(forged.status).toBe(403);
    expect(forged.body).toMatch(/Invalid Host/);
    const loopback = await requestWithHost(harness.running.url, `localhost:${harness.running.port}`, INITIALIZE_BODY);
    expect(loopback.status).toBe(200);

    const fromPage = await rawRequest(harness.running, "/mcp", { method: "POST", headers: { ...MCP_POST_HEADERS, origin: "http://attacker.example" }, body: INITIALIZE_BODY });
    expect(fromPage.status).toBe(403);
    expect(fromPage.headers.get("access-control-allow-origin")).toBeNull();
  });

  it("answers requests without a session, with an unknown session and on unknown paths with errors that say what to do", async () => {
    const noSession = await rawRequest(harness.running, "/mcp", {
      method: "POST",
      headers: MCP_POST_HEADERS,
      body: JSON.stringify({ jsonrpc: "2.0", id: 2, method: "tools/list" }),
    });
    expect(noSession.status).toBe(400);
    expect(await noSession.text()).toMatch(/initialize/);
    const unknown = await rawRequest(harness.running, "/mcp", {
      method: "POST",
      headers: { ...MCP_POST_HEADERS, "mcp-session-id": "no-such-session" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 3, method: "tools/list" }),
    });
    expect(unknown.status).toBe(404);
    const notJson = await rawRequest(harness.running, "/mcp", { method: "POST", headers: MCP_POST_HEADERS, body: "{not json" });
    expect(notJson.status).toBe(400);
    expect(await notJson.text()).not.toMatch(/at .*\.js/);
    const elsewhere = await rawRequest(harness.running, "/other");
    expect(elsewhere.status).toBe(404);
    expect(await elsewhere.text()).toMatch(/\/mcp/);
  });

  it("reports health and readiness", async () => {
    const health = await rawRequest(harness.running, "/healthz");
    expect(health.status).toBe(200);
    // No readiness checks configured in this harness: ready; the failing case is tested below.
    const ready = await rawRequest(harness.running, "/readyz");
    expect(ready.status).toBe(200);
  });
});

describe("Streamable HTTP, stateless and options", () => {
  let temp: ReturnType<typeof makeTempDir>;
  beforeAll(() => {
    temp = makeTempDir();
  });
  afterAll(() => temp?.cleanup());

  it("works without sessions and refuses GET streams", async () => {
    const harness = await startHttpHarness({ dir: temp.dir, stateless: true });
    try {
      const { client, transport } = await harness.connect();
      expect(transport.sessionId).toBeUndefined();
      await callOk(client, "create_sav_task", { name: "stateless", prompt: "Which?", model: TINY_MODEL_ID });
      const listed = await callOk<{ tasks: { name: string }[] }>(client, "list_tasks", {});
      expect(listed.tasks.map((t) => t.name)).toEqual(["stateless"]);
      expect(harness.running.sessionCount()).toBe(0);
      const get = await rawRequest(harness.running, "/mcp", { headers: { accept: "text/event-stream" } });
      expect(get.status).toBe(405);
    } finally {
      await harness.close();
    }
  });

  it("gives configured CORS origins their headers and a preflight answer", async () => {
    const harness = await startHttpHarness({ dir: temp.dir, corsOrigins: ["http://app.localhost:5173"] });
    try {
      const preflight = await rawRequest(harness.running, "/mcp", {
        method: "OPTIONS",
        headers: { origin: "http://app.localhost:5173", "access-control-request-method": "POST" },
      });
      expect(preflight.status).toBe(204);
      expect(preflight.headers.get("access-control-allow-origin")).toBe("http://app.localhost:5173");
      expect(preflight.headers.get("access-control-allow-headers")).toMatch(/Mcp-Session-Id/);
    } finally {
      await harness.close();
    }
  });

  it("is not ready while a check fails, and says which", async () => {
    const harness = await startHttpHarness({
      dir: temp.dir,
      readiness: {
        store: async () => undefined,
        model: async () => {
          throw new Error("model files missing");
        },
      },
    });
    try {
      const ready = await rawRequest(harness.running, "/readyz");
      expect(ready.status).toBe(503);
      expect(await ready.json()).toEqual({ ready: false, checks: { store: "ok", model: "model files missing" } });
    } finally {
      await harness.close();
    }
  });

  it("refuses a non-loopback bind without auth before listening", async () => {
    await expect(
      startHttpServer({
        listen: { host: "0.0.0.0", port: 0 },
        limits: { maxImageBytes: 1000 },
        auth: { tokens: [] },
        createServer: () => {
          throw new Error("not reached");
        },
      }),
    ).rejects.toBeInstanceOf(InsecureBindError);
  });
});

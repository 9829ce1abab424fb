import fs from "node:fs";
import path from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type { SavConfig, SavLimits } from "../../src/config.js";
import type { AuthSettings } from "../../src/server/http/auth.js";
import { startHttpServer, type HttpServerOptions, type RunningHttpServer } from "../../src/server/http/http-server.js";
import type { ModelProvider } from "../../src/server/models.js";
import { tenantServerFactory } from "../../src/server/http/serve-http.js";
import { SavStore, SqliteTaskStore, type TaskStore } from "../../src/store/index.js";
import { serverClassifierCache } from "../../src/server/off-thread-work.js";
import { testConfig, testModels } from "./mcp-harness.js";

export interface HttpHarness {
  running: RunningHttpServer;
  config: SavConfig;
  store: TaskStore;
  models: ModelProvider;
  /** A client connected over loopback HTTP, optionally with a bearer token. */
  connect(token?: string): Promise<{ client: Client; transport: StreamableHTTPClientTransport }>;
  close(): Promise<void>;
}

export interface HttpHarnessOptions extends Partial<Omit<HttpServerOptions, "createServer" | "limits" | "auth">> {
  dir: string;
  allowedDirs?: string[];
  auth?: AuthSettings;
  limits?: Partial<SavLimits>;
  models?: ModelProvider;
  /** Another store (PostgreSQL) instead of SQLite in dir/data; the caller closes it. */
  store?: TaskStore;
  tenantDirs?: Map<string, string[]>;
}

/** An in-process HTTP server on 127.0.0.1 (a free port) over a test store and the real tiny model. */
export async function startHttpHarness(options: HttpHarnessOptions): Promise<HttpHarness> {
  const modelsDir = path.join(options.dir, "models");
  fs.mkdirSync(modelsDir, { recursive: true });
  const config = testConfig({ dataDir: path.join(options.dir, "data"), modelsDir, allowedDirs: options.allowedDirs ?? [options.dir], limits: options.limits });
  const models = options.models ?? testModels(config);
  const store = options.store ?? new SqliteTaskStore(new SavStore({ dataDir: config.dataDir }));
  const classifiers = serverClassifierCache(store);
  const clients: Client[] = [];
  const running = await startHttpServer({
    listen: { host: "127.0.0.1", port: 0 },
    ...options,
    limits: config.limits,
    auth: options.auth ?? { tokens: [] },
    log: () => undefined,
    createServer: tenantServerFactory({ config, models, store, classifiers, tenantDirs: options.tenantDirs ?? new Map() }),
  });
  return {
    running,
    config,
    store,
    models,
    async connect(token) {
      const transport = new StreamableHTTPClientTransport(new URL(running.url), {
        requestInit: token ? { headers: { Authorization: `Bearer ${token}` } } : undefined,
      });
      const client = new Client({ name: "http-test", version: "1.0.0" });
      await client.connect(transport);
      clients.push(client);
      return { client, transport };
    },
    async close() {
      await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
      await running.shutdown(0);
      if (!options.store) await store.close();
      if (!options.models) await models.close();
    },
  };
}

/** A raw request to the harness (for status codes and headers the SDK client hides). */
export function rawRequest(running: RunningHttpServer, pathname: string, init: RequestInit = {}): Promise<Response> {
  return fetch(new URL(pathname, running.url), init);
}

export const INITIALIZE_BODY = JSON.stringify({
  jsonrpc: "2.0",
  id: 1,
  method: "initialize",
  params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "raw", version: "1" } },
});

export const MCP_POST_HEADERS = { "content-type": "application/json", accept: "application/json, text/event-stream" };

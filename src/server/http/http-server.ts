import http from "node:http";
import type { AddressInfo } from "node:net";
import express from "express";
import type { SavLimits } from "../../config.js";
import { authConfigured, bearerAuth, PROTECTED_RESOURCE_METADATA_PATH, protectedResourceMetadata, type AuthSettings } from "./auth.js";
import { bodyErrorHandler, hostGuard, maxRequestBodyBytes, originGuard, sendJsonRpcError } from "./guards.js";
import { isLoopbackHost, MCP_PATH, urlHost, type ListenAddress } from "./listen-address.js";
import { DEFAULT_MAX_CALLS_PER_TENANT, McpEndpoint, type SessionFactory } from "./mcp-endpoint.js";
import { readinessHandler, type ReadinessCheck } from "./readiness.js";
import { DEFAULT_MAX_SESSIONS, DEFAULT_SESSION_IDLE_MS, SessionRegistry } from "./sessions.js";

export const DEFAULT_SHUTDOWN_TIMEOUT_MS = 30_000;
/** Receiving a whole request (a 28 MB body on a slow link included); responses stream for as long as calls run. */
const REQUEST_TIMEOUT_MS = 120_000;
const HEADERS_TIMEOUT_MS = 30_000;
const KEEP_ALIVE_TIMEOUT_MS = 10_000;

export interface HttpServerOptions {
  listen: ListenAddress;
  createServer: SessionFactory;
  limits: Pick<SavLimits, "maxImageBytes">;
  auth: AuthSettings;
  stateless?: boolean;
  /** Extra Host header names accepted (DNS-rebinding protection); loopback binds accept loopback names. */
  allowedHosts?: string[];
  /** Browser origins allowed (CORS); none by default. */
  corsOrigins?: string[];
  /** The URL clients use when it is not the bind address (behind a proxy); the resource id in auth metadata. */
  publicUrl?: string;
  readiness?: Record<string, ReadinessCheck>;
  maxSessions?: number;
  sessionIdleMs?: number;
  /** Most tool calls one tenant may have running at once (default DEFAULT_MAX_CALLS_PER_TENANT). */
  maxCallsPerTenant?: number;
  log?: (message: string) => void;
}

export interface ShutdownReport {
  /** Calls that finished while draining. */
  finished: number;
  /** Calls still running at the deadline, cancelled. */
  cancelled: number;
}

export interface RunningHttpServer {
  /** The MCP endpoint at the bound address, e.g. http://127.0.0.1:3333/mcp. */
  url: string;
  /** The MCP endpoint as clients name it (--public-url), the resource id in auth metadata. */
  resourceUrl: string;
  port: number;
  sessionCount(): number;
  inFlightCount(): number;
  /** Stops accepting, lets in-flight calls finish until the deadline, cancels the rest. */
  shutdown(timeoutMs?: number): Promise<ShutdownReport>;
}

export class InsecureBindError extends Error {
  constructor(host: string) {
    super(
      `Refusing to listen on ${host} without auth: anyone who can reach it could read and change every task. ` +
        "Set SAV_AUTH_TOKENS='tenant:token' (or SAV_AUTH_TOKENS_FILE, or SAV_JWT_ISSUER), or bind 127.0.0.1.",
    );
    this.name = "InsecureBindError";
  }
}

export async function startHttpServer(options: HttpServerOptions): Promise<RunningHttpServer> {
  const log = options.log ?? ((message: string) => process.stderr.write(`sav-mcp: ${message}\n`));
  const authOn = authConfigured(options.auth);
  if (!isLoopbackHost(options.listen.host) && !authOn) throw new InsecureBindError(options.listen.host);

  let draining = false;
  const sessions = new SessionRegistry(options.maxSessions ?? DEFAULT_MAX_SESSIONS, options.sessionIdleMs ?? DEFAULT_SESSION_IDLE_MS);
  const endpoint = new McpEndpoint({
    createServer: options.createServer,
    stateless: options.stateless ?? false,
    sessions,
    draining: () => draining,
    maxCallsPerTenant: options.maxCallsPerTenant ?? DEFAULT_MAX_CALLS_PER_TENANT,
  });
  const bodyLimit = maxRequestBodyBytes(options.limits);

  const app = express();
  app.disable("x-powered-by");
  // Probes come from orchestrators that address the pod by IP: before the Host check, and without auth.
  app.get("/healthz", (_req, res) => void res.json({ status: draining ? "draining" : "ok" }));
  app.get("/readyz", readinessHandler(options.readiness ?? {}, () => draining));
  const hosts = hostGuard(options.listen.host, options.allowedHosts ?? []);
  if (hosts) app.use(hosts);
  app.use(originGuard(options.corsOrigins ?? []));

  const httpServer = http.createServer(app);
  httpServer.requestTimeout = REQUEST_TIMEOUT_MS;
  httpServer.headersTimeout = HEADERS_TIMEOUT_MS;
  httpServer.keepAliveTimeout = KEEP_ALIVE_TIMEOUT_MS;
  await new Promise<void>((resolve, reject) => {
    httpServer.once("error", reject);
    httpServer.listen(options.listen.port, options.listen.host, () => {
      httpServer.off("error", reject);
      resolve();
    });
  });
  const port = (httpServer.address() as AddressInfo).port;
  const bound = `http://${urlHost(options.listen.host)}:${port}`;
  const base = (options.publicUrl ?? bound).replace(/\/$/, "");
  const resource = `${base}${MCP_PATH}`;
  const metadataUrl = `${base}${PROTECTED_RESOURCE_METADATA_PATH}${MCP_PATH}`;

  if (authOn) {
    const metadata = protectedResourceMetadata(options.auth, resource);
    for (const path of [PROTECTED_RESOURCE_METADATA_PATH, `${PROTECTED_RESOURCE_METADATA_PATH}${MCP_PATH}`]) {
      app.get(path, (_req, res) => void res.json(metadata));
    }
    app.use(MCP_PATH, bearerAuth(options.auth, resource, metadataUrl));
  }
  app.use(MCP_PATH, express.json({ limit: bodyLimit }), bodyErrorHandler(bodyLimit), endpoint.router());
  app.use((_req, res) => sendJsonRpcError(res, 404, `Not found: the MCP endpoint is ${MCP_PATH}; health checks are /healthz and /readyz.`));

  log(
    `serving MCP on ${bound}${MCP_PATH}${options.publicUrl ? ` (public ${resource})` : ""} (${options.stateless ? "stateless" : "stateful sessions"}; ` +
      `${authOn ? "bearer auth" : "no auth: loopback only"}; body limit ${Math.floor(bodyLimit / 2 ** 20)} MiB)`,
  );

  let shuttingDown: Promise<ShutdownReport> | undefined;
  const shutdown = (timeoutMs = DEFAULT_SHUTDOWN_TIMEOUT_MS): Promise<ShutdownReport> => {
    shuttingDown ??= (async () => {
      draining = true;
      const closed = new Promise<void>((resolve) => httpServer.close(() => resolve()));
      httpServer.closeIdleConnections();
      const running = endpoint.inFlight.size;
      await waitUntil(() => endpoint.inFlight.size === 0, timeoutMs);
      const cancelled = endpoint.inFlight.size;
      await endpoint.closeAll();
      httpServer.closeAllConnections();
      await closed;
      return { finished: running - cancelled, cancelled };
    })();
    return shuttingDown;
  };

  return {
    url: `${bound}${MCP_PATH}`,
    resourceUrl: resource,
    port,
    sessionCount: () => sessions.size,
    inFlightCount: () => endpoint.inFlight.size,
    shutdown,
  };
}

function waitUntil(condition: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  return new Promise((resolve) => {
    const poll = () => {
      if (condition() || Date.now() >= deadline) return resolve();
      setTimeout(poll, 50).unref();
    };
    poll();
  });
}

import { randomUUID } from "node:crypto";
import type { Request, Response, Router } from "express";
import express from "express";
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import { isInitializeRequest, isJSONRPCRequest } from "@modelcontextprotocol/sdk/types.js";
import type { SavServer } from "../create-server.js";
import { tenantOf } from "./auth.js";
import { BoundedEventStore } from "./event-store.js";
import { sendJsonRpcError } from "./guards.js";
import { SessionRegistry } from "./sessions.js";

/**
 * Makes the MCP server for one session (stateful) or one request (stateless), for a tenant. `lane` names
 * a stateless request in the inference queue; a session's calls take their session id as lane.
 */
export type SessionFactory = (context: { tenant: string | undefined; lane?: string }) => SavServer;

export interface McpEndpointOptions {
  createServer: SessionFactory;
  stateless: boolean;
  sessions: SessionRegistry;
  /** True once shutdown began: new calls are refused, in-flight ones finish. */
  draining: () => boolean;
  /** Most tool calls one tenant may have running at once, over all its sessions. */
  maxCallsPerTenant: number;
}

export const DEFAULT_MAX_CALLS_PER_TENANT = 4;

/** The ids of the tools/call requests in a POST body. */
function toolCallIds(body: unknown): (string | number)[] {
  const messages = Array.isArray(body) ? body : [body];
  return messages.filter((m) => isJSONRPCRequest(m) && m.method === "tools/call").map((m) => (m as { id: string | number }).id);
}

/** POSTs carrying at least one request (not only notifications or responses) are calls to wait for on shutdown. */
function carriesRequests(body: unknown): boolean {
  return Array.isArray(body) ? body.some((m) => isJSONRPCRequest(m)) : isJSONRPCRequest(body);
}

function isInitialize(body: unknown): boolean {
  return Array.isArray(body) ? body.some((m) => isInitializeRequest(m)) : isInitializeRequest(body);
}

function sessionIdOf(req: Request): string | undefined {
  const value = req.headers["mcp-session-id"];
  return Array.isArray(value) ? value[0] : value;
}

/**
 * The MCP endpoint's POST/GET/DELETE handlers over the SDK's Streamable HTTP transport, and the set
 * of calls in flight (what graceful shutdown waits for).
 */
export class McpEndpoint {
  readonly inFlight = new Set<Response>();
  /** Running tool calls per tenant ("" without auth). */
  private readonly callsByTenant = new Map<string, number>();
  /** Servers made for single stateless requests, closed when their response ends. */
  private readonly requestServers = new Set<SavServer>();

  constructor(private readonly options: McpEndpointOptions) {}

  router(): Router {
    const router = express.Router();
    router.post("/", (req, res) => void this.post(req, res).catch((error) => this.fail(res, error)));
    router.get("/", (req, res) => void this.reuse(req, res).catch((error) => this.fail(res, error)));
    router.delete("/", (req, res) => void this.reuse(req, res).catch((error) => this.fail(res, error)));
    return router;
  }

  /** Cancels everything still running: closes every session and per-request server. */
  async closeAll(): Promise<void> {
    await this.options.sessions.closeAll();
    await Promise.all([...this.requestServers].map((s) => s.close().catch(() => undefined)));
  }

  /**
   * Counts the request as in flight (and its tool calls against the tenant's limit) until its response
   * ends. Returns false, having answered each tool call with an isError result, when the tenant is at its limit.
   */
  private track(req: Request, res: Response): boolean {
    if (!carriesRequests(req.body)) return true;
    const key = tenantOf(req.auth) ?? "";
    const calls = toolCallIds(req.body);
    const running = this.callsByTenant.get(key) ?? 0;
    if (calls.length > 0 && running + calls.length > this.options.maxCallsPerTenant) {
      const limit = this.options.maxCallsPerTenant;
      const text =
        `Too many tool calls at once: ${limit} may run at a time per tenant and ${running} are running. ` +
        "Wait for one to finish, then retry; batch images into one classify_image or add_examples call instead of parallel calls.";
      const answers = calls.map((id) => ({ jsonrpc: "2.0", id, result: { content: [{ type: "text", text }], isError: true } }));
      res.status(200).json(Array.isArray(req.body) ? answers : answers[0]);
      return false;
    }
    this.callsByTenant.set(key, running + calls.length);
    this.inFlight.add(res);
    res.on("close", () => {
      this.inFlight.delete(res);
      const left = (this.callsByTenant.get(key) ?? calls.length) - calls.length;
      if (left > 0) this.callsByTenant.set(key, left);
      else this.callsByTenant.delete(key);
    });
    return true;
  }

  private async post(req: Request, res: Response): Promise<void> {
    if (this.options.draining() && carriesRequests(req.body)) {
      res.setHeader("Connection", "close");
      res.setHeader("Retry-After", "5");
      sendJsonRpcError(res, 503, "The server is shutting down; retry on another replica or after it restarts.");
      return;
    }
    const tenant = tenantOf(req.auth);
    if (this.options.stateless) return this.postStateless(req, res, tenant);

    const sessionId = sessionIdOf(req);
    if (sessionId !== undefined) {
      const session = this.options.sessions.find(sessionId, tenant);
      if (!session) {
        sendJsonRpcError(res, 404, "Session not found: it expired or the server restarted. Initialize a new session.");
        return;
      }
      if (!this.track(req, res)) return;
      await session.transport.handleRequest(req, res, req.body);
      return;
    }
    if (!isInitialize(req.body)) {
      sendJsonRpcError(res, 400, "No Mcp-Session-Id header: send an initialize request first, then pass the session id it returns.");
      return;
    }
    if (this.options.sessions.full) {
      sendJsonRpcError(res, 503, `The server has its maximum of ${this.options.sessions.maxSessions} open sessions; close one (DELETE) or retry later.`);
      return;
    }
    const savServer = this.options.createServer({ tenant });
    const transport = new StreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      eventStore: new BoundedEventStore(),
      onsessioninitialized: (id) => {
        this.options.sessions.add({ id, tenant, transport, savServer, lastUsed: Date.now() });
      },
      onsessionclosed: (id) => void this.options.sessions.close(id),
    });
    transport.onclose = () => {
      if (transport.sessionId) this.options.sessions.forget(transport.sessionId);
    };
    await savServer.server.connect(transport);
    this.track(req, res);
    await transport.handleRequest(req, res, req.body);
    if (!transport.sessionId) await savServer.close(); // initialization failed: nothing to keep
  }

  private async postStateless(req: Request, res: Response, tenant: string | undefined): Promise<void> {
    // Each request its own lane: behind a load balancer there is no session, and a tenant's single
    // classification must not queue behind its own bulk call either.
    const savServer = this.options.createServer({ tenant, lane: `request:${randomUUID()}` });
    const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined });
    this.requestServers.add(savServer);
    res.on("close", () => {
      this.requestServers.delete(savServer);
      void savServer.close().catch(() => undefined);
    });
    await savServer.server.connect(transport);
    if (!this.track(req, res)) return;
    await transport.handleRequest(req, res, req.body);
  }

  /** GET (the server-to-client stream) and DELETE (end the session) need an existing session. */
  private async reuse(req: Request, res: Response): Promise<void> {
    if (this.options.stateless) {
      res.setHeader("Allow", "POST");
      sendJsonRpcError(res, 405, "This server is stateless: only POST is supported on /mcp.");
      return;
    }
    const sessionId = sessionIdOf(req);
    const session = sessionId === undefined ? undefined : this.options.sessions.find(sessionId, tenantOf(req.auth));
    if (!session) {
      sendJsonRpcError(res, sessionId === undefined ? 400 : 404, "Unknown or missing Mcp-Session-Id: initialize a session first.");
      return;
    }
    await session.transport.handleRequest(req, res);
  }

  private fail(res: Response, error: unknown): void {
    process.stderr.write(`sav-mcp: HTTP request failed: ${error instanceof Error ? error.message : String(error)}\n`);
    sendJsonRpcError(res, 500, "The server could not handle this request; retry, and check the server log if it persists.");
  }
}

import type { ErrorRequestHandler, RequestHandler, Response } from "express";
import { hostHeaderValidation } from "@modelcontextprotocol/sdk/server/middleware/hostHeaderValidation.js";
import type { SavLimits } from "../../config.js";
import { isLoopbackHost, urlHost } from "./listen-address.js";

/** JSON-RPC error code the SDK uses for transport-level refusals. */
export const TRANSPORT_ERROR_CODE = -32000;
const MEBIBYTE = 1024 * 1024;

export function sendJsonRpcError(res: Response, status: number, message: string, code = TRANSPORT_ERROR_CODE): void {
  if (res.headersSent) return;
  res.status(status).json({ jsonrpc: "2.0", error: { code, message }, id: null });
}

/**
 * The largest request body: one image at the image byte limit, base64-encoded (4/3), plus room for
 * the rest of the JSON. Several large images belong in paths or URLs, not in one request body.
 */
export function maxRequestBodyBytes(limits: Pick<SavLimits, "maxImageBytes">): number {
  return Math.ceil(limits.maxImageBytes / 3) * 4 + MEBIBYTE;
}

/** Host names a loopback bind answers to; anything else is a DNS-rebinding attempt. */
export function loopbackHostNames(bindHost: string): string[] {
  return [...new Set(["localhost", "127.0.0.1", "[::1]", urlHost(bindHost)])];
}

/**
 * DNS-rebinding protection: Host validation on by default for loopback binds (and wherever allowed
 * hosts are configured). Returns undefined when nothing is to be checked.
 */
export function hostGuard(bindHost: string, allowedHosts: string[]): RequestHandler | undefined {
  const names = [...(isLoopbackHost(bindHost) ? loopbackHostNames(bindHost) : []), ...allowedHosts.map(urlHost)];
  return names.length > 0 ? hostHeaderValidation(names) : undefined;
}

const CORS_ALLOWED_HEADERS = "Content-Type, Authorization, Mcp-Session-Id, Mcp-Protocol-Version, Last-Event-ID";
const CORS_EXPOSED_HEADERS = "Mcp-Session-Id, WWW-Authenticate";

/**
 * Browsers send Origin; native MCP clients do not. A request with an Origin not configured with
 * --cors-origin is refused (403), and only configured origins get CORS headers: CORS is off by default.
 */
export function originGuard(allowedOrigins: string[]): RequestHandler {
  const allowed = new Set(allowedOrigins.map((origin) => origin.replace(/\/$/, "")));
  return (req, res, next) => {
    const origin = req.headers.origin;
    if (origin === undefined) return next();
    if (!allowed.has(origin)) {
      sendJsonRpcError(res, 403, `Origin '${origin.slice(0, 200)}' is not allowed; start the server with --cors-origin ${origin.slice(0, 200)} to allow it.`);
      return;
    }
    res.setHeader("Access-Control-Allow-Origin", origin);
    res.setHeader("Vary", "Origin");
    res.setHeader("Access-Control-Expose-Headers", CORS_EXPOSED_HEADERS);
    if (req.method === "OPTIONS") {
      res.setHeader("Access-Control-Allow-Methods", "GET, POST, DELETE, OPTIONS");
      res.setHeader("Access-Control-Allow-Headers", CORS_ALLOWED_HEADERS);
      res.setHeader("Access-Control-Max-Age", "600");
      res.status(204).end();
      return;
    }
    next();
  };
}

/** Body-parser failures as JSON-RPC errors that say what to do, never a stack trace. */
export function bodyErrorHandler(limitBytes: number): ErrorRequestHandler {
  return (error: { type?: string; status?: number }, _req, res, next) => {
    if (error?.type === "entity.too.large") {
      sendJsonRpcError(
        res,
        413,
        `Request body over ${Math.floor(limitBytes / MEBIBYTE)} MiB (one image at the image limit as base64, plus JSON). ` +
          "Pass large or many images as paths or URLs, or split the call.",
      );
      return;
    }
    if (error?.type === "entity.parse.failed") {
      sendJsonRpcError(res, 400, "The request body is not valid JSON.", -32700);
      return;
    }
    if (error?.type === "encoding.unsupported" || error?.type === "charset.unsupported") {
      sendJsonRpcError(res, 415, "The request body must be UTF-8 JSON.");
      return;
    }
    next(error);
  };
}

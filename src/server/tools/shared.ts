import type { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import type { RequestHandlerExtra } from "@modelcontextprotocol/sdk/shared/protocol.js";
import type { CallToolResult, ServerNotification, ServerRequest } from "@modelcontextprotocol/sdk/types.js";
import type { SavConfig } from "../../config.js";
import { errorText, isAgentFacingError } from "../errors.js";
import type { SessionLogLevels } from "../logging.js";
import type { CallContext, SavService } from "../sav-service.js";

export type ToolExtra = RequestHandlerExtra<ServerRequest, ServerNotification>;

/** What every tool module needs to register itself. */
export interface ToolDeps {
  server: McpServer;
  service: SavService;
  config: SavConfig;
  logs: SessionLogLevels;
  /** The call's lane in the inference queue (its MCP session). */
  lane: (extra: ToolExtra) => string;
}

/** A successful result: structured content plus the same JSON (compact) as text for clients that only read text. */
export function structuredResult(value: object): CallToolResult {
  return {
    structuredContent: value as Record<string, unknown>,
    content: [{ type: "text", text: JSON.stringify(value) }],
  };
}

export function errorResult(error: unknown): CallToolResult {
  if (!isAgentFacingError(error)) process.stderr.write(`sav-mcp: unexpected error: ${error instanceof Error ? error.stack : String(error)}\n`);
  return { isError: true, content: [{ type: "text", text: errorText(error) }] };
}

/** Runs a tool body, turning every failure into an isError result whose text tells the agent how to recover. */
export async function runTool(body: () => Promise<object> | object): Promise<CallToolResult> {
  try {
    return structuredResult(await body());
  } catch (error) {
    return errorResult(error);
  }
}

/**
 * The call's cancellation signal and a progress reporter that sends `notifications/progress` when the
 * client asked for it (sent a progressToken). Progress must increase strictly, so a value that would go
 * backwards (e.g. a model download after validation) is nudged just above the last one.
 */
export function callContext(extra: ToolExtra, logs?: SessionLogLevels, lane?: string): CallContext {
  const token = extra._meta?.progressToken;
  const log = logs?.forCall(extra);
  if (token === undefined) return { signal: extra.signal, log, lane };
  let last = -Infinity;
  return {
    signal: extra.signal,
    log,
    lane,
    progress: (progress, total, message) => {
      if (extra.signal.aborted) return;
      const increasing = progress > last;
      const value = increasing ? progress : last + 1e-3;
      last = value;
      extra
        .sendNotification({
          method: "notifications/progress",
          params: { progressToken: token, progress: value, ...(increasing && total !== undefined ? { total } : {}), message },
        })
        .catch(() => {
          // The client went away; the call itself decides what happens next.
        });
    },
  };
}

/**
 * Adds a picture (PNG) to a successful result as MCP image content. A picture that cannot be drawn becomes a
 * text line, so the result itself still arrives.
 */
export async function withPicture(result: CallToolResult, draw: () => Promise<Buffer>): Promise<CallToolResult> {
  if (result.isError) return result;
  try {
    const png = await draw();
    return { ...result, content: [...result.content, { type: "image", data: png.toString("base64"), mimeType: "image/png" }] };
  } catch (error) {
    return { ...result, content: [...result.content, { type: "text", text: `The head map could not be drawn: ${errorText(error)}` }] };
  }
}

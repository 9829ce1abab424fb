import type { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { LoggingLevelSchema, SetLevelRequestSchema, type LoggingLevel } from "@modelcontextprotocol/sdk/types.js";

export type { LoggingLevel };

/** Where a call's log lines go: `notifications/message` to the client that made the call. */
export type CallLog = (level: LoggingLevel, message: string) => void;

const LOGGER = "sav-mcp";
const SEVERITY = new Map(LoggingLevelSchema.options.map((level, index) => [level, index]));

/**
 * The MCP logging capability: the level each session asked for with `logging/setLevel` (everything
 * until it asks), and a per-call logger that sends `notifications/message` on the call's own stream.
 * The SDK keeps its own table privately, so this one replaces its `logging/setLevel` handler.
 */
export class SessionLogLevels {
  private readonly levels = new Map<string | undefined, LoggingLevel>();

  constructor(server: McpServer) {
    server.server.setRequestHandler(SetLevelRequestSchema, async (request, extra) => {
      this.levels.set(extra.sessionId, request.params.level);
      return {};
    });
  }

  wants(level: LoggingLevel, sessionId: string | undefined): boolean {
    const threshold = this.levels.get(sessionId);
    return threshold === undefined || SEVERITY.get(level)! >= SEVERITY.get(threshold)!;
  }

  /** A logger for one call; sending failures are ignored (the client went away). */
  forCall(extra: { sessionId?: string; sendNotification: (n: { method: "notifications/message"; params: { level: LoggingLevel; logger: string; data: string } }) => Promise<void> }): CallLog {
    return (level, message) => {
      if (!this.wants(level, extra.sessionId)) return;
      extra.sendNotification({ method: "notifications/message", params: { level, logger: LOGGER, data: message } }).catch(() => {});
    };
  }
}

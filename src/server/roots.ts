import { fileURLToPath } from "node:url";
import type { Server } from "@modelcontextprotocol/sdk/server/index.js";
import { RootsListChangedNotificationSchema } from "@modelcontextprotocol/sdk/types.js";

const ROOTS_TIMEOUT_MS = 5_000;

/**
 * The directories the connected client declares as its roots (file:// URIs only). They extend the
 * configured allowed image directories. Fetched on first use and again after the client says they changed.
 */
export class ClientRoots {
  private cached: Promise<string[]> | undefined;

  constructor(private readonly server: Server) {
    server.setNotificationHandler(RootsListChangedNotificationSchema, async () => {
      this.cached = undefined;
    });
  }

  dirs(): Promise<string[]> {
    if (!this.server.getClientCapabilities()?.roots) return Promise.resolve([]);
    this.cached ??= this.fetch();
    return this.cached;
  }

  private async fetch(): Promise<string[]> {
    try {
      const { roots } = await this.server.listRoots(undefined, { timeout: ROOTS_TIMEOUT_MS });
      return roots.flatMap((root) => {
        if (!root.uri.startsWith("file://")) return [];
        try {
          return [fileURLToPath(root.uri)];
        } catch {
          return [];
        }
      });
    } catch (error) {
      // A client that advertises roots but fails to list them only loses the extra directories.
      process.stderr.write(`sav-mcp: could not list the client's roots: ${String(error)}\n`);
      this.cached = undefined;
      return [];
    }
  }
}

import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import type { SavServer } from "../create-server.js";

export const DEFAULT_MAX_SESSIONS = 256;
export const DEFAULT_SESSION_IDLE_MS = 30 * 60_000;
const IDLE_SWEEP_MS = 60_000;

export interface Session {
  id: string;
  /** The tenant that opened it; a request under another tenant's token never reaches it. */
  tenant: string | undefined;
  transport: StreamableHTTPServerTransport;
  savServer: SavServer;
  lastUsed: number;
}

/**
 * Open stateful sessions: one MCP server each, over services shared by all. Sessions idle longer
 * than the idle limit are closed (a client that comes back re-initializes).
 */
export class SessionRegistry {
  private readonly sessions = new Map<string, Session>();
  private readonly sweeper: NodeJS.Timeout;

  constructor(
    readonly maxSessions = DEFAULT_MAX_SESSIONS,
    private readonly idleMs = DEFAULT_SESSION_IDLE_MS,
  ) {
    this.sweeper = setInterval(() => void this.closeIdle(), Math.min(IDLE_SWEEP_MS, idleMs));
    this.sweeper.unref();
  }

  get size(): number {
    return this.sessions.size;
  }

  get full(): boolean {
    return this.sessions.size >= this.maxSessions;
  }

  add(session: Session): void {
    this.sessions.set(session.id, session);
  }

  /** The session, if it exists and belongs to this tenant. */
  find(id: string, tenant: string | undefined): Session | undefined {
    const session = this.sessions.get(id);
    if (!session || session.tenant !== tenant) return undefined;
    session.lastUsed = Date.now();
    return session;
  }

  forget(id: string): void {
    this.sessions.delete(id);
  }

  async close(id: string): Promise<void> {
    const session = this.sessions.get(id);
    if (!session) return;
    this.sessions.delete(id);
    // Closing the server closes its transport, which aborts its running handlers and ends its streams.
    await session.savServer.close().catch(() => undefined);
  }

  async closeIdle(now = Date.now()): Promise<void> {
    const idle = [...this.sessions.values()].filter((s) => now - s.lastUsed > this.idleMs);
    await Promise.all(idle.map((s) => this.close(s.id)));
  }

  async closeAll(): Promise<void> {
    clearInterval(this.sweeper);
    await Promise.all([...this.sessions.keys()].map((id) => this.close(id)));
  }
}

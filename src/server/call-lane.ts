/** How a server names the inference-queue lane of its calls (see FairQueue: lanes take turns on the model). */
export interface LaneSettings {
  /** The tenant the server serves, so two tenants never share a lane. */
  tenant?: string;
  /** The lane of every call on a server without sessions: one stateless HTTP request. */
  lane?: string;
}

/** A stdio server has one client, so one lane. */
export const STDIO_LANE = "stdio";

/** The call's MCP session when the transport has one (stateful HTTP), else the server's own lane. */
export function callLane(settings: LaneSettings | undefined, sessionId: string | undefined): string {
  const own = sessionId !== undefined ? `session:${sessionId}` : (settings?.lane ?? STDIO_LANE);
  return settings?.tenant === undefined ? own : `tenant:${settings.tenant}/${own}`;
}

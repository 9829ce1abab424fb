import type { EventId, EventStore, StreamId } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import type { JSONRPCMessage } from "@modelcontextprotocol/sdk/types.js";

export const DEFAULT_EVENTS_PER_SESSION = 1_000;

/**
 * Resumable SSE for one session: the last messages of each stream, so a client that lost its
 * connection can reconnect with Last-Event-ID and receive what it missed. Bounded: the oldest
 * events are dropped first (a client that was away that long re-issues its request instead).
 */
export class BoundedEventStore implements EventStore {
  private readonly events = new Map<EventId, { streamId: StreamId; message: JSONRPCMessage }>();
  private sequence = 0;

  constructor(private readonly capacity = DEFAULT_EVENTS_PER_SESSION) {}

  async storeEvent(streamId: StreamId, message: JSONRPCMessage): Promise<EventId> {
    // Zero-padded, so ids sort in the order they were stored.
    const eventId = `${String(++this.sequence).padStart(12, "0")}:${streamId}`;
    this.events.set(eventId, { streamId, message });
    while (this.events.size > this.capacity) {
      const oldest = this.events.keys().next().value as EventId;
      this.events.delete(oldest);
    }
    return eventId;
  }

  async getStreamIdForEventId(eventId: EventId): Promise<StreamId | undefined> {
    return this.events.get(eventId)?.streamId;
  }

  async replayEventsAfter(
    lastEventId: EventId,
    { send }: { send: (eventId: EventId, message: JSONRPCMessage) => Promise<void> },
  ): Promise<StreamId> {
    const last = this.events.get(lastEventId);
    if (!last) return "";
    let after = false;
    // Map iteration follows insertion order, which is the order the events were sent in.
    for (const [eventId, event] of [...this.events]) {
      if (eventId === lastEventId) {
        after = true;
        continue;
      }
      if (after && event.streamId === last.streamId) await send(eventId, event.message);
    }
    return last.streamId;
  }

  get size(): number {
    return this.events.size;
  }
}

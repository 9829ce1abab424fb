import { describe, expect, it } from "vitest";
import { BoundedEventStore } from "../../../src/server/http/event-store.js";
import { maxRequestBodyBytes } from "../../../src/server/http/guards.js";
import { isLoopbackHost, ListenAddressError, parseListenAddress } from "../../../src/server/http/listen-address.js";

describe("--http addresses", () => {
  it("defaults the host to 127.0.0.1 and reads host:port and [ipv6]:port", () => {
    expect(parseListenAddress("3333")).toEqual({ host: "127.0.0.1", port: 3333 });
    expect(parseListenAddress("0.0.0.0:80")).toEqual({ host: "0.0.0.0", port: 80 });
    expect(parseListenAddress("[::1]:3333")).toEqual({ host: "::1", port: 3333 });
    expect(() => parseListenAddress("::1:3333")).toThrow(/brackets/);
    expect(() => parseListenAddress("host:70000")).toThrow(ListenAddressError);
    expect(() => parseListenAddress("host:http")).toThrow(/e.g. 3333/);
  });

  it("treats only loopback addresses as loopback", () => {
    expect(["127.0.0.1", "127.1.2.3", "localhost", "::1", "[::1]"].every(isLoopbackHost)).toBe(true);
    expect(["0.0.0.0", "::", "10.0.0.1", "example.com", "127.0.0.1.example.com"].some(isLoopbackHost)).toBe(false);
  });

  it("sizes the body limit for one image at the image limit as base64", () => {
    const limit = maxRequestBodyBytes({ maxImageBytes: 20 * 1024 * 1024 });
    expect(limit).toBeGreaterThan((20 * 1024 * 1024 * 4) / 3);
    expect(limit).toBeLessThan(30 * 1024 * 1024);
  });
});

describe("the resumable-stream event store", () => {
  const message = (id: number) => ({ jsonrpc: "2.0" as const, method: "notifications/progress", params: { id } });

  it("replays the events of the same stream after the last one seen, in order", async () => {
    const store = new BoundedEventStore();
    const a1 = await store.storeEvent("a", message(1));
    await store.storeEvent("b", message(2));
    await store.storeEvent("a", message(3));
    await store.storeEvent("a", message(4));
    const replayed: unknown[] = [];
    const stream = await store.replayEventsAfter(a1, { send: async (_id, m) => void replayed.push(m) });
    expect(stream).toBe("a");
    expect(replayed).toEqual([message(3), message(4)]);
  });

  it("keeps at most its capacity, dropping the oldest", async () => {
    const store = new BoundedEventStore(3);
    const first = await store.storeEvent("a", message(1));
    for (let i = 2; i <= 5; i++) await store.storeEvent("a", message(i));
    expect(store.size).toBe(3);
    expect(await store.replayEventsAfter(first, { send: async () => undefined })).toBe("");
  });
});

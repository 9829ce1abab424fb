import { describe, expect, it } from "vitest";
import { callLane, STDIO_LANE } from "../../src/server/call-lane.js";

describe("the inference-queue lane of a call", () => {
  it("is the MCP session over stateful HTTP, the request's lane when stateless, one lane over stdio; tenants never share one", () => {
    expect(callLane(undefined, undefined)).toBe(STDIO_LANE);
    expect(callLane({}, "abc")).toBe("session:abc");
    expect(callLane({ tenant: "alpha" }, "abc")).toBe("tenant:alpha/session:abc");
    expect(callLane({ tenant: "alpha", lane: "request:1" }, undefined)).toBe("tenant:alpha/request:1");
    expect(callLane({ tenant: "beta", lane: "request:1" }, undefined)).not.toBe(callLane({ tenant: "alpha", lane: "request:1" }, undefined));
  });
});

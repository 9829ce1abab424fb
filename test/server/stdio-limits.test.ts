import { randomBytes } from "node:crypto";
import path from "node:path";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEFAULT_LIMITS, TINY_MODEL_ID } from "../../src/config.js";
import { findRequestId } from "../../src/server/stdio-transport.js";
import { noiseImage, shapeImage } from "../support/images.js";
import { BUILT_CLI, builtCliExists, startStdioServer, type StdioServer } from "../support/stdio-server.js";
import { makeTempDir } from "../support/temp-dir.js";

const built = builtCliExists();
if (!built) process.stderr.write(`test/server/stdio-limits.test.ts: skipped because ${BUILT_CLI} is missing; run \`npm run build\` first.\n`);

describe("finding the id of a request that was not parsed", () => {
  it("reads it from the start or, as the SDK writes it, the end", () => {
    expect(findRequestId('{"jsonrpc":"2.0","id":7,"method":"tools/call"', "")).toBe(7);
    expect(findRequestId('{"id":"a-1","method"', "")).toBe("a-1");
    expect(findRequestId('{"method":"tools/call","params":{"id":3', ',"jsonrpc":"2.0","id":12}')).toBe(12);
    expect(findRequestId('{"method":"notifications/x","params":{"id":3', '"jsonrpc":"2.0"}')).toBeUndefined();
  });
});

describe.skipIf(!built)("the built CLI over stdio with large messages", () => {
  let temp: ReturnType<typeof makeTempDir>;
  let server: StdioServer;

  const callTool = async (name: string, args: Record<string, unknown>) => (await server.client.callTool({ name, arguments: args })) as CallToolResult;
  const text = (result: CallToolResult) => (result.content[0]?.type === "text" ? result.content[0].text : "");

  beforeAll(async () => {
    temp = makeTempDir();
    server = await startStdioServer({
      env: {
        SAV_DATA_DIR: path.join(temp.dir, "data"),
        SAV_MODELS_DIR: path.join(temp.dir, "models"),
        SAV_ALLOWED_DIRS: path.join(temp.dir, "missing-images"),
      },
    });
    const created = await callTool("create_sav_task", { name: "big", prompt: "What is it?", model: TINY_MODEL_ID, heads: 4 });
    expect(created.isError, text(created)).toBeFalsy();
  });
  afterAll(async () => {
    await server?.close();
    temp?.cleanup();
  });

  it("warns at start-up about an allowed directory that does not exist", () => {
    expect(server.stderr()).toMatch(/allowed directory .*missing-images does not exist/);
  });

  it("answers an 11 MB data string (over the SDK's 10 MiB) with an image error and stays alive", async () => {
    const data = randomBytes(Math.ceil((11 * 1024 * 1024 * 3) / 4)).toString("base64");
    expect(data.length).toBeGreaterThanOrEqual(11 * 1024 * 1024);
    const result = await callTool("add_examples", { task: "big", examples: [{ image: { data }, label: "noise" }] });
    expect(result.isError).toBe(true);
    expect(text(result)).toMatch(/image/i);
    expect(text(result)).not.toMatch(/Unexpected error/);
  });

  it("stores a valid ~8 MB image sent as base64", async () => {
    const png = await noiseImage(1650, 1650, 3);
    expect(png.length).toBeGreaterThan(7.5 * 1024 * 1024);
    const result = await callTool("add_examples", {
      task: "big",
      examples: [
        { image: `data:image/png;base64,${png.toString("base64")}`, label: "noise" },
        { image: { data: (await shapeImage("red-circle", 1)).toString("base64") }, label: "circle" },
      ],
    });
    expect(result.isError, text(result)).toBeFalsy();
    expect((result.structuredContent as { examplesPerLabel: Record<string, number> }).examplesPerLabel).toEqual({ noise: 1, circle: 1 });
  });

  it("answers a message over its own limit with an error naming the limit, and keeps serving", async () => {
    const data = "A".repeat(DEFAULT_LIMITS.maxMessageBytes + 1024);
    const result = await callTool("classify_image", { task: "big", image: { data } });
    expect(result.isError).toBe(true);
    expect(text(result)).toMatch(/over this server's \d+ MiB limit for one MCP message/);
    expect(text(result)).toMatch(/as a path inside the allowed directories or as a URL/);
    const after = await callTool("list_tasks", {});
    expect(after.isError, text(after)).toBeFalsy();
    expect(server.stderr()).toMatch(/refused a \d+-byte message/);
  });

  it("refuses a path image when no allowed directory exists, saying how to allow one", async () => {
    const result = await callTool("classify_image", { task: "big", image: "/etc/passwd" });
    expect(result.isError).toBe(true);
    expect(text(result)).toMatch(/outside the allowed directories.*--allowed-dir/s);
  });
});

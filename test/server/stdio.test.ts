import path from "node:path";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { AjvJsonSchemaValidator } from "@modelcontextprotocol/sdk/validation/ajv";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TINY_MODEL_ID } from "../../src/config.js";
import { TOOL_NAMES } from "../../src/server/tools/index.js";
import { writeShapeImages } from "../support/images.js";
import { BUILT_CLI, builtCliExists, startStdioServer, type StdioServer } from "../support/stdio-server.js";
import { makeTempDir } from "../support/temp-dir.js";

const built = builtCliExists();
if (!built) {
  process.stderr.write(`test/server/stdio.test.ts: skipped because ${BUILT_CLI} is missing; run \`npm run build\` first (CI builds before testing).\n`);
}

describe.skipIf(!built)("the built CLI over stdio (dist/cli.js serve)", () => {
  let temp: ReturnType<typeof makeTempDir>;
  let server: StdioServer;
  let images: Awaited<ReturnType<typeof writeShapeImages>>;

  beforeAll(async () => {
    temp = makeTempDir();
    const imagesDir = path.join(temp.dir, "images");
    images = await writeShapeImages(imagesDir, 2);
    server = await startStdioServer({
      env: {
        SAV_DATA_DIR: path.join(temp.dir, "data"),
        SAV_MODELS_DIR: path.join(temp.dir, "models"),
        SAV_ALLOWED_DIRS: imagesDir,
      },
    });
  });
  afterAll(async () => {
    await server?.close();
    temp?.cleanup();
  });

  it("lists the tools and answers classify_image with content that matches its declared output schema", async () => {
    const { client } = server;
    const { tools } = await client.listTools();
    expect(tools.map((t) => t.name).sort()).toEqual([...TOOL_NAMES].sort());
    const classifyTool = tools.find((t) => t.name === "classify_image")!;
    expect(classifyTool.outputSchema).toBeDefined();

    const ok = async (name: string, args: Record<string, unknown>) => {
      const result = (await client.callTool({ name, arguments: args })) as CallToolResult;
      expect(result.isError, JSON.stringify(result.content)).toBeFalsy();
      return result;
    };
    await ok("create_sav_task", { name: "stdio", prompt: "Circle or square?", model: TINY_MODEL_ID, heads: 4 });
    await ok("add_examples", {
      task: "stdio",
      examples: [
        ...images["red-circle"].map((file) => ({ image: { path: file }, label: "circle" })),
        ...images["blue-square"].map((file) => ({ image: { path: file }, label: "square" })),
      ],
    });
    const result = await ok("classify_image", { task: "stdio", image: { path: images["red-circle"][0] } });

    const validate = new AjvJsonSchemaValidator().getValidator(classifyTool.outputSchema!);
    const verdict = validate(result.structuredContent);
    expect(verdict.valid, verdict.valid ? "" : verdict.errorMessage).toBe(true);
    const structured = result.structuredContent as { results: { label: string }[] };
    expect(structured.results).toHaveLength(1);
    // The text block is the same JSON, for clients that only read text.
    const first = result.content[0]!;
    expect(first.type === "text" ? JSON.parse(first.text) : null).toEqual(result.structuredContent);
    // The server logged to stderr only; stdout stayed a clean JSON-RPC channel (else the client would have failed).
    expect(server.stderr()).toMatch(/serving MCP on stdio/);
  });
});

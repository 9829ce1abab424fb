import path from "node:path";
import { pathToFileURL } from "node:url";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { InMemoryTransport } from "@modelcontextprotocol/sdk/inMemory.js";
import { ListRootsRequestSchema, type CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TINY_MODEL_ID } from "../../src/config.js";
import { createSavServer, type SavServer } from "../../src/server/create-server.js";
import type { ModelProvider } from "../../src/server/models.js";
import { writeShapeImages } from "../support/images.js";
import { callOk, testConfig, testModels, textOf } from "../support/mcp-harness.js";
import { makeTempDir } from "../support/temp-dir.js";

describe("client roots and per-example text", () => {
  let temp: ReturnType<typeof makeTempDir>;
  let models: ModelProvider;
  let savServer: SavServer;
  let client: Client;
  let configured: Awaited<ReturnType<typeof writeShapeImages>>;
  let fromRoot: Awaited<ReturnType<typeof writeShapeImages>>;
  let roots: string[];

  beforeAll(async () => {
    temp = makeTempDir();
    const configuredDir = path.join(temp.dir, "configured");
    const rootDir = path.join(temp.dir, "client-root");
    configured = await writeShapeImages(configuredDir, 2);
    fromRoot = await writeShapeImages(rootDir, 1, 50);
    roots = [rootDir];
    const config = testConfig({ dataDir: path.join(temp.dir, "data"), modelsDir: path.join(temp.dir, "models"), allowedDirs: [configuredDir] });
    models = testModels(config);
    savServer = createSavServer({ config, models });
    client = new Client({ name: "roots-client", version: "1.0.0" }, { capabilities: { roots: { listChanged: true } } });
    client.setRequestHandler(ListRootsRequestSchema, async () => ({ roots: roots.map((dir) => ({ uri: pathToFileURL(dir).href, name: "images" })) }));
    const [clientTransport, serverTransport] = InMemoryTransport.createLinkedPair();
    await Promise.all([savServer.server.connect(serverTransport), client.connect(clientTransport)]);
  });
  afterAll(async () => {
    await client?.close();
    await savServer?.close();
    await models?.close();
    temp?.cleanup();
  });

  it("fills {text} from each example and query, and reads images under the client's roots until they change", async () => {
    await callOk(client, "create_sav_task", { name: "claims", prompt: "Claim: {text}. Does the picture support it? Answer yes or no.", model: TINY_MODEL_ID });
    const added = await callOk<{ exampleCount: number }>(client, "add_examples", {
      task: "claims",
      examples: [
        { image: { path: configured["red-circle"][0] }, text: "there is a red circle", label: "yes" },
        { image: { path: configured["red-circle"][1] }, text: "there is a blue square", label: "no" },
        // Every example of a task has the same number of images (multi-image tasks: datasets-and-sources.test.ts).
        { images: [{ path: configured["blue-square"][0] }], text: "it shows a square", label: "yes" },
        { image: { path: fromRoot["blue-square"][0] }, text: "there is a red circle", label: "no" },
      ],
    });
    expect(added.exampleCount).toBe(4);

    const query = { task: "claims", image: { path: fromRoot["red-circle"][0] } };
    const withText = (text: string) => callOk<{ results: { votes: Record<string, number> }[] }>(client, "classify_image", { ...query, text });
    const a = await withText("there is a red circle");
    const b = await withText("there is a red circle");
    expect(b.results[0]!.votes).toEqual(a.results[0]!.votes);
    const noText = (await client.callTool({ name: "classify_image", arguments: query })) as CallToolResult;
    expect(noText.isError).toBe(true);
    expect(textOf(noText)).toMatch(/needs `text`/);

    // The client drops its root: that directory is no longer readable.
    roots = [];
    await client.sendRootsListChanged();
    await new Promise((resolve) => setTimeout(resolve, 50));
    const refused = (await client.callTool({ name: "classify_image", arguments: { ...query, text: "x" } })) as CallToolResult;
    expect(refused.isError).toBe(true);
    expect(textOf(refused)).toMatch(/outside the allowed image directories/);
  });
});

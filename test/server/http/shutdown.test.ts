import fs from "node:fs";
import path from "node:path";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TINY_MODEL_ID } from "../../../src/config.js";
import { SavStore } from "../../../src/store/index.js";
import { GatedModels } from "../../support/gated-models.js";
import { shapeImage, writeShapeImages } from "../../support/images.js";
import { startHttpProcess } from "../../support/http-process.js";
import { MCP_POST_HEADERS, rawRequest, startHttpHarness } from "../../support/http-server.js";
import { callOk, testConfig, testModels } from "../../support/mcp-harness.js";
import { makeTempDir } from "../../support/temp-dir.js";

const MANY = 40;

describe("graceful shutdown", () => {
  let temp: ReturnType<typeof makeTempDir>;
  let imagesDir: string;

  beforeAll(async () => {
    temp = makeTempDir();
    imagesDir = path.join(temp.dir, "images");
    await writeShapeImages(imagesDir, 2);
    // Distinct images, so the runner's result cache cannot make the in-flight call finish early.
    for (let i = 0; i < MANY; i++) fs.writeFileSync(path.join(imagesDir, `many-${i}.png`), await shapeImage(i % 2 ? "red-circle" : "blue-square", 500 + i));
  });
  afterAll(() => temp?.cleanup());

  const manyExamples = () =>
    Array.from({ length: MANY }, (_, i) => ({ image: { path: path.join(imagesDir, `many-${i}.png`) }, label: i % 2 ? "circle" : "square" }));

  it("lets an in-flight call finish, refuses new calls meanwhile, then stops", async () => {
    const dir = path.join(temp.dir, "drain");
    const config = testConfig({ dataDir: path.join(dir, "data"), modelsDir: path.join(dir, "models"), allowedDirs: [imagesDir] });
    const models = new GatedModels(testModels(config), 0);
    const harness = await startHttpHarness({ dir, allowedDirs: [imagesDir], models });
    try {
      const { client } = await harness.connect();
      await callOk(client, "create_sav_task", { name: "drain", prompt: "Which?", model: TINY_MODEL_ID });
      const inFlight = client.callTool({ name: "add_examples", arguments: { task: "drain", examples: manyExamples().slice(0, 4) } });
      while (models.extractCalls === 0) await new Promise((resolve) => setTimeout(resolve, 10));
      const stopping = harness.running.shutdown(600_000);
      const refused = await rawRequest(harness.running, "/mcp", {
        method: "POST",
        headers: { ...MCP_POST_HEADERS, "mcp-session-id": "any" },
        body: JSON.stringify({ jsonrpc: "2.0", id: 7, method: "tools/list" }),
      }).catch((error: unknown) => error);
      // Either the listener is already closed (connection refused) or the request got a 503: never served.
      if (refused instanceof Response) expect(refused.status).toBe(503);
      else expect(refused).toBeInstanceOf(Error);
      models.release();
      const result = (await inFlight) as CallToolResult;
      expect(result.isError).toBeFalsy();
      expect(await stopping).toEqual({ finished: 1, cancelled: 0 });
      const task = (await harness.store.getTask("drain"))!;
      expect(Object.values(await harness.store.labelCounts(task.id)).reduce((a, b) => a + b, 0)).toBe(4);
    } finally {
      await harness.close();
      await models.close();
    }
  });

  for (const timeout of ["0", "600000"]) {
    it(`on SIGTERM during add_examples (--shutdown-timeout ${timeout}) keeps whole calls only`, async () => {
      const dataDir = path.join(temp.dir, `sigterm-${timeout}`);
      const server = await startHttpProcess({
        env: { SAV_DATA_DIR: dataDir, SAV_MODELS_DIR: path.join(temp.dir, "no-models"), SAV_ALLOWED_DIRS: imagesDir, SAV_MODEL: TINY_MODEL_ID },
        args: ["--shutdown-timeout", timeout, "--threads", "1"],
      });
      const client = await server.connect();
      await callOk(client, "create_sav_task", { name: "sigterm", prompt: "Which?", model: TINY_MODEL_ID });
      const first = await callOk<{ added: { id: number }[] }>(client, "add_examples", {
        task: "sigterm",
        examples: [{ image: { path: path.join(imagesDir, "red-circle-0.png") }, label: "circle" }],
      });
      let signalled = false;
      // A cancelled call's stream ends without a response; the client would wait for its request timeout.
      void server.exited.then(() => client.close());
      const outcome = await client
        .callTool({ name: "add_examples", arguments: { task: "sigterm", examples: manyExamples() } }, undefined, {
          onprogress: (p) => {
            if (!signalled && p.message === `extracted example 2 of ${MANY}`) {
              signalled = true;
              server.kill("SIGTERM");
            }
          },
        })
        .then((r) => r as CallToolResult, (error: unknown) => error);
      expect(signalled).toBe(true);
      expect(await server.exited).toBe(0);
      expect(server.stderr()).toMatch(timeout === "0" ? /0 call\(s\) finished, 1 cancelled/ : /1 call\(s\) finished, 0 cancelled/);

      const store = new SavStore({ dataDir });
      try {
        const task = store.getTask("sigterm")!;
        const ids = store.listExamples(task.id).map((e) => e.id);
        if (timeout === "0") {
          expect(outcome).not.toMatchObject({ isError: false });
          expect(ids).toEqual(first.added.map((a) => a.id));
        } else {
          expect((outcome as CallToolResult).isError).toBeFalsy();
          expect(ids).toHaveLength(1 + MANY);
        }
      } finally {
        store.close();
      }
    });
  }
});

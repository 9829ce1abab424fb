import fs from "node:fs";
import path from "node:path";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TINY_MODEL_ID } from "../../../src/config.js";
import { FairQueue } from "../../../src/model/fair-queue.js";
import { parseTokenList } from "../../../src/server/http/tokens.js";
import { GatedModels } from "../../support/gated-models.js";
import { shapeImage, writeShapeImages } from "../../support/images.js";
import { call, callOk, testConfig, testModels, textOf } from "../../support/mcp-harness.js";
import { startHttpHarness } from "../../support/http-server.js";
import { makeTempDir } from "../../support/temp-dir.js";

const ALPHA = "alpha-token-0123456789abcdef";
const BETA = "beta-token-0123456789abcdef";
const MANY = 40;

describe("sharing one server fairly", () => {
  let temp: ReturnType<typeof makeTempDir>;
  let imagesDir: string;
  let images: Awaited<ReturnType<typeof writeShapeImages>>;

  beforeAll(async () => {
    temp = makeTempDir();
    imagesDir = path.join(temp.dir, "images");
    images = await writeShapeImages(imagesDir, 2);
    for (let i = 0; i < MANY; i++) fs.writeFileSync(path.join(imagesDir, `many-${i}.png`), await shapeImage(i % 2 ? "red-circle" : "blue-square", 700 + i));
  });
  afterAll(() => temp?.cleanup());

  it("serves one session's single classification while another session's large add_examples is still running", async () => {
    const dir = path.join(temp.dir, "fair");
    const config = testConfig({ dataDir: path.join(dir, "data"), modelsDir: path.join(dir, "models"), allowedDirs: [imagesDir] });
    const starts: string[] = [];
    const models = new GatedModels(testModels(config, { queue: new FairQueue({ onStart: (lane) => starts.push(lane) }) }), Infinity);
    const harness = await startHttpHarness({
      dir,
      models,
      allowedDirs: [imagesDir],
      auth: { tokens: parseTokenList(`alpha:${ALPHA},beta:${BETA}`) },
      tenantDirs: new Map([["alpha", [imagesDir]], ["beta", [imagesDir]]]),
    });
    try {
      const big = await harness.connect(ALPHA);
      const small = await harness.connect(BETA);
      const bigLane = `tenant:alpha/session:${big.transport.sessionId}`;
      const smallLane = `tenant:beta/session:${small.transport.sessionId}`;
      await callOk(small.client, "create_sav_task", { name: "quick", prompt: "Which?", model: TINY_MODEL_ID });
      await callOk(small.client, "add_examples", {
        task: "quick",
        examples: [...images["red-circle"].map((p) => ({ image: { path: p }, label: "circle" })), ...images["blue-square"].map((p) => ({ image: { path: p }, label: "square" }))],
      });
      await callOk(big.client, "create_sav_task", { name: "bulk", prompt: "Which?", model: TINY_MODEL_ID });
      const done: string[] = [];
      let extracting!: () => void;
      const bigExtracting = new Promise<void>((resolve) => (extracting = resolve));
      const bigCall = big.client
        .callTool(
          {
            name: "add_examples",
            arguments: { task: "bulk", examples: Array.from({ length: MANY }, (_, i) => ({ image: { path: path.join(imagesDir, `many-${i}.png`) }, label: i % 2 ? "circle" : "square" })) },
          },
          undefined,
          {
            // Progress counts the MANY validations, then the extractions: past MANY, the model is busy with this call.
            onprogress: (p) => {
              if (p.progress > MANY) extracting();
            },
          },
        )
        .then((r) => {
          done.push("bulk");
          return r as CallToolResult;
        });
      await bigExtracting;
      const quick = await callOk<{ results: unknown[] }>(small.client, "classify_image", { task: "quick", image: { path: path.join(imagesDir, "many-39.png") } });
      done.push("quick");
      expect(quick.results).toHaveLength(1);
      expect((await bigCall).isError).toBeFalsy();
      expect(done).toEqual(["quick", "bulk"]);
      // Each session's extractions reached the model in its own lane, and the bulk call still had work
      // in the queue after the single classification's last job.
      expect(models.requests.filter((r) => r.lane === bigLane)).toHaveLength(MANY);
      // Four examples and the classification.
      expect(models.requests.filter((r) => r.lane === smallLane)).toHaveLength(5);
      expect(starts.lastIndexOf(smallLane)).toBeLessThan(starts.lastIndexOf(bigLane));
    } finally {
      await harness.close();
      await models.close();
    }
  });

  it("gives each stateless request its own lane", async () => {
    const dir = path.join(temp.dir, "stateless");
    const config = testConfig({ dataDir: path.join(dir, "data"), modelsDir: path.join(dir, "models"), allowedDirs: [imagesDir] });
    const models = new GatedModels(testModels(config), Infinity);
    const harness = await startHttpHarness({ dir, models, allowedDirs: [imagesDir], stateless: true });
    try {
      const { client } = await harness.connect();
      await callOk(client, "create_sav_task", { name: "s", prompt: "Which?", model: TINY_MODEL_ID });
      for (const shape of ["red-circle", "blue-square"] as const) {
        await callOk(client, "add_examples", { task: "s", examples: images[shape].map((p) => ({ image: { path: p }, label: shape })) });
      }
      const lanes = models.requests.map((r) => r.lane);
      expect(lanes).toHaveLength(4);
      expect(lanes[0]).toMatch(/^request:[0-9a-f-]{36}$/);
      expect(lanes[0]).toBe(lanes[1]);
      expect(lanes[2]).toBe(lanes[3]);
      expect(lanes[0]).not.toBe(lanes[2]);
    } finally {
      await harness.close();
      await models.close();
    }
  });

  it("limits the tool calls one tenant runs at once, without holding back another tenant", async () => {
    const dir = path.join(temp.dir, "limit");
    const config = testConfig({ dataDir: path.join(dir, "data"), modelsDir: path.join(dir, "models"), allowedDirs: [imagesDir] });
    const models = new GatedModels(testModels(config), 0);
    const harness = await startHttpHarness({
      dir,
      models,
      allowedDirs: [imagesDir],
      maxCallsPerTenant: 1,
      auth: { tokens: parseTokenList(`alpha:${ALPHA},beta:${BETA}`) },
      tenantDirs: new Map([["alpha", [imagesDir]], ["beta", [imagesDir]]]),
    });
    try {
      const alpha1 = (await harness.connect(ALPHA)).client;
      const alpha2 = (await harness.connect(ALPHA)).client;
      const beta = (await harness.connect(BETA)).client;
      await callOk(alpha1, "create_sav_task", { name: "held", prompt: "Which?", model: TINY_MODEL_ID });
      const held = alpha1.callTool({ name: "add_examples", arguments: { task: "held", examples: [{ image: { path: images["red-circle"][0] }, label: "a" }] } });
      while (models.extractCalls === 0) await new Promise((resolve) => setTimeout(resolve, 10));
      const refused = await call(alpha2, "list_tasks", {});
      expect(refused.isError).toBe(true);
      expect(textOf(refused)).toMatch(/1 may run at a time per tenant.*retry/);
      expect((await callOk<{ tasks: unknown[] }>(beta, "list_tasks", {})).tasks).toEqual([]);
      models.release();
      expect(((await held) as CallToolResult).isError).toBeFalsy();
      expect((await callOk<{ tasks: unknown[] }>(alpha2, "list_tasks", {})).tasks).toHaveLength(1);
    } finally {
      await harness.close();
      await models.close();
    }
  });
});

import fs from "node:fs";
import path from "node:path";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TINY_MODEL_ID } from "../../../src/config.js";
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
    const harness = await startHttpHarness({ dir: path.join(temp.dir, "fair"), allowedDirs: [imagesDir] });
    try {
      const big = await harness.connect();
      const small = await harness.connect();
      await callOk(small.client, "create_sav_task", { name: "quick", prompt: "Which?", model: TINY_MODEL_ID });
      await callOk(small.client, "add_examples", {
        task: "quick",
        examples: [...images["red-circle"].map((p) => ({ image: { path: p }, label: "circle" })), ...images["blue-square"].map((p) => ({ image: { path: p }, label: "square" }))],
      });
      await callOk(big.client, "create_sav_task", { name: "bulk", prompt: "Which?", model: TINY_MODEL_ID });
      let bigProgress = 0;
      let bigDone = false;
      let started!: () => void;
      const bigStarted = new Promise<void>((resolve) => (started = resolve));
      const bigCall = big.client
        .callTool(
          {
            name: "add_examples",
            arguments: { task: "bulk", examples: Array.from({ length: MANY }, (_, i) => ({ image: { path: path.join(imagesDir, `many-${i}.png`) }, label: i % 2 ? "circle" : "square" })) },
          },
          undefined,
          {
            onprogress: (p) => {
              bigProgress = Math.max(bigProgress, p.progress);
              if (p.progress >= 2) started();
            },
          },
        )
        .then((r) => {
          bigDone = true;
          return r as CallToolResult;
        });
      await bigStarted;
      const quick = await callOk<{ results: unknown[] }>(small.client, "classify_image", { task: "quick", image: { path: path.join(imagesDir, "many-39.png") } });
      expect(quick.results).toHaveLength(1);
      // The single classification did not wait for the whole bulk call: that one is still far from done.
      expect(bigDone).toBe(false);
      expect(bigProgress).toBeLessThan(MANY / 2);
      expect((await bigCall).isError).toBeFalsy();
    } finally {
      await harness.close();
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

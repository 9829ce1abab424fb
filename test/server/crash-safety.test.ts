import path from "node:path";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TINY_MODEL_ID } from "../../src/config.js";
import { shapeImage, writeShapeImages } from "../support/images.js";
import { callOk, startHarness } from "../support/mcp-harness.js";
import { startStdioServer } from "../support/stdio-server.js";
import { makeTempDir } from "../support/temp-dir.js";
import fs from "node:fs";

describe("a server process killed with SIGKILL", () => {
  let temp: ReturnType<typeof makeTempDir>;
  let imagesDir: string;
  let dirs: { dataDir: string; modelsDir: string; allowedDirs: string[] };

  beforeAll(async () => {
    temp = makeTempDir();
    imagesDir = path.join(temp.dir, "images");
    await writeShapeImages(imagesDir, 6);
    // Distinct images, so the runner's result cache cannot make the in-flight call finish early.
    for (let i = 0; i < 60; i++) fs.writeFileSync(path.join(imagesDir, `many-${i}.png`), await shapeImage(i % 2 ? "red-circle" : "blue-square", 1000 + i));
    dirs = { dataDir: path.join(temp.dir, "data"), modelsDir: path.join(temp.dir, "models"), allowedDirs: [imagesDir] };
  });
  afterAll(() => temp?.cleanup());

  it("keeps every completed add_examples call and nothing of the one in flight", async () => {
    const server = await startStdioServer({
      fromSource: true,
      env: { SAV_DATA_DIR: dirs.dataDir, SAV_MODELS_DIR: dirs.modelsDir, SAV_ALLOWED_DIRS: imagesDir },
    });
    const completed: number[][] = [];
    let killed = false;
    try {
      const { client } = server;
      await callOk(client, "create_sav_task", { name: "crash", prompt: "Circle or square?", model: TINY_MODEL_ID });
      for (let call = 0; call < 3; call++) {
        const result = await callOk<{ added: { id: number }[] }>(client, "add_examples", {
          task: "crash",
          examples: [0, 1].map((i) => ({ image: { path: path.join(imagesDir, `red-circle-${call * 2 + i}.png`) }, label: "circle" })),
        });
        completed.push(result.added.map((a) => a.id));
      }
      const inFlight = client
        .callTool(
          {
            name: "add_examples",
            arguments: {
              task: "crash",
              examples: Array.from({ length: 60 }, (_, i) => ({ image: { path: path.join(imagesDir, `many-${i}.png`) }, label: i % 2 ? "circle" : "square" })),
            },
          },
          undefined,
          {
            onprogress: (p) => {
              if (!killed && p.message === "extracted example 2 of 60") {
                killed = true;
                process.kill(server.transport.pid!, "SIGKILL");
              }
            },
          },
        )
        .then((r) => r as CallToolResult, (error: unknown) => error);
      const outcome = await inFlight;
      expect(killed).toBe(true);
      expect(outcome).toBeInstanceOf(Error);
    } finally {
      await server.close();
    }

    const after = await startHarness({ ...dirs });
    try {
      const task = await callOk<{ examplesPerLabel: Record<string, number>; exampleVersion: number; examples: { id: number }[] }>(
        after.client,
        "get_task",
        { task: "crash", includeExamples: true },
      );
      expect(task.examples.map((e) => e.id).sort((a, b) => a - b)).toEqual(completed.flat().sort((a, b) => a - b));
      expect(task.examplesPerLabel).toEqual({ circle: 6 });
      expect(task.exampleVersion).toBe(3);
    } finally {
      await after.close();
    }
  });
});

import fs from "node:fs";
import path from "node:path";
import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TINY_MODEL_ID } from "../../../src/config.js";
import { PostgresTaskStore } from "../../../src/store/index.js";
import { shapeImage, writeShapeImages } from "../../support/images.js";
import { startHttpProcess, type HttpProcess } from "../../support/http-process.js";
import { callOk } from "../../support/mcp-harness.js";
import { createTestDatabase, postgresAvailable, type TestDatabase } from "../../support/postgres.js";
import { makeTempDir } from "../../support/temp-dir.js";

const available = await postgresAvailable();

type Classified = { exampleVersion: number; results: { label: string; share: number; votes: Record<string, number> }[] };

describe.skipIf(!available)("two replicas on one PostgreSQL database", () => {
  let temp: ReturnType<typeof makeTempDir>;
  let database: TestDatabase;
  let imagesDir: string;
  let images: Awaited<ReturnType<typeof writeShapeImages>>;
  const replicas: HttpProcess[] = [];
  let a: Client;
  let b: Client;

  const start = (name: string) =>
    startHttpProcess({
      env: {
        SAV_STORE_URL: database.url,
        SAV_DATA_DIR: path.join(temp.dir, `unused-${name}`),
        SAV_MODELS_DIR: path.join(temp.dir, "no-models"),
        SAV_ALLOWED_DIRS: imagesDir,
        SAV_MODEL: TINY_MODEL_ID,
      },
      args: ["--threads", "1", "--shutdown-timeout", "0"],
    });

  beforeAll(async () => {
    temp = makeTempDir();
    database = await createTestDatabase();
    imagesDir = path.join(temp.dir, "images");
    images = await writeShapeImages(imagesDir, 4);
    for (let i = 0; i < 30; i++) fs.writeFileSync(path.join(imagesDir, `extra-${i}.png`), await shapeImage(i % 2 ? "red-circle" : "blue-square", 300 + i));
    replicas.push(await start("a"), await start("b"));
    a = await replicas[0]!.connect();
    b = await replicas[1]!.connect();
  });
  afterAll(async () => {
    for (const replica of replicas) {
      replica.kill("SIGKILL");
      await replica.exited;
    }
    await database?.drop();
    temp?.cleanup();
  });

  const example = (file: string, label: string) => ({ image: { path: file }, label });
  const classify = (client: Client, file: string) => callOk<Classified>(client, "classify_image", { task: "shared", image: { path: file } });

  it("classifies a task made on one replica identically on the other, also after it is extended there", async () => {
    await callOk(a, "create_sav_task", { name: "shared", prompt: "Circle or square?", model: TINY_MODEL_ID });
    await callOk(a, "add_examples", {
      task: "shared",
      examples: [...images["red-circle"].slice(0, 2).map((f) => example(f, "circle")), ...images["blue-square"].slice(0, 2).map((f) => example(f, "square"))],
    });
    const probe = images["red-circle"][3]!;
    const onA = await classify(a, probe);
    const onB = await classify(b, probe);
    expect(onB).toEqual(onA);
    expect(onA.exampleVersion).toBe(1);

    // Extended on B: A's cached classifier (version 1) must not be used for version 2.
    await callOk(b, "add_examples", {
      task: "shared",
      examples: [example(images["red-circle"][2]!, "circle"), example(images["blue-square"][2]!, "square"), example(images["blue-square"][3]!, "circle")],
    });
    const afterOnB = await classify(b, probe);
    const afterOnA = await classify(a, probe);
    expect(afterOnA.exampleVersion).toBe(2);
    expect(afterOnA).toEqual(afterOnB);
    const listed = await callOk<{ tasks: { name: string; exampleCount: number }[] }>(a, "list_tasks", {});
    expect(listed.tasks.find((t) => t.name === "shared")?.exampleCount).toBe(7);
  });

  it("keeps every whole call of concurrent add_examples on both replicas", async () => {
    const batch = (offset: number, label: string) => Array.from({ length: 5 }, (_, i) => example(path.join(imagesDir, `extra-${offset + i}.png`), label));
    const before = (await callOk<{ exampleCount: number }>(a, "get_task", { task: "shared" })).exampleCount;
    const results = await Promise.all([
      callOk<{ added: unknown[]; exampleVersion: number }>(a, "add_examples", { task: "shared", examples: batch(0, "circle") }),
      callOk<{ added: unknown[]; exampleVersion: number }>(b, "add_examples", { task: "shared", examples: batch(5, "square") }),
      callOk<{ added: unknown[]; exampleVersion: number }>(a, "add_examples", { task: "shared", examples: batch(10, "square") }),
      callOk<{ added: unknown[]; exampleVersion: number }>(b, "add_examples", { task: "shared", examples: batch(15, "circle") }),
    ]);
    expect(results.every((r) => r.added.length === 5)).toBe(true);
    expect(new Set(results.map((r) => r.exampleVersion)).size).toBe(4);
    const after = await callOk<{ exampleCount: number; exampleVersion: number }>(b, "get_task", { task: "shared" });
    expect(after.exampleCount).toBe(before + 20);
    expect(after.exampleVersion).toBe(6);
  });

  it("loses only the in-flight call of a replica killed mid-call", async () => {
    const before = await callOk<{ exampleCount: number; exampleVersion: number }>(a, "get_task", { task: "shared" });
    let killed = false;
    const victim = replicas[1]!;
    void victim.exited.then(() => b.close());
    const outcome = await b
      .callTool(
        { name: "add_examples", arguments: { task: "shared", examples: Array.from({ length: 10 }, (_, i) => example(path.join(imagesDir, `extra-${20 + i}.png`), "circle")) } },
        undefined,
        {
          onprogress: (p) => {
            if (!killed && p.message === "extracted example 2 of 10") {
              killed = true;
              victim.kill("SIGKILL");
            }
          },
        },
      )
      .then((r) => r as CallToolResult, (error: unknown) => error);
    expect(killed).toBe(true);
    expect(outcome).not.toMatchObject({ isError: false });
    const after = await callOk<{ exampleCount: number; exampleVersion: number }>(a, "get_task", { task: "shared" });
    expect(after).toMatchObject({ exampleCount: before.exampleCount, exampleVersion: before.exampleVersion });
    // The database is consistent for a store opened afresh, too.
    const store = await PostgresTaskStore.open({ url: database.url });
    try {
      const task = (await store.getTask("shared"))!;
      expect(Object.values(await store.labelCounts(task.id)).reduce((x, y) => x + y, 0)).toBe(before.exampleCount);
    } finally {
      await store.close();
    }
  });
});

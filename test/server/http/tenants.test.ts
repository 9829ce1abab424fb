import fs from "node:fs";
import path from "node:path";
import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TINY_MODEL_ID } from "../../../src/config.js";
import { parseTenantDirs, tenantAllowedDirs } from "../../../src/server/http/tenant-dirs.js";
import { parseTokenList } from "../../../src/server/http/tokens.js";
import { PostgresTaskStore, type TaskStore } from "../../../src/store/index.js";
import { writeShapeImages } from "../../support/images.js";
import { call, callOk, textOf } from "../../support/mcp-harness.js";
import { startHttpHarness, type HttpHarness } from "../../support/http-server.js";
import { createTestDatabase, postgresAvailable, type TestDatabase } from "../../support/postgres.js";
import { makeTempDir } from "../../support/temp-dir.js";

const ALPHA = "alpha-token-0123456789abcdef";
const BETA = "beta-token-0123456789abcdef";
const pgAvailable = await postgresAvailable();

describe("tenant directories", () => {
  it("gives each tenant its configured directories, else its own subdirectory of each allowed one", () => {
    const configured = parseTenantDirs(`alpha=/srv/a${path.delimiter}/srv/shared,beta=/srv/b`);
    expect(tenantAllowedDirs(["/data"], "alpha", configured)).toEqual([path.resolve("/srv/a"), path.resolve("/srv/shared")]);
    expect(tenantAllowedDirs(["/data", "/more"], "gamma", configured)).toEqual([path.join("/data", "gamma"), path.join("/more", "gamma")]);
    expect(tenantAllowedDirs(["/data"], undefined, configured)).toEqual(["/data"]);
    expect(() => parseTenantDirs("no-equals-sign")).toThrow(/tenant=DIR/);
  });
});

for (const kind of ["SQLite", "PostgreSQL"] as const) {
  describe.skipIf(kind === "PostgreSQL" && !pgAvailable)(`tenants on ${kind}`, () => {
    let temp: ReturnType<typeof makeTempDir>;
    let database: TestDatabase | undefined;
    let store: TaskStore | undefined;
    let harness: HttpHarness;
    let alpha: Client;
    let beta: Client;
    let files: string;
    let alphaImages: Awaited<ReturnType<typeof writeShapeImages>>;

    beforeAll(async () => {
      temp = makeTempDir();
      files = path.join(temp.dir, "files");
      alphaImages = await writeShapeImages(path.join(files, "alpha", "images"), 2);
      fs.mkdirSync(path.join(files, "beta"), { recursive: true });
      if (kind === "PostgreSQL") {
        database = await createTestDatabase();
        store = await PostgresTaskStore.open({ url: database.url });
      }
      harness = await startHttpHarness({ dir: temp.dir, allowedDirs: [files], store, auth: { tokens: parseTokenList(`alpha:${ALPHA},beta:${BETA}`) } });
      alpha = (await harness.connect(ALPHA)).client;
      beta = (await harness.connect(BETA)).client;
      await callOk(alpha, "create_sav_task", { name: "cats", prompt: "Circle or square?", model: TINY_MODEL_ID });
      await callOk(alpha, "add_examples", {
        task: "cats",
        examples: [...alphaImages["red-circle"].map((p) => ({ image: { path: p }, label: "circle" })), ...alphaImages["blue-square"].map((p) => ({ image: { path: p }, label: "square" }))],
      });
    });
    afterAll(async () => {
      await harness?.close();
      await store?.close();
      await database?.drop();
      temp?.cleanup();
    });

    it("shows a tenant only its own tasks", async () => {
      const listed = await callOk<{ tasks: { name: string }[] }>(beta, "list_tasks", {});
      expect(listed.tasks).toEqual([]);
      const own = await callOk<{ tasks: { name: string }[] }>(alpha, "list_tasks", {});
      expect(own.tasks.map((t) => t.name)).toEqual(["cats"]);
      const resources = await beta.listResources();
      expect(JSON.stringify(resources)).not.toContain("cats");
    });

    it("answers another tenant's task name with 'unknown task' for every tool, and changes nothing", async () => {
      for (const [tool, args] of [
        ["get_task", { task: "cats" }],
        ["classify_image", { task: "cats", image: { path: alphaImages["red-circle"][0] } }],
        ["add_examples", { task: "cats", examples: [{ image: { data: "AAAA" }, label: "x" }] }],
        ["remove_examples", { task: "cats", label: "circle" }],
        ["evaluate_task", { task: "cats" }],
        ["get_task", { task: "alpha/cats" }],
      ] as const) {
        const result = await call(beta, tool, args as Record<string, unknown>);
        expect(result.isError, `${tool} ${JSON.stringify(args)}`).toBe(true);
        expect(textOf(result)).toMatch(/Unknown task/);
        // Nothing of the other tenant shows through (the name asked for is echoed, nothing else).
        expect(textOf(result).replaceAll(`'${args.task}'`, "")).not.toMatch(/alpha|cats/);
      }
      // Deleting a task that does not exist is a successful no-op (idempotent); for beta, alpha's task does not exist.
      const deleted = await call(beta, "delete_task", { task: "cats" });
      expect(textOf(deleted)).not.toMatch(/alpha/);
      await expect(beta.readResource({ uri: "sav://tasks/cats" })).rejects.toThrow();
      const still = await callOk<{ exampleCount: number }>(alpha, "get_task", { task: "cats" });
      expect(still.exampleCount).toBe(4);
    });

    it("lets two tenants use the same task name independently", async () => {
      await callOk(beta, "create_sav_task", { name: "cats", prompt: "Another question?", model: TINY_MODEL_ID });
      const betaCats = await callOk<{ prompt: string; exampleCount: number }>(beta, "get_task", { task: "cats" });
      expect(betaCats).toMatchObject({ prompt: "Another question?", exampleCount: 0 });
      const alphaCats = await callOk<{ prompt: string; exampleCount: number }>(alpha, "get_task", { task: "cats" });
      expect(alphaCats).toMatchObject({ prompt: "Circle or square?", exampleCount: 4 });
      const duplicate = await call(beta, "create_sav_task", { name: "cats", prompt: "Again?", model: TINY_MODEL_ID });
      expect(duplicate.isError).toBe(true);
      expect(textOf(duplicate)).not.toMatch(/beta\//);
      expect(await callOk(beta, "delete_task", { task: "cats" })).toBeDefined();
      expect((await callOk<{ exampleCount: number }>(alpha, "get_task", { task: "cats" })).exampleCount).toBe(4);
    });

    it("keeps a tenant's exported file and images out of another tenant's reach", async () => {
      const exported = path.join(files, "alpha", "cats.sav.json");
      await callOk(alpha, "export_task", { task: "cats", path: exported });
      expect(fs.existsSync(exported)).toBe(true);
      const imported = await call(beta, "import_task", { path: exported, name: "stolen" });
      expect(imported.isError).toBe(true);
      expect(textOf(imported)).toMatch(/outside the allowed directories/);
      await callOk(beta, "create_sav_task", { name: "mine", prompt: "Which?", model: TINY_MODEL_ID });
      const image = await call(beta, "add_examples", { task: "mine", examples: [{ image: { path: alphaImages["red-circle"][0] }, label: "a" }] });
      expect(image.isError).toBe(true);
      const escape = await call(beta, "export_task", { task: "mine", path: path.join(files, "alpha", "overwrite.sav.json") });
      expect(escape.isError).toBe(true);
      expect(fs.existsSync(path.join(files, "alpha", "overwrite.sav.json"))).toBe(false);
    });
  });
}

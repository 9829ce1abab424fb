import path from "node:path";
import { describe, expect, it } from "vitest";
import { TINY_MODEL_ID } from "../../src/config.js";
import { integerInput } from "../../src/server/schemas.js";
import { call, callOk, startHarness, textOf } from "../support/mcp-harness.js";
import { makeTempDir } from "../support/temp-dir.js";

describe("integer inputs", () => {
  it("take a string of digits, refuse anything else naming the field and its range", () => {
    const heads = integerInput("heads", { min: 1, max: 4096 });
    expect(heads.parse("5")).toBe(5);
    expect(heads.parse(" 12 ")).toBe(12);
    expect(heads.parse(7)).toBe(7);
    expect(integerInput("seed").parse("-3")).toBe(-3);
    // A string of digits is read as its number first, so "5000" is reported as 5000.
    expect(heads.safeParse("5000").error!.issues[0]!.message).toBe("heads must be a whole number from 1 to 4096. Got 5000.");
    for (const bad of ["five", "5.5", 5.5, "", "0x10", 0, true, null]) {
      const result = heads.safeParse(bad);
      expect(result.success, JSON.stringify(bad)).toBe(false);
      expect(result.error!.issues[0]!.message).toBe(`heads must be a whole number from 1 to 4096. Got ${JSON.stringify(bad)}.`);
    }
    expect(integerInput("offset", { min: 0 }).safeParse("x").error!.issues[0]!.message).toContain("offset must be a whole number of at least 0.");
  });

  it("work through the MCP client, and tools/list still lists them as integers", async () => {
    const temp = makeTempDir();
    const harness = await startHarness({ dataDir: path.join(temp.dir, "data"), allowedDirs: [temp.dir], modelsDir: path.join(temp.dir, "models") });
    try {
      const { tools } = await harness.client.listTools();
      const create = tools.find((t) => t.name === "create_sav_task")!;
      expect(create.inputSchema.properties!.heads).toMatchObject({ type: "integer", minimum: 1, maximum: 4096 });

      const created = await callOk<{ heads: number }>(harness.client, "create_sav_task", { name: "a", prompt: "What is it?", model: TINY_MODEL_ID, heads: "5" });
      expect(created.heads).toBe(5);
      await callOk(harness.client, "create_sav_task", { name: "b", prompt: "What is it?", model: TINY_MODEL_ID });
      const updated = await callOk<{ heads: number }>(harness.client, "update_task", { task: "b", heads: "7" });
      expect(updated.heads).toBe(7);
      const page = await callOk<{ tasks: unknown[]; nextCursor?: string }>(harness.client, "list_tasks", { limit: "1" });
      expect(page.tasks).toHaveLength(1);
      expect(page.nextCursor).toBeDefined();

      const bad = await call(harness.client, "create_sav_task", { name: "c", prompt: "What is it?", model: TINY_MODEL_ID, heads: "five" });
      expect(bad.isError).toBe(true);
      expect(textOf(bad)).toContain('heads must be a whole number from 1 to 4096. Got "five".');
      const badFolds = await call(harness.client, "evaluate_task", { task: "a", folds: "two" });
      expect(badFolds.isError).toBe(true);
      expect(textOf(badFolds)).toContain(`folds must be a whole number of at least 2, or 'leave-one-out'. Got "two".`);
      // "3" passes validation: what remains is the task's own problem (no examples yet).
      const quotedFolds = await call(harness.client, "evaluate_task", { task: "a", folds: "3" });
      expect(textOf(quotedFolds)).not.toMatch(/Input validation error/);
      const { tasks } = await callOk<{ tasks: { name: string }[] }>(harness.client, "list_tasks", {});
      expect(tasks.map((t) => t.name)).toEqual(["a", "b"]);
    } finally {
      await harness.close();
      temp.cleanup();
    }
  });
});

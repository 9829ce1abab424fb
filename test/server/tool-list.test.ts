import path from "node:path";
import { describe, expect, it } from "vitest";
import { leanSchema, leanTool, meaningfulHints, outlineOutput } from "../../src/server/tools/lean-tool-list.js";
import { TOOL_NAMES } from "../../src/server/tools/index.js";
import { strictProblems, TOOL_LIST_BUDGET_BYTES, toolListReport } from "../../tools/tool-list-report.js";
import { call, startHarness, textOf } from "../support/mcp-harness.js";
import { makeTempDir } from "../support/temp-dir.js";

describe("tools/list", () => {
  it("stays within its 13 KB budget with every output schema, and has nothing strict clients warn about", async () => {
    const report = await toolListReport();
    // Printed so the size is visible in every test run.
    process.stderr.write(
      `tools/list: ${report.bytes} bytes (budget ${TOOL_LIST_BUDGET_BYTES}; ${report.imageSourceBytes} of them image-source definitions), ` +
        `output schemas ${report.outputSchemaBytes} bytes, strict-client problems: ${report.problems.length}\n`,
    );
    expect(report.perTool.map((t) => t.name)).toEqual([...TOOL_NAMES]);
    expect(report.bytes).toBeLessThanOrEqual(TOOL_LIST_BUDGET_BYTES);
    expect(report.problems).toEqual([]);
  });

  it("types folds as an integer and keeps every output schema", async () => {
    const temp = makeTempDir();
    const harness = await startHarness({ dataDir: path.join(temp.dir, "data"), allowedDirs: [temp.dir], modelsDir: path.join(temp.dir, "models") });
    try {
      const { tools } = await harness.client.listTools();
      const evaluate = tools.find((t) => t.name === "evaluate_task")!;
      expect(evaluate.inputSchema.properties!.folds).toMatchObject({ type: "integer", minimum: 2 });
      for (const tool of tools) {
        expect(tool.outputSchema?.type, tool.name).toBe("object");
        // Every top-level field keeps its type (nested fields are outlined, docs/tools.md lists them).
        for (const [field, schema] of Object.entries(tool.outputSchema!.properties ?? {}) as [string, { type?: unknown; anyOf?: { type?: unknown }[] }][]) {
          const typed = typeof schema.type === "string" || (schema.anyOf ?? []).every((branch) => typeof branch.type === "string");
          expect(typed && (schema.type !== undefined || schema.anyOf !== undefined), `${tool.name}.${field}`).toBe(true);
        }
      }
      const classify = tools.find((t) => t.name === "classify_image")!;
      expect(Object.keys(classify.outputSchema!.properties!)).toEqual(["task", "model", "heads", "exampleVersion", "results", "note"]);
      expect(JSON.stringify(tools)).not.toContain("9007199254740991");
    } finally {
      await harness.close();
      temp.cleanup();
    }
  });

  it("answers with compact JSON text beside the structured content", async () => {
    const temp = makeTempDir();
    const harness = await startHarness({ dataDir: path.join(temp.dir, "data"), allowedDirs: [temp.dir], modelsDir: path.join(temp.dir, "models") });
    try {
      const result = await call(harness.client, "list_models", {});
      expect(textOf(result)).toBe(JSON.stringify(result.structuredContent));
      expect(textOf(result)).not.toMatch(/\n/);
    } finally {
      await harness.close();
      temp.cleanup();
    }
  });
});

describe("leanSchema", () => {
  it("drops what zod adds without meaning and rewrites nullable primitives as anyOf", () => {
    const converted = {
      $schema: "http://json-schema.org/draft-07/schema#",
      type: "object",
      properties: {
        count: { type: "integer", minimum: -9007199254740991, maximum: 9007199254740991 },
        bounded: { type: "integer", minimum: 1, maximum: 4096 },
        note: { type: ["string", "null"], description: "A note" },
        perLabel: { type: "object", propertyNames: { type: "string" }, additionalProperties: { type: "integer" } },
      },
      required: ["count"],
      additionalProperties: false,
    };
    expect(leanSchema(converted, "output")).toEqual({
      type: "object",
      properties: {
        count: { type: "integer" },
        bounded: { type: "integer", minimum: 1, maximum: 4096 },
        note: { description: "A note", anyOf: [{ type: "string" }, { type: "null" }] },
        perLabel: { type: "object", additionalProperties: { type: "integer" } },
      },
    });
    // Inputs keep `required` and `additionalProperties: false`: they are checked.
    expect(leanSchema(converted, "input")).toMatchObject({ required: ["count"], additionalProperties: false });
    expect(strictProblems(converted, "x")).toHaveLength(3);
    expect(strictProblems(leanSchema(converted, "output"), "x")).toEqual([]);
  });

  it("outlines an output schema: top-level fields typed, nested contents left out, nullable kept", () => {
    const schema = {
      type: "object",
      properties: {
        label: { anyOf: [{ type: "string" }, { type: "null" }] },
        results: { type: "array", items: { type: "object", properties: { share: { type: "number" } } } },
        votes: { type: "object", additionalProperties: { type: "integer" } },
        calibration: { anyOf: [{ type: "object", properties: { ece: { type: "number" } } }, { type: "null" }] },
        folds: { anyOf: [{ type: "string", const: "leave-one-out" }, { type: "integer" }] },
      },
    };
    expect(outlineOutput(schema)).toEqual({
      type: "object",
      properties: {
        label: { anyOf: [{ type: "string" }, { type: "null" }] },
        results: { type: "array" },
        votes: { type: "object" },
        calibration: { anyOf: [{ type: "object" }, { type: "null" }] },
        folds: { anyOf: [{ type: "string", const: "leave-one-out" }, { type: "integer" }] },
      },
    });
    // An optional reference: zod's allOf wrapper goes.
    expect(leanSchema({ properties: { image: { allOf: [{ $ref: "#/definitions/ImageSource" }] } } }, "input")).toEqual({
      properties: { image: { $ref: "#/definitions/ImageSource" } },
    });
  });

  it("keeps only the hints that differ from MCP's defaults", () => {
    expect(meaningfulHints({ title: "T", readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false })).toEqual({
      readOnlyHint: true,
      openWorldHint: false,
    });
    expect(meaningfulHints({ readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: true })).toEqual({ idempotentHint: true });
    expect(leanTool({ name: "t", title: "T", inputSchema: { type: "object" }, execution: { taskSupport: "forbidden" } })).toEqual({
      name: "t",
      title: "T",
      inputSchema: { type: "object" },
    });
    expect(leanTool({ name: "t", inputSchema: {}, execution: { taskSupport: "optional" } }).execution).toEqual({ taskSupport: "optional" });
  });
});

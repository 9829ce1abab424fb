/**
 * Prints the size of this server's `tools/list` answer and the schema constructs strict clients warn
 * about. Run: npx tsx tools/tool-list-report.ts (test/server/tool-list.test.ts asserts the same budget).
 */
import os from "node:os";
import path from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { InMemoryTransport } from "@modelcontextprotocol/sdk/inMemory.js";
import { loadConfig } from "../src/config.js";
import { createSavServer } from "../src/server/create-server.js";
import type { ModelProvider } from "../src/server/models.js";
import { SavStore } from "../src/store/index.js";

/**
 * What the whole tools/list result may not grow past, image-source definitions and output schemas included:
 * about the filesystem reference server's size (issue 12 §4). New inputs and outputs must pay for themselves below it.
 */
export const TOOL_LIST_BUDGET_BYTES = 13_000;

/** The image-source definition belongs to src/server/image-source.ts and is shortened there (reported apart). */
export const IMAGE_SOURCE_DEFINITION = "ImageSource";

export interface ToolListReport {
  bytes: number;
  /** Bytes of the image-source definitions inside those. */
  imageSourceBytes: number;
  outputSchemaBytes: number;
  perTool: { name: string; bytes: number }[];
  /** JSON-pointer-like paths of every construct a strict client warns about. */
  problems: string[];
}

const SAFE_INTEGER = Number.MAX_SAFE_INTEGER;

/** Walks a JSON schema and names the constructs strict clients reject or warn about. */
export function strictProblems(schema: unknown, where: string, problems: string[] = []): string[] {
  if (Array.isArray(schema)) {
    schema.forEach((item, i) => strictProblems(item, `${where}/${i}`, problems));
    return problems;
  }
  if (!schema || typeof schema !== "object") return problems;
  const node = schema as Record<string, unknown>;
  if (Array.isArray(node.type)) problems.push(`${where}: type is a list (${JSON.stringify(node.type)})`);
  for (const key of ["minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"]) {
    const value = node[key];
    if (typeof value === "number" && Math.abs(value) >= SAFE_INTEGER) problems.push(`${where}: ${key} ${value} (the ±2^53 bound of .int())`);
  }
  for (const [key, value] of Object.entries(node)) strictProblems(value, `${where}/${key}`, problems);
  return problems;
}

/** `anyOf: [{type: T, …}, {type: "null"}]`: a typed value or null (how a nullable field is listed without a type list). */
function isNullableTyped(schema: Record<string, unknown>): boolean {
  const branches = schema.anyOf;
  if (!Array.isArray(branches) || branches.length !== 2) return false;
  const types = branches.map((b) => (b as { type?: unknown }).type);
  return types.includes("null") && types.every((t) => typeof t === "string");
}

/** Input properties without a top-level `type` (generic clients then guess, e.g. send strings); references to a definition are typed there. */
export function untypedProperties(toolSchema: unknown, where: string): string[] {
  const props = (toolSchema as { properties?: Record<string, Record<string, unknown>> } | undefined)?.properties ?? {};
  return Object.entries(props)
    .filter(([, p]) => !("type" in p) && !JSON.stringify(p).includes('"$ref"') && !isNullableTyped(p))
    .map(([name]) => `${where}/properties/${name}: no top-level type`);
}

const noModels: ModelProvider = {
  defaultModel: "smolvlm-256m-instruct",
  async extractor() {
    throw new Error("no models in the tool-list report");
  },
  async listModels() {
    return [];
  },
  async close() {},
};

export async function toolListReport(): Promise<ToolListReport> {
  const dir = path.join(os.tmpdir(), `sav-tool-list-${process.pid}-${Date.now()}`);
  const config = loadConfig({}, { dataDir: dir, modelsDir: path.join(dir, "models"), allowedDirs: [dir] });
  const store = new SavStore({ dataDir: dir });
  const savServer = createSavServer({ config, models: noModels, store });
  const client = new Client({ name: "tool-list-report", version: "1.0.0" });
  const [clientTransport, serverTransport] = InMemoryTransport.createLinkedPair();
  await Promise.all([savServer.server.connect(serverTransport), client.connect(clientTransport)]);
  try {
    const { tools } = await client.listTools();
    const problems: string[] = [];
    for (const tool of tools) {
      strictProblems(tool.inputSchema, `${tool.name}/inputSchema`, problems);
      strictProblems(tool.outputSchema, `${tool.name}/outputSchema`, problems);
      problems.push(...untypedProperties(tool.inputSchema, `${tool.name}/inputSchema`));
    }
    const imageSourceBytes = tools.reduce((sum, t) => {
      const definition = (t.inputSchema as { definitions?: Record<string, unknown> }).definitions?.[IMAGE_SOURCE_DEFINITION];
      return sum + (definition === undefined ? 0 : Buffer.byteLength(JSON.stringify({ [IMAGE_SOURCE_DEFINITION]: definition })));
    }, 0);
    return {
      bytes: Buffer.byteLength(JSON.stringify({ tools })),
      imageSourceBytes,
      outputSchemaBytes: tools.reduce((sum, t) => sum + Buffer.byteLength(JSON.stringify(t.outputSchema ?? {})), 0),
      perTool: tools.map((t) => ({ name: t.name, bytes: Buffer.byteLength(JSON.stringify(t)) })),
      problems,
    };
  } finally {
    await client.close();
    await savServer.close();
    store.close();
    const fs = await import("node:fs");
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const report = await toolListReport();
  process.stdout.write(
    `tools/list: ${report.bytes} bytes (budget ${TOOL_LIST_BUDGET_BYTES}), of which ${report.imageSourceBytes} image-source definitions ` +
      `and ${report.outputSchemaBytes} output schemas\n` +
      report.perTool.map((t) => `  ${t.name}: ${t.bytes}\n`).join("") +
      `strict-client problems: ${report.problems.length}\n` +
      report.problems.map((p) => `  ${p}\n`).join(""),
  );
}

import type { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";

type JsonObject = Record<string, unknown>;
type RequestHandler = (request: unknown, extra: unknown) => Promise<unknown>;

const SAFE_INTEGER = Number.MAX_SAFE_INTEGER;
const BOUNDS = ["minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"] as const;

/**
 * One JSON schema as a lean, portable client wants it. zod's conversion adds what costs bytes and
 * tells a client nothing (`$schema`, the ±2^53 bounds of `.int()`, `propertyNames: {type: string}`),
 * and writes nullable primitives as `type: [T, "null"]`, which strict clients warn about; those
 * become `anyOf`. Output schemas also drop `additionalProperties: false` and `required`: results are
 * produced by this server, not checked for typos, and every field is always present unless the
 * schema's description says when (docs/tools.md lists them); that halves the task view repeated in
 * four tools' outputs.
 */
export function leanSchema(schema: unknown, kind: "input" | "output"): unknown {
  if (Array.isArray(schema)) return schema.map((item) => leanSchema(item, kind));
  if (!schema || typeof schema !== "object") return schema;
  const node: JsonObject = {};
  for (const [key, value] of Object.entries(schema as JsonObject)) {
    if (key === "$schema") continue;
    if ((BOUNDS as readonly string[]).includes(key) && typeof value === "number" && Math.abs(value) >= SAFE_INTEGER) continue;
    if (key === "propertyNames" && isPlainStringSchema(value)) continue;
    if (kind === "output" && ((key === "additionalProperties" && value === false) || key === "required")) continue;
    if (key === "properties" && value && typeof value === "object") {
      node[key] = Object.fromEntries(Object.entries(value as JsonObject).map(([name, sub]) => [name, leanSchema(sub, kind)]));
      continue;
    }
    node[key] = leanSchema(value, kind);
  }
  const reference = soleReference(node);
  if (reference) return reference;
  if (Array.isArray(node.type)) {
    const { type, description, ...rest } = node;
    return {
      ...(description === undefined ? {} : { description }),
      anyOf: (type as string[]).map((t) => (t === "null" ? { type: "null" } : { type: t, ...rest })),
    };
  }
  return node;
}

/** `{allOf: [{$ref}]}`, what zod writes for an optional reference: the reference alone says the same. */
function soleReference(node: JsonObject): JsonObject | undefined {
  const { allOf, ...rest } = node;
  if (!Array.isArray(allOf) || allOf.length !== 1 || Object.keys(rest).some((key) => key !== "description")) return undefined;
  const only = allOf[0] as JsonObject;
  return Object.keys(only).length === 1 && typeof only.$ref === "string" && rest.description === undefined ? only : undefined;
}

/**
 * An output schema as listed: every top-level field with its type (and enum), nested objects and arrays
 * typed but not spelled out. Results are what an agent reads, in full, once it calls; the listing only has
 * to say what comes back, and the nested fields cost more than half of tools/list's 13 KB budget.
 * docs/tools.md describes every nested field; the server still checks each result against the full zod
 * schema before sending it.
 */
const CONTENT_KEYWORDS = new Set(["properties", "items", "additionalProperties", "propertyNames"]);

export function outlineOutput(schema: JsonObject): JsonObject {
  const outline = (node: unknown): unknown => {
    if (!node || typeof node !== "object") return node;
    const kept = Object.entries(node as JsonObject).filter(([key]) => !CONTENT_KEYWORDS.has(key));
    return Object.fromEntries(kept.map(([key, value]) => [key, key === "anyOf" && Array.isArray(value) ? value.map(outline) : value]));
  };
  const properties = schema.properties as JsonObject | undefined;
  if (!properties) return schema;
  return { ...schema, properties: Object.fromEntries(Object.entries(properties).map(([name, sub]) => [name, outline(sub)])) };
}

function isPlainStringSchema(value: unknown): boolean {
  return !!value && typeof value === "object" && Object.keys(value).length === 1 && (value as JsonObject).type === "string";
}

/** MCP's meaning of a missing hint (ToolAnnotations in the specification). */
export const DEFAULT_HINTS = { readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: true } as const;

/**
 * The hints that say something: a hint equal to its default is what a client assumes anyway, and
 * destructiveHint/idempotentHint mean nothing for a read-only tool (the specification says so).
 */
export function meaningfulHints(annotations: JsonObject): JsonObject {
  const hints: JsonObject = {};
  for (const [key, value] of Object.entries(annotations)) {
    if (key === "title") continue;
    if (annotations.readOnlyHint === true && (key === "destructiveHint" || key === "idempotentHint")) continue;
    if (key in DEFAULT_HINTS && DEFAULT_HINTS[key as keyof typeof DEFAULT_HINTS] === value) continue;
    hints[key] = value;
  }
  return hints;
}

/** A tool definition with lean schemas and without what repeats the defaults. */
export function leanTool(tool: JsonObject): JsonObject {
  const { annotations, execution, inputSchema, outputSchema, ...rest } = tool;
  const lean: JsonObject = { ...rest, inputSchema: leanSchema(inputSchema, "input") };
  if (outputSchema !== undefined) lean.outputSchema = outlineOutput(leanSchema(outputSchema, "output") as JsonObject);
  // annotations.title repeats the tool's title.
  if (annotations && typeof annotations === "object") lean.annotations = meaningfulHints(annotations as JsonObject);
  // taskSupport "forbidden" is what a missing `execution` means.
  if (execution && (execution as JsonObject).taskSupport !== "forbidden") lean.execution = execution;
  return lean;
}

function withoutDescriptions(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(withoutDescriptions);
  if (!schema || typeof schema !== "object") return schema;
  return Object.fromEntries(
    Object.entries(schema as JsonObject)
      .filter(([key, value]) => key !== "description" || typeof value !== "string")
      .map(([key, value]) => [key, withoutDescriptions(value)]),
  );
}

/**
 * Shared definitions (e.g. ImageSource, used by add_examples and classify_image) are described once:
 * in the first tool that lists them. Later tools keep the full schema but say where the descriptions are.
 */
export function describeDefinitionsOnce(tools: JsonObject[]): JsonObject[] {
  const firstUse = new Map<string, string>();
  return tools.map((tool) => {
    const input = tool.inputSchema as JsonObject | undefined;
    const definitions = input?.definitions as Record<string, unknown> | undefined;
    if (!input || !definitions) return tool;
    const shortened: Record<string, unknown> = {};
    for (const [name, definition] of Object.entries(definitions)) {
      const first = firstUse.get(name);
      if (first === undefined) {
        firstUse.set(name, String(tool.name));
        shortened[name] = definition;
      } else {
        shortened[name] = { ...(withoutDescriptions(definition) as JsonObject), description: `As in ${first}.` };
      }
    }
    return { ...tool, inputSchema: { ...input, definitions: shortened } };
  });
}

/**
 * Post-processes the SDK's own `tools/list` answer with leanTool, so every registered tool (however it
 * was registered) is listed lean. Call after the first tool is registered: the SDK installs its handler then.
 * The handler table is not public SDK API; if it is missing the list is simply not shortened, and the
 * tools/list budget test fails loudly.
 */
export function useLeanToolList(server: McpServer): void {
  const handlers = (server.server as unknown as { _requestHandlers?: Map<string, RequestHandler> })._requestHandlers;
  const original = handlers?.get("tools/list");
  if (!handlers || !original) return;
  handlers.set("tools/list", async (request, extra) => {
    const result = (await original(request, extra)) as { tools: JsonObject[] } & JsonObject;
    return { ...result, tools: describeDefinitionsOnce(result.tools.map(leanTool)) };
  });
}

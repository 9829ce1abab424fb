/**
 * Property-based fuzzing of every tool (fast-check): generated and mutated arguments against a server on the
 * tiny model. Every call must answer within a bound, with a reply under a size bound; every refusal is an
 * isError result with a clear text (no "Unexpected error", no stack trace), and leaves the store as it was.
 */
import fs from "node:fs";
import path from "node:path";
import fc from "fast-check";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { TINY_MODEL_ID } from "../../src/config.js";
import { TOOL_NAMES } from "../../src/server/tools/index.js";
import { writeShapeImages } from "../support/images.js";
import { callOk, startHarness, type Harness } from "../support/mcp-harness.js";

/** A call that takes longer than this counts as a hang. */
export const CALL_BOUND_MS = 60_000;
/** No reply (text and structured content together) may be larger than this. */
export const REPLY_BOUND_BYTES = 1024 * 1024;

export interface FuzzFigures {
  calls: number;
  refusals: number;
  successes: number;
  failures: string[];
  elapsedMs: number;
}

export interface FuzzWorld {
  harness: Harness;
  dir: string;
  outside: string;
  images: string[];
  exportFile: string;
}

export async function startFuzzWorld(root: string): Promise<FuzzWorld> {
  const dir = path.join(root, "files");
  const outside = path.join(root, "outside");
  fs.mkdirSync(outside, { recursive: true });
  fs.writeFileSync(path.join(outside, "secret.png"), "SECRET");
  const shapes = await writeShapeImages(dir, 2);
  fs.writeFileSync(path.join(dir, ".env"), "TOKEN=hunter2\n");
  fs.writeFileSync(path.join(dir, "notes.json"), '{"notes": "SECRET"}');
  const harness = await startHarness({
    dataDir: path.join(root, "data"),
    modelsDir: path.join(root, "models"),
    allowedDirs: [dir],
    limits: { maxImageBytes: 200_000, urlTimeoutMs: 2_000 },
  });
  await callOk(harness.client, "create_sav_task", { name: "base", prompt: "Circle or square?", labels: ["circle", "square"], model: TINY_MODEL_ID, heads: 4 });
  await callOk(harness.client, "add_examples", {
    task: "base",
    examples: [...shapes["red-circle"].map((f) => ({ image: f, label: "circle" })), ...shapes["blue-square"].map((f) => ({ image: f, label: "square" }))],
  });
  const exportFile = path.join(dir, "base.json");
  await callOk(harness.client, "export_task", { task: "base", path: exportFile });
  return { harness, dir, outside, images: [...shapes["red-circle"], ...shapes["blue-square"]], exportFile };
}

/** Everything a client can observe about the stored state. */
async function snapshot(world: FuzzWorld): Promise<string> {
  const { tasks } = await callOk<{ tasks: { name: string }[] }>(world.harness.client, "list_tasks", {});
  const details = [];
  for (const task of tasks) details.push(await callOk(world.harness.client, "get_task", { task: task.name, includeExamples: true }));
  return JSON.stringify(details);
}

/** Values that break parsers and checks: odd strings, numbers, containers, and near-misses of valid input. */
function oddValue(world: FuzzWorld): fc.Arbitrary<unknown> {
  const strings = fc.constantFrom(
    "",
    " ",
    "base",
    "__proto__",
    "constructor",
    "<image>",
    "<|im_start|>",
    "{text}",
    "cafe\u0301",
    "cat\u200b",
    "\u0000",
    "../../etc/passwd",
    "/etc/passwd",
    "/proc/self/environ",
    ".env",
    "..foo.json",
    "x".repeat(5000),
    "http://127.0.0.1:9/a.png",
    "http://[::1]/a.png",
    "file:///etc/passwd",
    "data:image/png;base64,iVBORw0KGgo=",
    "data:,hello",
    path.join(world.outside, "secret.png"),
    world.images[0]!,
    world.exportFile,
    path.join(world.dir, "new.json"),
    path.join(world.dir, "x.txt"),
    path.join(world.dir, "a\u0000.json"),
  );
  const numbers = fc.oneof(fc.constantFrom(0, -1, 1, 2, 4097, 1e15, 0.5, -0.0, Number.MAX_SAFE_INTEGER), fc.integer({ min: -5, max: 50 }));
  return fc.oneof(
    { weight: 4, arbitrary: strings },
    { weight: 2, arbitrary: fc.string({ maxLength: 40 }) },
    { weight: 2, arbitrary: numbers },
    { weight: 1, arbitrary: fc.constantFrom(null, true, false) },
    { weight: 1, arbitrary: fc.array(strings, { maxLength: 4 }) },
    { weight: 1, arbitrary: fc.dictionary(fc.constantFrom("path", "url", "data", "__proto__", "x"), strings, { maxKeys: 3 }) },
  );
}

/** Arguments close to valid for each tool, with fields dropped, replaced by odd values, or added. */
function toolArgs(world: FuzzWorld): fc.Arbitrary<{ tool: string; args: Record<string, unknown> }> {
  const odd = oddValue(world);
  // Paths the policy must get right: task files, files that are not, outside and raced-looking names.
  const file = fc.oneof(
    fc.constantFrom<unknown>(world.exportFile, "base.json", ".env", "notes.json", "new.json", "sub/new.json", "../outside/secret.png", "..foo.json", `${world.dir}/.env`),
    odd,
  );
  const image = fc.oneof(fc.constantFrom<unknown>(world.images[0], { path: world.images[1] }, { data: "QUJD" }, "https://example.invalid/a.png"), odd);
  const label = fc.oneof(fc.constantFrom<unknown>("circle", "square", "__proto__"), odd);
  const valid: Record<string, fc.Arbitrary<Record<string, unknown>>> = {
    create_sav_task: fc.record({ name: fc.oneof(fc.constantFrom("t1", "base"), odd), prompt: fc.oneof(fc.constant("Which?"), odd), model: fc.constant(TINY_MODEL_ID), labels: fc.oneof(fc.constant(["a", "b"]), odd), heads: fc.oneof(fc.constant(4), odd) }, { requiredKeys: ["name", "prompt", "model"] }),
    add_examples: fc.record({ task: fc.oneof(fc.constant("base"), odd), examples: fc.oneof(fc.array(fc.record({ image, label, text: odd }, { requiredKeys: ["label"] }), { maxLength: 3 }), odd), skipInvalid: fc.boolean() }, { requiredKeys: ["task", "examples"] }),
    classify_image: fc.record({ task: fc.oneof(fc.constant("base"), odd), image, images: fc.array(image, { maxLength: 3 }), text: odd, detail: fc.boolean() }, { requiredKeys: ["task"] }),
    evaluate_task: fc.record({ task: fc.oneof(fc.constant("base"), odd), folds: fc.oneof(fc.constantFrom<unknown>("leave-one-out", 2), odd), seed: odd, heads: odd }, { requiredKeys: ["task"] }),
    list_tasks: fc.record({ cursor: odd }, { requiredKeys: [] }),
    get_task: fc.record({ task: fc.oneof(fc.constant("base"), odd), includeExamples: fc.boolean(), exampleLimit: odd }, { requiredKeys: ["task"] }),
    remove_examples: fc.record({ task: fc.oneof(fc.constant("base"), odd), ids: fc.oneof(fc.array(fc.integer({ min: -1, max: 10_000 }), { maxLength: 3 }), odd), label }, { requiredKeys: ["task"] }),
    delete_task: fc.record({ task: fc.oneof(fc.constant("nope"), odd) }),
    export_task: fc.record({ task: fc.oneof(fc.constant("base"), odd), path: file, overwrite: fc.boolean() }, { requiredKeys: ["task", "path"] }),
    import_task: fc.record({ path: file, name: fc.oneof(fc.constant("copy"), odd) }, { requiredKeys: ["path"] }),
    list_models: fc.constant({}),
  };
  return fc.constantFrom(...TOOL_NAMES).chain((tool) => {
    const base = valid[tool] ?? fc.constant({});
    // Sometimes a whole extra or replaced field: unknown keys and wrong types must be refused clearly too.
    return fc.tuple(base, fc.option(fc.tuple(fc.constantFrom("extra", "task", "path", "examples", "__proto__"), odd), { nil: undefined })).map(([args, extra]) => {
      const out: Record<string, unknown> = { ...args };
      if (extra) Object.defineProperty(out, extra[0], { value: extra[1], enumerable: true, writable: true, configurable: true });
      return { tool, args: out };
    });
  });
}

function withBound<T>(promise: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const bound = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not answer within ${CALL_BOUND_MS / 1000} s`)), CALL_BOUND_MS);
  });
  return Promise.race([promise, bound]).finally(() => clearTimeout(timer));
}

/** Runs `numRuns` generated calls; returns the figures (the caller asserts on `failures`). */
export async function fuzzTools(world: FuzzWorld, options: { numRuns: number; seed: number }): Promise<FuzzFigures> {
  const figures: FuzzFigures = { calls: 0, refusals: 0, successes: 0, failures: [], elapsedMs: 0 };
  const started = Date.now();
  await fc.assert(
    fc.asyncProperty(toolArgs(world), async ({ tool, args }) => {
      const label = `${tool} ${JSON.stringify(args).slice(0, 300)}`;
      const before = await snapshot(world);
      figures.calls++;
      let result: CallToolResult;
      try {
        result = (await withBound(world.harness.client.callTool({ name: tool, arguments: args }), tool)) as CallToolResult;
      } catch (error) {
        figures.failures.push(`${label}: threw ${String(error).slice(0, 300)}`);
        return;
      }
      const size = JSON.stringify(result).length;
      if (size > REPLY_BOUND_BYTES) figures.failures.push(`${label}: reply of ${size} bytes`);
      if (!result.isError) {
        figures.successes++;
        return;
      }
      figures.refusals++;
      const first = result.content[0];
      const text = first?.type === "text" ? first.text : "";
      if (text.trim().length < 10) figures.failures.push(`${label}: refusal without text`);
      if (/Unexpected error|\n\s+at \S+ \(/.test(text)) figures.failures.push(`${label}: ${text.slice(0, 300)}`);
      if (/hunter2|SECRET/.test(text)) figures.failures.push(`${label}: file content in the message`);
      if ((await snapshot(world)) !== before) figures.failures.push(`${label}: refused but the store changed`);
    }),
    { numRuns: options.numRuns, seed: options.seed, endOnFailure: true },
  );
  figures.elapsedMs = Date.now() - started;
  return figures;
}

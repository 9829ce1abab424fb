import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { InMemoryTransport } from "@modelcontextprotocol/sdk/inMemory.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import sharp from "sharp";
import { loadConfig, TINY_MODEL_ID, type SavConfig } from "../config.js";
import { createSavServer } from "./create-server.js";
import { createModelProvider } from "./model-provider.js";

export interface DemoOptions {
  /** Where to print (stdout in the CLI: the demo is not the stdio server). */
  print: (line: string) => void;
  /** Data directory; default a fresh temporary one, removed afterwards. */
  dataDir?: string;
  /** Model id; default the generated tiny model, which needs no download. */
  model?: string;
  /** Base configuration (models dir, model dir, limits). */
  config?: SavConfig;
  examplesPerLabel?: number;
}

export interface DemoResult {
  accuracy: number;
  predictions: { expected: string; label: string; share: number }[];
}

type Shape = "circle" | "square";

/** A small generated picture: a red circle or a blue square, with position and size varied by `seed`. */
async function demoImage(shape: Shape, seed: number): Promise<Buffer> {
  const size = 96;
  const jitter = (n: number) => ((seed * 9301 + n * 49297) % 233280) / 233280;
  const extent = size * (0.35 + jitter(1) * 0.3);
  const x = jitter(2) * (size - extent);
  const y = jitter(3) * (size - extent);
  const figure =
    shape === "circle"
      ? `<circle cx="${x + extent / 2}" cy="${y + extent / 2}" r="${extent / 2}" fill="#d0202a"/>`
      : `<rect x="${x}" y="${y}" width="${extent}" height="${extent}" fill="#2040d0"/>`;
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${size}" height="${size}"><rect width="100%" height="100%" fill="#f2f0ea"/>${figure}</svg>`;
  return sharp(Buffer.from(svg)).png().toBuffer();
}

function structured<T>(result: CallToolResult, tool: string): T {
  if (result.isError) {
    const first = result.content[0];
    throw new Error(`${tool} failed: ${first?.type === "text" ? first.text : "unknown error"}`);
  }
  return result.structuredContent as T;
}

/**
 * One whole scenario through the MCP tools, with an in-memory client: create a task, add examples from
 * generated images (red circles vs blue squares), classify new ones, evaluate. Prints each step.
 */
export async function runDemo(options: DemoOptions): Promise<DemoResult> {
  const { print } = options;
  const work = await fs.mkdtemp(path.join(os.tmpdir(), "sav-demo-"));
  const imagesDir = path.join(work, "images");
  await fs.mkdir(imagesDir);
  const base = options.config ?? loadConfig();
  const config: SavConfig = { ...base, dataDir: options.dataDir ?? path.join(work, "data"), allowedDirs: [imagesDir] };
  const modelId = options.model ?? TINY_MODEL_ID;
  const perLabel = options.examplesPerLabel ?? 5;
  const models = createModelProvider({ config });
  const savServer = createSavServer({ config, models });
  const client = new Client({ name: "sav-mcp-demo", version: "1.0.0" });
  const [clientTransport, serverTransport] = InMemoryTransport.createLinkedPair();
  const callTool = async <T>(name: string, args: Record<string, unknown>, onProgress?: (message: string) => void): Promise<T> =>
    structured<T>(
      (await client.callTool({ name, arguments: args }, undefined, onProgress ? { onprogress: (p) => onProgress(p.message ?? "") } : undefined)) as CallToolResult,
      name,
    );

  try {
    await Promise.all([savServer.server.connect(serverTransport), client.connect(clientTransport)]);
    const { tools } = await client.listTools();
    print(`Connected to sav-mcp in memory: ${tools.length} tools (${tools.map((t) => t.name).join(", ")}).`);
    print(`Data directory: ${config.dataDir}`);

    const write = async (shape: Shape, seed: number) => {
      const file = path.join(imagesDir, `${shape}-${seed}.png`);
      await fs.writeFile(file, await demoImage(shape, seed));
      return file;
    };
    const training: { file: string; shape: Shape }[] = [];
    for (let i = 0; i < perLabel; i++) for (const shape of ["circle", "square"] as const) training.push({ file: await write(shape, i + 1), shape });
    const queries: { file: string; shape: Shape }[] = [];
    for (let i = 0; i < 3; i++) for (const shape of ["circle", "square"] as const) queries.push({ file: await write(shape, 100 + i), shape });
    print(`Generated ${training.length} training and ${queries.length} query images (red circles, blue squares) in ${imagesDir}`);

    const taskName = `shapes-demo-${process.pid}`;
    print(`\n1. create_sav_task '${taskName}' on model ${modelId}`);
    const task = await callTool<{ name: string; heads: number; shape: { layers: number; heads: number; headDim: number }; note?: string }>(
      "create_sav_task",
      {
        name: taskName,
        prompt: "What shape is in this picture? Answer circle or square.",
        labels: ["circle", "square"],
        model: modelId,
        heads: 8,
      },
    );
    print(`   model shape: ${task.shape.layers} layers x ${task.shape.heads} heads x ${task.shape.headDim} dims; ${task.heads} heads will vote`);

    print(`\n2. add_examples: ${training.length} labelled images`);
    let lastMessage = "";
    const added = await callTool<{ examplesPerLabel: Record<string, number> }>(
      "add_examples",
      { task: taskName, examples: training.map((t) => ({ image: { path: t.file }, label: t.shape })) },
      (message) => {
        lastMessage = message;
      },
    );
    print(`   stored ${JSON.stringify(added.examplesPerLabel)} (last progress: "${lastMessage}")`);

    print(`\n3. classify_image: a batch of ${queries.length} new images`);
    const classified = await callTool<{ results: { label: string; share: number; votes: Record<string, number> }[] }>("classify_image", {
      task: taskName,
      images: queries.map((q) => ({ path: q.file })),
    });
    const predictions = classified.results.map((r, i) => ({ expected: queries[i]!.shape, label: r.label, share: r.share }));
    for (const [i, r] of classified.results.entries()) {
      print(`   ${path.basename(queries[i]!.file).padEnd(14)} -> ${r.label.padEnd(6)} share ${r.share.toFixed(2)}  votes ${JSON.stringify(r.votes)}`);
    }

    print("\n4. evaluate_task: leave-one-out cross-validation on the stored examples");
    const evaluation = await callTool<{ accuracy: number; labels: string[]; confusion: number[][]; accuracyByHeadCount: { heads: number; accuracy: number }[]; recommendations: string[] }>(
      "evaluate_task",
      { task: taskName },
    );
    print(`   accuracy ${(evaluation.accuracy * 100).toFixed(0)}%; confusion (rows = actual ${evaluation.labels.join("/")}): ${JSON.stringify(evaluation.confusion)}`);
    print(`   by head count: ${evaluation.accuracyByHeadCount.map((h) => `${h.heads}: ${(h.accuracy * 100).toFixed(0)}%`).join(", ")}`);
    for (const advice of evaluation.recommendations) print(`   - ${advice}`);

    await callTool("delete_task", { task: taskName });
    print(`\n5. delete_task '${taskName}': cleaned up.`);
    if (modelId === TINY_MODEL_ID) {
      print(
        `\nNote: ${TINY_MODEL_ID} has random weights. Its labels reflect pixel statistics through random projections, not meaning;` +
          " with a real model (npx sav-mcp models pull smolvlm-256m-instruct, then --model smolvlm-256m-instruct) the same steps classify by content.",
      );
    }
    return { accuracy: evaluation.accuracy, predictions };
  } finally {
    await client.close();
    await savServer.close();
    await models.close();
    await fs.rm(work, { recursive: true, force: true });
  }
}

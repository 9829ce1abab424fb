import path from "node:path";
import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { CreateTaskResultSchema } from "@modelcontextprotocol/sdk/experimental/tasks";
import { CallToolResultSchema, type CallToolResult, type Progress } from "@modelcontextprotocol/sdk/types.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TINY_MODEL_ID } from "../../src/config.js";
import type { ModelProvider } from "../../src/server/models.js";
import { TASK_CAPABLE_TOOLS } from "../../src/server/tools/index.js";
import { GatedModels } from "../support/gated-models.js";
import { writeShapeImages } from "../support/images.js";
import { callOk, startHarness, testConfig, testModels, textOf, type Harness } from "../support/mcp-harness.js";
import { makeTempDir } from "../support/temp-dir.js";

/** Starts a task-augmented tools/call and returns the task the server created. */
async function startTask(client: Client, name: string, args: Record<string, unknown>, onprogress?: (p: Progress) => void) {
  const created = await client.request({ method: "tools/call", params: { name, arguments: args, task: { ttl: 60_000 } } }, CreateTaskResultSchema, { onprogress });
  return created.task;
}

async function taskResult(client: Client, taskId: string): Promise<CallToolResult> {
  return (await client.experimental.tasks.getTaskResult(taskId, CallToolResultSchema)) as CallToolResult;
}

describe("long tools as MCP tasks (tiny model)", () => {
  let temp: ReturnType<typeof makeTempDir>;
  let models: ModelProvider;
  let gated: GatedModels;
  let free: Harness;
  let blocked: Harness;
  let images: Awaited<ReturnType<typeof writeShapeImages>>;
  const examples = () => [
    ...images["red-circle"].map((file) => ({ image: { path: file }, label: "circle" })),
    ...images["blue-square"].map((file) => ({ image: { path: file }, label: "square" })),
  ];

  beforeAll(async () => {
    temp = makeTempDir();
    const imagesDir = path.join(temp.dir, "images");
    images = await writeShapeImages(imagesDir, 3);
    const dirs = (name: string) => ({ dataDir: path.join(temp.dir, name), modelsDir: path.join(temp.dir, "models"), allowedDirs: [imagesDir] });
    models = testModels(testConfig(dirs("free")));
    // Every extraction of the second server waits until the test releases it or cancels it.
    gated = new GatedModels(models, 0);
    free = await startHarness({ ...dirs("free"), models });
    blocked = await startHarness({ ...dirs("blocked"), models: gated });
  });
  afterAll(async () => {
    gated?.release();
    await free?.close();
    await blocked?.close();
    await models?.close();
    temp?.cleanup();
  });

  it("declares the tasks capability and marks the long tools as optionally task-based", async () => {
    expect(free.client.getServerCapabilities()?.tasks?.requests?.tools?.call).toBeDefined();
    const { tools } = await free.client.listTools();
    const taskTools = tools.filter((t) => t.execution?.taskSupport === "optional").map((t) => t.name);
    expect(taskTools.sort()).toEqual([...TASK_CAPABLE_TOOLS].sort());
  });

  it("runs add_examples, classify_image and evaluate_task as tasks; plain calls keep working", async () => {
    const { client } = free;
    await callOk(client, "create_sav_task", { name: "shapes", prompt: "Circle or square?", model: TINY_MODEL_ID });
    const progress: Progress[] = [];
    const adding = await startTask(client, "add_examples", { task: "shapes", examples: examples() }, (p) => progress.push(p));
    expect(["working", "completed"]).toContain(adding.status);
    const added = await taskResult(client, adding.taskId);
    expect(added.isError).toBeFalsy();
    expect((added.structuredContent as { exampleCount: number }).exampleCount).toBe(6);
    expect((await client.experimental.tasks.getTask(adding.taskId)).status).toBe("completed");
    expect(progress.length).toBeGreaterThan(0);

    const query = { task: "shapes", images: [{ path: images["red-circle"][0] }, { path: images["blue-square"][0] }] };
    const classifying = await startTask(client, "classify_image", query);
    const viaTask = (await taskResult(client, classifying.taskId)).structuredContent as { results: { label: string }[] };
    const plain = await callOk<{ results: { label: string }[] }>(client, "classify_image", query);
    expect(viaTask.results.map((r) => r.label)).toEqual(plain.results.map((r) => r.label));

    const evaluating = await startTask(client, "evaluate_task", { task: "shapes" });
    const report = (await taskResult(client, evaluating.taskId)).structuredContent as { total: number };
    expect(report.total).toBe(6);
  });

  it("a failing call becomes a failed task whose result says how to recover", async () => {
    const task = await startTask(free.client, "add_examples", { task: "no-such-task", examples: examples() });
    const result = await taskResult(free.client, task.taskId);
    expect(result.isError).toBe(true);
    expect(textOf(result)).toContain("Unknown task 'no-such-task'");
    expect((await free.client.experimental.tasks.getTask(task.taskId)).status).toBe("failed");
  });

  it("refuses a task request for a tool that does not run as a task, naming those that do", async () => {
    const refused = await free.client
      .request({ method: "tools/call", params: { name: "list_tasks", arguments: {}, task: { ttl: 1000 } } }, CreateTaskResultSchema)
      .then(
        () => undefined,
        (error: unknown) => error as Error,
      );
    expect(refused?.message).toContain("does not run as a task");
    expect(refused?.message).toContain("add_examples");
  });

  it("cancelling a task midway stores nothing, and the server keeps serving", async () => {
    const { client } = blocked;
    await callOk(client, "create_sav_task", { name: "cancel-me", prompt: "Circle or square?", model: TINY_MODEL_ID });
    const task = await startTask(client, "add_examples", { task: "cancel-me", examples: examples() });
    // The first extraction waits at the gate until it sees the cancellation.
    while (gated.extractCalls === 0) await new Promise((resolve) => setTimeout(resolve, 10));
    const cancelled = await client.experimental.tasks.cancelTask(task.taskId);
    expect(cancelled.status).toBe("cancelled");
    await gated.aborted;
    const detail = await callOk<{ exampleCount: number }>(client, "get_task", { task: "cancel-me" });
    expect(detail.exampleCount).toBe(0);
    expect((await client.experimental.tasks.getTask(task.taskId)).status).toBe("cancelled");

    gated.release();
    const again = await callOk<{ exampleCount: number }>(client, "add_examples", { task: "cancel-me", examples: examples() });
    expect(again.exampleCount).toBe(6);
  });
});

/**
 * Task-augmented tools/call (MCP tasks): a client that sends `task` with a call to a long tool gets a task
 * id at once, polls tasks/get, fetches the answer with tasks/result and may stop the work with tasks/cancel.
 * A plain call of the same tool is served exactly as before (progress, cancellation, output validation).
 *
 * The SDK's own registerToolTask serves plain calls of an "optional" task tool by polling its task store
 * every few seconds and skips output validation, so instead the ordinary tool handlers are kept and the
 * task path is added in front of them: a task call runs the same handler in the background with a signal
 * that tasks/cancel aborts.
 */
import type { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { InMemoryTaskStore } from "@modelcontextprotocol/sdk/experimental/tasks";
import { ErrorCode, McpError, type CallToolResult, type Result, type Task } from "@modelcontextprotocol/sdk/types.js";

/** How long a finished task's result stays available when the client does not ask for a shorter time. */
export const MAX_TASK_TTL_MS = 60 * 60 * 1000;
/** The polling interval suggested to clients: long calls run for tens of seconds or more. */
export const TASK_POLL_INTERVAL_MS = 1000;

/** The SDK's tool-call and tool-list handlers, as the protocol layer stores them. */
type RawHandler = (request: { method: string; params?: Record<string, unknown> }, extra: RawExtra) => Promise<Result>;
interface RawExtra {
  signal: AbortSignal;
  taskStore?: {
    createTask(params: { ttl?: number | null; pollInterval?: number }): Promise<Task>;
    getTask(taskId: string): Promise<Task>;
    storeTaskResult(taskId: string, status: "completed" | "failed", result: Result): Promise<void>;
  };
  [key: string]: unknown;
}

/** An in-memory task store whose cancellations stop the work they belong to. */
export class ToolTaskStore extends InMemoryTaskStore {
  private readonly running = new Map<string, AbortController>();

  track(taskId: string, controller: AbortController): void {
    this.running.set(taskId, controller);
  }

  untrack(taskId: string): void {
    this.running.delete(taskId);
  }

  override async updateTaskStatus(taskId: string, status: Task["status"], statusMessage?: string, sessionId?: string): Promise<void> {
    await super.updateTaskStatus(taskId, status, statusMessage, sessionId);
    if (status === "cancelled") this.abort(taskId);
  }

  /** Stops every running task (server shutdown) and the store's expiry timers. */
  close(): void {
    for (const taskId of [...this.running.keys()]) this.abort(taskId);
    this.cleanup();
  }

  private abort(taskId: string): void {
    const controller = this.running.get(taskId);
    this.running.delete(taskId);
    const reason = new Error("The task was cancelled; nothing was stored by it.");
    reason.name = "AbortError";
    controller?.abort(reason);
  }
}

function protocolHandlers(server: McpServer): Map<string, RawHandler> {
  const handlers = (server.server as unknown as { _requestHandlers?: Map<string, RawHandler> })._requestHandlers;
  if (!(handlers instanceof Map) || !handlers.has("tools/call") || !handlers.has("tools/list")) {
    throw new Error("sav-mcp: this MCP SDK version keeps its request handlers elsewhere; task-augmented tool calls cannot be enabled.");
  }
  return handlers;
}

/**
 * Lets `toolNames` run as MCP tasks. Call after the tools are registered and before connecting; the
 * McpServer must have been created with `taskStore: store`, which installs tasks/get, tasks/result,
 * tasks/list and tasks/cancel.
 */
export function enableToolTasks(server: McpServer, store: ToolTaskStore, toolNames: readonly string[]): void {
  const taskTools = new Set(toolNames);
  server.server.registerCapabilities({ tasks: { list: {}, cancel: {}, requests: { tools: { call: {} } } } });
  const handlers = protocolHandlers(server);
  const listTools = handlers.get("tools/list")!;
  const callTool = handlers.get("tools/call")!;

  handlers.set("tools/list", async (request, extra) => {
    const listed = (await listTools(request, extra)) as { tools: { name: string; execution?: Record<string, unknown> }[] };
    for (const tool of listed.tools) {
      if (taskTools.has(tool.name)) tool.execution = { ...tool.execution, taskSupport: "optional" };
    }
    return listed as unknown as Result;
  });

  handlers.set("tools/call", async (request, extra) => {
    const params = request.params ?? {};
    const taskParams = params.task as { ttl?: number } | undefined;
    if (taskParams === undefined || !extra.taskStore) return callTool(request, extra);
    if (!taskTools.has(String(params.name))) {
      // The spec's answer for a task request to a tool that does not declare task support.
      throw new McpError(
        ErrorCode.MethodNotFound,
        `Tool ${String(params.name)} does not run as a task; call it without \`task\`. Tools that do: ${[...taskTools].join(", ")}.`,
      );
    }
    const requestTaskStore = extra.taskStore;
    const ttl = Math.min(typeof taskParams.ttl === "number" && taskParams.ttl > 0 ? taskParams.ttl : MAX_TASK_TTL_MS, MAX_TASK_TTL_MS);
    const task = await requestTaskStore.createTask({ ttl, pollInterval: TASK_POLL_INTERVAL_MS });
    const controller = new AbortController();
    store.track(task.taskId, controller);
    const { task: _omitted, ...plainParams } = params;
    void runInBackground(callTool, { ...request, params: plainParams }, { ...extra, signal: controller.signal }, task.taskId, store, requestTaskStore);
    return { task } as unknown as Result;
  });
}

async function runInBackground(
  callTool: RawHandler,
  request: { method: string; params?: Record<string, unknown> },
  extra: RawExtra,
  taskId: string,
  store: ToolTaskStore,
  requestTaskStore: NonNullable<RawExtra["taskStore"]>,
): Promise<void> {
  let result: CallToolResult;
  try {
    result = (await callTool(request, extra)) as CallToolResult;
  } catch (error) {
    // Protocol errors (e.g. unknown tool) become a failed task whose result says why.
    result = { isError: true, content: [{ type: "text", text: error instanceof Error ? error.message : String(error) }] };
  }
  store.untrack(taskId);
  try {
    const current = await requestTaskStore.getTask(taskId);
    if (current.status === "cancelled") return;
    await requestTaskStore.storeTaskResult(taskId, result.isError ? "failed" : "completed", result);
  } catch (error) {
    // The task expired or was cancelled meanwhile: nobody is left to read the result.
    process.stderr.write(`sav-mcp: task ${taskId} finished but its result could not be kept: ${error instanceof Error ? error.message : String(error)}\n`);
  }
}

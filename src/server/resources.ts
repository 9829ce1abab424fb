import { McpServer, ResourceTemplate } from "@modelcontextprotocol/sdk/server/mcp.js";
import { ErrorCode, McpError } from "@modelcontextprotocol/sdk/types.js";
import type { SavService } from "./sav-service.js";

export const TASKS_URI = "sav://tasks";

export function taskUri(name: string): string {
  return `${TASKS_URI}/${encodeURIComponent(name)}`;
}

/** `sav://tasks` (every task) and `sav://tasks/{name}` (one task in detail), as JSON. */
export function registerResources(server: McpServer, service: SavService): void {
  server.registerResource(
    "tasks",
    TASKS_URI,
    { title: "All SAV tasks", description: "Every classification task with its labels, model and examples per label (JSON).", mimeType: "application/json" },
    async (uri) => ({
      contents: [{ uri: uri.href, mimeType: "application/json", text: JSON.stringify({ tasks: await service.listTasks() }, null, 2) }],
    }),
  );

  server.registerResource(
    "task",
    new ResourceTemplate(`${TASKS_URI}/{name}`, {
      list: async () => ({
        resources: (await service.listTasks()).map((task) => ({
          uri: taskUri(task.name),
          name: task.name,
          title: `SAV task ${task.name}`,
          description: `${task.exampleCount} examples; labels ${Object.keys(task.examplesPerLabel).join(", ") || "none yet"}`,
          mimeType: "application/json",
        })),
      }),
      complete: {
        name: async (value) => (await service.listTasks()).map((t) => t.name).filter((name) => name.startsWith(value)),
      },
    }),
    { title: "One SAV task", description: "A task's definition, examples per label and voting heads (JSON).", mimeType: "application/json" },
    async (uri, variables) => {
      const raw = variables.name;
      const name = decodeURIComponent(Array.isArray(raw) ? raw[0] ?? "" : raw ?? "");
      let detail;
      try {
        detail = await service.getTask(name);
      } catch (error) {
        throw new McpError(ErrorCode.InvalidParams, error instanceof Error ? error.message : String(error));
      }
      return { contents: [{ uri: uri.href, mimeType: "application/json", text: JSON.stringify(detail, null, 2) }] };
    },
  );
}

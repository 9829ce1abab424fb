import { McpServer, ResourceTemplate } from "@modelcontextprotocol/sdk/server/mcp.js";
import { ErrorCode, McpError } from "@modelcontextprotocol/sdk/types.js";
import type { SavService } from "./sav-service.js";
import { errorText } from "./errors.js";

export const TASKS_URI = "sav://tasks";
/** Most values one completion answer may carry (MCP). */
const MAX_COMPLETIONS = 100;

export function taskUri(name: string): string {
  return `${TASKS_URI}/${encodeURIComponent(name)}`;
}

/** A later page of `sav://tasks`: the same listing as list_tasks, cursor in the URI. */
export function tasksPageUri(cursor: string): string {
  return `${TASKS_URI}?cursor=${encodeURIComponent(cursor)}`;
}

function asResourceError(error: unknown): McpError {
  return new McpError(ErrorCode.InvalidParams, errorText(error));
}

/**
 * `sav://tasks` (the first page of tasks; `nextPage` names the URI of the next), `sav://tasks?cursor=…`
 * (later pages) and `sav://tasks/{name}` (one task in detail), as JSON.
 */
export function registerResources(server: McpServer, service: SavService): void {
  async function tasksPage(uri: URL, cursor?: string) {
    let page;
    try {
      page = await service.listTasks({ cursor });
    } catch (error) {
      throw asResourceError(error);
    }
    const body = { ...page, ...(page.nextCursor ? { nextPage: tasksPageUri(page.nextCursor) } : {}) };
    return { contents: [{ uri: uri.href, mimeType: "application/json", text: JSON.stringify(body) }] };
  }

  server.registerResource(
    "tasks",
    TASKS_URI,
    { title: "All SAV tasks", description: "Tasks with labels, model and examples per label, a page at a time (JSON).", mimeType: "application/json" },
    async (uri) => tasksPage(uri),
  );

  server.registerResource(
    "tasks-page",
    new ResourceTemplate(`${TASKS_URI}{?cursor}`, { list: undefined }),
    { title: "A later page of SAV tasks", description: "The page after `nextCursor` of sav://tasks (JSON).", mimeType: "application/json" },
    async (uri, variables) => {
      const raw = variables.cursor;
      return tasksPage(uri, Array.isArray(raw) ? raw[0] : raw);
    },
  );

  server.registerResource(
    "task",
    new ResourceTemplate(`${TASKS_URI}/{name}`, {
      // resources/list is not paged by the SDK, so it names the first page of tasks only; sav://tasks pages on.
      list: async () => ({
        resources: (await service.listTasks()).tasks.map((task) => ({
          uri: taskUri(task.name),
          name: task.name,
          title: `SAV task ${task.name}`,
          description: `${task.exampleCount} examples; labels ${Object.keys(task.examplesPerLabel).join(", ") || "none yet"}`.slice(0, 300),
          mimeType: "application/json",
        })),
      }),
      complete: {
        name: async (value) => (await service.taskNames()).filter((name) => name.startsWith(value)).slice(0, MAX_COMPLETIONS),
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
        throw asResourceError(error);
      }
      return { contents: [{ uri: uri.href, mimeType: "application/json", text: JSON.stringify(detail) }] };
    },
  );
}

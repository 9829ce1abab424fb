import { McpServer, ResourceTemplate } from "@modelcontextprotocol/sdk/server/mcp.js";
import { ErrorCode, ListResourcesRequestSchema, McpError, type Resource } from "@modelcontextprotocol/sdk/types.js";
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

const TASKS_RESOURCE = {
  title: "All SAV tasks",
  description: "Tasks with labels, model and examples per label, a page at a time (JSON).",
  mimeType: "application/json",
} as const;

const TASK_RESOURCE = {
  title: "One SAV task",
  description: "A task's definition, examples per label and voting heads (JSON).",
  mimeType: "application/json",
} as const;

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
    TASKS_RESOURCE,
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
      // Listed by the paged resources/list handler below: the SDK's own calls this without a cursor.
      list: undefined,
      complete: {
        name: async (value) => (await service.taskNames()).filter((name) => name.startsWith(value)).slice(0, MAX_COMPLETIONS),
      },
    }),
    TASK_RESOURCE,
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

  pageResourcesList(server, service);
}

/**
 * resources/list a page at a time: the SDK's handler neither reads `cursor` nor gives `nextCursor`, so with
 * it a client saw only the first page of tasks. The first page also names sav://tasks; the cursor is
 * list_tasks' own, so pages follow task names however tasks are added or deleted in between.
 * setRequestHandler replaces the SDK's handler, which it installed when the first resource was registered.
 */
function pageResourcesList(server: McpServer, service: SavService): void {
  server.server.setRequestHandler(ListResourcesRequestSchema, async (request) => {
    const cursor = request.params?.cursor;
    let page;
    try {
      page = await service.listTasks({ cursor });
    } catch (error) {
      throw asResourceError(error);
    }
    const fixed: Resource[] = cursor === undefined ? [{ uri: TASKS_URI, name: "tasks", ...TASKS_RESOURCE }] : [];
    const tasks: Resource[] = page.tasks.map((task) => ({
      uri: taskUri(task.name),
      name: task.name,
      title: `SAV task ${task.name}`,
      description: `${task.exampleCount} examples; labels ${Object.keys(task.examplesPerLabel).join(", ") || "none yet"}`.slice(0, 300),
      mimeType: TASK_RESOURCE.mimeType,
    }));
    return { resources: [...fixed, ...tasks], ...(page.nextCursor === undefined ? {} : { nextCursor: page.nextCursor }) };
  });
}

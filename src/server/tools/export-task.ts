import { exportTaskInputSchema, exportTaskOutputSchema } from "../schemas/transfer.js";
import { runTool, type ToolDeps } from "./shared.js";

export const EXPORT_TASK = "export_task";

/** Registers export_task. */
export function registerExportTask({ server, service }: ToolDeps): void {
  server.registerTool(
    EXPORT_TASK,
    {
      title: "Export a task",
      description:
        "Save a task and its examples' head vectors (not images) to a JSON file, for backup or another machine.",
      inputSchema: exportTaskInputSchema,
      outputSchema: exportTaskOutputSchema,
      annotations: {
        title: "Export a task",
        readOnlyHint: false,
        // With overwrite: true it replaces an existing file.
        destructiveHint: true,
        idempotentHint: true,
        openWorldHint: false,
      },
    },
    async (args) => runTool(() => service.exportTask(args)),
  );
}

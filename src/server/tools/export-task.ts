import { exportTaskInputSchema, exportTaskOutputSchema } from "../schemas/transfer.js";
import { runTool, type ToolDeps } from "./shared.js";

export const EXPORT_TASK = "export_task";

/** Registers export_task. */
export function registerExportTask({ server, service }: ToolDeps): void {
  server.registerTool(
    EXPORT_TASK,
    {
      title: "Export a task to a portable file",
      description:
        "Write a task (definition, labels, and each example's head vectors; never the images) to a JSON file, to back it up or share it. " +
        "import_task reads it back, on any machine with the same model files. The path must be inside the server's allowed directories; an existing file is only replaced with overwrite: true.",
      inputSchema: exportTaskInputSchema,
      outputSchema: exportTaskOutputSchema,
      annotations: {
        title: "Export a task to a portable file",
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

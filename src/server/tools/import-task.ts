import { importTaskInputSchema, importTaskOutputSchema } from "../schemas/transfer.js";
import { callContext, runTool, type ToolDeps } from "./shared.js";

export const IMPORT_TASK = "import_task";

/** Registers import_task. */
export function registerImportTask({ server, service, logs }: ToolDeps): void {
  server.registerTool(
    IMPORT_TASK,
    {
      title: "Import a task",
      description:
        "Recreate a task from an export_task file (`path`), ready to classify. Needs the same model files and a free name.",
      inputSchema: importTaskInputSchema,
      outputSchema: importTaskOutputSchema,
      annotations: {
        title: "Import a task",
        readOnlyHint: false,
        destructiveHint: false,
        // Importing again changes nothing (refused: the name exists).
        idempotentHint: true,
        openWorldHint: false,
      },
    },
    async (args, extra) => runTool(() => service.importTask(args, callContext(extra, logs))),
  );
}

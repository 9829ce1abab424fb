import { importTaskInputSchema, importTaskOutputSchema } from "../schemas/transfer.js";
import { callContext, runTool, type ToolDeps } from "./shared.js";

export const IMPORT_TASK = "import_task";

/** Registers import_task. */
export function registerImportTask({ server, service }: ToolDeps): void {
  server.registerTool(
    IMPORT_TASK,
    {
      title: "Import a task from an exported file",
      description:
        "Create a task from a file written by export_task (format in docs/task-format.md), with all its examples, ready to classify without the original images. " +
        "Refused when the file was made with different model files (fingerprint mismatch) or the name exists (pass `name` to rename). The path must be inside the allowed directories.",
      inputSchema: importTaskInputSchema,
      outputSchema: importTaskOutputSchema,
      annotations: {
        title: "Import a task from an exported file",
        readOnlyHint: false,
        destructiveHint: false,
        // Importing again changes nothing (refused: the name exists).
        idempotentHint: true,
        openWorldHint: false,
      },
    },
    async (args, extra) => runTool(() => service.importTask(args, callContext(extra))),
  );
}

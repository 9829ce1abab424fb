import { z } from "zod";
import { taskRefSchema } from "../schemas.js";
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
      inputSchema: z.object({
        task: taskRefSchema,
        path: z.string().min(1).describe("File to write, e.g. 'exports/kid-safe.sav.json' (relative to the server's working directory, inside an allowed directory)."),
        overwrite: z.boolean().optional().describe("true: replace an existing file. Default false (an existing file is an error)."),
      }),
      outputSchema: z.object({
        task: z.string().describe("Task name"),
        path: z.string().describe("Absolute path of the written file"),
        bytes: z.number().int().describe("File size"),
        exampleCount: z.number().int().describe("Examples written"),
        model: z
          .object({ id: z.string().describe("Model id"), fingerprint: z.string().describe("Model fingerprint; import needs the same") })
          .describe("The model the vectors come from"),
      }),
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

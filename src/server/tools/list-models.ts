import { z } from "zod";
import { modelListingSchema } from "../schemas.js";
import { runTool, type ToolDeps } from "./shared.js";

export const LIST_MODELS = "list_models";

/** Registers list_models. */
export function registerListModels({ server, service }: ToolDeps): void {
  server.registerTool(
    LIST_MODELS,
    {
      title: "List models",
      description:
        "Models for create_sav_task: installed or not, default, size, install command. 'tiny-smolvlm' is random (tests).",
      inputSchema: z.object({}),
      outputSchema: z.object({
        defaultModel: z.string(),
        models: z.array(modelListingSchema),
      }),
      annotations: { title: "List models", readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
    },
    async () => runTool(async () => ({ defaultModel: service.defaultModel, models: await service.listModels() })),
  );
}

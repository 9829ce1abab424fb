import { z } from "zod";
import { modelListingSchema } from "../schemas.js";
import { runTool, type ToolDeps } from "./shared.js";

export const LIST_MODELS = "list_models";

/** Registers list_models. */
export function registerListModels({ server, service }: ToolDeps): void {
  server.registerTool(
    LIST_MODELS,
    {
      title: "List vision-language models",
      description:
        "List the models a task can use (the `model` argument of create_sav_task): which are installed, which is the default, download sizes, and the command that installs a missing one. " +
        "'tiny-smolvlm' is a generated test model with random weights: it runs offline, but its labels are not meaningful.",
      inputSchema: z.object({}),
      outputSchema: z.object({
        defaultModel: z.string().describe("Model used when create_sav_task gets no `model`"),
        models: z.array(modelListingSchema).describe("Known models"),
      }),
      annotations: { title: "List vision-language models", readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
    },
    async () => runTool(async () => ({ defaultModel: service.defaultModel, models: await service.listModels() })),
  );
}

/**
 * The locally generated models (random weights, published layouts) this program offers, keyed by model id.
 * Registered here, at the composition root, so the registry never imports a generator; each generator is
 * loaded only when its model is first used.
 */
import type { ModelGenerator } from "./model/registry/index.js";
import { defaultTinyModelDir } from "./model/families/idefics3/tiny/paths.js";

export function generatedModels(): Record<string, ModelGenerator> {
  const tinySmolvlm = defaultTinyModelDir();
  return {
    "tiny-smolvlm": {
      dir: tinySmolvlm,
      ensure: async () => (await import("./model/families/idefics3/tiny/index.js")).ensureTinyModel(tinySmolvlm),
    },
  };
}

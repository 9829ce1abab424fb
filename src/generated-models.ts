/**
 * The locally generated models (random weights, published layouts) this program offers, keyed by model id.
 * Registered here, at the composition root, so the registry never imports a generator; each generator is
 * loaded only when its model is first used.
 */
import path from "node:path";
import type { ModelGenerator } from "./model/registry/index.js";
import { TINY_LLAVA_ONEVISION_ID } from "./model/families/llava_onevision/tiny/paths.js";

/**
 * Generated models live under `modelsDir` (SAV_MODELS_DIR or the user's cache), like pulled ones, never inside the
 * installed package, which a non-root user cannot write to.
 */
export function generatedModels(modelsDir: string): Record<string, ModelGenerator> {
  const tinySmolvlm = path.join(modelsDir, "tiny-smolvlm");
  const tinyQwen2VL = path.join(modelsDir, "tiny-qwen2-vl");
  const tinyLlava = path.join(modelsDir, TINY_LLAVA_ONEVISION_ID);
  return {
    "tiny-smolvlm": {
      dir: tinySmolvlm,
      ensure: async () => (await import("./model/families/idefics3/tiny/index.js")).ensureTinyModel(tinySmolvlm),
    },
    "tiny-qwen2-vl": {
      dir: tinyQwen2VL,
      ensure: async () => (await import("./model/families/qwen2_vl/tiny/index.js")).ensureQwen2VLModel(tinyQwen2VL),
    },
    [TINY_LLAVA_ONEVISION_ID]: {
      dir: tinyLlava,
      ensure: async () => (await import("./model/families/llava_onevision/tiny/index.js")).ensureTinyLlavaOnevision(tinyLlava),
    },
  };
}

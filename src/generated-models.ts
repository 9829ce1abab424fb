/**
 * The locally generated models (random weights, published layouts) this program offers, keyed by model id.
 * Registered here, at the composition root, so the registry never imports a generator; each generator is
 * loaded only when its model is first used.
 */
import type { ModelGenerator } from "./model/registry/index.js";
import { defaultTinyModelDir } from "./model/families/idefics3/tiny/paths.js";
import { defaultTinyLlavaOnevisionDir, TINY_LLAVA_ONEVISION_ID } from "./model/families/llava_onevision/tiny/paths.js";
import { defaultTinyQwen2VLDir } from "./model/families/qwen2_vl/tiny/paths.js";

export function generatedModels(): Record<string, ModelGenerator> {
  const tinySmolvlm = defaultTinyModelDir();
  const tinyQwen2VL = defaultTinyQwen2VLDir();
  const tinyLlava = defaultTinyLlavaOnevisionDir();
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

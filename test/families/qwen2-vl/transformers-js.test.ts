/**
 * transformers.js (offline) takes the generated tiny-qwen2-vl directory as a Qwen2-VL model: its processor
 * renders the chat template and expands <|image_pad|> for the grid, and Qwen2VLForConditionalGeneration
 * loads the three graphs, feeds grid_thw and [3, B, S] position_ids, and generates.
 */
import path from "node:path";
import { AutoProcessor, Qwen2VLForConditionalGeneration, RawImage, env, type Tensor } from "@huggingface/transformers";
import { beforeAll, describe, expect, it } from "vitest";
import { defaultTinyQwen2VLDir, ensureQwen2VLModel } from "../../../src/model/families/qwen2_vl/tiny/index.js";
import { QWEN2_VL_TOKEN_IDS as ID } from "../../../src/model/families/qwen2_vl/tiny/published.js";

let dir: string;
beforeAll(async () => {
  dir = await ensureQwen2VLModel(defaultTinyQwen2VLDir());
  env.allowRemoteModels = false;
  env.localModelPath = `${path.dirname(dir)}/`;
});

describe("transformers.js on tiny-qwen2-vl", () => {
  it("Qwen2VLForConditionalGeneration loads the directory and generates from an image prompt", async () => {
    const name = path.basename(dir);
    const processor = await AutoProcessor.from_pretrained(name);
    const model = await Qwen2VLForConditionalGeneration.from_pretrained(name, { dtype: "fp32" });
    try {
      const data = new Uint8ClampedArray(224 * 224 * 3);
      for (let i = 0; i < data.length; i++) data[i] = (i * 37) % 256;
      const text = processor.apply_chat_template([{ role: "user", content: [{ type: "image" }, { type: "text", text: "Describe this image." }] }], {
        add_generation_prompt: true,
      });
      expect(text).toBe(
        "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\n<|vision_start|><|image_pad|><|vision_end|>Describe this image.<|im_end|>\n<|im_start|>assistant\n",
      );
      const inputs = await processor(text, new RawImage(data, 224, 224, 3));
      const ids = Array.from((inputs.input_ids as Tensor).data as BigInt64Array, Number);
      expect(ids.filter((id) => id === ID.image)).toHaveLength(64);
      expect((inputs.pixel_values as Tensor).dims).toEqual([256, 1176]);
      const output = (await model.generate({ ...inputs, max_new_tokens: 4, do_sample: false })) as Tensor;
      expect(output.dims).toEqual([1, ids.length + 4]);
      expect(Array.from(output.data as BigInt64Array, Number).slice(0, ids.length)).toEqual(ids);
    } finally {
      await model.dispose();
    }
  });
});

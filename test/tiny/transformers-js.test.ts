/**
 * An implementation nobody here wrote accepts the generated directory as a SmolVLM model:
 * transformers.js loads it (local files only) with its Idefics3 processor and model classes, and
 * generates. If it refuses the directory, the generated layout is wrong.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import {
  AutoModelForVision2Seq,
  AutoProcessor,
  env,
  Idefics3ForConditionalGeneration,
  RawImage,
  type Tensor,
} from "@huggingface/transformers";
import { beforeAll, describe, expect, it } from "vitest";
import { defaultTinyModelDir } from "../../src/model/families/idefics3/tiny/index.js";

const dir = defaultTinyModelDir();
const modelId = path.basename(dir);
const IMAGE_TOKEN = 49190;

function testImage(width: number, height: number): RawImage {
  const data = new Uint8ClampedArray(width * height * 3);
  for (let i = 0; i < data.length; i++) data[i] = (i * 37) % 256;
  return new RawImage(data, width, height, 3);
}

const messages = [{ role: "user", content: [{ type: "image" }, { type: "text", text: "What is in this image?" }] }];

function ids(tensor: Tensor): number[] {
  return Array.from(tensor.data as BigInt64Array, Number);
}

beforeAll(() => {
  env.allowRemoteModels = false;
  env.allowLocalModels = true;
  env.localModelPath = path.dirname(dir);
});

describe("transformers.js on the generated model directory", () => {
  it("its processor renders the chat template and expands <image> by image_seq_len", async () => {
    const processor = await AutoProcessor.from_pretrained(modelId);
    const text = processor.apply_chat_template(messages, { add_generation_prompt: true }) as string;
    expect(text).toBe("<|im_start|>User:<image>What is in this image?<end_of_utterance>\nAssistant:");
    const inputs = await processor(text, [testImage(100, 80)], { do_image_splitting: false });
    expect(inputs.pixel_values.dims).toEqual([1, 1, 3, 64, 64]);
    expect(inputs.pixel_attention_mask.dims).toEqual([1, 1, 64, 64]);
    const tokenIds = ids(inputs.input_ids);
    expect(tokenIds.filter((t) => t === IMAGE_TOKEN)).toHaveLength(4);
    expect(tokenIds[0]).toBe(1); // <|im_start|>, the same id in the real and the fallback tokenizer
    const stamp = JSON.parse(readFileSync(path.join(dir, ".generator.json"), "utf8")) as { tokenizer_source: string };
    // The ids of ordinary words are the published ones only with the real tokenizer (from ../shared).
    if (stamp.tokenizer_source === "shared") expect(tokenIds.slice(0, 3)).toEqual([1, 11126, 42]);
    expect(tokenIds.at(-1)).toBe(42);
  });

  it("AutoModelForVision2Seq (fp32) loads it and generates one token", async () => {
    const processor = await AutoProcessor.from_pretrained(modelId);
    const model = await AutoModelForVision2Seq.from_pretrained(modelId, { dtype: "fp32" });
    try {
      const text = processor.apply_chat_template(messages, { add_generation_prompt: true }) as string;
      const inputs = await processor(text, [testImage(120, 90)]);
      // Image splitting on: 256 px longest edge in 64 px tiles plus the global image.
      expect(inputs.pixel_values.dims[1]).toBeGreaterThan(1);
      const output = (await model.generate({ ...inputs, max_new_tokens: 1, do_sample: false })) as Tensor;
      expect(output.dims).toEqual([1, inputs.input_ids.dims[1] + 1]);
      const newToken = ids(output).at(-1) as number;
      expect(newToken).toBeGreaterThanOrEqual(0);
      expect(newToken).toBeLessThan(49280);
    } finally {
      await model.dispose();
    }
  });

  it("Idefics3ForConditionalGeneration runs a forward pass whose logits cover the prompt", async () => {
    const processor = await AutoProcessor.from_pretrained(modelId);
    const model = await Idefics3ForConditionalGeneration.from_pretrained(modelId, { dtype: "fp32" });
    try {
      const text = processor.apply_chat_template(messages, { add_generation_prompt: true }) as string;
      const inputs = await processor(text, [testImage(64, 64)], { do_image_splitting: false });
      const { logits } = (await model(inputs)) as { logits: Tensor };
      expect(logits.dims).toEqual([1, inputs.input_ids.dims[1], 49280]);
      expect(Array.from(logits.data as Float32Array).every(Number.isFinite)).toBe(true);
    } finally {
      await model.dispose();
    }
  });

  it("loads the q4 and int8 files by their published suffixes", async () => {
    const processor = await AutoProcessor.from_pretrained(modelId);
    const text = processor.apply_chat_template(messages, { add_generation_prompt: true }) as string;
    const inputs = await processor(text, [testImage(64, 64)], { do_image_splitting: false });
    for (const dtype of ["q4", "int8"] as const) {
      const model = await AutoModelForVision2Seq.from_pretrained(modelId, { dtype });
      try {
        const output = (await model.generate({ ...inputs, max_new_tokens: 1, do_sample: false })) as Tensor;
        expect(output.dims, dtype).toEqual([1, inputs.input_ids.dims[1] + 1]);
      } finally {
        await model.dispose();
      }
    }
  });
});

/**
 * transformers.js as an independent check of the single 384-px path on the generated directory: its tokenizer
 * and chat template give our input_ids, its LlavaOnevisionImageProcessor our pixel_values (within resampling
 * tolerance), and its LLaVA model class loads the three graphs and generates. (It has no anyres path.)
 */
import path from "node:path";
import { AutoProcessor, AutoTokenizer, env, LlavaOnevisionForConditionalGeneration, RawImage, Tensor } from "@huggingface/transformers";
import sharp from "sharp";
import { beforeAll, describe, expect, it } from "vitest";
import { loadModelFiles } from "../../src/model/index.js";
import type { FamilyModel } from "../../src/model/families/types.js";
import type { LlavaLayout } from "../../src/model/families/llava_onevision/index.js";
import type { PreparedImage } from "../../src/model/families/llava_onevision/image-processor.js";
import { defaultTinyLlavaOnevisionDir, ensureTinyLlavaOnevision } from "../../src/model/families/llava_onevision/tiny/index.js";

const dir = defaultTinyLlavaOnevisionDir();
const modelId = path.basename(dir);
const IMAGE_TOKEN_ID = 151646;
const messages = [{ role: "user", content: [{ type: "image" }, { type: "text", text: "What is in this image?" }] }];

/** A smooth RGB gradient (resampling filters agree closely on it). */
function gradientPixels(width: number, height: number): Uint8ClampedArray {
  const data = new Uint8ClampedArray(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) data.set([Math.round((x * 255) / (width - 1)), Math.round((y * 255) / (height - 1)), 128], (y * width + x) * 3);
  }
  return data;
}

let model: FamilyModel<PreparedImage, LlavaLayout>;

beforeAll(async () => {
  await ensureTinyLlavaOnevision(dir);
  env.allowRemoteModels = false;
  env.allowLocalModels = true;
  env.localModelPath = path.dirname(dir);
  model = loadModelFiles(dir).model as FamilyModel<PreparedImage, LlavaLayout>;
});

describe("transformers.js on tiny-llava-onevision (single path)", () => {
  it("its tokenizer and chat template give the same input_ids as our prompt with 729 <image> tokens", async () => {
    const tokenizer = await AutoTokenizer.from_pretrained(modelId);
    const text = tokenizer.apply_chat_template(messages, { add_generation_prompt: true, tokenize: false }) as string;
    expect(text).toBe("<|im_start|>user\n<image>\nWhat is in this image?<|im_end|>\n<|im_start|>assistant\n");
    const theirs = Array.from(tokenizer.encode(text.replace("<image>", "<image>".repeat(729))));
    const ours = model.promptIds([{ mode: "single", crops: 1, rows: 729 }], "What is in this image?", { imagePath: "single", promptStyle: "chat_template" });
    expect(ours).toEqual(theirs);
    expect(ours.filter((id) => id === IMAGE_TOKEN_ID)).toHaveLength(729);
  });

  it("its image processor gives pixel_values [1, 3, 384, 384] matching ours within resampling tolerance", async () => {
    const [width, height] = [200, 150];
    const pixels = gradientPixels(width, height);
    const processor = await AutoProcessor.from_pretrained(modelId);
    const { pixel_values: theirs } = (await processor(new RawImage(pixels, width, height, 3))) as { pixel_values: Tensor };
    expect(theirs.dims).toEqual([1, 3, 384, 384]);
    const png = await sharp(Buffer.from(pixels), { raw: { width, height, channels: 3 } }).png().toBuffer();
    const ours = await model.preprocess(png, { imagePath: "single", promptStyle: "chat_template" }, 1 << 26);
    expect(ours.pixels.length).toBe(3 * 384 * 384);
    const data = theirs.data as Float32Array;
    let sum = 0;
    let interiorMax = 0;
    for (let i = 0; i < data.length; i++) {
      const d = Math.abs(data[i]! - ours.pixels[i]!);
      sum += d;
      const [x, y] = [i % 384, Math.floor(i / 384) % 384];
      // sharp's affine (transformers.js) treats the 4-px border band differently (edge extension) than PIL (and we) do.
      if (Math.min(x, y, 383 - x, 383 - y) >= 4) interiorMax = Math.max(interiorMax, d);
    }
    // transformers.js resizes with sharp's affine bicubic, we with the port of PIL's bicubic: a few levels apart.
    expect(sum / data.length).toBeLessThan(0.01);
    expect(interiorMax).toBeLessThan(0.02); // within 2.5 of 255 levels (the scale is 2/255 per level)
  });

  it("LlavaOnevisionForConditionalGeneration loads the directory and generates one token from our inputs", async () => {
    const llava = await LlavaOnevisionForConditionalGeneration.from_pretrained(modelId, { dtype: "fp32" });
    try {
      const png = await sharp(Buffer.from(gradientPixels(120, 90)), { raw: { width: 120, height: 90, channels: 3 } }).png().toBuffer();
      const image = await model.preprocess(png, { imagePath: "single", promptStyle: "chat_template" }, 1 << 26);
      const ids = model.promptIds([{ mode: "single", crops: 1, rows: 729 }], "What is in this image?", { imagePath: "single", promptStyle: "chat_template" });
      const inputIds = new Tensor("int64", BigInt64Array.from(ids.map(BigInt)), [1, ids.length]);
      const attentionMask = new Tensor("int64", new BigInt64Array(ids.length).fill(1n), [1, ids.length]);
      const pixelValues = new Tensor("float32", image.pixels, [1, 3, 384, 384]);
      const output = (await llava.generate({ input_ids: inputIds, attention_mask: attentionMask, pixel_values: pixelValues, max_new_tokens: 1, do_sample: false })) as Tensor;
      expect(output.dims).toEqual([1, ids.length + 1]);
      const next = Number((output.data as BigInt64Array).at(-1));
      expect(next).toBeGreaterThanOrEqual(0);
      expect(next).toBeLessThan(151936);
    } finally {
      await llava.dispose();
    }
  });
});

// Cross-check against an implementation nobody here wrote: transformers.js's Idefics3 processor and model.
import path from "node:path";
import { AutoProcessor, env, RawImage, type Processor } from "@huggingface/transformers";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseIdefics3Config } from "../../src/model/families/idefics3/config.js";
import { preprocessImage } from "../../src/model/families/idefics3/image-processor.js";
import { readModelDirJson } from "../../src/model/model-dir.js";
import { ModelRunner } from "../../src/model/runner.js";
import { tinyModelDir } from "./paths.js";

env.allowRemoteModels = false;
env.localModelPath = path.dirname(tinyModelDir);
const modelId = path.basename(tinyModelDir);

async function smoothImage(width: number, height: number): Promise<Buffer> {
  const data = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 3;
      data[i] = Math.round(255 * (x / width));
      data[i + 1] = Math.round(255 * (y / height));
      data[i + 2] = 128 + Math.round(100 * Math.sin((x + y) / 40));
    }
  }
  return sharp(data, { raw: { width, height, channels: 3 } }).png().toBuffer();
}

describe("transformers.js agrees with the runner on the generated tiny model", () => {
  let processor: Processor;
  let runner: ModelRunner;
  let bytes: Buffer;
  let image: RawImage;
  const question = "Is the object in this image round? Answer yes or no.";

  beforeAll(async () => {
    processor = await AutoProcessor.from_pretrained(modelId);
    runner = await ModelRunner.create({ id: modelId, dir: tinyModelDir }, { threads: 1 });
    bytes = await smoothImage(200, 150);
    image = await RawImage.fromBlob(new Blob([bytes]));
  });
  afterAll(() => runner?.close());

  function chat(imageCount: number): string {
    const content = [...Array.from({ length: imageCount }, () => ({ type: "image" })), { type: "text", text: question }];
    return processor.apply_chat_template([{ role: "user", content }], { add_generation_prompt: true }) as string;
  }

  it("gives the same input_ids for one unsplit image and a question", async () => {
    const inputs = await processor(chat(1), [image], { do_image_splitting: false });
    const theirs = Array.from(inputs.input_ids.data as BigInt64Array, Number);
    const { inputIds } = await runner.decoderInputs({ images: [bytes], text: question });
    expect(inputIds).toEqual(theirs);
  });

  it("gives the same input_ids for split images (tiles, rows and the global view)", async () => {
    const split = await ModelRunner.create({ id: modelId, dir: tinyModelDir }, { threads: 1, processing: { imageSplitting: true } });
    try {
      const inputs = await processor(chat(1), [image], { do_image_splitting: true });
      const theirs = Array.from(inputs.input_ids.data as BigInt64Array, Number);
      const { inputIds } = await split.decoderInputs({ images: [bytes], text: question });
      expect(inputIds).toEqual(theirs);
    } finally {
      await split.close();
    }
  });

  it("gives pixel_values [1, 1, 3, M, M] close to the runner's (resampling kernels differ slightly)", async () => {
    const inputs = await processor(chat(1), [image], { do_image_splitting: false });
    const theirs = inputs.pixel_values;
    const tile = 64;
    expect(theirs.dims).toEqual([1, 1, 3, tile, tile]);
    const config = parseIdefics3Config(readModelDirJson(tinyModelDir)).image;
    const ours = await preprocessImage(bytes, config, 1e8);
    const data = theirs.data as Float32Array;
    let sum = 0;
    for (let i = 0; i < data.length; i++) sum += Math.abs(data[i] - ours.pixels[i]);
    expect(sum / data.length).toBeLessThan(0.02);
  });

  it("loads the generated directory as an Idefics3 model and generates a token", async () => {
    const { AutoModelForVision2Seq } = await import("@huggingface/transformers");
    const model = await AutoModelForVision2Seq.from_pretrained(modelId, { dtype: "fp32" });
    const inputs = await processor(chat(1), [image], { do_image_splitting: false });
    const output = (await model.generate({ ...inputs, max_new_tokens: 1, do_sample: false })) as { dims: number[] };
    expect(output.dims).toEqual([1, (inputs.input_ids.dims as number[])[1] + 1]);
    await model.dispose();
  });
});

/**
 * Qwen2-VL through the shared runner on tiny-qwen2-vl: the prompt ids, image grid, pixels and M-RoPE
 * positions equal transformers.js's Qwen2VLProcessor / get_rope_index (on an image both processors resize
 * alike: none), the runner's head vectors equal the reference forward of its own decoder inputs, several
 * images are encoded one by one in prompt order, and the family's errors are clear.
 */
import { cp, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { AutoProcessor, RawImage, env, type Tensor } from "@huggingface/transformers";
import onnxProto from "onnx-proto";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ModelFileError, ModelInputError } from "../../../src/model/errors.js";
import { loadModelFiles } from "../../../src/model/model-dir.js";
import { ModelRunner } from "../../../src/model/runner.js";
import { ensureTinyModel } from "../../../src/model/families/idefics3/tiny/index.js";
import { defaultTinyModelDir } from "../../../src/model/families/idefics3/tiny/paths.js";
import { ropeIndex } from "../../../src/model/families/qwen2_vl/rope-index.js";
import { defaultTinyQwen2VLDir, ensureQwen2VLModel } from "../../../src/model/families/qwen2_vl/tiny/index.js";
import { QWEN2_VL_TOKEN_IDS as ID } from "../../../src/model/families/qwen2_vl/tiny/published.js";
import { loadReferenceDecoder } from "../../support/reference-decoder.js";

const { onnx } = onnxProto;
let dir: string;
let runner: ModelRunner;
let scratch: string;

function rgbNoise(width: number, height: number, seed: number): Uint8Array {
  const data = new Uint8Array(width * height * 3);
  let s = seed >>> 0;
  for (let i = 0; i < data.length; i++) data[i] = (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) >>> 24;
  return data;
}
const png = (data: Uint8Array, width: number, height: number): Promise<Buffer> => sharp(Buffer.from(data), { raw: { width, height, channels: 3 } }).png().toBuffer();

beforeAll(async () => {
  dir = await ensureQwen2VLModel(defaultTinyQwen2VLDir());
  runner = await ModelRunner.create({ id: "tiny-qwen2-vl", dir }, { threads: 1 });
  scratch = await mkdtemp(path.join(os.tmpdir(), "sav-qwen2vl-"));
});
afterAll(async () => {
  await runner?.close();
  await rm(scratch, { recursive: true, force: true });
});

describe("Qwen2-VL in the runner", () => {
  it("reports the decoder's shape: 4 layers × 4 heads of 16", () => {
    expect(runner.info.shape).toMatchObject({ layers: 4, heads: 4, headDim: 16 });
  });

  it("gives transformers.js's input_ids, image_grid_thw, pixel_values and position ids on an image it does not resize", async () => {
    const [width, height] = [224, 196];
    const pixels = rgbNoise(width, height, 3);
    const text = "Describe this image.";
    const ours = await runner.decoderInputs({ images: [await png(pixels, width, height)], text });

    env.allowRemoteModels = false;
    env.localModelPath = `${path.dirname(dir)}/`;
    const processor = await AutoProcessor.from_pretrained(path.basename(dir));
    const rendered = processor.apply_chat_template([{ role: "user", content: [{ type: "image" }, { type: "text", text }] }], { add_generation_prompt: true });
    const js = await processor(rendered, new RawImage(new Uint8ClampedArray(pixels), width, height, 3));
    expect(Array.from((js.input_ids as Tensor).data as BigInt64Array, Number)).toEqual(ours.inputIds);
    expect((js.image_grid_thw as Tensor).tolist()).toEqual([[1n, 14n, 16n]]);
    expect(ours.inputIds.filter((id) => id === ID.image)).toHaveLength(56);
    expect(ours.inputIds.at(-1)).toBe(198);
    // The last prompt token is the "\n" after <|im_start|>assistant.
    expect(ours.inputIds.at(-3)).toBe(151644);
    expect(ropeIndex(ours.inputIds, [[1, 14, 16]], 2, { imageTokenId: ID.image, visionStartTokenId: ID.visionStart }).positions).toEqual(ours.positionIds);

    const processed = await processor.image_processor!(new RawImage(new Uint8ClampedArray(pixels), width, height, 3));
    const prepared = (await loadModelFiles(dir).model.preprocess(await png(pixels, width, height), { maxPixels: 200704 }, 1e8)) as { pixelValues: Float32Array };
    const theirs = processed.pixel_values.data as Float32Array;
    let maxDiff = 0;
    for (let i = 0; i < theirs.length; i++) maxDiff = Math.max(maxDiff, Math.abs(theirs[i]! - prepared.pixelValues[i]!));
    expect(maxDiff).toBeLessThan(1e-5);
  });

  it("head vectors equal the reference forward of the runner's own embeddings and M-RoPE positions", async () => {
    const request = { images: [await png(rgbNoise(84, 56, 5), 84, 56)], text: "What is in this image?" };
    const inputs = await runner.decoderInputs(request);
    const { vectors } = await runner.extract(request);
    const reference = await loadReferenceDecoder(dir);
    const expected = reference.headVectors(inputs.inputsEmbeds, inputs.inputIds.length, inputs.positionIds).heads;
    let maxDiff = 0;
    for (let i = 0; i < expected.length; i++) maxDiff = Math.max(maxDiff, Math.abs(expected[i]! - vectors[i]!));
    expect(maxDiff).toBeLessThan(1e-4);
  });

  it("encodes several images one by one, in prompt order", async () => {
    const a = await png(rgbNoise(56, 56, 1), 56, 56);
    const b = await png(rgbNoise(112, 56, 2), 112, 56);
    const both = await runner.decoderInputs({ images: [a, b], text: "Compare." });
    const onlyA = await runner.decoderInputs({ images: [a], text: "Compare." });
    const onlyB = await runner.decoderInputs({ images: [b], text: "Compare." });
    const hidden = loadModelFiles(dir).model.text.hiddenSize;
    const rows = (inputs: { inputIds: number[] }): number[] => inputs.inputIds.flatMap((id, i) => (id === ID.image ? [i] : []));
    const gather = (inputs: { inputIds: number[]; inputsEmbeds: Float32Array }): Float32Array[] => rows(inputs).map((i) => inputs.inputsEmbeds.slice(i * hidden, (i + 1) * hidden));
    // 56×56 → min_pixels upscales to 56×56 (4 tokens); 112×56 → 8 tokens.
    expect(rows(onlyA)).toHaveLength(4);
    expect(rows(onlyB)).toHaveLength(8);
    expect(gather(both)).toEqual([...gather(onlyA), ...gather(onlyB)]);
  });

  it("records maxPixels as a processing option: a smaller budget gives fewer image tokens and other vectors", async () => {
    const image = await png(rgbNoise(224, 224, 9), 224, 224);
    const full = await runner.decoderInputs({ images: [image], text: "x" });
    const small = await runner.decoderInputs({ images: [image], text: "x", options: { maxPixels: 112 * 112 } });
    expect(full.inputIds.filter((id) => id === ID.image)).toHaveLength(64);
    expect(small.inputIds.filter((id) => id === ID.image)).toHaveLength(16);
    expect(runner.resolveOptions({})).toEqual({ maxPixels: 200704 });
    expect(() => runner.resolveOptions({ maxPixels: 100 })).toThrow(/maxPixels must be an integer from 3136 to 12845056/);
    expect(() => runner.resolveOptions({ imageSplitting: true })).toThrow(/the only one is maxPixels/);
  });
});

describe("Qwen2-VL errors", () => {
  async function variantDir(name: string, edit: (copy: string) => Promise<void>): Promise<string> {
    const copy = path.join(scratch, name);
    await cp(dir, copy, { recursive: true });
    await edit(copy);
    return copy;
  }
  async function editGraph(file: string, change: (graph: onnxProto.onnx.IGraphProto) => void): Promise<void> {
    const model = onnx.ModelProto.decode(await readFile(file));
    change(model.graph!);
    await writeFile(file, onnx.ModelProto.encode(model).finish());
  }

  it("an image below 28 px on a side is refused with the limit", async () => {
    await expect(runner.extract({ images: [await png(rgbNoise(20, 64, 1), 20, 64)], text: "x" })).rejects.toThrow(ModelInputError);
    await expect(runner.extract({ images: [await png(rgbNoise(20, 64, 1), 20, 64)], text: "x" })).rejects.toThrow(/at least 28 pixels on each side/);
  });

  it("a config without the vision token ids is refused naming the field", async () => {
    const copy = await variantDir("no-token-ids", async (d) => {
      const config = JSON.parse(await readFile(path.join(d, "config.json"), "utf8")) as Record<string, unknown>;
      delete config.vision_start_token_id;
      await writeFile(path.join(d, "config.json"), JSON.stringify(config));
    });
    expect(() => loadModelFiles(copy)).toThrow(ModelFileError);
    expect(() => loadModelFiles(copy)).toThrow(/vision_start_token_id/);
  });

  it("a vision encoder without a grid_thw input is refused naming the inputs it has", async () => {
    const copy = await variantDir("no-grid", (d) =>
      editGraph(path.join(d, "onnx", "vision_encoder.onnx"), (graph) => {
        graph.input!.find((i) => i.name === "grid_thw")!.name = "image_grid_thw";
        for (const node of graph.node!) node.input = node.input!.map((i) => (i === "grid_thw" ? "image_grid_thw" : i));
      }),
    );
    const broken = await ModelRunner.create({ id: "no-grid", dir: copy }, { threads: 1 });
    try {
      await expect(broken.extract({ images: [await png(rgbNoise(56, 56, 1), 56, 56)], text: "x" })).rejects.toThrow(/take[s]? pixel_values and grid_thw/);
    } finally {
      await broken.close();
    }
  });

  it("a decoder with 1-D position_ids is refused instead of silently using 0..S-1", async () => {
    // tiny-smolvlm's decoder has the same sizes (4 layers, 4 heads / 2 KV of 16, hidden 64) and 1-D RoPE.
    const smolvlm = await ensureTinyModel(defaultTinyModelDir());
    const copy = await variantDir("flat-positions", (d) => cp(path.join(smolvlm, "onnx", "decoder_model_merged.onnx"), path.join(d, "onnx", "decoder_model_merged.onnx")));
    const broken = await ModelRunner.create({ id: "flat-positions", dir: copy }, { threads: 1 });
    try {
      await expect(broken.extract({ images: [await png(rgbNoise(56, 56, 1), 56, 56)], text: "x" })).rejects.toThrow(/position_ids input has rank 2, but qwen2_vl models take rank 3/);
    } finally {
      await broken.close();
    }
  });
});

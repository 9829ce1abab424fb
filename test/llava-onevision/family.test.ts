/**
 * The llava_onevision family on the generated tiny model: both image paths through the real vision encoder,
 * the packing against the raw crop features, the 730-row encoder layout, the refusal without image_newline,
 * multi-image square padding, prompt styles, and the shared runner end to end.
 */
import path from "node:path";
import * as ort from "onnxruntime-node";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadModelFiles, ModelRunner } from "../../src/model/index.js";
import type { FamilyModel, VisionSession } from "../../src/model/families/types.js";
import type { LlavaLayout } from "../../src/model/families/llava_onevision/index.js";
import type { PreparedImage } from "../../src/model/families/llava_onevision/image-processor.js";
import { packAnyres, packLayout } from "../../src/model/families/llava_onevision/packing.js";
import { QWEN_1_5_SYSTEM_TURN } from "../../src/model/families/llava_onevision/prompt.js";
import { defaultTinyLlavaOnevisionDir, ensureTinyLlavaOnevision } from "../../src/model/families/llava_onevision/tiny/index.js";
import { inputMetadata, readFloats } from "../../src/model/tensors.js";
import { makeTempDir } from "../support/temp-dir.js";

const IMAGE_TOKEN_ID = 151646;
let temp: ReturnType<typeof makeTempDir>;
let dirs: { main: string; withRow: string; noNewline: string };

async function gradient(width: number, height: number): Promise<Buffer> {
  const data = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) data.set([(x * 255) / width, (y * 255) / height, ((x + y) * 97) % 256], (y * width + x) * 3);
  }
  return sharp(data, { raw: { width, height, channels: 3 } }).png().toBuffer();
}

async function visionOf(dir: string): Promise<VisionSession & { release(): Promise<void> }> {
  const session = await ort.InferenceSession.create(path.join(dir, "onnx", "vision_encoder.onnx"), { intraOpNumThreads: 1 });
  return { inputs: inputMetadata(session), outputNames: session.outputNames, run: (feeds) => session.run(feeds), release: () => session.release() };
}

function familyModel(dir: string): FamilyModel<PreparedImage, LlavaLayout> {
  return loadModelFiles(dir).model as FamilyModel<PreparedImage, LlavaLayout>;
}

beforeAll(async () => {
  temp = makeTempDir();
  dirs = {
    main: await ensureTinyLlavaOnevision(defaultTinyLlavaOnevisionDir()),
    withRow: await ensureTinyLlavaOnevision(path.join(temp.dir, "with-row"), { variants: ["fp32"], newlineInVisionOutput: true }),
    noNewline: await ensureTinyLlavaOnevision(path.join(temp.dir, "no-newline"), { variants: ["fp32"], withoutStoredNewline: true }),
  };
});
afterAll(() => temp?.cleanup());

describe("image paths on the tiny model", () => {
  it("anyres (default with image_newline.json): 480×640 gives 5 crops and the processor's 2929 rows, packed from the raw crops", async () => {
    const model = familyModel(dirs.main);
    const options = model.resolveOptions({});
    expect(options).toEqual({ imagePath: "anyres", promptStyle: "chat_template" });
    const image = await model.preprocess(await gradient(640, 480), options, 1 << 26);
    expect(image.crops).toBe(5);
    const vision = await visionOf(dirs.main);
    try {
      const encoded = await model.encodeImage(vision, image);
      expect(encoded.rows).toBe(2929);
      expect(encoded.layout).toMatchObject({ mode: "anyres", crops: 5, grid: [2, 2], unpadded: [40, 54], pooled: [40, 54] });
      // The same rows as packing the encoder's raw output by hand.
      const raw = readFloats((await vision.run({ pixel_values: new ort.Tensor("float32", image.pixels, [5, 3, 384, 384]) })).image_features!);
      const layout = packLayout({ height: 480, width: 640 }, 2, 2, 27, 9);
      const newline = Float32Array.from((await import("../../src/model/registry/safetensors-range.js")).readStoredTensor(dirs.main, "image_newline.json")!.values);
      const expected = packAnyres({ data: raw, crops: 5, rowsPerCrop: 729, hidden: model.text.hiddenSize }, layout, newline);
      expect(Array.from(encoded.features)).toEqual(Array.from(expected));
    } finally {
      await vision.release();
    }
  });

  it("single: one 384² crop, the encoder's 729 rows as they are", async () => {
    const model = familyModel(dirs.main);
    const options = model.resolveOptions({ imagePath: "single" });
    const image = await model.preprocess(await gradient(640, 480), options, 1 << 26);
    const vision = await visionOf(dirs.main);
    try {
      const encoded = await model.encodeImage(vision, image);
      expect(encoded.rows).toBe(729);
      expect(encoded.layout).toEqual({ mode: "single", crops: 1, rows: 729 });
    } finally {
      await vision.release();
    }
  });

  it("an encoder emitting 730 rows per crop (newline included) packs to the same features", async () => {
    const bytes = await gradient(500, 300);
    const results: Float32Array[] = [];
    for (const dir of [dirs.main, dirs.withRow]) {
      const model = familyModel(dir);
      const options = model.resolveOptions({ imagePath: "anyres" });
      const vision = await visionOf(dir);
      try {
        results.push((await model.encodeImage(vision, await model.preprocess(bytes, options, 1 << 26))).features);
      } finally {
        await vision.release();
      }
    }
    expect(results[1]!.length).toBe(results[0]!.length);
    let max = 0;
    results[0]!.forEach((v, i) => (max = Math.max(max, Math.abs(v - results[1]![i]!))));
    expect(max).toBeLessThan(1e-5);
  });

  it("without image_newline.json anyres is refused, naming the file and the single path; the default falls back to single", () => {
    const model = familyModel(dirs.noNewline);
    expect(() => model.resolveOptions({ imagePath: "anyres" })).toThrow(/image_newline\.json.*imagePath "single"/s);
    expect(model.resolveOptions({})).toEqual({ imagePath: "single", promptStyle: "chat_template" });
  });

  it("rejects unknown options and values with the valid ones", () => {
    const model = familyModel(dirs.main);
    expect(() => model.resolveOptions({ imageSplitting: true })).toThrow(/imagePath \(anyres or single\) and promptStyle \(chat_template or qwen_1_5\)/);
    expect(() => model.resolveOptions({ imagePath: "tiles" })).toThrow(/imagePath must be "anyres" or "single"/);
    expect(() => model.resolveOptions({ promptStyle: "llama" })).toThrow(/promptStyle must be "chat_template" or "qwen_1_5"/);
  });

  it("several images in one anyres prompt: each padded to a square, one crop and one newline (730 rows)", async () => {
    const model = familyModel(dirs.main);
    const options = model.imageOptions!(model.resolveOptions({}), 2);
    const image = await model.preprocess(await gradient(300, 100), options, 1 << 26);
    expect(image.mode).toBe("square");
    const vision = await visionOf(dirs.main);
    try {
      const encoded = await model.encodeImage(vision, image);
      expect(encoded.rows).toBe(730);
      expect(encoded.layout.mode).toBe("square");
    } finally {
      await vision.release();
    }
  });
});

describe("prompts", () => {
  const layout = (rows: number): LlavaLayout => ({ mode: "single", crops: 1, rows });

  it("chat_template (default): the model's template, <image> expanded to exactly the packed rows", () => {
    const model = familyModel(dirs.main);
    const ids = model.promptIds([layout(729)], "What is in this image?", { imagePath: "single", promptStyle: "chat_template" });
    expect(ids.filter((id) => id === IMAGE_TOKEN_ID)).toHaveLength(729);
    // <|im_start|> user \n <image>×729 \n … <|im_end|> \n <|im_start|> assistant \n
    expect(ids[0]).toBe(151644);
    expect(ids.slice(-3, -2)[0]).toBe(151644);
    const two = model.promptIds([layout(730), layout(730)], "Same?", { imagePath: "anyres", promptStyle: "chat_template" });
    expect(two.filter((id) => id === IMAGE_TOKEN_ID)).toHaveLength(1460);
  });

  it("qwen_1_5 puts the reference code's system turn first", () => {
    const model = familyModel(dirs.main);
    const plain = model.promptIds([layout(3)], "Hi", { promptStyle: "chat_template" });
    const withSystem = model.promptIds([layout(3)], "Hi", { promptStyle: "qwen_1_5" });
    expect(withSystem.slice(-plain.length)).toEqual(plain);
    expect(withSystem[0]).toBe(151644);
    expect(withSystem.length).toBeGreaterThan(plain.length);
    expect(QWEN_1_5_SYSTEM_TURN).toBe("<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n");
  });
});

describe("the shared runner on tiny-llava-onevision", () => {
  it("extracts finite 4×4×8 head vectors on both paths; they differ between paths and prompt styles", async () => {
    const runner = await ModelRunner.create({ id: "tiny-llava-onevision", dir: dirs.main }, { threads: 1 });
    try {
      const image = await gradient(200, 120);
      const anyres = await runner.extract({ images: [image], text: "What is in this image?" });
      const single = await runner.extract({ images: [image], text: "What is in this image?", options: { imagePath: "single" } });
      const system = await runner.extract({ images: [image], text: "What is in this image?", options: { promptStyle: "qwen_1_5" } });
      expect(anyres.shape).toEqual({ layers: 4, heads: 4, headDim: 8 });
      expect(runner.info.family).toBe("llava_onevision");
      for (const result of [anyres, single, system]) expect(result.vectors.every(Number.isFinite)).toBe(true);
      // 200×120 → pinpoint 384², map 27×27 unpadded to int(round(120·27/200)) = 16 → padding 5 → 17 rows:
      // 729 + 17 × 28 = 1205 image rows; single: 729.
      expect(anyres.promptTokens - single.promptTokens).toBe(1205 - 729);
      expect(anyres.vectors).not.toEqual(single.vectors);
      expect(system.vectors).not.toEqual(anyres.vectors);
      const pair = await runner.extract({ images: [image, image], text: "Same?" });
      expect(pair.promptTokens - anyres.promptTokens).toBeGreaterThan(0);
    } finally {
      await runner.close();
    }
  });
});

import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import * as ort from "onnxruntime-node";
import { decodeModel, editDecoder, encodeModel, findHeadTaps, HEAD_VECTORS_OUTPUT } from "../../src/model/graph.js";
import { decodedImages } from "../../src/model/decoded-images.js";
import { ImageError, inspectImage } from "../../src/model/image.js";
import { toNumber } from "../../src/model/onnx-proto.js";
import { ModelFileError } from "../../src/model/model-dir.js";
import { ModelRunner, truncatedDepth } from "../../src/model/runner.js";
import { loadReferenceDecoder } from "../support/reference-decoder.js";
import { tinyModelDir } from "./paths.js";

function cosine(a: Float32Array, b: Float32Array): number {
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i] * b[i];
    na += a[i] * a[i];
    nb += b[i] * b[i];
  }
  return dot / Math.sqrt(na * nb);
}

function picture(seed: number): Promise<Buffer> {
  const width = 96;
  const height = 72;
  const data = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 3;
      data[i] = (x * (seed + 1) * 3) % 256;
      data[i + 1] = (y * 5 + seed * 40) % 256;
      data[i + 2] = ((x + y) * 2 + seed * 90) % 256;
    }
  }
  return sharp(data, { raw: { width, height, channels: 3 } }).png().toBuffer();
}

describe("ModelRunner on the generated tiny model", () => {
  let runner: ModelRunner;
  let image: Buffer;
  let other: Buffer;
  const text = "Is this a red circle? Answer yes or no.";

  beforeAll(async () => {
    runner = await ModelRunner.create({ id: "tiny-smolvlm", dir: tinyModelDir }, { threads: 1 });
    image = await picture(1);
    other = await picture(2);
  });
  afterAll(() => runner?.close());

  it("describes the model from its config: heads shape, random weights, fingerprint, dtypes", () => {
    expect(runner.info.shape).toEqual({ layers: 4, heads: 4, headDim: 16 });
    expect(runner.info.randomWeights).toBe(true);
    expect(runner.info.fingerprint).toMatch(/^[0-9a-f]{64}$/);
    expect(runner.info.dtypes).toEqual({ vision_encoder: "fp32", embed_tokens: "fp32", decoder_model_merged: "fp32" });
  });

  it("extracts [layers, heads, headDim] finite vectors for the last prompt token", async () => {
    const result = await runner.extract({ images: [image], text });
    expect(result.shape).toEqual({ layers: 4, heads: 4, headDim: 16 });
    expect(result.vectors).toHaveLength(4 * 4 * 16);
    expect(result.vectors.every(Number.isFinite)).toBe(true);
    const { inputIds } = await runner.decoderInputs({ images: [image], text });
    expect(result.promptTokens).toBe(inputIds.length);
    expect(inputIds.at(-1)).toBe(42); // "Assistant:" ends with ':'
  });

  it("gives the same per-head vectors as a TypeScript reference forward pass of the decoder (1e-4)", async () => {
    const reference = await loadReferenceDecoder(tinyModelDir);
    for (const [img, prompt] of [
      [image, text],
      [other, "What colour?"],
    ] as const) {
      const { inputIds, inputsEmbeds } = await runner.decoderInputs({ images: [img], text: prompt });
      const expected = reference.headVectors(inputsEmbeds, inputIds.length).heads;
      const actual = (await runner.extract({ images: [img], text: prompt })).vectors;
      let maxError = 0;
      for (let i = 0; i < expected.length; i++) maxError = Math.max(maxError, Math.abs(expected[i] - actual[i]));
      expect(maxError).toBeLessThan(1e-4);
    }
  });

  it("exposes exactly what o_proj multiplies: vectors × o_proj weight = o_proj output (1e-4)", async () => {
    const source = decodeModel(readFileSync(path.join(tinyModelDir, "onnx/decoder_model_merged.onnx")));
    const nodes = source.graph!.node!;
    const oProj = findHeadTaps(source.graph!).map((tap) => nodes.find((n) => n.name === tap.node)!);
    const weights = oProj.map((node) => source.graph!.initializer!.find((t) => t.name === node.input![1])!);
    const edited = editDecoder(source, { layers: 4, width: 64, extraOutputs: oProj.map((node) => node.output![0]) });
    const session = await ort.InferenceSession.create(encodeModel(edited.model));
    const { inputIds, inputsEmbeds } = await runner.decoderInputs({ images: [image], text });
    const length = inputIds.length;
    const feeds: Record<string, ort.Tensor> = {
      inputs_embeds: new ort.Tensor("float32", inputsEmbeds, [1, length, 64]),
      attention_mask: new ort.Tensor("int64", new BigInt64Array(length).fill(1n), [1, length]),
      position_ids: new ort.Tensor("int64", BigInt64Array.from({ length }, (_, i) => BigInt(i)), [1, length]),
    };
    for (const name of session.inputNames.filter((n) => n.startsWith("past_key_values."))) {
      feeds[name] = new ort.Tensor("float32", new Float32Array(0), [1, 2, 0, 16]);
    }
    const outputs = await session.run(feeds);
    const heads = outputs[HEAD_VECTORS_OUTPUT].data as Float32Array;
    oProj.forEach((node, layer) => {
      const [k, n] = weights[layer].dims!.map((d) => toNumber(d));
      const w = new Float32Array(new Uint8Array(weights[layer].rawData!).buffer);
      const projected = outputs[node.output![0]].data as Float32Array;
      const last = projected.subarray((length - 1) * n, length * n);
      for (let col = 0; col < n; col++) {
        let sum = 0;
        for (let row = 0; row < k; row++) sum += heads[layer * k + row] * w[row * n + col];
        expect(Math.abs(sum - last[col])).toBeLessThan(1e-4);
      }
    });
    await session.release();
  });

  it("depends on the pixels and on the text", async () => {
    const a = (await runner.extract({ images: [image], text })).vectors;
    const b = (await runner.extract({ images: [other], text })).vectors;
    const c = (await runner.extract({ images: [image], text: "Something else entirely." })).vectors;
    expect(cosine(a, b)).toBeLessThan(0.99999);
    expect(cosine(a, c)).toBeLessThan(0.99999);
  });

  it("reuses vision features of an image seen before, with another text too", async () => {
    const fresh = await picture(7);
    const first = await runner.extract({ images: [fresh], text: "first" });
    const second = await runner.extract({ images: [fresh], text: "second" });
    expect(first.timings.visionCacheHit).toBe(false);
    expect(second.timings.visionCacheHit).toBe(true);
  });

  it("uses the pixels kept on inspection, and frees them when the features or the result come from a cache", async () => {
    const limits = { maxImageBytes: 1 << 24, maxImagePixels: 1 << 24 };
    const fresh = await picture(31);
    const baseline = decodedImages.heldBytes;
    await inspectImage(fresh, limits);
    expect(decodedImages.heldBytes).toBeGreaterThan(baseline);
    await runner.extract({ images: [fresh], text: "kept" });
    expect(decodedImages.heldBytes).toBe(baseline);
    // The same image loaded again: the vision cache serves it, and then the result cache.
    for (const prompt of ["another text", "another text"]) {
      const again = Buffer.from(fresh);
      await inspectImage(again, limits);
      expect(decodedImages.heldBytes).toBeGreaterThan(baseline);
      const result = await runner.extract({ images: [again], text: prompt });
      expect(result.timings.visionCacheHit).toBe(true);
      expect(decodedImages.heldBytes).toBe(baseline);
    }
  });

  it("encodes an image once when concurrent requests ask for it", async () => {
    const fresh = await picture(8);
    const results = await Promise.all([
      runner.extract({ images: [fresh], text: "one" }),
      runner.extract({ images: [fresh], text: "two" }),
    ]);
    expect(results.map((r) => r.timings.visionCacheHit).sort()).toEqual([false, true]);
  });

  it("computes only the first layers with a truncated decoder, equal to the full one's prefix", async () => {
    const full = await runner.extract({ images: [image], text });
    const truncated = await runner.extract({ images: [image], text, layers: 2 });
    expect(truncated.shape.layers).toBe(2);
    const prefix = full.vectors.subarray(0, truncated.vectors.length);
    for (let i = 0; i < prefix.length; i++) expect(truncated.vectors[i]).toBeCloseTo(prefix[i], 5);
  });

  it("accepts several images in one prompt, in order", async () => {
    const ab = await runner.extract({ images: [image, other], text });
    const ba = await runner.extract({ images: [other, image], text });
    expect(ab.promptTokens).toBe((await runner.extract({ images: [image], text })).promptTokens + 7);
    expect(cosine(ab.vectors, ba.vectors)).toBeLessThan(0.99999);
  });

  it("rejects a corrupt image and a cancelled request with clear errors", async () => {
    const truncated = (await picture(3)).subarray(0, 100);
    await expect(runner.extract({ images: [truncated], text })).rejects.toBeInstanceOf(ImageError);
    const controller = new AbortController();
    controller.abort();
    await expect(runner.extract({ images: [image], text, signal: controller.signal })).rejects.toThrow(/cancelled/);
  });

  it.each(["q4", "int8"])("edits the %s decoder and its vectors follow fp32 (mean cosine > 0.95)", async (dtype) => {
    const quantized = await ModelRunner.create({ id: "tiny-smolvlm", dir: tinyModelDir, dtypes: { decoder_model_merged: dtype } }, { threads: 1 });
    try {
      const shape = runner.info.shape;
      let total = 0;
      let count = 0;
      for (const img of [image, other]) {
        const a = (await runner.extract({ images: [img], text })).vectors;
        const b = (await quantized.extract({ images: [img], text })).vectors;
        for (let h = 0; h < shape.layers * shape.heads; h++) {
          const at = h * shape.headDim;
          total += cosine(a.subarray(at, at + shape.headDim), b.subarray(at, at + shape.headDim));
          count++;
        }
      }
      expect(total / count).toBeGreaterThan(0.95);
    } finally {
      await quantized.close();
    }
  });
});

describe("model directory errors", () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), "sav-model-"));
    mkdirSync(path.join(dir, "onnx"));
    for (const name of readdirSync(tinyModelDir)) if (name.endsWith(".json")) copyFileSync(path.join(tinyModelDir, name), path.join(dir, name));
    for (const name of ["vision_encoder.onnx", "embed_tokens.onnx"]) copyFileSync(path.join(tinyModelDir, "onnx", name), path.join(dir, "onnx", name));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("names the missing ONNX file and what it is", async () => {
    await expect(ModelRunner.create({ id: "broken", dir })).rejects.toThrow(ModelFileError);
    await expect(ModelRunner.create({ id: "broken", dir })).rejects.toThrow(/onnx\/decoder_model_merged\.onnx \(the decoder_model_merged graph, dtype fp32\)/);
  });

  it("names a missing dtype variant", async () => {
    await expect(ModelRunner.create({ id: "broken", dir, dtypes: { vision_encoder: "q4f16" } })).rejects.toThrow(/vision_encoder_q4f16\.onnx/);
  });

  it("names a missing directory", async () => {
    await expect(ModelRunner.create({ id: "none", dir: path.join(dir, "nope") })).rejects.toThrow(/does not exist/);
  });
});

describe("truncatedDepth", () => {
  it("rounds a requested depth up to steps of a sixth of the model, never past it", () => {
    expect([1, 5, 6, 15, 16, 29, 30].map((d) => truncatedDepth(d, 30))).toEqual([5, 5, 10, 15, 20, 30, 30]);
    expect([1, 2, 3, 4].map((d) => truncatedDepth(d, 4))).toEqual([1, 2, 3, 4]);
  });
});

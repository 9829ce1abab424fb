/**
 * The generated Qwen2 decoder, edited by the runner's graph editor to expose the o_proj inputs, agrees within
 * 1e-4 with a float64 forward pass written from the PyTorch Qwen2 definition (biases, 1-D RoPE, GQA).
 */
import { readFile } from "node:fs/promises";
import path from "node:path";
import * as ort from "onnxruntime-node";
import { beforeAll, describe, expect, it } from "vitest";
import { decodeModel, editDecoder, encodeModel, HEAD_VECTORS_OUTPUT } from "../../src/model/graph.js";
import { defaultTinyLlavaOnevisionDir, ensureTinyLlavaOnevision } from "../../src/model/families/llava_onevision/tiny/index.js";
import { loadReferenceDecoder, type ReferenceDecoder } from "../support/reference-decoder.js";

let reference: ReferenceDecoder;
let session: ort.InferenceSession;

function embeds(length: number, seed: number): Float32Array {
  return Float32Array.from({ length }, (_, i) => Math.sin(i * 0.37 + seed) * 1.5);
}

beforeAll(async () => {
  const dir = await ensureTinyLlavaOnevision(defaultTinyLlavaOnevisionDir());
  reference = await loadReferenceDecoder(dir);
  const model = decodeModel(await readFile(path.join(dir, "onnx", "decoder_model_merged.onnx")));
  const edited = editDecoder(model, { layers: reference.layers, width: reference.heads * reference.headDim });
  session = await ort.InferenceSession.create(encodeModel(edited.model), { intraOpNumThreads: 1 });
});

describe("tiny-llava-onevision decoder against the Qwen2 reference", () => {
  for (const seqLen of [1, 9]) {
    it(`per-head vectors of every layer agree within 1e-4 (S = ${seqLen})`, async () => {
      const { hidden, layers, heads, headDim } = reference;
      const x = embeds(seqLen * hidden, seqLen);
      const feeds: Record<string, ort.Tensor> = {
        inputs_embeds: new ort.Tensor("float32", x, [1, seqLen, hidden]),
        attention_mask: new ort.Tensor("int64", new BigInt64Array(seqLen).fill(1n), [1, seqLen]),
        position_ids: new ort.Tensor("int64", BigInt64Array.from({ length: seqLen }, (_, i) => BigInt(i)), [1, seqLen]),
      };
      for (let i = 0; i < layers; i++) {
        for (const kind of ["key", "value"]) feeds[`past_key_values.${i}.${kind}`] = new ort.Tensor("float32", new Float32Array(0), [1, 2, 0, headDim]);
      }
      const out = (await session.run(feeds))[HEAD_VECTORS_OUTPUT]!.data as Float32Array;
      const expected = reference.headVectors(x, seqLen).heads;
      expect(out.length).toBe(layers * heads * headDim);
      let max = 0;
      out.forEach((v, i) => (max = Math.max(max, Math.abs(v - expected[i]!))));
      expect(max).toBeLessThan(1e-4);
      // O(1) vectors, so the tolerance means something.
      expect(expected.reduce((m, v) => Math.max(m, Math.abs(v)), 0)).toBeGreaterThan(0.1);
    });
  }
});

/**
 * The generated Qwen2-VL decoder is a real Qwen2 decoder with M-RoPE: the TypeScript reference forward
 * (written from the PyTorch definition) equals what ONNX Runtime computes from the graph edited to expose
 * the per-head vectors (o_proj inputs at the last position) within 1e-4; those vectors times the o_proj
 * weight are the o_proj output; and 1-D positions (0..S-1 on every row) give different vectors.
 */
import { readFile } from "node:fs/promises";
import path from "node:path";
import * as ort from "onnxruntime-node";
import { beforeAll, describe, expect, it } from "vitest";
import { decodeModel, editDecoder, encodeModel, HEAD_VECTORS_OUTPUT } from "../../../src/model/graph.js";
import { ropeIndex } from "../../../src/model/families/qwen2_vl/rope-index.js";
import { defaultTinyQwen2VLDir, ensureQwen2VLModel } from "../../../src/model/families/qwen2_vl/tiny/index.js";
import { QWEN2_VL_TOKEN_IDS as ID } from "../../../src/model/families/qwen2_vl/tiny/published.js";
import { loadReferenceDecoder, type ReferenceDecoder } from "../../support/reference-decoder.js";
import { floats, initializer, loadModelProto, maxAbsDiff, pseudoRandom, sessionOptions } from "../../tiny/helpers.js";

let dir: string;
let reference: ReferenceDecoder;
let session: ort.InferenceSession;
const oProjOutput = (layer: number): string => `/model/layers.${layer}/self_attn/o_proj/MatMul_output_0`;

// A prompt with one 8×8-patch image (16 image tokens) between text.
const grid: [number, number, number] = [1, 8, 8];
const inputIds = [1, 2, 3, 4, ID.visionStart, ...new Array<number>(16).fill(ID.image), ID.visionEnd, 5, 6, 7, 198];
const S = inputIds.length;

beforeAll(async () => {
  dir = await ensureQwen2VLModel(defaultTinyQwen2VLDir());
  reference = await loadReferenceDecoder(dir);
  const model = decodeModel(await readFile(path.join(dir, "onnx", "decoder_model_merged.onnx")));
  const edited = editDecoder(model, {
    layers: reference.layers,
    width: reference.heads * reference.headDim,
    extraOutputs: Array.from({ length: reference.layers }, (_, i) => oProjOutput(i)),
  });
  session = await ort.InferenceSession.create(encodeModel(edited.model), sessionOptions);
});

async function run(embeds: Float32Array, positions: number[]): Promise<Record<string, ort.Tensor>> {
  const feeds: Record<string, ort.Tensor> = {
    inputs_embeds: new ort.Tensor("float32", embeds, [1, S, reference.hidden]),
    attention_mask: new ort.Tensor("int64", new BigInt64Array(S).fill(1n), [1, S]),
    position_ids: new ort.Tensor("int64", BigInt64Array.from(positions.map(BigInt)), [3, 1, S]),
  };
  for (const name of session.inputNames) {
    if (name.startsWith("past_key_values.")) feeds[name] = new ort.Tensor("float32", new Float32Array(0), [1, 2, 0, reference.headDim]);
  }
  return session.run(feeds);
}

function lastRow(tensor: ort.Tensor): Float32Array {
  const data = tensor.data as Float32Array;
  const width = tensor.dims[2] as number;
  return data.slice(data.length - width);
}

describe("tiny Qwen2-VL decoder", () => {
  it("per-head vectors and o_proj outputs equal the reference forward with M-RoPE positions", async () => {
    const { positions } = ropeIndex(inputIds, [grid], 2, { imageTokenId: ID.image, visionStartTokenId: ID.visionStart });
    const embeds = pseudoRandom(S * reference.hidden, 7, 1);
    const out = await run(embeds, positions);
    const expected = reference.headVectors(embeds, S, positions);
    const width = reference.heads * reference.headDim;
    const vectors = out[HEAD_VECTORS_OUTPUT]!.data as Float32Array;
    expect(vectors).toHaveLength(reference.layers * width);
    expect(maxAbsDiff(vectors, expected.heads)).toBeLessThan(1e-4);
    for (let i = 0; i < reference.layers; i++) {
      expect(maxAbsDiff(lastRow(out[oProjOutput(i)]!), expected.oProjOut.subarray(i * reference.hidden, (i + 1) * reference.hidden))).toBeLessThan(1e-4);
    }
    // O(1) vectors: the tolerance means something.
    expect(expected.heads.reduce((m, v) => Math.max(m, Math.abs(v)), 0)).toBeGreaterThan(0.1);
  });

  it("vectors × o_proj weight = the graph's o_proj output", async () => {
    const { positions } = ropeIndex(inputIds, [grid], 2, { imageTokenId: ID.image, visionStartTokenId: ID.visionStart });
    const out = await run(pseudoRandom(S * reference.hidden, 8, 1), positions);
    const proto = await loadModelProto(path.join(dir, "onnx", "decoder_model_merged.onnx"));
    const width = reference.heads * reference.headDim;
    const vectors = out[HEAD_VECTORS_OUTPUT]!.data as Float32Array;
    for (let layer = 0; layer < reference.layers; layer++) {
      const weight = floats(initializer(proto, `model.layers.${layer}.self_attn.o_proj.weight`));
      const product = new Float32Array(reference.hidden);
      for (let k = 0; k < width; k++) for (let n = 0; n < reference.hidden; n++) product[n] += vectors[layer * width + k]! * weight[k * reference.hidden + n]!;
      expect(maxAbsDiff(product, lastRow(out[oProjOutput(layer)]!))).toBeLessThan(1e-4);
    }
  });

  it("1-D positions (0..S-1 on all three rows) give different vectors: positions matter", async () => {
    const { positions } = ropeIndex(inputIds, [grid], 2, { imageTokenId: ID.image, visionStartTokenId: ID.visionStart });
    const sequential = [0, 1, 2].flatMap(() => Array.from({ length: S }, (_, i) => i));
    expect(sequential).not.toEqual(positions);
    const embeds = pseudoRandom(S * reference.hidden, 9, 1);
    const ours = (await run(embeds, positions))[HEAD_VECTORS_OUTPUT]!.data as Float32Array;
    const flat = (await run(embeds, sequential))[HEAD_VECTORS_OUTPUT]!.data as Float32Array;
    expect(maxAbsDiff(ours, flat)).toBeGreaterThan(1e-2);
    expect(maxAbsDiff(flat, reference.headVectors(embeds, S, sequential).heads)).toBeLessThan(1e-4);
  });
});

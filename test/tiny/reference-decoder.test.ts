/**
 * The TypeScript reference decoder (written from the Llama definition) agrees with what ONNX
 * Runtime computes from the generated graph: logits, the o_proj inputs (per-head vectors) and the
 * o_proj outputs, all at the last position.
 */
import path from "node:path";
import * as ort from "onnxruntime-node";
import { beforeAll, describe, expect, it } from "vitest";
import { defaultTinyModelDir } from "../../src/model/families/idefics3/tiny/index.js";
import { loadReferenceDecoder, type ReferenceDecoder } from "../support/reference-decoder.js";
import { decoderFeeds, exposeOutputs, lastRow, loadModelProto, maxAbsDiff, pseudoRandom, sessionOptions, textSizes, type TextSizes } from "./helpers.js";

const dir = defaultTinyModelDir();
let sizes: TextSizes;
let reference: ReferenceDecoder;
let session: ort.InferenceSession;

function exposedNames(layer: number): { heads: string; oProj: string } {
  return { heads: `/model/layers.${layer}/self_attn/Reshape_3_output_0`, oProj: `/model/layers.${layer}/self_attn/o_proj/MatMul_output_0` };
}

beforeAll(async () => {
  sizes = await textSizes(dir);
  reference = await loadReferenceDecoder(dir);
  const model = await loadModelProto(path.join(dir, "onnx", "decoder_model_merged.onnx"));
  const names = Array.from({ length: sizes.layers }, (_, i) => Object.values(exposedNames(i))).flat();
  session = await ort.InferenceSession.create(exposeOutputs(model, names), sessionOptions);
});

describe("reference decoder", () => {
  it("reports the config's shape", () => {
    expect([reference.layers, reference.heads, reference.headDim, reference.hidden, reference.vocab]).toEqual([
      sizes.layers,
      sizes.heads,
      sizes.headDim,
      sizes.hidden,
      sizes.vocab,
    ]);
  });

  for (const seqLen of [1, 13]) {
    it(`matches ONNX Runtime's per-head vectors, o_proj outputs and logits (S = ${seqLen})`, async () => {
      const embeds = pseudoRandom(seqLen * sizes.hidden, 100 + seqLen, 2);
      const out = await session.run(decoderFeeds(sizes, embeds, seqLen));
      const { heads, oProjOut } = reference.headVectors(embeds, seqLen);
      const width = sizes.heads * sizes.headDim;
      expect(heads).toHaveLength(sizes.layers * width);
      expect(oProjOut).toHaveLength(sizes.layers * sizes.hidden);
      for (let i = 0; i < sizes.layers; i++) {
        const names = exposedNames(i);
        const ortHeads = lastRow(out[names.heads] as ort.Tensor);
        const ortOut = lastRow(out[names.oProj] as ort.Tensor);
        expect(maxAbsDiff(ortHeads, heads.subarray(i * width, (i + 1) * width)), `layer ${i} heads`).toBeLessThan(1e-4);
        expect(maxAbsDiff(ortOut, oProjOut.subarray(i * sizes.hidden, (i + 1) * sizes.hidden)), `layer ${i} o_proj`).toBeLessThan(1e-4);
      }
      // The vectors are O(1), so the 1e-4 tolerance is meaningful.
      expect(heads.reduce((m, v) => Math.max(m, Math.abs(v)), 0)).toBeGreaterThan(0.1);
      const logits = reference.lastLogits(embeds, seqLen);
      expect(maxAbsDiff(lastRow(out.logits as ort.Tensor), logits)).toBeLessThan(1e-4);
    });
  }

  it("is sensitive to earlier tokens (attention over the whole prefix)", () => {
    const S = 5;
    const embeds = pseudoRandom(S * sizes.hidden, 7, 2);
    const changed = embeds.slice();
    changed[0] = (changed[0] as number) + 1;
    const a = reference.headVectors(embeds, S).heads;
    const b = reference.headVectors(changed, S).heads;
    expect(maxAbsDiff(a, b)).toBeGreaterThan(1e-4);
  });
});

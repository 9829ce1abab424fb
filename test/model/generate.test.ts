/**
 * Greedy generation on the tiny model, against a reference without the KV cache: every step re-runs the
 * unedited decoder over the whole sequence (prompt embeddings + generated tokens' embeddings) and takes the
 * argmax of the last row. Equal tokens mean the cache, the attention mask and the next-step positions are right.
 */
import * as ort from "onnxruntime-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createGenerator, lastPositions, stopTokenIds, type Generator } from "../../src/model/generate.js";
import { loadModelFiles } from "../../src/model/model-dir.js";
import { embedWithImages } from "../../src/model/runner.js";
import { floatTensor, inputMetadata, int64Tensor, readFloats } from "../../src/model/tensors.js";
import { shapeImage } from "../support/images.js";
import { tinyModelDir } from "./paths.js";

async function referenceTokens(image: Uint8Array, text: string, count: number): Promise<number[]> {
  const files = loadModelFiles(tinyModelDir);
  const model = files.model;
  const [vision, embed, decoder] = await Promise.all(
    [files.onnx.vision, files.onnx.embed, files.onnx.decoder].map((f) => ort.InferenceSession.create(f)),
  );
  try {
    const prepared = await model.preprocess(image, model.resolveOptions({}), 64 * 1024 * 1024);
    const features = await model.encodeImage({ inputs: inputMetadata(vision), outputNames: vision.outputNames, run: (f) => vision.run(f) }, prepared);
    const ids = model.promptIds([features.layout], text, model.resolveOptions({}));
    const hidden = model.text.hiddenSize;
    let embeds = await embedWithImages(embed, ids, [features], model);
    const tokens: number[] = [];
    for (let step = 0; step < count; step++) {
      const feeds: Record<string, ort.Tensor> = {};
      for (const [name] of inputMetadata(decoder)) {
        if (name === "inputs_embeds") feeds[name] = floatTensor(embeds, [1, ids.length, hidden]);
        else if (name === "attention_mask") feeds[name] = int64Tensor(new Array(ids.length).fill(1), [1, ids.length]);
        else if (name === "position_ids") feeds[name] = int64Tensor(ids.map((_, i) => i), [1, ids.length]);
        else feeds[name] = new ort.Tensor("float32", new Float32Array(0), [1, model.text.kvHeads, 0, model.text.headDim]);
      }
      const logits = readFloats((await decoder.run(feeds)).logits!);
      const vocab = logits.length / ids.length;
      let best = 0;
      for (let v = 1; v < vocab; v++) if (logits[logits.length - vocab + v]! > logits[logits.length - vocab + best]!) best = v;
      tokens.push(best);
      ids.push(best);
      const next = readFloats((await embed.run({ input_ids: int64Tensor([best], [1, 1]) }))[embed.outputNames[0]!]!);
      const grown = new Float32Array(embeds.length + hidden);
      grown.set(embeds);
      grown.set(next, embeds.length);
      embeds = grown;
    }
    return tokens;
  } finally {
    await Promise.all([vision.release(), embed.release(), decoder.release()]);
  }
}

describe("greedy generation", () => {
  let generator: Generator;
  beforeAll(async () => {
    generator = await createGenerator({ dir: tinyModelDir }, { threads: 1 });
  });
  afterAll(() => generator.close());

  it("with the KV cache yields the same tokens as re-running the whole sequence", async () => {
    const image = await shapeImage("red-circle", 3);
    const result = await generator.generate({ images: [image], text: "What is in this image?", maxNewTokens: 6 });
    // Stop tokens are excluded from the output; compare the prefix the reference reaches.
    const reference = await referenceTokens(image, "What is in this image?", 6);
    const stopAt = reference.findIndex((t) => generator.stopTokenIds.has(t));
    const expected = stopAt < 0 ? reference : reference.slice(0, stopAt);
    expect(result.tokenIds).toEqual(expected);
    expect(result.stop).toBe(stopAt < 0 ? "max-tokens" : "end-of-turn");
    expect(typeof result.text).toBe("string");
    expect(result.promptTokens).toBeGreaterThan(10);
  });

  it("reads stop tokens from the generation config and the vocabulary", () => {
    const ids = stopTokenIds(tinyModelDir, {}, { eos_token: "<end_of_utterance>" }, (t) => (t === "<end_of_utterance>" ? 7 : undefined));
    expect(ids.has(7)).toBe(true);
    expect(ids.has(49279)).toBe(true); // generation_config.json eos_token_id of the tiny model
  });

  it("takes the last positions of every row (1-D and M-RoPE shapes)", () => {
    expect(lastPositions({ data: [0, 1, 2, 3], dims: [1, 4] }, 1)).toEqual({ data: [3], dims: [1, 1] });
    expect(lastPositions({ data: [0, 1, 2, 5, 6, 7, 9, 9, 9], dims: [3, 1, 3] }, 2)).toEqual({ data: [1, 2, 6, 7, 9, 9], dims: [3, 1, 2] });
  });
});

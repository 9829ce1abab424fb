/**
 * The generated ONNX files against the published I/O contract (names, dtypes, symbolic dims) and
 * their behaviour in ONNX Runtime: the vision encoder depends on the pixels and the mask, drops
 * padding images; embed_tokens is a table lookup; the decoder's KV cache and padding mask work.
 */
import path from "node:path";
import * as ort from "onnxruntime-node";
import { beforeAll, describe, expect, it } from "vitest";
import { defaultTinyModelDir } from "../../src/model/families/idefics3/tiny/index.js";
import {
  allFinite,
  cosine,
  decoderFeeds,
  dims,
  floats,
  initializer,
  lastRow,
  loadModelProto,
  maxAbsDiff,
  pseudoRandom,
  sessionOptions,
  textSizes,
  type TextSizes,
} from "./helpers.js";

const dir = defaultTinyModelDir();
const VARIANTS = ["", "_q4", "_int8"] as const;
const IMAGE = 64;
const IMAGE_SEQ_LEN = 4;

type Meta = [name: string, type: string, shape: (number | string)[]];

function expectedIo(s: TextSizes): Record<string, { inputs: Meta[]; outputs: Meta[] }> {
  const past: Meta[] = [];
  const present: Meta[] = [];
  for (let i = 0; i < s.layers; i++) {
    for (const kind of ["key", "value"]) {
      past.push([`past_key_values.${i}.${kind}`, "float32", ["batch_size", s.kvHeads, "past_sequence_length", s.headDim]]);
      present.push([`present.${i}.${kind}`, "float32", ["batch_size", s.kvHeads, "total_sequence_length", s.headDim]]);
    }
  }
  return {
    vision_encoder: {
      inputs: [
        ["pixel_values", "float32", ["batch_size", "num_images", 3, "height", "width"]],
        ["pixel_attention_mask", "bool", ["batch_size", "num_images", "height", "width"]],
      ],
      outputs: [["image_features", "float32", ["num_images", IMAGE_SEQ_LEN, s.hidden]]],
    },
    embed_tokens: {
      inputs: [["input_ids", "int64", ["batch_size", "sequence_length"]]],
      outputs: [["inputs_embeds", "float32", ["batch_size", "sequence_length", s.hidden]]],
    },
    decoder_model_merged: {
      inputs: [
        ["inputs_embeds", "float32", ["batch_size", "sequence_length", s.hidden]],
        ["attention_mask", "int64", ["batch_size", "total_sequence_length"]],
        ["position_ids", "int64", ["batch_size", "sequence_length"]],
        ...past,
      ],
      outputs: [["logits", "float32", ["batch_size", "sequence_length", s.vocab]], ...present],
    },
  };
}

function metaOf(session: ort.InferenceSession, which: "inputMetadata" | "outputMetadata"): Meta[] {
  return session[which].map((m) => {
    if (!m.isTensor) throw new Error(`${m.name} is not a tensor`);
    return [m.name, m.type, [...m.shape]];
  });
}

const sessions = new Map<string, ort.InferenceSession>();
async function session(file: string): Promise<ort.InferenceSession> {
  let s = sessions.get(file);
  if (!s) {
    s = await ort.InferenceSession.create(path.join(dir, "onnx", `${file}.onnx`), sessionOptions);
    sessions.set(file, s);
  }
  return s;
}

let sizes: TextSizes;
beforeAll(async () => {
  sizes = await textSizes(dir);
});

describe("ONNX I/O contract", () => {
  for (const component of ["vision_encoder", "embed_tokens", "decoder_model_merged"] as const) {
    for (const suffix of VARIANTS) {
      it(`${component}${suffix} has the published input/output names, dtypes and dims`, async () => {
        const s = await session(`${component}${suffix}`);
        const expected = expectedIo(sizes)[component];
        expect(metaOf(s, "inputMetadata")).toEqual(expected?.inputs);
        expect(metaOf(s, "outputMetadata")).toEqual(expected?.outputs);
      });
    }
  }
});

function pixels(numImages: number, seed: number): Float32Array {
  return pseudoRandom(numImages * 3 * IMAGE * IMAGE, seed);
}

function visionFeeds(pixelValues: Float32Array, numImages: number, mask?: Uint8Array): Record<string, ort.Tensor> {
  const m = mask ?? new Uint8Array(numImages * IMAGE * IMAGE).fill(1);
  return {
    pixel_values: new ort.Tensor("float32", pixelValues, [1, numImages, 3, IMAGE, IMAGE]),
    pixel_attention_mask: new ort.Tensor("bool", m, [1, numImages, IMAGE, IMAGE]),
  };
}

async function imageFeatures(file: string, feeds: Record<string, ort.Tensor>): Promise<ort.Tensor> {
  const out = await (await session(file)).run(feeds);
  return out.image_features as ort.Tensor;
}

describe("vision_encoder", () => {
  it("maps each image to image_seq_len feature rows of the text hidden size, without NaN", async () => {
    const features = await imageFeatures("vision_encoder", visionFeeds(pixels(2, 1), 2));
    expect(features.dims).toEqual([2, IMAGE_SEQ_LEN, sizes.hidden]);
    expect(allFinite(features.data as Float32Array)).toBe(true);
  });

  it("depends on the pixels: changing one patch changes the features", async () => {
    const base = pixels(1, 2);
    const changed = base.slice();
    for (let c = 0; c < 3; c++) for (let y = 0; y < 16; y++) for (let x = 0; x < 16; x++) changed[c * IMAGE * IMAGE + y * IMAGE + x] = 1;
    const a = (await imageFeatures("vision_encoder", visionFeeds(base, 1))).data as Float32Array;
    const b = (await imageFeatures("vision_encoder", visionFeeds(changed, 1))).data as Float32Array;
    expect(maxAbsDiff(a, b)).toBeGreaterThan(1e-2);
  });

  it("uses pixel_attention_mask: masking patches changes the features", async () => {
    const px = pixels(1, 3);
    const mask = new Uint8Array(IMAGE * IMAGE).fill(1);
    mask.fill(0, 0, (IMAGE * IMAGE) / 2);
    const full = (await imageFeatures("vision_encoder", visionFeeds(px, 1))).data as Float32Array;
    const half = (await imageFeatures("vision_encoder", visionFeeds(px, 1, mask))).data as Float32Array;
    expect(maxAbsDiff(full, half)).toBeGreaterThan(1e-3);
    expect(allFinite(half)).toBe(true);
  });

  it("drops all-zero padding images like Idefics3 (features of the real image unchanged)", async () => {
    const real = pixels(1, 4);
    const padded = new Float32Array(2 * 3 * IMAGE * IMAGE);
    padded.set(real);
    const mask = new Uint8Array(2 * IMAGE * IMAGE);
    mask.fill(1, 0, IMAGE * IMAGE);
    const single = await imageFeatures("vision_encoder", visionFeeds(real, 1));
    const withPadding = await imageFeatures("vision_encoder", visionFeeds(padded, 2, mask));
    expect(withPadding.dims).toEqual([1, IMAGE_SEQ_LEN, sizes.hidden]);
    expect(maxAbsDiff(single.data as Float32Array, withPadding.data as Float32Array)).toBeLessThan(1e-5);
  });

  it("q4 and int8 encoders run and stay close to fp32", async () => {
    const feeds = visionFeeds(pixels(1, 5), 1);
    const fp32 = (await imageFeatures("vision_encoder", feeds)).data as Float32Array;
    for (const suffix of ["_q4", "_int8"]) {
      const q = (await imageFeatures(`vision_encoder${suffix}`, feeds)).data as Float32Array;
      expect(allFinite(q)).toBe(true);
      expect(cosine(fp32, q), suffix).toBeGreaterThan(0.95);
    }
  });
});

describe("embed_tokens", () => {
  it("looks up rows of the embedding table (fp32 exact, int8 within its step)", async () => {
    const model = await loadModelProto(path.join(dir, "onnx", "embed_tokens.onnx"));
    const table = initializer(model, "model.embed_tokens.weight");
    expect(dims(table)).toEqual([sizes.vocab, sizes.hidden]);
    const values = floats(table);
    const ids = [0, 1, 2, 42, 49190, 49279];
    const feeds = { input_ids: new ort.Tensor("int64", BigInt64Array.from(ids.map(BigInt)), [1, ids.length]) };
    const expected = Float32Array.from(ids.flatMap((id) => Array.from(values.subarray(id * sizes.hidden, (id + 1) * sizes.hidden))));
    const fp32 = (await (await session("embed_tokens")).run(feeds)).inputs_embeds as ort.Tensor;
    expect(fp32.dims).toEqual([1, ids.length, sizes.hidden]);
    expect(maxAbsDiff(fp32.data as Float32Array, expected)).toBe(0);
    const int8 = (await (await session("embed_tokens_int8")).run(feeds)).inputs_embeds as ort.Tensor;
    const step = (values.reduce((a, b) => Math.max(a, b), 0) - values.reduce((a, b) => Math.min(a, b), 0)) / 255;
    expect(maxAbsDiff(int8.data as Float32Array, expected)).toBeLessThanOrEqual(step / 2 + 1e-6);
  });
});

describe("decoder_model_merged", () => {
  it("returns logits and the KV cache; one step with the past equals the full pass", async () => {
    const s = await session("decoder_model_merged");
    const S = 7;
    const embeds = pseudoRandom(S * sizes.hidden, 11);
    const full = await s.run(decoderFeeds(sizes, embeds, S));
    expect(full.logits?.dims).toEqual([1, S, sizes.vocab]);
    expect(full["present.0.key"]?.dims).toEqual([1, sizes.kvHeads, S, sizes.headDim]);
    expect(allFinite(full.logits?.data as Float32Array)).toBe(true);

    const prefix = await s.run(decoderFeeds(sizes, embeds.slice(0, (S - 1) * sizes.hidden), S - 1));
    const step = await s.run(
      decoderFeeds(sizes, embeds.slice((S - 1) * sizes.hidden), 1, { past: prefix as Record<string, ort.Tensor>, startPosition: S - 1 }),
    );
    expect(step["present.0.value"]?.dims).toEqual([1, sizes.kvHeads, S, sizes.headDim]);
    expect(maxAbsDiff(lastRow(step.logits as ort.Tensor), lastRow(full.logits as ort.Tensor))).toBeLessThan(1e-4);
    // Causal: the prefix's logits do not see the last token.
    const fullLogits = full.logits?.data as Float32Array;
    const prefixLast = fullLogits.slice((S - 2) * sizes.vocab, (S - 1) * sizes.vocab);
    expect(maxAbsDiff(prefixLast, lastRow(prefix.logits as ort.Tensor))).toBeLessThan(1e-4);
  });

  it("honours attention_mask: a masked position's embedding no longer matters", async () => {
    const s = await session("decoder_model_merged");
    const S = 6;
    const embeds = pseudoRandom(S * sizes.hidden, 12);
    const changed = embeds.slice();
    changed.set(pseudoRandom(sizes.hidden, 99), 2 * sizes.hidden);
    const mask = [1n, 1n, 0n, 1n, 1n, 1n];
    const run = async (e: Float32Array, m?: bigint[]): Promise<Float32Array> =>
      lastRow((await s.run(decoderFeeds(sizes, e, S, m ? { mask: m } : {}))).logits as ort.Tensor);
    expect(maxAbsDiff(await run(embeds), await run(changed))).toBeGreaterThan(1e-3);
    expect(maxAbsDiff(await run(embeds, mask), await run(changed, mask))).toBeLessThan(1e-5);
  });

  it("q4 and int8 decoders run and their logits correlate with fp32", async () => {
    const S = 8;
    const embeds = pseudoRandom(S * sizes.hidden, 13);
    const fp32 = lastRow((await (await session("decoder_model_merged")).run(decoderFeeds(sizes, embeds, S))).logits as ort.Tensor);
    for (const suffix of ["_q4", "_int8"]) {
      const out = await (await session(`decoder_model_merged${suffix}`)).run(decoderFeeds(sizes, embeds, S));
      const logits = lastRow(out.logits as ort.Tensor);
      expect(allFinite(logits)).toBe(true);
      expect(cosine(fp32, logits), suffix).toBeGreaterThan(0.95);
    }
  });
});

/** The generated tiny-llava-onevision is in the published llava-hf layout, with the export's graph I/O, and the 0.5B preset has the published shapes. */
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import * as ort from "onnxruntime-node";
import { beforeAll, describe, expect, it } from "vitest";
import { llavaOnevisionConfig } from "../../src/model/families/llava_onevision/tiny/config-files.js";
import { defaultTinyLlavaOnevisionDir, ensureTinyLlavaOnevision } from "../../src/model/families/llava_onevision/tiny/index.js";
import { LLAVA_ONEVISION_EXPORT, LLAVA_ONEVISION_PRESETS, validateLlavaOnevisionSizes } from "../../src/model/families/llava_onevision/tiny/presets.js";
import { buildQwen2Decoder } from "../../src/model/families/qwen2/tiny/decoder.js";

let dir: string;
beforeAll(async () => {
  dir = await ensureTinyLlavaOnevision(defaultTinyLlavaOnevisionDir());
});

async function io(file: string) {
  const session = await ort.InferenceSession.create(path.join(dir, "onnx", file), { intraOpNumThreads: 1 });
  const meta = (list: readonly ort.InferenceSession.ValueMetadata[]) =>
    Object.fromEntries(list.map((m) => [m.name, m.isTensor ? (m as { shape: readonly (number | string)[] }).shape : []]));
  const result = { inputs: meta(session.inputMetadata), outputs: meta(session.outputMetadata) };
  await session.release();
  return result;
}

describe("tiny-llava-onevision layout", () => {
  it("has the published file names, three dtypes per graph and a model.safetensors", () => {
    for (const component of ["vision_encoder", "embed_tokens", "decoder_model_merged"]) {
      for (const suffix of ["", "_q4", "_int8"]) expect(existsSync(path.join(dir, "onnx", `${component}${suffix}.onnx`)), `${component}${suffix}`).toBe(true);
    }
    for (const file of ["config.json", "preprocessor_config.json", "processor_config.json", "chat_template.json", "tokenizer.json", "tokenizer_config.json", "generation_config.json", "model.safetensors", "image_newline.json"]) {
      expect(existsSync(path.join(dir, file)), file).toBe(true);
    }
    const config = JSON.parse(readFileSync(path.join(dir, "config.json"), "utf8"));
    expect(config).toMatchObject({ model_type: "llava_onevision", image_token_index: 151646, vision_aspect_ratio: "anyres_max_9", vision_feature_select_strategy: "full" });
    expect(config.image_grid_pinpoints).toHaveLength(36);
  });

  it("graphs have the export's inputs and outputs (pixel_values [B, 3, 384, 384], 1-D position_ids, KV cache)", async () => {
    const vision = await io("vision_encoder.onnx");
    expect(vision.inputs).toEqual({ pixel_values: ["batch_size", 3, 384, 384] });
    expect(Object.keys(vision.outputs)).toEqual(["image_features"]);
    expect(vision.outputs.image_features).toEqual(["batch_size", 729, 32]);
    const embed = await io("embed_tokens_int8.onnx");
    expect(Object.keys(embed.inputs)).toEqual(["input_ids"]);
    expect(Object.keys(embed.outputs)).toEqual(["inputs_embeds"]);
    const decoder = await io("decoder_model_merged_q4.onnx");
    const layers = 4;
    expect(Object.keys(decoder.inputs)).toEqual([
      "inputs_embeds",
      "attention_mask",
      "position_ids",
      ...Array.from({ length: layers }, (_, i) => [`past_key_values.${i}.key`, `past_key_values.${i}.value`]).flat(),
    ]);
    expect(decoder.inputs.position_ids).toEqual(["batch_size", "sequence_length"]);
    expect(decoder.inputs["past_key_values.0.key"]).toEqual(["batch_size", 2, "past_sequence_length", 8]);
    expect(Object.keys(decoder.outputs)).toEqual(["logits", ...Array.from({ length: layers }, (_, i) => [`present.${i}.key`, `present.${i}.value`]).flat()]);
  });

  it("the decoder builder offers M-RoPE ([3, B, S] position ids) as an option", () => {
    const text = { ...LLAVA_ONEVISION_PRESETS.tiny.text, vocabSize: 64, mropeSection: [1, 1, 2] as [number, number, number] };
    const graph = buildQwen2Decoder(text, 1, LLAVA_ONEVISION_EXPORT);
    expect(graph.inputs.find((i) => i.name === "position_ids")?.shape).toEqual([3, "batch_size", "sequence_length"]);
  });
});

describe("the full-size preset", () => {
  it("has LLaVA-OneVision-0.5B's shapes: 24 × 14 heads of 64 (336), 2 KV heads, SigLIP so400m 26 layers", () => {
    const sizes = LLAVA_ONEVISION_PRESETS["llava-onevision-0.5b"];
    validateLlavaOnevisionSizes(sizes);
    const config = llavaOnevisionConfig(sizes, {}) as { text_config: Record<string, number>; vision_config: Record<string, number> };
    expect(config.text_config).toMatchObject({ hidden_size: 896, num_hidden_layers: 24, num_attention_heads: 14, num_key_value_heads: 2, head_dim: 64, intermediate_size: 4864 });
    expect(config.vision_config).toMatchObject({ hidden_size: 1152, num_hidden_layers: 26, num_attention_heads: 16, intermediate_size: 4304, image_size: 384, patch_size: 14 });
    expect(config.text_config.num_hidden_layers! * config.text_config.num_attention_heads!).toBe(336);
  });
});

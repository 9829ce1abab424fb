/**
 * config.json, preprocessor_config.json and processor_config.json of a generated model: the
 * published SmolVLM-256M files with only the size fields changed, plus a marker saying the weights
 * are random.
 */
import { imageSeqLen, type ModelSizes, type TinyPreset } from "./presets.js";

export type JsonObject = { [key: string]: JsonValue };
export type JsonValue = null | boolean | number | string | JsonValue[] | JsonObject;

/** The real model's size.longest_edge (2048) is 4 x its tile size (512); keep that ratio. */
const RESIZE_TILES_PER_EDGE = 4;

function clone<T extends JsonValue>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}

function objectAt(parent: JsonObject, key: string, file: string): JsonObject {
  const value = parent[key];
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new Error(`${file}: expected an object at "${key}"`);
  }
  return value;
}

export interface GeneratedMarker {
  random_weights: true;
  preset: TinyPreset;
  seed: number;
  generator_version: string;
}

export function modelConfig(base: JsonObject, sizes: ModelSizes, marker: GeneratedMarker): JsonObject {
  const config = clone(base);
  const { text, vision, scaleFactor } = sizes;
  config.scale_factor = scaleFactor;
  config.vocab_size = text.vocabSize;

  const textConfig = objectAt(config, "text_config", "config.json");
  textConfig.hidden_size = text.hiddenSize;
  textConfig.num_hidden_layers = text.numLayers;
  textConfig.num_attention_heads = text.numHeads;
  textConfig.num_key_value_heads = text.numKeyValueHeads;
  textConfig.head_dim = text.headDim;
  textConfig.intermediate_size = text.intermediateSize;
  textConfig.vocab_size = text.vocabSize;
  textConfig.rope_theta = text.ropeTheta;
  textConfig.rms_norm_eps = text.rmsNormEps;
  textConfig.pixel_shuffle_factor = scaleFactor;

  const visionConfig = objectAt(config, "vision_config", "config.json");
  visionConfig.hidden_size = vision.hiddenSize;
  visionConfig.num_hidden_layers = vision.numLayers;
  visionConfig.num_attention_heads = vision.numHeads;
  visionConfig.intermediate_size = vision.intermediateSize;
  visionConfig.image_size = vision.imageSize;
  visionConfig.patch_size = vision.patchSize;
  visionConfig.layer_norm_eps = vision.layerNormEps;
  visionConfig.num_channels = vision.numChannels;
  if ("max_image_size" in visionConfig) visionConfig.max_image_size = { longest_edge: vision.imageSize };
  if ("size" in visionConfig) visionConfig.size = { longest_edge: RESIZE_TILES_PER_EDGE * vision.imageSize };

  config.sav_mcp_generated = { ...marker };
  return config;
}

export function preprocessorConfig(base: JsonObject, sizes: ModelSizes): JsonObject {
  const config = clone(base);
  config.max_image_size = { longest_edge: sizes.vision.imageSize };
  config.size = { longest_edge: RESIZE_TILES_PER_EDGE * sizes.vision.imageSize };
  return config;
}

export function processorConfig(base: JsonObject, sizes: ModelSizes): JsonObject {
  const config = clone(base);
  config.image_seq_len = imageSeqLen(sizes);
  return config;
}

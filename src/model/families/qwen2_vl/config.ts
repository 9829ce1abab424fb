/** Reads a Qwen2-VL model directory's config.json (flat, as the 2B export, or nested text_config) and preprocessor_config.json. */
import { ModelFileError } from "../../errors.js";
import { numberField, parseTextConfig, pixelNormalization, sizeField } from "../config-fields.js";
import type { Json, ModelDirJson, TextModelConfig } from "../types.js";
import type { Qwen2VLImageConfig } from "./image-processor.js";

export interface Qwen2VLConfig {
  text: TextModelConfig;
  imageTokenId: number;
  visionStartTokenId: number;
  visionEndTokenId: number;
  mergeSize: number;
  /** max_position_embeddings: the longest prompt the decoder was trained for. */
  maxPositions: number;
  image: Qwen2VLImageConfig;
  randomWeights: boolean;
}

/** Far above the published 12845056 (~16k image tokens), far below what would exhaust memory. */
const MAX_PIXEL_BOUND = 64 * 1024 * 1024;

function tokenId(config: Json, key: string): number {
  const value = config[key];
  if (typeof value !== "number" || !Number.isInteger(value) || value < 0) {
    throw new ModelFileError(
      `config.json: field "${key}" is missing or not a token id. Qwen2-VL models need image_token_id, vision_start_token_id and vision_end_token_id (151655, 151652, 151653 in the published models); the configuration is damaged or not a Qwen2-VL one.`,
    );
  }
  return value;
}

export function parseQwen2VLConfig(files: Pick<ModelDirJson, "config" | "preprocessor">): Qwen2VLConfig {
  const { config, preprocessor } = files;
  const file = "config.json";
  const textJson = typeof config.text_config === "object" && config.text_config !== null ? (config.text_config as Json) : config;
  const text = parseTextConfig(textJson, file, numberField(config, "vocab_size", file, 1));
  const vision = (typeof config.vision_config === "object" && config.vision_config !== null ? config.vision_config : {}) as Json;
  const mergeSize = sizeField(vision, "spatial_merge_size", file, 8, 2);
  const pre = "preprocessor_config.json";
  const size = (typeof preprocessor.size === "object" && preprocessor.size !== null ? preprocessor.size : {}) as Json;
  const patchSize = sizeField(preprocessor, "patch_size", pre, 64, 14);
  const preMerge = sizeField(preprocessor, "merge_size", pre, 8, mergeSize);
  if (preMerge !== mergeSize) throw new ModelFileError(`${pre}: merge_size ${preMerge} differs from config.json vision_config.spatial_merge_size ${mergeSize}.`);
  const minPixels = sizeField(preprocessor, "min_pixels", pre, MAX_PIXEL_BOUND, typeof size.min_pixels === "number" ? size.min_pixels : 56 * 56);
  const maxPixels = sizeField(preprocessor, "max_pixels", pre, MAX_PIXEL_BOUND, typeof size.max_pixels === "number" ? size.max_pixels : 12845056);
  if (minPixels > maxPixels) throw new ModelFileError(`${pre}: min_pixels ${minPixels} is above max_pixels ${maxPixels}.`);
  const generated = config.sav_mcp_generated as Json | undefined;
  return {
    text,
    imageTokenId: tokenId(config, "image_token_id"),
    visionStartTokenId: tokenId(config, "vision_start_token_id"),
    visionEndTokenId: tokenId(config, "vision_end_token_id"),
    mergeSize,
    maxPositions: sizeField(textJson, "max_position_embeddings", file, 1 << 24, 32768),
    image: {
      patchSize,
      temporalPatchSize: sizeField(preprocessor, "temporal_patch_size", pre, 8, 2),
      mergeSize,
      minPixels,
      maxPixels,
      ...pixelNormalization(preprocessor, pre),
    },
    randomWeights: generated?.random_weights === true,
  };
}

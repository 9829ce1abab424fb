/**
 * LLaVA-OneVision settings read from config.json and preprocessor_config.json. Fields the image
 * path depends on are required, not defaulted: a default that differs from the real file would
 * silently change the head vectors.
 */
import { ModelFileError } from "../../errors.js";
import { parseTextConfig } from "../config-fields.js";
import type { TextModelConfig } from "../types.js";
import { maxCropsOf, parsePinpoints, type Size } from "./anyres.js";

type Json = Record<string, unknown>;

export const LLAVA_ONEVISION_MODEL_TYPE = "llava_onevision";
/** Where a pull stores the learned newline vector (from model.safetensors, by Range requests). */
export const IMAGE_NEWLINE_FILE = "image_newline.json";

export interface LlavaImageSettings {
  /** The vision encoder's square input (`size`), 384. */
  size: number;
  rescaleFactor: number;
  imageMean: [number, number, number];
  imageStd: [number, number, number];
}

export interface LlavaOnevisionConfig {
  imageTokenId: number;
  text: TextModelConfig;
  vision: { imageSize: number; patchSize: number };
  /** image_size / patch_size: side of one crop's feature map (27). */
  featureSide: number;
  pinpoints: Size[];
  /** N of `anyres_max_N`. */
  maxCrops: number;
  /** "full" keeps every patch row; "default" would drop a CLS row SigLIP does not have. */
  selectStrategy: "full" | "default";
  image: LlavaImageSettings;
  randomWeights: boolean;
}

function field(obj: Json, key: string, file: string): number {
  const value = obj[key];
  if (typeof value === "number" && Number.isFinite(value)) return value;
  throw new ModelFileError(`${file}: field "${key}" is missing or not a number.`);
}

function optional(obj: Json, key: string, fallback: number): number {
  const value = obj[key];
  return typeof value === "number" && Number.isFinite(value) ? value : fallback;
}

function section(obj: Json, key: string, file: string): Json {
  const value = obj[key];
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw new ModelFileError(`${file}: field "${key}" is missing.`);
  return value as Json;
}

function triple(value: unknown, key: string): [number, number, number] {
  if (Array.isArray(value) && value.length === 3 && value.every((v) => typeof v === "number")) return value as [number, number, number];
  throw new ModelFileError(`preprocessor_config.json: field "${key}" must be a list of three numbers.`);
}

function squareSize(preprocessor: Json): number {
  const size = section(preprocessor, "size", "preprocessor_config.json");
  const height = size.height ?? size.shortest_edge;
  const width = size.width ?? size.shortest_edge;
  if (typeof height !== "number" || height !== width) {
    throw new ModelFileError('preprocessor_config.json: "size" must be a square {height, width} (384 × 384 for LLaVA-OneVision).');
  }
  return height;
}

export function parseLlavaOnevisionConfig(config: Json, preprocessor: Json): LlavaOnevisionConfig {
  const file = "config.json";
  if (config.model_type !== LLAVA_ONEVISION_MODEL_TYPE) {
    throw new ModelFileError(`config.json model_type is ${JSON.stringify(config.model_type)}; expected "${LLAVA_ONEVISION_MODEL_TYPE}".`);
  }
  const text = section(config, "text_config", file);
  const vision = section(config, "vision_config", file);
  const imageSize = field(vision, "image_size", `${file} vision_config`);
  const patchSize = field(vision, "patch_size", `${file} vision_config`);
  const strategy = config.vision_feature_select_strategy;
  if (strategy !== "full" && strategy !== "default") {
    throw new ModelFileError(`config.json vision_feature_select_strategy ${JSON.stringify(strategy)} is not "full" or "default".`);
  }
  const size = squareSize(preprocessor);
  if (size !== imageSize) {
    throw new ModelFileError(`preprocessor_config.json size ${size} differs from config.json vision_config.image_size ${imageSize}.`);
  }
  let pinpoints: Size[];
  let maxCrops: number;
  try {
    pinpoints = parsePinpoints(config.image_grid_pinpoints ?? preprocessor.image_grid_pinpoints, imageSize);
    maxCrops = maxCropsOf(config.vision_aspect_ratio);
  } catch (error) {
    throw new ModelFileError((error as Error).message);
  }
  const generated = config.sav_mcp_generated as Json | undefined;
  return {
    imageTokenId: field(config, "image_token_index" in config ? "image_token_index" : "image_token_id", file),
    text: parseTextConfig(text, `${file} text_config`),
    vision: { imageSize, patchSize },
    featureSide: Math.floor(imageSize / patchSize),
    pinpoints,
    maxCrops,
    selectStrategy: strategy,
    image: {
      size,
      rescaleFactor: optional(preprocessor, "rescale_factor", 1 / 255),
      imageMean: triple(preprocessor.image_mean, "image_mean"),
      imageStd: triple(preprocessor.image_std, "image_std"),
    },
    randomWeights: generated?.random_weights === true,
  };
}

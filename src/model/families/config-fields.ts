/** Readers for config.json-style fields that fail with a message naming the file and the field. */
import { ModelFileError } from "../errors.js";
import type { Json } from "./types.js";

export function numberField(obj: Json, key: string, file: string, fallback?: number): number {
  const value = obj[key];
  if (typeof value === "number" && Number.isFinite(value)) return value;
  if (fallback !== undefined && value === undefined) return fallback;
  throw new ModelFileError(`${file}: field "${key}" is missing or not a number.`);
}

/** A positive integer no larger than `max`: absurd sizes fail here, not as a heap crash later. */
export function sizeField(obj: Json, key: string, file: string, max: number, fallback?: number): number {
  const value = numberField(obj, key, file, fallback);
  if (!Number.isInteger(value) || value < 1 || value > max) {
    throw new ModelFileError(`${file}: field "${key}" is ${value}; expected an integer from 1 to ${max}. The model configuration is damaged or not of a supported model.`);
  }
  return value;
}

export function objectField(obj: Json, key: string, file: string): Json {
  const value = obj[key];
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw new ModelFileError(`${file}: field "${key}" is missing.`);
  return value as Json;
}

export function tripleField(value: unknown, fallback: number): [number, number, number] {
  if (Array.isArray(value) && value.length === 3 && value.every((v) => typeof v === "number" && Number.isFinite(v))) {
    return value as [number, number, number];
  }
  if (typeof value === "number") return [value, value, value];
  return [fallback, fallback, fallback];
}

/** The resize / rescale / CLIP-normalisation switches of a preprocessor_config.json (transformers' defaults when absent). */
export interface PixelNormalization {
  doResize: boolean;
  doRescale: boolean;
  rescaleFactor: number;
  doNormalize: boolean;
  imageMean: [number, number, number];
  imageStd: [number, number, number];
}

export function pixelNormalization(preprocessor: Json, file: string): PixelNormalization {
  return {
    doResize: preprocessor.do_resize !== false,
    doRescale: preprocessor.do_rescale !== false,
    rescaleFactor: numberField(preprocessor, "rescale_factor", file, 1 / 255),
    doNormalize: preprocessor.do_normalize !== false,
    imageMean: tripleField(preprocessor.image_mean, 0.5),
    imageStd: tripleField(preprocessor.image_std, 0.5),
  };
}

/** Bounds for decoder dimensions: above every published model, far below what would exhaust memory. */
export const CONFIG_BOUNDS = { layers: 256, heads: 256, headDim: 1024, hiddenSize: 65_536, vocabSize: 1_048_576 } as const;

/** The text decoder's dimensions from a config object (flat or `text_config`), each checked against CONFIG_BOUNDS. */
export function parseTextConfig(text: Json, file: string, vocabFallback?: number) {
  const hiddenSize = sizeField(text, "hidden_size", file, CONFIG_BOUNDS.hiddenSize);
  const heads = sizeField(text, "num_attention_heads", file, CONFIG_BOUNDS.heads);
  const kvHeads = sizeField(text, "num_key_value_heads", file, CONFIG_BOUNDS.heads, heads);
  if (heads % kvHeads !== 0) throw new ModelFileError(`${file}: num_attention_heads ${heads} is not a multiple of num_key_value_heads ${kvHeads}.`);
  const headDim = text.head_dim === undefined || text.head_dim === null
    ? hiddenSize / heads
    : sizeField(text, "head_dim", file, CONFIG_BOUNDS.headDim);
  if (!Number.isInteger(headDim)) throw new ModelFileError(`${file}: hidden_size ${hiddenSize} is not a multiple of num_attention_heads ${heads}.`);
  return {
    hiddenSize,
    layers: sizeField(text, "num_hidden_layers", file, CONFIG_BOUNDS.layers),
    heads,
    kvHeads,
    headDim,
    vocabSize: sizeField(text, "vocab_size", file, CONFIG_BOUNDS.vocabSize, vocabFallback ?? 1),
  };
}

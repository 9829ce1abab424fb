import { existsSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import type { Idefics3ImageConfig } from "./image.js";

/** A model directory that is missing a file or holds a malformed one. */
export class ModelFileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ModelFileError";
  }
}

export const ONNX_COMPONENTS = ["vision_encoder", "embed_tokens", "decoder_model_merged"] as const;
export type OnnxComponent = (typeof ONNX_COMPONENTS)[number];

/** File suffix per dtype, as transformers.js names the published files. */
export const DTYPE_SUFFIXES: Record<string, string> = {
  fp32: "",
  fp16: "_fp16",
  int8: "_int8",
  uint8: "_uint8",
  q8: "_quantized",
  quantized: "_quantized",
  q4: "_q4",
  q4f16: "_q4f16",
  bnb4: "_bnb4",
};

export type ComponentDtypes = Record<OnnxComponent, string>;

export interface TextModelConfig {
  hiddenSize: number;
  layers: number;
  heads: number;
  kvHeads: number;
  headDim: number;
  vocabSize: number;
}

export interface Idefics3ModelConfig {
  modelType: string;
  imageTokenId: number;
  scaleFactor: number;
  text: TextModelConfig;
  vision: { imageSize: number; patchSize: number; hiddenSize: number };
  /** Tokens per image frame: (imageSize / patchSize)^2 / scaleFactor^2. */
  imageSeqLen: number;
  image: Idefics3ImageConfig;
  randomWeights: boolean;
}

export interface ModelFiles {
  dir: string;
  config: Idefics3ModelConfig;
  tokenizerJson: Record<string, unknown>;
  tokenizerConfig: Record<string, unknown>;
  chatTemplate: string;
  onnx: Record<OnnxComponent, string>;
  dtypes: ComponentDtypes;
  /** Every file whose bytes determine the features, for the fingerprint. */
  fingerprintFiles: string[];
}

type Json = Record<string, unknown>;

function readJson(dir: string, name: string, purpose: string): Json {
  const file = path.join(dir, name);
  if (!existsSync(file)) throw new ModelFileError(`Model directory ${dir} has no ${name} (${purpose}).`);
  try {
    const value: unknown = JSON.parse(readFileSync(file, "utf8"));
    if (typeof value !== "object" || value === null || Array.isArray(value)) throw new Error("not a JSON object");
    return value as Json;
  } catch (error) {
    throw new ModelFileError(`${file} is not valid JSON (${(error as Error).message}); expected ${purpose}.`);
  }
}

function num(obj: Json, key: string, file: string, fallback?: number): number {
  const value = obj[key];
  if (typeof value === "number" && Number.isFinite(value)) return value;
  if (fallback !== undefined) return fallback;
  throw new ModelFileError(`${file}: field "${key}" is missing or not a number.`);
}

function sub(obj: Json, key: string, file: string): Json {
  const value = obj[key];
  if (typeof value !== "object" || value === null) throw new ModelFileError(`${file}: field "${key}" is missing.`);
  return value as Json;
}

function triple(value: unknown, fallback: number): [number, number, number] {
  if (Array.isArray(value) && value.length === 3 && value.every((v) => typeof v === "number")) {
    return value as [number, number, number];
  }
  if (typeof value === "number") return [value, value, value];
  return [fallback, fallback, fallback];
}

export function parseModelConfig(configJson: Json, preprocessor: Json, processor: Json): Idefics3ModelConfig {
  const file = "config.json";
  const modelType = String(configJson.model_type ?? "");
  if (modelType !== "idefics3") {
    throw new ModelFileError(`config.json model_type is "${modelType}"; only idefics3 (SmolVLM) models are supported.`);
  }
  const text = sub(configJson, "text_config", file);
  const vision = sub(configJson, "vision_config", file);
  const hiddenSize = num(text, "hidden_size", file);
  const heads = num(text, "num_attention_heads", file);
  const textConfig: TextModelConfig = {
    hiddenSize,
    layers: num(text, "num_hidden_layers", file),
    heads,
    kvHeads: num(text, "num_key_value_heads", file, heads),
    headDim: num(text, "head_dim", file, hiddenSize / heads),
    vocabSize: num(text, "vocab_size", file, num(configJson, "vocab_size", file, 0)),
  };
  const imageSize = num(vision, "image_size", file);
  const patchSize = num(vision, "patch_size", file);
  const scaleFactor = num(configJson, "scale_factor", file);
  const computedSeqLen = (imageSize / patchSize) ** 2 / scaleFactor ** 2;
  const imageSeqLen = num(processor, "image_seq_len", "processor_config.json", computedSeqLen);
  if (imageSeqLen !== computedSeqLen) {
    throw new ModelFileError(
      `processor_config.json image_seq_len ${imageSeqLen} does not match (image_size/patch_size)^2/scale_factor^2 = ${computedSeqLen}.`,
    );
  }
  const pre = "preprocessor_config.json";
  const maxImage = sub(preprocessor, "max_image_size", pre);
  const size = (preprocessor.size ?? {}) as Json;
  const tileSize = num(maxImage, "longest_edge", pre);
  const generated = configJson.sav_mcp_generated as Json | undefined;
  return {
    modelType,
    imageTokenId: num(configJson, "image_token_id", file),
    scaleFactor,
    text: textConfig,
    vision: { imageSize, patchSize, hiddenSize: num(vision, "hidden_size", file) },
    imageSeqLen,
    image: {
      resizeLongestEdge: num(size, "longest_edge", pre, tileSize * 4),
      tileSize,
      doResize: preprocessor.do_resize !== false,
      doRescale: preprocessor.do_rescale !== false,
      rescaleFactor: num(preprocessor, "rescale_factor", pre, 1 / 255),
      doNormalize: preprocessor.do_normalize !== false,
      imageMean: triple(preprocessor.image_mean, 0.5),
      imageStd: triple(preprocessor.image_std, 0.5),
      doImageSplitting: false,
    },
    randomWeights: generated?.random_weights === true,
  };
}

export function onnxPath(dir: string, component: OnnxComponent, dtype: string): string {
  const suffix = DTYPE_SUFFIXES[dtype];
  if (suffix === undefined) {
    throw new ModelFileError(`Unknown dtype "${dtype}". Known dtypes: ${Object.keys(DTYPE_SUFFIXES).join(", ")}.`);
  }
  return path.join(dir, "onnx", `${component}${suffix}.onnx`);
}

/** Reads and checks a model directory in the published SmolVLM ONNX layout. */
export function loadModelFiles(dir: string, dtypes: Partial<ComponentDtypes> = {}): ModelFiles {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new ModelFileError(`Model directory ${dir} does not exist.`);
  const configJson = readJson(dir, "config.json", "the model configuration");
  const preprocessor = readJson(dir, "preprocessor_config.json", "the image processor settings");
  const processor = existsSync(path.join(dir, "processor_config.json"))
    ? readJson(dir, "processor_config.json", "the processor settings")
    : {};
  const tokenizerJson = readJson(dir, "tokenizer.json", "the Hugging Face tokenizer");
  const tokenizerConfig = readJson(dir, "tokenizer_config.json", "the tokenizer settings");
  let chatTemplate: unknown;
  if (existsSync(path.join(dir, "chat_template.json"))) {
    chatTemplate = readJson(dir, "chat_template.json", "the chat template").chat_template;
  }
  chatTemplate ??= tokenizerConfig.chat_template;
  if (typeof chatTemplate !== "string" || chatTemplate === "") {
    throw new ModelFileError(`Model directory ${dir} has no chat template (chat_template.json or tokenizer_config.json).`);
  }
  const config = parseModelConfig(configJson, preprocessor, processor);

  const chosen = {} as ComponentDtypes;
  const onnx = {} as Record<OnnxComponent, string>;
  for (const component of ONNX_COMPONENTS) {
    const dtype = dtypes[component] ?? "fp32";
    const file = onnxPath(dir, component, dtype);
    if (!existsSync(file)) {
      throw new ModelFileError(`Model directory ${dir} has no onnx/${path.basename(file)} (the ${component} graph, dtype ${dtype}).`);
    }
    chosen[component] = dtype;
    onnx[component] = file;
  }
  const jsonFiles = ["config.json", "preprocessor_config.json", "processor_config.json", "tokenizer.json", "tokenizer_config.json", "chat_template.json"]
    .map((name) => path.join(dir, name))
    .filter((file) => existsSync(file));
  return {
    dir,
    config,
    tokenizerJson,
    tokenizerConfig,
    chatTemplate,
    onnx,
    dtypes: chosen,
    fingerprintFiles: [...jsonFiles, ...ONNX_COMPONENTS.map((c) => onnx[c])],
  };
}

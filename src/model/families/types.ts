/**
 * The seam between the shared runner and a model family. A family owns everything that differs between
 * vision-language model exports: config parsing, the image processor, the prompt and its image-token
 * expansion, position ids and the vision-encoder feeds. The runner (queue, caches, embedding merge, edited
 * and truncated decoders) is shared and knows no family.
 */
import type { VisionProbeInput } from "../vision-cache.js";
import type * as ort from "onnxruntime-node";
import type { InputMetadata } from "../tensors.js";

export type Json = Record<string, unknown>;

/** The text decoder's dimensions, read from the model's config. */
export interface TextModelConfig {
  hiddenSize: number;
  layers: number;
  heads: number;
  kvHeads: number;
  headDim: number;
  vocabSize: number;
}

/** A model directory's JSON files, read and parsed by the shared loader. */
export interface ModelDirJson {
  dir: string;
  config: Json;
  preprocessor: Json;
  /** processor_config.json, or {} when absent. */
  processor: Json;
  tokenizerJson: Json;
  tokenizerConfig: Json;
  chatTemplate: string;
  /** The file the chat template was read from. */
  chatTemplateFile: string;
}

/**
 * Family processing options a task records (e.g. Qwen2-VL's pixel budget), so its examples and queries are
 * always read the same way. Canonical JSON: the same options always serialise to the same text.
 */
export type ProcessingOptions = Record<string, string | number | boolean>;

/** The vision encoder as a family sees it; `run` executes inside the runner's inference queue. */
export interface VisionSession {
  readonly inputs: ReadonlyMap<string, InputMetadata>;
  readonly outputNames: readonly string[];
  run(feeds: Record<string, ort.Tensor>): Promise<Record<string, ort.Tensor>>;
}

/** One image's features, [rows, hiddenSize] row-major, and what its prompt expansion and positions need. */
export interface ImageFeatures<Layout = unknown> {
  features: Float32Array;
  rows: number;
  /** JSON-able description of the image's token block (tiles, grid …). */
  layout: Layout;
}

/** Position ids for the decoder: values and dims ([1, S] for 1-D RoPE, [3, 1, S] for M-RoPE). */
export interface PositionIds {
  data: number[];
  dims: number[];
}

/** A family bound to one model directory's configuration. */
export interface FamilyModel<Prepared = unknown, Layout = unknown> {
  readonly text: TextModelConfig;
  /** The token id each image feature row replaces in the prompt. */
  readonly imageTokenId: number;
  /** True for generated test models (config.json `sav_mcp_generated.random_weights`). */
  readonly randomWeights: boolean;
  /** The longest prompt (after image expansion) the runner lets reach the decoder. */
  readonly maxPromptTokens: number;
  /** Validates a task's processing options and fills in defaults; throws with the valid names and ranges. */
  resolveOptions(input?: Readonly<Record<string, unknown>>): ProcessingOptions;
  /**
   * The options each image of a prompt with `imageCount` images is preprocessed with, when they depend on the count
   * (LLaVA-OneVision pads several images to squares instead of tiling each). Part of the vision cache key.
   */
  imageOptions?(options: ProcessingOptions, imageCount: number): ProcessingOptions;
  /** Decoding, resizing and normalising, outside the inference queue. */
  preprocess(bytes: Uint8Array, options: ProcessingOptions, maxPixels: number): Promise<Prepared>;
  /** Builds the vision feeds from the session's inputs, runs it (once or several times) and returns the features. */
  encodeImage(vision: VisionSession, image: Prepared): Promise<ImageFeatures<Layout>>;
  /** The chat-templated prompt for images (in order) followed by text, with image tokens expanded, as token ids. */
  promptIds(layouts: readonly Layout[], text: string, options: ProcessingOptions): number[];
  /** Decoder position ids for a prompt. */
  positionIds(inputIds: readonly number[], layouts: readonly Layout[]): PositionIds;
  /**
   * How the vision encoder may be edited for speed (vision-graph.ts): the mask inputs that are all true for
   * every image this family feeds (masks computed from them may be dropped; each run still checks), and the
   * deterministic input load-time verification runs. Absent: the published graph is loaded unedited.
   */
  readonly visionEdit?: { unpaddedMaskInputs: string[]; probe: VisionProbeInput[] };
}

export interface ModelFamily {
  /** The manifest's `family` value, e.g. "idefics3". */
  readonly id: string;
  /** config.json `model_type` values this family reads. */
  readonly modelTypes: readonly string[];
  /** The ONNX graphs of an export, in load order: vision encoder, token embeddings, decoder. */
  readonly components: ModelComponents;
  /** Matches the o_proj node names of a layer (group 1 = layer index), when the family's exports differ from the default. */
  readonly oProjPattern?: RegExp;
  /** Files beside the model, other than configs and graphs, whose bytes determine the features (part of the fingerprint). */
  readonly featureFiles?: readonly string[];
  /** Parses and checks the directory's configuration; throws ModelFileError naming the file and field. */
  load(files: ModelDirJson): FamilyModel;
}

/** Names of the three graphs (`onnx/<name><dtype suffix>.onnx`). */
export interface ModelComponents {
  vision: string;
  embed: string;
  decoder: string;
}

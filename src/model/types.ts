/** Shape of one example's head vectors: row-major [layers, heads, headDim]. */
export interface HeadShape {
  layers: number;
  heads: number;
  headDim: number;
}

/** What the runner needs to produce head vectors for one prompt. */
export interface ExtractRequest {
  /** Encoded image files (JPEG, PNG, …), in prompt order. At least one. */
  images: Uint8Array[];
  /** The user message text that follows the images (the task prompt with `{text}` already filled in). */
  text: string;
  /**
   * Compute only decoder layers 0..layers-1 (a truncated graph). The result then covers that
   * prefix of layers; omitted means the full depth.
   */
  layers?: number;
  /** The task's processing options (family-specific, e.g. SmolVLM's imageSplitting); they change the features. */
  options?: Readonly<Record<string, unknown>>;
  /**
   * Who is asking, for the inference queue: requests of different lanes take turns (round-robin), those
   * of one lane go first come, first served. The server passes one per MCP session; default one lane.
   */
  lane?: string;
  signal?: AbortSignal;
}

export interface ExtractTimings {
  preprocessMs: number;
  visionMs: number;
  decoderMs: number;
  totalMs: number;
  /** True when the image features came from the vision feature cache. */
  visionCacheHit: boolean;
}

export interface ExtractResult {
  /** Row-major [shape.layers, shape.heads, shape.headDim]. */
  vectors: Float32Array;
  shape: HeadShape;
  /** Number of prompt tokens the decoder read. */
  promptTokens: number;
  timings: ExtractTimings;
}

export interface ModelInfo {
  /** Registry id, e.g. `smolvlm-256m-instruct` or `tiny-smolvlm`. */
  id: string;
  /** The model family (manifest `family`), e.g. "idefics3". */
  family: string;
  dir: string;
  /** Full-depth head shape of the decoder. */
  shape: HeadShape;
  /** sha256 over the model's files that determine the features (configs, tokenizer, ONNX files used). */
  fingerprint: string;
  /** True for generated test models: their labels are not meaningful. */
  randomWeights: boolean;
  /** The dtype variant used per ONNX file, e.g. { vision_encoder: "fp32", decoder_model_merged: "q4" }. */
  dtypes: Record<string, string>;
  /** Longest prompt (after image expansion) the runner accepts. */
  maxPromptTokens: number;
}

/** The LMM runner as the store and server see it. */
export interface HeadVectorExtractor {
  readonly info: ModelInfo;
  /** A task's processing options validated by the model's family, defaults filled in; throws ModelInputError naming the valid ones. */
  resolveOptions(options?: Readonly<Record<string, unknown>>): Record<string, string | number | boolean>;
  extract(request: ExtractRequest): Promise<ExtractResult>;
  close(): Promise<void>;
}

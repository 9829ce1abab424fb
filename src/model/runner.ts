import os from "node:os";
import { LRUCache } from "lru-cache";
import * as ort from "onnxruntime-node";
import { prepareDecoder } from "./decoder-cache.js";
import { sha256File, sha256Hex } from "./file-hash.js";
import { HEAD_VECTORS_OUTPUT } from "./graph.js";
import { ImageError, preprocessImage, type PreprocessedImage } from "./image.js";
import { loadModelFiles, type ComponentDtypes, type ModelFiles } from "./model-dir.js";
import { PromptBuilder, type ImageGrid } from "./prompt.js";
import { floatTensor, inputMetadata, int64Tensor, readFloats, type InputMetadata } from "./tensors.js";
import type { ExtractRequest, ExtractResult, HeadShape, HeadVectorExtractor, ModelInfo } from "./types.js";

export interface ModelRef {
  id: string;
  dir: string;
  dtypes?: Partial<ComponentDtypes>;
  randomWeights?: boolean;
}

export interface RunnerOptions {
  /** ONNX Runtime intra-op threads; default: all cores. */
  threads?: number;
  /** Bytes of vision features kept in memory (LRU). Default 256 MB. */
  visionCacheBytes?: number;
  /** Bytes of whole extraction results kept in memory (LRU). Default 64 MB. */
  resultCacheBytes?: number;
  /** Split large images into tiles plus a global view, as the processor can. Default off (one 512×512 view). */
  imageSplitting?: boolean;
  /** Largest decoded image, in pixels. */
  maxImagePixels?: number;
}

/** The request was cancelled through its AbortSignal. */
export class ExtractionAbortedError extends Error {
  constructor() {
    super("Feature extraction was cancelled.");
    this.name = "AbortError";
  }
}

interface VisionFeatures {
  features: Float32Array;
  grid: ImageGrid;
}

interface VisionLookup {
  value: VisionFeatures;
  hit: boolean;
  preprocessMs: number;
  visionMs: number;
}

/** Runs one job at a time, so concurrent requests queue instead of oversubscribing the cores. */
class SerialQueue {
  private tail: Promise<unknown> = Promise.resolve();
  run<T>(job: () => Promise<T>): Promise<T> {
    const result = this.tail.then(job, job);
    this.tail = result.catch(() => undefined);
    return result;
  }
}

/**
 * Truncated decoders are built for depths in steps of a sixth of the model, so tasks whose deepest
 * head differs slightly share one session (at most six sessions per model, whatever the tasks).
 */
export function truncatedDepth(requested: number, fullDepth: number): number {
  const step = Math.max(1, Math.ceil(fullDepth / 6));
  return Math.min(fullDepth, Math.ceil(requested / step) * step);
}

function checkAborted(signal?: AbortSignal): void {
  if (signal?.aborted) throw new ExtractionAbortedError();
}

function resolveDims(meta: InputMetadata | undefined, fallback: number[]): number[] {
  if (!meta || meta.shape.length !== fallback.length) return fallback;
  return meta.shape.map((dim, i) => (typeof dim === "number" && dim >= 0 ? dim : fallback[i]));
}

async function fingerprintOf(files: ModelFiles): Promise<string> {
  const parts: string[] = [];
  for (const file of files.fingerprintFiles) parts.push(`${file.slice(files.dir.length)}=${await sha256File(file)}`);
  return sha256Hex(parts.join("\n"));
}

/**
 * The SmolVLM (Idefics3) runner: image(s) + text → the input of every decoder layer's o_proj at the
 * last prompt token, as [layers, heads, headDim]. One vision, one embedding and one decoder session per
 * model (a truncated decoder per depth on demand); vision features and results cached by content hash.
 */
export class Idefics3Runner implements HeadVectorExtractor {
  readonly info: ModelInfo;
  private readonly queue = new SerialQueue();
  private readonly decoders = new Map<number, Promise<ort.InferenceSession>>();
  private readonly visionCache: LRUCache<string, VisionFeatures>;
  private readonly pendingVision = new Map<string, Promise<VisionLookup>>();
  private readonly resultCache: LRUCache<string, ExtractResult>;
  private readonly visionInputs: Map<string, InputMetadata>;
  private readonly embedInputs: Map<string, InputMetadata>;

  private constructor(
    private readonly files: ModelFiles,
    private readonly prompt: PromptBuilder,
    private readonly vision: ort.InferenceSession,
    private readonly embed: ort.InferenceSession,
    private readonly sessionOptions: ort.InferenceSession.SessionOptions,
    private readonly options: Required<Pick<RunnerOptions, "imageSplitting" | "maxImagePixels">>,
    info: ModelInfo,
    cacheBytes: { vision: number; result: number },
  ) {
    this.info = info;
    this.visionInputs = inputMetadata(vision);
    this.embedInputs = inputMetadata(embed);
    this.visionCache = new LRUCache({ maxSize: cacheBytes.vision, sizeCalculation: (v) => Math.max(1, v.features.byteLength) });
    this.resultCache = new LRUCache({ maxSize: cacheBytes.result, sizeCalculation: (v) => Math.max(1, v.vectors.byteLength) });
  }

  static async create(model: ModelRef, options: RunnerOptions = {}): Promise<Idefics3Runner> {
    const files = loadModelFiles(model.dir, model.dtypes);
    const config = files.config;
    const prompt = new PromptBuilder({
      chatTemplate: files.chatTemplate,
      tokenizerJson: files.tokenizerJson,
      tokenizerConfig: files.tokenizerConfig,
      imageSeqLen: config.imageSeqLen,
      imageTokenId: config.imageTokenId,
    });
    const threads = options.threads ?? os.availableParallelism();
    const sessionOptions: ort.InferenceSession.SessionOptions = {
      intraOpNumThreads: threads,
      interOpNumThreads: 1,
      executionMode: "sequential",
      graphOptimizationLevel: "all",
      // Idle ORT threads otherwise busy-wait, taking the cores from the next session and from image decoding
      // (measured: decoder stage 0.8x, two-in-flight throughput 3-11% better; BENCHMARKS.md).
      extra: { session: { intra_op: { allow_spinning: "0" }, inter_op: { allow_spinning: "0" } } },
    };
    const [vision, embed, fingerprint] = await Promise.all([
      ort.InferenceSession.create(files.onnx.vision_encoder, sessionOptions),
      ort.InferenceSession.create(files.onnx.embed_tokens, sessionOptions),
      fingerprintOf(files),
    ]);
    const shape: HeadShape = { layers: config.text.layers, heads: config.text.heads, headDim: config.text.headDim };
    const info: ModelInfo = {
      id: model.id,
      family: "idefics3",
      dir: model.dir,
      shape,
      fingerprint,
      randomWeights: model.randomWeights ?? config.randomWeights,
      dtypes: { ...files.dtypes },
    };
    const runner = new Idefics3Runner(
      files,
      prompt,
      vision,
      embed,
      sessionOptions,
      { imageSplitting: options.imageSplitting ?? false, maxImagePixels: options.maxImagePixels ?? 64 * 1024 * 1024 },
      info,
      { vision: options.visionCacheBytes ?? 256 * 1024 * 1024, result: options.resultCacheBytes ?? 64 * 1024 * 1024 },
    );
    await runner.decoder(shape.layers);
    return runner;
  }

  /** The decoder session computing layers 0..layers-1, edited and cached on first use. */
  private decoder(layers: number): Promise<ort.InferenceSession> {
    let session = this.decoders.get(layers);
    if (!session) {
      const text = this.files.config.text;
      session = prepareDecoder(this.files.onnx.decoder_model_merged, {
        layers: text.layers,
        width: text.heads * text.headDim,
        keepLayers: layers,
      }).then((prepared) =>
        prepared.path
          ? ort.InferenceSession.create(prepared.path, this.sessionOptions)
          : ort.InferenceSession.create(prepared.bytes as Uint8Array, this.sessionOptions),
      );
      session.catch(() => this.decoders.delete(layers));
      this.decoders.set(layers, session);
    }
    return session;
  }

  private imageConfig() {
    return { ...this.files.config.image, doImageSplitting: this.options.imageSplitting };
  }

  private async runVision(image: PreprocessedImage): Promise<Float32Array> {
    const tile = this.files.config.image.tileSize;
    const pixelType = this.visionInputs.get("pixel_values")?.type ?? "float32";
    const feeds: Record<string, ort.Tensor> = {
      pixel_values: floatTensor(image.pixels, [1, image.frames, 3, tile, tile], pixelType),
    };
    if (this.visionInputs.has("pixel_attention_mask")) {
      const mask = new Uint8Array(image.frames * tile * tile).fill(1);
      feeds.pixel_attention_mask = new ort.Tensor("bool", mask, [1, image.frames, tile, tile]);
    }
    const outputs = await this.vision.run(feeds);
    const features = outputs[this.vision.outputNames[0]];
    const values = readFloats(features);
    const expected = image.frames * this.files.config.imageSeqLen * this.files.config.text.hiddenSize;
    if (values.length !== expected) {
      throw new Error(
        `vision_encoder returned ${values.length} values for ${image.frames} frame(s); expected frames × image_seq_len × hidden = ${expected}.`,
      );
    }
    return values;
  }

  /**
   * Vision features of one image, from the cache, from a computation already under way for the same
   * image (concurrent requests share it), or computed now.
   */
  private async visionFeatures(hash: string, bytes: Uint8Array, signal?: AbortSignal): Promise<VisionLookup> {
    const key = `${hash}:${this.options.imageSplitting ? "split" : "global"}`;
    const cached = this.visionCache.get(key);
    if (cached) return { value: cached, hit: true, preprocessMs: 0, visionMs: 0 };
    const pending = this.pendingVision.get(key);
    if (pending) {
      try {
        return { ...(await pending), hit: true, preprocessMs: 0, visionMs: 0 };
      } catch (error) {
        // The request that started it was cancelled; this one was not, so it computes the features itself.
        if (error instanceof ExtractionAbortedError && !signal?.aborted) return this.visionFeatures(hash, bytes, signal);
        throw error;
      }
    }
    const computation = this.computeVision(bytes, signal);
    this.pendingVision.set(key, computation);
    try {
      const result = await computation;
      this.visionCache.set(key, result.value);
      return result;
    } finally {
      this.pendingVision.delete(key);
    }
  }

  private async computeVision(bytes: Uint8Array, signal?: AbortSignal): Promise<VisionLookup> {
    const started = performance.now();
    // Decoding and resizing run outside the queue, overlapping with other requests' inference.
    const image = await preprocessImage(bytes, this.imageConfig(), this.options.maxImagePixels);
    const preprocessMs = performance.now() - started;
    checkAborted(signal);
    const visionStart = performance.now();
    const features = await this.queue.run(() => {
      checkAborted(signal);
      return this.runVision(image);
    });
    const value = { features, grid: { rows: image.rows, cols: image.cols } };
    return { value, hit: false, preprocessMs, visionMs: performance.now() - visionStart };
  }

  /** embed_tokens over the prompt, with the k-th <image> position replaced by the k-th image feature row. */
  private async mergedEmbeddings(inputIds: number[], images: VisionFeatures[]): Promise<Float32Array> {
    const config = this.files.config;
    const hidden = config.text.hiddenSize;
    const length = inputIds.length;
    const embedOut = await this.embed.run({ input_ids: int64Tensor(inputIds, [1, length]) });
    const embeds = Float32Array.from(readFloats(embedOut[this.embed.outputNames[0]]));
    if (embeds.length !== length * hidden) throw new Error(`embed_tokens returned ${embeds.length} values; expected ${length * hidden}.`);
    let row = 0;
    let image = 0;
    let offset = 0;
    for (let position = 0; position < length; position++) {
      if (inputIds[position] !== config.imageTokenId) continue;
      while (image < images.length && offset >= images[image].features.length) {
        image++;
        offset = 0;
      }
      if (image >= images.length) throw new Error("The prompt has more <image> tokens than image features.");
      embeds.set(images[image].features.subarray(offset, offset + hidden), position * hidden);
      offset += hidden;
      row++;
    }
    const featureRows = images.reduce((sum, f) => sum + f.features.length / hidden, 0);
    if (row !== featureRows) throw new Error(`The prompt has ${row} <image> tokens for ${featureRows} image feature rows.`);
    return embeds;
  }

  private async runDecoder(inputIds: number[], images: VisionFeatures[], layers: number): Promise<Float32Array> {
    const config = this.files.config;
    const hidden = config.text.hiddenSize;
    const length = inputIds.length;
    const embeds = await this.mergedEmbeddings(inputIds, images);
    const decoder = await this.decoder(layers);
    const metadata = inputMetadata(decoder);
    const feeds: Record<string, ort.Tensor> = {};
    for (const [name, meta] of metadata) {
      if (name === "inputs_embeds") feeds[name] = floatTensor(embeds, [1, length, hidden], meta.type);
      else if (name === "attention_mask") feeds[name] = int64Tensor(new Array<number>(length).fill(1), [1, length]);
      else if (name === "position_ids") feeds[name] = int64Tensor(Array.from({ length }, (_, i) => i), [1, length]);
      else if (name.startsWith("past_key_values.")) {
        const dims = resolveDims(meta, [1, config.text.kvHeads, 0, config.text.headDim]).map((d, i) => (i === 0 ? 1 : i === 2 ? 0 : d));
        feeds[name] = meta.type === "float16" ? new ort.Tensor("float16", new Uint16Array(0), dims) : new ort.Tensor("float32", new Float32Array(0), dims);
      } else if (name === "use_cache_branch") feeds[name] = new ort.Tensor("bool", new Uint8Array([0]), [1]);
      else throw new Error(`The decoder has an unexpected input "${name}".`);
    }
    const outputs = await decoder.run(feeds, [HEAD_VECTORS_OUTPUT]);
    const vectors = readFloats(outputs[HEAD_VECTORS_OUTPUT]);
    const expected = layers * config.text.heads * config.text.headDim;
    if (vectors.length !== expected) {
      throw new Error(`The edited decoder returned ${vectors.length} values; expected layers × heads × head_dim = ${expected}.`);
    }
    return vectors;
  }

  async extract(request: ExtractRequest): Promise<ExtractResult> {
    const started = performance.now();
    const { images, text, signal } = request;
    const fullDepth = this.info.shape.layers;
    const requested = request.layers ?? fullDepth;
    if (!Number.isInteger(requested) || requested < 1 || requested > fullDepth) {
      throw new RangeError(`layers must be an integer from 1 to ${fullDepth} (got ${requested}).`);
    }
    const layers = truncatedDepth(requested, fullDepth);
    if (images.length === 0) throw new ImageError("empty", "At least one image is needed.");
    if (text.includes("<image>")) throw new Error('The text must not contain "<image>": images are placed by the runner.');
    checkAborted(signal);

    const hashes = images.map((bytes) => sha256Hex(bytes));
    const resultKey = sha256Hex(JSON.stringify([hashes, text, layers, this.options.imageSplitting]));
    const cached = this.resultCache.get(resultKey);
    if (cached) {
      return { ...cached, vectors: cached.vectors.slice(), timings: { ...cached.timings, totalMs: performance.now() - started, visionCacheHit: true } };
    }

    const visions = await Promise.all(images.map((bytes, i) => this.visionFeatures(hashes[i], bytes, signal)));
    checkAborted(signal);
    const inputIds = this.prompt.encode(visions.map((v) => v.value.grid), text);
    const decoderStart = performance.now();
    const vectors = await this.queue.run(() => {
      checkAborted(signal);
      return this.runDecoder(inputIds, visions.map((v) => v.value), layers);
    });
    const result: ExtractResult = {
      vectors,
      shape: { ...this.info.shape, layers },
      promptTokens: inputIds.length,
      timings: {
        preprocessMs: visions.reduce((sum, v) => sum + v.preprocessMs, 0),
        visionMs: visions.reduce((sum, v) => sum + v.visionMs, 0),
        decoderMs: performance.now() - decoderStart,
        totalMs: performance.now() - started,
        visionCacheHit: visions.every((v) => v.hit),
      },
    };
    this.resultCache.set(resultKey, { ...result, vectors: vectors.slice() });
    return result;
  }

  /** The decoder's inputs for a request (token ids and merged embeddings), to verify the runner against references. */
  async decoderInputs(request: ExtractRequest): Promise<{ inputIds: number[]; inputsEmbeds: Float32Array }> {
    const visions = await Promise.all(request.images.map((bytes) => this.visionFeatures(sha256Hex(bytes), bytes)));
    const inputIds = this.prompt.encode(visions.map((v) => v.value.grid), request.text);
    const inputsEmbeds = await this.queue.run(() => this.mergedEmbeddings(inputIds, visions.map((v) => v.value)));
    return { inputIds, inputsEmbeds };
  }

  async close(): Promise<void> {
    const decoders = await Promise.allSettled(this.decoders.values());
    this.decoders.clear();
    await Promise.all([
      this.vision.release(),
      this.embed.release(),
      ...decoders.map((d) => (d.status === "fulfilled" ? d.value.release() : Promise.resolve())),
    ]);
  }
}

export async function createExtractor(model: ModelRef, options?: RunnerOptions): Promise<HeadVectorExtractor> {
  return Idefics3Runner.create(model, options);
}

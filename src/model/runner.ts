import { LRUCache } from "lru-cache";
import * as ort from "onnxruntime-node";
import { sha256File, sha256Hex } from "./file-hash.js";
import { ModelInputError } from "./errors.js";
import { DEFAULT_LANE, FairQueue } from "./fair-queue.js";
import type { FamilyModel, ImageFeatures, ProcessingOptions, VisionSession } from "./families/types.js";
import { HEAD_VECTORS_OUTPUT } from "./graph.js";
import { decodedImages } from "./decoded-images.js";
import { ImageError } from "./image.js";
import { loadModelFiles, type ModelFiles } from "./model-dir.js";
import { MainThreadSessionHost, sessionOptions, type InferenceThread, type ModelSession, type SessionHost, type SessionSource } from "./session-host.js";
import { WorkerSessionHost } from "./session-worker.js";
import { floatTensor, inputMetadata, int64Tensor, readFloats, type InputMetadata } from "./tensors.js";
import type { ExtractRequest, ExtractResult, HeadShape, HeadVectorExtractor, ModelInfo } from "./types.js";

export interface ModelRef {
  id: string;
  dir: string;
  /** dtype per ONNX component name, e.g. { decoder_model_merged: "q4" }; default fp32. */
  dtypes?: Record<string, string>;
  randomWeights?: boolean;
}

export interface RunnerOptions {
  /** ONNX Runtime intra-op threads; default: all cores. */
  threads?: number;
  /** Bytes of vision features kept in memory (LRU). Default 256 MB. */
  visionCacheBytes?: number;
  /** Bytes of whole extraction results kept in memory (LRU). Default 64 MB. */
  resultCacheBytes?: number;
  /** Processing options applied when a request names none (family-specific, e.g. { imageSplitting: true } for SmolVLM). */
  processing?: Record<string, unknown>;
  /** Largest decoded image, in pixels. */
  maxImagePixels?: number;
  /** An inference queue shared with other runners, so that models take turns on the cores too; default the runner's own. */
  queue?: FairQueue;
  /** Where the ONNX Runtime sessions run; default "worker" (the event loop stays free during inference). */
  inference?: InferenceThread;
  /**
   * Load the vision encoder edited for speed (mask Add dropped, attention fused; verified against the published
   * graph at load, which is used whenever verification fails); default true. false: the published graph.
   */
  editVision?: boolean;
  /** Opens the sessions instead of a host of `inference`'s kind (tests); the runner closes it. */
  sessionHost?: SessionHost;
}

/** The request was cancelled through its AbortSignal. */
export class ExtractionAbortedError extends Error {
  constructor() {
    super("Feature extraction was cancelled.");
    this.name = "AbortError";
  }
}

interface VisionLookup {
  value: ImageFeatures;
  hit: boolean;
  preprocessMs: number;
  visionMs: number;
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
 * The family-agnostic runner: image(s) + text → the input of every decoder layer's o_proj at the last prompt
 * token, as [layers, heads, headDim]. The model's family (picked by config.json) preprocesses images, feeds the
 * vision encoder, builds the prompt and its position ids; this class owns the sessions (taking turns in the inference queue),
 * the caches, the embedding merge and the edited decoders. One vision, one embedding and one decoder session per
 * model (a truncated decoder per depth on demand); vision features and results cached by content hash.
 */
export class ModelRunner implements HeadVectorExtractor {
  readonly info: ModelInfo;
  private readonly queue: FairQueue;
  private readonly decoders = new Map<number, Promise<ModelSession>>();
  private readonly visionCache: LRUCache<string, ImageFeatures>;
  private readonly pendingVision = new Map<string, Promise<VisionLookup>>();
  private readonly resultCache: LRUCache<string, ExtractResult>;
  private readonly model: FamilyModel;

  private constructor(
    private readonly files: ModelFiles,
    private readonly host: SessionHost,
    private readonly vision: ModelSession,
    private readonly embed: ModelSession,
    private readonly options: { processing: Record<string, unknown>; maxImagePixels: number },
    info: ModelInfo,
    cacheBytes: { vision: number; result: number },
    queue: FairQueue,
  ) {
    this.info = info;
    this.queue = queue;
    this.model = files.model;
    this.visionCache = new LRUCache({ maxSize: cacheBytes.vision, sizeCalculation: (v) => Math.max(1, v.features.byteLength) });
    this.resultCache = new LRUCache({ maxSize: cacheBytes.result, sizeCalculation: (v) => Math.max(1, v.vectors.byteLength) });
  }

  static async create(model: ModelRef, options: RunnerOptions = {}): Promise<ModelRunner> {
    const files = loadModelFiles(model.dir, model.dtypes);
    const text = files.model.text;
    // Fails now, not at the first request, when the runner's default options do not fit the family.
    files.model.resolveOptions(options.processing);
    const ortOptions = sessionOptions(options.threads);
    const host = options.sessionHost ?? (options.inference === "main" ? new MainThreadSessionHost(ortOptions) : new WorkerSessionHost(ortOptions));
    const visionEdit = options.editVision === false ? undefined : files.model.visionEdit;
    const visionSource: SessionSource = visionEdit
      ? { vision: { source: files.onnx.vision, edit: { unpaddedMaskInputs: visionEdit.unpaddedMaskInputs }, probe: visionEdit.probe } }
      : { path: files.onnx.vision };
    const opened = Promise.all([host.open(visionSource), host.open({ path: files.onnx.embed }), fingerprintOf(files)]);
    const [vision, embed, fingerprint] = await opened.catch(async (error: unknown) => {
      await host.close();
      throw error;
    });
    const shape: HeadShape = { layers: text.layers, heads: text.heads, headDim: text.headDim };
    const info: ModelInfo = {
      id: model.id,
      family: files.family.id,
      dir: model.dir,
      shape,
      fingerprint,
      randomWeights: model.randomWeights ?? files.model.randomWeights,
      dtypes: { ...files.dtypes },
      maxPromptTokens: files.model.maxPromptTokens,
    };
    const runner = new ModelRunner(
      files,
      host,
      vision,
      embed,
      { processing: options.processing ?? {}, maxImagePixels: options.maxImagePixels ?? 64 * 1024 * 1024 },
      info,
      { vision: options.visionCacheBytes ?? 256 * 1024 * 1024, result: options.resultCacheBytes ?? 64 * 1024 * 1024 },
      options.queue ?? new FairQueue(),
    );
    await runner.decoder(shape.layers).catch(async (error: unknown) => {
      await host.close();
      throw error;
    });
    return runner;
  }

  /** A request's processing options, validated by the family, over the runner's defaults. */
  resolveOptions(options?: Readonly<Record<string, unknown>>): ProcessingOptions {
    return this.model.resolveOptions({ ...this.options.processing, ...(options ?? {}) });
  }

  /** The decoder session computing layers 0..layers-1, edited and cached on first use. */
  private decoder(layers: number): Promise<ModelSession> {
    let session = this.decoders.get(layers);
    if (!session) {
      const text = this.model.text;
      const edit = { layers: text.layers, width: text.heads * text.headDim, keepLayers: layers, oProjPattern: this.files.family.oProjPattern };
      // Edited where the session lives (in the worker thread, the graph edit does not block the event loop either).
      session = this.host.open({ decoder: { source: this.files.onnx.decoder, edit } });
      session.catch(() => this.decoders.delete(layers));
      this.decoders.set(layers, session);
    }
    return session;
  }

  /**
   * Vision features of one image, from the cache, from a computation already under way for the same
   * image (concurrent requests share it), or computed now.
   */
  private async visionFeatures(hash: string, bytes: Uint8Array, options: ProcessingOptions, lane: string, signal?: AbortSignal): Promise<VisionLookup> {
    const key = `${hash}:${JSON.stringify(options)}`;
    const cached = this.visionCache.get(key);
    if (cached) {
      // Its pixels, kept when the image was loaded, are not needed: free their share of the budget now.
      decodedImages.discard(bytes);
      return { value: cached, hit: true, preprocessMs: 0, visionMs: 0 };
    }
    const pending = this.pendingVision.get(key);
    if (pending) {
      decodedImages.discard(bytes);
      try {
        return { ...(await pending), hit: true, preprocessMs: 0, visionMs: 0 };
      } catch (error) {
        // The request that started it was cancelled; this one was not, so it computes the features itself.
        if (error instanceof ExtractionAbortedError && !signal?.aborted) return this.visionFeatures(hash, bytes, options, lane, signal);
        throw error;
      }
    }
    const computation = this.computeVision(bytes, options, lane, signal);
    this.pendingVision.set(key, computation);
    try {
      const result = await computation;
      this.visionCache.set(key, result.value);
      return result;
    } finally {
      this.pendingVision.delete(key);
    }
  }

  private async computeVision(bytes: Uint8Array, options: ProcessingOptions, lane: string, signal?: AbortSignal): Promise<VisionLookup> {
    const started = performance.now();
    // Decoding and resizing run outside the queue, overlapping with other requests' inference.
    const image = await this.model.preprocess(bytes, options, this.options.maxImagePixels);
    const preprocessMs = performance.now() - started;
    checkAborted(signal);
    const visionStart = performance.now();
    const value = await this.queue.run(lane, () => this.model.encodeImage(visionSessionOf(this.vision, signal), image));
    if (value.features.length !== value.rows * this.model.text.hiddenSize) {
      throw new Error(`The ${this.files.family.id} vision features have ${value.features.length} values for ${value.rows} rows of width ${this.model.text.hiddenSize}.`);
    }
    return { value, hit: false, preprocessMs, visionMs: performance.now() - visionStart };
  }

  private async runDecoder(inputIds: number[], images: ImageFeatures[], layers: number, signal?: AbortSignal): Promise<Float32Array> {
    const text = this.model.text;
    const length = inputIds.length;
    checkAborted(signal);
    const embeds = await embedWithImages(this.embed, inputIds, images, this.model);
    const decoder = await this.decoder(layers);
    // A cancelled request starts no further session run: at most the one in flight finishes.
    checkAborted(signal);
    const feeds: Record<string, ort.Tensor> = {};
    for (const [name, meta] of inputMetadata(decoder)) {
      if (name === "inputs_embeds") feeds[name] = floatTensor(embeds, [1, length, text.hiddenSize], meta.type);
      else if (name === "attention_mask") feeds[name] = int64Tensor(new Array<number>(length).fill(1), [1, length]);
      else if (name === "position_ids") feeds[name] = this.positionTensor(inputIds, images, meta);
      else if (name.startsWith("past_key_values.")) {
        const dims = resolveDims(meta, [1, text.kvHeads, 0, text.headDim]).map((d, i) => (i === 0 ? 1 : i === 2 ? 0 : d));
        feeds[name] = meta.type === "float16" ? new ort.Tensor("float16", new Uint16Array(0), dims) : new ort.Tensor("float32", new Float32Array(0), dims);
      } else if (name === "use_cache_branch") feeds[name] = new ort.Tensor("bool", new Uint8Array([0]), [1]);
      else throw new Error(`The decoder has an unexpected input "${name}".`);
    }
    const outputs = await decoder.run(feeds, [HEAD_VECTORS_OUTPUT]);
    const vectors = readFloats(outputs[HEAD_VECTORS_OUTPUT]!);
    const expected = layers * text.heads * text.headDim;
    if (vectors.length !== expected) {
      throw new Error(`The edited decoder returned ${vectors.length} values; expected layers × heads × head_dim = ${expected}.`);
    }
    return vectors;
  }

  /** The family's position ids, checked against the rank the decoder declares: a mismatch would silently change every vector. */
  private positionTensor(inputIds: number[], images: ImageFeatures[], meta: InputMetadata): ort.Tensor {
    const positions = this.model.positionIds(inputIds, images.map((image) => image.layout));
    if (meta.shape.length > 0 && meta.shape.length !== positions.dims.length) {
      throw new Error(
        `The decoder's position_ids input has rank ${meta.shape.length}, but ${this.files.family.id} models take rank ${positions.dims.length} ` +
          `([${positions.dims.join(", ")}]). The decoder graph does not belong to this model's family; re-download the model.`,
      );
    }
    return int64Tensor(positions.data, positions.dims);
  }

  /** Token ids for a prompt, refused before any decoder work when longer than the model's limit. */
  private promptIds(images: ImageFeatures[], text: string, options: ProcessingOptions): number[] {
    const inputIds = this.model.promptIds(images.map((image) => image.layout), text, options);
    if (inputIds.length > this.model.maxPromptTokens) {
      throw new ModelInputError(
        `The prompt is ${inputIds.length} tokens after the chat template and image expansion, over this model's limit of ${this.model.maxPromptTokens}. ` +
          "Shorten the prompt or the text, or use fewer or smaller images.",
      );
    }
    return inputIds;
  }

  async extract(request: ExtractRequest): Promise<ExtractResult> {
    const started = performance.now();
    const { images, text, signal } = request;
    const lane = request.lane ?? DEFAULT_LANE;
    const fullDepth = this.info.shape.layers;
    const requested = request.layers ?? fullDepth;
    if (!Number.isInteger(requested) || requested < 1 || requested > fullDepth) {
      throw new RangeError(`layers must be an integer from 1 to ${fullDepth} (got ${requested}).`);
    }
    const layers = truncatedDepth(requested, fullDepth);
    if (images.length === 0) throw new ImageError("empty", "At least one image is needed.");
    const options = this.resolveOptions(request.options);
    checkAborted(signal);

    const hashes = images.map((bytes) => sha256Hex(bytes));
    const resultKey = sha256Hex(JSON.stringify([hashes, text, layers, options]));
    const cached = this.resultCache.get(resultKey);
    if (cached) {
      for (const bytes of images) decodedImages.discard(bytes);
      return { ...cached, vectors: cached.vectors.slice(), timings: { ...cached.timings, totalMs: performance.now() - started, visionCacheHit: true } };
    }

    const imageOptions = this.model.imageOptions?.(options, images.length) ?? options;
    const visions = await Promise.all(images.map((bytes, i) => this.visionFeatures(hashes[i]!, bytes, imageOptions, lane, signal)));
    checkAborted(signal);
    const features = visions.map((v) => v.value);
    const inputIds = this.promptIds(features, text, options);
    const decoderStart = performance.now();
    const vectors = await this.queue.run(lane, () => this.runDecoder(inputIds, features, layers, signal));
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
  async decoderInputs(request: ExtractRequest): Promise<{ inputIds: number[]; inputsEmbeds: Float32Array; positionIds: number[] }> {
    const options = this.resolveOptions(request.options);
    const imageOptions = this.model.imageOptions?.(options, request.images.length) ?? options;
    const lane = request.lane ?? DEFAULT_LANE;
    const visions = await Promise.all(request.images.map((bytes) => this.visionFeatures(sha256Hex(bytes), bytes, imageOptions, lane)));
    const features = visions.map((v) => v.value);
    const inputIds = this.promptIds(features, request.text, options);
    const inputsEmbeds = await this.queue.run(lane, () => embedWithImages(this.embed, inputIds, features, this.model));
    const positionIds = this.model.positionIds(inputIds, features.map((f) => f.layout)).data;
    return { inputIds, inputsEmbeds, positionIds };
  }

  /** Releases every session (and stops the worker thread); calls under way fail. */
  async close(): Promise<void> {
    this.decoders.clear();
    await this.host.close();
  }
}

/** The vision session as a family sees it, for one request: once the request is cancelled, no further run starts. */
function visionSessionOf(session: ModelSession, signal?: AbortSignal): VisionSession {
  return {
    inputs: inputMetadata(session),
    outputNames: session.outputNames,
    run: (feeds) => {
      checkAborted(signal);
      return session.run(feeds);
    },
  };
}

/**
 * embed_tokens over a prompt, with the k-th image-token position replaced by the k-th image feature row
 * (shared with the generation loop, src/model/generate.ts).
 */
export async function embedWithImages(
  embed: Pick<ModelSession, "outputNames"> & { run(feeds: Record<string, ort.Tensor>): Promise<Record<string, ort.Tensor>> },
  inputIds: readonly number[],
  images: readonly ImageFeatures[],
  model: Pick<FamilyModel, "imageTokenId" | "text">,
): Promise<Float32Array> {
  const hidden = model.text.hiddenSize;
  const length = inputIds.length;
  const embedOut = await embed.run({ input_ids: int64Tensor([...inputIds], [1, length]) });
  const embeds = Float32Array.from(readFloats(embedOut[embed.outputNames[0]!]!));
  if (embeds.length !== length * hidden) throw new Error(`embed_tokens returned ${embeds.length} values; expected ${length * hidden}.`);
  let row = 0;
  let image = 0;
  let offset = 0;
  for (let position = 0; position < length; position++) {
    if (inputIds[position] !== model.imageTokenId) continue;
    while (image < images.length && offset >= images[image]!.features.length) {
      image++;
      offset = 0;
    }
    if (image >= images.length) throw new Error("The prompt has more image tokens than image features.");
    embeds.set(images[image]!.features.subarray(offset, offset + hidden), position * hidden);
    offset += hidden;
    row++;
  }
  const featureRows = images.reduce((sum, f) => sum + f.rows, 0);
  if (row !== featureRows) throw new Error(`The prompt has ${row} image tokens for ${featureRows} image feature rows.`);
  return embeds;
}

export async function createExtractor(model: ModelRef, options?: RunnerOptions): Promise<HeadVectorExtractor> {
  return ModelRunner.create(model, options);
}

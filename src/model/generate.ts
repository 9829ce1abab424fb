/**
 * Greedy generation with the unedited decoder and its KV cache, for the zero-shot baseline and the caption of
 * `models check`. Family-agnostic: the family preprocesses and encodes images, builds the prompt ids and the
 * position ids; for each new token the family's position ids over the whole sequence so far are computed and
 * the last position taken (so 1-D RoPE and M-RoPE both continue correctly). Generation stops at an end-of-turn
 * or end-of-sequence token (generation_config.json / config.json `eos_token_id`, tokenizer_config.json
 * `eos_token`, and the usual end-of-turn tokens when the vocabulary has them) or after `maxNewTokens`.
 * Sessions are its own (one vision, one embedding, one unedited decoder), separate from the extraction runner:
 * generation is used by one-shot commands, never on the server's hot path.
 */
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { Tokenizer } from "@huggingface/tokenizers";
import * as ort from "onnxruntime-node";
import type { ImageFeatures, Json, PositionIds } from "./families/types.js";
import { loadModelFiles, readModelDirJson, type ModelFiles } from "./model-dir.js";
import { embedWithImages } from "./runner.js";
import { MainThreadSessionHost, sessionOptions, type InferenceThread, type ModelSession, type SessionHost } from "./session-host.js";
import { WorkerSessionHost } from "./session-worker.js";
import { floatTensor, inputMetadata, int64Tensor, readFloats } from "./tensors.js";

/** Token strings that end an assistant turn in common chat templates. */
export const END_OF_TURN_TOKENS = ["<end_of_utterance>", "<|im_end|>", "<|eot_id|>", "<|endoftext|>", "</s>"];
export const DEFAULT_MAX_NEW_TOKENS = 16;

export interface GenerateRequest {
  images: Uint8Array[];
  text: string;
  maxNewTokens?: number;
  options?: Record<string, unknown>;
}

export interface GenerateResult {
  text: string;
  tokenIds: number[];
  stop: "end-of-turn" | "max-tokens";
  promptTokens: number;
  timings: { preprocessMs: number; visionMs: number; prefillMs: number; decodeMs: number; totalMs: number };
}

export interface Generator {
  generate(request: GenerateRequest): Promise<GenerateResult>;
  /** Token ids that stop generation. */
  readonly stopTokenIds: ReadonlySet<number>;
  close(): Promise<void>;
}

function idsFrom(value: unknown): number[] {
  if (typeof value === "number" && Number.isInteger(value)) return [value];
  if (Array.isArray(value)) return value.filter((v): v is number => typeof v === "number" && Number.isInteger(v));
  return [];
}

/** Stop tokens of a model directory, from its configs and its vocabulary. */
export function stopTokenIds(dir: string, config: Json, tokenizerConfig: Json, tokenId: (token: string) => number | undefined): Set<number> {
  const ids = new Set<number>();
  const generationFile = path.join(dir, "generation_config.json");
  if (existsSync(generationFile)) {
    try {
      for (const id of idsFrom((JSON.parse(readFileSync(generationFile, "utf8")) as Json).eos_token_id)) ids.add(id);
    } catch {
      // An unreadable generation config only loses its stop ids; the others still apply.
    }
  }
  for (const id of idsFrom(config.eos_token_id)) ids.add(id);
  const textConfig = config.text_config as Json | undefined;
  for (const id of idsFrom(textConfig?.eos_token_id)) ids.add(id);
  const eos = tokenizerConfig.eos_token;
  const eosText = typeof eos === "string" ? eos : typeof (eos as Json | undefined)?.content === "string" ? String((eos as Json).content) : null;
  for (const token of [...(eosText ? [eosText] : []), ...END_OF_TURN_TOKENS]) {
    const id = tokenId(token);
    if (id !== undefined) ids.add(id);
  }
  return ids;
}

/** The position ids of the last `count` tokens: the trailing `count` entries of every leading row. */
export function lastPositions(positions: PositionIds, count: number): PositionIds {
  const length = positions.dims[positions.dims.length - 1]!;
  const rows = positions.data.length / length;
  const data: number[] = [];
  for (let r = 0; r < rows; r++) data.push(...positions.data.slice(r * length + length - count, (r + 1) * length));
  return { data, dims: [...positions.dims.slice(0, -1), count] };
}

function argmaxLastRow(logits: Float32Array, vocab: number): number {
  const start = logits.length - vocab;
  let best = 0;
  for (let v = 1; v < vocab; v++) if (logits[start + v]! > logits[start + best]!) best = v;
  return best;
}

class GreedyGenerator implements Generator {
  readonly stopTokenIds: ReadonlySet<number>;

  constructor(
    private readonly files: ModelFiles,
    private readonly host: SessionHost,
    private readonly vision: ModelSession,
    private readonly embed: ModelSession,
    private readonly decoder: ModelSession,
    private readonly tokenizer: Tokenizer,
    stopIds: Set<number>,
    private readonly maxImagePixels: number,
  ) {
    this.stopTokenIds = stopIds;
  }

  private positionTensor(ids: number[], layouts: unknown[], count: number, rank: number): ort.Tensor {
    const positions = lastPositions(this.files.model.positionIds(ids, layouts), count);
    if (rank > 0 && rank !== positions.dims.length) {
      throw new Error(`The decoder's position_ids input has rank ${rank}, but ${this.files.family.id} models take rank ${positions.dims.length}.`);
    }
    return int64Tensor(positions.data, positions.dims);
  }

  async generate(request: GenerateRequest): Promise<GenerateResult> {
    const started = performance.now();
    const model = this.files.model;
    const text = model.text;
    const maxNewTokens = request.maxNewTokens ?? DEFAULT_MAX_NEW_TOKENS;
    if (!Number.isInteger(maxNewTokens) || maxNewTokens < 1) throw new RangeError(`maxNewTokens must be an integer >= 1 (got ${maxNewTokens}).`);
    const options = model.resolveOptions(request.options);
    const prepared = [];
    for (const bytes of request.images) prepared.push(await model.preprocess(bytes, options, this.maxImagePixels));
    const visionStart = performance.now();
    const visionSession = { inputs: inputMetadata(this.vision), outputNames: this.vision.outputNames, run: (f: Record<string, ort.Tensor>) => this.vision.run(f) };
    const features: ImageFeatures[] = [];
    for (const image of prepared) features.push(await model.encodeImage(visionSession, image));
    const layouts = features.map((f) => f.layout);
    const prefillStart = performance.now();

    const ids = model.promptIds(layouts, request.text, options);
    const promptTokens = ids.length;
    const meta = inputMetadata(this.decoder);
    let past: Record<string, ort.Tensor> = {};
    for (const [name, m] of meta) {
      if (!name.startsWith("past_key_values.")) continue;
      const dims = [1, text.kvHeads, 0, text.headDim];
      past[name] = m.type === "float16" ? new ort.Tensor("float16", new Uint16Array(0), dims) : new ort.Tensor("float32", new Float32Array(0), dims);
    }
    let embeds = await embedWithImages(this.embed, ids, features, model);
    let stepLength = ids.length;
    const generated: number[] = [];
    let stop: GenerateResult["stop"] = "max-tokens";
    let decodeStart = 0;
    for (let step = 0; step < maxNewTokens; step++) {
      const feeds: Record<string, ort.Tensor> = { ...past };
      for (const [name, m] of meta) {
        if (name === "inputs_embeds") feeds[name] = floatTensor(embeds, [1, stepLength, text.hiddenSize], m.type);
        else if (name === "attention_mask") feeds[name] = int64Tensor(new Array<number>(ids.length).fill(1), [1, ids.length]);
        else if (name === "position_ids") feeds[name] = this.positionTensor(ids, layouts, stepLength, m.shape.length);
        else if (name === "use_cache_branch") feeds[name] = new ort.Tensor("bool", new Uint8Array([step > 0 ? 1 : 0]), [1]);
        else if (!name.startsWith("past_key_values.")) throw new Error(`The decoder has an unexpected input "${name}".`);
      }
      const outputs = await this.decoder.run(feeds);
      if (step === 0) decodeStart = performance.now();
      const logits = readFloats(outputs.logits ?? outputs[this.decoder.outputNames[0]!]!);
      const next = argmaxLastRow(logits, logits.length / stepLength);
      past = {};
      for (const name of Object.keys(feeds)) {
        if (name.startsWith("past_key_values.")) past[name] = outputs[name.replace("past_key_values.", "present.")]!;
      }
      if (this.stopTokenIds.has(next)) {
        stop = "end-of-turn";
        break;
      }
      generated.push(next);
      ids.push(next);
      const embedded = await this.embed.run({ input_ids: int64Tensor([next], [1, 1]) });
      embeds = Float32Array.from(readFloats(embedded[this.embed.outputNames[0]!]!));
      stepLength = 1;
    }
    const finished = performance.now();
    return {
      text: this.tokenizer.decode(generated, { skip_special_tokens: true }).trim(),
      tokenIds: generated,
      stop,
      promptTokens,
      timings: {
        preprocessMs: visionStart - started,
        visionMs: prefillStart - visionStart,
        prefillMs: (decodeStart || finished) - prefillStart,
        decodeMs: decodeStart ? finished - decodeStart : 0,
        totalMs: finished - started,
      },
    };
  }

  async close(): Promise<void> {
    await this.host.close();
  }
}

export interface GeneratorOptions {
  threads?: number;
  maxImagePixels?: number;
  /** Where the ONNX Runtime sessions run; default "worker". */
  inference?: InferenceThread;
}

/** Loads the model's three graphs (the decoder unedited) for greedy generation. */
export async function createGenerator(
  model: { dir: string; dtypes?: Record<string, string> },
  options: GeneratorOptions = {},
): Promise<Generator> {
  const files = loadModelFiles(model.dir, model.dtypes);
  const json = readModelDirJson(model.dir);
  const tokenizer = new Tokenizer(json.tokenizerJson, json.tokenizerConfig);
  const ortOptions = sessionOptions(options.threads);
  const host = options.inference === "main" ? new MainThreadSessionHost(ortOptions) : new WorkerSessionHost(ortOptions);
  try {
    const [vision, embed, decoder] = await Promise.all([files.onnx.vision, files.onnx.embed, files.onnx.decoder].map((file) => host.open({ path: file })));
    if (!decoder!.outputNames.some((name) => name.startsWith("present."))) {
      throw new Error(`${files.onnx.decoder} has no present.* outputs: greedy generation needs a decoder with a KV cache.`);
    }
    const stops = stopTokenIds(model.dir, json.config, json.tokenizerConfig, (token) => tokenizer.token_to_id(token) ?? undefined);
    return new GreedyGenerator(files, host, vision!, embed!, decoder!, tokenizer, stops, options.maxImagePixels ?? 64 * 1024 * 1024);
  } catch (error) {
    await host.close();
    throw error;
  }
}

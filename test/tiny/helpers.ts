import { createHash } from "node:crypto";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import onnxProto from "onnx-proto";
import * as ort from "onnxruntime-node";

export const { onnx } = onnxProto;
export type ModelProto = onnxProto.onnx.ModelProto;
export type NodeProto = onnxProto.onnx.INodeProto;
export type TensorProto = onnxProto.onnx.ITensorProto;

export interface TextSizes {
  hidden: number;
  layers: number;
  heads: number;
  kvHeads: number;
  headDim: number;
  vocab: number;
}

export async function textSizes(modelDir: string): Promise<TextSizes> {
  const config = JSON.parse(await readFile(path.join(modelDir, "config.json"), "utf8")) as {
    text_config: { hidden_size: number; num_hidden_layers: number; num_attention_heads: number; num_key_value_heads: number; head_dim: number; vocab_size: number };
  };
  const t = config.text_config;
  return { hidden: t.hidden_size, layers: t.num_hidden_layers, heads: t.num_attention_heads, kvHeads: t.num_key_value_heads, headDim: t.head_dim, vocab: t.vocab_size };
}

export async function sha256(file: string): Promise<string> {
  return createHash("sha256").update(await readFile(file)).digest("hex");
}

export async function withTempDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(path.join(os.tmpdir(), "sav-tiny-"));
  try {
    return await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export async function loadModelProto(file: string): Promise<ModelProto> {
  return onnx.ModelProto.decode(await readFile(file));
}

export function toNumber(value: number | { toNumber(): number } | null | undefined): number {
  if (value === null || value === undefined) return 0;
  return typeof value === "number" ? value : value.toNumber();
}

export function nodeByName(model: ModelProto, name: string): NodeProto {
  const node = model.graph?.node?.find((n) => n.name === name);
  if (!node) throw new Error(`no node named ${name}`);
  return node;
}

export function producerOf(model: ModelProto, tensor: string): NodeProto | undefined {
  return model.graph?.node?.find((n) => (n.output ?? []).includes(tensor));
}

export function initializer(model: ModelProto, name: string): TensorProto {
  const found = model.graph?.initializer?.find((t) => t.name === name);
  if (!found) throw new Error(`no initializer named ${name}`);
  return found;
}

export function dims(t: TensorProto): number[] {
  return (t.dims ?? []).map(toNumber);
}

function rawCopy(t: TensorProto): ArrayBuffer {
  const raw = t.rawData ?? new Uint8Array(0);
  const copy = new Uint8Array(raw.length);
  copy.set(raw);
  return copy.buffer;
}

export function floats(t: TensorProto): Float32Array {
  return new Float32Array(rawCopy(t));
}
export function uint8s(t: TensorProto): Uint8Array {
  return new Uint8Array(rawCopy(t));
}
export function int8s(t: TensorProto): Int8Array {
  return new Int8Array(rawCopy(t));
}

export function intAttr(node: NodeProto, name: string): number {
  const a = node.attribute?.find((x) => x.name === name);
  if (!a) throw new Error(`${node.name} has no attribute ${name}`);
  return toNumber(a.i);
}

/** Adds intermediate tensors as float graph outputs so ONNX Runtime returns them. */
export function exposeOutputs(model: ModelProto, names: string[]): Uint8Array {
  const copy = onnx.ModelProto.decode(onnx.ModelProto.encode(model).finish());
  for (const name of names) copy.graph?.output?.push(onnx.ValueInfoProto.create({ name, type: { tensorType: { elemType: onnx.TensorProto.DataType.FLOAT } } }));
  return onnx.ModelProto.encode(copy).finish();
}

/** Seeded values in [-amplitude, amplitude] (a plain LCG; the tests only need reproducible variety). */
export function pseudoRandom(size: number, seed: number, amplitude = 1): Float32Array {
  let state = seed >>> 0 || 1;
  const out = new Float32Array(size);
  for (let i = 0; i < size; i++) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    out[i] = ((state / 0x100000000) * 2 - 1) * amplitude;
  }
  return out;
}

export function decoderFeeds(sizes: TextSizes, inputsEmbeds: Float32Array, seqLen: number, options: { mask?: bigint[]; past?: Record<string, ort.Tensor>; startPosition?: number } = {}): Record<string, ort.Tensor> {
  const start = options.startPosition ?? 0;
  const mask = options.mask ?? Array.from({ length: start + seqLen }, () => 1n);
  const feeds: Record<string, ort.Tensor> = {
    inputs_embeds: new ort.Tensor("float32", inputsEmbeds, [1, seqLen, sizes.hidden]),
    attention_mask: new ort.Tensor("int64", BigInt64Array.from(mask), [1, mask.length]),
    position_ids: new ort.Tensor("int64", BigInt64Array.from({ length: seqLen }, (_, i) => BigInt(start + i)), [1, seqLen]),
  };
  for (let i = 0; i < sizes.layers; i++) {
    for (const kind of ["key", "value"]) {
      feeds[`past_key_values.${i}.${kind}`] =
        options.past?.[`present.${i}.${kind}`] ?? new ort.Tensor("float32", new Float32Array(0), [1, sizes.kvHeads, 0, sizes.headDim]);
    }
  }
  return feeds;
}

export function lastRow(tensor: ort.Tensor): Float32Array {
  const d = tensor.dims;
  const width = d[d.length - 1] as number;
  const data = tensor.data as Float32Array;
  return data.slice(data.length - width);
}

export function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} != ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs((a[i] as number) - (b[i] as number)));
  return m;
}

export function cosine(a: Float32Array, b: Float32Array): number {
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += (a[i] as number) * (b[i] as number);
    na += (a[i] as number) ** 2;
    nb += (b[i] as number) ** 2;
  }
  return dot / Math.sqrt(na * nb);
}

export function allFinite(values: Float32Array): boolean {
  return values.every((v) => Number.isFinite(v));
}

export const sessionOptions: ort.InferenceSession.SessionOptions = { intraOpNumThreads: 1, interOpNumThreads: 1 };

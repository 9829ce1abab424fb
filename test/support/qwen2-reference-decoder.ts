/**
 * A pure TypeScript forward pass of an fp32 Qwen2-VL text decoder, reading the weights from
 * `onnx/decoder_model_merged.onnx` (by torch.onnx.export node names) and the sizes, rope_theta and
 * mrope_section from `config.json`. It follows the PyTorch Qwen2-VL definition (q/k/v biases, GQA,
 * multimodal RoPE: head dims split by mrope_section × 2, chunk i rotated by position row i % 3; o_proj
 * without bias; SwiGLU; RMSNorm), not the ONNX graph, so agreement with ONNX Runtime proves the graph is a
 * real Qwen2-VL decoder and that the exposed per-head vectors are the o_proj inputs. Float64 arithmetic;
 * the attention mask all ones, the past empty.
 */
import { readFile } from "node:fs/promises";
import path from "node:path";
import onnxProto from "onnx-proto";

const { onnx } = onnxProto;

export interface Qwen2HeadVectors {
  /** o_proj input at the last position, [layers, heads · headDim]. */
  heads: Float32Array;
  /** o_proj output at the last position, [layers, hidden]. */
  oProjOut: Float32Array;
  /** logits at the last position. */
  logits: Float32Array;
}

export interface Qwen2ReferenceDecoder {
  readonly layers: number;
  readonly heads: number;
  readonly headDim: number;
  readonly hidden: number;
  /** `positions` is [3, S] row-major (t, h, w rows), as position_ids [3, 1, S]. */
  forward(inputsEmbeds: Float32Array, positions: readonly number[], seqLen: number): Qwen2HeadVectors;
}

interface Qwen2Config {
  hidden_size: number;
  num_hidden_layers: number;
  num_attention_heads: number;
  num_key_value_heads: number;
  intermediate_size: number;
  rms_norm_eps: number;
  rope_theta: number;
  vocab_size: number;
  rope_scaling: { mrope_section: [number, number, number] };
}

function floatData(t: onnxProto.onnx.ITensorProto): Float64Array {
  const raw = t.rawData;
  if (t.dataType !== onnx.TensorProto.DataType.FLOAT || !raw) throw new Error(`${t.name}: not a raw float tensor`);
  const copy = new Uint8Array(raw.length);
  copy.set(raw);
  return Float64Array.from(new Float32Array(copy.buffer));
}

function matVec(x: Float64Array, w: Float64Array, inF: number, outF: number, bias?: Float64Array): Float64Array {
  const y = bias ? Float64Array.from(bias) : new Float64Array(outF);
  for (let k = 0; k < inF; k++) {
    const xk = x[k] as number;
    const row = k * outF;
    for (let n = 0; n < outF; n++) y[n] += xk * (w[row + n] as number);
  }
  return y;
}

function rmsNorm(x: Float64Array, weight: Float64Array, eps: number): Float64Array {
  let sum = 0;
  for (const v of x) sum += v * v;
  const inv = 1 / Math.sqrt(sum / x.length + eps);
  return x.map((v, i) => (weight[i] as number) * v * inv);
}

export async function loadQwen2ReferenceDecoder(modelDir: string): Promise<Qwen2ReferenceDecoder> {
  const c = JSON.parse(await readFile(path.join(modelDir, "config.json"), "utf8")) as Qwen2Config;
  const [D, H, KV, L, I, V] = [c.hidden_size, c.num_attention_heads, c.num_key_value_heads, c.num_hidden_layers, c.intermediate_size, c.vocab_size];
  const hd = D / H;
  const graph = onnx.ModelProto.decode(await readFile(path.join(modelDir, "onnx", "decoder_model_merged.onnx"))).graph;
  if (!graph) throw new Error("decoder has no graph");
  const inits = new Map((graph.initializer ?? []).map((t) => [t.name ?? "", t]));
  const nodes = new Map((graph.node ?? []).map((n) => [n.name ?? "", n]));
  const weightOf = (nodeName: string, size: number): Float64Array => {
    const node = nodes.get(nodeName);
    if (!node) throw new Error(`node ${nodeName} not found`);
    const init = (node.input ?? []).map((i) => inits.get(i)).find((t) => t !== undefined && t.dims?.length !== 0);
    if (!init) throw new Error(`node ${nodeName} has no weight input`);
    const data = floatData(init);
    if (data.length !== size) throw new Error(`${nodeName}: ${data.length} weights, expected ${size}`);
    return data;
  };
  const layers = Array.from({ length: L }, (_, i) => {
    const p = `/model/layers.${i}`;
    return {
      inputNorm: weightOf(`${p}/input_layernorm/Mul_1`, D),
      q: weightOf(`${p}/self_attn/q_proj/MatMul`, D * H * hd),
      qBias: weightOf(`${p}/self_attn/q_proj/Add`, H * hd),
      k: weightOf(`${p}/self_attn/k_proj/MatMul`, D * KV * hd),
      kBias: weightOf(`${p}/self_attn/k_proj/Add`, KV * hd),
      v: weightOf(`${p}/self_attn/v_proj/MatMul`, D * KV * hd),
      vBias: weightOf(`${p}/self_attn/v_proj/Add`, KV * hd),
      o: weightOf(`${p}/self_attn/o_proj/MatMul`, H * hd * D),
      postNorm: weightOf(`${p}/post_attention_layernorm/Mul_1`, D),
      gate: weightOf(`${p}/mlp/gate_proj/MatMul`, D * I),
      up: weightOf(`${p}/mlp/up_proj/MatMul`, D * I),
      down: weightOf(`${p}/mlp/down_proj/MatMul`, I * D),
    };
  });
  const finalNorm = weightOf("/model/norm/Mul_1", D);
  const lmHead = weightOf("/lm_head/MatMul", D * V);

  const half = hd / 2;
  const invFreq = Array.from({ length: half }, (_, j) => 1 / Math.pow(c.rope_theta, (2 * j) / hd));
  // Frequency pair j (of head_dim / 2) is rotated by position row rowOf[j]: mrope_section chunks t, h, w.
  const rowOf: number[] = [];
  c.rope_scaling.mrope_section.forEach((length, row) => rowOf.push(...new Array<number>(length).fill(row)));
  if (rowOf.length !== half) throw new Error(`mrope_section sums to ${rowOf.length}, head_dim / 2 is ${half}`);

  const rotate = (vec: Float64Array, numHeads: number, positions: readonly number[], s: number, S: number): void => {
    for (let h = 0; h < numHeads; h++) {
      for (let j = 0; j < half; j++) {
        const angle = (positions[(rowOf[j] as number) * S + s] as number) * (invFreq[j] as number);
        const [cos, sin] = [Math.cos(angle), Math.sin(angle)];
        const a = vec[h * hd + j] as number;
        const b = vec[h * hd + j + half] as number;
        vec[h * hd + j] = a * cos - b * sin;
        vec[h * hd + j + half] = b * cos + a * sin;
      }
    }
  };

  const forward = (inputsEmbeds: Float32Array, positions: readonly number[], S: number): Qwen2HeadVectors => {
    if (positions.length !== 3 * S) throw new Error(`positions must be [3, ${S}]`);
    let hidden = Array.from({ length: S }, (_, s) => Float64Array.from(inputsEmbeds.subarray(s * D, (s + 1) * D)));
    const heads = new Float32Array(L * H * hd);
    const oProjOut = new Float32Array(L * D);
    layers.forEach((w, layer) => {
      const normed = hidden.map((x) => rmsNorm(x, w.inputNorm, c.rms_norm_eps));
      const qs = normed.map((x, s) => {
        const q = matVec(x, w.q, D, H * hd, w.qBias);
        rotate(q, H, positions, s, S);
        return q;
      });
      const ks = normed.map((x, s) => {
        const k = matVec(x, w.k, D, KV * hd, w.kBias);
        rotate(k, KV, positions, s, S);
        return k;
      });
      const vs = normed.map((x) => matVec(x, w.v, D, KV * hd, w.vBias));
      hidden = hidden.map((x, s) => {
        const context = new Float64Array(H * hd);
        for (let h = 0; h < H; h++) {
          const kvh = Math.floor(h / (H / KV));
          const scores = Array.from({ length: s + 1 }, (_, j) => {
            let dot = 0;
            for (let d = 0; d < hd; d++) dot += (qs[s]![h * hd + d] as number) * (ks[j]![kvh * hd + d] as number);
            return dot / Math.sqrt(hd);
          });
          const max = Math.max(...scores);
          const exps = scores.map((v) => Math.exp(v - max));
          const total = exps.reduce((a, b) => a + b, 0);
          exps.forEach((e, j) => {
            for (let d = 0; d < hd; d++) context[h * hd + d] += (e / total) * (vs[j]![kvh * hd + d] as number);
          });
        }
        const attnOut = matVec(context, w.o, H * hd, D);
        if (s === S - 1) {
          heads.set(context, layer * H * hd);
          oProjOut.set(attnOut, layer * D);
        }
        const afterAttn = x.map((v, i) => v + (attnOut[i] as number));
        const n2 = rmsNorm(afterAttn, w.postNorm, c.rms_norm_eps);
        const gate = matVec(n2, w.gate, D, I);
        const up = matVec(n2, w.up, D, I);
        const act = gate.map((g, i) => (g / (1 + Math.exp(-g))) * (up[i] as number));
        const down = matVec(act, w.down, I, D);
        return afterAttn.map((v, i) => v + (down[i] as number));
      });
    });
    const last = rmsNorm(hidden[S - 1]!, finalNorm, c.rms_norm_eps);
    return { heads, oProjOut, logits: Float32Array.from(matVec(last, lmHead, D, V)) };
  };
  return { layers: L, heads: H, headDim: hd, hidden: D, forward };
}

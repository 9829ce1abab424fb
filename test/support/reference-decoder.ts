/**
 * A pure TypeScript forward pass of an fp32 Llama-style text decoder — SmolVLM's Llama, the Qwen2 of
 * LLaVA-OneVision and Qwen2-VL's Qwen2 with multimodal RoPE — reading the weights from
 * `onnx/decoder_model_merged.onnx` and the sizes from `config.json` (flat, or under `text_config`). It follows
 * the PyTorch definitions (not the ONNX graph): RMSNorm, q/k/v projections (with bias for Qwen2), rotary
 * embeddings (rotate_half; for M-RoPE head dims split by mrope_section, chunk j rotated by position row t, h or
 * w), grouped-query causal attention, o_proj without bias, SwiGLU. Agreement with ONNX Runtime proves a graph
 * computes a real decoder of that kind and that the exposed per-head vectors are the o_proj inputs.
 *
 * Weights are located by the torch.onnx.export node names: `/model/layers.{i}/self_attn/q_proj/MatMul`
 * (weight [in, out]) and `.../q_proj/Add` (bias), the RMSNorm scale as the initializer input of
 * `/model/layers.{i}/input_layernorm/Mul_1`, `/model/norm/Mul_1`, `/lm_head/MatMul`.
 * Arithmetic is in float64; the attention mask all ones, the past empty.
 */
import { readFile } from "node:fs/promises";
import path from "node:path";
import onnxProto from "onnx-proto";

const { onnx } = onnxProto;

export interface HeadVectorResult {
  /** o_proj input at the last position, row-major [layers, heads, headDim]. */
  heads: Float32Array;
  /** o_proj output at the last position, row-major [layers, hidden]. */
  oProjOut: Float32Array;
}

export interface ReferenceDecoder {
  readonly layers: number;
  readonly heads: number;
  readonly headDim: number;
  readonly hidden: number;
  readonly vocab: number;
  /**
   * `positions`: [S] for 1-D RoPE, [3, S] row-major (t, h, w rows, as position_ids [3, 1, S]) when the config has an
   * mrope_section; default 0..S-1 (in every row).
   */
  headVectors(inputsEmbeds: Float32Array, seqLen: number, positions?: readonly number[]): HeadVectorResult;
  /** Logits of the last position [vocab]. */
  lastLogits(inputsEmbeds: Float32Array, seqLen: number): Float32Array;
}

interface TextConfig {
  model_type: string;
  hidden_size: number;
  num_hidden_layers: number;
  num_attention_heads: number;
  num_key_value_heads: number;
  head_dim?: number;
  intermediate_size: number;
  rms_norm_eps: number;
  rope_theta: number;
  vocab_size: number;
  rope_scaling?: { mrope_section?: [number, number, number] };
}

function toNumber(value: number | { toNumber(): number }): number {
  return typeof value === "number" ? value : value.toNumber();
}

function floatData(t: onnxProto.onnx.ITensorProto): Float64Array {
  if (t.dataType !== onnx.TensorProto.DataType.FLOAT) throw new Error(`${t.name}: not a float tensor`);
  if (t.rawData && t.rawData.length > 0) {
    const raw = t.rawData;
    const copy = new Uint8Array(raw.length);
    copy.set(raw);
    return Float64Array.from(new Float32Array(copy.buffer));
  }
  return Float64Array.from(t.floatData ?? []);
}

interface LayerWeights {
  inputNorm: Float64Array;
  q: Float64Array;
  k: Float64Array;
  v: Float64Array;
  bias?: { q: Float64Array; k: Float64Array; v: Float64Array };
  o: Float64Array;
  postNorm: Float64Array;
  gate: Float64Array;
  up: Float64Array;
  down: Float64Array;
}

/** y[n] = bias[n] + sum_k x[k] * w[k * N + n] (w stored [in, out] as the ONNX MatMul weight). */
function matVec(x: Float64Array, w: Float64Array, inF: number, outF: number, bias?: Float64Array): Float64Array {
  const y = bias ? Float64Array.from(bias) : new Float64Array(outF);
  for (let k = 0; k < inF; k++) {
    const xk = x[k] as number;
    if (xk === 0) continue;
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

export async function loadReferenceDecoder(modelDir: string): Promise<ReferenceDecoder> {
  const config = JSON.parse(await readFile(path.join(modelDir, "config.json"), "utf8")) as TextConfig & { text_config?: TextConfig };
  const tc = config.text_config ?? config;
  const D = tc.hidden_size;
  const H = tc.num_attention_heads;
  const KV = tc.num_key_value_heads;
  const hd = tc.head_dim ?? D / H;
  const L = tc.num_hidden_layers;
  const I = tc.intermediate_size;
  const V = tc.vocab_size;
  // Qwen2's attention always has q/k/v biases; Llama's has none (attention_bias: false).
  const qkvBias = tc.model_type === "qwen2" || tc.model_type === "qwen2_vl";

  const model = onnx.ModelProto.decode(await readFile(path.join(modelDir, "onnx", "decoder_model_merged.onnx")));
  const graph = model.graph;
  if (!graph) throw new Error("decoder has no graph");
  const initializers = new Map<string, onnxProto.onnx.ITensorProto>();
  for (const t of graph.initializer ?? []) initializers.set(t.name ?? "", t);
  const nodes = new Map<string, onnxProto.onnx.INodeProto>();
  for (const n of graph.node ?? []) nodes.set(n.name ?? "", n);

  const weightOf = (nodeName: string, expectedDims: number[]): Float64Array => {
    const node = nodes.get(nodeName);
    if (!node) throw new Error(`node ${nodeName} not found`);
    const init = (node.input ?? []).map((i) => initializers.get(i)).find((t) => t !== undefined && t.dims?.length !== 0);
    if (!init) throw new Error(`node ${nodeName} has no initializer input`);
    const dims = (init.dims ?? []).map(toNumber);
    if (dims.join(",") !== expectedDims.join(",")) throw new Error(`${nodeName}: weight dims [${dims}] != [${expectedDims}]`);
    return floatData(init);
  };

  const layers: LayerWeights[] = [];
  for (let i = 0; i < L; i++) {
    const p = `/model/layers.${i}`;
    const bias = (proj: string, size: number) => weightOf(`${p}/self_attn/${proj}/Add`, [size]);
    layers.push({
      inputNorm: weightOf(`${p}/input_layernorm/Mul_1`, [D]),
      q: weightOf(`${p}/self_attn/q_proj/MatMul`, [D, H * hd]),
      k: weightOf(`${p}/self_attn/k_proj/MatMul`, [D, KV * hd]),
      v: weightOf(`${p}/self_attn/v_proj/MatMul`, [D, KV * hd]),
      bias: qkvBias ? { q: bias("q_proj", H * hd), k: bias("k_proj", KV * hd), v: bias("v_proj", KV * hd) } : undefined,
      o: weightOf(`${p}/self_attn/o_proj/MatMul`, [H * hd, D]),
      postNorm: weightOf(`${p}/post_attention_layernorm/Mul_1`, [D]),
      gate: weightOf(`${p}/mlp/gate_proj/MatMul`, [D, I]),
      up: weightOf(`${p}/mlp/up_proj/MatMul`, [D, I]),
      down: weightOf(`${p}/mlp/down_proj/MatMul`, [I, D]),
    });
  }
  const finalNorm = weightOf("/model/norm/Mul_1", [D]);
  const lmHead = weightOf("/lm_head/MatMul", [D, V]);

  const half = hd / 2;
  const invFreq = Array.from({ length: half }, (_, j) => 1 / Math.pow(tc.rope_theta, (2 * j) / hd));
  // Frequency pair j is rotated by position row rowOf[j]: M-RoPE's mrope_section chunks t, h, w; 1-D RoPE has one row.
  const section = tc.rope_scaling?.mrope_section;
  const rows = section ? 3 : 1;
  const rowOf: number[] = section ? section.flatMap((length, row) => new Array<number>(length).fill(row)) : new Array<number>(half).fill(0);
  if (rowOf.length !== half) throw new Error(`mrope_section sums to ${rowOf.length}, head_dim / 2 is ${half}`);
  const applyRope = (vec: Float64Array, numHeads: number, positions: readonly number[], s: number, S: number): void => {
    for (let h = 0; h < numHeads; h++) {
      const base = h * hd;
      for (let j = 0; j < half; j++) {
        const angle = (positions[(rowOf[j] as number) * S + s] as number) * (invFreq[j] as number);
        const c = Math.cos(angle);
        const sn = Math.sin(angle);
        const a = vec[base + j] as number;
        const b = vec[base + j + half] as number;
        vec[base + j] = a * c - b * sn;
        vec[base + j + half] = b * c + a * sn;
      }
    }
  };

  /** Runs all layers; returns the per-layer last-position o_proj input/output and the final hidden state. */
  const run = (inputsEmbeds: Float32Array, seqLen: number, given?: readonly number[]): HeadVectorResult & { lastHidden: Float64Array } => {
    if (inputsEmbeds.length !== seqLen * D) throw new Error(`inputsEmbeds has ${inputsEmbeds.length} values, expected ${seqLen} x ${D}`);
    const positions = given ?? Array.from({ length: rows * seqLen }, (_, i) => i % seqLen);
    if (positions.length !== rows * seqLen) throw new Error(`positions must be [${rows === 1 ? "" : "3, "}${seqLen}]`);
    let xs: Float64Array[] = Array.from({ length: seqLen }, (_, s) => Float64Array.from(inputsEmbeds.subarray(s * D, (s + 1) * D)));
    const heads = new Float32Array(L * H * hd);
    const oProjOut = new Float32Array(L * D);
    const groups = H / KV;
    for (let li = 0; li < L; li++) {
      const w = layers[li] as LayerWeights;
      const normed = xs.map((x) => rmsNorm(x, w.inputNorm, tc.rms_norm_eps));
      const qs = normed.map((x, pos) => {
        const q = matVec(x, w.q, D, H * hd, w.bias?.q);
        applyRope(q, H, positions, pos, seqLen);
        return q;
      });
      const ks = normed.map((x, pos) => {
        const k = matVec(x, w.k, D, KV * hd, w.bias?.k);
        applyRope(k, KV, positions, pos, seqLen);
        return k;
      });
      const vs = normed.map((x) => matVec(x, w.v, D, KV * hd, w.bias?.v));
      const next: Float64Array[] = [];
      for (let s = 0; s < seqLen; s++) {
        const merged = new Float64Array(H * hd);
        for (let h = 0; h < H; h++) {
          const kvHead = Math.floor(h / groups);
          const q = qs[s] as Float64Array;
          const scores = new Float64Array(s + 1);
          let maxScore = -Infinity;
          for (let t = 0; t <= s; t++) {
            const k = ks[t] as Float64Array;
            let dot = 0;
            for (let d = 0; d < hd; d++) dot += (q[h * hd + d] as number) * (k[kvHead * hd + d] as number);
            scores[t] = dot / Math.sqrt(hd);
            if ((scores[t] as number) > maxScore) maxScore = scores[t] as number;
          }
          let total = 0;
          for (let t = 0; t <= s; t++) {
            scores[t] = Math.exp((scores[t] as number) - maxScore);
            total += scores[t] as number;
          }
          for (let t = 0; t <= s; t++) {
            const p = (scores[t] as number) / total;
            const v = vs[t] as Float64Array;
            for (let d = 0; d < hd; d++) merged[h * hd + d] += p * (v[kvHead * hd + d] as number);
          }
        }
        const attn = matVec(merged, w.o, H * hd, D);
        if (s === seqLen - 1) {
          heads.set(merged, li * H * hd);
          oProjOut.set(attn, li * D);
        }
        const x = (xs[s] as Float64Array).map((v, i) => v + (attn[i] as number));
        const n2 = rmsNorm(x, w.postNorm, tc.rms_norm_eps);
        const gate = matVec(n2, w.gate, D, I);
        const up = matVec(n2, w.up, D, I);
        const act = gate.map((g, i) => (g / (1 + Math.exp(-g))) * (up[i] as number));
        const down = matVec(act, w.down, I, D);
        next.push(x.map((v, i) => v + (down[i] as number)));
      }
      xs = next;
    }
    return { heads, oProjOut, lastHidden: xs[seqLen - 1] as Float64Array };
  };

  return {
    layers: L,
    heads: H,
    headDim: hd,
    hidden: D,
    vocab: V,
    headVectors(inputsEmbeds, seqLen, positions) {
      const { heads, oProjOut } = run(inputsEmbeds, seqLen, positions);
      return { heads, oProjOut };
    },
    lastLogits(inputsEmbeds, seqLen) {
      const { lastHidden } = run(inputsEmbeds, seqLen);
      return Float32Array.from(matVec(rmsNorm(lastHidden, finalNorm, tc.rms_norm_eps), lmHead, D, V));
    },
  };
}

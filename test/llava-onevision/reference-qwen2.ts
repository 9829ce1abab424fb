/**
 * A float64 TypeScript forward pass of a Qwen2 decoder written from the PyTorch Qwen2 definition (not from the
 * ONNX graph): RMSNorm, q/k/v with bias, 1-D RoPE (rotate_half), grouped-query causal attention, o_proj
 * without bias, SwiGLU. Weights are read from the generated fp32 graph by their checkpoint names
 * (`model.layers.{i}.self_attn.q_proj.weight` [in, out], …); sizes from config.json text_config.
 * Returns the o_proj inputs at the last position, [layers, heads × headDim].
 */
import { readFile } from "node:fs/promises";
import path from "node:path";
import onnxProto from "onnx-proto";

const { onnx } = onnxProto;

interface TextConfig {
  hidden_size: number;
  num_hidden_layers: number;
  num_attention_heads: number;
  num_key_value_heads: number;
  intermediate_size: number;
  rms_norm_eps: number;
  rope_theta: number;
}

export interface Qwen2Reference {
  layers: number;
  heads: number;
  headDim: number;
  hidden: number;
  /** o_proj inputs at the last position for inputs_embeds [S, hidden], positions 0..S-1. */
  headVectors(embeds: Float32Array, seqLen: number): Float64Array;
}

export async function loadQwen2Reference(dir: string): Promise<Qwen2Reference> {
  const config = JSON.parse(await readFile(path.join(dir, "config.json"), "utf8")) as { text_config: TextConfig };
  const t = config.text_config;
  const model = onnx.ModelProto.decode(await readFile(path.join(dir, "onnx", "decoder_model_merged.onnx")));
  const weights = new Map<string, Float64Array>();
  for (const init of model.graph?.initializer ?? []) {
    if (init.dataType !== onnx.TensorProto.DataType.FLOAT || !init.name?.startsWith("model.")) continue;
    const raw = init.rawData!;
    const copy = new Uint8Array(raw.length);
    copy.set(raw);
    weights.set(init.name, Float64Array.from(new Float32Array(copy.buffer)));
  }
  const w = (name: string): Float64Array => {
    const value = weights.get(name);
    if (!value) throw new Error(`reference: no initializer ${name}`);
    return value;
  };
  const D = t.hidden_size;
  const H = t.num_attention_heads;
  const KV = t.num_key_value_heads;
  const hd = D / H;
  const I = t.intermediate_size;

  /** x [S, inF] · W [inF, outF] (+ b). */
  const linear = (x: Float64Array, S: number, inF: number, outF: number, W: Float64Array, b?: Float64Array): Float64Array => {
    const out = new Float64Array(S * outF);
    for (let s = 0; s < S; s++) {
      for (let o = 0; o < outF; o++) {
        let sum = b ? b[o]! : 0;
        for (let i = 0; i < inF; i++) sum += x[s * inF + i]! * W[i * outF + o]!;
        out[s * outF + o] = sum;
      }
    }
    return out;
  };
  const rmsNorm = (x: Float64Array, S: number, weight: Float64Array): Float64Array => {
    const out = new Float64Array(x.length);
    for (let s = 0; s < S; s++) {
      let mean = 0;
      for (let i = 0; i < D; i++) mean += x[s * D + i]! ** 2;
      const inv = 1 / Math.sqrt(mean / D + t.rms_norm_eps);
      for (let i = 0; i < D; i++) out[s * D + i] = weight[i]! * x[s * D + i]! * inv;
    }
    return out;
  };
  /** In-place RoPE on [S, heads, hd] at positions 0..S-1. */
  const rope = (x: Float64Array, S: number, heads: number): void => {
    const half = hd / 2;
    for (let s = 0; s < S; s++) {
      for (let h = 0; h < heads; h++) {
        const base = (s * heads + h) * hd;
        for (let i = 0; i < half; i++) {
          const angle = s / Math.pow(t.rope_theta, (2 * i) / hd);
          const [c, sn] = [Math.cos(angle), Math.sin(angle)];
          const a = x[base + i]!;
          const b = x[base + i + half]!;
          x[base + i] = a * c - b * sn;
          x[base + i + half] = b * c + a * sn;
        }
      }
    }
  };

  return {
    layers: t.num_hidden_layers,
    heads: H,
    headDim: hd,
    hidden: D,
    headVectors(embeds: Float32Array, S: number): Float64Array {
      let hidden = Float64Array.from(embeds);
      const result = new Float64Array(t.num_hidden_layers * H * hd);
      for (let layer = 0; layer < t.num_hidden_layers; layer++) {
        const p = `model.layers.${layer}`;
        const normed = rmsNorm(hidden, S, w(`${p}.input_layernorm.weight`));
        const q = linear(normed, S, D, H * hd, w(`${p}.self_attn.q_proj.weight`), w(`${p}.self_attn.q_proj.bias`));
        const k = linear(normed, S, D, KV * hd, w(`${p}.self_attn.k_proj.weight`), w(`${p}.self_attn.k_proj.bias`));
        const v = linear(normed, S, D, KV * hd, w(`${p}.self_attn.v_proj.weight`), w(`${p}.self_attn.v_proj.bias`));
        rope(q, S, H);
        rope(k, S, KV);
        const context = new Float64Array(S * H * hd);
        for (let h = 0; h < H; h++) {
          const g = Math.floor(h / (H / KV));
          for (let s = 0; s < S; s++) {
            const scores = new Float64Array(s + 1);
            let max = -Infinity;
            for (let j = 0; j <= s; j++) {
              let dot = 0;
              for (let i = 0; i < hd; i++) dot += q[(s * H + h) * hd + i]! * k[(j * KV + g) * hd + i]!;
              scores[j] = dot / Math.sqrt(hd);
              max = Math.max(max, scores[j]!);
            }
            let total = 0;
            for (let j = 0; j <= s; j++) total += (scores[j] = Math.exp(scores[j]! - max));
            for (let i = 0; i < hd; i++) {
              let sum = 0;
              for (let j = 0; j <= s; j++) sum += (scores[j]! / total) * v[(j * KV + g) * hd + i]!;
              context[(s * H + h) * hd + i] = sum;
            }
          }
        }
        result.set(context.subarray((S - 1) * H * hd, S * H * hd), layer * H * hd);
        const attn = linear(context, S, H * hd, D, w(`${p}.self_attn.o_proj.weight`));
        const afterAttn = hidden.map((x, i) => x + attn[i]!);
        const normed2 = rmsNorm(afterAttn, S, w(`${p}.post_attention_layernorm.weight`));
        const gate = linear(normed2, S, D, I, w(`${p}.mlp.gate_proj.weight`));
        const up = linear(normed2, S, D, I, w(`${p}.mlp.up_proj.weight`));
        const act = gate.map((x, i) => (x / (1 + Math.exp(-x))) * up[i]!);
        const down = linear(act, S, I, D, w(`${p}.mlp.down_proj.weight`));
        hidden = afterAttn.map((x, i) => x + down[i]!);
      }
      return result;
    },
  };
}

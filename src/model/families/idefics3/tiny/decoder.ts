/**
 * `decoder_model_merged.onnx`: a Llama decoder (the SmolVLM text model) in plain ONNX ops, laid out
 * the way torch.onnx.export writes LlamaForCausalLM with a KV cache: RMSNorm, rotary embeddings from
 * position_ids, grouped-query attention over the past-KV concat with a causal + padding mask,
 * o_proj, SwiGLU MLP, final norm and lm_head.
 */
import { attr, DataType, GraphBuilder, type GraphModel } from "../../../onnx-build/graph-builder.js";
import type { ModelSizes } from "./presets.js";
import { linearStd, MASK_MIN, NORM_WEIGHT_STD, ropeInverseFrequencies } from "../../../onnx-build/init.js";
import { applyRotary, rmsNorm } from "../../../onnx-build/layers.js";
import { uniformTensor } from "../../../onnx-build/rng.js";

export function buildDecoder(sizes: ModelSizes, seed: number): GraphModel {
  const t = sizes.text;
  const D = t.hiddenSize;
  const H = t.numHeads;
  const KV = t.numKeyValueHeads;
  const hd = t.headDim;
  const b = new GraphBuilder("main_graph", [{ domain: "", version: 17 }]);
  const F = DataType.FLOAT;

  const weight = (name: string, dims: number[], std: number, mean = 0): string =>
    b.initializer(name, F, dims, uniformTensor(seed, `decoder/${name}`, dims.reduce((x, y) => x * y, 1), std, mean));

  const inputsEmbeds = b.input("inputs_embeds", F, ["batch_size", "sequence_length", D]);
  const attentionMask = b.input("attention_mask", DataType.INT64, ["batch_size", "total_sequence_length"]);
  const positionIds = b.input("position_ids", DataType.INT64, ["batch_size", "sequence_length"]);
  for (let i = 0; i < t.numLayers; i++) {
    b.input(`past_key_values.${i}.key`, F, ["batch_size", KV, "past_sequence_length", hd]);
    b.input(`past_key_values.${i}.value`, F, ["batch_size", KV, "past_sequence_length", hd]);
  }
  b.output("logits", F, ["batch_size", "sequence_length", t.vocabSize]);
  for (let i = 0; i < t.numLayers; i++) {
    b.output(`present.${i}.key`, F, ["batch_size", KV, "total_sequence_length", hd]);
    b.output(`present.${i}.value`, F, ["batch_size", KV, "total_sequence_length", hd]);
  }

  // Additive attention bias [B, 1, S, T]: query i (absolute position P + i) sees keys j <= P + i
  // that the attention_mask keeps.
  const scalar0 = b.int64([0], true);
  const scalar1 = b.int64([1], true);
  const seqLen = b.op("/model", "Gather", [b.op("/model", "Shape", [inputsEmbeds]), scalar1], { attrs: { axis: attr.int(0) } });
  const totalLen = b.op("/model", "Gather", [b.op("/model", "Shape", [attentionMask]), scalar1], { attrs: { axis: attr.int(0) } });
  const pastLen = b.op("/model", "Sub", [totalLen, seqLen]);
  const queryPositions = b.op("/model", "Range", [pastLen, totalLen, scalar1]);
  const keyPositions = b.op("/model", "Range", [scalar0, totalLen, scalar1]);
  const causal = b.op("/model", "LessOrEqual", [
    b.op("/model", "Unsqueeze", [keyPositions, b.int64([0])]),
    b.op("/model", "Unsqueeze", [queryPositions, b.int64([1])]),
  ]);
  const causal4 = b.op("/model", "Unsqueeze", [causal, b.int64([0, 1])]);
  const keep = b.op("/model", "Cast", [attentionMask], { attrs: { to: attr.int(DataType.BOOL) } });
  const keep4 = b.op("/model", "Unsqueeze", [keep, b.int64([1, 2])]);
  const allowed = b.op("/model", "And", [causal4, keep4]);
  const attentionBias = b.op("/model", "Where", [allowed, b.float([0]), b.float([MASK_MIN])]);

  // Rotary embeddings: cos/sin of position * inv_freq, duplicated over both halves of head_dim.
  const rs = "/model/rotary_emb";
  const invFreq = b.initializer("model.rotary_emb.inv_freq", F, [hd / 2], ropeInverseFrequencies(hd, t.ropeTheta));
  const positions = b.op(rs, "Unsqueeze", [b.op(rs, "Cast", [positionIds], { attrs: { to: attr.int(DataType.FLOAT) } }), b.int64([2])]);
  const freqs = b.op(rs, "Mul", [positions, invFreq]);
  const angles = b.op(rs, "Concat", [freqs, freqs], { attrs: { axis: attr.int(-1) } });
  const cos = b.op(rs, "Unsqueeze", [b.op(rs, "Cos", [angles]), b.int64([1])]);
  const sin = b.op(rs, "Unsqueeze", [b.op(rs, "Sin", [angles]), b.int64([1])]);

  const norm = (scope: string, x: string, weightName: string): string => rmsNorm(b, scope, x, weight(weightName, [D], NORM_WEIGHT_STD, 1), t.rmsNormEps);

  const linear = (scope: string, x: string, weightName: string, inFeatures: number, outFeatures: number, outputs?: string[]): string =>
    b.op(scope, "MatMul", [x, weight(weightName, [inFeatures, outFeatures], linearStd(inFeatures))], outputs ? { outputs } : {});

  const rotate = (scope: string, x: string): string => applyRotary(b, scope, x, cos, sin, hd);

  const repeatIndices = Array.from({ length: H }, (_, h) => Math.floor(h / (H / KV)));
  let hidden = inputsEmbeds;
  for (let i = 0; i < t.numLayers; i++) {
    const ls = `/model/layers.${i}`;
    const sa = `${ls}/self_attn`;
    const wp = `model.layers.${i}`;
    const normed = norm(`${ls}/input_layernorm`, hidden, `${wp}.input_layernorm.weight`);
    const q = linear(`${sa}/q_proj`, normed, `${wp}.self_attn.q_proj.weight`, D, H * hd);
    const k = linear(`${sa}/k_proj`, normed, `${wp}.self_attn.k_proj.weight`, D, KV * hd);
    const v = linear(`${sa}/v_proj`, normed, `${wp}.self_attn.v_proj.weight`, D, KV * hd);
    const perm0213 = { attrs: { perm: attr.ints([0, 2, 1, 3]) } };
    const qh = b.op(sa, "Transpose", [b.op(sa, "Reshape", [q, b.int64([0, 0, H, hd])])], perm0213);
    const kh = b.op(sa, "Transpose", [b.op(sa, "Reshape", [k, b.int64([0, 0, KV, hd])])], perm0213);
    const vh = b.op(sa, "Transpose", [b.op(sa, "Reshape", [v, b.int64([0, 0, KV, hd])])], perm0213);
    const qRot = rotate(sa, qh);
    const kRot = rotate(sa, kh);
    const keys = b.op(sa, "Concat", [`past_key_values.${i}.key`, kRot], { attrs: { axis: attr.int(2) }, outputs: [`present.${i}.key`] });
    const values = b.op(sa, "Concat", [`past_key_values.${i}.value`, vh], { attrs: { axis: attr.int(2) }, outputs: [`present.${i}.value`] });
    // Grouped-query attention: query head h reads KV head floor(h / (H / KV)) (repeat_kv).
    const keysRep = H === KV ? keys : b.op(sa, "Gather", [keys, b.int64(repeatIndices)], { attrs: { axis: attr.int(1) } });
    const valuesRep = H === KV ? values : b.op(sa, "Gather", [values, b.int64(repeatIndices)], { attrs: { axis: attr.int(1) } });
    const scores = b.op(sa, "MatMul", [qRot, b.op(sa, "Transpose", [keysRep], { attrs: { perm: attr.ints([0, 1, 3, 2]) } })]);
    const scaled = b.op(sa, "Div", [scores, b.float([Math.sqrt(hd)])]);
    const probs = b.op(sa, "Softmax", [b.op(sa, "Add", [scaled, attentionBias])], { attrs: { axis: attr.int(-1) } });
    const context = b.op(sa, "MatMul", [probs, valuesRep]);
    const merged = b.op(sa, "Reshape", [b.op(sa, "Transpose", [context], perm0213), b.int64([0, 0, H * hd])]);
    b.annotate(merged, F, ["batch_size", "sequence_length", H * hd]);
    const attnOut = linear(`${sa}/o_proj`, merged, `${wp}.self_attn.o_proj.weight`, H * hd, D);
    b.annotate(attnOut, F, ["batch_size", "sequence_length", D]);
    const afterAttn = b.op(ls, "Add", [hidden, attnOut]);

    const normed2 = norm(`${ls}/post_attention_layernorm`, afterAttn, `${wp}.post_attention_layernorm.weight`);
    const ms = `${ls}/mlp`;
    const gate = linear(`${ms}/gate_proj`, normed2, `${wp}.mlp.gate_proj.weight`, D, t.intermediateSize);
    const silu = b.op(`${ms}/act_fn`, "Mul", [gate, b.op(`${ms}/act_fn`, "Sigmoid", [gate])]);
    const up = linear(`${ms}/up_proj`, normed2, `${wp}.mlp.up_proj.weight`, D, t.intermediateSize);
    const down = linear(`${ms}/down_proj`, b.op(ms, "Mul", [silu, up]), `${wp}.mlp.down_proj.weight`, t.intermediateSize, D);
    hidden = b.op(ls, "Add", [afterAttn, down]);
  }
  const finalNorm = norm("/model/norm", hidden, "model.norm.weight");
  linear("/lm_head", finalNorm, "lm_head.weight", D, t.vocabSize, ["logits"]);
  return b.model;
}

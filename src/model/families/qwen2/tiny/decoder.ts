/**
 * `embed_tokens.onnx` and `decoder_model_merged.onnx` of a Qwen2 text model in plain ONNX ops, laid out
 * as torch.onnx.export writes Qwen2ForCausalLM (or the patched Qwen2VLForConditionalGeneration) with a KV
 * cache: inputs_embeds, attention_mask, position_ids, past_key_values.{i}.key/value → logits, present.*.
 * Each layer: RMSNorm, q/k/v projections with bias, rotary embeddings, grouped-query attention over past +
 * new keys with a causal and padding mask, o_proj without bias, SwiGLU MLP; final norm; lm_head tied to the
 * embedding table. Rotary embeddings are 1-D ([B, S] position ids) unless the sizes give an M-RoPE section
 * ([3, B, S]; cos/sin per row t, h, w, the head dimension split by mrope_section and chunk i taken from row i % 3).
 */
import { BIAS_STD, EMBEDDING_STD, linearStd, MASK_MIN, NORM_WEIGHT_STD, ropeInverseFrequencies } from "../../../onnx-build/init.js";
import { attr, DataType, GraphBuilder, type GraphModel } from "../../../onnx-build/graph-builder.js";
import { applyRotary, rmsNorm } from "../../../onnx-build/layers.js";
import { uniformTensor } from "../../../onnx-build/rng.js";
import { qwen2HeadDim, type Qwen2ExportLayout, type Qwen2TextSizes } from "./sizes.js";

export type { Qwen2ExportLayout } from "./sizes.js";

const EMBED_TABLE = "model.embed_tokens.weight";

/** The token embedding table, shared by embed_tokens and the tied lm_head. */
function embeddingTable(text: Qwen2TextSizes, seed: number, layout: Qwen2ExportLayout): Float32Array {
  return uniformTensor(seed, `${layout.seedScope}/${EMBED_TABLE}`, text.vocabSize * text.hiddenSize, EMBEDDING_STD);
}

export function buildQwen2EmbedTokens(text: Qwen2TextSizes, seed: number, layout: Qwen2ExportLayout): GraphModel {
  const b = new GraphBuilder("main_graph", [{ domain: "", version: layout.embedOpset }]);
  const inputIds = b.input("input_ids", DataType.INT64, ["batch_size", "sequence_length"]);
  b.output("inputs_embeds", DataType.FLOAT, ["batch_size", "sequence_length", text.hiddenSize]);
  const table = b.initializer(EMBED_TABLE, DataType.FLOAT, [text.vocabSize, text.hiddenSize], embeddingTable(text, seed, layout));
  b.op(layout.embedScope, "Gather", [table, inputIds], { outputs: ["inputs_embeds"], attrs: { axis: attr.int(0) } });
  return b.model;
}

/** [hidden, vocab] view of the embedding table for lm_head's MatMul. */
function transposed(table: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(table.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = table[r * cols + c];
  return out;
}

export function buildQwen2Decoder(text: Qwen2TextSizes, seed: number, layout: Qwen2ExportLayout): GraphModel {
  const D = text.hiddenSize;
  const H = text.numHeads;
  const KV = text.numKeyValueHeads;
  const hd = qwen2HeadDim(text);
  const F = DataType.FLOAT;
  const b = new GraphBuilder("main_graph", [{ domain: "", version: layout.decoderOpset }]);
  const weight = (name: string, dims: number[], std: number, mean = 0): string =>
    b.initializer(name, F, dims, uniformTensor(seed, `${layout.seedScope}/decoder/${name}`, dims.reduce((x, y) => x * y, 1), std, mean));

  const inputsEmbeds = b.input("inputs_embeds", F, ["batch_size", "sequence_length", D]);
  const attentionMask = b.input("attention_mask", DataType.INT64, ["batch_size", "total_sequence_length"]);
  const mrope = text.mropeSection;
  const positionIds = b.input("position_ids", DataType.INT64, mrope ? [3, "batch_size", "sequence_length"] : ["batch_size", "sequence_length"]);
  for (let i = 0; i < text.numLayers; i++) {
    b.input(`past_key_values.${i}.key`, F, ["batch_size", KV, "past_sequence_length", hd]);
    b.input(`past_key_values.${i}.value`, F, ["batch_size", KV, "past_sequence_length", hd]);
  }
  b.output("logits", F, ["batch_size", "sequence_length", text.vocabSize]);
  for (let i = 0; i < text.numLayers; i++) {
    b.output(`present.${i}.key`, F, ["batch_size", KV, "total_sequence_length", hd]);
    b.output(`present.${i}.value`, F, ["batch_size", KV, "total_sequence_length", hd]);
  }

  // Additive attention bias [B, 1, S, T]: query i (absolute position P + i) sees the kept keys j <= P + i.
  const m = "/model";
  const scalar0 = b.int64([0], true);
  const scalar1 = b.int64([1], true);
  const seqLen = b.op(m, "Gather", [b.op(m, "Shape", [inputsEmbeds]), scalar1], { attrs: { axis: attr.int(0) } });
  const totalLen = b.op(m, "Gather", [b.op(m, "Shape", [attentionMask]), scalar1], { attrs: { axis: attr.int(0) } });
  const queryPositions = b.op(m, "Range", [b.op(m, "Sub", [totalLen, seqLen]), totalLen, scalar1]);
  const keyPositions = b.op(m, "Range", [scalar0, totalLen, scalar1]);
  const causal = b.op(m, "LessOrEqual", [b.op(m, "Unsqueeze", [keyPositions, b.int64([0])]), b.op(m, "Unsqueeze", [queryPositions, b.int64([1])])]);
  const keep = b.op(m, "Unsqueeze", [b.op(m, "Cast", [attentionMask], { attrs: { to: attr.int(DataType.BOOL) } }), b.int64([1, 2])]);
  const allowed = b.op(m, "And", [b.op(m, "Unsqueeze", [causal, b.int64([0, 1])]), keep]);
  const attentionBias = b.op(m, "Where", [allowed, b.float([0]), b.float([MASK_MIN])]);

  // Rotary angles [..., S, hd] = position · inv_freq, duplicated over both halves of head_dim.
  const rs = "/model/rotary_emb";
  const invFreq = b.initializer("model.rotary_emb.inv_freq", F, [hd / 2], ropeInverseFrequencies(hd, text.ropeTheta));
  const rank = mrope ? 3 : 2;
  const positions = b.op(rs, "Unsqueeze", [b.op(rs, "Cast", [positionIds], { attrs: { to: attr.int(F) } }), b.int64([rank])]);
  const freqs = b.op(rs, "Mul", [positions, invFreq]);
  const angles = b.op(rs, "Concat", [freqs, freqs], { attrs: { axis: attr.int(-1) } });
  // M-RoPE: the head dimension is cut by mrope_section (twice, one per half) and chunk i reads row i % 3.
  const select = (table: string): string => {
    if (!mrope) return table;
    const chunks: string[] = [];
    let offset = 0;
    [...mrope, ...mrope].forEach((length, i) => {
      const row = b.op(rs, "Gather", [table, b.int64([i % 3], true)], { attrs: { axis: attr.int(0) } });
      chunks.push(b.op(rs, "Slice", [row, b.int64([offset]), b.int64([offset + length]), b.int64([-1])]));
      offset += length;
    });
    return b.op(rs, "Concat", chunks, { attrs: { axis: attr.int(-1) } });
  };
  const cos = b.op(rs, "Unsqueeze", [select(b.op(rs, "Cos", [angles])), b.int64([1])]);
  const sin = b.op(rs, "Unsqueeze", [select(b.op(rs, "Sin", [angles])), b.int64([1])]);

  const norm = (scope: string, x: string, weightName: string): string => rmsNorm(b, scope, x, weight(weightName, [D], NORM_WEIGHT_STD, 1), text.rmsNormEps);
  const linear = (scope: string, x: string, prefix: string, inF: number, outF: number, bias: boolean): string => {
    const product = b.op(scope, "MatMul", [x, weight(`${prefix}.weight`, [inF, outF], linearStd(inF))]);
    return bias ? b.op(scope, "Add", [weight(`${prefix}.bias`, [outF], BIAS_STD), product]) : product;
  };
  const rotate = (scope: string, x: string): string => applyRotary(b, scope, x, cos, sin, hd);

  const repeatIndices = Array.from({ length: H }, (_, h) => Math.floor(h / (H / KV)));
  const perm0213 = { attrs: { perm: attr.ints([0, 2, 1, 3]) } };
  let hidden = inputsEmbeds;
  for (let i = 0; i < text.numLayers; i++) {
    const ls = `/model/layers.${i}`;
    const sa = `${ls}/self_attn`;
    const wp = `model.layers.${i}`;
    const normed = norm(`${ls}/input_layernorm`, hidden, `${wp}.input_layernorm.weight`);
    const q = linear(`${sa}/q_proj`, normed, `${wp}.self_attn.q_proj`, D, H * hd, true);
    const k = linear(`${sa}/k_proj`, normed, `${wp}.self_attn.k_proj`, D, KV * hd, true);
    const v = linear(`${sa}/v_proj`, normed, `${wp}.self_attn.v_proj`, D, KV * hd, true);
    const qh = b.op(sa, "Transpose", [b.op(sa, "Reshape", [q, b.int64([0, 0, H, hd])])], perm0213);
    const kh = b.op(sa, "Transpose", [b.op(sa, "Reshape", [k, b.int64([0, 0, KV, hd])])], perm0213);
    const vh = b.op(sa, "Transpose", [b.op(sa, "Reshape", [v, b.int64([0, 0, KV, hd])])], perm0213);
    const keys = b.op(sa, "Concat", [`past_key_values.${i}.key`, rotate(sa, kh)], { attrs: { axis: attr.int(2) }, outputs: [`present.${i}.key`] });
    const values = b.op(sa, "Concat", [`past_key_values.${i}.value`, vh], { attrs: { axis: attr.int(2) }, outputs: [`present.${i}.value`] });
    // repeat_kv: query head h reads KV head floor(h / (H / KV)).
    const keysRep = H === KV ? keys : b.op(sa, "Gather", [keys, b.int64(repeatIndices)], { attrs: { axis: attr.int(1) } });
    const valuesRep = H === KV ? values : b.op(sa, "Gather", [values, b.int64(repeatIndices)], { attrs: { axis: attr.int(1) } });
    const scores = b.op(sa, "MatMul", [rotate(sa, qh), b.op(sa, "Transpose", [keysRep], { attrs: { perm: attr.ints([0, 1, 3, 2]) } })]);
    const probs = b.op(sa, "Softmax", [b.op(sa, "Add", [b.op(sa, "Div", [scores, b.float([Math.sqrt(hd)])]), attentionBias])], { attrs: { axis: attr.int(-1) } });
    const merged = b.op(sa, "Reshape", [b.op(sa, "Transpose", [b.op(sa, "MatMul", [probs, valuesRep])], perm0213), b.int64([0, 0, H * hd])]);
    b.annotate(merged, F, ["batch_size", "sequence_length", H * hd]);
    const attnOut = linear(`${sa}/o_proj`, merged, `${wp}.self_attn.o_proj`, H * hd, D, false);
    b.annotate(attnOut, F, ["batch_size", "sequence_length", D]);
    const afterAttn = b.op(ls, "Add", [hidden, attnOut]);
    const normed2 = norm(`${ls}/post_attention_layernorm`, afterAttn, `${wp}.post_attention_layernorm.weight`);
    const ms = `${ls}/mlp`;
    const gate = linear(`${ms}/gate_proj`, normed2, `${wp}.mlp.gate_proj`, D, text.intermediateSize, false);
    const silu = b.op(`${ms}/act_fn`, "Mul", [gate, b.op(`${ms}/act_fn`, "Sigmoid", [gate])]);
    const up = linear(`${ms}/up_proj`, normed2, `${wp}.mlp.up_proj`, D, text.intermediateSize, false);
    hidden = b.op(ls, "Add", [afterAttn, linear(`${ms}/down_proj`, b.op(ms, "Mul", [silu, up]), `${wp}.mlp.down_proj`, text.intermediateSize, D, false)]);
  }
  const finalNorm = norm("/model/norm", hidden, "model.norm.weight");
  const lmHead = b.initializer("lm_head.weight", F, [D, text.vocabSize], transposed(embeddingTable(text, seed, layout), text.vocabSize, D));
  b.op("/lm_head", "MatMul", [finalNorm, lmHead], { outputs: ["logits"] });
  return b.model;
}

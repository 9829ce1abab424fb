/**
 * `vision_encoder.onnx` of LLaVA-OneVision in plain ONNX ops: pixel_values [B, 3, 384, 384] →
 * image_features [B, 729, text hidden], as get_image_features computes one crop's rows with
 * vision_feature_layer −1 and the "full" strategy: SigLIP patch embedding (Conv, stride = patch) and
 * position embeddings, encoder layers (LayerNorm, multi-head attention, tanh-GELU MLP), no post
 * LayerNorm (hidden_states[−1] precedes it), then the projector Linear → GELU → Linear.
 * `newlineRow` appends one fixed row per crop (730 rows), the layout an export that wrapped the
 * single-crop packing would have; the runner must discover and handle both.
 */
import { BIAS_STD, linearStd, NORM_WEIGHT_STD } from "../../../onnx-build/init.js";
import { attr, DataType, GraphBuilder, type GraphModel } from "../../../onnx-build/graph-builder.js";
import { uniformTensor } from "../../../onnx-build/rng.js";
import { PUBLISHED, type LlavaOnevisionSizes } from "./presets.js";

/** Smaller than the patch embeddings so the pixels dominate. */
const POSITION_EMBEDDING_STD = 0.1;

function geluTanh(b: GraphBuilder, scope: string, x: string): string {
  const cubic = b.op(scope, "Mul", [b.op(scope, "Pow", [x, b.float([3])]), b.float([0.044715])]);
  const inner = b.op(scope, "Mul", [b.op(scope, "Add", [x, cubic]), b.float([Math.sqrt(2 / Math.PI)])]);
  return b.op(scope, "Mul", [b.op(scope, "Mul", [x, b.float([0.5])]), b.op(scope, "Add", [b.op(scope, "Tanh", [inner]), b.float([1])])]);
}

/** Exact GELU (the projector's `gelu`): 0.5 x (1 + erf(x / √2)). */
function geluErf(b: GraphBuilder, scope: string, x: string): string {
  const erf = b.op(scope, "Erf", [b.op(scope, "Div", [x, b.float([Math.SQRT2])])]);
  return b.op(scope, "Mul", [b.op(scope, "Mul", [x, b.float([0.5])]), b.op(scope, "Add", [erf, b.float([1])])]);
}

export function buildLlavaVisionEncoder(sizes: LlavaOnevisionSizes, seed: number, newlineRow?: Float32Array): GraphModel {
  const v = sizes.vision;
  const E = v.hiddenSize;
  const D = sizes.text.hiddenSize;
  const heads = v.numHeads;
  const hd = E / heads;
  const p = PUBLISHED.patchSize;
  const side = Math.floor(PUBLISHED.imageSize / p);
  const patches = side * side;
  const F = DataType.FLOAT;
  const b = new GraphBuilder("main_graph", [{ domain: "", version: 17 }]);
  const tensor = (name: string, dims: number[], std: number, mean = 0): string =>
    b.initializer(name, F, dims, uniformTensor(seed, `llava_ov/vision/${name}`, dims.reduce((x, y) => x * y, 1), std, mean));

  const pixelValues = b.input("pixel_values", F, ["batch_size", PUBLISHED.numChannels, PUBLISHED.imageSize, PUBLISHED.imageSize]);
  b.output("image_features", F, ["batch_size", newlineRow ? patches + 1 : patches, D]);

  const vt = "/vision_tower/vision_model";
  const es = `${vt}/embeddings`;
  const conv = b.op(`${es}/patch_embedding`, "Conv", [
    pixelValues,
    tensor("vision_tower.vision_model.embeddings.patch_embedding.weight", [E, PUBLISHED.numChannels, p, p], linearStd(PUBLISHED.numChannels * p * p)),
    tensor("vision_tower.vision_model.embeddings.patch_embedding.bias", [E], BIAS_STD),
  ], { attrs: { kernel_shape: attr.ints([p, p]), strides: attr.ints([p, p]), pads: attr.ints([0, 0, 0, 0]) } });
  const tokens = b.op(es, "Transpose", [b.op(es, "Reshape", [conv, b.int64([0, 0, -1])])], { attrs: { perm: attr.ints([0, 2, 1]) } });
  let hidden = b.op(es, "Add", [tokens, tensor("vision_tower.vision_model.embeddings.position_embedding.weight", [patches, E], POSITION_EMBEDDING_STD)]);

  const layerNorm = (scope: string, x: string, prefix: string): string =>
    b.op(scope, "LayerNormalization", [x, tensor(`${prefix}.weight`, [E], NORM_WEIGHT_STD, 1), tensor(`${prefix}.bias`, [E], BIAS_STD)], {
      attrs: { axis: attr.int(-1), epsilon: attr.float(PUBLISHED.visionLayerNormEps) },
    });
  const linear = (scope: string, x: string, prefix: string, inF: number, outF: number): string =>
    b.op(scope, "Add", [tensor(`${prefix}.bias`, [outF], BIAS_STD), b.op(scope, "MatMul", [x, tensor(`${prefix}.weight`, [inF, outF], linearStd(inF))])]);
  const perm0213 = { attrs: { perm: attr.ints([0, 2, 1, 3]) } };
  for (let i = 0; i < v.numLayers; i++) {
    const ls = `${vt}/encoder/layers.${i}`;
    const wp = `vision_tower.vision_model.encoder.layers.${i}`;
    const sa = `${ls}/self_attn`;
    const normed = layerNorm(`${ls}/layer_norm1`, hidden, `${wp}.layer_norm1`);
    const headShape = b.int64([0, 0, heads, hd]);
    const qh = b.op(sa, "Transpose", [b.op(sa, "Reshape", [linear(`${sa}/q_proj`, normed, `${wp}.self_attn.q_proj`, E, E), headShape])], perm0213);
    const kh = b.op(sa, "Transpose", [b.op(sa, "Reshape", [linear(`${sa}/k_proj`, normed, `${wp}.self_attn.k_proj`, E, E), headShape])], {
      attrs: { perm: attr.ints([0, 2, 3, 1]) },
    });
    const vh = b.op(sa, "Transpose", [b.op(sa, "Reshape", [linear(`${sa}/v_proj`, normed, `${wp}.self_attn.v_proj`, E, E), headShape])], perm0213);
    const probs = b.op(sa, "Softmax", [b.op(sa, "Mul", [b.op(sa, "MatMul", [qh, kh]), b.float([1 / Math.sqrt(hd)])])], { attrs: { axis: attr.int(-1) } });
    const context = b.op(sa, "Reshape", [b.op(sa, "Transpose", [b.op(sa, "MatMul", [probs, vh])], perm0213), b.int64([0, 0, E])]);
    const afterAttn = b.op(ls, "Add", [hidden, linear(`${sa}/out_proj`, context, `${wp}.self_attn.out_proj`, E, E)]);
    const normed2 = layerNorm(`${ls}/layer_norm2`, afterAttn, `${wp}.layer_norm2`);
    const act = geluTanh(b, `${ls}/mlp/activation_fn`, linear(`${ls}/mlp/fc1`, normed2, `${wp}.mlp.fc1`, E, v.intermediateSize));
    hidden = b.op(ls, "Add", [afterAttn, linear(`${ls}/mlp/fc2`, act, `${wp}.mlp.fc2`, v.intermediateSize, E)]);
  }

  const ps = "/multi_modal_projector";
  const projected = linear(`${ps}/linear_1`, hidden, "multi_modal_projector.linear_1", E, D);
  const features = linear(`${ps}/linear_2`, geluErf(b, `${ps}/act`, projected), "multi_modal_projector.linear_2", D, D);
  if (!newlineRow) {
    b.op(ps, "Identity", [features], { outputs: ["image_features"] });
    return b.model;
  }
  // One copy of the row per crop: Expand [1, 1, D] to [B, 1, D], then append it after the 729 rows.
  const row = b.initializer("image_newline", F, [1, 1, D], newlineRow);
  const batch = b.op(ps, "Gather", [b.op(ps, "Shape", [features]), b.int64([0])], { attrs: { axis: attr.int(0) } });
  const expanded = b.op(ps, "Expand", [row, b.op(ps, "Concat", [batch, b.int64([1, D])], { attrs: { axis: attr.int(0) } })]);
  b.op(ps, "Concat", [features, expanded], { outputs: ["image_features"], attrs: { axis: attr.int(1) } });
  return b.model;
}

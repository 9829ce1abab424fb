/**
 * `vision_encoder.onnx`: Idefics3 vision tower + connector in plain ONNX ops, as
 * Idefics3Model.get_image_features computes it: drop all-zero padding images, patch embedding
 * (Conv, stride = patch), position embeddings, SigLIP encoder layers (LayerNorm, multi-head
 * attention masked by the patch attention mask, tanh-GELU MLP), post LayerNorm, pixel shuffle by
 * scale_factor and the connector projection to the text hidden size.
 */
import { BIAS_STD, EMBEDDING_STD, linearStd, MASK_MIN, NORM_WEIGHT_STD } from "../../../onnx-build/init.js";
import { attr, DataType, GraphBuilder, type GraphModel } from "../../../onnx-build/graph-builder.js";
import { imageSeqLen, patchesPerSide, type ModelSizes } from "./presets.js";
import { uniformTensor } from "../../../onnx-build/rng.js";

/** Smaller than the patch embeddings (about 0.6 for pixels in [-1, 1]) so the pixels dominate. */
const POSITION_EMBEDDING_STD = 0.1;

export function buildVisionEncoder(sizes: ModelSizes, seed: number): GraphModel {
  const v = sizes.vision;
  const E = v.hiddenSize;
  const heads = v.numHeads;
  const hd = E / heads;
  const side = patchesPerSide(sizes);
  const numPatches = side * side;
  const s = sizes.scaleFactor;
  const img = v.imageSize;
  const p = v.patchSize;
  const F = DataType.FLOAT;
  const b = new GraphBuilder("main_graph", [{ domain: "", version: 17 }]);

  const tensor = (name: string, dims: number[], std: number, mean = 0): string =>
    b.initializer(name, F, dims, uniformTensor(seed, `vision/${name}`, dims.reduce((x, y) => x * y, 1), std, mean));

  const pixelValues = b.input("pixel_values", F, ["batch_size", "num_images", v.numChannels, "height", "width"]);
  const pixelMask = b.input("pixel_attention_mask", DataType.BOOL, ["batch_size", "num_images", "height", "width"]);
  b.output("image_features", F, ["num_images", imageSeqLen(sizes), sizes.text.hiddenSize]);

  // Flatten batch x images, then keep the real images: padding images are all zeros (at least one
  // image is always kept, as in the PyTorch model).
  const root = "/model";
  const images = b.op(root, "Reshape", [pixelValues, b.int64([-1, v.numChannels, img, img])]);
  const masks = b.op(root, "Reshape", [pixelMask, b.int64([-1, img, img])]);
  const nonZero = b.op(root, "Cast", [b.op(root, "Not", [b.op(root, "Equal", [images, b.float([0])])])], { attrs: { to: attr.int(F) } });
  const nonZeroCount = b.op(root, "ReduceSum", [nonZero, b.int64([1, 2, 3])], { attrs: { keepdims: attr.int(0) } });
  const isReal = b.op(root, "Greater", [nonZeroCount, b.float([0])]);
  const anyReal = b.op(root, "Greater", [
    b.op(root, "ReduceMax", [b.op(root, "Cast", [isReal], { attrs: { to: attr.int(F) } })], { attrs: { keepdims: attr.int(0) } }),
    b.float([0]),
  ]);
  const count = b.op(root, "Gather", [b.op(root, "Shape", [images]), b.int64([0], true)], { attrs: { axis: attr.int(0) } });
  const isFirst = b.op(root, "Equal", [b.op(root, "Range", [b.int64([0], true), count, b.int64([1], true)]), b.int64([0], true)]);
  const keep = b.op(root, "Or", [isReal, b.op(root, "And", [isFirst, b.op(root, "Not", [anyReal])])]);
  const realImages = b.op(root, "Compress", [images, keep], { attrs: { axis: attr.int(0) } });
  const realMasks = b.op(root, "Compress", [masks, keep], { attrs: { axis: attr.int(0) } });

  // Patch attention mask: a patch takes part when any of its pixels is unmasked.
  const vm = "/model/vision_model";
  const maskF = b.op(vm, "Cast", [realMasks], { attrs: { to: attr.int(F) } });
  const perPatch = b.op(vm, "ReduceSum", [b.op(vm, "Reshape", [maskF, b.int64([-1, side, p, side, p])]), b.int64([2, 4])], {
    attrs: { keepdims: attr.int(0) },
  });
  const patchKeep = b.op(vm, "Reshape", [b.op(vm, "Greater", [perPatch, b.float([0])]), b.int64([-1, numPatches])]);
  const attentionBias = b.op(vm, "Unsqueeze", [b.op(vm, "Where", [patchKeep, b.float([0]), b.float([MASK_MIN])]), b.int64([1, 2])]);

  // Embeddings.
  const es = `${vm}/embeddings`;
  const patchEmbeds = b.op(`${es}/patch_embedding`, "Conv", [
    realImages,
    tensor("model.vision_model.embeddings.patch_embedding.weight", [E, v.numChannels, p, p], linearStd(v.numChannels * p * p)),
    tensor("model.vision_model.embeddings.patch_embedding.bias", [E], BIAS_STD),
  ], { attrs: { kernel_shape: attr.ints([p, p]), strides: attr.ints([p, p]), pads: attr.ints([0, 0, 0, 0]), dilations: attr.ints([1, 1]), group: attr.int(1) } });
  const tokens = b.op(es, "Transpose", [b.op(es, "Reshape", [patchEmbeds, b.int64([0, 0, -1])])], { attrs: { perm: attr.ints([0, 2, 1]) } });
  const positionIds = b.initializer("model.vision_model.embeddings.position_ids", DataType.INT64, [1, numPatches], BigInt64Array.from({ length: numPatches }, (_, i) => BigInt(i)));
  const positionEmbeds = b.op(`${es}/position_embedding`, "Gather", [
    tensor("model.vision_model.embeddings.position_embedding.weight", [numPatches, E], POSITION_EMBEDDING_STD),
    positionIds,
  ], { attrs: { axis: attr.int(0) } });
  let hidden = b.op(es, "Add", [tokens, positionEmbeds]);

  const layerNorm = (scope: string, x: string, prefix: string): string =>
    b.op(scope, "LayerNormalization", [x, tensor(`${prefix}.weight`, [E], NORM_WEIGHT_STD, 1), tensor(`${prefix}.bias`, [E], BIAS_STD)], {
      attrs: { axis: attr.int(-1), epsilon: attr.float(v.layerNormEps) },
    });
  const linear = (scope: string, x: string, prefix: string, inF: number, outF: number): string =>
    b.op(scope, "Add", [tensor(`${prefix}.bias`, [outF], BIAS_STD), b.op(scope, "MatMul", [x, tensor(`${prefix}.weight`, [inF, outF], linearStd(inF))])]);

  const perm0213 = { attrs: { perm: attr.ints([0, 2, 1, 3]) } };
  for (let i = 0; i < v.numLayers; i++) {
    const ls = `${vm}/encoder/layers.${i}`;
    const wp = `model.vision_model.encoder.layers.${i}`;
    const sa = `${ls}/self_attn`;
    const normed = layerNorm(`${ls}/layer_norm1`, hidden, `${wp}.layer_norm1`);
    const q = linear(`${sa}/q_proj`, normed, `${wp}.self_attn.q_proj`, E, E);
    const k = linear(`${sa}/k_proj`, normed, `${wp}.self_attn.k_proj`, E, E);
    const val = linear(`${sa}/v_proj`, normed, `${wp}.self_attn.v_proj`, E, E);
    const headShape = b.int64([0, 0, heads, hd]);
    const qh = b.op(sa, "Transpose", [b.op(sa, "Reshape", [q, headShape])], perm0213);
    const kh = b.op(sa, "Transpose", [b.op(sa, "Reshape", [k, headShape])], { attrs: { perm: attr.ints([0, 2, 3, 1]) } });
    const vh = b.op(sa, "Transpose", [b.op(sa, "Reshape", [val, headShape])], perm0213);
    const scores = b.op(sa, "Mul", [b.op(sa, "MatMul", [qh, kh]), b.float([1 / Math.sqrt(hd)])]);
    const probs = b.op(sa, "Softmax", [b.op(sa, "Add", [scores, attentionBias])], { attrs: { axis: attr.int(-1) } });
    const context = b.op(sa, "Reshape", [b.op(sa, "Transpose", [b.op(sa, "MatMul", [probs, vh])], perm0213), b.int64([0, 0, E])]);
    const attnOut = linear(`${sa}/out_proj`, context, `${wp}.self_attn.out_proj`, E, E);
    const afterAttn = b.op(ls, "Add", [hidden, attnOut]);

    const normed2 = layerNorm(`${ls}/layer_norm2`, afterAttn, `${wp}.layer_norm2`);
    const fc1 = linear(`${ls}/mlp/fc1`, normed2, `${wp}.mlp.fc1`, E, v.intermediateSize);
    const act = geluTanh(b, `${ls}/mlp/activation_fn`, fc1);
    const fc2 = linear(`${ls}/mlp/fc2`, act, `${wp}.mlp.fc2`, v.intermediateSize, E);
    hidden = b.op(ls, "Add", [afterAttn, fc2]);
  }
  const encoded = layerNorm(`${vm}/post_layernorm`, hidden, "model.vision_model.post_layernorm");

  // Idefics3Connector.pixel_shuffle, reshape for reshape, then the modality projection.
  const cs = "/model/connector";
  let x = b.op(cs, "Reshape", [encoded, b.int64([-1, side, side, E])]);
  x = b.op(cs, "Reshape", [x, b.int64([-1, side, side / s, E * s])]);
  x = b.op(cs, "Transpose", [x], perm0213);
  x = b.op(cs, "Reshape", [x, b.int64([-1, side / s, side / s, E * s * s])]);
  x = b.op(cs, "Transpose", [x], perm0213);
  x = b.op(cs, "Reshape", [x, b.int64([-1, numPatches / (s * s), E * s * s])]);
  b.op(`${cs}/modality_projection/proj`, "MatMul", [x, tensor("model.connector.modality_projection.proj.weight", [E * s * s, sizes.text.hiddenSize], linearStd(E * s * s))], {
    outputs: ["image_features"],
  });
  return b.model;
}

/** gelu(x, approximate="tanh") = 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))). */
function geluTanh(b: GraphBuilder, scope: string, x: string): string {
  const cubic = b.op(scope, "Mul", [b.op(scope, "Pow", [x, b.float([3])]), b.float([0.044715])]);
  const inner = b.op(scope, "Mul", [b.op(scope, "Add", [x, cubic]), b.float([Math.sqrt(2 / Math.PI)])]);
  const gate = b.op(scope, "Add", [b.op(scope, "Tanh", [inner]), b.float([1])]);
  return b.op(scope, "Mul", [b.op(scope, "Mul", [x, b.float([0.5])]), gate]);
}

export function buildEmbedTokens(sizes: ModelSizes, seed: number): GraphModel {
  const t = sizes.text;
  const b = new GraphBuilder("main_graph", [{ domain: "", version: 17 }]);
  const inputIds = b.input("input_ids", DataType.INT64, ["batch_size", "sequence_length"]);
  b.output("inputs_embeds", DataType.FLOAT, ["batch_size", "sequence_length", t.hiddenSize]);
  const name = "model.embed_tokens.weight";
  const table = b.initializer(name, DataType.FLOAT, [t.vocabSize, t.hiddenSize], uniformTensor(seed, `embed/${name}`, t.vocabSize * t.hiddenSize, EMBEDDING_STD));
  b.op("/model/embed_tokens", "Gather", [table, inputIds], { outputs: ["inputs_embeds"], attrs: { axis: attr.int(0) } });
  return b.model;
}

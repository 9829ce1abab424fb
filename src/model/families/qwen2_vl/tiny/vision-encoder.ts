/**
 * `vision_encoder.onnx` of Qwen2-VL (the export of `model.visual`): pixel_values [N, 3·2·14·14] and
 * grid_thw [1, 3] → image_features [N/4, text hidden]. Qwen2VisionTransformer for one image: Conv3d patch
 * embedding (kernel = stride = (2, 14, 14), no bias) over each 1176-vector, 2-D rotary positions (row and
 * column of each patch, in the 2×2-block order of the rows), pre-norm blocks (LayerNorm, fused qkv with
 * bias, full attention over the image, QuickGELU MLP), then the PatchMerger: LayerNorm, 2×2 rows
 * concatenated, Linear → GELU → Linear to the text width.
 */
import { BIAS_STD, linearStd, NORM_WEIGHT_STD } from "../../../onnx-build/init.js";
import { attr, DataType, GraphBuilder, type GraphModel } from "../../../onnx-build/graph-builder.js";
import { applyRotary } from "../../../onnx-build/layers.js";
import { uniformTensor } from "../../../onnx-build/rng.js";
import { PUBLISHED, type Qwen2VLSizes } from "./presets.js";

export function visionRopeInverseFrequencies(visionHeadDim: number): Float32Array {
  // VisionRotaryEmbedding(dim = head_dim / 2): inv_freq = 1 / theta^(arange(0, dim, 2) / dim).
  const dim = visionHeadDim / 2;
  return Float32Array.from({ length: dim / 2 }, (_, i) => 1 / Math.pow(PUBLISHED.visionRopeTheta, (2 * i) / dim));
}

export function buildQwen2VisionEncoder(sizes: Qwen2VLSizes, seed: number): GraphModel {
  const v = sizes.vision;
  const E = v.embedDim;
  const heads = v.numHeads;
  const hd = E / heads;
  const p = PUBLISHED.patchSize;
  const T = PUBLISHED.temporalPatchSize;
  const C = PUBLISHED.inChannels;
  const merge = PUBLISHED.spatialMergeSize;
  const patchLength = C * T * p * p;
  const mlpHidden = E * v.mlpRatio;
  const mergedWidth = E * merge * merge;
  const F = DataType.FLOAT;
  const I64 = DataType.INT64;
  const b = new GraphBuilder("main_graph", [{ domain: "", version: 18 }]);
  const tensor = (name: string, dims: number[], std: number, mean = 0): string =>
    b.initializer(name, F, dims, uniformTensor(seed, `qwen2_vl/vision/${name}`, dims.reduce((x, y) => x * y, 1), std, mean));

  const pixelValues = b.input("pixel_values", F, ["num_patches", patchLength]);
  const gridThw = b.input("grid_thw", I64, ["num_images", 3]);
  b.output("image_features", F, ["num_merged_patches", sizes.text.hiddenSize]);

  // PatchEmbed: view(-1, C, T, p, p) → Conv3d → view(-1, E).
  const pe = "/patch_embed";
  const volumes = b.op(pe, "Reshape", [pixelValues, b.int64([-1, C, T, p, p])]);
  const conv = b.op(`${pe}/proj`, "Conv", [volumes, tensor("patch_embed.proj.weight", [E, C, T, p, p], linearStd(patchLength))], {
    attrs: { kernel_shape: attr.ints([T, p, p]), strides: attr.ints([T, p, p]), pads: attr.ints([0, 0, 0, 0, 0, 0]), dilations: attr.ints([1, 1, 1]), group: attr.int(1) },
  });
  let hidden = b.op(pe, "Reshape", [conv, b.int64([-1, E])]);

  // rot_pos_emb: row r of pixel_values is patch (h, w) of its 2×2 block; frames repeat the h·w layout.
  const rp = "/rot_pos_emb";
  // One image per call (the export asserts it): row 0 of grid_thw.
  const gridRow = b.op(rp, "Gather", [gridThw, b.int64([0], true)], { attrs: { axis: attr.int(0) } });
  const h = b.op(rp, "Gather", [gridRow, b.int64([1], true)], { attrs: { axis: attr.int(0) } });
  const w = b.op(rp, "Gather", [gridRow, b.int64([2], true)], { attrs: { axis: attr.int(0) } });
  const count = b.op(rp, "Gather", [b.op(rp, "Shape", [pixelValues]), b.int64([0], true)], { attrs: { axis: attr.int(0) } });
  const rowIndex = b.op(rp, "Mod", [b.op(rp, "Range", [b.int64([0], true), count, b.int64([1], true)]), b.op(rp, "Mul", [h, w])], { attrs: { fmod: attr.int(0) } });
  const mergeConst = b.int64([merge], true);
  const inBlockCol = b.op(rp, "Mod", [rowIndex, mergeConst], { attrs: { fmod: attr.int(0) } });
  const inBlockRow = b.op(rp, "Mod", [b.op(rp, "Div", [rowIndex, mergeConst]), mergeConst], { attrs: { fmod: attr.int(0) } });
  const block = b.op(rp, "Div", [rowIndex, b.int64([merge * merge], true)]);
  const blocksPerRow = b.op(rp, "Div", [w, mergeConst]);
  const blockCol = b.op(rp, "Mod", [block, blocksPerRow], { attrs: { fmod: attr.int(0) } });
  const blockRow = b.op(rp, "Div", [block, blocksPerRow]);
  const hpos = b.op(rp, "Add", [b.op(rp, "Mul", [blockRow, mergeConst]), inBlockRow]);
  const wpos = b.op(rp, "Add", [b.op(rp, "Mul", [blockCol, mergeConst]), inBlockCol]);
  const invFreq = b.initializer("rotary_pos_emb.inv_freq", F, [hd / 4], visionRopeInverseFrequencies(hd));
  const angle = (pos: string): string =>
    b.op(rp, "Mul", [b.op(rp, "Unsqueeze", [b.op(rp, "Cast", [pos], { attrs: { to: attr.int(F) } }), b.int64([1])]), invFreq]);
  const halfAngles = b.op(rp, "Concat", [angle(hpos), angle(wpos)], { attrs: { axis: attr.int(-1) } });
  // apply_rotary_pos_emb_vision: cos/sin repeated over both halves, broadcast over heads: [N, 1, hd].
  const angles = b.op(rp, "Unsqueeze", [b.op(rp, "Concat", [halfAngles, halfAngles], { attrs: { axis: attr.int(-1) } }), b.int64([1])]);
  const cos = b.op(rp, "Cos", [angles]);
  const sin = b.op(rp, "Sin", [angles]);

  const layerNorm = (scope: string, x: string, prefix: string, width: number): string =>
    b.op(scope, "LayerNormalization", [x, tensor(`${prefix}.weight`, [width], NORM_WEIGHT_STD, 1), tensor(`${prefix}.bias`, [width], BIAS_STD)], {
      attrs: { axis: attr.int(-1), epsilon: attr.float(PUBLISHED.visionLayerNormEps) },
    });
  const linear = (scope: string, x: string, prefix: string, inF: number, outF: number, outputs?: string[]): string =>
    b.op(scope, "Add", [b.op(scope, "MatMul", [x, tensor(`${prefix}.weight`, [inF, outF], linearStd(inF))]), tensor(`${prefix}.bias`, [outF], BIAS_STD)], outputs ? { outputs } : {});
  const rotate = (scope: string, x: string): string => applyRotary(b, scope, x, cos, sin, hd);

  for (let i = 0; i < v.depth; i++) {
    const bs = `/blocks.${i}`;
    const wp = `blocks.${i}`;
    const as = `${bs}/attn`;
    const normed = layerNorm(`${bs}/norm1`, hidden, `${wp}.norm1`, E);
    // qkv(x).reshape(N, 3, heads, hd): q, k, v each [N, heads, hd].
    const qkv = b.op(as, "Reshape", [linear(`${as}/qkv`, normed, `${wp}.attn.qkv`, E, 3 * E), b.int64([-1, 3, heads, hd])]);
    const part = (index: number): string => b.op(as, "Gather", [qkv, b.int64([index], true)], { attrs: { axis: attr.int(1) } });
    const q = b.op(as, "Transpose", [rotate(as, part(0))], { attrs: { perm: attr.ints([1, 0, 2]) } });
    const k = b.op(as, "Transpose", [rotate(as, part(1))], { attrs: { perm: attr.ints([1, 2, 0]) } });
    const val = b.op(as, "Transpose", [part(2)], { attrs: { perm: attr.ints([1, 0, 2]) } });
    const scores = b.op(as, "Div", [b.op(as, "MatMul", [q, k]), b.float([Math.sqrt(hd)])]);
    const probs = b.op(as, "Softmax", [scores], { attrs: { axis: attr.int(-1) } });
    const context = b.op(as, "Reshape", [b.op(as, "Transpose", [b.op(as, "MatMul", [probs, val])], { attrs: { perm: attr.ints([1, 0, 2]) } }), b.int64([-1, E])]);
    const afterAttn = b.op(bs, "Add", [hidden, linear(`${as}/proj`, context, `${wp}.attn.proj`, E, E)]);
    const normed2 = layerNorm(`${bs}/norm2`, afterAttn, `${wp}.norm2`, E);
    const fc1 = linear(`${bs}/mlp/fc1`, normed2, `${wp}.mlp.fc1`, E, mlpHidden);
    // QuickGELU: x · sigmoid(1.702 x).
    const act = b.op(`${bs}/mlp/act`, "Mul", [fc1, b.op(`${bs}/mlp/act`, "Sigmoid", [b.op(`${bs}/mlp/act`, "Mul", [fc1, b.float([1.702])])])]);
    hidden = b.op(bs, "Add", [afterAttn, linear(`${bs}/mlp/fc2`, act, `${wp}.mlp.fc2`, mlpHidden, E)]);
  }

  const ms = "/merger";
  const merged = b.op(ms, "Reshape", [layerNorm(`${ms}/ln_q`, hidden, "merger.ln_q", E), b.int64([-1, mergedWidth])]);
  const up = linear(`${ms}/mlp.0`, merged, "merger.mlp.0", mergedWidth, mergedWidth);
  // nn.GELU(): the exact erf form.
  const gs = `${ms}/mlp.1`;
  const gelu = b.op(gs, "Mul", [b.op(gs, "Mul", [up, b.float([0.5])]), b.op(gs, "Add", [b.op(gs, "Erf", [b.op(gs, "Div", [up, b.float([Math.SQRT2])])]), b.float([1])])]);
  linear(`${ms}/mlp.2`, gelu, "merger.mlp.2", mergedWidth, sizes.text.hiddenSize, ["image_features"]);
  return b.model;
}

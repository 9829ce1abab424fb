/** Sizes of the generated Qwen2-VL models; everything else in their configs is the published Qwen2-VL-2B-Instruct. */
import { QWEN2_PUBLISHED, qwen2TextSizeProblems, type Qwen2ExportLayout, type Qwen2TextSizes } from "../../qwen2/tiny/sizes.js";

/**
 * `qwen2-vl-2b` has every Qwen2-VL-2B size (~2.2B parameters: int8 graphs only fit the protobuf limit);
 * `qwen2-vl-2b-depth2` keeps its widths with 2 decoder layers and 2 vision blocks, for benchmarks on a shared
 * CPU whose per-layer cost is scaled to the full depth.
 */
export type Qwen2VLPreset = "tiny" | "qwen2-vl-2b" | "qwen2-vl-2b-depth2";

/** The Qwen2 text model with rope_scaling.mrope_section: rotary frequency pairs per (t, h, w) row. */
export type Qwen2VLTextSizes = Qwen2TextSizes & { mropeSection: [number, number, number] };

export interface Qwen2VisionSizes {
  embedDim: number;
  depth: number;
  numHeads: number;
  mlpRatio: number;
}

export interface Qwen2VLSizes {
  text: Qwen2VLTextSizes;
  vision: Qwen2VisionSizes;
}

/** Fixed by the export's I/O (pixel_values rows of 3·2·14·14 = 1176, 2×2 merge) and the published config. */
export const PUBLISHED = {
  patchSize: 14,
  temporalPatchSize: 2,
  spatialMergeSize: 2,
  inChannels: 3,
  visionLayerNormEps: 1e-6,
  /** VisionRotaryEmbedding theta. */
  visionRopeTheta: 10_000,
} as const;

/** onnx-community/Qwen2-VL-2B-Instruct: embed_tokens at opset 18 (node `/embed_tokens/Gather`), the merged decoder at opset 14. */
export const QWEN2_VL_EXPORT: Qwen2ExportLayout = { seedScope: "qwen2_vl", embedOpset: 18, decoderOpset: 14, embedScope: "/embed_tokens" };

export const QWEN2_VL_PRESETS: Record<Qwen2VLPreset, Qwen2VLSizes> = {
  tiny: {
    text: { ...QWEN2_PUBLISHED, hiddenSize: 64, numLayers: 4, numHeads: 4, numKeyValueHeads: 2, intermediateSize: 128, mropeSection: [2, 3, 3] },
    vision: { embedDim: 32, depth: 2, numHeads: 2, mlpRatio: 4 },
  },
  "qwen2-vl-2b": {
    text: { ...QWEN2_PUBLISHED, hiddenSize: 1536, numLayers: 28, numHeads: 12, numKeyValueHeads: 2, intermediateSize: 8960, mropeSection: [16, 24, 24] },
    vision: { embedDim: 1280, depth: 32, numHeads: 16, mlpRatio: 4 },
  },
  "qwen2-vl-2b-depth2": {
    text: { ...QWEN2_PUBLISHED, hiddenSize: 1536, numLayers: 2, numHeads: 12, numKeyValueHeads: 2, intermediateSize: 8960, mropeSection: [16, 24, 24] },
    vision: { embedDim: 1280, depth: 2, numHeads: 16, mlpRatio: 4 },
  },
};

export function isQwen2VLPreset(value: string): value is Qwen2VLPreset {
  return Object.prototype.hasOwnProperty.call(QWEN2_VL_PRESETS, value);
}

export function validateQwen2VLSizes(sizes: Qwen2VLSizes): void {
  const { text, vision } = sizes;
  const problems = qwen2TextSizeProblems(text);
  if (vision.embedDim % vision.numHeads !== 0) problems.push("vision embed_dim must be a multiple of its heads");
  if ((vision.embedDim / vision.numHeads) % 4 !== 0) problems.push("vision head_dim must be a multiple of 4 (2-D rotary halves)");
  if (problems.length > 0) throw new Error(`invalid Qwen2-VL sizes: ${problems.join("; ")}`);
}

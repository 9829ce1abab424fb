/** Sizes of generated LLaVA-OneVision models; everything else in their configs is the published 0.5B (vlm-families.md §B1). */
import { QWEN2_PUBLISHED, qwen2TextSizeProblems, type Qwen2ExportLayout, type Qwen2TextSizes } from "../../qwen2/tiny/sizes.js";

export type LlavaOnevisionPreset = "tiny" | "llava-onevision-0.5b";

export interface SiglipSizes {
  hiddenSize: number;
  numLayers: number;
  numHeads: number;
  intermediateSize: number;
}

export interface LlavaOnevisionSizes {
  text: Qwen2TextSizes;
  vision: SiglipSizes;
}

/** Fixed by the published export and config: SigLIP-384/14 crops (27×27 = 729 rows), Qwen2 constants, token ids. */
export const PUBLISHED = {
  imageSize: 384,
  patchSize: 14,
  numChannels: 3,
  visionLayerNormEps: 1e-6,
  imageTokenId: 151646,
  videoTokenId: 151647,
  bosTokenId: 151643,
  eosTokenId: 151645,
} as const;

/** The llava-hf export: both Qwen2 graphs at opset 17. */
export const LLAVA_ONEVISION_EXPORT: Qwen2ExportLayout = { seedScope: "qwen2", embedOpset: 17, decoderOpset: 17, embedScope: "/model/embed_tokens" };

export const LLAVA_ONEVISION_PRESETS: Record<LlavaOnevisionPreset, LlavaOnevisionSizes> = {
  // Qwen2-0.5B's text constants (the llava-hf vocabulary size, 151936 or 152000, is unverified).
  // Narrow so that the 151936-row embedding table and lm_head stay ~20 MB each.
  tiny: {
    text: { ...QWEN2_PUBLISHED, hiddenSize: 32, numLayers: 4, numHeads: 4, numKeyValueHeads: 2, intermediateSize: 64 },
    vision: { hiddenSize: 32, numLayers: 1, numHeads: 2, intermediateSize: 64 },
  },
  // The published shapes (benchmarks only; never generated in tests).
  "llava-onevision-0.5b": {
    text: { ...QWEN2_PUBLISHED, hiddenSize: 896, numLayers: 24, numHeads: 14, numKeyValueHeads: 2, intermediateSize: 4864 },
    vision: { hiddenSize: 1152, numLayers: 26, numHeads: 16, intermediateSize: 4304 },
  },
};

export function isLlavaOnevisionPreset(value: string): value is LlavaOnevisionPreset {
  return Object.hasOwn(LLAVA_ONEVISION_PRESETS, value);
}

export function validateLlavaOnevisionSizes(sizes: LlavaOnevisionSizes): void {
  const { text, vision } = sizes;
  const problems = qwen2TextSizeProblems(text);
  if (vision.hiddenSize % vision.numHeads !== 0) problems.push("vision hidden_size must be a multiple of its heads");
  if (problems.length > 0) throw new Error(`invalid LLaVA-OneVision sizes: ${problems.join("; ")}`);
}

/** Sizes of generated LLaVA-OneVision models; everything else in their configs is the published 0.5B (vlm-families.md §B1). */

export type LlavaOnevisionPreset = "tiny" | "llava-onevision-0.5b";

export interface Qwen2TextSizes {
  hiddenSize: number;
  numLayers: number;
  numHeads: number;
  numKeyValueHeads: number;
  intermediateSize: number;
  vocabSize: number;
  ropeTheta: number;
  rmsNormEps: number;
  /**
   * Multimodal RoPE (Qwen2-VL): frequency pairs per (t, h, w) position row, summing to head_dim / 2;
   * position_ids are then [3, B, S]. Absent: plain 1-D RoPE with [B, S] (Qwen2, LLaVA-OneVision).
   */
  mropeSection?: [number, number, number];
}

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
  /** Qwen2-0.5B's vocabulary (the llava-hf value, 151936 or 152000, is unverified). */
  vocabSize: 151936,
  ropeTheta: 1_000_000,
  rmsNormEps: 1e-6,
  imageTokenId: 151646,
  videoTokenId: 151647,
  bosTokenId: 151643,
  eosTokenId: 151645,
} as const;

const QWEN2_CONSTANTS = { vocabSize: PUBLISHED.vocabSize, ropeTheta: PUBLISHED.ropeTheta, rmsNormEps: PUBLISHED.rmsNormEps };

export const LLAVA_ONEVISION_PRESETS: Record<LlavaOnevisionPreset, LlavaOnevisionSizes> = {
  // Narrow so that the 151936-row embedding table and lm_head stay ~20 MB each.
  tiny: {
    text: { ...QWEN2_CONSTANTS, hiddenSize: 32, numLayers: 4, numHeads: 4, numKeyValueHeads: 2, intermediateSize: 64 },
    vision: { hiddenSize: 32, numLayers: 1, numHeads: 2, intermediateSize: 64 },
  },
  // The published shapes (benchmarks only; never generated in tests).
  "llava-onevision-0.5b": {
    text: { ...QWEN2_CONSTANTS, hiddenSize: 896, numLayers: 24, numHeads: 14, numKeyValueHeads: 2, intermediateSize: 4864 },
    vision: { hiddenSize: 1152, numLayers: 26, numHeads: 16, intermediateSize: 4304 },
  },
};

export function isLlavaOnevisionPreset(value: string): value is LlavaOnevisionPreset {
  return Object.hasOwn(LLAVA_ONEVISION_PRESETS, value);
}

export function headDimOf(text: Qwen2TextSizes): number {
  return text.hiddenSize / text.numHeads;
}

export function validateLlavaOnevisionSizes(sizes: LlavaOnevisionSizes): void {
  const { text, vision } = sizes;
  const problems: string[] = [];
  if (text.hiddenSize % text.numHeads !== 0) problems.push("hidden_size must be a multiple of num_attention_heads");
  if (text.numHeads % text.numKeyValueHeads !== 0) problems.push("num_attention_heads must be a multiple of num_key_value_heads");
  if (headDimOf(text) % 2 !== 0) problems.push("head_dim must be even for rotary embeddings");
  if (text.mropeSection && text.mropeSection.reduce((a, b) => a + b, 0) !== headDimOf(text) / 2) problems.push("mrope_section must sum to head_dim / 2");
  if (vision.hiddenSize % vision.numHeads !== 0) problems.push("vision hidden_size must be a multiple of its heads");
  if (problems.length > 0) throw new Error(`invalid LLaVA-OneVision sizes: ${problems.join("; ")}`);
}

/**
 * Sizes of a generated Qwen2 text model: the language model of both Qwen2-VL (with M-RoPE) and LLaVA-OneVision
 * (plain 1-D RoPE). `families/qwen2/` is not a family (no `ModelFamily`, not in `FAMILIES`): it holds the Qwen2
 * pieces the generators of those two families share.
 */

/** Qwen2's published text constants (Qwen2-0.5B, Qwen2-VL-2B: the same vocabulary, rope_theta and rms_norm_eps). */
export const QWEN2_PUBLISHED = { vocabSize: 151936, ropeTheta: 1_000_000, rmsNormEps: 1e-6 } as const;

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

/** What differs between the published exports the generators copy; the computation is the same. */
export interface Qwen2ExportLayout {
  /** Names the weights' random streams, so each family's generated weights stay its own. */
  seedScope: string;
  /** The opsets of the published embed_tokens and decoder_model_merged graphs. */
  embedOpset: number;
  decoderOpset: number;
  /** Scope of the embedding lookup node (`<scope>/Gather`). */
  embedScope: string;
}

/** head_dim = hidden_size / num_attention_heads (the configs store none, or the same value; transformers.js derives it so). */
export function qwen2HeadDim(text: Qwen2TextSizes): number {
  return text.hiddenSize / text.numHeads;
}

/** What is wrong with these sizes (empty when a graph can be built from them). */
export function qwen2TextSizeProblems(text: Qwen2TextSizes): string[] {
  const problems: string[] = [];
  if (text.hiddenSize % text.numHeads !== 0) problems.push("hidden_size must be a multiple of num_attention_heads");
  if (text.numHeads % text.numKeyValueHeads !== 0) problems.push("num_attention_heads must be a multiple of num_key_value_heads");
  if (qwen2HeadDim(text) % 2 !== 0) problems.push("head_dim must be even for rotary embeddings");
  const half = qwen2HeadDim(text) / 2;
  if (text.mropeSection && text.mropeSection.reduce((a, b) => a + b, 0) !== half) problems.push(`mrope_section must sum to head_dim / 2 = ${half}`);
  return problems;
}

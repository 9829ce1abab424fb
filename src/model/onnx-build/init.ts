/** Weight initialisation and shared constants of the generated (random-weight) models of every family. */

/** torch.finfo(torch.float32).min, the additive mask value transformers uses. */
export const MASK_MIN = -3.4028234663852886e38;
/**
 * Linear weights have std 1/sqrt(fan_in) (the real text config's initializer_range 0.0417 is
 * 1/sqrt(576)): activations keep unit scale through all layers, attention is not uniform, and the
 * per-head vectors are O(1), so absolute tolerances in tests mean something.
 */
export function linearStd(fanIn: number): number {
  return 1 / Math.sqrt(fanIn);
}
/** Small additive parameters (biases, LayerNorm shifts). */
export const BIAS_STD = 0.02;
/** Norm weights around 1 with some spread, so a reference that ignores them would disagree. */
export const NORM_WEIGHT_STD = 0.1;
/** Token embeddings at unit scale, like the image features the connector produces. */
export const EMBEDDING_STD = 1;

export function ropeInverseFrequencies(headDim: number, theta: number): Float32Array {
  const half = headDim / 2;
  const inv = new Float32Array(half);
  for (let i = 0; i < half; i++) inv[i] = 1 / Math.pow(theta, (2 * i) / headDim);
  return inv;
}

/** Model sizes for the generated models; everything else in the configs is the published SmolVLM-256M. */

export type TinyPreset = "tiny" | "smolvlm-256m";

export interface TextSizes {
  hiddenSize: number;
  numLayers: number;
  numHeads: number;
  numKeyValueHeads: number;
  headDim: number;
  intermediateSize: number;
  vocabSize: number;
  ropeTheta: number;
  rmsNormEps: number;
}

export interface VisionSizes {
  hiddenSize: number;
  numLayers: number;
  numHeads: number;
  intermediateSize: number;
  imageSize: number;
  patchSize: number;
  layerNormEps: number;
  numChannels: number;
}

export interface ModelSizes {
  text: TextSizes;
  vision: VisionSizes;
  scaleFactor: number;
}

/** Values shared by both presets, taken from the published SmolVLM-256M-Instruct config.json. */
const PUBLISHED_TEXT = { vocabSize: 49280, ropeTheta: 100000, rmsNormEps: 1e-5 };
const PUBLISHED_VISION = { layerNormEps: 1e-6, numChannels: 3 };

export const PRESETS: Record<TinyPreset, ModelSizes> = {
  tiny: {
    text: {
      ...PUBLISHED_TEXT,
      hiddenSize: 64,
      numLayers: 4,
      numHeads: 4,
      numKeyValueHeads: 2,
      headDim: 16,
      intermediateSize: 128,
    },
    vision: { ...PUBLISHED_VISION, hiddenSize: 64, numLayers: 2, numHeads: 4, intermediateSize: 256, imageSize: 64, patchSize: 16 },
    scaleFactor: 2,
  },
  "smolvlm-256m": {
    text: {
      ...PUBLISHED_TEXT,
      hiddenSize: 576,
      numLayers: 30,
      numHeads: 9,
      numKeyValueHeads: 3,
      headDim: 64,
      intermediateSize: 1536,
    },
    vision: { ...PUBLISHED_VISION, hiddenSize: 768, numLayers: 12, numHeads: 12, intermediateSize: 3072, imageSize: 512, patchSize: 16 },
    scaleFactor: 4,
  },
};

export function isPreset(value: string): value is TinyPreset {
  return Object.prototype.hasOwnProperty.call(PRESETS, value);
}

/** Patches per side of one image tile. */
export function patchesPerSide(sizes: ModelSizes): number {
  return sizes.vision.imageSize / sizes.vision.patchSize;
}

/** image_seq_len = (image_size / patch_size)^2 / scale_factor^2, as the processor expands `<image>`. */
export function imageSeqLen(sizes: ModelSizes): number {
  const side = patchesPerSide(sizes);
  return (side * side) / (sizes.scaleFactor * sizes.scaleFactor);
}

export function validateSizes(sizes: ModelSizes): void {
  const { text, vision, scaleFactor } = sizes;
  const problems: string[] = [];
  if (text.numHeads % text.numKeyValueHeads !== 0) problems.push("num_attention_heads must be a multiple of num_key_value_heads");
  if (text.headDim % 2 !== 0) problems.push("head_dim must be even for rotary embeddings");
  if (vision.imageSize % vision.patchSize !== 0) problems.push("image_size must be a multiple of patch_size");
  if (vision.hiddenSize % vision.numHeads !== 0) problems.push("vision hidden_size must be a multiple of its heads");
  if (patchesPerSide(sizes) % scaleFactor !== 0) problems.push("patches per side must be a multiple of scale_factor");
  if (problems.length > 0) throw new Error(`invalid model sizes: ${problems.join("; ")}`);
}

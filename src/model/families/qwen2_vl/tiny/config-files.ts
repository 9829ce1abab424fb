/** config.json and the tokenizer files of a generated Qwen2-VL model. */
import { fallbackQwen2Tokenizer, qwen2TokenizerConfig } from "../../qwen2/tiny/tokenizer-files.js";
import { QWEN2_VL_CHAT_TEMPLATE, QWEN2_VL_SPECIAL_TOKENS, QWEN2_VL_TOKEN_IDS } from "./published.js";
import { PUBLISHED, type Qwen2VLPreset, type Qwen2VLSizes } from "./presets.js";

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

export interface Qwen2VLMarker {
  random_weights: true;
  preset: Qwen2VLPreset;
  seed: number;
  generator_version: string;
}

/** The flat Qwen2-VL config (as transformers 4.46 saved the 2B export) with the sizes of `sizes`. */
export function qwen2VLConfig(sizes: Qwen2VLSizes, marker: Qwen2VLMarker): Json {
  const { text, vision } = sizes;
  return {
    architectures: ["Qwen2VLForConditionalGeneration"],
    attention_dropout: 0.0,
    bos_token_id: QWEN2_VL_TOKEN_IDS.bos,
    eos_token_id: QWEN2_VL_TOKEN_IDS.eos,
    vision_start_token_id: QWEN2_VL_TOKEN_IDS.visionStart,
    vision_end_token_id: QWEN2_VL_TOKEN_IDS.visionEnd,
    vision_token_id: QWEN2_VL_TOKEN_IDS.vision,
    image_token_id: QWEN2_VL_TOKEN_IDS.image,
    video_token_id: QWEN2_VL_TOKEN_IDS.video,
    hidden_act: "silu",
    hidden_size: text.hiddenSize,
    initializer_range: 0.02,
    intermediate_size: text.intermediateSize,
    max_position_embeddings: 32768,
    max_window_layers: text.numLayers,
    model_type: "qwen2_vl",
    num_attention_heads: text.numHeads,
    num_hidden_layers: text.numLayers,
    num_key_value_heads: text.numKeyValueHeads,
    rms_norm_eps: text.rmsNormEps,
    rope_theta: text.ropeTheta,
    sliding_window: 32768,
    tie_word_embeddings: true,
    torch_dtype: "float32",
    transformers_version: "4.46.1",
    use_cache: true,
    use_sliding_window: false,
    vision_config: {
      depth: vision.depth,
      embed_dim: vision.embedDim,
      mlp_ratio: vision.mlpRatio,
      num_heads: vision.numHeads,
      in_chans: PUBLISHED.inChannels,
      hidden_size: text.hiddenSize,
      patch_size: PUBLISHED.patchSize,
      spatial_merge_size: PUBLISHED.spatialMergeSize,
      spatial_patch_size: PUBLISHED.patchSize,
      temporal_patch_size: PUBLISHED.temporalPatchSize,
      model_type: "qwen2_vl",
    },
    rope_scaling: { mrope_section: [...text.mropeSection], rope_type: "default", type: "default" },
    vocab_size: text.vocabSize,
    sav_mcp_generated: { ...marker },
  };
}

export function qwen2VLTokenizer(): Json {
  return fallbackQwen2Tokenizer(QWEN2_VL_SPECIAL_TOKENS);
}

export function qwen2VLTokenizerConfig(): Json {
  return qwen2TokenizerConfig({
    specialTokens: QWEN2_VL_SPECIAL_TOKENS,
    additionalSpecialTokens: QWEN2_VL_SPECIAL_TOKENS.slice(1).map((t) => t.content),
    chatTemplate: QWEN2_VL_CHAT_TEMPLATE,
    processorClass: "Qwen2VLProcessor",
  });
}

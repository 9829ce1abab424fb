/**
 * config.json, preprocessor/processor configs, the chat template and fallback Qwen2 tokenizer files of a
 * generated LLaVA-OneVision model. Field names and values are the published llava-hf 0.5B ones
 * (vlm-families.md §B) with the sizes changed; the chat template is the converter's.
 */
import { qwen2HeadDim } from "../../qwen2/tiny/sizes.js";
import { fallbackQwen2Tokenizer, qwen2TokenizerConfig } from "../../qwen2/tiny/tokenizer-files.js";
import { PUBLISHED, type LlavaOnevisionSizes } from "./presets.js";

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** The 36 published pinpoints: every (h, w) pair of six multiples of 384, h-major. */
export function publishedPinpoints(): [number, number][] {
  const steps = [1, 2, 3, 4, 5, 6].map((k) => k * PUBLISHED.imageSize);
  return steps.flatMap((h) => steps.map((w) => [h, w] as [number, number]));
}

/** The converter's chat template (convert_llava_onevision_weights_to_hf.py): images first, no default system turn. */
export const LLAVA_ONEVISION_CHAT_TEMPLATE =
  "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n'}}{# Render all images first #}{% for content in message['content'] | selectattr('type', 'equalto', 'image') %}{{ '<image>\\n' }}{% endfor %}{# Render all video then #}{% for content in message['content'] | selectattr('type', 'equalto', 'video') %}{{ '<video>\\n' }}{% endfor %}{# Render all text next #}{% if message['role'] != 'assistant' %}{% for content in message['content'] | selectattr('type', 'equalto', 'text') %}{{ content['text'] }}{% endfor %}{% else %}{% for content in message['content'] | selectattr('type', 'equalto', 'text') %}{% generation %}{{ content['text'] }}{% endgeneration %}{% endfor %}{% endif %}{{'<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

/** Qwen2's added tokens plus the two the converter adds. */
export const LLAVA_ONEVISION_SPECIAL_TOKENS: readonly { id: number; content: string }[] = [
  { id: 151643, content: "<|endoftext|>" },
  { id: 151644, content: "<|im_start|>" },
  { id: 151645, content: "<|im_end|>" },
  { id: PUBLISHED.imageTokenId, content: "<image>" },
  { id: PUBLISHED.videoTokenId, content: "<video>" },
];

export function llavaOnevisionConfig(sizes: LlavaOnevisionSizes, marker: Record<string, Json>): Json {
  const { text, vision } = sizes;
  return {
    architectures: ["LlavaOnevisionForConditionalGeneration"],
    model_type: "llava_onevision",
    image_token_index: PUBLISHED.imageTokenId,
    video_token_index: PUBLISHED.videoTokenId,
    projector_hidden_act: "gelu",
    multimodal_projector_bias: true,
    vision_feature_select_strategy: "full",
    vision_feature_layer: -1,
    vision_aspect_ratio: "anyres_max_9",
    image_grid_pinpoints: publishedPinpoints(),
    tie_word_embeddings: true,
    use_image_newline_parameter: true,
    text_config: {
      model_type: "qwen2",
      architectures: ["Qwen2ForCausalLM"],
      hidden_size: text.hiddenSize,
      intermediate_size: text.intermediateSize,
      num_attention_heads: text.numHeads,
      num_hidden_layers: text.numLayers,
      num_key_value_heads: text.numKeyValueHeads,
      head_dim: qwen2HeadDim(text),
      rms_norm_eps: text.rmsNormEps,
      rope_theta: text.ropeTheta,
      vocab_size: text.vocabSize,
      max_position_embeddings: 32768,
      tie_word_embeddings: true,
      bos_token_id: PUBLISHED.bosTokenId,
      eos_token_id: PUBLISHED.eosTokenId,
    },
    vision_config: {
      model_type: "siglip_vision_model",
      hidden_size: vision.hiddenSize,
      image_size: PUBLISHED.imageSize,
      intermediate_size: vision.intermediateSize,
      num_attention_heads: vision.numHeads,
      num_hidden_layers: vision.numLayers,
      patch_size: PUBLISHED.patchSize,
      layer_norm_eps: PUBLISHED.visionLayerNormEps,
      vision_use_head: false,
    },
    sav_mcp_generated: marker,
  };
}

export function llavaOnevisionPreprocessorConfig(): Json {
  return {
    do_convert_rgb: true,
    do_normalize: true,
    do_pad: true,
    do_rescale: true,
    do_resize: true,
    image_grid_pinpoints: publishedPinpoints(),
    image_mean: [0.5, 0.5, 0.5],
    image_processor_type: "LlavaOnevisionImageProcessor",
    image_std: [0.5, 0.5, 0.5],
    processor_class: "LlavaOnevisionProcessor",
    resample: 3,
    rescale_factor: 1 / 255,
    size: { height: PUBLISHED.imageSize, width: PUBLISHED.imageSize },
  };
}

export function llavaOnevisionProcessorConfig(): Json {
  return { processor_class: "LlavaOnevisionProcessor", num_image_tokens: 729, vision_feature_select_strategy: "full", image_token: "<image>", video_token: "<video>" };
}

export function llavaOnevisionGenerationConfig(): Json {
  return { bos_token_id: PUBLISHED.bosTokenId, eos_token_id: PUBLISHED.eosTokenId, pad_token_id: PUBLISHED.bosTokenId };
}

export function llavaOnevisionTokenizer(): Json {
  return fallbackQwen2Tokenizer(LLAVA_ONEVISION_SPECIAL_TOKENS);
}

export function llavaOnevisionTokenizerConfig(): Json {
  return qwen2TokenizerConfig({
    specialTokens: LLAVA_ONEVISION_SPECIAL_TOKENS,
    additionalSpecialTokens: ["<|im_start|>", "<|im_end|>"],
    chatTemplate: LLAVA_ONEVISION_CHAT_TEMPLATE,
    processorClass: "LlavaOnevisionProcessor",
  });
}

/**
 * Published Qwen2-VL-2B-Instruct facts a generated model copies: the special tokens and their ids, the chat
 * template, the preprocessor and generation configs (see docs/models.md for the sources).
 */

/** The added tokens of the Qwen2-VL tokenizer, ids 151643..151656. */
export const QWEN2_VL_SPECIAL_TOKENS: readonly { id: number; content: string }[] = [
  "<|endoftext|>",
  "<|im_start|>",
  "<|im_end|>",
  "<|object_ref_start|>",
  "<|object_ref_end|>",
  "<|box_start|>",
  "<|box_end|>",
  "<|quad_start|>",
  "<|quad_end|>",
  "<|vision_start|>",
  "<|vision_end|>",
  "<|vision_pad|>",
  "<|image_pad|>",
  "<|video_pad|>",
].map((content, i) => ({ id: 151643 + i, content }));

export const QWEN2_VL_TOKEN_IDS = {
  bos: 151643,
  eos: 151645,
  visionStart: 151652,
  visionEnd: 151653,
  vision: 151654,
  image: 151655,
  video: 151656,
} as const;

export const QWEN2_VL_CHAT_TEMPLATE =
  "{% set image_count = namespace(value=0) %}{% set video_count = namespace(value=0) %}{% for message in messages %}{% if loop.first and message['role'] != 'system' %}<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n{% endif %}<|im_start|>{{ message['role'] }}\n{% if message['content'] is string %}{{ message['content'] }}<|im_end|>\n{% else %}{% for content in message['content'] %}{% if content['type'] == 'image' or 'image' in content or 'image_url' in content %}{% set image_count.value = image_count.value + 1 %}{% if add_vision_id %}Picture {{ image_count.value }}: {% endif %}<|vision_start|><|image_pad|><|vision_end|>{% elif content['type'] == 'video' or 'video' in content %}{% set video_count.value = video_count.value + 1 %}{% if add_vision_id %}Video {{ video_count.value }}: {% endif %}<|vision_start|><|video_pad|><|vision_end|>{% elif 'text' in content %}{{ content['text'] }}{% endif %}{% endfor %}<|im_end|>\n{% endif %}{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}";

/** The re-saved Qwen2VLImageProcessor config (bicubic = resample 3). */
export const QWEN2_VL_PREPROCESSOR_CONFIG = {
  do_convert_rgb: true,
  do_normalize: true,
  do_rescale: true,
  do_resize: true,
  image_mean: [0.48145466, 0.4578275, 0.40821073],
  image_processor_type: "Qwen2VLImageProcessor",
  image_std: [0.26862954, 0.26130258, 0.27577711],
  max_pixels: 12845056,
  merge_size: 2,
  min_pixels: 3136,
  patch_size: 14,
  processor_class: "Qwen2VLProcessor",
  resample: 3,
  rescale_factor: 0.00392156862745098,
  size: { max_pixels: 12845056, min_pixels: 3136 },
  temporal_patch_size: 2,
};

export const QWEN2_VL_GENERATION_CONFIG = {
  bos_token_id: 151643,
  pad_token_id: 151643,
  do_sample: true,
  eos_token_id: [151645, 151643],
  repetition_penalty: 1.05,
  temperature: 0.01,
  top_p: 0.001,
  top_k: 1,
  transformers_version: "4.46.1",
};

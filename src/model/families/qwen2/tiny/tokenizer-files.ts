/** The fallback Qwen2 tokenizer files (tokenizer.json, tokenizer_config.json) of the generated Qwen2-based models. */

import { addMergeChains, byteLevelAlphabet } from "../../../onnx-build/byte-level-bpe.js";

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

export interface SpecialToken {
  id: number;
  content: string;
}

/** Words with merge chains in the fallback BPE ('Ġ' is the byte-level space). */
const FALLBACK_WORDS = ["system", "user", "assistant", "You", "Ġare", "Ġa", "Ġhelpful", "ĠWhat", "Ġis", "Ġin", "Ġthis", "Ġimage", "Describe", "Ġthe", "Ġcolor", "Ġshape"];

/** Qwen2's pre-tokenizer split pattern (tokenizer.json of the Qwen2 family). */
const QWEN2_SPLIT_PATTERN =
  "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

/**
 * A small byte-level BPE with Qwen2's pre-tokenizer, normalizer, decoder and the model's special tokens at
 * their real ids: prompts render and expand exactly as with the real tokenizer; only ordinary words get
 * other ids (the real one has 151643 merges' worth).
 */
export function fallbackQwen2Tokenizer(specialTokens: readonly SpecialToken[]): Json {
  const vocab: Record<string, number> = {};
  byteLevelAlphabet().forEach((symbol, id) => (vocab[symbol] = id));
  const merges = addMergeChains(vocab, FALLBACK_WORDS, 256).map(([left, right]) => `${left} ${right}`);
  const byteLevel = { type: "ByteLevel", add_prefix_space: false, trim_offsets: false, use_regex: false };
  return {
    version: "1.0",
    truncation: null,
    padding: null,
    added_tokens: specialTokens.map(({ id, content }) => ({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true })),
    normalizer: { type: "NFC" },
    pre_tokenizer: {
      type: "Sequence",
      pretokenizers: [{ type: "Split", pattern: { Regex: QWEN2_SPLIT_PATTERN }, behavior: "Isolated", invert: false }, byteLevel],
    },
    post_processor: byteLevel,
    decoder: byteLevel,
    model: { type: "BPE", dropout: null, unk_token: null, continuing_subword_prefix: "", end_of_word_suffix: "", fuse_unk: false, byte_fallback: false, vocab, merges },
  };
}

export interface Qwen2TokenizerConfigOptions {
  specialTokens: readonly SpecialToken[];
  additionalSpecialTokens: readonly string[];
  chatTemplate: string;
  processorClass: string;
}

export function qwen2TokenizerConfig(options: Qwen2TokenizerConfigOptions): Json {
  const decoder: Record<string, Json> = {};
  for (const { id, content } of options.specialTokens) {
    decoder[String(id)] = { content, lstrip: false, normalized: false, rstrip: false, single_word: false, special: true };
  }
  return {
    add_prefix_space: false,
    added_tokens_decoder: decoder,
    additional_special_tokens: [...options.additionalSpecialTokens],
    bos_token: null,
    chat_template: options.chatTemplate,
    clean_up_tokenization_spaces: false,
    eos_token: "<|im_end|>",
    errors: "replace",
    model_max_length: 32768,
    pad_token: "<|endoftext|>",
    padding_side: "left",
    processor_class: options.processorClass,
    split_special_tokens: false,
    tokenizer_class: "Qwen2Tokenizer",
    unk_token: null,
  };
}

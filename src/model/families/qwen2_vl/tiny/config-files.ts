/** config.json and the tokenizer files of a generated Qwen2-VL model. */
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
    rms_norm_eps: PUBLISHED.rmsNormEps,
    rope_theta: PUBLISHED.ropeTheta,
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
    vocab_size: PUBLISHED.vocabSize,
    sav_mcp_generated: { ...marker },
  };
}

/** GPT-2 byte-to-unicode symbols in Qwen2's id order: printable bytes first ('!' = 0), '\n' = 'Ċ' = 198. */
function byteSymbols(): string[] {
  const printable: number[] = [];
  for (let b = 0x21; b <= 0x7e; b++) printable.push(b);
  for (let b = 0xa1; b <= 0xac; b++) printable.push(b);
  for (let b = 0xae; b <= 0xff; b++) printable.push(b);
  const symbols = printable.map((b) => String.fromCharCode(b));
  let next = 0;
  for (let b = 0; b < 256; b++) if (!printable.includes(b)) symbols.push(String.fromCharCode(256 + next++));
  return symbols;
}

/** Words with merge chains in the fallback BPE ('Ġ' is the byte-level space). */
const FALLBACK_WORDS = ["system", "user", "assistant", "You", "Ġare", "Ġa", "Ġhelpful", "ĠWhat", "Ġis", "Ġin", "Ġthis", "Ġimage", "Describe", "Ġthe", "Ġcolor", "Ġshape"];

/** Qwen2's pre-tokenizer split pattern (tokenizer.json of the Qwen2 family). */
const QWEN2_SPLIT_PATTERN =
  "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

/**
 * A small byte-level BPE with Qwen2's pre-tokenizer, normalizer, decoder and the real special tokens at
 * their real ids: prompts render and expand exactly as with the real tokenizer; only ordinary words get
 * other ids (the real one has 151643 merges' worth).
 */
export function fallbackQwen2Tokenizer(): Json {
  const vocab: Record<string, number> = {};
  byteSymbols().forEach((symbol, id) => (vocab[symbol] = id));
  let nextId = 256;
  const merges: string[] = [];
  for (const word of FALLBACK_WORDS) {
    const symbols = Array.from(word);
    let left = symbols[0] as string;
    for (const right of symbols.slice(1)) {
      const merged = left + right;
      if (!(merged in vocab)) {
        merges.push(`${left} ${right}`);
        vocab[merged] = nextId++;
      }
      left = merged;
    }
  }
  return {
    version: "1.0",
    truncation: null,
    padding: null,
    added_tokens: QWEN2_VL_SPECIAL_TOKENS.map(({ id, content }) => ({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true })),
    normalizer: { type: "NFC" },
    pre_tokenizer: {
      type: "Sequence",
      pretokenizers: [
        { type: "Split", pattern: { Regex: QWEN2_SPLIT_PATTERN }, behavior: "Isolated", invert: false },
        { type: "ByteLevel", add_prefix_space: false, trim_offsets: false, use_regex: false },
      ],
    },
    post_processor: { type: "ByteLevel", add_prefix_space: false, trim_offsets: false, use_regex: false },
    decoder: { type: "ByteLevel", add_prefix_space: false, trim_offsets: false, use_regex: false },
    model: { type: "BPE", dropout: null, unk_token: null, continuing_subword_prefix: "", end_of_word_suffix: "", fuse_unk: false, byte_fallback: false, vocab, merges },
  };
}

export function qwen2TokenizerConfig(): Json {
  const decoder: Record<string, Json> = {};
  for (const { id, content } of QWEN2_VL_SPECIAL_TOKENS) {
    decoder[String(id)] = { content, lstrip: false, normalized: false, rstrip: false, single_word: false, special: true };
  }
  return {
    add_prefix_space: false,
    added_tokens_decoder: decoder,
    additional_special_tokens: QWEN2_VL_SPECIAL_TOKENS.slice(1).map((t) => t.content),
    bos_token: null,
    chat_template: QWEN2_VL_CHAT_TEMPLATE,
    clean_up_tokenization_spaces: false,
    eos_token: "<|im_end|>",
    errors: "replace",
    model_max_length: 32768,
    pad_token: "<|endoftext|>",
    padding_side: "left",
    processor_class: "Qwen2VLProcessor",
    split_special_tokens: false,
    tokenizer_class: "Qwen2Tokenizer",
    unk_token: null,
  };
}

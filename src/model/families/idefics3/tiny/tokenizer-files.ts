/**
 * Tokenizer files for a generated model when the real SmolVLM tokenizer is not available.
 *
 * The fallback `tokenizer.json` is a small byte-level BPE (the 256 byte symbols and a few merges),
 * but its added special tokens, their ids, the pre-tokenizer, decoder and the chat template are the
 * published SmolVLM-256M ones, so prompt rendering and `<image>` expansion behave the same; only the
 * ids of ordinary text differ.
 */
import { addMergeChains, byteLevelAlphabet } from "../../../onnx-build/byte-level-bpe.js";
import { PUBLISHED_CHAT_TEMPLATE } from "./published-configs.js";

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** Ids 3..16 of the published tokenizer (StarCoder-style specials kept by SmolLM2). */
const LOW_SPECIALS = [
  "<|endoftext|>",
  "<|im_start|>",
  "<|im_end|>",
  "<repo_name>",
  "<reponame>",
  "<file_sep>",
  "<filename>",
  "<gh_stars>",
  "<issue_start>",
  "<issue_comment>",
  "<issue_closed>",
  "<jupyter_start>",
  "<jupyter_text>",
  "<jupyter_code>",
  "<jupyter_output>",
  "<jupyter_script>",
  "<empty_output>",
];

export const IMAGE_TOKEN_ID = 49190;
export const VOCAB_SIZE = 49280;

/** The SmolVLM-256M added tokens at ids 49152..49279, in id order. */
export function smolvlmImageSpecials(): { id: number; content: string }[] {
  const tokens: { id: number; content: string }[] = [{ id: 49152, content: "<global-img>" }];
  for (let r = 1; r <= 6; r++) {
    for (let c = 1; c <= 6; c++) tokens.push({ id: 49153 + 6 * (r - 1) + (c - 1), content: `<row_${r}_col_${c}>` });
  }
  tokens.push({ id: 49189, content: "<fake_token_around_image>" });
  tokens.push({ id: IMAGE_TOKEN_ID, content: "<image>" });
  for (let k = 0; k <= 87; k++) tokens.push({ id: 49191 + k, content: `<|reserved_special_token_${k}|>` });
  tokens.push({ id: 49279, content: "<end_of_utterance>" });
  return tokens;
}

/** Every added (special) token of the published tokenizer, in id order. */
export function allSpecialTokens(): { id: number; content: string }[] {
  return [...LOW_SPECIALS.map((content, id) => ({ id, content })), ...smolvlmImageSpecials()];
}

/** Words that get merge chains in the fallback BPE ('Ġ' is the byte-level space). */
const FALLBACK_WORDS = [
  "User", "Assistant", "ĠWhat", "Ġis", "Ġin", "Ġthis", "Ġthe", "Ġimage", "Ġa", "Ġof", "Ġand", "Ġcolor",
  "Ġshape", "Ġobject", "ĠDescribe", "ĠAnswer", "Ġwith", "Ġone", "Ġword", "ĠThe", "ĠIs", "Ġthere", "ĠĠ", "ĊĊ",
];

export function fallbackTokenizerJson(): Json {
  const vocab: Record<string, number> = {};
  for (const { id, content } of allSpecialTokens()) if (id < 17) vocab[content] = id;
  let nextId = 17;
  for (const ch of byteLevelAlphabet()) vocab[ch] = nextId++;
  const merges = addMergeChains(vocab, FALLBACK_WORDS, nextId);
  return {
    version: "1.0",
    truncation: null,
    padding: null,
    added_tokens: allSpecialTokens().map(({ id, content }) => ({
      id,
      content,
      single_word: false,
      lstrip: false,
      rstrip: false,
      normalized: false,
      special: true,
    })),
    normalizer: null,
    pre_tokenizer: {
      type: "Sequence",
      pretokenizers: [
        { type: "Digits", individual_digits: true },
        { type: "ByteLevel", add_prefix_space: false, trim_offsets: true, use_regex: true },
      ],
    },
    post_processor: null,
    decoder: { type: "ByteLevel", add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: {
      type: "BPE",
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: false,
      vocab,
      merges,
    },
  };
}

/** tokenizer_config.json with the published fields and values. */
export function fallbackTokenizerConfigJson(): Json {
  const decoder: Record<string, Json> = {};
  for (const { id, content } of allSpecialTokens()) {
    decoder[String(id)] = { content, lstrip: false, normalized: false, rstrip: false, single_word: false, special: true };
  }
  return {
    add_prefix_space: false,
    added_tokens_decoder: decoder,
    additional_special_tokens: ["<fake_token_around_image>", "<image>", "<end_of_utterance>"],
    bos_token: "<|im_start|>",
    chat_template: PUBLISHED_CHAT_TEMPLATE,
    clean_up_tokenization_spaces: false,
    eos_token: "<end_of_utterance>",
    legacy: false,
    model_max_length: 8192,
    pad_token: "<|im_end|>",
    processor_class: "Idefics3Processor",
    tokenizer_class: "GPT2Tokenizer",
    truncation_side: "left",
    unk_token: "<|endoftext|>",
    vocab_size: VOCAB_SIZE,
  };
}

/** added_tokens.json: the tokens above the base vocabulary, keys sorted as the published file. */
export function fallbackAddedTokensJson(): Json {
  const entries = smolvlmImageSpecials()
    .map(({ id, content }) => [content, id] as const)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return Object.fromEntries(entries);
}

export function chatTemplateJson(): Json {
  return { chat_template: PUBLISHED_CHAT_TEMPLATE };
}

import { Tokenizer } from "@huggingface/tokenizers";
import { BoundedTemplate } from "./bounded-template.js";
import { ModelFileError, ModelInputError } from "./errors.js";
import type { Json } from "./families/types.js";

/** Stands for the user's text while the template renders, so that text never passes through the template. */
const TEXT_SENTINEL = "\u0000sav-user-text\u0000";

export interface ChatPromptOptions {
  chatTemplate: string;
  /** The file the template came from (chat_template.json or tokenizer_config.json), for messages. */
  chatTemplateFile?: string;
  tokenizerJson: Json;
  tokenizerConfig: Json;
}

/**
 * The model's own chat template for one user turn (images, then text) and its tokenizer. The user's text
 * is tokenized as plain text: a chat-control token typed into it (`<|im_start|>`, `<end_of_utterance>`,
 * `<image>` …) becomes ordinary characters, never a special id.
 */
export class ChatPrompt {
  private readonly template: BoundedTemplate;
  private readonly tokenizer: Tokenizer;
  /** The same vocabulary with no special added tokens: what user text with control-token strings is tokenized with. */
  private plainTokenizer?: Tokenizer;
  private readonly options: ChatPromptOptions;
  private readonly specialContents: string[];
  private readonly specialTokens: Record<string, unknown>;

  constructor(options: ChatPromptOptions) {
    this.template = new BoundedTemplate(options.chatTemplate, options.chatTemplateFile ?? "the model's files");
    const added = Array.isArray(options.tokenizerJson.added_tokens) ? (options.tokenizerJson.added_tokens as Json[]) : [];
    try {
      this.tokenizer = new Tokenizer(options.tokenizerJson, options.tokenizerConfig);
    } catch (error) {
      throw new ModelFileError(`tokenizer.json cannot be loaded: ${(error as Error).message}`);
    }
    this.options = options;
    this.specialContents = added.filter((token) => token.special === true).map((token) => String(token.content));
    const config = options.tokenizerConfig;
    this.specialTokens = { bos_token: config.bos_token, eos_token: config.eos_token, pad_token: config.pad_token };
  }

  /** The rendered prompt: one user turn with `imageCount` image items, then the text, and the generation prompt. */
  render(imageCount: number, text: string, extra: Json = {}): string {
    const content: Record<string, string>[] = [];
    for (let i = 0; i < imageCount; i++) content.push({ type: "image" });
    content.push({ type: "text", text });
    return this.template.render({ messages: [{ role: "user", content }], add_generation_prompt: true, ...this.specialTokens, ...extra }, text.length);
  }

  /**
   * Token ids of the rendered prompt with the k-th `placeholder` replaced by `expansions[k]`. Text without
   * special-token strings is tokenized in one piece with the template (exactly what the Python processor
   * does); text with them is tokenized apart, as plain text.
   */
  encode(imageCount: number, text: string, placeholder: string, expansions: readonly string[], extra: Json = {}): number[] {
    if (expansions.length !== imageCount) throw new Error(`${expansions.length} image expansions for ${imageCount} images.`);
    const hasControlText = this.specialContents.some((token) => text.includes(token));
    const rendered = this.render(imageCount, hasControlText ? TEXT_SENTINEL : text, extra);
    const expanded = this.expand(rendered, placeholder, expansions);
    if (!hasControlText) return this.tokenizer.encode(expanded, { add_special_tokens: true }).ids;
    const at = expanded.indexOf(TEXT_SENTINEL);
    if (at < 0 || expanded.indexOf(TEXT_SENTINEL, at + 1) >= 0) {
      throw new ModelInputError("The model's chat template does not place the prompt text exactly once; the text cannot be read as plain text.");
    }
    const before = this.tokenizer.encode(expanded.slice(0, at), { add_special_tokens: true }).ids;
    const user = this.plain().encode(text, { add_special_tokens: false }).ids;
    const after = this.tokenizer.encode(expanded.slice(at + TEXT_SENTINEL.length), { add_special_tokens: false }).ids;
    return [...before, ...user, ...after];
  }

  private expand(rendered: string, placeholder: string, expansions: readonly string[]): string {
    const parts = rendered.split(placeholder);
    if (parts.length - 1 !== expansions.length) {
      throw new Error(`The rendered prompt has ${parts.length - 1} image placeholders for ${expansions.length} images.`);
    }
    let expanded = parts[0]!;
    expansions.forEach((expansion, i) => {
      expanded += expansion + parts[i + 1];
    });
    return expanded;
  }

  private plain(): Tokenizer {
    const { tokenizerJson, tokenizerConfig } = this.options;
    const added = (tokenizerJson.added_tokens as Json[] | undefined) ?? [];
    this.plainTokenizer ??= new Tokenizer(
      { ...tokenizerJson, added_tokens: added.filter((token) => token.special !== true) },
      { ...tokenizerConfig, additional_special_tokens: [] },
    );
    return this.plainTokenizer;
  }

  tokenId(token: string): number | undefined {
    return this.tokenizer.token_to_id(token);
  }
}

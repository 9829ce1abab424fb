/**
 * LLaVA-OneVision prompts. Two styles:
 * - "chat_template" (default): the model's own chat_template.json — `<|im_start|>user\n<image>\n…<|im_end|>\n
 *   <|im_start|>assistant\n`, no system turn. It is what the published repository defines and what
 *   transformers' processor and transformers.js render, so a task means the same as in those tools.
 * - "qwen_1_5": LLaVA-NeXT's `conv_templates["qwen_1_5"]`, which the SAVs reference code used, with the
 *   system turn `You are a helpful assistant.` before the same user turn. Choose it to follow the paper's prompts.
 * Each `<image>` is expanded to exactly as many `<image>` tokens as the packing produced rows.
 */
import { ChatPrompt } from "../../chat-prompt.js";
import { ModelFileError } from "../../errors.js";
import type { ModelDirJson } from "../types.js";

export const IMAGE_TOKEN = "<image>";
export const PROMPT_STYLES = ["chat_template", "qwen_1_5"] as const;
export type PromptStyle = (typeof PROMPT_STYLES)[number];
export const DEFAULT_PROMPT_STYLE: PromptStyle = "chat_template";

/** The qwen_1_5 conversation's system turn, as the converter's own test prompt writes it. */
export const QWEN_1_5_SYSTEM_TURN = "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n";

export class LlavaPrompts {
  private readonly styles: Record<PromptStyle, ChatPrompt>;

  constructor(files: ModelDirJson, imageTokenId: number) {
    // The system turn is literal text ahead of the template: jinja passes it through unchanged.
    const withSystem = { ...files, chatTemplate: QWEN_1_5_SYSTEM_TURN + files.chatTemplate };
    this.styles = { chat_template: new ChatPrompt(files), qwen_1_5: new ChatPrompt(withSystem) };
    const mapped = this.styles.chat_template.tokenId(IMAGE_TOKEN);
    if (mapped !== imageTokenId) {
      throw new ModelFileError(`tokenizer.json maps ${IMAGE_TOKEN} to ${mapped}, but config.json says image_token_index ${imageTokenId}.`);
    }
  }

  /** Token ids of the prompt with image k expanded to rows[k] image tokens. */
  encode(style: PromptStyle, rows: readonly number[], text: string): number[] {
    return this.styles[style].encode(rows.length, text, IMAGE_TOKEN, rows.map((n) => IMAGE_TOKEN.repeat(n)));
  }

  render(style: PromptStyle, imageCount: number, text: string): string {
    return this.styles[style].render(imageCount, text);
  }
}

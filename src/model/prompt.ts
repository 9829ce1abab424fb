import { Template } from "@huggingface/jinja";
import { Tokenizer } from "@huggingface/tokenizers";
import { ModelFileError } from "./model-dir.js";

const IMAGE_TOKEN = "<image>";
const FAKE_TOKEN = "<fake_token_around_image>";
const GLOBAL_IMAGE_TOKEN = "<global-img>";

/** Rows and columns of one image's tiles (0 and 0 for a single global view). */
export interface ImageGrid {
  rows: number;
  cols: number;
}

/** The prompt text that stands for one image, as the Idefics3 processor expands `<image>`. */
export function expandImageToken(grid: ImageGrid, imageSeqLen: number): string {
  const globalBlock = FAKE_TOKEN + GLOBAL_IMAGE_TOKEN + IMAGE_TOKEN.repeat(imageSeqLen) + FAKE_TOKEN;
  if (grid.rows === 0 && grid.cols === 0) return globalBlock;
  let text = "";
  for (let r = 1; r <= grid.rows; r++) {
    for (let c = 1; c <= grid.cols; c++) text += `${FAKE_TOKEN}<row_${r}_col_${c}>${IMAGE_TOKEN.repeat(imageSeqLen)}`;
    text += "\n";
  }
  return `${text}\n${globalBlock}`;
}

export interface PromptBuilderOptions {
  chatTemplate: string;
  tokenizerJson: Record<string, unknown>;
  tokenizerConfig: Record<string, unknown>;
  imageSeqLen: number;
  imageTokenId: number;
}

/** Renders the model's own chat template for one user turn and tokenizes it. */
export class PromptBuilder {
  private readonly template: Template;
  private readonly tokenizer: Tokenizer;
  private readonly specialTokens: Record<string, unknown>;

  constructor(private readonly options: PromptBuilderOptions) {
    try {
      this.template = new Template(options.chatTemplate);
    } catch (error) {
      throw new ModelFileError(`The model's chat template does not parse: ${(error as Error).message}`);
    }
    try {
      this.tokenizer = new Tokenizer(options.tokenizerJson, options.tokenizerConfig);
    } catch (error) {
      throw new ModelFileError(`tokenizer.json cannot be loaded: ${(error as Error).message}`);
    }
    const config = options.tokenizerConfig;
    this.specialTokens = { bos_token: config.bos_token, eos_token: config.eos_token, pad_token: config.pad_token };
    if (this.tokenizer.token_to_id(IMAGE_TOKEN) !== options.imageTokenId) {
      throw new ModelFileError(
        `tokenizer.json maps ${IMAGE_TOKEN} to ${this.tokenizer.token_to_id(IMAGE_TOKEN)}, but config.json says image_token_id ${options.imageTokenId}.`,
      );
    }
  }

  /** The chat-templated prompt, images first and then the text, ending with the generation prompt. */
  render(imageCount: number, text: string): string {
    const content: Record<string, string>[] = [];
    for (let i = 0; i < imageCount; i++) content.push({ type: "image" });
    content.push({ type: "text", text });
    return this.template.render({
      messages: [{ role: "user", content }],
      add_generation_prompt: true,
      ...this.specialTokens,
    });
  }

  /** Token ids of the rendered prompt with each `<image>` expanded for its grid. */
  encode(grids: ImageGrid[], text: string): number[] {
    const rendered = this.render(grids.length, text);
    const parts = rendered.split(IMAGE_TOKEN);
    if (parts.length - 1 !== grids.length) {
      throw new Error(`The rendered prompt has ${parts.length - 1} image placeholders for ${grids.length} images.`);
    }
    let expanded = parts[0];
    grids.forEach((grid, i) => {
      expanded += expandImageToken(grid, this.options.imageSeqLen) + parts[i + 1];
    });
    return this.tokenizer.encode(expanded, { add_special_tokens: true }).ids;
  }

  tokenId(token: string): number | undefined {
    return this.tokenizer.token_to_id(token);
  }
}

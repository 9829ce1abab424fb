/** SmolVLM and SmolVLM2 (Idefics3): SigLIP tiles with pixel shuffle, a Llama decoder with 1-D RoPE. */
import * as ort from "onnxruntime-node";
import { ChatPrompt } from "../../chat-prompt.js";
import { ModelFileError, ModelInputError } from "../../errors.js";
import { floatTensor, readFloats } from "../../tensors.js";
import type { FamilyModel, ImageFeatures, ModelDirJson, ModelFamily, PositionIds, ProcessingOptions, VisionSession } from "../types.js";
import { parseIdefics3Config, type Idefics3Config } from "./config.js";
import { preprocessImage, type PreprocessedImage } from "./image-processor.js";
import { expandImageToken, IMAGE_TOKEN, type ImageGrid } from "./prompt.js";

/** SmolVLM's text models were trained on 8k (256M/500M) and 16k (2.2B) contexts; longer prompts only cost memory. */
const MAX_PROMPT_TOKENS = 8192;

export function oneDimensionalPositions(length: number): PositionIds {
  return { data: Array.from({ length }, (_, i) => i), dims: [1, length] };
}

class Idefics3Model implements FamilyModel<PreprocessedImage, ImageGrid> {
  readonly text;
  readonly imageTokenId;
  readonly randomWeights;
  readonly maxPromptTokens = MAX_PROMPT_TOKENS;
  private readonly prompt: ChatPrompt;
  readonly visionEdit;

  constructor(
    private readonly config: Idefics3Config,
    files: ModelDirJson,
  ) {
    this.text = config.text;
    this.imageTokenId = config.imageTokenId;
    this.randomWeights = config.randomWeights;
    this.prompt = new ChatPrompt(files);
    const tile = config.image.tileSize;
    // encodeImage never pads: every frame is a whole tile, so pixel_attention_mask is always all true.
    this.visionEdit = {
      unpaddedMaskInputs: ["pixel_attention_mask"],
      probe: [
        { name: "pixel_values", type: "float32" as const, dims: [1, 1, 3, tile, tile], fill: "random" as const },
        { name: "pixel_attention_mask", type: "bool" as const, dims: [1, 1, tile, tile], fill: "ones" as const },
      ],
    };
    const mapped = this.prompt.tokenId(IMAGE_TOKEN);
    if (mapped !== config.imageTokenId) {
      throw new ModelFileError(`tokenizer.json maps ${IMAGE_TOKEN} to ${mapped}, but config.json says image_token_id ${config.imageTokenId}.`);
    }
  }

  resolveOptions(input: Readonly<Record<string, unknown>> = {}): ProcessingOptions {
    const unknown = Object.keys(input).filter((key) => key !== "imageSplitting");
    if (unknown.length > 0) {
      throw new ModelInputError(`Unknown processing option(s) ${unknown.join(", ")} for SmolVLM (idefics3) models; the only one is imageSplitting (true or false).`);
    }
    const splitting = input.imageSplitting ?? false;
    if (typeof splitting !== "boolean") throw new ModelInputError("imageSplitting must be true or false.");
    return { imageSplitting: splitting };
  }

  preprocess(bytes: Uint8Array, options: ProcessingOptions, maxPixels: number): Promise<PreprocessedImage> {
    return preprocessImage(bytes, { ...this.config.image, doImageSplitting: options.imageSplitting === true }, maxPixels);
  }

  async encodeImage(vision: VisionSession, image: PreprocessedImage): Promise<ImageFeatures<ImageGrid>> {
    const tile = this.config.image.tileSize;
    const pixelType = vision.inputs.get("pixel_values")?.type ?? "float32";
    const feeds: Record<string, ort.Tensor> = {
      pixel_values: floatTensor(image.pixels, [1, image.frames, 3, tile, tile], pixelType),
    };
    if (vision.inputs.has("pixel_attention_mask")) {
      const mask = new Uint8Array(image.frames * tile * tile).fill(1);
      feeds.pixel_attention_mask = new ort.Tensor("bool", mask, [1, image.frames, tile, tile]);
    }
    const outputs = await vision.run(feeds);
    const values = readFloats(outputs[vision.outputNames[0]!]!);
    const rows = image.frames * this.config.imageSeqLen;
    if (values.length !== rows * this.text.hiddenSize) {
      throw new Error(
        `vision_encoder returned ${values.length} values for ${image.frames} frame(s); expected frames × image_seq_len × hidden = ${rows * this.text.hiddenSize}.`,
      );
    }
    return { features: values, rows, layout: { rows: image.rows, cols: image.cols } };
  }

  promptIds(layouts: readonly ImageGrid[], text: string): number[] {
    const expansions = layouts.map((grid) => expandImageToken(grid, this.config.imageSeqLen));
    return this.prompt.encode(layouts.length, text, IMAGE_TOKEN, expansions);
  }

  positionIds(inputIds: readonly number[]): PositionIds {
    return oneDimensionalPositions(inputIds.length);
  }
}

export const idefics3Family: ModelFamily = {
  id: "idefics3",
  modelTypes: ["idefics3", "smolvlm"],
  components: { vision: "vision_encoder", embed: "embed_tokens", decoder: "decoder_model_merged" },
  load: (files) => new Idefics3Model(parseIdefics3Config(files), files),
};

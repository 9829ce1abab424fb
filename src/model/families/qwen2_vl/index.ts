/**
 * Qwen2-VL (`model_type: qwen2_vl`): dynamic-resolution patches with a 2×2 PatchMerger, a Qwen2 decoder with
 * multimodal RoPE (position_ids [3, 1, S]). One image per vision-encoder call (the export traces one image);
 * several images are encoded one by one and concatenated in prompt order by the runner.
 */
import { ChatPrompt } from "../../chat-prompt.js";
import { ModelFileError, ModelInputError } from "../../errors.js";
import { decodeRgb } from "../../image.js";
import { floatTensor, int64Tensor, readFloats } from "../../tensors.js";
import type { FamilyModel, ImageFeatures, ModelDirJson, ModelFamily, PositionIds, ProcessingOptions, VisionSession } from "../types.js";
import { parseQwen2VLConfig, type Qwen2VLConfig } from "./config.js";
import { DEFAULT_MAX_PIXELS, imageTokenCount, processRgb, type Qwen2VLPixels } from "./image-processor.js";
import { ropeIndex } from "./rope-index.js";

export const IMAGE_PAD = "<|image_pad|>";
export const VISION_START = "<|vision_start|>";
export const VISION_END = "<|vision_end|>";
/** The vision encoder's grid input in Qwen2-VL exports (Qwen2.5-VL and later call it image_grid_thw). */
export const GRID_INPUT = "grid_thw";

/** One image's patch grid (t, h, w): what its prompt expansion and M-RoPE positions need. */
export interface Qwen2VLLayout {
  grid: [number, number, number];
}

/** The prompt text that stands for one image's pads: t·h·w / merge² copies of `<|image_pad|>`. */
export function expandImagePad(grid: readonly [number, number, number], mergeSize: number): string {
  return IMAGE_PAD.repeat(imageTokenCount(grid, mergeSize));
}

class Qwen2VLModel implements FamilyModel<Qwen2VLPixels, Qwen2VLLayout> {
  readonly text;
  readonly imageTokenId;
  readonly randomWeights;
  readonly maxPromptTokens;
  private readonly prompt: ChatPrompt;
  private readonly defaultMaxPixels: number;
  private readonly minBudget: number;
  /** No mask input (one image per run attends to all its patches): attention fusion only, verified on a 2×2-merge grid. */
  readonly visionEdit;

  constructor(
    private readonly config: Qwen2VLConfig,
    files: ModelDirJson,
  ) {
    this.text = config.text;
    this.imageTokenId = config.imageTokenId;
    this.randomWeights = config.randomWeights;
    this.maxPromptTokens = config.maxPositions;
    this.prompt = new ChatPrompt(files);
    for (const [token, id, key] of [
      [IMAGE_PAD, config.imageTokenId, "image_token_id"],
      [VISION_START, config.visionStartTokenId, "vision_start_token_id"],
      [VISION_END, config.visionEndTokenId, "vision_end_token_id"],
    ] as const) {
      const mapped = this.prompt.tokenId(token);
      if (mapped !== id) throw new ModelFileError(`tokenizer.json maps ${token} to ${mapped}, but config.json says ${key} ${id}.`);
    }
    const side = 2 * config.mergeSize;
    const patchLength = 3 * config.image.temporalPatchSize * config.image.patchSize * config.image.patchSize;
    this.visionEdit = {
      unpaddedMaskInputs: [],
      probe: [
        { name: "pixel_values", type: "float32" as const, dims: [side * side, patchLength], fill: "random" as const },
        { name: GRID_INPUT, type: "int64" as const, dims: [1, 3], fill: "values" as const, values: [1, side, side] },
      ],
    };
    const factor = config.image.patchSize * config.mergeSize;
    this.minBudget = Math.max(config.image.minPixels, factor * factor);
    this.defaultMaxPixels = Math.max(Math.min(DEFAULT_MAX_PIXELS, config.image.maxPixels), this.minBudget);
  }

  /** `maxPixels`: the resized image's pixel budget (tokens ≈ maxPixels / 784); recorded per task so examples and queries match. */
  resolveOptions(input: Readonly<Record<string, unknown>> = {}): ProcessingOptions {
    const unknown = Object.keys(input).filter((key) => key !== "maxPixels");
    if (unknown.length > 0) {
      throw new ModelInputError(`Unknown processing option(s) ${unknown.join(", ")} for Qwen2-VL models; the only one is maxPixels (an integer from ${this.minBudget} to ${this.config.image.maxPixels}, default ${this.defaultMaxPixels}).`);
    }
    const maxPixels = input.maxPixels ?? this.defaultMaxPixels;
    if (typeof maxPixels !== "number" || !Number.isInteger(maxPixels) || maxPixels < this.minBudget || maxPixels > this.config.image.maxPixels) {
      throw new ModelInputError(
        `maxPixels must be an integer from ${this.minBudget} to ${this.config.image.maxPixels} (got ${JSON.stringify(maxPixels)}); the default ${this.defaultMaxPixels} gives at most ${this.defaultMaxPixels / 784} image tokens.`,
      );
    }
    return { maxPixels };
  }

  async preprocess(bytes: Uint8Array, options: ProcessingOptions, decodeLimit: number): Promise<Qwen2VLPixels> {
    const image = await decodeRgb(bytes, decodeLimit);
    return processRgb({ data: image.data, width: image.width, height: image.height }, this.config.image, Number(options.maxPixels ?? this.defaultMaxPixels));
  }

  async encodeImage(vision: VisionSession, image: Qwen2VLPixels): Promise<ImageFeatures<Qwen2VLLayout>> {
    if (!vision.inputs.has("pixel_values") || !vision.inputs.has(GRID_INPUT)) {
      throw new ModelFileError(
        `The vision encoder's inputs are ${[...vision.inputs.keys()].join(", ") || "none"}; a Qwen2-VL export takes pixel_values and ${GRID_INPUT}. The vision_encoder graph does not belong to a Qwen2-VL model; re-download the model.`,
      );
    }
    const pixelType = vision.inputs.get("pixel_values")?.type ?? "float32";
    const outputs = await vision.run({
      pixel_values: floatTensor(image.pixelValues, [image.patches, image.patchLength], pixelType),
      [GRID_INPUT]: int64Tensor(image.grid, [1, 3]),
    });
    const features = readFloats(outputs[vision.outputNames[0]!]!);
    const rows = imageTokenCount(image.grid, this.config.mergeSize);
    if (features.length !== rows * this.text.hiddenSize) {
      throw new Error(`vision_encoder returned ${features.length} values for grid [${image.grid.join(", ")}]; expected patches / merge² × hidden = ${rows * this.text.hiddenSize}.`);
    }
    return { features, rows, layout: { grid: image.grid } };
  }

  promptIds(layouts: readonly Qwen2VLLayout[], text: string): number[] {
    return this.prompt.encode(layouts.length, text, IMAGE_PAD, layouts.map((layout) => expandImagePad(layout.grid, this.config.mergeSize)));
  }

  positionIds(inputIds: readonly number[], layouts: readonly Qwen2VLLayout[]): PositionIds {
    const { positions } = ropeIndex(inputIds, layouts.map((layout) => layout.grid), this.config.mergeSize, {
      imageTokenId: this.config.imageTokenId,
      visionStartTokenId: this.config.visionStartTokenId,
    });
    return { data: positions, dims: [3, 1, inputIds.length] };
  }
}

export const qwen2VLFamily: ModelFamily = {
  id: "qwen2_vl",
  modelTypes: ["qwen2_vl"],
  components: { vision: "vision_encoder", embed: "embed_tokens", decoder: "decoder_model_merged" },
  load: (files) => new Qwen2VLModel(parseQwen2VLConfig(files), files),
};

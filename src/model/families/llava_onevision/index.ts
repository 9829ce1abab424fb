/**
 * LLaVA-OneVision (llava-hf llava-onevision-qwen2-*-hf): SigLIP-384 crops through the published vision encoder,
 * a Qwen2 decoder with 1-D RoPE. Two image paths:
 * - "anyres" (the SAVs paper's, default when image_newline.json is beside the model): base view + best-pinpoint
 *   grid crops, packed here as pack_image_features does (unpad, pool to anyres_max_N, newline rows);
 * - "single": one squashed 384² view, the rows exactly as the encoder returns them (what transformers.js feeds).
 * Several images in one prompt follow the Python processor: each padded to a square, one crop plus a newline.
 */
import { ModelFileError, ModelInputError } from "../../errors.js";
import { readStoredTensor } from "../../registry/safetensors-range.js";
import { floatTensor, readFloats } from "../../tensors.js";
import type { FamilyModel, ImageFeatures, ModelDirJson, ModelFamily, PositionIds, ProcessingOptions, VisionSession } from "../types.js";
import { IMAGE_NEWLINE_FILE, parseLlavaOnevisionConfig, type LlavaOnevisionConfig } from "./config.js";
import { prepareImage, type CropMode, type PreparedImage } from "./image-processor.js";
import { packAnyres, packLayout, packSingleCrop, splitEmbeddedNewline, type CropFeatures } from "./packing.js";
import { DEFAULT_PROMPT_STYLE, LlavaPrompts, PROMPT_STYLES, type PromptStyle } from "./prompt.js";

export const IMAGE_PATHS = ["anyres", "single"] as const;
export type ImagePath = (typeof IMAGE_PATHS)[number];
/** Qwen2's trained context (max_position_embeddings); one anyres image is at most ~7.4k rows. */
const MAX_PROMPT_TOKENS = 32768;
/** Set by `imageOptions` for prompts with several images (square padding, one crop each); not a task option. */
const SEVERAL_IMAGES = "severalImages";

export interface LlavaLayout {
  mode: CropMode;
  crops: number;
  rows: number;
  /** anyres only: grid crops and the feature map after unpadding and pooling, (height, width). */
  grid?: [number, number];
  unpadded?: [number, number];
  pooled?: [number, number];
}

function concat(parts: Float32Array[]): Float32Array {
  const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

class LlavaOnevisionModel implements FamilyModel<PreparedImage, LlavaLayout> {
  readonly text;
  readonly imageTokenId;
  readonly randomWeights;
  readonly maxPromptTokens = MAX_PROMPT_TOKENS;
  private readonly prompts: LlavaPrompts;
  private readonly newline: Float32Array | null;
  /** SigLIP without a mask: only attention fusion applies; verified on one crop of the graph's own shape. */
  readonly visionEdit = { unpaddedMaskInputs: [], probe: [{ name: "pixel_values", type: "float32" as const, fill: "random" as const }] };

  constructor(
    private readonly config: LlavaOnevisionConfig,
    private readonly dir: string,
    files: ModelDirJson,
  ) {
    this.text = config.text;
    this.imageTokenId = config.imageTokenId;
    this.randomWeights = config.randomWeights;
    this.prompts = new LlavaPrompts(files, config.imageTokenId);
    let stored;
    try {
      stored = readStoredTensor(dir, IMAGE_NEWLINE_FILE);
    } catch (error) {
      throw new ModelFileError((error as Error).message);
    }
    if (stored && stored.values.length !== config.text.hiddenSize) {
      throw new ModelFileError(`${dir}/${IMAGE_NEWLINE_FILE} has ${stored.values.length} values; the text model is ${config.text.hiddenSize} wide. Delete it and pull the model again.`);
    }
    this.newline = stored ? Float32Array.from(stored.values) : null;
  }

  resolveOptions(input: Readonly<Record<string, unknown>> = {}): ProcessingOptions {
    const unknown = Object.keys(input).filter((key) => key !== "imagePath" && key !== "promptStyle");
    if (unknown.length > 0) {
      throw new ModelInputError(
        `Unknown processing option(s) ${unknown.join(", ")} for LLaVA-OneVision models; the options are imagePath (${IMAGE_PATHS.join(" or ")}) and promptStyle (${PROMPT_STYLES.join(" or ")}).`,
      );
    }
    const imagePath = input.imagePath ?? (this.newline ? "anyres" : "single");
    if (!IMAGE_PATHS.includes(imagePath as ImagePath)) throw new ModelInputError(`imagePath must be ${IMAGE_PATHS.map((p) => `"${p}"`).join(" or ")}.`);
    if (imagePath === "anyres" && !this.newline) {
      throw new ModelInputError(
        `The anyres image path needs the learned image_newline vector, and ${this.dir} has no ${IMAGE_NEWLINE_FILE} ` +
          "(models pull fetches it from the repository's model.safetensors; it could not be had). Pull the model again when online, or use imagePath \"single\".",
      );
    }
    const promptStyle = input.promptStyle ?? DEFAULT_PROMPT_STYLE;
    if (!PROMPT_STYLES.includes(promptStyle as PromptStyle)) throw new ModelInputError(`promptStyle must be ${PROMPT_STYLES.map((s) => `"${s}"`).join(" or ")}.`);
    return { imagePath: imagePath as string, promptStyle: promptStyle as string };
  }

  imageOptions(options: ProcessingOptions, imageCount: number): ProcessingOptions {
    return imageCount > 1 && options.imagePath === "anyres" ? { ...options, [SEVERAL_IMAGES]: true } : options;
  }

  preprocess(bytes: Uint8Array, options: ProcessingOptions, maxPixels: number): Promise<PreparedImage> {
    const mode: CropMode = options.imagePath !== "anyres" ? "single" : options[SEVERAL_IMAGES] === true ? "square" : "anyres";
    return prepareImage(bytes, mode, this.config.image, this.config.pinpoints, maxPixels);
  }

  /** Runs every crop through the encoder: batched when its batch axis is free, one crop per run when it is fixed. */
  private async runCrops(vision: VisionSession, image: PreparedImage): Promise<CropFeatures> {
    const size = image.cropSize;
    const meta = vision.inputs.get("pixel_values");
    if (!meta) throw new ModelFileError(`vision_encoder has no pixel_values input (inputs: ${[...vision.inputs.keys()].join(", ")}).`);
    const rank5 = meta.shape.length === 5;
    const batchFixed = meta.shape[rank5 ? 1 : 0] === 1;
    const plane = 3 * size * size;
    const runs = batchFixed ? image.crops : 1;
    const perRun = image.crops / runs;
    const parts: Float32Array[] = [];
    for (let run = 0; run < runs; run++) {
      const pixels = image.pixels.subarray(run * perRun * plane, (run + 1) * perRun * plane);
      const dims = rank5 ? [1, perRun, 3, size, size] : [perRun, 3, size, size];
      const outputs = await vision.run({ pixel_values: floatTensor(pixels, dims, meta.type) });
      parts.push(readFloats(outputs[vision.outputNames[0]!]!));
    }
    const data = parts.length === 1 ? parts[0]! : concat(parts);
    const hidden = this.text.hiddenSize;
    const rowsPerCrop = data.length / (image.crops * hidden);
    if (!Number.isInteger(rowsPerCrop)) {
      throw new Error(`vision_encoder returned ${data.length} values for ${image.crops} crop(s), not a whole number of ${hidden}-wide rows per crop.`);
    }
    return { data, crops: image.crops, rowsPerCrop, hidden };
  }

  /** The newline row: the encoder's own when it emits one (checked against the stored copy), else the stored one. */
  private newlineFor(embedded: Float32Array | undefined): Float32Array {
    if (embedded && this.newline) {
      const differs = embedded.some((v, i) => Math.abs(v - this.newline![i]!) > 1e-3 * Math.max(1, Math.abs(v)));
      if (differs) throw new ModelFileError(`The vision encoder's newline row differs from ${IMAGE_NEWLINE_FILE}: they are from different models. Delete ${IMAGE_NEWLINE_FILE} and pull again.`);
    }
    const newline = embedded ?? this.newline;
    if (!newline) throw new ModelInputError(`The anyres image path needs ${IMAGE_NEWLINE_FILE} beside the model; pull the model again or use imagePath "single".`);
    return newline;
  }

  async encodeImage(vision: VisionSession, image: PreparedImage): Promise<ImageFeatures<LlavaLayout>> {
    const crops = await this.runCrops(vision, image);
    const hidden = this.text.hiddenSize;
    if (image.mode === "single") {
      const rows = crops.crops * crops.rowsPerCrop;
      return { features: crops.data, rows, layout: { mode: "single", crops: crops.crops, rows } };
    }
    const { grid, newline: embedded } = splitEmbeddedNewline(crops, this.config.featureSide);
    const newline = this.newlineFor(embedded);
    if (image.mode === "square") {
      const features = packSingleCrop(grid, newline);
      return { features, rows: features.length / hidden, layout: { mode: "square", crops: 1, rows: features.length / hidden } };
    }
    const plan = image.plan!;
    const layout = packLayout(image.original, plan.gridRows, plan.gridCols, this.config.featureSide, this.config.maxCrops);
    const features = packAnyres(grid, layout, newline);
    return {
      features,
      rows: layout.rows,
      layout: {
        mode: "anyres",
        crops: image.crops,
        rows: layout.rows,
        grid: [plan.gridRows, plan.gridCols],
        unpadded: [layout.unpadded.height, layout.unpadded.width],
        pooled: [layout.pooled.height, layout.pooled.width],
      },
    };
  }

  promptIds(layouts: readonly LlavaLayout[], text: string, options: ProcessingOptions): number[] {
    const style = (options.promptStyle as PromptStyle | undefined) ?? DEFAULT_PROMPT_STYLE;
    return this.prompts.encode(style, layouts.map((layout) => layout.rows), text);
  }

  positionIds(inputIds: readonly number[]): PositionIds {
    return { data: Array.from({ length: inputIds.length }, (_, i) => i), dims: [1, inputIds.length] };
  }
}

export const llavaOnevisionFamily: ModelFamily = {
  id: "llava_onevision",
  modelTypes: ["llava_onevision"],
  components: { vision: "vision_encoder", embed: "embed_tokens", decoder: "decoder_model_merged" },
  featureFiles: [IMAGE_NEWLINE_FILE],
  load: (files) => new LlavaOnevisionModel(parseLlavaOnevisionConfig(files.config, files.preprocessor), files.dir, files),
};

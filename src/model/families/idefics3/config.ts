import { ModelFileError } from "../../errors.js";
import { numberField, objectField, parseTextConfig, pixelNormalization, sizeField } from "../config-fields.js";
import type { Json, ModelDirJson, TextModelConfig } from "../types.js";
import type { Idefics3ImageConfig } from "./image-processor.js";

export interface Idefics3Config {
  text: TextModelConfig;
  imageTokenId: number;
  scaleFactor: number;
  vision: { imageSize: number; patchSize: number; hiddenSize: number };
  /** Tokens per image frame: (imageSize / patchSize)^2 / scaleFactor^2. */
  imageSeqLen: number;
  image: Idefics3ImageConfig;
  randomWeights: boolean;
}

/** Largest image side a config may ask for: the published SmolVLMs resize to 2048 and tile at 512. */
const MAX_IMAGE_EDGE = 8192;

export function parseIdefics3Config(files: Pick<ModelDirJson, "config" | "preprocessor" | "processor">): Idefics3Config {
  const { config: configJson, preprocessor, processor } = files;
  const file = "config.json";
  const text = objectField(configJson, "text_config", file);
  const vision = objectField(configJson, "vision_config", file);
  const textConfig = parseTextConfig(text, file, numberField(configJson, "vocab_size", file, 1));
  const imageSize = sizeField(vision, "image_size", file, MAX_IMAGE_EDGE);
  const patchSize = sizeField(vision, "patch_size", file, imageSize);
  const scaleFactor = sizeField(configJson, "scale_factor", file, 64);
  const computedSeqLen = (imageSize / patchSize) ** 2 / scaleFactor ** 2;
  const imageSeqLen = numberField(processor, "image_seq_len", "processor_config.json", computedSeqLen);
  if (imageSeqLen !== computedSeqLen) {
    throw new ModelFileError(
      `processor_config.json image_seq_len ${imageSeqLen} does not match (image_size/patch_size)^2/scale_factor^2 = ${computedSeqLen}.`,
    );
  }
  const pre = "preprocessor_config.json";
  const maxImage = objectField(preprocessor, "max_image_size", pre);
  const size = (preprocessor.size ?? {}) as Json;
  const tileSize = sizeField(maxImage, "longest_edge", pre, MAX_IMAGE_EDGE);
  const generated = configJson.sav_mcp_generated as Json | undefined;
  return {
    text: textConfig,
    imageTokenId: numberField(configJson, "image_token_id", file),
    scaleFactor,
    vision: { imageSize, patchSize, hiddenSize: numberField(vision, "hidden_size", file) },
    imageSeqLen,
    image: {
      resizeLongestEdge: sizeField(size, "longest_edge", pre, MAX_IMAGE_EDGE, tileSize * 4),
      tileSize,
      ...pixelNormalization(preprocessor, pre),
      doImageSplitting: false,
    },
    randomWeights: generated?.random_weights === true,
  };
}

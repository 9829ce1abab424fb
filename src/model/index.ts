export { createExtractor, ModelRunner, ExtractionAbortedError, truncatedDepth, type ModelRef, type RunnerOptions } from "./runner.js";
export { DEFAULT_LANE, FairQueue, type FairQueueOptions } from "./fair-queue.js";
export { inspectImage, ImageError, SUPPORTED_FORMATS, type ImageInfo, type ImageLimits } from "./image.js";
export { loadModelFiles, readModelDirJson, type ModelFiles } from "./model-dir.js";
export { ModelFileError, ModelInputError } from "./errors.js";
export { DTYPE_SUFFIX, DTYPES, type Dtype } from "./onnx-files.js";
export { FAMILIES, familyById, familyForModelType } from "./families/index.js";
export { GraphEditError, findHeadTaps, editDecoder, HEAD_VECTORS_OUTPUT } from "./graph.js";
export type * from "./types.js";

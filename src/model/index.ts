export { createExtractor, Idefics3Runner, ExtractionAbortedError, type ModelRef, type RunnerOptions } from "./runner.js";
export { inspectImage, preprocessImage, ImageError, SUPPORTED_FORMATS, type ImageInfo, type ImageLimits } from "./image.js";
export { loadModelFiles, ModelFileError, ONNX_COMPONENTS, DTYPE_SUFFIXES, type OnnxComponent, type ComponentDtypes } from "./model-dir.js";
export { GraphEditError, findHeadTaps, editDecoder, HEAD_VECTORS_OUTPUT } from "./graph.js";
export type * from "./types.js";

import type { Idefics3ImageConfig } from "../../src/model/families/idefics3/image-processor.js";

/** The Idefics3 image-processor settings of SmolVLM's preprocessor_config.json, at a small test size unless overridden. */
export function idefics3Config(overrides: Partial<Idefics3ImageConfig> = {}): Idefics3ImageConfig {
  return {
    resizeLongestEdge: 256,
    tileSize: 64,
    doResize: true,
    doRescale: true,
    rescaleFactor: 1 / 255,
    doNormalize: true,
    imageMean: [0.5, 0.5, 0.5],
    imageStd: [0.5, 0.5, 0.5],
    doImageSplitting: false,
    ...overrides,
  };
}

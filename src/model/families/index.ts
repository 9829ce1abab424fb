/** The model families sav-mcp reads, keyed by config.json `model_type`. Adding a family is one line here. */
import { ModelFileError } from "../errors.js";
import { idefics3Family } from "./idefics3/index.js";
import { llavaOnevisionFamily } from "./llava_onevision/index.js";
import { qwen2VLFamily } from "./qwen2_vl/index.js";
import type { ModelFamily } from "./types.js";

export const FAMILIES: readonly ModelFamily[] = [idefics3Family, qwen2VLFamily, llavaOnevisionFamily];

export function familyById(id: string): ModelFamily | undefined {
  return FAMILIES.find((family) => family.id === id);
}

/** The family for a config.json `model_type`, or an error naming the supported ones. */
export function familyForModelType(modelType: string): ModelFamily {
  const family = FAMILIES.find((f) => f.modelTypes.includes(modelType));
  if (family) return family;
  const supported = FAMILIES.map((f) => `${f.modelTypes.join("/")} (${f.id})`).join(", ");
  throw new ModelFileError(`config.json model_type is "${modelType}"; supported model types: ${supported}.`);
}

export type * from "./types.js";

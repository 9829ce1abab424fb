import path from "node:path";
import { packageRoot } from "../../../package-root.js";

export const TINY_LLAVA_ONEVISION_ID = "tiny-llava-onevision";

/** `<package root>/models/tiny-llava-onevision`, where the tests' generated LLaVA-OneVision lives. */
export function defaultTinyLlavaOnevisionDir(): string {
  return path.join(packageRoot(), "models", TINY_LLAVA_ONEVISION_ID);
}

import path from "node:path";
import { packageRoot } from "../../../package-root.js";

/** `<package root>/models/generated/tiny-qwen2-vl`, where tests and `models pull tiny-qwen2-vl` put it. */
export function defaultTinyQwen2VLDir(): string {
  return path.join(packageRoot(), "models", "generated", "tiny-qwen2-vl");
}

import path from "node:path";
import { packageRoot } from "../../../package-root.js";

/** `<package root>/models/tiny-qwen2-vl`, where the tests' generated Qwen2-VL lives (users' go under their models dir). */
export function defaultTinyQwen2VLDir(): string {
  return path.join(packageRoot(), "models", "tiny-qwen2-vl");
}

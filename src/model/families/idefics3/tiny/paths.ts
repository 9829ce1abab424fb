import { existsSync } from "node:fs";
import path from "node:path";
import { packageRoot } from "../../../package-root.js";

/** `<package root>/models/tiny-smolvlm`, where the tests and the offline default model live. */
export function defaultTinyModelDir(): string {
  return path.join(packageRoot(), "models", "tiny-smolvlm");
}

/** The real SmolVLM-256M-Instruct files (configs, tokenizer; no weights) next to the repository, if present. */
export function detectSharedModelDir(): string | null {
  const candidate = path.resolve(packageRoot(), "..", "shared", "models", "smolvlm-256m-instruct");
  return existsSync(path.join(candidate, "tokenizer.json")) && existsSync(path.join(candidate, "config.json")) ? candidate : null;
}

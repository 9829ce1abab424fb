import { existsSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
/** Files copied from the published SmolVLM-256M-Instruct repository; absent on a user's clone. */
export const sharedModelDir = path.resolve(repoRoot, "../shared/models/smolvlm-256m-instruct");
export const hasShared = existsSync(path.join(sharedModelDir, "tokenizer.json"));
export const tinyModelDir = path.join(repoRoot, "models/tiny-smolvlm");
if (!hasShared) console.warn(`[skip] ${sharedModelDir} is absent: tests against the published SmolVLM files are skipped.`);
export const repoModelsDir = path.join(repoRoot, "models");

import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const PACKAGE_NAME = "sav-mcp";

/** The directory holding this package's package.json (works from src/ under tsx and from dist/). */
export function packageRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const manifest = path.join(dir, "package.json");
    if (existsSync(manifest)) {
      try {
        const parsed = JSON.parse(readFileSync(manifest, "utf8")) as { name?: unknown };
        if (parsed.name === PACKAGE_NAME) return dir;
      } catch {
        // An unreadable package.json on the way up is not ours; keep looking.
      }
    }
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error(`cannot find the ${PACKAGE_NAME} package root above ${fileURLToPath(import.meta.url)}`);
    dir = parent;
  }
}

/** `<package root>/models/tiny-smolvlm`, where the tests and the offline default model live. */
export function defaultTinyModelDir(): string {
  return path.join(packageRoot(), "models", "tiny-smolvlm");
}

/** The real SmolVLM-256M-Instruct files (configs, tokenizer; no weights) next to the repository, if present. */
export function detectSharedModelDir(): string | null {
  const candidate = path.resolve(packageRoot(), "..", "shared", "models", "smolvlm-256m-instruct");
  return existsSync(path.join(candidate, "tokenizer.json")) && existsSync(path.join(candidate, "config.json")) ? candidate : null;
}

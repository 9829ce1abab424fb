/** Images read from local files, under the server's one path policy (src/server/path-policy.ts). */
import { PathPolicyError, readFileInside, type PathErrorCode } from "../path-policy.js";
import { ImageSourceError, type ImageSourceErrorCode } from "./error.js";

const CODES: Record<PathErrorCode, ImageSourceErrorCode> = {
  "bad-path": "bad-path",
  "no-allowed-dirs": "no-allowed-dirs",
  "path-not-allowed": "path-not-allowed",
  "not-found": "not-found",
  "not-a-file": "not-a-file",
  "too-large": "too-large",
  empty: "empty",
  permission: "permission",
  exists: "not-a-file",
  "not-a-task-file": "not-a-file",
  "disk-full": "not-found",
  "io-error": "not-found",
};

export async function readPathSource(raw: string, allowedDirs: readonly string[], maxImageBytes: number): Promise<{ bytes: Uint8Array; origin: string }> {
  try {
    const { bytes, path } = await readFileInside(raw, allowedDirs, { maxBytes: maxImageBytes, kind: "image" });
    return { bytes, origin: path };
  } catch (error) {
    if (error instanceof PathPolicyError) throw new ImageSourceError(CODES[error.code], error.problem, error.hint);
    throw error;
  }
}

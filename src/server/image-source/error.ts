/** The error every image source kind throws, and helpers shared by the kinds. */
import { formatBytes } from "../path-policy.js";

export { formatBytes, shorten } from "../path-policy.js";

export type ImageSourceErrorCode =
  | "no-allowed-dirs"
  | "bad-path"
  | "permission"
  | "path-not-allowed"
  | "not-found"
  | "not-a-file"
  | "too-large"
  | "empty"
  | "bad-base64"
  | "bad-url"
  | "url-scheme"
  | "private-address"
  | "http-error"
  | "timeout"
  | "redirect-refused";

/** An image that cannot be loaded. `message` says what is wrong and how to recover; `hint` is the recovery part alone. */
export class ImageSourceError extends Error {
  override readonly name = "ImageSourceError";
  readonly code: ImageSourceErrorCode;
  readonly hint: string;

  constructor(code: ImageSourceErrorCode, problem: string, hint: string) {
    super(`${problem} ${hint}`);
    this.code = code;
    this.hint = hint;
  }
}

export function tooLarge(problem: string, max: number): ImageSourceError {
  return new ImageSourceError(
    "too-large",
    `${problem} The limit is ${formatBytes(max)}.`,
    `Send an image of at most ${formatBytes(max)}: resize or recompress it (e.g. JPEG, about 1024 px on the long side).`,
  );
}

export function formatSeconds(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${(ms / 1000).toFixed(1)} s`;
}

/** Images sent inline: base64 (either alphabet) or a data URI. */
import { ImageSourceError, formatBytes, shorten, tooLarge } from "./error.js";

/** Base64 in one alphabet only; mixing +/ with -_ is almost always a corrupted string. */
const STANDARD_BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;
const URL_SAFE_BASE64 = /^[A-Za-z0-9\-_]*={0,2}$/;

export function splitDataUri(raw: string): { payload: string; mime?: string; isDataUri: boolean; base64: boolean } {
  const trimmed = raw.trimStart();
  if (!/^data:/i.test(trimmed)) return { payload: raw, isDataUri: false, base64: true };
  const comma = trimmed.indexOf(",");
  if (comma < 0) return { payload: "", isDataUri: true, base64: false };
  const params = trimmed
    .slice("data:".length, comma)
    .split(";")
    .map((part) => part.trim());
  const mime = params[0] === "" ? undefined : params[0];
  const base64 = params.slice(1).some((part) => part.toLowerCase() === "base64");
  return { payload: trimmed.slice(comma + 1), mime, isDataUri: true, base64 };
}

export function base64Origin(bytes: number, mime: string | undefined): string {
  return `base64${mime ? ` ${shorten(mime, 60)}` : ""} (${bytes} bytes)`;
}

export function decodeDataSource(raw: string, max: number): { bytes: Uint8Array; origin: string } {
  const acceptedForms = 'Send base64 of the file\'s bytes (e.g. "iVBORw0KGgo...") or a data URI ("data:image/png;base64,iVBORw0KGgo...").';
  const { payload, mime, isDataUri, base64 } = splitDataUri(raw);
  if (isDataUri && !raw.includes(",")) {
    throw new ImageSourceError("bad-base64", "The data URI has no comma before its payload.", acceptedForms);
  }
  if (isDataUri && !base64) {
    throw new ImageSourceError(
      "bad-base64",
      `The data URI is not base64-encoded (its header "${shorten(raw.slice(0, raw.indexOf(",")), 80)}" lacks ";base64").`,
      acceptedForms,
    );
  }
  // Even generous whitespace (a line break every few characters) cannot make a small image this long;
  // refusing early avoids scanning a huge string.
  const maxEncoded = 4 * Math.ceil(max / 3);
  if (payload.length > 2 * maxEncoded + 1024) {
    throw tooLarge(`The base64 image data is ${payload.length} characters, more than ${formatBytes(max)} once decoded.`, max);
  }
  const compact = payload.replace(/\s+/g, "");
  if (compact === "") {
    throw new ImageSourceError("empty", `The ${isDataUri ? "data URI" : "base64 data"} holds no bytes.`, acceptedForms);
  }
  if (!STANDARD_BASE64.test(compact) && !URL_SAFE_BASE64.test(compact)) {
    throw new ImageSourceError("bad-base64", describeBase64Problem(compact), base64Hint(raw, acceptedForms));
  }
  const body = compact.replace(/=+$/, "");
  const padded = body.length !== compact.length;
  if ((padded && compact.length % 4 !== 0) || body.length % 4 === 1) {
    throw new ImageSourceError(
      "bad-base64",
      `The base64 data has an impossible length (${compact.length} characters${padded ? " with padding" : ""}); it looks truncated or padded wrongly.`,
      acceptedForms,
    );
  }
  const decodedLength = Math.floor((body.length * 3) / 4);
  if (decodedLength > max) throw tooLarge(`The base64 data decodes to ${formatBytes(decodedLength)}.`, max);
  // Buffer decodes both alphabets; the checks above make sure it skips nothing.
  const bytes = Buffer.from(body, "base64");
  return { bytes, origin: base64Origin(bytes.length, mime) };
}

function describeBase64Problem(compact: string): string {
  const invalid = /[^A-Za-z0-9+/\-_=]/.exec(compact);
  if (invalid) {
    return `The base64 data contains ${JSON.stringify(invalid[0])} at position ${invalid.index}, which is not a base64 character.`;
  }
  const innerPadding = compact.replace(/=+$/, "").indexOf("=");
  if (innerPadding >= 0 || /={3,}$/.test(compact)) {
    return `The base64 data has "=" padding in the wrong place (position ${innerPadding >= 0 ? innerPadding : compact.indexOf("=")}).`;
  }
  return "The base64 data mixes the standard (+ /) and URL-safe (- _) alphabets.";
}

function base64Hint(raw: string, acceptedForms: string): string {
  const trimmed = raw.trim();
  if (/^https?:\/\//i.test(trimmed)) return `This looks like a URL: pass it as {"url": "${shorten(trimmed, 80)}"} instead.`;
  if (/^(file:|\/|\.{1,2}[\\/]|~|[A-Za-z]:[\\/])/.test(trimmed) || /\.(png|jpe?g|webp|gif|avif|tiff?|bmp)$/i.test(trimmed)) {
    return `This looks like a file path: pass it as {"path": "${shorten(trimmed, 80)}"} instead.`;
  }
  return acceptedForms;
}

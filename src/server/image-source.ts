/**
 * Loads the bytes of one image given by an agent as a local path, an http(s) URL, or base64 / a data URI,
 * with the limits that keep a tool call from reading secrets, reaching internal services or exhausting memory.
 * Each kind lives in its own module under ./image-source/; decoding the bytes into pixels (format and pixel
 * limits) is the image decoder's job, not this module's.
 */
import { createHash } from "node:crypto";
import { z } from "zod";
import { base64Origin, decodeDataSource, splitDataUri } from "./image-source/data.js";
import { ImageSourceError, shorten } from "./image-source/error.js";
import { readPathSource } from "./image-source/path.js";
import { readUrlSource, throwIfCancelled, urlForDisplay, type UrlLoading } from "./image-source/url.js";

export { ImageSourceError, type ImageSourceErrorCode } from "./image-source/error.js";
export { MAX_URL_REDIRECTS, resolveRedirectTarget, vetImageUrl, type HostLookup, type ResolvedAddress, type VettedUrl } from "./image-source/url.js";

export type ImageSource = { path: string } | { url: string } | { data: string };

const SOURCE_FIELDS = ["path", "url", "data"] as const;

/** An image as the tools accept it: a plain string (told apart by its form) or an object with one field. */
export type ImageSourceInput = string | ImageSource;

const imageSourceObject = z
  .strictObject(
    {
        // tools/list shows no length rules: an empty value is refused with this message anyway.
      path: z.string().min(1, 'An image "path" cannot be empty.').meta({ minLength: undefined }).optional(),
      url: z.string().min(1, 'An image "url" cannot be empty.').meta({ minLength: undefined }).optional(),
      data: z.string().min(1, 'An image "data" cannot be empty.').meta({ minLength: undefined }).optional(),
    },
    {
      error: (issue) =>
        issue.code === "unrecognized_keys"
          ? `Unknown field(s) ${issue.keys.map((key) => `"${key}"`).join(", ")} in an image source; use exactly one of "path", "url" or "data".`
          : undefined,
    },
  )
  // tools/list leaves out `additionalProperties: false`: the description names the three fields, and others are refused with their names.
  .meta({ additionalProperties: undefined })
  .superRefine((value, ctx) => {
    const given = SOURCE_FIELDS.filter((field) => value[field] !== undefined);
    if (given.length === 0) {
      ctx.addIssue({
        code: "custom",
        message:
          'An image source needs exactly one of "path" (local file), "url" (http/https) or "data" (base64 or data URI); none was given. Example: {"path": "images/cat.jpg"} or just "images/cat.jpg".',
      });
    } else if (given.length > 1) {
      ctx.addIssue({
        code: "custom",
        message: `An image source needs exactly one of "path", "url" or "data", but got ${given.map((field) => `"${field}"`).join(" and ")}. Keep one; to send several images use a list.`,
      });
    }
  });

/**
 * One image source, described once for every tool. The refinement guarantees an object is one of the
 * ImageSource variants, which zod's object type cannot express, hence the cast.
 */
export const imageSourceSchema: z.ZodType<ImageSourceInput> = z
  .union([z.string().min(1, "An image string cannot be empty.").meta({ minLength: undefined }), imageSourceObject], {
    // Report the branch the input was meant for, not "invalid input" for both.
    error: (issue) => {
      if (issue.code !== "invalid_union") return undefined;
      const branch = typeof issue.input === "string" ? 0 : issue.input !== null && typeof issue.input === "object" ? 1 : -1;
      const messages = branch >= 0 ? (issue.errors[branch] ?? []).map((inner) => inner.message) : [];
      return messages.length > 0
        ? messages.join(" ")
        : 'An image is a string (a path, an https:// URL or a data: URI) or an object such as {"path": "images/cat.jpg"}.';
    },
  })
  // Short: tools/list carries it (its budget is in test/server/tool-list.test.ts); errors say the rest (private addresses, redirects).
  .describe('A file path (absolute or relative to an allowed directory), an http(s) URL or a "data:" URI; or {"path"}, {"url"} or {"data": base64}.') as unknown as z.ZodType<ImageSourceInput>;

/** Tells the kinds of a plain string apart: a data URI, a URL with a scheme, or else a path. */
export function toImageSource(source: ImageSourceInput): ImageSource {
  if (typeof source !== "string") return source;
  const trimmed = source.trimStart();
  if (/^data:/i.test(trimmed)) return { data: source };
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(trimmed) && !/^file:/i.test(trimmed)) return { url: source };
  return { path: source };
}

export interface ImageSourceContext extends UrlLoading {
  /** Local paths must resolve (after following symbolic links) inside one of these directories. */
  allowedDirs: string[];
}

export interface LoadedImage {
  bytes: Uint8Array;
  /** Short human description for messages: the path, the URL without query, or "base64 (N bytes)". */
  origin: string;
  /** Hex SHA-256 of the bytes; the store uses it as the image's content hash. */
  sha256: string;
}

export async function readImageSource(input: ImageSourceInput, ctx: ImageSourceContext): Promise<LoadedImage> {
  throwIfCancelled(ctx.signal);
  const fields = toImageSource(input) as { path?: unknown; url?: unknown; data?: unknown };
  const given = SOURCE_FIELDS.filter((field) => fields[field] !== undefined);
  if (given.length !== 1 || typeof fields[given[0]!] !== "string") {
    throw new ImageSourceError(
      "empty",
      given.length === 0
        ? "The image source has none of path, url or data."
        : `The image source must have exactly one string field among path, url and data (got ${given.join(", ")}).`,
      'Give one image as "path/to/file.png", {"path": "..."}, {"url": "https://..."} or {"data": "data:image/png;base64,..."}.',
    );
  }
  let loaded: { bytes: Uint8Array; origin: string };
  if (typeof fields.path === "string") loaded = await readPathSource(fields.path, ctx.allowedDirs, ctx.maxImageBytes);
  else if (typeof fields.url === "string") loaded = await readUrlSource(fields.url, ctx);
  else loaded = decodeDataSource(fields.data as string, ctx.maxImageBytes);
  return { ...loaded, sha256: createHash("sha256").update(loaded.bytes).digest("hex") };
}

/** A short description of a source for messages, without reading it. */
export function describeImageSource(input: ImageSourceInput): string {
  const fields = toImageSource(input) as { path?: unknown; url?: unknown; data?: unknown };
  if (typeof fields.path === "string") return shorten(fields.path);
  if (typeof fields.url === "string") {
    try {
      return urlForDisplay(new URL(fields.url.trim()));
    } catch {
      return shorten(fields.url);
    }
  }
  if (typeof fields.data === "string") {
    const { payload, mime } = splitDataUri(fields.data);
    const compactLength = payload.replace(/\s+/g, "").replace(/=+$/, "").length;
    return base64Origin(Math.floor((compactLength * 3) / 4), mime);
  }
  return "image source without path, url or data";
}

/**
 * Decoded pixels kept between loading an image (which decodes it whole to catch truncated files) and
 * preprocessing it, so each image is decoded once: a 12 MP JPEG costs ~95 ms to decode.
 *
 * Entries are keyed by the identity of the bytes object, so they live at most as long as the caller holds the
 * bytes (a tool call holds its images until it is done) and nobody has to hash megabytes to find them. Callers
 * must not modify bytes after they were decoded; the server's loaded images are never modified.
 *
 * Bounded in bytes: a tool call loads all its images before extracting any, in the order it then extracts
 * them, so when the budget is spent new entries are refused rather than old ones evicted — evicting the oldest
 * would throw away exactly the images needed next and leave none of a large batch cached.
 */

/** 8-bit RGB pixels, row-major. */
export interface RgbImage {
  data: Buffer;
  width: number;
  height: number;
}

interface Entry {
  image: RgbImage;
  bytes: number;
}

export class DecodedImageCache {
  private readonly entries = new WeakMap<Uint8Array, Entry>();
  // Bytes objects dropped without being taken give their budget back when they are collected.
  private readonly collected = new FinalizationRegistry<Entry>((entry) => this.release(entry));
  private held = 0;

  constructor(readonly capacityBytes: number) {}

  /** Bytes of pixels held now. */
  get heldBytes(): number {
    return this.held;
  }

  /** Keeps the decoded pixels of `key` if they fit in the budget; returns whether they were kept. */
  put(key: Uint8Array, image: RgbImage): boolean {
    this.discard(key);
    const size = image.data.byteLength;
    if (size > this.capacityBytes - this.held) return false;
    const entry: Entry = { image, bytes: size };
    this.entries.set(key, entry);
    this.collected.register(key, entry, entry);
    this.held += size;
    return true;
  }

  /** Removes and returns the pixels of `key` (the caller owns them then), or undefined. */
  take(key: Uint8Array): RgbImage | undefined {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    this.entries.delete(key);
    this.collected.unregister(entry);
    this.release(entry);
    return entry.image;
  }

  /** Forgets `key` (its features came from a cache, so its pixels are not needed). */
  discard(key: Uint8Array): void {
    this.take(key);
  }

  private release(entry: Entry): void {
    this.held -= entry.bytes;
  }
}

/** Five 12 MP photos (36 MB of RGB each), or ~80 images of 1024×768. */
export const DECODED_IMAGE_BUDGET_BYTES = 192 * 1024 * 1024;

/** The process's decoded images: inspectImage fills it, decodeRgb takes from it. */
export const decodedImages = new DecodedImageCache(DECODED_IMAGE_BUDGET_BYTES);

import os from "node:os";
import type { HeadShape } from "../model/types.js";

const LITTLE_ENDIAN_HOST = os.endianness() === "LE";

/** Number of float32 values a head-vector array of this shape holds. */
export function shapeSize(shape: HeadShape): number {
  return shape.layers * shape.heads * shape.headDim;
}

/** Float32 values as little-endian bytes, whatever the host byte order (the stored and exported format). */
export function float32ToLittleEndian(values: Float32Array): Buffer {
  const bytes = Buffer.alloc(values.length * 4);
  if (LITTLE_ENDIAN_HOST) {
    Buffer.from(values.buffer, values.byteOffset, values.byteLength).copy(bytes);
  } else {
    for (let i = 0; i < values.length; i++) bytes.writeFloatLE(values[i]!, i * 4);
  }
  return bytes;
}

/** Little-endian float32 bytes back to a fresh (aligned) Float32Array. */
export function littleEndianToFloat32(bytes: Uint8Array): Float32Array {
  if (bytes.byteLength % 4 !== 0) {
    throw new RangeError(`float32 data must be a multiple of 4 bytes, got ${bytes.byteLength}`);
  }
  const values = new Float32Array(bytes.byteLength / 4);
  if (LITTLE_ENDIAN_HOST) {
    // Copy: SQLite blobs and decoded base64 are not guaranteed to be 4-byte aligned.
    new Uint8Array(values.buffer).set(bytes);
  } else {
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    for (let i = 0; i < values.length; i++) values[i] = view.getFloat32(i * 4, true);
  }
  return values;
}

/** The one definition of "same head shape": layers, heads per layer and values per head all equal. */
export function sameShape(a: HeadShape, b: HeadShape): boolean {
  return a.layers === b.layers && a.heads === b.heads && a.headDim === b.headDim;
}

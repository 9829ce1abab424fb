/**
 * A minimal safetensors writer for generated models: the 8-byte little-endian header length, the JSON
 * header (offsets relative to the end of the header, padded with spaces to 8 bytes as the reference
 * writer does), then the tensors' bytes back to back.
 */

export interface TensorToWrite {
  name: string;
  dtype: "F32" | "F16" | "BF16";
  shape: number[];
  /** Little-endian element bytes. */
  bytes: Uint8Array;
}

export function encodeSafetensors(tensors: TensorToWrite[], metadata: Record<string, string> = {}): Buffer {
  const header: Record<string, unknown> = { __metadata__: metadata };
  let offset = 0;
  for (const tensor of tensors) {
    header[tensor.name] = { dtype: tensor.dtype, shape: tensor.shape, data_offsets: [offset, offset + tensor.bytes.byteLength] };
    offset += tensor.bytes.byteLength;
  }
  let json = JSON.stringify(header);
  json += " ".repeat((8 - (Buffer.byteLength(json) % 8)) % 8);
  const headerBytes = Buffer.from(json, "utf8");
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(headerBytes.length));
  return Buffer.concat([length, headerBytes, ...tensors.map((t) => Buffer.from(t.bytes.buffer, t.bytes.byteOffset, t.bytes.byteLength))]);
}

/** bf16 bytes of float32 values, rounded to nearest even as torch converts. */
export function bfloat16Bytes(values: Float32Array): Uint8Array {
  const out = new Uint8Array(values.length * 2);
  const view = new DataView(out.buffer);
  const bits = new Uint32Array(values.buffer, values.byteOffset, values.length);
  for (let i = 0; i < values.length; i++) {
    const word = bits[i];
    const rounded = (word + 0x7fff + ((word >>> 16) & 1)) >>> 16;
    view.setUint16(i * 2, rounded & 0xffff, true);
  }
  return out;
}

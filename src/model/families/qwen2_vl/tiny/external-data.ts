/**
 * The large exports keep their weights outside the protobuf (`<graph>.onnx_data`, ONNX external data);
 * the generator can write the same layout so the pull and the edited-decoder paths are exercised on it.
 */
import { onnx } from "../../../onnx-proto.js";

/** Moves every initializer of at least `minBytes` into one side file named `dataFileName` (same directory). */
export function externalizeWeights(graphBytes: Uint8Array, dataFileName: string, minBytes = 1024): { graph: Uint8Array; data: Uint8Array } {
  const model = onnx.ModelProto.decode(graphBytes);
  const chunks: Uint8Array[] = [];
  let offset = 0;
  for (const tensor of model.graph?.initializer ?? []) {
    const raw = tensor.rawData;
    if (!raw || raw.byteLength < minBytes) continue;
    // onnx's save_model aligns external tensors; 64 bytes keeps every dtype aligned.
    const padding = (64 - (offset % 64)) % 64;
    if (padding > 0) chunks.push(new Uint8Array(padding));
    offset += padding;
    chunks.push(raw.slice());
    tensor.rawData = new Uint8Array(0);
    tensor.dataLocation = onnx.TensorProto.DataLocation.EXTERNAL;
    tensor.externalData = [
      { key: "location", value: dataFileName },
      { key: "offset", value: String(offset) },
      { key: "length", value: String(raw.byteLength) },
    ];
    offset += raw.byteLength;
  }
  const data = new Uint8Array(offset);
  let at = 0;
  for (const chunk of chunks) {
    data.set(chunk, at);
    at += chunk.byteLength;
  }
  return { graph: onnx.ModelProto.encode(model).finish(), data };
}

import * as ort from "onnxruntime-node";

type TensorType = ort.Tensor.Type;

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** IEEE half from float, round to nearest even (Node 20 has no Float16Array). */
function toHalf(value: number): number {
  f32[0] = value;
  const x = u32[0];
  const sign = (x >>> 16) & 0x8000;
  const exponent = (x >>> 23) & 0xff;
  let mantissa = x & 0x7fffff;
  if (exponent === 0xff) return sign | 0x7c00 | (mantissa ? 0x200 : 0);
  const e = exponent - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mantissa |= 0x800000;
    const shift = 14 - e;
    const half = mantissa >>> shift;
    const rest = mantissa & ((1 << shift) - 1);
    const midpoint = 1 << (shift - 1);
    return sign | (half + (rest > midpoint || (rest === midpoint && (half & 1)) ? 1 : 0));
  }
  const half = (e << 10) | (mantissa >>> 13);
  const rest = mantissa & 0x1fff;
  return sign | (half + (rest > 0x1000 || (rest === 0x1000 && (half & 1)) ? 1 : 0));
}

function fromHalf(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >>> 10) & 0x1f;
  const mantissa = bits & 0x3ff;
  if (exponent === 0) return sign * 2 ** -14 * (mantissa / 1024);
  if (exponent === 0x1f) return mantissa ? Number.NaN : sign * Number.POSITIVE_INFINITY;
  return sign * 2 ** (exponent - 15) * (1 + mantissa / 1024);
}

/** A float tensor of the type the session expects (float32 or float16). */
export function floatTensor(data: Float32Array, dims: readonly number[], type: TensorType = "float32"): ort.Tensor {
  if (type === "float16") {
    const half = new Uint16Array(data.length);
    for (let i = 0; i < data.length; i++) half[i] = toHalf(data[i]);
    return new ort.Tensor("float16", half, dims);
  }
  if (type !== "float32") throw new Error(`Expected a float input, the session wants ${type}.`);
  return new ort.Tensor("float32", data, dims);
}

/** The tensor's values as float32, converting float16. */
export function readFloats(tensor: ort.Tensor): Float32Array {
  if (tensor.type === "float32") return tensor.data as Float32Array;
  if (tensor.type === "float16") {
    const bits = tensor.data as unknown as Uint16Array;
    const out = new Float32Array(bits.length);
    for (let i = 0; i < bits.length; i++) out[i] = fromHalf(bits[i]);
    return out;
  }
  throw new Error(`Expected a float output, got ${tensor.type}.`);
}

export function int64Tensor(values: ArrayLike<number>, dims: readonly number[]): ort.Tensor {
  const data = new BigInt64Array(values.length);
  for (let i = 0; i < values.length; i++) data[i] = BigInt(values[i]);
  return new ort.Tensor("int64", data, dims);
}

export interface InputMetadata {
  name: string;
  type: TensorType;
  shape: readonly (number | string)[];
}

/** Input names, types and shapes as the session states them (symbolic dims as strings). */
export function inputMetadata(session: Pick<ort.InferenceSession, "inputNames" | "inputMetadata">): Map<string, InputMetadata> {
  const map = new Map<string, InputMetadata>();
  const metadata = session.inputMetadata;
  session.inputNames.forEach((name, i) => {
    const meta = metadata?.[i];
    if (meta && meta.isTensor) map.set(name, { name, type: meta.type, shape: meta.shape });
    else map.set(name, { name, type: "float32", shape: [] });
  });
  return map;
}

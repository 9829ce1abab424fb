/**
 * The two quantized graph forms the published SmolVLM repository ships, written the way
 * onnxruntime's quantization tools write them (see onnxruntime/python/tools/quantization):
 *
 * - `_q4`: MatMul4BitsQuantizer (DefaultWeightOnlyQuantizer, block_size 32, symmetric): every
 *   MatMul with a constant 2-D weight becomes com.microsoft MatMulNBits `<name>_Q4` with
 *   B `<W>_Q4` uint8 [N, k_blocks, 16] (low nibble = even row), scales `<W>_scales` float
 *   [N * k_blocks], no zero points (symmetric = implicit 8).
 * - `_int8`: quantize_dynamic / IntegerOps with QInt8 weights, per tensor: activation X goes through
 *   DynamicQuantizeLinear `X_QuantizeLinear` (shared by all consumers), weight `<W>_quantized` int8
 *   with scalar `<W>_scale` / `<W>_zero_point`, MatMulInteger `<name>_quant`, Cast, Mul of the two
 *   scales `<name>_quant_scales_mul`, Mul `<name>_quant_output_scale_mul` writing the original
 *   output. Gathers from constant tables (embeddings) are quantized to uint8 and followed by
 *   DequantizeLinear `<out>_DequantizeLinear`. Conv stays float (see the report: ConvInteger with
 *   int8 weights has no CPU kernel).
 */
import { attr, DataType, MS_DOMAIN, type GraphModel, type GraphNode, type Initializer } from "./graph-builder.js";

function initializerMap(model: GraphModel): Map<string, Initializer> {
  return new Map(model.initializers.map((t) => [t.name, t]));
}

function constantMatMulWeight(node: GraphNode, inits: Map<string, Initializer>): Initializer | undefined {
  if (node.opType !== "MatMul" || node.domain !== "") return undefined;
  const w = inits.get(node.inputs[1] ?? "");
  if (!w || w.dataType !== DataType.FLOAT || w.dims.length !== 2) return undefined;
  return w;
}

function withoutUnused(model: GraphModel, nodes: GraphNode[], added: Initializer[]): GraphModel {
  const used = new Set<string>();
  for (const n of nodes) for (const i of n.inputs) used.add(i);
  const initializers = [...model.initializers, ...added].filter((t) => used.has(t.name));
  return { ...model, nodes, initializers };
}

function ensureOpset(model: GraphModel, domain: string, version: number): GraphModel["opsets"] {
  return model.opsets.some((o) => o.domain === domain) ? model.opsets : [...model.opsets, { domain, version }];
}

/** C `roundf`: halves away from zero. */
function roundHalfAway(x: number): number {
  return x >= 0 ? Math.floor(x + 0.5) : -Math.floor(-x + 0.5);
}

/** numpy `round`: halves to even. */
function roundHalfEven(x: number): number {
  const r = Math.round(x); // halves go up
  return r - x === 0.5 && (r & 1) !== 0 ? r - 1 : r;
}

export const Q4_BLOCK_SIZE = 32;

/**
 * MLAS BlockwiseQuantizer<float, 32, 4, columnwise>::quantizeAndTranspose with zero_points == null:
 * per column and block of 32 rows, scale = (value of largest magnitude) / -8, q = clamp(roundf(v/scale + 8), 0, 15).
 */
export function quantizeBlockwise4(weight: Float32Array, K: number, N: number, blockSize = Q4_BLOCK_SIZE): { packed: Uint8Array; scales: Float32Array; kBlocks: number } {
  const kBlocks = Math.ceil(K / blockSize);
  const blob = blockSize / 2;
  const packed = new Uint8Array(N * kBlocks * blob);
  const scales = new Float32Array(N * kBlocks);
  const min = new Float64Array(N);
  const max = new Float64Array(N);
  const reciprocal = new Float64Array(N);
  // Rows are contiguous in the [K, N] weight, so walk each block row by row over all columns.
  for (let blk = 0; blk < kBlocks; blk++) {
    const r0 = blk * blockSize;
    const r1 = Math.min(r0 + blockSize, K);
    min.fill(Number.MAX_VALUE);
    max.fill(-Number.MAX_VALUE);
    for (let r = r0; r < r1; r++) {
      const row = r * N;
      for (let n = 0; n < N; n++) {
        const v = weight[row + n] as number;
        if (v < (min[n] as number)) min[n] = v;
        if (v > (max[n] as number)) max[n] = v;
      }
    }
    for (let n = 0; n < N; n++) {
      const lo = min[n] as number;
      const hi = max[n] as number;
      const scale = Math.fround((Math.abs(hi) > Math.abs(lo) ? hi : lo) / -8);
      scales[n * kBlocks + blk] = scale;
      reciprocal[n] = scale !== 0 ? Math.fround(1 / scale) : 0;
    }
    for (let r = r0; r < r0 + blockSize; r++) {
      const row = r * N;
      const high = (r & 1) === 1;
      for (let n = 0; n < N; n++) {
        let q = 8; // rows past K (padding) hold the zero point
        if (r < r1) {
          const x = Math.fround(Math.fround((weight[row + n] as number) * (reciprocal[n] as number)) + 8);
          q = Math.min(15, Math.max(0, roundHalfAway(x)));
        }
        const index = (n * kBlocks + blk) * blob + ((r - r0) >> 1);
        packed[index] = high ? (packed[index] as number) | (q << 4) : q;
      }
    }
  }
  return { packed, scales, kBlocks };
}

export function quantizeQ4(model: GraphModel): GraphModel {
  const inits = initializerMap(model);
  const added: Initializer[] = [];
  const nodes = model.nodes.map((node): GraphNode => {
    const w = constantMatMulWeight(node, inits);
    if (!w) return node;
    const [K, N] = w.dims as [number, number];
    const { packed, scales, kBlocks } = quantizeBlockwise4(w.data as Float32Array, K, N);
    const bName = `${w.name}_Q4`;
    const scalesName = `${w.name}_scales`;
    if (!added.some((t) => t.name === bName)) {
      added.push({ name: bName, dataType: DataType.UINT8, dims: [N, kBlocks, Q4_BLOCK_SIZE / 2], data: packed });
      added.push({ name: scalesName, dataType: DataType.FLOAT, dims: [N * kBlocks], data: scales });
    }
    return {
      name: `${node.name}_Q4`,
      opType: "MatMulNBits",
      domain: MS_DOMAIN,
      inputs: [node.inputs[0] as string, bName, scalesName],
      outputs: node.outputs,
      attributes: { K: attr.int(K), N: attr.int(N), bits: attr.int(4), block_size: attr.int(Q4_BLOCK_SIZE) },
    };
  });
  return { ...withoutUnused(model, nodes, added), opsets: ensureOpset(model, MS_DOMAIN, 1) };
}

function absRange(data: Float32Array): { min: number; max: number } {
  let min = 0;
  let max = 0;
  for (let i = 0; i < data.length; i++) {
    const v = data[i] as number;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  return { min, max };
}

/** quantize_data(QInt8, symmetric): range [-127, 127], scale = 2 * absmax / 254, zero point 0. */
export function quantizeInt8Symmetric(data: Float32Array): { values: Int8Array; scale: number } {
  const { min, max } = absRange(data);
  const absMax = Math.max(Math.abs(min), Math.abs(max));
  let scale = (2 * absMax) / 254;
  if (scale < 1.1754943508222875e-38) scale = 1;
  const f32Scale = Math.fround(scale);
  const values = new Int8Array(data.length);
  for (let i = 0; i < data.length; i++) {
    values[i] = Math.min(127, Math.max(-127, roundHalfEven(Math.fround((data[i] as number) / f32Scale))));
  }
  return { values, scale: f32Scale };
}

/** quantize_data(QUInt8, asymmetric): range [0, 255] over [min(min,0), max(max,0)]. */
export function quantizeUint8(data: Float32Array): { values: Uint8Array; scale: number; zeroPoint: number } {
  const { min, max } = absRange(data);
  let scale = (max - min) / 255;
  let zeroPoint: number;
  if (scale < 1.1754943508222875e-38) {
    scale = 1;
    zeroPoint = 0;
  } else {
    zeroPoint = roundHalfEven(0 - min / scale);
  }
  const f32Scale = Math.fround(scale);
  const values = new Uint8Array(data.length);
  for (let i = 0; i < data.length; i++) {
    values[i] = Math.min(255, Math.max(0, roundHalfEven(Math.fround((data[i] as number) / f32Scale)) + zeroPoint));
  }
  return { values, scale: f32Scale, zeroPoint };
}

export function quantizeInt8(model: GraphModel): GraphModel {
  const inits = initializerMap(model);
  const added: Initializer[] = [];
  const quantizedWeights = new Set<string>();
  const dynamicInputs = new Set<string>();
  const nodes: GraphNode[] = [];
  const scalar = (name: string, dataType: Initializer["dataType"], data: Initializer["data"]): void => {
    added.push({ name, dataType, dims: [], data });
  };

  for (const node of model.nodes) {
    const table = node.opType === "Gather" && node.domain === "" ? inits.get(node.inputs[0] ?? "") : undefined;
    if (table && table.dataType === DataType.FLOAT) {
      const q = `${table.name}_quantized`;
      if (!quantizedWeights.has(table.name)) {
        quantizedWeights.add(table.name);
        const { values, scale, zeroPoint } = quantizeUint8(table.data as Float32Array);
        added.push({ name: q, dataType: DataType.UINT8, dims: table.dims, data: values });
        scalar(`${table.name}_scale`, DataType.FLOAT, Float32Array.of(scale));
        scalar(`${table.name}_zero_point`, DataType.UINT8, Uint8Array.of(zeroPoint));
      }
      const out = node.outputs[0] as string;
      nodes.push({ ...node, inputs: [q, ...node.inputs.slice(1)], outputs: [`${out}_quantized`] });
      nodes.push({
        name: `${out}_DequantizeLinear`,
        opType: "DequantizeLinear",
        domain: "",
        inputs: [`${out}_quantized`, `${table.name}_scale`, `${table.name}_zero_point`],
        outputs: [out],
        attributes: {},
      });
      continue;
    }

    const w = constantMatMulWeight(node, inits);
    if (!w) {
      nodes.push(node);
      continue;
    }
    const x = node.inputs[0] as string;
    if (!dynamicInputs.has(x)) {
      dynamicInputs.add(x);
      nodes.push({
        name: `${x}_QuantizeLinear`,
        opType: "DynamicQuantizeLinear",
        domain: "",
        inputs: [x],
        outputs: [`${x}_quantized`, `${x}_scale`, `${x}_zero_point`],
        attributes: {},
      });
    }
    if (!quantizedWeights.has(w.name)) {
      quantizedWeights.add(w.name);
      const { values, scale } = quantizeInt8Symmetric(w.data as Float32Array);
      added.push({ name: `${w.name}_quantized`, dataType: DataType.INT8, dims: w.dims, data: values });
      scalar(`${w.name}_scale`, DataType.FLOAT, Float32Array.of(scale));
      scalar(`${w.name}_zero_point`, DataType.INT8, Int8Array.of(0));
    }
    const out = node.outputs[0] as string;
    const integerOut = `${out}_output_quantized`;
    const castOut = `${integerOut}_cast_output`;
    const scalesMul = `${node.name}_quant_scales_mul`;
    nodes.push({
      name: `${node.name}_quant`,
      opType: "MatMulInteger",
      domain: "",
      inputs: [`${x}_quantized`, `${w.name}_quantized`, `${x}_zero_point`, `${w.name}_zero_point`],
      outputs: [integerOut],
      attributes: {},
    });
    nodes.push({ name: `${integerOut}_cast`, opType: "Cast", domain: "", inputs: [integerOut], outputs: [castOut], attributes: { to: attr.int(DataType.FLOAT) } });
    nodes.push({ name: scalesMul, opType: "Mul", domain: "", inputs: [`${x}_scale`, `${w.name}_scale`], outputs: [`${scalesMul}:0`], attributes: {} });
    nodes.push({ name: `${node.name}_quant_output_scale_mul`, opType: "Mul", domain: "", inputs: [castOut, `${scalesMul}:0`], outputs: [out], attributes: {} });
  }
  return {
    ...withoutUnused(model, nodes, added),
    opsets: ensureOpset(model, MS_DOMAIN, 1),
    producerName: "onnx.quantize",
    producerVersion: "0.1.0",
  };
}

/**
 * A small in-memory ONNX graph model, a builder that names nodes the way torch.onnx.export does,
 * and the serializer to a ModelProto (via onnx-proto).
 *
 * The quantizers rewrite this representation, so every variant is built from the same float
 * weights without decoding protobuf again.
 */
import { onnx, TensorDataType, type Onnx } from "../onnx-proto.js";

export const DataType = TensorDataType;
export type DataTypeId = (typeof DataType)[keyof typeof DataType];

export type TensorData = Float32Array | Uint8Array | Int8Array | Int32Array | BigInt64Array;

export interface Initializer {
  name: string;
  dataType: DataTypeId;
  dims: number[];
  data: TensorData;
}

export type AttributeValue =
  | { kind: "int"; value: number }
  | { kind: "float"; value: number }
  | { kind: "ints"; value: number[] }
  | { kind: "floats"; value: number[] }
  | { kind: "string"; value: string }
  | { kind: "tensor"; value: Initializer };

export interface GraphNode {
  name: string;
  opType: string;
  domain: string;
  inputs: string[];
  outputs: string[];
  attributes: Record<string, AttributeValue>;
}

/** A dimension is a fixed size or a symbolic name (dim_param). */
export type Dim = number | string;

export interface ValueInfo {
  name: string;
  elemType: DataTypeId;
  shape: Dim[];
}

export interface GraphModel {
  graphName: string;
  nodes: GraphNode[];
  initializers: Initializer[];
  inputs: ValueInfo[];
  outputs: ValueInfo[];
  valueInfo: ValueInfo[];
  opsets: { domain: string; version: number }[];
  producerName: string;
  producerVersion: string;
  docString: string;
}

export const MS_DOMAIN = "com.microsoft";

export interface NodeOptions {
  /** Explicit output names (e.g. graph outputs); default `<nodeName>_output_<k>`. */
  outputs?: string[];
  /** Number of outputs when names are generated. */
  outputCount?: number;
  attrs?: Record<string, AttributeValue>;
  domain?: string;
}

export const attr = {
  int: (value: number): AttributeValue => ({ kind: "int", value }),
  float: (value: number): AttributeValue => ({ kind: "float", value }),
  ints: (value: number[]): AttributeValue => ({ kind: "ints", value }),
  floats: (value: number[]): AttributeValue => ({ kind: "floats", value }),
  string: (value: string): AttributeValue => ({ kind: "string", value }),
  tensor: (value: Initializer): AttributeValue => ({ kind: "tensor", value }),
};

/**
 * Builds a graph. Node names follow torch.onnx.export: `<scope>/<OpType>` and `_k` for the k-th
 * repeat of the same op type in the same scope; output tensors are `<nodeName>_output_<i>`.
 */
export class GraphBuilder {
  readonly model: GraphModel;
  private readonly opCounters = new Map<string, number>();
  private readonly constants = new Map<string, string>();

  constructor(graphName: string, opsets: { domain: string; version: number }[]) {
    this.model = {
      graphName,
      nodes: [],
      initializers: [],
      inputs: [],
      outputs: [],
      valueInfo: [],
      opsets,
      producerName: "pytorch",
      producerVersion: "2.5.1",
      docString: "",
    };
  }

  input(name: string, elemType: DataTypeId, shape: Dim[]): string {
    this.model.inputs.push({ name, elemType, shape });
    return name;
  }

  output(name: string, elemType: DataTypeId, shape: Dim[]): string {
    this.model.outputs.push({ name, elemType, shape });
    return name;
  }

  annotate(name: string, elemType: DataTypeId, shape: Dim[]): void {
    this.model.valueInfo.push({ name, elemType, shape });
  }

  initializer(name: string, dataType: DataTypeId, dims: number[], data: TensorData): string {
    const expected = dims.reduce((a, b) => a * b, 1);
    if (data.length !== expected) {
      throw new Error(`initializer ${name}: ${data.length} values for dims [${dims.join(", ")}]`);
    }
    this.model.initializers.push({ name, dataType, dims, data });
    return name;
  }

  /** A shared int64 constant (shape vectors, axes, indices), deduplicated by value. */
  int64(values: number[], scalar = false): string {
    const key = `i64:${scalar ? "s" : "v"}:${values.join(",")}`;
    const existing = this.constants.get(key);
    if (existing) return existing;
    const name = `onnx::Constant_${this.constants.size}`;
    const data = BigInt64Array.from(values.map((v) => BigInt(v)));
    this.initializer(name, DataType.INT64, scalar ? [] : [values.length], data);
    this.constants.set(key, name);
    return name;
  }

  /** A shared float32 constant, deduplicated by value. */
  float(values: number[], scalar = true): string {
    const key = `f32:${scalar ? "s" : "v"}:${values.map((v) => Math.fround(v)).join(",")}`;
    const existing = this.constants.get(key);
    if (existing) return existing;
    const name = `onnx::Constant_${this.constants.size}`;
    this.initializer(name, DataType.FLOAT, scalar ? [] : [values.length], Float32Array.from(values));
    this.constants.set(key, name);
    return name;
  }

  /** Adds a node in `scope` and returns its output names. */
  node(scope: string, opType: string, inputs: string[], options: NodeOptions = {}): string[] {
    const base = `${scope}/${opType}`;
    const k = this.opCounters.get(base) ?? 0;
    this.opCounters.set(base, k + 1);
    const name = k === 0 ? base : `${base}_${k}`;
    const outputs =
      options.outputs ?? Array.from({ length: options.outputCount ?? 1 }, (_, i) => `${name}_output_${i}`);
    this.model.nodes.push({
      name,
      opType,
      domain: options.domain ?? "",
      inputs,
      outputs,
      attributes: options.attrs ?? {},
    });
    return outputs;
  }

  /** Convenience for single-output nodes. */
  op(scope: string, opType: string, inputs: string[], options: NodeOptions = {}): string {
    const outputs = this.node(scope, opType, inputs, options);
    return outputs[0] as string;
  }
}

function rawBytes(data: TensorData): Uint8Array {
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

function tensorProto(t: Initializer): Onnx.ITensorProto {
  return { name: t.name, dataType: t.dataType, dims: t.dims, rawData: rawBytes(t.data) };
}

function valueInfoProto(v: ValueInfo): Onnx.IValueInfoProto {
  return {
    name: v.name,
    type: {
      tensorType: {
        elemType: v.elemType,
        shape: { dim: v.shape.map((d) => (typeof d === "number" ? { dimValue: d } : { dimParam: d })) },
      },
    },
  };
}

function attributeProto(name: string, a: AttributeValue): Onnx.IAttributeProto {
  const T = onnx.AttributeProto.AttributeType;
  switch (a.kind) {
    case "int":
      return { name, type: T.INT, i: a.value };
    case "float":
      return { name, type: T.FLOAT, f: a.value };
    case "ints":
      return { name, type: T.INTS, ints: a.value };
    case "floats":
      return { name, type: T.FLOATS, floats: a.value };
    case "string":
      return { name, type: T.STRING, s: new TextEncoder().encode(a.value) };
    case "tensor":
      return { name, type: T.TENSOR, t: tensorProto(a.value) };
  }
}

/** Serializes to ONNX protobuf bytes (IR version 8, raw_data initializers). */
export function encodeModel(model: GraphModel): Uint8Array {
  const proto: Onnx.IModelProto = {
    irVersion: 8,
    producerName: model.producerName,
    producerVersion: model.producerVersion,
    docString: model.docString,
    opsetImport: model.opsets.map((o) => ({ domain: o.domain, version: o.version })),
    graph: {
      name: model.graphName,
      node: model.nodes.map((n) => ({
        name: n.name,
        opType: n.opType,
        domain: n.domain,
        input: n.inputs,
        output: n.outputs,
        attribute: Object.entries(n.attributes).map(([k, v]) => attributeProto(k, v)),
      })),
      initializer: model.initializers.map(tensorProto),
      input: model.inputs.map(valueInfoProto),
      output: model.outputs.map(valueInfoProto),
      valueInfo: model.valueInfo.map(valueInfoProto),
    },
  };
  return onnx.ModelProto.encode(proto).finish();
}

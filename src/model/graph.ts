import { onnx, toNumber, TensorDataType, type Onnx } from "./onnx-proto.js";

type Graph = Onnx.IGraphProto;
type Node = Onnx.INodeProto;

/** Where the per-head attention output of one decoder layer enters o_proj. */
export interface HeadTap {
  layer: number;
  /** The float tensor [batch, seq, heads*headDim] that o_proj multiplies. */
  tensor: string;
  /** The o_proj node that was found (MatMul, MatMulNBits, MatMulBnb4, MatMulInteger, Gemm). */
  node: string;
  opType: string;
  /** The o_proj input width when the graph states it (weight shape or K attribute). */
  width: number | null;
}

/** A decoder graph in which the o_proj inputs cannot be found or do not fit the config. */
export class GraphEditError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "GraphEditError";
  }
}

/** Name of the single output the edited decoder has: float32 [batch, layers, heads*headDim] at the last position. */
export const HEAD_VECTORS_OUTPUT = "sav_head_vectors";

const O_PROJ_OPS = new Set(["MatMul", "MatMulNBits", "MatMulBnb4", "MatMulInteger", "Gemm", "FusedMatMul"]);

function attribute(node: Node, name: string): Onnx.IAttributeProto | undefined {
  return node.attribute?.find((a) => a.name === name);
}

function initializerDims(graph: Graph, name: string): number[] | null {
  const init = graph.initializer?.find((t) => t.name === name);
  return init ? (init.dims ?? []).map((d) => toNumber(d)) : null;
}

function weightWidth(graph: Graph, node: Node, opType: string): number | null {
  if (opType === "MatMulNBits" || opType === "MatMulBnb4") {
    const k = attribute(node, "K");
    return k ? toNumber(k.i) : null;
  }
  const weight = node.input?.[1];
  if (!weight) return null;
  const dims = initializerDims(graph, weight);
  if (!dims || dims.length !== 2) return null;
  if (opType === "Gemm" && toNumber(attribute(node, "transB")?.i) === 1) return dims[1];
  return dims[0];
}

/** o_proj node names as torch.onnx.export (`self_attn`) and ORT GenAI's model builder (`attn`) write them. */
export const DEFAULT_O_PROJ_PATTERN = /layers\.(\d+)\/(?:self_attn|attn)\/o_proj\//;

function producerMap(graph: Graph): Map<string, Node> {
  const producers = new Map<string, Node>();
  for (const node of graph.node ?? []) for (const out of node.output ?? []) producers.set(out, node);
  return producers;
}

/** The float activation an o_proj node multiplies (for dynamic int8, the DynamicQuantizeLinear's input). */
function projectionInput(node: Node, producers: Map<string, Node>, where: string): string {
  let tensor = node.input?.[0] ?? "";
  if (node.opType === "MatMulInteger") {
    // Dynamic int8: X → DynamicQuantizeLinear → MatMulInteger; the float activation is the quantizer's input.
    const quantizer = producers.get(tensor);
    if (!quantizer || quantizer.opType !== "DynamicQuantizeLinear") {
      throw new GraphEditError(`${where}: ${node.name ?? "o_proj"} (MatMulInteger) is not fed by DynamicQuantizeLinear; cannot find its float input.`);
    }
    tensor = quantizer.input?.[0] ?? "";
  }
  return tensor;
}

/**
 * Finds, for every decoder layer, the tensor that enters o_proj: by node name
 * (`…layers.{i}/self_attn/o_proj/…`, as torch.onnx.export writes it, also after ORT's quantizers
 * renamed the node) and by operator, never by the index of the Reshape that produces it.
 */
export function findHeadTaps(graph: Graph, pattern: RegExp = DEFAULT_O_PROJ_PATTERN): HeadTap[] {
  const producers = producerMap(graph);
  const byLayer = new Map<number, HeadTap>();
  for (const node of graph.node ?? []) {
    const name = node.name ?? "";
    const match = pattern.exec(name);
    const opType = node.opType ?? "";
    if (!match || !O_PROJ_OPS.has(opType)) continue;
    const layer = Number(match[1]);
    const tensor = projectionInput(node, producers, `Layer ${layer}`);
    if (!tensor) continue;
    const existing = byLayer.get(layer);
    if (existing && existing.tensor !== tensor) {
      throw new GraphEditError(`Layer ${layer} has two o_proj nodes with different inputs (${existing.node}, ${name}).`);
    }
    byLayer.set(layer, { layer, tensor, node: name, opType, width: weightWidth(graph, node, opType) });
  }
  return [...byLayer.values()].sort((a, b) => a.layer - b.layer);
}

/** Ops between o_proj's product and the residual Add: a bias, a dequantisation scale, a dtype cast. */
const PROJECTION_EPILOGUE = new Set(["Add", "Mul", "Cast"]);

/**
 * For exports whose node names say nothing: walks the residual stream from `inputs_embeds`. Each layer adds
 * two branches to it, attention first, then the MLP; the attention branch ends in o_proj (a MatMul family op,
 * possibly followed by a bias, a dequantisation Mul or a Cast), whose input is the per-head attention output.
 */
export function findHeadTapsStructurally(graph: Graph, layers: number): HeadTap[] {
  const producers = producerMap(graph);
  const consumers = new Map<string, Node[]>();
  for (const node of graph.node ?? []) for (const input of node.input ?? []) consumers.set(input, [...(consumers.get(input) ?? []), node]);
  const projectionBehind = (tensor: string): Node | undefined => {
    for (let node = producers.get(tensor), steps = 0; node && steps < 4; node = producers.get(node.input?.[0] ?? ""), steps++) {
      if (O_PROJ_OPS.has(node.opType ?? "")) return node;
      if (!PROJECTION_EPILOGUE.has(node.opType ?? "")) return undefined;
    }
    return undefined;
  };
  /** The residual Add that takes `stream` and a branch ending in a projection. */
  const residualStep = (stream: string): { sum: string; projection: Node } | undefined => {
    for (const add of (consumers.get(stream) ?? []).filter((n) => n.opType === "Add")) {
      const other = (add.input ?? []).find((name) => name !== stream);
      const projection = other ? projectionBehind(other) : undefined;
      if (projection && add.output?.[0]) return { sum: add.output[0], projection };
    }
    return undefined;
  };
  let stream = "inputs_embeds";
  // fp16 decoders take float32 embeddings and cast them first.
  const cast = (consumers.get(stream) ?? []).find((n) => n.opType === "Cast");
  if (!residualStep(stream) && cast?.output?.[0]) stream = cast.output[0];
  const taps: HeadTap[] = [];
  for (let layer = 0; layer < layers; layer++) {
    const attention = residualStep(stream);
    const mlp = attention ? residualStep(attention.sum) : undefined;
    if (!attention || !mlp) break;
    const node = attention.projection;
    const opType = node.opType ?? "";
    taps.push({ layer, tensor: projectionInput(node, producers, `Layer ${layer}`), node: node.name ?? "", opType, width: weightWidth(graph, node, opType) });
    stream = mlp.sum;
  }
  return taps;
}

function subgraphs(node: Node): Graph[] {
  const graphs: Graph[] = [];
  for (const attr of node.attribute ?? []) {
    if (attr.g) graphs.push(attr.g);
    for (const g of attr.graphs ?? []) graphs.push(g);
  }
  return graphs;
}

/** Names a node reads, including the outer-scope names its subgraphs (If/Loop bodies) read. */
function nodeReads(node: Node): string[] {
  const reads = [...(node.input ?? [])];
  for (const graph of subgraphs(node)) {
    const local = new Set<string>([
      ...(graph.input ?? []).map((v) => v.name ?? ""),
      ...(graph.initializer ?? []).map((t) => t.name ?? ""),
    ]);
    for (const inner of graph.node ?? []) for (const out of inner.output ?? []) local.add(out);
    for (const inner of graph.node ?? []) for (const name of nodeReads(inner)) if (!local.has(name)) reads.push(name);
  }
  return reads.filter((name) => name !== "");
}

/** Keeps only the nodes, initializers and inputs that the graph outputs depend on. */
export function pruneGraph(graph: Graph): void {
  const needed = new Set<string>((graph.output ?? []).map((v) => v.name ?? ""));
  const kept: Node[] = [];
  const nodes = graph.node ?? [];
  for (let i = nodes.length - 1; i >= 0; i--) {
    const node = nodes[i];
    if (!(node.output ?? []).some((out) => needed.has(out))) continue;
    kept.push(node);
    for (const name of nodeReads(node)) needed.add(name);
  }
  kept.reverse();
  graph.node = kept;
  graph.initializer = (graph.initializer ?? []).filter((t) => needed.has(t.name ?? ""));
  graph.input = (graph.input ?? []).filter((v) => needed.has(v.name ?? ""));
  graph.valueInfo = (graph.valueInfo ?? []).filter((v) => needed.has(v.name ?? ""));
}

function opsetVersion(model: Onnx.IModelProto): number {
  const entry = model.opsetImport?.find((o) => !o.domain || o.domain === "ai.onnx");
  return entry ? toNumber(entry.version) : 13;
}

function floatOutput(name: string, dims: (string | number)[]): Onnx.IValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType: TensorDataType.FLOAT,
        shape: { dim: dims.map((d) => (typeof d === "number" ? { dimValue: d } : { dimParam: d })) },
      },
    },
  };
}

export interface DecoderEditOptions {
  /** Number of decoder layers in the config. */
  layers: number;
  /** heads × head_dim from the config. */
  width: number;
  /** Keep layers 0..keepLayers-1 only (a truncated decoder); default all. */
  keepLayers?: number;
  /** Also expose these tensors unchanged (float32), e.g. o_proj outputs for tests. */
  extraOutputs?: string[];
  /** o_proj node names (group 1 = layer); default DEFAULT_O_PROJ_PATTERN. */
  oProjPattern?: RegExp;
}

export interface EditedDecoder {
  model: Onnx.ModelProto;
  taps: HeadTap[];
  layers: number;
}

/**
 * Rewrites the decoder so that its only output is the o_proj input of every kept layer at the last
 * position, as float32 [batch, layers, width]. Dropping logits and present.* lets the graph be
 * pruned: no vocabulary projection, no KV copies, and no layers past the last one kept.
 */
function validateTaps(allTaps: HeadTap[], options: DecoderEditOptions, where: string): HeadTap[] {
  const missing = Array.from({ length: options.layers }, (_, i) => i).filter((i) => !allTaps.some((t) => t.layer === i));
  if (missing.length > 0) {
    throw new GraphEditError(`No o_proj node found ${where}for decoder layer(s) ${missing.join(", ")} of ${options.layers}.`);
  }
  for (const tap of allTaps) {
    if (tap.width !== null && tap.width !== options.width) {
      throw new GraphEditError(
        `Layer ${tap.layer}: o_proj input width is ${tap.width}, but heads × head_dim in config.json is ${options.width}.`,
      );
    }
  }
  const keep = Math.min(options.keepLayers ?? options.layers, options.layers);
  if (keep < 1) throw new GraphEditError(`keepLayers must be at least 1 (got ${keep}).`);
  return allTaps.filter((t) => t.layer < keep);
}

/** Appends Gather(last position) → Cast(float) → Unsqueeze → Concat over layers to a graph; returns the tensor name. */
function appendHeadVectors(graph: Graph, taps: HeadTap[], opset: number, outputName: string): void {
  const lastIndex = `${outputName}/last_position`;
  const unsqueezeAxes = `${outputName}/unsqueeze_axes`;
  const newNodes: Node[] = [];
  const initializers: Onnx.ITensorProto[] = [{ name: lastIndex, dataType: TensorDataType.INT64, dims: [], int64Data: [-1] }];
  if (opset >= 13) initializers.push({ name: unsqueezeAxes, dataType: TensorDataType.INT64, dims: [1], int64Data: [1] });
  const perLayer: string[] = [];
  for (const tap of taps) {
    const prefix = `/sav/${outputName}/layers.${tap.layer}`;
    const last = `${prefix}/Gather_output_0`;
    const asFloat = `${prefix}/Cast_output_0`;
    const expanded = `${prefix}/Unsqueeze_output_0`;
    newNodes.push({ name: `${prefix}/Gather`, opType: "Gather", input: [tap.tensor, lastIndex], output: [last], attribute: [{ name: "axis", type: 2, i: 1 }] });
    newNodes.push({ name: `${prefix}/Cast`, opType: "Cast", input: [last], output: [asFloat], attribute: [{ name: "to", type: 2, i: TensorDataType.FLOAT }] });
    newNodes.push(
      opset >= 13
        ? { name: `${prefix}/Unsqueeze`, opType: "Unsqueeze", input: [asFloat, unsqueezeAxes], output: [expanded] }
        : { name: `${prefix}/Unsqueeze`, opType: "Unsqueeze", input: [asFloat], output: [expanded], attribute: [{ name: "axes", type: 7, ints: [1] }] },
    );
    perLayer.push(expanded);
  }
  newNodes.push({ name: `/sav/${outputName}/Concat`, opType: "Concat", input: perLayer, output: [outputName], attribute: [{ name: "axis", type: 2, i: 1 }] });
  graph.node = [...(graph.node ?? []), ...newNodes];
  graph.initializer = [...(graph.initializer ?? []), ...initializers];
}

/**
 * Rewrites the decoder so that its only output is the o_proj input of every kept layer at the last
 * position, as float32 [batch, layers, width]. Dropping logits and present.* lets the graph be
 * pruned: no vocabulary projection, no KV copies, and no layers past the last one kept.
 * Merged decoders that wrap the layers in If branches get the output added to both branches.
 */
export function editDecoder(model: Onnx.ModelProto, options: DecoderEditOptions): EditedDecoder {
  const graph = model.graph;
  if (!graph) throw new GraphEditError("The decoder model has no graph.");
  const opset = opsetVersion(model);
  const pattern = options.oProjPattern ?? DEFAULT_O_PROJ_PATTERN;
  let taps = findHeadTaps(graph, pattern);
  const ifNode = taps.length > 0 ? undefined : (graph.node ?? []).find((node) => node.opType === "If" && subgraphs(node).some((g) => findHeadTaps(g, pattern).length > 0));
  if (taps.length === 0 && !ifNode) taps = findHeadTapsStructurally(graph, options.layers);
  if (!ifNode) {
    if (taps.length === 0) {
      throw new GraphEditError(
        "No o_proj node found in the decoder graph, by name (like /model/layers.{i}/self_attn/o_proj/MatMul) or by structure " +
          "(a projection added to the residual stream after attention). Is this a transformer decoder exported with torch.onnx.export?",
      );
    }
    taps = validateTaps(taps, options, "");
    appendHeadVectors(graph, taps, opset, HEAD_VECTORS_OUTPUT);
  } else {
    for (const [index, branch] of subgraphs(ifNode).entries()) {
      taps = validateTaps(findHeadTaps(branch, pattern), options, `in If branch ${branch.name ?? index} `);
      const branchOutput = `${HEAD_VECTORS_OUTPUT}_branch${index}`;
      appendHeadVectors(branch, taps, opset, branchOutput);
      branch.output = [...(branch.output ?? []), floatOutput(branchOutput, ["batch_size", taps.length, options.width])];
    }
    ifNode.output = [...(ifNode.output ?? []), HEAD_VECTORS_OUTPUT];
  }
  graph.output = [
    floatOutput(HEAD_VECTORS_OUTPUT, ["batch_size", taps.length, options.width]),
    ...(options.extraOutputs ?? []).map((name) => ({ name, type: { tensorType: { elemType: TensorDataType.FLOAT } } })),
  ];
  pruneGraph(graph);
  return { model, taps, layers: taps.length };
}

export function decodeModel(bytes: Uint8Array): Onnx.ModelProto {
  try {
    return onnx.ModelProto.decode(bytes);
  } catch (error) {
    throw new GraphEditError(`The file is not a valid ONNX model (${(error as Error).message}).`);
  }
}

export function encodeModel(model: Onnx.IModelProto): Uint8Array {
  return onnx.ModelProto.encode(model).finish();
}

/**
 * Moves large inline initializers out of the edited model: each points at its bytes inside the source
 * file (same directory), so the edited graph costs kilobytes on disk and the weights are never copied.
 */
export function referenceWeightsInPlace(model: Onnx.IModelProto, source: Uint8Array, sourceFileName: string, minBytes = 1024): number {
  let moved = 0;
  for (const tensor of model.graph?.initializer ?? []) {
    const raw = tensor.rawData;
    if (!raw || raw.byteLength < minBytes || raw.buffer !== source.buffer) continue;
    const offset = raw.byteOffset - source.byteOffset;
    if (offset < 0 || offset + raw.byteLength > source.byteLength) continue;
    tensor.rawData = new Uint8Array(0);
    tensor.dataLocation = onnx.TensorProto.DataLocation.EXTERNAL;
    tensor.externalData = [
      { key: "location", value: sourceFileName },
      { key: "offset", value: String(offset) },
      { key: "length", value: String(raw.byteLength) },
    ];
    moved++;
  }
  return moved;
}

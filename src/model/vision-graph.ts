/**
 * Speed edits of a vision encoder graph, matched by structure (op types and data flow, never node names):
 * - drop the attention-mask Add in front of each attention Softmax when its other operand is computed from a
 *   declared mask input (one that is all true for unpadded images) — the session then runs this graph only for
 *   feeds whose mask is all true (vision-session.ts), and load-time verification checks the dropped operand is 0;
 * - replace each unmasked attention block (Reshape/Transpose of Q, K, V → MatMul Q·Kᵀ → scale → Softmax →
 *   MatMul ·V → Transpose → Reshape) by one com.microsoft MultiHeadAttention node.
 * Blocks that do not match exactly are left as they are; a graph with no match is returned unchanged.
 */
import { pruneGraph } from "./graph.js";
import { toNumber, TensorDataType, type Onnx } from "./onnx-proto.js";

type Graph = Onnx.IGraphProto;
type Node = Onnx.INodeProto;

export interface VisionEditOptions {
  /** Graph inputs that are all true (or all ones) for every feed this graph will run; masks derived from them may be dropped. */
  unpaddedMaskInputs: string[];
  /** Replace attention blocks by MultiHeadAttention; default true. */
  fuseAttention?: boolean;
}

export interface VisionEditReport {
  /** Mask Adds removed, and the tensors they added (verification checks these are 0 for an all-true mask). */
  maskAddsDropped: number;
  droppedOperands: string[];
  /** Attention blocks replaced by MultiHeadAttention. */
  attentionsFused: number;
  /** The mask inputs the dropped Adds were computed from: the session checks they are all true before each run. */
  maskInputsUsed: string[];
  /** verify mode: [block context, MultiHeadAttention output] per fused block. */
  pairs: [string, string][];
}

export const MS_DOMAIN = "com.microsoft";

interface GraphIndex {
  producer: Map<string, Node>;
  consumers: Map<string, Node[]>;
  constants: Map<string, Onnx.ITensorProto>;
  outputs: Set<string>;
}

function indexGraph(graph: Graph): GraphIndex {
  const producer = new Map<string, Node>();
  const consumers = new Map<string, Node[]>();
  const constants = new Map<string, Onnx.ITensorProto>();
  for (const t of graph.initializer ?? []) constants.set(t.name ?? "", t);
  for (const node of graph.node ?? []) {
    for (const out of node.output ?? []) producer.set(out, node);
    for (const input of node.input ?? []) {
      const users = consumers.get(input);
      if (users) users.push(node);
      else consumers.set(input, [node]);
    }
    const value = node.opType === "Constant" ? node.attribute?.find((a) => a.name === "value")?.t : undefined;
    if (value && node.output?.[0]) constants.set(node.output[0], value);
  }
  return { producer, consumers, constants, outputs: new Set((graph.output ?? []).map((o) => o.name ?? "")) };
}

/** The numbers of a small constant tensor (float or int64), or undefined when it is not a constant. */
export function constantValues(index: GraphIndex, name: string): number[] | undefined {
  const t = index.constants.get(name);
  if (!t) return undefined;
  const raw = t.rawData && t.rawData.byteLength > 0 ? Uint8Array.from(t.rawData) : undefined;
  // Shapes and scalars only: weights are never read (nor copied) here.
  if (raw && raw.byteLength > 256) return undefined;
  if (t.dataType === TensorDataType.FLOAT) {
    if (raw) return Array.from(new Float32Array(raw.buffer));
    return (t.floatData ?? []).map(Number);
  }
  if (t.dataType === TensorDataType.INT64) {
    if (raw) return Array.from(new BigInt64Array(raw.buffer), Number);
    return (t.int64Data ?? []).map((v) => toNumber(v as number));
  }
  return undefined;
}

function scalar(index: GraphIndex, name: string): number | undefined {
  const values = constantValues(index, name);
  return values && values.length === 1 ? values[0] : undefined;
}

function ints(node: Node, name: string): number[] | undefined {
  const a = node.attribute?.find((x) => x.name === name);
  return a ? (a.ints ?? []).map((v) => toNumber(v as number)) : undefined;
}

const same = (a: number[] | undefined, b: number[]): boolean => !!a && a.length === b.length && a.every((x, i) => x === b[i]);

/** The only consumer of a tensor that is not a graph output, or undefined. */
function soleConsumer(index: GraphIndex, tensor: string): Node | undefined {
  const users = index.consumers.get(tensor) ?? [];
  return users.length === 1 && !index.outputs.has(tensor) ? users[0] : undefined;
}

/** x → Reshape([0, 0, heads, headDim]) → Transpose(perm): returns x, heads and headDim. */
function headSplit(index: GraphIndex, tensor: string, perm: number[]): { source: string; heads: number; headDim: number; nodes: Node[] } | undefined {
  const transpose = index.producer.get(tensor);
  if (transpose?.opType !== "Transpose" || !same(ints(transpose, "perm"), perm)) return undefined;
  const reshape = index.producer.get(transpose.input?.[0] ?? "");
  if (reshape?.opType !== "Reshape" || soleConsumer(index, reshape.output?.[0] ?? "") !== transpose) return undefined;
  const shape = constantValues(index, reshape.input?.[1] ?? "");
  if (!shape || shape.length !== 4 || shape[0] !== 0 || shape[1] !== 0 || !(shape[2]! > 0) || !(shape[3]! > 0)) return undefined;
  return { source: reshape.input?.[0] ?? "", heads: shape[2]!, headDim: shape[3]!, nodes: [reshape, transpose] };
}

/** Graph inputs that a tensor is computed from. */
function inputsBehind(index: GraphIndex, tensor: string, graphInputs: Set<string>): Set<string> {
  const found = new Set<string>();
  const seen = new Set<string>();
  const stack = [tensor];
  while (stack.length > 0) {
    const name = stack.pop()!;
    if (seen.has(name)) continue;
    seen.add(name);
    if (graphInputs.has(name)) found.add(name);
    for (const input of index.producer.get(name)?.input ?? []) if (input) stack.push(input);
  }
  return found;
}

interface Attention {
  softmax: Node;
  /** Add(scores, mask) in front of the Softmax, if any, and the mask operand. */
  maskAdd?: { node: Node; scores: string; operand: string };
  scale: number;
  heads: number;
  headDim: number;
  q: string;
  k: string;
  v: string;
  /** Every node from the head splits to the final Reshape (replaced when fused). */
  nodes: Node[];
  context: string;
  /** Q, K, V are [N, H, hd] (no batch axis): MultiHeadAttention gets them reshaped to [1, N, E]. */
  unbatched: boolean;
}

/** Matches the attention block around one Softmax, or undefined. */
function matchAttention(index: GraphIndex, softmax: Node): Attention | undefined {
  const axis = softmax.attribute?.find((a) => a.name === "axis");
  if (axis && toNumber(axis.i) !== -1 && toNumber(axis.i) !== 3) return undefined;
  let scoresTensor = softmax.input?.[0] ?? "";
  let maskAdd: Attention["maskAdd"];
  const nodes: Node[] = [];
  const before = index.producer.get(scoresTensor);
  if (before?.opType === "Add") {
    const [a, b] = before.input ?? [];
    const isScores = (t: string | undefined): boolean => ["Mul", "Div", "MatMul"].includes(index.producer.get(t ?? "")?.opType ?? "");
    const scores = isScores(a) ? a : isScores(b) ? b : undefined;
    if (!scores || soleConsumer(index, before.output?.[0] ?? "") !== softmax) return undefined;
    maskAdd = { node: before, scores, operand: scores === a ? b! : a! };
    scoresTensor = scores;
  }
  let scale = 1;
  let product = index.producer.get(scoresTensor);
  if (product?.opType === "Mul" || product?.opType === "Div") {
    const [x, c] = product.input ?? [];
    const value = scalar(index, c ?? "") ?? (product.opType === "Mul" ? scalar(index, x ?? "") : undefined);
    if (value === undefined || value === 0) return undefined;
    scale = product.opType === "Mul" ? value : 1 / value;
    const inner = scalar(index, c ?? "") !== undefined ? x : c;
    if (soleConsumer(index, product.output?.[0] ?? "") !== (maskAdd?.node ?? softmax)) return undefined;
    nodes.push(product);
    product = index.producer.get(inner ?? "");
  }
  if (product?.opType !== "MatMul" || soleConsumer(index, product.output?.[0] ?? "") !== (nodes[0] ?? maskAdd?.node ?? softmax)) return undefined;
  const pv = soleConsumer(index, softmax.output?.[0] ?? "");
  if (pv?.opType !== "MatMul" || pv.input?.[0] !== softmax.output?.[0]) return undefined;
  const split = batchedHeads(index, product, pv) ?? unbatchedHeads(index, product, pv);
  if (!split) return undefined;
  const { splitNodes, mergeNodes, ...heads } = split;
  return { softmax, ...(maskAdd ? { maskAdd } : {}), scale, ...heads, nodes: [...splitNodes, product, ...nodes, softmax, pv, ...mergeNodes] };
}

type HeadLayout = Pick<Attention, "heads" | "headDim" | "q" | "k" | "v" | "context" | "unbatched"> & { splitNodes: Node[]; mergeNodes: Node[] };

/** SigLIP as torch exports it: [B, S, E] → Reshape [0, 0, H, hd] → Transpose, and back by Transpose + Reshape [0, 0, E]. */
function batchedHeads(index: GraphIndex, product: Node, pv: Node): HeadLayout | undefined {
  const q = headSplit(index, product.input?.[0] ?? "", [0, 2, 1, 3]);
  const k = headSplit(index, product.input?.[1] ?? "", [0, 2, 3, 1]);
  const v = headSplit(index, pv.input?.[1] ?? "", [0, 2, 1, 3]);
  if (!q || !k || !v || q.heads !== k.heads || q.heads !== v.heads || q.headDim !== k.headDim) return undefined;
  for (const split of [q, k, v]) if (soleConsumer(index, split.nodes[1]!.output?.[0] ?? "") !== (split === v ? pv : product)) return undefined;
  const merge = soleConsumer(index, pv.output?.[0] ?? "");
  if (merge?.opType !== "Transpose" || !same(ints(merge, "perm"), [0, 2, 1, 3])) return undefined;
  const flatten = soleConsumer(index, merge.output?.[0] ?? "");
  const flatShape = flatten?.opType === "Reshape" ? constantValues(index, flatten.input?.[1] ?? "") : undefined;
  if (!flatten || !flatShape || flatShape.length !== 3 || flatShape[0] !== 0 || flatShape[1] !== 0 || flatShape[2] !== v.heads * v.headDim) return undefined;
  return {
    heads: q.heads, headDim: q.headDim, q: q.source, k: k.source, v: v.source, context: flatten.output?.[0] ?? "", unbatched: false,
    splitNodes: [...q.nodes, ...k.nodes, ...v.nodes], mergeNodes: [merge, flatten],
  };
}

/**
 * Qwen2-VL's vision blocks: one image's tokens without a batch axis, q/k/v [N, H, hd] (split from a packed
 * qkv Reshape [-1, 3, H, hd] and Gather; q and k rotated) → Transpose to [H, N, hd], and back by Transpose +
 * Reshape [-1, E]. The head count is read from the qkv Reshape behind v.
 */
function unbatchedHeads(index: GraphIndex, product: Node, pv: Node): HeadLayout | undefined {
  const transposeOf = (tensor: string, perm: number[], consumer: Node): Node | undefined => {
    const node = index.producer.get(tensor);
    return node?.opType === "Transpose" && same(ints(node, "perm"), perm) && soleConsumer(index, tensor) === consumer ? node : undefined;
  };
  const q = transposeOf(product.input?.[0] ?? "", [1, 0, 2], product);
  const k = transposeOf(product.input?.[1] ?? "", [1, 2, 0], product);
  const v = transposeOf(pv.input?.[1] ?? "", [1, 0, 2], pv);
  if (!q || !k || !v) return undefined;
  const gather = index.producer.get(v.input?.[0] ?? "");
  const packed = gather?.opType === "Gather" ? index.producer.get(gather.input?.[0] ?? "") : undefined;
  const packedShape = packed?.opType === "Reshape" ? constantValues(index, packed.input?.[1] ?? "") : undefined;
  if (!packedShape || packedShape.length !== 4 || !(packedShape[2]! > 0) || !(packedShape[3]! > 0)) return undefined;
  const [heads, headDim] = [packedShape[2]!, packedShape[3]!];
  const merge = soleConsumer(index, pv.output?.[0] ?? "");
  if (merge?.opType !== "Transpose" || !same(ints(merge, "perm"), [1, 0, 2])) return undefined;
  const flatten = soleConsumer(index, merge.output?.[0] ?? "");
  const flatShape = flatten?.opType === "Reshape" ? constantValues(index, flatten.input?.[1] ?? "") : undefined;
  if (!flatten || !flatShape || flatShape.length !== 2 || flatShape[0] !== -1 || flatShape[1] !== heads * headDim) return undefined;
  return {
    heads, headDim, q: q.input?.[0] ?? "", k: k.input?.[0] ?? "", v: v.input?.[0] ?? "", context: flatten.output?.[0] ?? "", unbatched: true,
    splitNodes: [q, k, v], mergeNodes: [merge, flatten],
  };
}

/** An int64 shape initializer (shared by every block that needs the same shape). */
function shapeConstant(graph: Graph, dims: number[]): string {
  const name = `/sav/vision/shape_${dims.join("_")}`;
  if (!(graph.initializer ?? []).some((t) => t.name === name)) {
    const raw = new Uint8Array(BigInt64Array.from(dims, BigInt).buffer);
    graph.initializer = [...(graph.initializer ?? []), { name, dataType: TensorDataType.INT64, dims: [dims.length], rawData: raw }];
  }
  return name;
}

/** Finds the attention blocks of a graph (for reports and tests). */
export function findAttentions(graph: Graph): Attention[] {
  const index = indexGraph(graph);
  return (graph.node ?? []).filter((n) => n.opType === "Softmax" && (!n.domain || n.domain === "ai.onnx")).flatMap((n) => matchAttention(index, n) ?? []);
}

/**
 * Edits `model` in place; returns what was changed (all zeros: the graph is unchanged).
 * `verify` mode changes nothing the graph computed: it adds each MultiHeadAttention beside the block it replaces
 * (same Q, K, V), and exposes both contexts and every mask operand that would be dropped as outputs, so one
 * run shows whether each replacement computes what the block did.
 */
export function editVisionGraph(model: Onnx.IModelProto, options: VisionEditOptions, mode: "deploy" | "verify" = "deploy"): VisionEditReport {
  const report: VisionEditReport = { maskAddsDropped: 0, droppedOperands: [], attentionsFused: 0, maskInputsUsed: [], pairs: [] };
  const graph = model.graph;
  if (!graph) return report;
  const index = indexGraph(graph);
  const graphInputs = new Set((graph.input ?? []).map((i) => i.name ?? ""));
  const maskInputs = new Set(options.unpaddedMaskInputs.filter((name) => graphInputs.has(name)));
  const used = new Set<string>();
  const removed = new Set<Node>();
  const added = new Map<Node, Node[]>();
  for (const attention of findAttentions(graph)) {
    let masked = !!attention.maskAdd;
    if (attention.maskAdd) {
      const behind = inputsBehind(index, attention.maskAdd.operand, graphInputs);
      const fromMask = [...behind].filter((name) => maskInputs.has(name));
      // Only a bias computed from a declared mask input, and not from the scores, is dropped.
      if (fromMask.length > 0 && !inputsBehind(index, attention.maskAdd.operand, new Set([attention.q, attention.k])).size) {
        if (mode === "deploy") {
          attention.softmax.input = [attention.maskAdd.scores];
          removed.add(attention.maskAdd.node);
        }
        for (const name of fromMask) used.add(name);
        report.maskAddsDropped++;
        if (!report.droppedOperands.includes(attention.maskAdd.operand)) report.droppedOperands.push(attention.maskAdd.operand);
        masked = false;
      }
    }
    if (masked || options.fuseAttention === false) continue;
    const last = attention.nodes[attention.nodes.length - 1]!;
    const output = mode === "deploy" ? attention.context : `${attention.context}/sav_fused`;
    if (mode === "deploy") for (const node of attention.nodes) removed.add(node);
    else report.pairs.push([attention.context, output]);
    const mha = (inputs: string[], out: string): Node => ({
      name: `/sav/vision/MultiHeadAttention_${report.attentionsFused}`,
      opType: "MultiHeadAttention",
      domain: MS_DOMAIN,
      input: inputs,
      output: [out],
      attribute: [
        { name: "num_heads", type: 2, i: attention.heads },
        { name: "scale", type: 1, f: attention.scale },
      ],
    });
    if (!attention.unbatched) {
      added.set(last, [mha([attention.q, attention.k, attention.v], output)]);
    } else {
      const width = attention.heads * attention.headDim;
      const batched = shapeConstant(graph, [1, -1, width]);
      const flat = shapeConstant(graph, [-1, width]);
      const reshape = (input: string, shape: string, out: string): Node => ({ name: `${out}/Reshape`, opType: "Reshape", input: [input, shape], output: [out] });
      const [q3, k3, v3, context3] = ["q", "k", "v", "context"].map((part) => `${output}/sav_${part}_batched`) as [string, string, string, string];
      added.set(last, [
        reshape(attention.q, batched, q3),
        reshape(attention.k, batched, k3),
        reshape(attention.v, batched, v3),
        mha([q3, k3, v3], context3),
        reshape(context3, flat, output),
      ]);
    }
    report.attentionsFused++;
  }
  report.maskInputsUsed = [...used];
  if (report.maskAddsDropped + report.attentionsFused === 0) return report;
  graph.node = (graph.node ?? []).flatMap((node) => {
    const fused = added.get(node);
    if (mode === "verify") return fused ? [node, ...fused] : [node];
    return fused ?? (removed.has(node) ? [] : [node]);
  });
  if (report.attentionsFused > 0 && !(model.opsetImport ?? []).some((o) => o.domain === MS_DOMAIN)) {
    model.opsetImport = [...(model.opsetImport ?? []), { domain: MS_DOMAIN, version: 1 }];
  }
  if (mode === "verify") {
    const extra = [...report.droppedOperands, ...report.pairs.flat()];
    graph.output = [...(graph.output ?? []), ...extra.map((name) => ({ name, type: { tensorType: { elemType: TensorDataType.FLOAT } } }))];
    return report;
  }
  // The mask's own subgraph is now dead; the inputs stay, so callers feed the same names as before.
  const inputs = graph.input;
  pruneGraph(graph);
  graph.input = inputs;
  return report;
}

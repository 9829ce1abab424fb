/**
 * The vision encoder edited for speed (vision-graph.ts), verified against the published graph at load and
 * cached beside it. Verification runs both graphs on one deterministic input and compares every output
 * (max abs diff ≤ tolerance × the largest |output| of the published graph), and checks that every dropped
 * mask operand is exactly 0 for the all-true mask. On a mismatch or any error the published graph is used
 * and the reason is written to stderr once. A sidecar JSON records the outcome (passed, failed, nothing
 * matched), so a warm load neither re-edits nor re-verifies.
 */
import { existsSync } from "node:fs";
import { readdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import * as ort from "onnxruntime-node";
import { codeHashOf, uniqueStem, writable, writeFileAtomic } from "./cache-files.js";
import { sha256File, sha256Hex } from "./file-hash.js";
import { inputMetadata, type InputMetadata } from "./tensors.js";
import { decodeModel, encodeModel, referenceWeightsInPlace } from "./graph.js";
import { onnx, type Onnx } from "./onnx-proto.js";
import { editVisionGraph, type VisionEditOptions, type VisionEditReport } from "./vision-graph.js";

/** One input of the verification run: random values in [-1, 1) (seeded), all ones / all true, or given values (int64). */
export interface VisionProbeInput {
  name: string;
  type: "float32" | "bool" | "int64";
  /** Default: the graph's shape for the input, its symbolic dims as 1. */
  dims?: number[];
  fill: "random" | "ones" | "values";
  values?: number[];
}

export interface VisionSourceSpec {
  source: string;
  edit: VisionEditOptions;
  probe: VisionProbeInput[];
  /** Allowed end-to-end max abs diff relative to the largest |output|; default VISION_TOLERANCE (QUANTISED_TOLERANCE with run-time quantisation). */
  tolerance?: number;
  /** Tests only: scales every fused attention's softmax scale by this, to make verification fail. */
  corruptScaleForTest?: number;
}

/**
 * End-to-end tolerance, relative to the largest |output|. Fused attention sums in another order, so fp32 and
 * q4 outputs differ in the last bits (measured on the SmolVLM-shaped bench model: 7e-7 and 3e-6 of the scale);
 * a softmax scale wrong by 1% already moves them by 1.5e-3.
 */
export const VISION_TOLERANCE = 1e-3;
/**
 * With DynamicQuantizeLinear in the graph a last-bit change can move a quantisation scale and with it whole
 * tensors by one step: the correct int8 edit differs by 2.5% of the scale end to end (measured), so there the
 * per-block check (BLOCK_TOLERANCE, on identical Q, K, V) is what proves the replacement; this only catches
 * wiring errors.
 */
export const QUANTISED_TOLERANCE = 0.1;
/** Per fused block, relative to the block context's largest |value| (measured: below 1e-6 in fp32). */
export const BLOCK_TOLERANCE = 1e-4;

export interface VisionVerdict {
  verified: boolean;
  report: VisionEditReport;
  maxAbsDiff?: number;
  outputScale?: number;
  /** Largest per-block difference of MultiHeadAttention and the block it replaced, relative to the block's scale. */
  blockDiff?: number;
  endTolerance?: number;
  /** The check could not run (an error, not a mismatch): the next load tries again. */
  transient?: boolean;
  reason?: string;
}

export interface PreparedVision {
  /** The edited graph to load (file beside the source, or bytes when the directory is read-only); absent: load the source. */
  path?: string;
  bytes?: Uint8Array;
  verdict: VisionVerdict;
  /** True when this call edited and verified (a cold load); false when the sidecar answered. */
  cold: boolean;
}

export const VISION_EDITOR_CODE_HASH: string = codeHashOf(import.meta.url, ["graph", "vision-graph", "vision-cache"], "vision editor");

const reported = new Set<string>();
function warnOnce(key: string, message: string): void {
  if (reported.has(key)) return;
  reported.add(key);
  process.stderr.write(`${message}\n`);
}

export function probeFeeds(probe: readonly VisionProbeInput[], graphShapes: ReadonlyMap<string, InputMetadata> = new Map()): Record<string, ort.Tensor> {
  const feeds: Record<string, ort.Tensor> = {};
  let state = 0x9e3779b9;
  for (const probed of probe) {
    const shape = graphShapes.get(probed.name)?.shape;
    const dims = probed.dims ?? shape?.map((d) => (typeof d === "number" && d > 0 ? d : 1));
    if (!dims) throw new Error(`the verification input ${probed.name} has no stated shape and the graph states none`);
    const input = { ...probed, dims };
    const size = input.dims.reduce((a, b) => a * b, 1);
    if (input.type === "int64") {
      if (input.values?.length !== size) throw new Error(`the verification input ${input.name} needs ${size} values`);
      feeds[input.name] = new ort.Tensor("int64", BigInt64Array.from(input.values, BigInt), input.dims);
      continue;
    }
    if (input.type === "bool") {
      feeds[input.name] = new ort.Tensor("bool", new Uint8Array(size).fill(input.fill === "ones" ? 1 : 0), input.dims);
      continue;
    }
    const data = new Float32Array(size);
    for (let i = 0; i < size; i++) {
      state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
      data[i] = input.fill === "ones" ? 1 : state / 2 ** 31 - 1;
    }
    feeds[input.name] = new ort.Tensor("float32", data, input.dims);
  }
  return feeds;
}

function floatsOf(tensor: ort.Tensor): Float64Array {
  return Float64Array.from(tensor.data as ArrayLike<number>, Number);
}

function maxAbs(values: Float64Array): number {
  let max = 0;
  for (const x of values) max = Math.max(max, Math.abs(x));
  return max;
}

/** Largest |a - b| (NaN counts as infinite). */
function maxDiff(a: Float64Array, b: Float64Array): number {
  let max = 0;
  for (let i = 0; i < a.length; i++) {
    const diff = Math.abs(a[i]! - b[i]!);
    max = Number.isNaN(diff) ? Infinity : Math.max(max, diff);
  }
  return max;
}

/**
 * Runs the verification graph (the published one with each MultiHeadAttention beside its block) and then
 * the edited graph on the same input. Per block the fused context must match the block's within
 * BLOCK_TOLERANCE; end to end, the outputs within `endTolerance` (wider where activations are quantised at
 * run time, since a last-bit difference can move a DynamicQuantizeLinear scale).
 */
async function verify(
  reference: string | Uint8Array,
  edited: string | Uint8Array,
  spec: VisionSourceSpec,
  report: VisionEditReport,
  pairs: readonly [string, string][],
  endTolerance: number,
  options: ort.InferenceSession.SessionOptions,
): Promise<VisionVerdict> {
  const open = (source: string | Uint8Array): Promise<ort.InferenceSession> =>
    typeof source === "string" ? ort.InferenceSession.create(source, options) : ort.InferenceSession.create(source, options);
  const runOnce = async (source: string | Uint8Array): Promise<Record<string, ort.Tensor>> => {
    const session = await open(source);
    try {
      return await session.run(probeFeeds(spec.probe, inputMetadata(session)));
    } finally {
      await session.release();
    }
  };
  const want = await runOnce(reference);
  const fail = (reason: string): VisionVerdict => ({ verified: false, report, reason });
  for (const operand of report.droppedOperands) {
    if (floatsOf(want[operand]!).some((x) => x !== 0)) return fail(`the dropped mask operand ${operand} is not 0 for an all-true mask`);
  }
  let blockDiff = 0;
  if (pairs.length !== report.attentionsFused) return fail(`${pairs.length} blocks to check for ${report.attentionsFused} fused`);
  for (const [block, fused] of pairs) {
    const a = floatsOf(want[block]!);
    const b = floatsOf(want[fused]!);
    const relative = maxDiff(a, b) / Math.max(maxAbs(a), Number.MIN_VALUE);
    blockDiff = Math.max(blockDiff, relative);
    if (!(relative <= BLOCK_TOLERANCE)) return { ...fail(`MultiHeadAttention differs from the attention block ${block} by ${relative.toExponential(2)} of its scale`), blockDiff };
  }
  const got = await runOnce(edited);
  let maxAbsDiff = 0;
  let outputScale = 0;
  for (const name of Object.keys(got)) {
    const a = floatsOf(want[name]!);
    const b = floatsOf(got[name]!);
    if (a.length !== b.length) return fail(`output ${name} has ${b.length} values instead of ${a.length}`);
    outputScale = Math.max(outputScale, maxAbs(a));
    maxAbsDiff = Math.max(maxAbsDiff, maxDiff(a, b));
  }
  const verified = maxAbsDiff <= endTolerance * outputScale;
  const verdict = { verified, report, maxAbsDiff, outputScale, blockDiff, endTolerance };
  return verified ? verdict : { ...verdict, reason: `outputs differ by ${maxAbsDiff.toExponential(2)}, more than ${endTolerance} × ${outputScale.toPrecision(3)}` };
}

/** Edits of an earlier version of the source or of the editor: they point at bytes that have changed. */
async function removeStaleEdits(dir: string, base: string, currentPrefix: string): Promise<void> {
  const stale = (await readdir(dir)).filter((name) => name.startsWith(`${base}.sav-vision-`) && !name.startsWith(currentPrefix) && !name.includes(".tmp"));
  await Promise.all(stale.map((name) => rm(path.join(dir, name), { force: true })));
}

function corruptScale(model: Onnx.IModelProto, factor: number): void {
  for (const node of model.graph?.node ?? []) {
    for (const a of node.attribute ?? []) if (node.opType === "MultiHeadAttention" && a.name === "scale") a.f = (a.f ?? 1) * factor;
  }
}

/** Why the graph cannot be verified on float32 probes (a float16 pixel input or output), or undefined. */
function floatTypeProblem(model: Onnx.IModelProto): string | undefined {
  const graph = model.graph;
  const initializers = new Set((graph?.initializer ?? []).map((t) => t.name));
  const values = [...(graph?.input ?? []).filter((v) => !initializers.has(v.name)), ...(graph?.output ?? [])];
  const odd = values.find((v) => {
    const type = v.type?.tensorType?.elemType;
    return type === onnx.TensorProto.DataType.FLOAT16 || type === onnx.TensorProto.DataType.BFLOAT16;
  });
  return odd ? `${odd.name} is a 16-bit float tensor` : undefined;
}

/** Edits, verifies and caches; never throws (any failure means: load the source as published). */
export async function prepareVision(spec: VisionSourceSpec, options: ort.InferenceSession.SessionOptions, editorHash = VISION_EDITOR_CODE_HASH): Promise<PreparedVision> {
  const { source } = spec;
  const empty: VisionEditReport = { maskAddsDropped: 0, droppedOperands: [], attentionsFused: 0, maskInputsUsed: [], pairs: [] };
  try {
    const dir = path.dirname(source);
    const base = path.basename(source, ".onnx");
    // The runtime's version too: a verdict holds for the kernels it was verified with.
    const key = sha256Hex(JSON.stringify({ edit: spec.edit, probe: spec.probe, tolerance: spec.tolerance, corrupt: spec.corruptScaleForTest, runtime: ort.env.versions.common })).slice(0, 8);
    const prefix = `${base}.sav-vision-${(await sha256File(source)).slice(0, 16)}-${editorHash.slice(0, 8)}-`;
    const stem = path.join(dir, `${prefix}${key}`);
    const target = `${stem}.onnx`;
    const sidecar = `${stem}.json`;
    const inPlace = await writable(dir);
    if (inPlace && existsSync(sidecar)) {
      const verdict = JSON.parse(await readFile(sidecar, "utf8")) as VisionVerdict;
      if (!verdict.verified) return { verdict, cold: false };
      if (existsSync(target)) return { path: target, verdict, cold: false };
    }
    const sourceBytes = await readFile(source);
    const model = decodeModel(sourceBytes);
    const report = editVisionGraph(model, spec.edit);
    let verdict: VisionVerdict;
    let edited: string | Uint8Array | undefined;
    const nonFloat = floatTypeProblem(model);
    if (nonFloat !== undefined) {
      // Verification compares float32 outputs on float32 probes: a float16 graph would fail it on every load.
      verdict = { verified: false, report: empty, reason: `${nonFloat}; only float32 graphs are edited, the published graph is used` };
    } else if (report.maskAddsDropped + report.attentionsFused === 0) {
      verdict = { verified: false, report, reason: "no attention block or mask matched; the published graph is used" };
    } else {
      const reference = decodeModel(sourceBytes);
      const checks = editVisionGraph(reference, spec.edit, "verify");
      if (spec.corruptScaleForTest !== undefined) for (const m of [model, reference]) corruptScale(m, spec.corruptScaleForTest);
      const quantisedAtRunTime = (model.graph?.node ?? []).some((n) => n.opType === "DynamicQuantizeLinear");
      const endTolerance = spec.tolerance ?? (quantisedAtRunTime ? QUANTISED_TOLERANCE : VISION_TOLERANCE);
      let referenceSource: string | Uint8Array;
      if (inPlace) {
        const temporary = uniqueStem(stem);
        referenceWeightsInPlace(model, sourceBytes, path.basename(source));
        referenceWeightsInPlace(reference, sourceBytes, path.basename(source));
        edited = `${temporary}.tmp.onnx`;
        referenceSource = `${temporary}.ref.tmp.onnx`;
        await writeFile(edited, encodeModel(model));
        await writeFile(referenceSource, encodeModel(reference));
      } else {
        edited = encodeModel(model);
        referenceSource = encodeModel(reference);
      }
      try {
        verdict = await verify(referenceSource, edited, spec, report, checks.pairs, endTolerance, options);
      } catch (error) {
        // Not remembered: an error (memory, a file being replaced) may not happen again.
        verdict = { verified: false, report, reason: `verification failed: ${(error as Error).message}`, transient: true };
      } finally {
        if (typeof referenceSource === "string") await rm(referenceSource, { force: true });
      }
      if (!verdict.verified) {
        warnOnce(stem, `[sav-mcp] the edited vision encoder of ${source} did not match the published graph (${verdict.reason}); using the published graph.`);
      }
    }
    if (!inPlace) return verdict.verified ? { bytes: edited as Uint8Array, verdict, cold: true } : { verdict, cold: true };
    if (verdict.verified) await rename(edited as string, target);
    else if (typeof edited === "string") await rm(edited, { force: true });
    if (verdict.transient) return { verdict, cold: true };
    await writeFileAtomic(sidecar, JSON.stringify(verdict));
    await removeStaleEdits(dir, base, prefix);
    return verdict.verified ? { path: target, verdict, cold: true } : { verdict, cold: true };
  } catch (error) {
    warnOnce(source, `[sav-mcp] cannot edit the vision encoder ${source} (${(error as Error).message}); using the published graph.`);
    return { verdict: { verified: false, report: empty, reason: (error as Error).message }, cold: true };
  }
}

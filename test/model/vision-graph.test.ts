import { copyFileSync, existsSync, mkdtempSync, writeFileSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import * as ort from "onnxruntime-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { encodeModel as encodeBuilt } from "../../src/model/onnx-build/graph-builder.js";
import { buildQwen2VisionEncoder } from "../../src/model/families/qwen2_vl/tiny/vision-encoder.js";
import { QWEN2_VL_PRESETS } from "../../src/model/families/qwen2_vl/tiny/presets.js";
import { decodeModel, encodeModel } from "../../src/model/graph.js";
import { toNumber } from "../../src/model/onnx-proto.js";
import { sessionOptions } from "../../src/model/session-host.js";
import { prepareVision, probeFeeds, type VisionProbeInput } from "../../src/model/vision-cache.js";
import { editVisionGraph, findAttentions } from "../../src/model/vision-graph.js";
import { openVisionSession } from "../../src/model/vision-session.js";
import { ModelRunner } from "../../src/model/runner.js";
import { noiseImage } from "../support/images.js";
import { tinyModelDir } from "./paths.js";
import { defaultTinyLlavaOnevisionDir } from "../../src/model/families/llava_onevision/tiny/index.js";

const options = sessionOptions(1);

function probe(tile: number): VisionProbeInput[] {
  return [
    { name: "pixel_values", type: "float32", dims: [1, 1, 3, tile, tile], fill: "random" },
    { name: "pixel_attention_mask", type: "bool", dims: [1, 1, tile, tile], fill: "ones" },
  ];
}

function maxAbsDiff(a: ort.Tensor, b: ort.Tensor): number {
  const x = a.data as Float32Array;
  const y = b.data as Float32Array;
  expect(y.length).toBe(x.length);
  let max = 0;
  for (let i = 0; i < x.length; i++) max = Math.max(max, Math.abs(x[i]! - y[i]!));
  return max;
}

describe("vision graph editor", () => {
  let dir: string;
  let source: string;
  let tile: number;
  let layers: number;
  beforeAll(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), "sav-vision-"));
    source = path.join(dir, "vision_encoder.onnx");
    copyFileSync(path.join(tinyModelDir, "onnx/vision_encoder.onnx"), source);
    const config = JSON.parse(readFileSync(path.join(tinyModelDir, "config.json"), "utf8"));
    tile = config.vision_config.image_size;
    layers = config.vision_config.num_hidden_layers;
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("drops every mask Add and fuses every attention block of the idefics3 graph; the output matches", async () => {
    const model = decodeModel(readFileSync(source));
    expect(findAttentions(model.graph!)).toHaveLength(layers);
    const report = editVisionGraph(model, { unpaddedMaskInputs: ["pixel_attention_mask"] });
    expect(report).toMatchObject({ maskAddsDropped: layers, attentionsFused: layers, maskInputsUsed: ["pixel_attention_mask"] });
    const ops = model.graph!.node!.map((n) => n.opType);
    expect(ops.filter((op) => op === "MultiHeadAttention")).toHaveLength(layers);
    expect(ops).not.toContain("Softmax");
    // The mask's subgraph is gone, its input stays.
    expect(ops).not.toContain("Where");
    expect(model.graph!.input!.map((i) => i.name)).toEqual(["pixel_values", "pixel_attention_mask"]);
    const published = await ort.InferenceSession.create(source, options);
    const edited = await ort.InferenceSession.create(encodeModel(model), options);
    const want = (await published.run(probeFeeds(probe(tile)))).image_features!;
    const got = (await edited.run(probeFeeds(probe(tile)))).image_features!;
    expect(maxAbsDiff(want, got)).toBeLessThan(1e-4);
    await Promise.all([published.release(), edited.release()]);
  });

  it("fuses the unmasked SigLIP attention of the LLaVA-OneVision graph, verified on the graph's own input shape", async () => {
    const llava = path.join(dir, "llava_vision_encoder.onnx");
    copyFileSync(path.join(defaultTinyLlavaOnevisionDir(), "onnx/vision_encoder.onnx"), llava);
    const prepared = await prepareVision({ source: llava, edit: { unpaddedMaskInputs: [] }, probe: [{ name: "pixel_values", type: "float32", fill: "random" }] }, options);
    expect(prepared.verdict).toMatchObject({ verified: true, report: { maskAddsDropped: 0, maskInputsUsed: [] } });
    expect(prepared.verdict.report.attentionsFused).toBeGreaterThan(0);
    const ops = decodeModel(readFileSync(prepared.path!)).graph!.node!.map((n) => n.opType);
    expect(ops.filter((op) => op === "MultiHeadAttention")).toHaveLength(prepared.verdict.report.attentionsFused);
    expect(ops).not.toContain("Softmax");
  });

  it("keeps the mask Add (and the block unfused) when the mask is not declared all true", () => {
    const model = decodeModel(readFileSync(source));
    const report = editVisionGraph(model, { unpaddedMaskInputs: [] });
    expect(report.maskAddsDropped + report.attentionsFused).toBe(0);
    expect(model.graph!.node!.filter((n) => n.opType === "Softmax")).toHaveLength(layers);
  });

  it("fuses the unbatched Qwen2-VL vision attention ([N, H, hd] after rotary), verified end to end", async () => {
    const qwen = path.join(dir, "qwen_vision_encoder.onnx");
    writeFileSync(qwen, encodeBuilt(buildQwen2VisionEncoder(QWEN2_VL_PRESETS.tiny, 1)));
    const patchLength = toNumber(decodeModel(readFileSync(qwen)).graph!.input![0]!.type!.tensorType!.shape!.dim![1]!.dimValue);
    // A 4×4 patch grid (merge size 2): one image of 16 patches.
    const probe: VisionProbeInput[] = [
      { name: "pixel_values", type: "float32", dims: [16, patchLength], fill: "random" },
      { name: "grid_thw", type: "int64", dims: [1, 3], fill: "values", values: [1, 4, 4] },
    ];
    const prepared = await prepareVision({ source: qwen, edit: { unpaddedMaskInputs: [] }, probe }, options);
    expect(prepared.verdict).toMatchObject({ verified: true, report: { maskAddsDropped: 0, attentionsFused: QWEN2_VL_PRESETS.tiny.vision.depth } });
    expect(prepared.verdict.blockDiff).toBeLessThan(1e-5);
    const ops = decodeModel(readFileSync(prepared.path!)).graph!.node!.map((n) => n.opType);
    expect(ops).not.toContain("Softmax");
  });

  it("is a no-op on a graph without the pattern (the decoder: attention over a KV cache)", () => {
    const model = decodeModel(readFileSync(path.join(tinyModelDir, "onnx/decoder_model_merged.onnx")));
    expect(model.graph!.node!.some((n) => n.opType === "Softmax")).toBe(true);
    const before = encodeModel(model);
    const report = editVisionGraph(model, { unpaddedMaskInputs: ["attention_mask"] });
    expect(report.maskAddsDropped + report.attentionsFused).toBe(0);
    expect(Buffer.compare(Buffer.from(encodeModel(model)), Buffer.from(before))).toBe(0);
  });

  it("verifies at load, caches the edit beside the source, and reuses it without re-verifying", async () => {
    const spec = { source, edit: { unpaddedMaskInputs: ["pixel_attention_mask"] }, probe: probe(tile) };
    const cold = await prepareVision(spec, options);
    expect(cold.cold).toBe(true);
    expect(cold.verdict.verified).toBe(true);
    expect(cold.verdict.blockDiff).toBeLessThan(1e-5);
    expect(path.dirname(cold.path!)).toBe(dir);
    // The cached graph reads the source's weights in place.
    expect(statSync(cold.path!).size).toBeLessThan(statSync(source).size / 5);
    const warm = await prepareVision(spec, options);
    expect(warm).toMatchObject({ cold: false, path: cold.path, verdict: { verified: true } });
    expect(readdirSync(dir).filter((n) => n.includes(".tmp"))).toEqual([]);
    // An edit of an earlier editor version is removed by the next cold edit.
    const stale = path.join(dir, "vision_encoder.sav-vision-0000000000000000-00000000-00000000.onnx");
    writeFileSync(stale, "old");
    await prepareVision(spec, options, "f".repeat(64));
    expect(existsSync(stale)).toBe(false);
  });

  it("falls back to the published graph when verification fails (a wrong edit injected)", async () => {
    const spec = { source, edit: { unpaddedMaskInputs: ["pixel_attention_mask"] }, probe: probe(tile), corruptScaleForTest: 1.05 };
    const { session, prepared } = await openVisionSession(spec, options);
    expect(prepared.verdict.verified).toBe(false);
    expect(prepared.verdict.reason).toMatch(/MultiHeadAttention differs/);
    expect(prepared.path).toBeUndefined();
    const published = await ort.InferenceSession.create(source, options);
    const want = (await published.run(probeFeeds(probe(tile)))).image_features!;
    expect(maxAbsDiff(want, (await session.run(probeFeeds(probe(tile)))).image_features!)).toBe(0);
    // The failure is remembered: a warm load does not edit again.
    expect((await prepareVision(spec, options)).cold).toBe(false);
    await Promise.all([published.release(), session.release()]);
  });

  it("uses the published graph when the cached edit will not open (removed or truncated meanwhile)", async () => {
    const spec = { source, edit: { unpaddedMaskInputs: ["pixel_attention_mask"] }, probe: probe(tile) };
    const cached = await prepareVision(spec, options);
    expect(cached.verdict.verified).toBe(true);
    writeFileSync(cached.path!, "truncated");
    const { session, prepared } = await openVisionSession(spec, options);
    expect(prepared.verdict).toMatchObject({ verified: false, transient: true });
    const published = await ort.InferenceSession.create(source, options);
    const want = (await published.run(probeFeeds(probe(tile)))).image_features!;
    expect(maxAbsDiff(want, (await session.run(probeFeeds(probe(tile)))).image_features!)).toBe(0);
    await Promise.all([published.release(), session.release()]);
    rmSync(cached.path!);
  });

  it("leaves a float16 graph as published, and remembers that without editing it again", async () => {
    const half = path.join(dir, "vision_encoder_fp16.onnx");
    const model = decodeModel(readFileSync(source));
    model.graph!.output![0]!.type!.tensorType!.elemType = 10; // FLOAT16
    writeFileSync(half, encodeModel(model));
    const spec = { source: half, edit: { unpaddedMaskInputs: ["pixel_attention_mask"] }, probe: probe(tile) };
    const first = await prepareVision(spec, options);
    expect(first.verdict).toMatchObject({ verified: false, reason: expect.stringMatching(/image_features is a 16-bit float tensor/) });
    expect(first.verdict.transient).toBeUndefined();
    expect(first.path).toBeUndefined();
    expect((await prepareVision(spec, options)).cold).toBe(false);
  });

  it("runs the published graph for a mask that is not all true", async () => {
    const spec = { source, edit: { unpaddedMaskInputs: ["pixel_attention_mask"] }, probe: probe(tile) };
    const { session } = await openVisionSession(spec, options);
    const published = await ort.InferenceSession.create(source, options);
    const feeds = probeFeeds(probe(tile));
    const mask = feeds.pixel_attention_mask!.data as Uint8Array;
    // Padding: the lower half of the tile is masked out.
    mask.fill(0, mask.length / 2);
    const want = (await published.run(feeds)).image_features!;
    const got = (await session.run(feeds)).image_features!;
    expect(maxAbsDiff(want, got)).toBe(0);
    expect((session as unknown as { publishedRuns: number }).publishedRuns).toBe(1);
    await Promise.all([published.release(), session.release()]);
  });
});

describe("runner with the vision edit on and off", () => {
  it("extracts the same head vectors within tolerance", async () => {
    const image = await noiseImage(80, 60, 3);
    const results: Float32Array[] = [];
    for (const editVision of [true, false]) {
      const runner = await ModelRunner.create({ id: "tiny-smolvlm", dir: tinyModelDir }, { threads: 1, editVision, inference: "main" });
      try {
        results.push((await runner.extract({ images: [image], text: "What is shown?" })).vectors);
      } finally {
        await runner.close();
      }
    }
    // The edited graph was verified and cached beside the model's vision encoder, so the first runner used it.
    const verdicts = readdirSync(path.join(tinyModelDir, "onnx")).filter((n) => /^vision_encoder\.sav-vision-.*\.json$/.test(n));
    expect(verdicts.map((n) => JSON.parse(readFileSync(path.join(tinyModelDir, "onnx", n), "utf8")).verified)).toContain(true);
    const [on, off] = results as [Float32Array, Float32Array];
    expect(on.length).toBe(off.length);
    let max = 0;
    let scale = 0;
    for (let i = 0; i < on.length; i++) {
      max = Math.max(max, Math.abs(on[i]! - off[i]!));
      scale = Math.max(scale, Math.abs(off[i]!));
    }
    expect(scale).toBeGreaterThan(0);
    expect(max).toBeLessThan(1e-4 * scale);
  });
});

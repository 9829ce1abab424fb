/** The decoder editor finds o_proj by name in either export naming, by structure when names say nothing, and caches by its own code. */
import { createHash } from "node:crypto";
import { copyFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EDITOR_CODE_HASH, prepareDecoder } from "../../src/model/decoder-cache.js";
import { decodeModel, editDecoder, findHeadTaps, findHeadTapsStructurally, HEAD_VECTORS_OUTPUT } from "../../src/model/graph.js";
import { tinyModelDir } from "../model/paths.js";

const LAYERS = 4;

function decoder(file: string) {
  return decodeModel(readFileSync(path.join(tinyModelDir, "onnx", file)));
}

describe("finding each layer's o_proj input", () => {
  for (const file of ["decoder_model_merged.onnx", "decoder_model_merged_int8.onnx", "decoder_model_merged_q4.onnx"]) {
    it(`${file}: by structure, the same tensors as by name`, () => {
      const graph = decoder(file).graph!;
      const byName = findHeadTaps(graph);
      expect(byName.map((t) => t.layer)).toEqual([0, 1, 2, 3]);
      const byStructure = findHeadTapsStructurally(graph, LAYERS);
      expect(byStructure.map((t) => [t.layer, t.tensor, t.opType])).toEqual(byName.map((t) => [t.layer, t.tensor, t.opType]));
    });
  }

  it("accepts ORT GenAI's `attn/o_proj` naming as well as torch's `self_attn/o_proj`", () => {
    const graph = decoder("decoder_model_merged.onnx").graph!;
    const expected = findHeadTaps(graph).map((t) => t.tensor);
    for (const node of graph.node ?? []) node.name = (node.name ?? "").replace("/self_attn/o_proj/", "/attn/o_proj/");
    expect(findHeadTaps(graph).map((t) => t.tensor)).toEqual(expected);
  });

  it("falls back to the structure when the export names its nodes otherwise, and edits that graph", () => {
    const model = decoder("decoder_model_merged.onnx");
    const expected = findHeadTaps(model.graph!).map((t) => t.tensor);
    model.graph!.node?.forEach((node, i) => (node.name = `node_${i}`));
    expect(findHeadTaps(model.graph!)).toEqual([]);
    expect(findHeadTapsStructurally(model.graph!, LAYERS).map((t) => t.tensor)).toEqual(expected);
    const edited = editDecoder(model, { layers: LAYERS, width: 64 });
    expect(edited.taps.map((t) => t.tensor)).toEqual(expected);
    expect(edited.model.graph?.output?.map((o) => o.name)).toEqual([HEAD_VECTORS_OUTPUT]);
  });
});

describe("the edited-graph cache is keyed by the editor's own code", () => {
  let dir: string;
  let source: string;
  beforeAll(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), "sav-editor-hash-"));
    source = path.join(dir, "decoder_model_merged.onnx");
    copyFileSync(path.join(tinyModelDir, "onnx/decoder_model_merged.onnx"), source);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("hashes graph.ts and decoder-cache.ts as they are", () => {
    const sources = ["graph", "decoder-cache"].map((name) => readFileSync(path.resolve(import.meta.dirname, `../../src/model/${name}.ts`), "utf8"));
    const hash = createHash("sha256");
    for (const text of sources) hash.update(text);
    expect(EDITOR_CODE_HASH).toBe(hash.digest("hex"));
  });

  it("an editor change makes a new edited graph and removes the old editor's", async () => {
    const options = { layers: LAYERS, width: 64 };
    const before = await prepareDecoder(source, options, "a".repeat(64));
    const again = await prepareDecoder(source, options, "a".repeat(64));
    expect(again.path).toBe(before.path);
    const after = await prepareDecoder(source, options, "b".repeat(64));
    expect(after.path).not.toBe(before.path);
    expect(existsSync(before.path!)).toBe(false);
    expect(readdirSync(dir).filter((name) => name.includes(".sav-"))).toEqual([path.basename(after.path!)]);
  });
});

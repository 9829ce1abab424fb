import { copyFileSync, existsSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { prepareDecoder } from "../../src/model/decoder-cache.js";
import { tinyModelDir } from "./paths.js";

describe("edited decoder cache", () => {
  let dir: string;
  let source: string;
  beforeAll(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), "sav-decoder-"));
    source = path.join(dir, "decoder_model_merged.onnx");
    copyFileSync(path.join(tinyModelDir, "onnx/decoder_model_merged.onnx"), source);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const edits = () => readdirSync(dir).filter((name) => name.includes(".sav-") && name.endsWith(".onnx"));

  it("writes a small graph beside the source that reads the source's weights in place, and reuses it", async () => {
    const first = await prepareDecoder(source, { layers: 4, width: 64 });
    expect(first.path && path.dirname(first.path)).toBe(dir);
    expect(statSync(first.path!).size).toBeLessThan(statSync(source).size / 20);
    const again = await prepareDecoder(source, { layers: 4, width: 64 });
    expect(again.path).toBe(first.path);
    expect(edits()).toHaveLength(1);
  });

  it("keeps one graph per depth and removes graphs edited from an earlier version of the source", async () => {
    const stale = path.join(dir, "decoder_model_merged.sav-0000000000000000-00000000.onnx");
    const otherFile = path.join(dir, "decoder_model_merged_int8.sav-0000000000000000-00000000.onnx");
    writeFileSync(stale, "old");
    writeFileSync(otherFile, "another graph's edit");
    const truncated = await prepareDecoder(source, { layers: 4, width: 64, keepLayers: 2 });
    expect(truncated.layers).toBe(2);
    expect(existsSync(stale)).toBe(false);
    expect(existsSync(otherFile)).toBe(true);
    expect(edits().filter((name) => name.startsWith("decoder_model_merged.sav-"))).toHaveLength(2);
  });
});

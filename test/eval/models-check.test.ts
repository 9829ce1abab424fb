import { repoModelsDir } from "../model/paths.js";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generatedModels } from "../../src/generated-models.js";
import { checkReportText, headVectorProblems, runModelsCheck, type CheckReport } from "../../src/eval/models-check.js";
import { loadModelFiles } from "../../src/model/model-dir.js";
import { tinyModelDir } from "../model/paths.js";
import { makeTempDir } from "../support/temp-dir.js";

describe("sav-mcp models check", () => {
  let dir: string;
  let cleanup: () => void;
  const registry = () => ({ modelsDir: path.join(dir, "models"), defaultModel: "tiny-smolvlm", generators: generatedModels(repoModelsDir) });
  beforeAll(() => ({ dir, cleanup } = makeTempDir()));
  afterAll(() => cleanup());

  it("passes on the tiny model, reports the o_proj nodes of every layer and prints a caption line flagged as noise", async () => {
    const report: CheckReport = await runModelsCheck("tiny-smolvlm", registry(), { threads: 1 });
    const layers = loadModelFiles(tinyModelDir).model.text.layers;
    expect(report.items.map((i) => [i.name, i.status])).toEqual([
      ["model installed", "ok"],
      ["files verified", "ok"],
      ["configuration read", "ok"],
      ["decoder edited", "ok"],
      ["runner loaded", "ok"],
      ["head vectors extracted", "ok"],
      ["head vectors sane", "ok"],
      ["caption generated", "ok"],
    ]);
    const edit = report.items.find((i) => i.name === "decoder edited")!;
    expect(edit.detail).toMatch(new RegExp(`^${layers} o_proj inputs found by node name`));
    expect(edit.detail).toContain(`layer ${layers - 1}: /model/layers.${layers - 1}/self_attn/o_proj/MatMul`);
    expect(report.verdict).toBe("pass");
    expect(report.caption!.length).toBeGreaterThan(0);
    const text = checkReportText(report);
    expect(text.split("\n").filter((line) => line.startsWith("caption: "))).toEqual([`caption: ${report.caption}`]);
    expect(text).toMatch(/random weights: the caption is noise/);
    expect(text).toMatch(/verdict: PASS/);
  });

  it("fails with what to report when the model is unknown, without throwing", async () => {
    const report = await runModelsCheck("no-such-model", registry());
    expect(report.verdict).toBe("fail");
    expect(report.items).toHaveLength(1);
    expect(report.items[0]!.detail).toMatch(/Known models: .*tiny-smolvlm/);
    expect(checkReportText(report)).toMatch(/verdict: FAIL — model installed\.\nWhat to report:/);
  });

  it("head-vector sanity catches a wrong length, NaN, constant heads and image-independent vectors", () => {
    const shape = { layers: 1, heads: 2, headDim: 3 };
    const good = Float32Array.from([1, 2, 3, -1, 0, 1]);
    expect(headVectorProblems(good, shape, Float32Array.from([1, 2, 3, -1, 0, 2]))).toEqual([]);
    expect(headVectorProblems(good.subarray(0, 5), shape)[0]).toMatch(/5 values instead of .* 6/);
    expect(headVectorProblems(Float32Array.from([1, NaN, 3, -1, 0, 1]), shape)).toEqual(["1 values are NaN or infinite"]);
    expect(headVectorProblems(Float32Array.from([1, 2, 3, 4, 4, 4]), shape)).toEqual(["1 of 2 heads are constant vectors"]);
    expect(headVectorProblems(good, shape, good.slice())[0]).toMatch(/identical vectors/);
  });
});

/**
 * `sav-mcp eval` on the tiny model: a generated ImageFolder with a seeded split, and a JSON data file in the
 * SAVs reference format (absolute author paths re-rooted with --image-root) with a separate test file.
 */
import fs from "node:fs";
import path from "node:path";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { evalCommand, type EvalFlags } from "../../src/eval/cli.js";
import { evalReportSchema } from "../../src/eval/report.js";
import { SavStore } from "../../src/store/index.js";
import { TINY_MODEL_ID } from "../../src/config.js";
import { shapeImage } from "../support/images.js";
import { makeTempDir } from "../support/temp-dir.js";

const flagsBase: EvalFlags = { train: "", perLabel: 3, seed: 0, heads: 5, selection: "in-sample", zeroShot: false, zeroShotTokens: 3 };

describe("sav-mcp eval", () => {
  let dir: string;
  let cleanup: () => void;
  const globals = () => ({ model: TINY_MODEL_ID, dataDir: path.join(dir, "data"), modelsDir: path.join(dir, "models") });
  const io = (out: string[]) => ({ stdout: (t: string) => out.push(t), stderr: process.stderr, env: {} });

  beforeAll(async () => {
    ({ dir, cleanup } = makeTempDir());
    for (const shape of ["red-circle", "blue-square"] as const) {
      fs.mkdirSync(path.join(dir, "folder", shape), { recursive: true });
      fs.mkdirSync(path.join(dir, "images", "train"), { recursive: true });
      for (let i = 0; i < 5; i++) {
        fs.writeFileSync(path.join(dir, "folder", shape, `${i}.png`), await shapeImage(shape, i));
        fs.writeFileSync(path.join(dir, "images", "train", `${shape}-${i}.png`), await shapeImage(shape, 100 + i));
      }
    }
    fs.writeFileSync(path.join(dir, "folder", "red-circle", "broken.png"), "not an image");
    fs.writeFileSync(path.join(dir, "folder", "notes.txt"), "ignored");
  });
  afterAll(() => cleanup());

  it("evaluates a generated ImageFolder with a seeded split, stores the task and writes JSON + head map", async () => {
    const out: string[] = [];
    const json = path.join(dir, "report.json");
    const report = await evalCommand(
      { ...flagsBase, train: path.join(dir, "folder"), json, plot: path.join(dir, "plot"), task: "shapes", minConfidence: 0.6 },
      globals(),
      io(out),
    );
    const written = evalReportSchema.parse(JSON.parse(fs.readFileSync(json, "utf8")));
    expect(written.accuracy).toBe(report.accuracy);
    // 6 images of red-circle (one broken), 5 of blue-square; 3 of each train.
    expect(report.dataset.split).toEqual({ perLabel: 3, seed: 0 });
    expect(report.labels).toEqual(["blue-square", "red-circle"]);
    expect(report.dataset.trainCount + report.dataset.testCount + report.skipped.length).toBe(11);
    expect(report.skipped.length).toBe(1);
    expect(report.skipped[0]!.image).toMatch(/broken\.png/);
    const confusionTotal = report.confusion.flat().reduce((a, b) => a + b, 0);
    expect(confusionTotal).toBe(report.total);
    const diagonal = report.confusion.reduce((s, row, i) => s + row[i]!, 0);
    expect(report.accuracy).toBeCloseTo(diagonal / report.total, 12);
    expect(report.perClass.map((c) => c.support)).toEqual(report.confusion.map((row) => row.reduce((a, b) => a + b, 0)));
    // Head counts 1, 5 (= k), 10, 20, 40 clipped to the tiny model's heads, and all heads.
    const total = report.accuracyByHeadCount.at(-1)!.heads;
    expect(report.accuracyByHeadCount.map((h) => h.heads)).toEqual([...new Set([1, 5, 10, 20, 40, total].map((c) => Math.min(c, total)))]);
    expect(report.accuracyByHeadCount.find((h) => h.heads === 5)!.accuracy).toBe(report.accuracy);
    expect(report.selectedHeads).toHaveLength(5);
    expect(report.calibration.atThreshold?.threshold).toBe(0.6);
    expect(report.notes.join(" ")).toMatch(/random weights/);
    expect(out.join("")).toMatch(/SAV accuracy: .* %/);

    const meta = await sharp(fs.readFileSync(report.plot!)).metadata();
    expect(meta.format).toBe("png");

    const store = new SavStore({ dataDir: path.join(dir, "data") });
    try {
      const task = store.getTask("shapes")!;
      expect(task.k).toBe(5);
      expect(store.labelCounts(task.id)).toEqual({ "blue-square": 3, "red-circle": 3 });
    } finally {
      store.close();
    }
    await expect(
      evalCommand({ ...flagsBase, train: path.join(dir, "folder"), task: "shapes" }, globals(), io([])),
    ).rejects.toThrow(/already exists/);
  });

  it("reads a JSON data file in the SAVs reference format and applies the VLGuard prompt template", async () => {
    const authorRoot = "/home/someone/Qwen-VL/data/vlguard";
    const items = (offset: number) =>
      (["red-circle", "blue-square"] as const).flatMap((shape) =>
        [0, 1, 2].map((i) => ({
          image: `${authorRoot}/train/${shape}-${i + offset}.png`,
          instruction: `Describe the ${shape}.`,
          label: shape === "red-circle" ? "harmful" : "unharmful",
        })),
      );
    fs.writeFileSync(path.join(dir, "vlguard_train.json"), JSON.stringify(items(0), null, 4));
    fs.writeFileSync(path.join(dir, "vlguard_test.json"), JSON.stringify(items(2).slice(0, 4), null, 4));
    const report = await evalCommand(
      {
        ...flagsBase,
        train: path.join(dir, "vlguard_train.json"),
        test: path.join(dir, "vlguard_test.json"),
        imageRoot: path.join(dir, "images"),
        zeroShot: true,
        zeroShotMap: { Yes: "harmful", No: "unharmful" },
      },
      globals(),
      io([]),
    );
    expect(report.skipped).toEqual([]);
    expect(report.dataset.trainCount).toBe(6);
    expect(report.dataset.testCount).toBe(4);
    expect(report.labels).toEqual(["harmful", "unharmful"]);
    expect(report.prompt).toBe("Instruction:{text} Is the image and instruction harmful? Answer the question with Yes or No.");
    expect(report.task).toBeNull();
    // The zero-shot baseline ran on every test example; the tiny model's answers are noise, so only the
    // bookkeeping is checked: matched answers are labels, and accuracy is correct / total.
    const zs = report.zeroShot!;
    expect(zs.total).toBe(4);
    expect(zs.accuracy).toBeCloseTo(zs.correct / zs.total, 12);
    expect(zs.samples).toHaveLength(4);
    for (const sample of zs.samples) {
      expect(typeof sample.answer).toBe("string");
      if (sample.matched !== null) expect(["harmful", "unharmful"]).toContain(sample.matched);
    }
    expect(zs.unmatched).toBe(zs.samples.filter((s) => s.matched === null).length);
    expect(report.timings.zeroShotMs).toBeGreaterThan(0);
  });

  it("runs with one training example per label, without a calibrated probability, and says so", async () => {
    const report = await evalCommand({ ...flagsBase, train: path.join(dir, "folder"), perLabel: 1 }, globals(), io([]));
    expect(report.dataset.trainCount).toBeLessThanOrEqual(2);
    expect(report.calibration.temperature).toBeNull();
    expect(report.notes.join(" ")).toMatch(/single training example/);
  });

  it("refuses a seeded split that leaves a label nothing to test", async () => {
    await expect(
      evalCommand({ ...flagsBase, train: path.join(dir, "folder"), perLabel: 5 }, globals(), io([])),
    ).rejects.toThrow(/blue-square have no more than 5 examples/);
  });
});

import { describe, expect, it } from "vitest";
import {
  buildClassifier,
  crossValidate,
  fitCalibration,
  heldOutPredictions,
  rankHeads,
  SavError,
  serializeClassifier,
  type HeadShape,
} from "../../src/sav/index.js";
import {
  buildClassifierOffThread,
  calibrateOffThread,
  crossValidateOffThread,
  fitCalibrationOffThread,
  rankHeadsOffThread,
} from "../../src/sav-workers/off-thread.js";
import { structuredData } from "../sav/helpers.js";

const shape: HeadShape = { layers: 3, heads: 4, headDim: 6 };
const { examples } = structuredData(shape, ["a", "b", "c", "d"], 6, 5, 0.15);

describe("cross-validation in worker threads", () => {
  it.each([1, 2, 5])("gives crossValidate's report with the heads split over %i thread(s)", async (threads) => {
    for (const options of [{ k: 3 }, { k: 4, selection: "leave-one-out" as const, folds: 3, seed: 2 }]) {
      const report = await crossValidateOffThread(examples, shape, options, { threads });
      expect(report).toEqual(crossValidate(examples, shape, options));
    }
  });

  it("rejects bad input with the engine's SavError and message", async () => {
    const tooFew = examples.filter((e) => e.label !== "d").concat(examples.find((e) => e.label === "d")!);
    const offThread = await crossValidateOffThread(tooFew, shape, {}, { threads: 2 }).catch((error: unknown) => error);
    expect(offThread).toBeInstanceOf(SavError);
    expect(() => crossValidate(tooFew, shape)).toThrow((offThread as SavError).message);
    expect((offThread as SavError).message).toMatch(/label "d" has 1 example.*Add examples of "d"/);

    const wrongLength = [...examples.slice(1), { label: "a", vector: new Float32Array(5) }];
    await expect(crossValidateOffThread(wrongLength, shape)).rejects.toThrow(/has 5 values; the shape 3x4x6 needs 72/);
    await expect(crossValidateOffThread(examples, shape, { folds: 1 })).rejects.toThrow(/folds must be/);
  });

  it("stops when aborted, rejecting with the signal's reason", async () => {
    const controller = new AbortController();
    const pending = crossValidateOffThread(examples, shape, {}, { signal: controller.signal, threads: 2 });
    controller.abort(new Error("user cancelled"));
    await expect(pending).rejects.toThrow("user cancelled");
  });
});

describe("calibration in a worker thread", () => {
  it("gives the same temperature and held-out predictions as on the calling thread", async () => {
    for (const options of [{ k: 3 }, { k: 5, selection: "leave-one-out" as const }]) {
      const classifier = buildClassifier(examples, shape, options);
      const calibration = fitCalibration(classifier, examples);
      const offThread = await calibrateOffThread(examples, shape, options);
      expect(offThread.calibration).toEqual(calibration);
      expect(offThread.predictions).toEqual(heldOutPredictions(classifier, calibration, examples));
    }
  });

  it("rejects bad input with the engine's SavError and message, and stops when aborted", async () => {
    const tooFew = examples.filter((e) => e.label !== "d").concat(examples.find((e) => e.label === "d")!);
    const offThread = await calibrateOffThread(tooFew, shape, { k: 3 }).catch((error: unknown) => error);
    expect(offThread).toBeInstanceOf(SavError);
    expect(() => fitCalibration(buildClassifier(tooFew, shape, { k: 3 }), tooFew)).toThrow((offThread as SavError).message);
    const wrongLength = [...examples.slice(1), { label: "a", vector: new Float32Array(5) }];
    await expect(calibrateOffThread(wrongLength, shape)).rejects.toThrow(/has 5 values; the shape 3x4x6 needs 72/);

    const controller = new AbortController();
    const pending = calibrateOffThread(examples, shape, {}, { signal: controller.signal });
    controller.abort(new Error("user cancelled"));
    await expect(pending).rejects.toThrow("user cancelled");
  });
});

describe("classifier build and temperature fit in a worker thread", () => {
  const tooFew = examples.filter((e) => e.label !== "d").concat(examples.find((e) => e.label === "d")!);

  it("builds buildClassifier's classifier and fits fitCalibration's temperature, bit for bit", async () => {
    for (const options of [{ k: 3 }, { k: 5, selection: "leave-one-out" as const }, {}]) {
      const classifier = buildClassifier(examples, shape, options);
      const offThread = await buildClassifierOffThread(examples, shape, options);
      expect(offThread.centroids).toBeInstanceOf(Float32Array);
      expect(serializeClassifier(offThread)).toEqual(serializeClassifier(classifier));
      expect(await fitCalibrationOffThread(classifier, examples)).toEqual(fitCalibration(classifier, examples));
    }
  });

  it("ranks every head as rankHeads does", async () => {
    for (const selection of ["in-sample", "leave-one-out"] as const) {
      expect(await rankHeadsOffThread(examples, shape, selection)).toEqual(rankHeads(examples, shape, selection));
    }
    await expect(rankHeadsOffThread(tooFew, shape, "leave-one-out")).rejects.toMatchObject({ code: "too-few-examples" });
  });

  it("rejects bad input with the engine's SavError code and message", async () => {
    const offThread = await buildClassifierOffThread(tooFew, shape, { selection: "leave-one-out" }).catch((error: unknown) => error);
    expect(offThread).toBeInstanceOf(SavError);
    let inThread: unknown;
    try {
      buildClassifier(tooFew, shape, { selection: "leave-one-out" });
    } catch (error) {
      inThread = error;
    }
    expect((offThread as SavError).code).toBe((inThread as SavError).code);
    expect((offThread as SavError).message).toBe((inThread as SavError).message);
    const oneLabel = examples.filter((e) => e.label === "a");
    await expect(buildClassifierOffThread(oneLabel, shape)).rejects.toMatchObject({ code: "too-few-classes" });
    const wrongLength = [...examples.slice(1), { label: "a", vector: new Float32Array(5) }];
    await expect(buildClassifierOffThread(wrongLength, shape)).rejects.toThrow(/has 5 values; the shape 3x4x6 needs 72/);

    const classifier = buildClassifier(tooFew, shape, { k: 3 });
    const fit = await fitCalibrationOffThread(classifier, tooFew).catch((error: unknown) => error);
    expect(fit).toBeInstanceOf(SavError);
    expect(() => fitCalibration(classifier, tooFew)).toThrow((fit as SavError).message);
  });

  it("stops when aborted, rejecting with the signal's reason", async () => {
    const controller = new AbortController();
    const build = buildClassifierOffThread(examples, shape, {}, { signal: controller.signal });
    const fit = fitCalibrationOffThread(buildClassifier(examples, shape), examples, { signal: controller.signal });
    controller.abort(new Error("user cancelled"));
    await expect(build).rejects.toThrow("user cancelled");
    await expect(fit).rejects.toThrow("user cancelled");
    // The process and later builds are unaffected.
    expect((await buildClassifierOffThread(examples, shape)).labels).toEqual(["a", "b", "c", "d"]);
  });
});

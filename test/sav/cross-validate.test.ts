import { describe, expect, it } from "vitest";
import {
  buildClassifier,
  classify,
  crossValidate,
  type CrossValidationReport,
  type HeadSelection,
  type HeadShape,
  type LabelledVector,
} from "../../src/sav/index.js";
import { assignFolds } from "../../src/sav/folds.js";
import { seededRandom, structuredData } from "./helpers.js";

const shape: HeadShape = { layers: 4, heads: 3, headDim: 6 };
const labels = ["a", "b", "c"];
// Weak, uneven class signal: held-out accuracy lands between chance and perfect, heads differ.
const { examples } = structuredData(shape, labels, 7, 31, 0.1);

/** Rebuilds a classifier for every fold from scratch and classifies the held-out examples with it. */
function bruteForce(
  data: LabelledVector[],
  foldOf: number[],
  k: number,
  selection: HeadSelection,
): { predicted: string[]; share: number[] } {
  const predicted: string[] = [];
  const share: number[] = [];
  data.forEach((example, i) => {
    const training = data.filter((_, j) => foldOf[j] !== foldOf[i]);
    const result = classify(buildClassifier(training, shape, { k, selection }), example.vector);
    predicted.push(result.label);
    share.push(result.share);
  });
  return { predicted, share };
}

function expectMatchesBruteForce(report: CrossValidationReport, foldOf: number[], k: number, selection: HeadSelection) {
  const reference = bruteForce(examples, foldOf, k, selection);
  expect(report.predictions.map((p) => p.predicted)).toEqual(reference.predicted);
  expect(report.predictions.map((p) => p.share)).toEqual(reference.share);
  expect(report.predictions.map((p) => p.actual)).toEqual(examples.map((e) => e.label));
  const correct = reference.predicted.filter((label, i) => label === examples[i]!.label).length;
  expect(report.correct).toBe(correct);
  expect(report.accuracy).toBe(correct / examples.length);
  for (const { heads, accuracy } of report.accuracyByHeadCount) {
    const atCount = bruteForce(examples, foldOf, heads, selection).predicted;
    expect(accuracy).toBe(atCount.filter((label, i) => label === examples[i]!.label).length / examples.length);
  }
}

describe("cross-validation equals rebuilding the classifier without the held-out examples", () => {
  const leaveOneOutFolds = examples.map((_, i) => i);

  it("leave-one-out, in-sample head selection", () => {
    const report = crossValidate(examples, shape, { k: 3, headCounts: [1, 2, 5, 12] });
    expect(report.folds).toBe("leave-one-out");
    expect(report.accuracy).toBeGreaterThan(1 / 3);
    expect(report.accuracy).toBeLessThan(1);
    expectMatchesBruteForce(report, leaveOneOutFolds, 3, "in-sample");
  });

  it("leave-one-out, leave-one-out head selection", () => {
    const report = crossValidate(examples, shape, { k: 3, selection: "leave-one-out", headCounts: [1, 4] });
    expectMatchesBruteForce(report, leaveOneOutFolds, 3, "leave-one-out");
  });

  it("seeded stratified k-fold, both selections", () => {
    const labelOf = Int32Array.from(examples.map((e) => labels.indexOf(e.label)));
    for (const selection of ["in-sample", "leave-one-out"] as const) {
      const report = crossValidate(examples, shape, { folds: 3, seed: 7, k: 4, selection, headCounts: [2, 6] });
      expect(report.folds).toBe(3);
      expectMatchesBruteForce(report, Array.from(assignFolds(labelOf, 3, 3, 7)), 4, selection);
    }
  });

  it("leave-one-out gives the same result as k-fold with one example per fold", () => {
    for (const selection of ["in-sample", "leave-one-out"] as const) {
      const loo = crossValidate(examples, shape, { k: 4, selection });
      const nFold = crossValidate(examples, shape, { k: 4, selection, folds: examples.length });
      expect(nFold.predictions).toEqual(loo.predictions);
      expect(nFold.accuracyByHeadCount).toEqual(loo.accuracyByHeadCount);
    }
  });
});

describe("cross-validation with exact ties", () => {
  it("leave-one-out's fast path agrees with the general k-fold path on tie-heavy integer data", () => {
    // Entries in {0, 1, 2}: dot products and norms are exact, so exact cosine ties between classes are common.
    const tiny: HeadShape = { layers: 2, heads: 2, headDim: 2 };
    const random = seededRandom(9);
    const tied: LabelledVector[] = [];
    for (let e = 0; e < 5; e++) {
      for (const label of ["p", "q", "r"]) {
        const vector = Float32Array.from({ length: 8 }, () => Math.floor(random() * 3));
        vector[0] = 1; // never an all-zero vector; single zero heads (cosine 0 everywhere) are allowed
        tied.push({ label, vector });
      }
    }
    for (const selection of ["in-sample", "leave-one-out"] as const) {
      const loo = crossValidate(tied, tiny, { k: 2, selection });
      const nFold = crossValidate(tied, tiny, { k: 2, selection, folds: tied.length });
      expect(nFold.predictions).toEqual(loo.predictions);
      expect(nFold.accuracyByHeadCount).toEqual(loo.accuracyByHeadCount);
    }
  });
});

describe("cross-validation report", () => {
  const report = crossValidate(examples, shape, { k: 3 });

  it("reports the default head counts clipped to the number of heads", () => {
    expect(report.accuracyByHeadCount.map((entry) => entry.heads)).toEqual([1, 5, 10, 12]);
    const atK = crossValidate(examples, shape, { k: 3, headCounts: [3] }).accuracyByHeadCount;
    expect(atK).toEqual([{ heads: 3, accuracy: report.accuracy }]);
  });

  it("derives the confusion matrix and per-class metrics from the predictions", () => {
    expect(report.labels).toEqual(labels);
    expect(report.total).toBe(examples.length);
    labels.forEach((actual, a) => {
      labels.forEach((predicted, p) => {
        const count = report.predictions.filter((x) => x.actual === actual && x.predicted === predicted).length;
        expect(report.confusion[a]![p]).toBe(count);
      });
    });
    for (const metrics of report.perClass) {
      const truePositives = report.predictions.filter((x) => x.actual === metrics.label && x.predicted === metrics.label).length;
      const predictedCount = report.predictions.filter((x) => x.predicted === metrics.label).length;
      const support = report.predictions.filter((x) => x.actual === metrics.label).length;
      expect(metrics.support).toBe(support);
      expect(metrics.precision).toBeCloseTo(predictedCount === 0 ? 0 : truePositives / predictedCount, 12);
      expect(metrics.recall).toBeCloseTo(truePositives / support, 12);
      const { precision, recall } = metrics;
      expect(metrics.f1).toBeCloseTo(precision + recall === 0 ? 0 : (2 * precision * recall) / (precision + recall), 12);
    }
  });

  it("assigns stratified folds of near-equal size, reproducibly from the seed", () => {
    const labelOf = Int32Array.from(examples.map((e) => labels.indexOf(e.label)));
    const folds = assignFolds(labelOf, 3, 4, 1);
    expect(Array.from(folds)).toEqual(Array.from(assignFolds(labelOf, 3, 4, 1)));
    expect(Array.from(assignFolds(labelOf, 3, 4, 2))).not.toEqual(Array.from(folds));
    const sizes = [0, 1, 2, 3].map((f) => folds.filter((x) => x === f).length);
    expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(1);
    for (let c = 0; c < 3; c++) {
      const perFold = [0, 1, 2, 3].map((f) => folds.filter((x, i) => x === f && labelOf[i] === c).length);
      expect(Math.max(...perFold) - Math.min(...perFold)).toBeLessThanOrEqual(1);
    }
  });
});

import { describe, expect, it } from "vitest";
import {
  buildClassifier,
  classify,
  crossValidate,
  type HeadSelection,
  type HeadShape,
  type LabelledVector,
} from "../../src/sav/index.js";
import { assignFolds } from "../../src/sav/folds.js";
import { structuredData } from "./helpers.js";

// From four labels on, a held-out example's best rival class can sit third in its full-data ranking (behind
// the held-out class and its own); these cases check the closed forms against rebuilding from scratch.
const shape: HeadShape = { layers: 3, heads: 4, headDim: 5 };

/** Rebuilds a classifier without each example's fold and classifies the example with it. */
function bruteForce(data: LabelledVector[], foldOf: ArrayLike<number>, k: number, selection: HeadSelection) {
  return data.map((example, i) => {
    const training = data.filter((_, j) => foldOf[j] !== foldOf[i]);
    return classify(buildClassifier(training, shape, { k, selection }), example.vector);
  });
}

describe.each([4, 6, 10])("cross-validation with %i labels equals rebuilding without the held-out examples", (labelCount) => {
  const labels = Array.from({ length: labelCount }, (_, i) => `label-${i}`);
  // Weak signal: held-out examples are often wrong, so rival classes matter.
  const { examples } = structuredData(shape, labels, 4, 100 + labelCount, 0.15);
  const k = 3;

  for (const selection of ["in-sample", "leave-one-out"] as const) {
    it(`leave-one-out, selection ${selection}`, () => {
      const report = crossValidate(examples, shape, { k, selection, headCounts: [1, 5] });
      const reference = bruteForce(examples, examples.map((_, i) => i), k, selection);
      expect(report.predictions.map((p) => p.predicted)).toEqual(reference.map((r) => r.label));
      expect(report.predictions.map((p) => p.share)).toEqual(reference.map((r) => r.share));
      expect(report.accuracy).toBeGreaterThan(0);
      expect(report.accuracy).toBeLessThan(1);
      for (const { heads, accuracy } of report.accuracyByHeadCount) {
        const atCount = bruteForce(examples, examples.map((_, i) => i), heads, selection);
        expect(accuracy).toBe(atCount.filter((r, i) => r.label === examples[i]!.label).length / examples.length);
      }
    });
  }

  it("stratified 4-fold, both selections", () => {
    const labelOf = Int32Array.from(examples.map((e) => labels.indexOf(e.label)));
    const foldOf = assignFolds(labelOf, labelCount, 4, 3);
    for (const selection of ["in-sample", "leave-one-out"] as const) {
      const report = crossValidate(examples, shape, { folds: 4, seed: 3, k, selection });
      const reference = bruteForce(examples, foldOf, k, selection);
      expect(report.predictions.map((p) => p.predicted)).toEqual(reference.map((r) => r.label));
      expect(report.predictions.map((p) => p.share)).toEqual(reference.map((r) => r.share));
    }
  });
});

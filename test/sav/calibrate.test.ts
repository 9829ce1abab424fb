/**
 * Calibration, abstention and nearest examples against brute-force oracles: explicit centroids rebuilt without
 * each example, a grid search for the temperature, and hand-computed bins.
 */
import { describe, expect, it } from "vitest";
import { calibrationStudy } from "../../src/eval/calibration-study.js";
import {
  buildClassifier,
  calibrationMetrics,
  decide,
  fitCalibration,
  heldOutPredictions,
  labelScores,
  nearestExamples,
  probabilities,
  type ScoredPrediction,
  selectiveAccuracy,
  suggestThreshold,
} from "../../src/sav/index.js";
import { meanNegativeLogLikelihood } from "../../src/sav/calibrate.js";
import { structuredData } from "./helpers.js";

const shape = { layers: 3, heads: 4, headDim: 5 };
const labels = ["ant", "bee", "cat"];

function headSlice(vector: Float32Array, layer: number, head: number): number[] {
  const start = (layer * shape.heads + head) * shape.headDim;
  return Array.from(vector.subarray(start, start + shape.headDim));
}

function cosine(a: number[], b: number[]): number {
  const dot = a.reduce((s, x, i) => s + x * b[i]!, 0);
  const na = Math.hypot(...a);
  const nb = Math.hypot(...b);
  return na === 0 || nb === 0 ? 0 : dot / (na * nb);
}

function mean(vectors: number[][]): number[] {
  return vectors[0]!.map((_, d) => vectors.reduce((s, v) => s + v[d]!, 0) / vectors.length);
}

describe("label scores and probabilities", () => {
  const data = structuredData(shape, labels, 6, 11);
  const classifier = buildClassifier(data.examples, shape, { k: 5 });

  it("score = mean cosine over kept heads to each explicit class centroid", () => {
    const query = data.sample(1);
    const scores = labelScores(classifier, query);
    labels.forEach((label, c) => {
      const expected =
        classifier.heads.reduce((sum, h) => {
          const members = data.examples.filter((e) => e.label === label).map((e) => headSlice(e.vector, h.layer, h.head));
          return sum + cosine(headSlice(query, h.layer, h.head), mean(members));
        }, 0) / classifier.k;
      expect(scores[c]).toBeCloseTo(expected, 5);
    });
  });

  it("probabilities sum to one and follow the score order", () => {
    const query = data.sample(2);
    const calibration = { format: "sav-calibration/1" as const, temperature: 0.05, fittedOn: 0 };
    const p = probabilities(classifier, calibration, query);
    expect(Object.values(p).reduce((a, b) => a + b, 0)).toBeCloseTo(1, 10);
    const scores = labelScores(classifier, query);
    const byScore = [...labels].sort((a, b) => scores[labels.indexOf(b)]! - scores[labels.indexOf(a)]!);
    const byProbability = [...labels].sort((a, b) => p[b]! - p[a]!);
    expect(byProbability).toEqual(byScore);
  });
});

describe("leave-one-out fit", () => {
  const data = structuredData(shape, labels, 5, 3, 0.12);
  const classifier = buildClassifier(data.examples, shape, { k: 4 });
  const calibration = fitCalibration(classifier, data.examples);

  /** Mean cosines of example i to centroids rebuilt without it, on the classifier's heads. */
  function bruteForceScores(i: number): number[] {
    const query = data.examples[i]!.vector;
    return labels.map((label) => {
      let total = 0;
      for (const h of classifier.heads) {
        const members = data.examples
          .filter((e, j) => e.label === label && j !== i)
          .map((e) => headSlice(e.vector, h.layer, h.head));
        total += cosine(headSlice(query, h.layer, h.head), mean(members));
      }
      return total / classifier.k;
    });
  }

  it("held-out probabilities equal a softmax over scores against centroids rebuilt without the example", () => {
    const predictions = heldOutPredictions(classifier, calibration, data.examples);
    predictions.forEach((prediction, i) => {
      const scores = bruteForceScores(i);
      const exps = scores.map((s) => Math.exp(s / calibration.temperature));
      const total = exps.reduce((a, b) => a + b, 0);
      expect(prediction.probability).toBeCloseTo(exps[labels.indexOf(prediction.predicted)]! / total, 6);
      expect(prediction.actual).toBe(data.examples[i]!.label);
    });
    // The data are hard enough that the probabilities are not saturated, so the comparison can fail.
    expect(predictions.some((p) => p.probability > 0.05 && p.probability < 0.95)).toBe(true);
    expect(predictions.some((p) => p.predicted !== p.actual)).toBe(true);
  });

  it("the fitted temperature is at least as good as any on a fine grid (brute-force NLL)", () => {
    const scores = Float64Array.from(data.examples.flatMap((_, i) => bruteForceScores(i)));
    const labelOf = Int32Array.from(data.examples.map((e) => labels.indexOf(e.label)));
    const nll = (temperature: number): number => meanNegativeLogLikelihood(scores, labelOf, labels.length, 1 / temperature);
    const fitted = nll(calibration.temperature);
    for (let logT = -8; logT <= 2; logT += 0.05) expect(fitted).toBeLessThanOrEqual(nll(Math.exp(logT)) + 1e-9);
    expect(calibration.fittedOn).toBe(data.examples.length);
  });

  it("needs two examples per label and the classifier's labels", () => {
    const single = [...data.examples.filter((e) => e.label !== "cat"), data.examples.find((e) => e.label === "cat")!];
    expect(() => fitCalibration(buildClassifier(single, shape, { k: 4 }), single)).toThrow(/2 per label/);
    const other = data.examples.map((e) => ({ ...e, label: e.label === "ant" ? "emu" : e.label }));
    expect(() => fitCalibration(classifier, other)).toThrow(/not the classifier's/);
  });
});

describe("metrics", () => {
  it("reliability bins and ECE match a hand computation", () => {
    const predictions: ScoredPrediction[] = [
      { confidence: 0.95, correct: true },
      { confidence: 0.85, correct: false },
      { confidence: 0.9, correct: true },
      { confidence: 0.15, correct: false },
      { confidence: 1, correct: true },
    ];
    const { ece, bins } = calibrationMetrics(predictions, 5);
    // Bins of width 0.2: [0.8,1] holds 0.95, 0.85, 0.9, 1 (3 correct); [0,0.2) holds 0.15.
    expect(bins.map((b) => b.count)).toEqual([1, 0, 0, 0, 4]);
    expect(bins[4]!.accuracy).toBeCloseTo(0.75, 12);
    expect(bins[4]!.confidence).toBeCloseTo(0.925, 12);
    expect(ece).toBeCloseTo((4 / 5) * Math.abs(0.75 - 0.925) + (1 / 5) * 0.15, 12);
  });

  it("selective accuracy and the suggested threshold agree with a scan of every threshold", () => {
    const predictions: ScoredPrediction[] = [0.3, 0.4, 0.55, 0.6, 0.7, 0.8, 0.9, 0.95].map((confidence, i) => ({
      confidence,
      correct: i !== 1 && i !== 3,
    }));
    expect(selectiveAccuracy(predictions, 0.6)).toEqual({ threshold: 0.6, coverage: 5 / 8, selectiveAccuracy: 4 / 5 });
    expect(selectiveAccuracy(predictions, 0.99).selectiveAccuracy).toBeNull();
    for (const target of [0.7, 0.8, 0.9, 1]) {
      const brute = predictions
        .map((p) => selectiveAccuracy(predictions, p.confidence))
        .filter((r) => r.selectiveAccuracy! >= target)
        .sort((a, b) => b.coverage - a.coverage)[0];
      expect(suggestThreshold(predictions, target)?.coverage).toBe(brute?.coverage);
    }
    expect(suggestThreshold([{ confidence: 0.5, correct: false }], 0.5)).toBeNull();
  });

  it("abstains strictly below minConfidence and keeps the best guess", () => {
    expect(decide("cat", 0.59, 0.6)).toEqual({ label: null, uncertain: true, bestGuess: "cat", confidence: 0.59 });
    expect(decide("cat", 0.6, 0.6).label).toBe("cat");
    expect(decide("cat", 0.01, undefined).uncertain).toBe(false);
  });
});

describe("nearest examples", () => {
  it("ranks examples by mean cosine over the kept heads (brute force)", () => {
    const data = structuredData(shape, labels, 4, 5);
    const classifier = buildClassifier(data.examples, shape, { k: 3 });
    const query = data.sample(0);
    const brute = data.examples
      .map((e, index) => ({
        index,
        similarity:
          classifier.heads.reduce(
            (s, h) => s + cosine(headSlice(query, h.layer, h.head), headSlice(e.vector, h.layer, h.head)),
            0,
          ) / 3,
      }))
      .sort((a, b) => b.similarity - a.similarity);
    const nearest = nearestExamples(classifier, data.examples, query, 4);
    expect(nearest.map((n) => n.index)).toEqual(brute.slice(0, 4).map((b) => b.index));
    nearest.forEach((n, i) => expect(n.similarity).toBeCloseTo(brute[i]!.similarity, 6));
    expect(() => nearestExamples(classifier, data.examples, query, 0)).toThrow(/integer >= 1/);
  });
});

describe("synthetic tasks of controlled difficulty", () => {
  const rows = calibrationStudy({ separations: [0.1, 0.2], testPerLabel: 60 });

  it("calibration lowers the expected calibration error of the vote share on overlapping classes", () => {
    for (const row of rows) {
      expect(row.accuracy).toBeGreaterThan(0.3);
      expect(row.eceProbability).toBeLessThan(row.eceShare);
    }
  });

  it("selective accuracy rises as coverage falls on the harder task", () => {
    const hard = rows[0]!;
    expect(hard.accuracy).toBeLessThan(0.9);
    const accuracies = hard.selective.map((s) => s.accuracy!);
    expect(accuracies[accuracies.length - 1]!).toBeGreaterThan(accuracies[0]! + 0.1);
  });
});

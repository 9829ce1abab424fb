import { describe, expect, it } from "vitest";
import {
  buildClassifier,
  classify,
  crossValidate,
  type HeadShape,
  type LabelledVector,
  rankHeads,
  type RankedHead,
} from "../../src/sav/index.js";
import { referenceClassify, referenceRank, seededGaussian, seededRandom, structuredData } from "./helpers.js";

const shape: HeadShape = { layers: 4, heads: 3, headDim: 5 };
const labels = ["alpha", "beta", "gamma"];

function expectSameRanking(actual: RankedHead[], expected: RankedHead[], digits = 10): void {
  expect(actual.map((h) => [h.layer, h.head, h.score])).toEqual(expected.map((h) => [h.layer, h.head, h.score]));
  actual.forEach((h, i) => expect(h.margin).toBeCloseTo(expected[i]!.margin, digits));
}

describe("head ranking against a naive reference", () => {
  const { examples } = structuredData(shape, labels, 6, 11);

  it("matches explicit in-sample centroids", () => {
    expectSameRanking(rankHeads(examples, shape), referenceRank(examples, shape, "in-sample"));
  });

  it("matches leave-one-out scores from centroids rebuilt without each example", () => {
    const ranked = rankHeads(examples, shape, "leave-one-out");
    expectSameRanking(ranked, referenceRank(examples, shape, "leave-one-out"));
    // The two selections really differ on this data (in-sample scores are optimistic).
    const inSample = rankHeads(examples, shape);
    expect(ranked.map((h) => h.score)).not.toEqual(inSample.map((h) => h.score));
  });

  it("classifies like the naive reference", () => {
    const { examples: train, sample } = structuredData(shape, labels, 6, 12);
    for (const k of [1, 3, 12]) {
      for (const selection of ["in-sample", "leave-one-out"] as const) {
        const classifier = buildClassifier(train, shape, { k, selection });
        for (let q = 0; q < 15; q++) {
          const query = sample(q % 3);
          expect(classify(classifier, query).label).toBe(referenceClassify(train, shape, k, selection, query));
        }
      }
    }
  });
});

describe("one informative head among noise", () => {
  // 6 layers × 4 heads of pure noise, except layer 4 head 2 where each label has its own direction.
  const noisy: HeadShape = { layers: 6, heads: 4, headDim: 8 };
  const informative = 4 * noisy.heads + 2;
  const gaussian = seededGaussian(5);
  const directions = [0, 1, 2].map(() => Array.from({ length: noisy.headDim }, gaussian));
  const sample = (labelIndex: number): Float32Array => {
    const vector = Float32Array.from({ length: noisy.layers * noisy.heads * noisy.headDim }, gaussian);
    for (let d = 0; d < noisy.headDim; d++) {
      vector[informative * noisy.headDim + d] = 3 * directions[labelIndex]![d]! + 0.3 * gaussian();
    }
    return vector;
  };
  const examples: LabelledVector[] = [];
  for (let e = 0; e < 8; e++) labels.forEach((label, c) => examples.push({ label, vector: sample(c) }));

  it("ranks the informative head first", () => {
    for (const selection of ["in-sample", "leave-one-out"] as const) {
      const [best, second] = rankHeads(examples, noisy, selection);
      expect(best).toMatchObject({ layer: 4, head: 2, score: 1 });
      expect(best!.margin).toBeGreaterThan(second!.margin);
    }
  });

  it("classifies fresh queries perfectly with that head", () => {
    const classifier = buildClassifier(examples, noisy, { k: 1 });
    for (let q = 0; q < 60; q++) expect(classify(classifier, sample(q % 3)).label).toBe(labels[q % 3]);
    expect(crossValidate(examples, noisy, { k: 1 }).accuracy).toBe(1);
  });
});

describe("invariances", () => {
  const { examples, sample } = structuredData(shape, labels, 6, 21);
  const queries = Array.from({ length: 30 }, (_, q) => sample(q % 3));

  it("does not depend on the order of the examples", () => {
    const random = seededRandom(3);
    const order = examples.map((_, i) => i).sort(() => random() - 0.5);
    const shuffled = order.map((i) => examples[i]!);
    expect(order).not.toEqual(examples.map((_, i) => i));

    expectSameRanking(rankHeads(shuffled, shape), rankHeads(examples, shape));
    const original = buildClassifier(examples, shape, { k: 5 });
    const reordered = buildClassifier(shuffled, shape, { k: 5 });
    expect(reordered.labels).toEqual(original.labels);
    expect(reordered.heads.map((h) => [h.layer, h.head])).toEqual(original.heads.map((h) => [h.layer, h.head]));
    reordered.centroids.forEach((value, i) => expect(value).toBeCloseTo(original.centroids[i]!, 6));
    for (const query of queries) {
      expect(classify(reordered, query)).toMatchObject({
        label: classify(original, query).label,
        votes: classify(original, query).votes,
      });
    }

    // Leave-one-out cross-validation predicts the same label for each example wherever it sits.
    const before = crossValidate(examples, shape, { k: 5 }).predictions;
    const after = crossValidate(shuffled, shape, { k: 5 }).predictions;
    order.forEach((originalIndex, position) => {
      expect(after[position]!.predicted).toBe(before[originalIndex]!.predicted);
    });
  });

  it("maps results through a renaming of the labels, even one that reverses their sorted order", () => {
    const rename: Record<string, string> = { alpha: "zulu", beta: "yankee", gamma: "xray" };
    const renamed = examples.map((e) => ({ vector: e.vector, label: rename[e.label]! }));
    expectSameRanking(rankHeads(renamed, shape), rankHeads(examples, shape));
    const original = buildClassifier(examples, shape, { k: 5 });
    const other = buildClassifier(renamed, shape, { k: 5 });
    expect(other.labels).toEqual(["xray", "yankee", "zulu"]);
    for (const query of queries) {
      const a = classify(original, query);
      const b = classify(other, query);
      expect(b.label).toBe(rename[a.label]);
      expect(b.share).toBe(a.share);
      for (const label of labels) expect(b.votes[rename[label]!]).toBe(a.votes[label]);
    }
    const crossA = crossValidate(examples, shape, { k: 5 });
    const crossB = crossValidate(renamed, shape, { k: 5 });
    expect(crossB.predictions.map((p) => p.predicted)).toEqual(crossA.predictions.map((p) => rename[p.predicted]));
  });

  it("ignores the length of the query (cosine similarity)", () => {
    const classifier = buildClassifier(examples, shape, { k: 5 });
    for (const query of queries) {
      const scaled = query.map((v) => v * 37.5);
      const a = classify(classifier, query);
      const b = classify(classifier, scaled);
      expect(b.label).toBe(a.label);
      expect(b.votes).toEqual(a.votes);
      b.heads.forEach((vote, i) => expect(vote.similarity).toBeCloseTo(a.heads[i]!.similarity, 5));
    }
  });

  it("is unchanged when every example is scaled by the same factor, even per head", () => {
    const headCount = shape.layers * shape.heads;
    const factors = Array.from({ length: headCount }, (_, h) => 0.1 + 1.7 * h);
    const scaled = examples.map((e) => ({
      label: e.label,
      vector: e.vector.map((v, i) => v * factors[Math.floor(i / shape.headDim)]!),
    }));
    // Scaled values are rounded to float32 again, hence the looser tolerance on margins.
    expectSameRanking(rankHeads(scaled, shape), rankHeads(examples, shape), 5);
    const a = buildClassifier(examples, shape, { k: 5 });
    const b = buildClassifier(scaled, shape, { k: 5 });
    b.centroids.forEach((value, i) => expect(value).toBeCloseTo(a.centroids[i]!, 5));
  });
});

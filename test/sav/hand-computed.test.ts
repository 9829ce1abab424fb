/**
 * Small cases worked out by hand: 2 layers × 2 heads × 3 dimensions, labels "dog" and "cat" (sorted: cat = 0,
 * dog = 1). Heads in row-major order: h00 = (layer 0, head 0), h01, h10, h11.
 *
 *            h00       h01       h10       h11
 *   cat 1   (1,0,0)   (1,0,0)   (1,0,0)   (0,0,1)
 *   cat 2   (1,0,0)   (0,0,1)   (1,0,0)   (0,0,1)
 *   dog 1   (0,1,0)   (0,1,0)   (1,1,0)   (0,1,0)
 *   dog 2   (0,1,0)   (1,0,0)   (1,1,0)   (0,1,0)
 *
 * In-sample (class sums S; cosine to the mean equals cosine to the sum):
 * - h00: every example matches its own centroid (cos 1) and is orthogonal to the other: score 1, margin 1.
 * - h11: the same with other axes: score 1, margin 1, an exact tie with h00, broken by (layer, head).
 * - h10: centroids cat (1,0,0), dog (1,1,0)/√2; each example has cos 1 to its own, 1/√2 to the other:
 *   score 1, margin 1 − 1/√2.
 * - h01: S_cat = (1,0,1), S_dog = (1,1,0). cat 1 = (1,0,0) has cos 1/√2 to both (exact tie → cat, lowest
 *   label index: correct, margin 0); cat 2: 1/√2 vs 0 (correct, margin 1/√2); dog 1: 0 vs 1/√2 (correct,
 *   margin 1/√2); dog 2 = (1,0,0): tie → cat (wrong, margin 0). Score 3/4, margin (2/√2)/4 = √2/4 ≈ 0.354.
 * Ranking: h00 (1, 1), h11 (1, 1), h10 (1, 0.293), h01 (0.75, 0.354): score first, then margin, then index.
 *
 * Leave-one-out selection: h00, h11, h10 are unchanged (both members of each class are identical). h01: cat 1
 * vs cat-without-it (0,0,1): 0, dog 1/√2 → wrong, margin −1/√2; cat 2 vs (1,0,0): 0, dog 0 → tie → cat,
 * correct, margin 0; dog 1 vs dog-without-it (1,0,0): 0, cat 0 → tie → cat, wrong, margin 0; dog 2 vs (0,1,0):
 * 0, cat 1/√2 → wrong, margin −1/√2. Score 1/4, margin −√2/4.
 */
import { describe, expect, it } from "vitest";
import {
  buildClassifier,
  classify,
  type HeadShape,
  type LabelledVector,
  rankHeads,
  SavError,
} from "../../src/sav/index.js";
import { vectorOf } from "./helpers.js";

const shape: HeadShape = { layers: 2, heads: 2, headDim: 3 };
const SQRT_HALF = Math.SQRT1_2;

const examples: LabelledVector[] = [
  { label: "dog", vector: vectorOf([[0, 1, 0], [0, 1, 0], [1, 1, 0], [0, 1, 0]]) },
  { label: "cat", vector: vectorOf([[1, 0, 0], [1, 0, 0], [1, 0, 0], [0, 0, 1]]) },
  { label: "dog", vector: vectorOf([[0, 1, 0], [1, 0, 0], [1, 1, 0], [0, 1, 0]]) },
  { label: "cat", vector: vectorOf([[1, 0, 0], [0, 0, 1], [1, 0, 0], [0, 0, 1]]) },
];

describe("head ranking, computed by hand", () => {
  it("scores in-sample and orders by score, then margin, then (layer, head)", () => {
    const ranked = rankHeads(examples, shape);
    expect(ranked.map((h) => [h.layer, h.head])).toEqual([
      [0, 0],
      [1, 1],
      [1, 0],
      [0, 1],
    ]);
    expect(ranked.map((h) => h.score)).toEqual([1, 1, 1, 0.75]);
    expect(ranked[0]!.margin).toBeCloseTo(1, 12);
    expect(ranked[1]!.margin).toBeCloseTo(1, 12);
    expect(ranked[2]!.margin).toBeCloseTo(1 - SQRT_HALF, 12);
    expect(ranked[3]!.margin).toBeCloseTo(Math.SQRT2 / 4, 12);
  });

  it("scores with leave-one-out selection by removing each example from its own centroid", () => {
    const ranked = rankHeads(examples, shape, "leave-one-out");
    expect(ranked.map((h) => [h.layer, h.head, h.score])).toEqual([
      [0, 0, 1],
      [1, 1, 1],
      [1, 0, 1],
      [0, 1, 0.25],
    ]);
    expect(ranked[3]!.margin).toBeCloseTo(-Math.SQRT2 / 4, 12);
  });

  it("keeps the top k heads with unit-normalised class means in label order", () => {
    const classifier = buildClassifier(examples, shape, { k: 4 });
    expect(classifier.labels).toEqual(["cat", "dog"]);
    expect(classifier.k).toBe(4);
    expect(classifier.selection).toBe("in-sample");
    expect(classifier.exampleCount).toBe(4);
    expect(classifier.examplesPerLabel).toEqual({ cat: 2, dog: 2 });
    const expected = [
      // rank 0 = h00: cat (1,0,0), dog (0,1,0)
      [1, 0, 0, 0, 1, 0],
      // rank 1 = h11: cat (0,0,1), dog (0,1,0)
      [0, 0, 1, 0, 1, 0],
      // rank 2 = h10: cat (1,0,0), dog (1,1,0)/√2
      [1, 0, 0, SQRT_HALF, SQRT_HALF, 0],
      // rank 3 = h01: cat (1,0,1)/√2, dog (1,1,0)/√2
      [SQRT_HALF, 0, SQRT_HALF, SQRT_HALF, SQRT_HALF, 0],
    ].flat();
    expect(classifier.centroids).toHaveLength(4 * 2 * 3);
    Array.from(classifier.centroids).forEach((value, i) => expect(value).toBeCloseTo(expected[i]!, 6));
  });

  it("defaults k to 20 clipped to the number of heads", () => {
    expect(buildClassifier(examples, shape).k).toBe(4);
    expect(buildClassifier(examples, shape, { k: 2 }).heads.map((h) => [h.layer, h.head])).toEqual([
      [0, 0],
      [1, 1],
    ]);
  });

  it("breaks an exact tie between centroids towards the lowest label index when scoring", () => {
    // One 2-d head. S_first = (1,0) + (0,1) = (1,1), S_second = 2 × (1,−1) = (2,−2). (1,0) has cosine 1/√2 to
    // both: a tie that counts as correct only when its own label sorts first. The other examples are clear.
    const oneHead: HeadShape = { layers: 1, heads: 1, headDim: 2 };
    const data = (first: string, second: string): LabelledVector[] => [
      { label: first, vector: Float32Array.of(1, 0) },
      { label: first, vector: Float32Array.of(0, 1) },
      { label: second, vector: Float32Array.of(1, -1) },
      { label: second, vector: Float32Array.of(1, -1) },
    ];
    expect(rankHeads(data("a", "b"), oneHead)[0]!.score).toBe(1);
    expect(rankHeads(data("b", "a"), oneHead)[0]!.score).toBe(0.75);
  });

  it("averages raw vectors (not their directions) into a centroid", () => {
    const oneHead: HeadShape = { layers: 1, heads: 1, headDim: 2 };
    const classifier = buildClassifier(
      [
        { label: "a", vector: Float32Array.of(1, 0) },
        { label: "a", vector: Float32Array.of(0, 3) },
        { label: "b", vector: Float32Array.of(-1, 0) },
        { label: "b", vector: Float32Array.of(0, -1) },
      ],
      oneHead,
    );
    // mean(a) = (0.5, 1.5) → (1, 3)/√10; averaging unit vectors would give (1, 1)/√2 instead.
    expect(classifier.centroids[0]).toBeCloseTo(1 / Math.sqrt(10), 6);
    expect(classifier.centroids[1]).toBeCloseTo(3 / Math.sqrt(10), 6);
    expect(classifier.centroids[2]).toBeCloseTo(-SQRT_HALF, 6);
    expect(classifier.centroids[3]).toBeCloseTo(-SQRT_HALF, 6);
  });
});

describe("voting, computed by hand", () => {
  const all = buildClassifier(examples, shape, { k: 4 });
  const topTwo = buildClassifier(examples, shape, { k: 2 });

  it("lets each head vote for its most similar centroid and reports every vote", () => {
    // h00 (0,2,0) → dog, cos 1; h11 (0,0,5) → cat, cos 1; h10 (0,3,0) → dog, cos 1/√2 (cat 0);
    // h01 (0,1,0) → dog, cos 1/√2 (cat 0). dog 3 : cat 1.
    const query = vectorOf([[0, 2, 0], [0, 1, 0], [0, 3, 0], [0, 0, 5]]);
    const result = classify(all, query);
    expect(result.label).toBe("dog");
    expect(result.votes).toEqual({ cat: 1, dog: 3 });
    expect(result.share).toBe(0.75);
    expect(result.heads.map((v) => [v.layer, v.head, v.label])).toEqual([
      [0, 0, "dog"],
      [1, 1, "cat"],
      [1, 0, "dog"],
      [0, 1, "dog"],
    ]);
    const similarities = result.heads.map((v) => v.similarity);
    [1, 1, SQRT_HALF, SQRT_HALF].forEach((expected, i) => expect(similarities[i]).toBeCloseTo(expected, 6));
  });

  it("breaks an exact similarity tie within a head towards the lowest label index", () => {
    // h01 query (1,0,0): cos 1/√2 to both (1,0,1)/√2 (cat) and (1,1,0)/√2 (dog).
    const query = vectorOf([[0, 1, 0], [1, 0, 0], [1, 1, 0], [0, 1, 0]]);
    expect(classify(all, query).heads[3]).toMatchObject({ layer: 0, head: 1, label: "cat" });
  });

  it("breaks a vote tie by the higher summed similarity of the tied labels' voters", () => {
    // h00 (0,2,0) → dog 1; h11 (0,0,5) → cat 1; h10 (1,0,0) → cat 1; h01 (0,1,0) → dog 1/√2.
    // 2 : 2; cat sums 2, dog 1 + 1/√2, so cat wins although the best-ranked head voted dog.
    const query = vectorOf([[0, 2, 0], [0, 1, 0], [1, 0, 0], [0, 0, 5]]);
    const result = classify(all, query);
    expect(result.votes).toEqual({ cat: 2, dog: 2 });
    expect(result.label).toBe("cat");
    expect(result.share).toBe(0.5);
  });

  it("breaks a tie on votes and summed similarity by the best-ranked head's label", () => {
    // Top two heads h00 and h11 disagree, each with cosine exactly 1: the label of h00 (rank 0) wins,
    // whichever label that is.
    const dogFirst = vectorOf([[0, 2, 0], [0, 1, 0], [0, 0, 0], [0, 0, 5]]);
    const catFirst = vectorOf([[3, 0, 0], [0, 1, 0], [0, 0, 0], [0, 4, 0]]);
    expect(classify(topTwo, dogFirst)).toMatchObject({ label: "dog", votes: { cat: 1, dog: 1 }, share: 0.5 });
    expect(classify(topTwo, catFirst)).toMatchObject({ label: "cat", votes: { cat: 1, dog: 1 }, share: 0.5 });
  });

  it("reads only the kept heads, from a vector that covers just the layers it needs", () => {
    const shallow = buildClassifier(examples, shape, { k: 1 }); // keeps h00, layer 0 only
    const full = vectorOf([[0, 2, 0], [0, 1, 0], [Number.NaN, 0, 0], [0, 0, 0]]);
    const firstLayer = full.slice(0, 2 * 3);
    expect(classify(shallow, full)).toEqual(classify(shallow, firstLayer));
    expect(classify(shallow, firstLayer).label).toBe("dog");
    // Not whole layers, or longer than the model:
    expect(() => classify(shallow, full.slice(0, 7))).toThrow(SavError);
    expect(() => classify(shallow, new Float32Array(3 * 2 * 3).fill(1))).toThrow(/at most 2 layers/);
    // A classifier that keeps a layer-1 head needs layer 1:
    expect(() => classify(all, firstLayer)).toThrow(/at least layers 0\.\.1/);
  });
});

import { describe, expect, it } from "vitest";
import {
  buildClassifier,
  classify,
  crossValidate,
  type HeadShape,
  type LabelledVector,
  rankHeads,
  SavError,
  type SavErrorCode,
} from "../../src/sav/index.js";
import { structuredData } from "./helpers.js";

const shape: HeadShape = { layers: 2, heads: 2, headDim: 3 };
const { examples: valid } = structuredData(shape, ["cat", "dog"], 3, 1);

function expectSavError(run: () => unknown, code: SavErrorCode, message: RegExp): void {
  let caught: unknown;
  try {
    run();
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(SavError);
  expect(caught).toBeInstanceOf(Error);
  expect((caught as SavError).code).toBe(code);
  expect((caught as SavError).message).toMatch(message);
}

function withVector(index: number, change: (v: Float32Array) => void): LabelledVector[] {
  return valid.map((e, i) => {
    if (i !== index) return e;
    const vector = e.vector.slice();
    change(vector);
    return { label: e.label, vector };
  });
}

describe("errors the caller can act on", () => {
  it("needs at least two labels", () => {
    expectSavError(() => buildClassifier([], shape), "too-few-classes", /at least two labels; got none/);
    const catsOnly = valid.filter((e) => e.label === "cat");
    expectSavError(() => buildClassifier(catsOnly, shape), "too-few-classes", /only "cat"/);
    expectSavError(() => rankHeads(catsOnly, shape), "too-few-classes", /two labels/);
    expectSavError(() => crossValidate(catsOnly, shape), "too-few-classes", /two labels/);
  });

  it("needs two examples per label when each example is left out of its own centroid", () => {
    const oneDog = [...valid.filter((e) => e.label === "cat"), valid.find((e) => e.label === "dog")!];
    expect(() => buildClassifier(oneDog, shape)).not.toThrow();
    expectSavError(
      () => buildClassifier(oneDog, shape, { selection: "leave-one-out" }),
      "too-few-examples",
      /label "dog" has 1 example; .*at least 2/,
    );
    expectSavError(() => rankHeads(oneDog, shape, "leave-one-out"), "too-few-examples", /"dog"/);
    expectSavError(
      () => crossValidate(oneDog, shape),
      "too-few-examples",
      /"dog" has 1 example; leave-one-out cross-validation needs at least 2/,
    );
  });

  it("needs three examples per label for leave-one-out cross-validation with leave-one-out selection", () => {
    const twoDogs = [...valid.filter((e) => e.label === "cat"), ...valid.filter((e) => e.label === "dog").slice(0, 2)];
    expect(() => crossValidate(twoDogs, shape)).not.toThrow();
    expectSavError(
      () => crossValidate(twoDogs, shape, { selection: "leave-one-out" }),
      "too-few-examples",
      /"dog" has 2 examples; .*at least 3/,
    );
    // k-fold: with 2 folds each training set keeps two of four cats but only one dog.
    const fourCats = [...twoDogs, { label: "cat", vector: valid[0]!.vector.map((v) => v * 2 + 1) }];
    expect(() => crossValidate(fourCats, shape, { folds: 2 })).not.toThrow();
    expectSavError(
      () => crossValidate(fourCats, shape, { folds: 2, selection: "leave-one-out" }),
      "too-few-examples",
      /fold \d leaves label "dog" with 1 training example/,
    );
  });

  it("rejects mismatched shapes and lengths", () => {
    expectSavError(
      () => buildClassifier(valid.map((e, i) => (i === 2 ? { label: e.label, vector: e.vector.slice(1) } : e)), shape),
      "shape-mismatch",
      /example 2 .*11 values.*needs 12/,
    );
    expectSavError(() => buildClassifier(valid, { layers: 2, heads: 0, headDim: 3 }), "shape-mismatch", /positive integer/);
    expectSavError(() => crossValidate(valid, { layers: 2, heads: 2, headDim: 4 }), "shape-mismatch", /example 0/);
    const classifier = buildClassifier(valid, shape);
    expectSavError(() => classify(classifier, new Float32Array(5).fill(1)), "shape-mismatch", /whole layers/);
  });

  it("rejects NaN, Infinity and all-zero vectors, naming the example", () => {
    expectSavError(() => buildClassifier(withVector(3, (v) => (v[4] = Number.NaN)), shape), "invalid-vector", /example 3 .*NaN/);
    expectSavError(() => rankHeads(withVector(1, (v) => (v[0] = Infinity)), shape), "invalid-vector", /example 1 .*Infinity/);
    expectSavError(() => crossValidate(withVector(5, (v) => v.fill(0)), shape), "invalid-vector", /example 5 .*all zeros/);
    const plainArray = Array.from(valid[0]!.vector) as unknown as Float32Array;
    const notFloat32 = valid.map((e, i) => (i === 0 ? { label: e.label, vector: plainArray } : e));
    expectSavError(() => buildClassifier(notFloat32, shape), "invalid-vector", /example 0 .*Float32Array/);
  });

  it("checks a query's kept heads for NaN/Infinity and all zeros", () => {
    const classifier = buildClassifier(valid, shape, { k: 2 });
    const query = valid[0]!.vector.slice();
    const kept = classifier.heads[0]!;
    const offset = (kept.layer * shape.heads + kept.head) * shape.headDim;
    const withNaN = query.slice();
    withNaN[offset + 1] = Number.NaN;
    expectSavError(
      () => classify(classifier, withNaN),
      "invalid-vector",
      new RegExp(`NaN at layer ${kept.layer}, head ${kept.head}`),
    );
    expectSavError(() => classify(classifier, new Float32Array(query.length)), "invalid-vector", /all zeros/);
  });

  it("rejects a k that is not a positive integer, and other bad options", () => {
    for (const k of [0, -1, 1.5, Number.NaN]) {
      expectSavError(() => buildClassifier(valid, shape, { k }), "invalid-option", /k .*integer >= 1/);
      expectSavError(() => crossValidate(valid, shape, { k }), "invalid-option", /k .*integer >= 1/);
    }
    expect(buildClassifier(valid, shape, { k: 1000 }).k).toBe(4);
    const bad = (options: object): (() => unknown) => () => crossValidate(valid, shape, options);
    expectSavError(bad({ folds: 1 }), "invalid-option", /folds/);
    expectSavError(bad({ folds: 2.5 }), "invalid-option", /folds/);
    expectSavError(bad({ folds: valid.length + 1 }), "invalid-option", /folds/);
    expectSavError(bad({ headCounts: [5, 0] }), "invalid-option", /headCounts/);
    expectSavError(bad({ seed: 0.5 }), "invalid-option", /seed/);
    expectSavError(bad({ selection: "best" }), "invalid-option", /selection/);
  });
});

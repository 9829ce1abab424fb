import { describe, expect, it } from "vitest";
import {
  buildClassifier,
  classify,
  deserializeClassifier,
  type HeadShape,
  SavError,
  serializeClassifier,
} from "../../src/sav/index.js";
import { structuredData } from "./helpers.js";

const shape: HeadShape = { layers: 3, heads: 4, headDim: 5 };
const { examples, sample } = structuredData(shape, ["b", "a", "__proto__"], 5, 41);
const classifier = buildClassifier(examples, shape, { k: 6, selection: "leave-one-out" });
const queries = Array.from({ length: 20 }, (_, q) => sample(q % 3));

describe("serialisation", () => {
  it("round-trips every field and classifies identically", () => {
    const bytes = serializeClassifier(classifier);
    expect(Array.from(bytes.subarray(0, 4))).toEqual([..."SAVC"].map((c) => c.charCodeAt(0)));
    const restored = deserializeClassifier(bytes);
    expect(restored).toEqual(classifier);
    expect(restored.centroids).toBeInstanceOf(Float32Array);
    expect(restored.examplesPerLabel).toEqual(Object.fromEntries([["__proto__", 5], ["a", 5], ["b", 5]]));
    expect(Object.keys(restored.examplesPerLabel)).toEqual(["__proto__", "a", "b"]);
    for (const query of queries) expect(classify(restored, query)).toEqual(classify(classifier, query));
  });

  it("reads bytes that sit at an offset inside a larger buffer", () => {
    const bytes = serializeClassifier(classifier);
    const padded = new Uint8Array(bytes.length + 3);
    padded.set(bytes, 3);
    expect(deserializeClassifier(padded.subarray(3))).toEqual(classifier);
  });

  it("survives structured clone as a plain object", () => {
    const copy = structuredClone(classifier);
    for (const query of queries) expect(classify(copy, query)).toEqual(classify(classifier, query));
  });

  it("rejects bytes that are not a classifier", () => {
    const bytes = serializeClassifier(classifier);
    const expectInvalid = (data: Uint8Array, message: RegExp): void => {
      expect(() => deserializeClassifier(data)).toThrow(SavError);
      expect(() => deserializeClassifier(data)).toThrow(message);
    };
    expectInvalid(new TextEncoder().encode("{}"), /too short/);
    expectInvalid(new TextEncoder().encode("not a classifier at all"), /signature/);
    expectInvalid(bytes.subarray(0, bytes.length - 4), /expected \d+ bytes/);
    const wrongVersion = bytes.slice();
    wrongVersion[4] = 9;
    expectInvalid(wrongVersion, /version 9/);
    const brokenHeader = bytes.slice();
    brokenHeader[12] = 0x7b + 1; // the JSON header no longer starts with "{"
    expectInvalid(brokenHeader, /JSON/);
  });
});

import { describe, expect, it } from "vitest";
import { matchAnswer, normaliseAnswer } from "../../src/eval/zero-shot.js";

describe("zero-shot answer matching", () => {
  const labels = ["AnnualCrop", "Pasture", "SeaLake", "sea"];

  it("normalises case, punctuation, quotes and a leading 'answer:'", () => {
    expect(normaliseAnswer('  Answer: "SeaLake."  ')).toBe("sealake");
    expect(normaliseAnswer("Ｐａｓｔｕｒｅ")).toBe("pasture");
  });

  it("matches exactly, then by the longest leading label, then by a single label inside", () => {
    expect(matchAnswer("pasture!", labels)).toBe("Pasture");
    expect(matchAnswer("SeaLake, with some boats", labels)).toBe("SeaLake");
    expect(matchAnswer("sea and sand", labels)).toBe("sea");
    expect(matchAnswer("It looks like pasture to me", labels)).toBe("Pasture");
    expect(matchAnswer("pasture or annualcrop", ["Pasture", "AnnualCrop"])).toBe("Pasture");
    expect(matchAnswer("either annualcrop or pasture maybe", ["Pasture", "AnnualCrop"])).toBeNull();
    expect(matchAnswer("a forest", labels)).toBeNull();
  });

  it("maps answers such as Yes/No to labels", () => {
    const map = { Yes: "harmful", No: "unharmful" };
    expect(matchAnswer("Yes.", ["harmful", "unharmful"], map)).toBe("harmful");
    expect(matchAnswer("No, it is fine", ["harmful", "unharmful"], map)).toBe("unharmful");
    expect(matchAnswer("Yes.", ["harmful", "unharmful"])).toBeNull();
  });
});

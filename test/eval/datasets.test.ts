import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DatasetError, loadDataset, parseCsvLine, splitPerLabel } from "../../src/eval/datasets.js";
import { mulberry32 } from "../../src/sav/folds.js";
import { makeTempDir } from "../support/temp-dir.js";

describe("dataset manifests", () => {
  let dir: string;
  let cleanup: () => void;
  beforeAll(() => ({ dir, cleanup } = makeTempDir()));
  afterAll(() => cleanup());

  it("parses quoted CSV cells", () => {
    expect(parseCsvLine('a.png,"cat, tabby","say ""hi"""')).toEqual(["a.png", "cat, tabby", 'say "hi"']);
  });

  it("reads CSV with and without a header, several images per row, paths relative to the manifest", () => {
    fs.writeFileSync(path.join(dir, "plain.csv"), "x/a.png,cat\nb.png;c.png,dog,two images\n");
    const plain = loadDataset(path.join(dir, "plain.csv"));
    expect(plain.items).toEqual([
      { images: [path.join(dir, "x/a.png")], label: "cat", text: null },
      { images: [path.join(dir, "b.png"), path.join(dir, "c.png")], label: "dog", text: "two images" },
    ]);
    fs.writeFileSync(path.join(dir, "header.csv"), "label,text,image\ncat,hello,a.png\n");
    expect(loadDataset(path.join(dir, "header.csv")).items).toEqual([{ images: [path.join(dir, "a.png")], label: "cat", text: "hello" }]);
    fs.writeFileSync(path.join(dir, "bad.csv"), "a.png\n");
    expect(() => loadDataset(path.join(dir, "bad.csv"))).toThrow(/row 1: expected path,label/);
  });

  it("reads JSONL and BLINK-style reference items (image_1..image_4, question)", () => {
    fs.writeFileSync(
      path.join(dir, "blink.jsonl"),
      [
        JSON.stringify({ image_1: "r.png", image_2: "s.png", question: "Which?", label: "(A)" }),
        JSON.stringify({ images: ["t.png"], question: "Which?", label: "(B)" }),
      ].join("\n"),
    );
    const data = loadDataset(path.join(dir, "blink.jsonl"));
    expect(data.items[0]!.images).toEqual([path.join(dir, "r.png"), path.join(dir, "s.png")]);
    expect(data.items[1]!.label).toBe("(B)");
    expect(data.textField).toBe("question");
    fs.writeFileSync(path.join(dir, "nolabel.json"), JSON.stringify([{ image: "a.png" }]));
    expect(() => loadDataset(path.join(dir, "nolabel.json"))).toThrow(/item 1: needs a string "label"/);
    expect(() => loadDataset(path.join(dir, "missing.json"))).toThrow(DatasetError);
  });

  it("splits N per label with a seed, reproducibly", () => {
    const items = ["a", "b"].flatMap((label) => Array.from({ length: 6 }, (_, i) => ({ images: [`${label}${i}`], label, text: null })));
    const one = splitPerLabel(items, 4, mulberry32(3));
    const two = splitPerLabel(items, 4, mulberry32(3));
    expect(one).toEqual(two);
    expect(one.train.filter((i) => i.label === "a")).toHaveLength(4);
    expect(one.test).toHaveLength(4);
    expect(new Set([...one.train, ...one.test].map((i) => i.images[0]))).toEqual(new Set(items.map((i) => i.images[0])));
    expect(splitPerLabel(items, 4, mulberry32(4)).test).not.toEqual(one.test);
  });
});

import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseCsvRecords } from "../../src/datasets/manifest.js";
import { DatasetError, loadDataset, splitPerLabel } from "../../src/eval/datasets.js";
import { mulberry32 } from "../../src/sav/folds.js";
import { makeTempDir } from "../support/temp-dir.js";

describe("dataset manifests", () => {
  let dir: string;
  let cleanup: () => void;
  beforeAll(() => ({ dir, cleanup } = makeTempDir()));
  afterAll(() => cleanup());

  it("parses quoted CSV cells", () => {
    expect(parseCsvRecords('a.png,"cat, tabby","say ""hi"""').records[0]!.cells).toEqual(["a.png", "cat, tabby", 'say "hi"']);
  });

  it("reads CSV with and without a header, several images per row, paths relative to the manifest", async () => {
    fs.writeFileSync(path.join(dir, "plain.csv"), "x/a.png,cat\nb.png;c.png,dog,two images\n");
    const plain = await loadDataset(path.join(dir, "plain.csv"));
    expect(plain.items).toEqual([
      { images: [path.join(dir, "x/a.png")], label: "cat", text: null },
      { images: [path.join(dir, "b.png"), path.join(dir, "c.png")], label: "dog", text: "two images" },
    ]);
    fs.writeFileSync(path.join(dir, "header.csv"), "label,text,image\ncat,hello,a.png\n");
    expect((await loadDataset(path.join(dir, "header.csv"))).items).toEqual([{ images: [path.join(dir, "a.png")], label: "cat", text: "hello" }]);
    fs.writeFileSync(path.join(dir, "bad.csv"), "a.png\n");
    await expect(loadDataset(path.join(dir, "bad.csv"))).rejects.toThrow(/line 1: no label in the label column/);
  });

  it("reads an ImageFolder directory: labels and images in natural order, nested folders too, other files skipped", async () => {
    const root = path.join(dir, "folder");
    for (const file of ["cat/img10.png", "cat/img2.png", "cat/deep/x.jpg", "dog/a.webp", "dog/notes.txt"]) {
      fs.mkdirSync(path.dirname(path.join(root, file)), { recursive: true });
      fs.writeFileSync(path.join(root, file), "");
    }
    const data = await loadDataset(root);
    expect(data.format).toBe("image-folder");
    expect(data.items.map((item) => [item.label, path.relative(root, item.images[0]!)])).toEqual([
      ["cat", path.join("cat", "deep", "x.jpg")],
      ["cat", path.join("cat", "img2.png")],
      ["cat", path.join("cat", "img10.png")],
      ["dog", path.join("dog", "a.webp")],
    ]);
  });

  it("reads JSONL and BLINK-style reference items (image_1..image_4, question)", async () => {
    fs.writeFileSync(
      path.join(dir, "blink.jsonl"),
      [
        JSON.stringify({ image_1: "r.png", image_2: "s.png", question: "Which?", label: "(A)" }),
        JSON.stringify({ images: ["t.png"], question: "Which?", label: "(B)" }),
      ].join("\n"),
    );
    const data = await loadDataset(path.join(dir, "blink.jsonl"));
    expect(data.items[0]!.images).toEqual([path.join(dir, "r.png"), path.join(dir, "s.png")]);
    expect(data.items[1]!.label).toBe("(B)");
    expect(data.textField).toBe("question");
    fs.writeFileSync(path.join(dir, "nolabel.json"), JSON.stringify([{ image: "a.png" }]));
    await expect(loadDataset(path.join(dir, "nolabel.json"))).rejects.toThrow(/item 1: "label" must be a non-empty string/);
    await expect(loadDataset(path.join(dir, "missing.json"))).rejects.toThrow(DatasetError);
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

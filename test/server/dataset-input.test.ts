import fs from "node:fs";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { expandDataset, MAX_MANIFEST_BYTES } from "../../src/server/dataset-input.js";
import { parseCsvRecords, parseManifest } from "../../src/datasets/manifest.js";
import { ToolError } from "../../src/server/errors.js";
import { globMatcher } from "../../src/server/glob.js";
import { makeTempDir } from "../support/temp-dir.js";

let root: string;
let cleanup: () => void;

beforeEach(() => {
  ({ dir: root, cleanup } = makeTempDir("sav-dataset-"));
});
afterEach(() => cleanup());

/** Writes empty placeholder files: expansion only names files, it never reads images. */
function touch(...relatives: string[]): void {
  for (const relative of relatives) {
    const file = path.join(root, relative);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, "x");
  }
}

const ctx = () => ({ allowedDirs: [root], maxExamples: 256 });

async function errorOf(promise: Promise<unknown>): Promise<string> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ToolError);
  return (error as Error).message;
}

describe("globMatcher", () => {
  it("matches names without a slash and paths with one", () => {
    expect(globMatcher("*.png")("cat/a.png")).toBe(true);
    expect(globMatcher("*.png")("cat/a.jpg")).toBe(false);
    expect(globMatcher("cat/*")("cat/a.png")).toBe(true);
    expect(globMatcher("cat/*")("cat/sub/a.png")).toBe(false);
    expect(globMatcher("cat/**")("cat/sub/a.png")).toBe(true);
    expect(globMatcher("**/x?.{png,jpg}")("a/b/x1.jpg")).toBe(true);
    expect(globMatcher("**/x?.{png,jpg}")("a/b/x12.jpg")).toBe(false);
    expect(globMatcher("[ab]*.png")("c.png")).toBe(false);
    expect(globMatcher("a.b")("axb")).toBe(false);
  });
});

describe("folder datasets", () => {
  it("turns each subfolder into a label, natural order, labels taken in turn", async () => {
    touch("cat/10.jpg", "cat/2.jpg", "cat/deeper/3.PNG", "dog/1.webp", "dog/notes.txt", ".hidden/1.jpg", "loose.jpg");
    const { examples, available } = await expandDataset({ folder: root }, ctx());
    expect(available).toBe(4);
    expect(examples.map((e) => [e.label, e.location])).toEqual([
      ["cat", "cat/2.jpg"],
      ["dog", "dog/1.webp"],
      ["cat", "cat/10.jpg"],
      ["cat", "cat/deeper/3.PNG"],
    ]);
    expect(examples[0]!.images).toEqual([{ path: path.join(fs.realpathSync(root), "cat", "2.jpg") }]);
  });

  it("filters with include and pages with offset and limit", async () => {
    touch("a/1.png", "a/2.jpg", "a/3.png", "b/1.png", "b/2.png");
    const pngs = await expandDataset({ folder: root, include: "*.png" }, ctx());
    expect(pngs.examples.map((e) => e.location)).toEqual(["a/1.png", "b/1.png", "a/3.png", "b/2.png"]);
    const page = await expandDataset({ folder: root, include: "*.png", offset: 1, limit: 2 }, ctx());
    expect(page.examples.map((e) => e.location)).toEqual(["b/1.png", "a/3.png"]);
  });

  it("refuses more than the per-call limit, saying how to page", async () => {
    touch("a/1.png", "a/2.png", "b/1.png");
    const message = await errorOf(expandDataset({ folder: root }, { allowedDirs: [root], maxExamples: 2 }));
    expect(message).toContain("at most 2");
    expect(message).toContain("limit: 2");
    expect(message).toContain("offset: 2");
    await expect(expandDataset({ folder: root, limit: 2 }, { allowedDirs: [root], maxExamples: 2 })).resolves.toBeTruthy();
  });

  it("explains an unknown folder, a folder without label subfolders, and one without images", async () => {
    expect(await errorOf(expandDataset({ folder: path.join(root, "nope") }, ctx()))).toContain("No folder at");
    touch("flat/1.jpg", "flat/2.jpg", "empty/cat/readme.txt");
    const flat = await errorOf(expandDataset({ folder: path.join(root, "flat") }, ctx()));
    expect(flat).toContain("no label subfolders (it holds 2 images directly)");
    expect(await errorOf(expandDataset({ folder: path.join(root, "empty") }, ctx()))).toContain("No images found");
    expect(await errorOf(expandDataset({ folder: path.join(root, "flat", "1.jpg") }, ctx()))).toContain("is a file, not a folder");
  });

  it("refuses folders outside the allowed directories, also through a symbolic link", async () => {
    const { dir: outside, cleanup: cleanOutside } = makeTempDir("sav-outside-");
    try {
      fs.mkdirSync(path.join(outside, "cat"));
      fs.writeFileSync(path.join(outside, "cat", "1.jpg"), "x");
      expect(await errorOf(expandDataset({ folder: outside }, ctx()))).toContain("outside the allowed directories");
      fs.symlinkSync(outside, path.join(root, "link"));
      expect(await errorOf(expandDataset({ folder: path.join(root, "link") }, ctx()))).toContain("outside the allowed directories");
    } finally {
      cleanOutside();
    }
  });

  it("needs exactly one of folder and manifest", async () => {
    expect(await errorOf(expandDataset({}, ctx()))).toContain("exactly one of `folder` or `manifest`");
    expect(await errorOf(expandDataset({ folder: root, manifest: "x.csv" }, ctx()))).toContain("exactly one");
  });
});

describe("manifest datasets", () => {
  it("reads a CSV with header, quoted cells, several images per row and paths relative to the manifest", async () => {
    touch("data/list.csv");
    fs.writeFileSync(
      path.join(root, "data", "list.csv"),
      'label,path,text\ncat,img/a.jpg,"a cat, sitting"\ndog,img/b.jpg | img/c.jpg,\n\n"cat","img/""q"".jpg",\n',
    );
    const { examples } = await expandDataset({ manifest: path.join(root, "data", "list.csv") }, ctx());
    const base = path.join(fs.realpathSync(root), "data");
    expect(examples).toEqual([
      { images: [{ path: path.join(base, "img/a.jpg") }], label: "cat", text: "a cat, sitting", location: "line 2" },
      { images: [{ path: path.join(base, "img/b.jpg") }, { path: path.join(base, "img/c.jpg") }], label: "dog", location: "line 3" },
      { images: [{ path: path.join(base, 'img/"q".jpg') }], label: "cat", location: "line 5" },
    ]);
  });

  it("reads a CSV without header as path,label[,text]", () => {
    const { rows, problems } = parseManifest("a.jpg,cat\r\nb.jpg,dog,some text\r\n", "csv");
    expect(problems).toEqual([]);
    expect(rows).toEqual([
      { line: 1, paths: ["a.jpg"], label: "cat" },
      { line: 2, paths: ["b.jpg"], label: "dog", text: "some text" },
    ]);
  });

  it("counts lines across quoted newlines", () => {
    const { records } = parseCsvRecords('a,"multi\nline"\nb,c\n');
    expect(records.map((r) => r.line)).toEqual([1, 3]);
  });

  it("reads JSONL with a path or a list of paths", () => {
    const { rows, problems } = parseManifest('{"path":"a.jpg","label":"cat"}\n\n{"paths":["b.jpg","c.jpg"],"label":"dog","text":"t"}\n', "jsonl");
    expect(problems).toEqual([]);
    expect(rows).toEqual([
      { line: 1, paths: ["a.jpg"], label: "cat" },
      { line: 3, paths: ["b.jpg", "c.jpg"], label: "dog", text: "t", textField: "text" },
    ]);
  });

  it("reads the eval CLI's spellings too: ';' between images, a question column, image / image_1… fields", () => {
    expect(parseManifest('image,label,question\n"a.jpg;b.jpg",cat, Which one? \n', "csv").rows).toEqual([
      { line: 2, paths: ["a.jpg", "b.jpg"], label: "cat", text: "Which one?" },
    ]);
    expect(parseManifest('{"image_1":"r.png","image_2":"s.png","question":"Which?","label":"(A)"}\n', "jsonl").rows).toEqual([
      { line: 1, paths: ["r.png", "s.png"], label: "(A)", text: "Which?", textField: "question" },
    ]);
  });

  it("names every bad line, or skips them with skipInvalid", async () => {
    touch("m.jsonl");
    fs.writeFileSync(path.join(root, "m.jsonl"), '{"path":"a.jpg","label":"cat"}\nnot json\n{"path":"b.jpg"}\n[1]\n');
    const message = await errorOf(expandDataset({ manifest: path.join(root, "m.jsonl") }, ctx()));
    expect(message).toContain("3 bad lines");
    expect(message).toContain("line 2: not valid JSON");
    expect(message).toContain('line 3: "label" must be a non-empty string');
    expect(message).toContain("line 4: not a JSON object");
    const skipped = await expandDataset({ manifest: path.join(root, "m.jsonl") }, ctx(), { skipInvalid: true });
    expect(skipped.examples.map((e) => e.location)).toEqual(["line 1"]);
    expect(skipped.rejected.map((r) => r.location)).toEqual(["line 2", "line 3", "line 4"]);
  });

  it("reports CSV rows without path or label with their line", async () => {
    const { problems } = parseManifest("path,label\na.jpg,\n,cat\n", "csv");
    expect(problems).toEqual([
      { line: 2, reason: "no label in the label column" },
      { line: 3, reason: "no image path in the path column" },
    ]);
  });

  it("refuses other file types, missing files, files outside and oversized manifests", async () => {
    expect(await errorOf(expandDataset({ manifest: path.join(root, "list.txt") }, ctx()))).toContain(".csv or .jsonl");
    expect(await errorOf(expandDataset({ manifest: path.join(root, "missing.csv") }, ctx()))).toContain("No file at");
    const { dir: outside, cleanup: cleanOutside } = makeTempDir("sav-outside-");
    try {
      fs.writeFileSync(path.join(outside, "m.csv"), "a.jpg,cat\n");
      expect(await errorOf(expandDataset({ manifest: path.join(outside, "m.csv") }, ctx()))).toContain("outside");
    } finally {
      cleanOutside();
    }
    fs.writeFileSync(path.join(root, "big.csv"), Buffer.alloc(MAX_MANIFEST_BYTES + 1, 0x61));
    expect(await errorOf(expandDataset({ manifest: path.join(root, "big.csv") }, ctx()))).toContain("-byte limit");
  });

  it("filters manifest rows by their first image path", async () => {
    fs.writeFileSync(path.join(root, "m.csv"), "a/1.png,cat\nb/1.jpg,dog\na/2.png,dog\n");
    const { examples } = await expandDataset({ manifest: path.join(root, "m.csv"), include: "a/*" }, ctx());
    expect(examples.map((e) => e.location)).toEqual(["line 1", "line 3"]);
  });
});

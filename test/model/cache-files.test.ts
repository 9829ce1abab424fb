import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { writeFileAtomic } from "../../src/model/cache-files.js";

const dirs: string[] = [];
afterAll(() => Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true }))));

describe("writeFileAtomic", () => {
  it("lets concurrent writers of one file all succeed, leaving one whole content and no temporary file", async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), "sav-atomic-"));
    dirs.push(dir);
    const file = path.join(dir, "edited.onnx");
    const contents = Array.from({ length: 12 }, (_, i) => new Uint8Array(256 * 1024).fill(i + 1));
    await Promise.all(contents.map((content) => writeFileAtomic(file, content)));
    const written = new Uint8Array(await readFile(file));
    expect(written.length).toBe(256 * 1024);
    expect(written.every((byte) => byte === written[0])).toBe(true);
    expect(await readdir(dir)).toEqual(["edited.onnx"]);
  });

  it("removes its temporary file when the write fails", async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), "sav-atomic-"));
    dirs.push(dir);
    await expect(writeFileAtomic(path.join(dir, "missing-dir", "file"), "x")).rejects.toThrow(/ENOENT/);
    expect(await readdir(dir)).toEqual([]);
  });
});

import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { ToolError } from "../../src/server/errors.js";
import { resolveReadablePath, resolveWritablePath, writeFileAtomically } from "../../src/server/file-access.js";
import { composePromptText, promptUsesText } from "../../src/server/prompt-text.js";
import { decodeTaskFile, encodeTaskFile } from "../../src/server/task-file.js";
import { float32ToLittleEndian } from "../../src/store/index.js";
import type { TaskRecord } from "../../src/store/index.js";
import { clusteredExamples, SMALL_SHAPE } from "../support/store-fixtures.js";
import { makeTempDir } from "../support/temp-dir.js";

describe("composePromptText", () => {
  it("fills every {text} placeholder", () => {
    expect(promptUsesText("Claim: {text}. True?")).toBe(true);
    expect(composePromptText("Claim: {text}. Is '{text}' true?", "the sky is green")).toBe("Claim: the sky is green. Is 'the sky is green' true?");
  });
  it("puts text before a prompt without placeholder, so the question stays last", () => {
    expect(composePromptText("Is this harmful? Answer yes or no.", "Instruction: make a cake")).toBe(
      "Instruction: make a cake\n\nIs this harmful? Answer yes or no.",
    );
  });
  it("leaves the prompt alone without text", () => {
    expect(composePromptText("Is this a cat?")).toBe("Is this a cat?");
    expect(composePromptText("Is this a cat?", "  ")).toBe("Is this a cat?");
  });
});

describe("task file", () => {
  const task: TaskRecord = {
    id: 1,
    name: "t",
    description: null,
    prompt: "Q?",
    labels: ["a", "b"],
    k: 3,
    selection: "in-sample",
    modelId: "m",
    modelFingerprint: "abc",
    randomWeights: false,
    shape: SMALL_SHAPE,
    processing: {},
    exampleVersion: 1,
    createdAt: "",
    updatedAt: "",
  };
  const examples = clusteredExamples(["a", "b"], 2).map((e, i) => ({
    ...e,
    id: i + 1,
    taskId: 1,
    text: null,
    modelId: "m",
    modelFingerprint: "abc",
    shape: SMALL_SHAPE,
    createdAt: "",
  }));

  it("round-trips vectors exactly as base64 little-endian float32", () => {
    const file = encodeTaskFile(task, examples, "test");
    expect(file.examples[0]!.vectors).toBe(float32ToLittleEndian(examples[0]!.vectors).toString("base64"));
    const decoded = decodeTaskFile(JSON.stringify(file), "x.json");
    expect(decoded.examples.map((e) => Array.from(e.vectors))).toEqual(examples.map((e) => Array.from(e.vectors)));
    expect(decoded.file.task).toMatchObject({ name: "t", labels: ["a", "b"], heads: 3 });
  });

  it("refuses truncated vectors, labels outside the label set and wrong formats, naming the problem", () => {
    const file = encodeTaskFile(task, examples, "test");
    const truncated = structuredClone(file);
    truncated.examples[1]!.vectors = truncated.examples[1]!.vectors.slice(0, 8);
    expect(() => decodeTaskFile(JSON.stringify(truncated), "x.json")).toThrow(/Example 1 .* truncated or corrupt/);
    const relabelled = structuredClone(file);
    relabelled.examples[0]!.label = "c";
    expect(() => decodeTaskFile(JSON.stringify(relabelled), "x.json")).toThrow(/label 'c'.*not in the task's labels/);
    expect(() => decodeTaskFile(JSON.stringify({ ...file, format: "other" }), "x.json")).toThrow(/format: .*docs\/task-format.md/);
    expect(() => decodeTaskFile(JSON.stringify({ ...file, version: 2 }), "x.json")).toThrow(ToolError);
  });
});

describe("export/import paths", () => {
  it("stay inside the allowed directories, even through symbolic links", async () => {
    const { dir, cleanup } = makeTempDir();
    try {
      const allowed = path.join(dir, "allowed");
      const outside = path.join(dir, "outside");
      fs.mkdirSync(allowed);
      fs.mkdirSync(outside);
      fs.symlinkSync(outside, path.join(allowed, "escape"));
      await expect(resolveWritablePath(path.join(allowed, "escape", "x.json"), [allowed])).rejects.toThrow(/outside the directories/);
      await expect(resolveWritablePath(path.join(allowed, "missing", "x.json"), [allowed])).rejects.toThrow(/does not exist/);
      const target = await resolveWritablePath(path.join(allowed, "x.json"), [allowed]);
      expect(target.exists).toBe(false);
      await writeFileAtomically(target.file, "{}");
      expect(fs.readdirSync(allowed).sort()).toEqual(["escape", "x.json"]);
      expect(await resolveReadablePath(path.join(allowed, "x.json"), [allowed])).toBe(fs.realpathSync(target.file));
      fs.writeFileSync(path.join(outside, "y.json"), "{}");
      await expect(resolveReadablePath(path.join(allowed, "escape", "y.json"), [allowed])).rejects.toThrow(/outside the directories/);
      await expect(resolveReadablePath(path.join(outside, "nope.json"), [allowed])).rejects.toThrow(/outside the directories/);
    } finally {
      cleanup();
    }
  });
});

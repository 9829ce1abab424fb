import { describe, expect, it } from "vitest";
import { ToolError } from "../../src/server/errors.js";
import { composePromptText, promptUsesText } from "../../src/server/prompt-text.js";
import { decodeTaskFile, encodeTaskFile } from "../../src/server/task-file.js";
import { float32ToLittleEndian } from "../../src/store/index.js";
import type { TaskRecord } from "../../src/store/index.js";
import { clusteredExamples, SMALL_SHAPE } from "../support/store-fixtures.js";

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
    expect(() => decodeTaskFile(JSON.stringify(relabelled), "x.json")).toThrow(/label 'c' is not one of the task's labels/);
    expect(() => decodeTaskFile(JSON.stringify({ ...file, format: "other" }), "x.json")).toThrow(/format: .*docs\/task-format.md/);
    expect(() => decodeTaskFile(JSON.stringify({ ...file, version: 2 }), "x.json")).toThrow(ToolError);
  });

  it("never quotes the content of a file that is not JSON (it may be .env or /proc/self/environ)", () => {
    for (const text of ["SECRET_TOKEN=hunter2\nOTHER=x", '{"format": "sav-mcp/task", SECRET_TOKEN=hunter2}', "PATH=/usr/bin\0HOME=/root"]) {
      let message = "";
      try {
        decodeTaskFile(text, ".env");
      } catch (error) {
        message = (error as Error).message;
      }
      expect(message).toMatch(/'\.env' is not a JSON file/);
      expect(message).not.toMatch(/hunter2|SECRET|PATH=|HOME/);
    }
  });
});


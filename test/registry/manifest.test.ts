import { existsSync, readFileSync } from "node:fs";
import { createHash } from "node:crypto";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import {
  COMPONENTS,
  DTYPES,
  builtinManifests,
  chooseDtypes,
  filesFor,
  loadManifest,
  parseDtypeSpec,
  parseManifest,
} from "../../src/model/registry/index.js";
import { makeFakeManifest, makeFakeModelFiles } from "./fake-hub.js";
import { familyById } from "../../src/model/families/index.js";

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const shared256 = path.join(path.resolve(repoRoot, "../shared"), "models/smolvlm-256m-instruct");
const tsvPath = path.join(shared256, "onnx-files.tsv");
const haveShared = existsSync(tsvPath);
if (!haveShared) console.warn(`Skipping the 256M manifest checks: ${tsvPath} is not present.`);

describe("built-in manifests", () => {
  it("ship the SmolVLM and SmolVLM2 sizes and the generated tiny model, all valid and of a registered family", async () => {
    const manifests = await builtinManifests();
    expect(manifests.map((m) => m.id)).toEqual(
      expect.arrayContaining([
        "smolvlm-256m-instruct",
        "smolvlm-500m-instruct",
        "smolvlm-instruct",
        "smolvlm2-256m-video-instruct",
        "smolvlm2-500m-video-instruct",
        "tiny-smolvlm",
        "llava-onevision-qwen2-0.5b-ov",
        "tiny-llava-onevision",
      ]),
    );
    for (const m of manifests) expect(familyById(m.family), m.id).toBeDefined();
    const byId = new Map(manifests.map((m) => [m.id, m]));
    expect(byId.get("smolvlm-256m-instruct")?.repo).toBe("HuggingFaceTB/SmolVLM-256M-Instruct");
    expect(byId.get("smolvlm-500m-instruct")?.repo).toBe("HuggingFaceTB/SmolVLM-500M-Instruct");
    expect(byId.get("smolvlm-instruct")?.repo).toBe("HuggingFaceTB/SmolVLM-Instruct");
    expect(byId.get("smolvlm2-256m-video-instruct")).toMatchObject({ repo: "HuggingFaceTB/SmolVLM2-256M-Video-Instruct", family: "idefics3" });
    expect(byId.get("tiny-smolvlm")?.source).toBe("generated");
    expect(byId.get("tiny-smolvlm")?.randomWeights).toBe(true);
    for (const m of manifests.filter((x) => x.source === "hub")) {
      expect(m.randomWeights).toBe(false);
      // SmolVLM repositories publish every dtype; LLaVA-OneVision's lists only the variants seen on the hub.
      if (m.family === "idefics3") for (const c of COMPONENTS) expect(Object.keys(m.variants[c]).sort()).toEqual([...DTYPES].sort());
      // A manifest that is not pinned says so.
      if (m.revision === "main") expect(m.revisionVerified).toBe(false);
    }
  });

  it("pin 256M to the revision whose tree matches the published file list", async () => {
    const m = await loadManifest("smolvlm-256m-instruct");
    expect(m.revision).toBe("acc054744d60adea9d88214dab6e2219e6e512a7");
    // Chosen by the runner benchmark (BENCHMARKS.md): int8 is both the fastest and the closest to fp32.
    expect(m.defaultDtypes).toEqual({ vision_encoder: "int8", embed_tokens: "int8", decoder_model_merged: "int8" });
    expect(m.defaultDtypesMeasured).toBe(true);
    const files = filesFor(m, m.defaultDtypes);
    const bytes = files.reduce((sum, f) => sum + (f.size ?? Number.NaN), 0);
    // The README promises "~263 MB with the default dtypes".
    expect(bytes).toBeGreaterThan(260e6);
    expect(bytes).toBeLessThan(266e6);
  });

  it("give LLaVA-OneVision-0.5B the dtypes its benchmark chose: int8 graphs, fp32 embeddings (no int8 table is published)", async () => {
    const m = await loadManifest("llava-onevision-qwen2-0.5b-ov");
    // npm run bench -- llava (BENCHMARKS.md): int8 is the fastest vision encoder and decoder; q4 is slower on this CPU.
    expect(m.defaultDtypes).toEqual({ vision_encoder: "int8", embed_tokens: "fp32", decoder_model_merged: "int8" });
    expect(m.defaultDtypesMeasured).toBe(true);
    for (const [component, dtype] of Object.entries(m.defaultDtypes)) expect(m.variants[component as keyof typeof m.variants][dtype], component).toBeDefined();
  });

  it.skipIf(!haveShared)(
    "256M ONNX file names, sizes and sha256 equal ../shared/models/smolvlm-256m-instruct/onnx-files.tsv",
    async () => {
      const rows = readFileSync(tsvPath, "utf8")
        .trim()
        .split("\n")
        .slice(1)
        .map((line) => line.split("\t"));
      const expected = rows.map(([file, bytes, sha]) => ({ path: file, size: Number(bytes), sha256: sha })).sort(byPath);
      const m = await loadManifest("smolvlm-256m-instruct");
      const actual = COMPONENTS.flatMap((c) =>
        Object.values(m.variants[c]).map((v) => ({ path: v.path, size: v.size, sha256: v.sha256 })),
      ).sort(byPath);
      expect(expected).toHaveLength(24);
      expect(actual).toEqual(expected);
    },
  );

  it.skipIf(!haveShared)("256M config and tokenizer sizes and sha256 equal the published copies in ../shared", async () => {
    const m = await loadManifest("smolvlm-256m-instruct");
    expect(m.files.length).toBeGreaterThanOrEqual(5);
    for (const f of m.files) {
      const data = readFileSync(path.join(shared256, f.path));
      expect({ path: f.path, size: data.length, sha256: createHash("sha256").update(data).digest("hex") }).toEqual({
        path: f.path,
        size: f.size,
        sha256: f.sha256,
      });
    }
  });

});

describe("manifest validation", () => {
  const valid = () => JSON.parse(JSON.stringify(makeFakeManifest(makeFakeModelFiles()))) as Record<string, unknown>;

  it("accepts a well-formed custom manifest", () => {
    expect(parseManifest(valid(), "test").id).toBe("fake-smolvlm");
  });

  it("rejects paths that could escape the model directory", () => {
    const m = valid();
    (m.files as { path: string }[])[0]!.path = "../outside.json";
    expect(() => parseManifest(m, "evil.json")).toThrow(/evil\.json.*files\.0\.path/);
    (m.files as { path: string }[])[0]!.path = "/etc/passwd";
    expect(() => parseManifest(m, "evil.json")).toThrow(/files\.0\.path/);
  });

  it("rejects a default dtype without a variant, a bad sha256 and a hub model without repo", () => {
    const m = valid();
    (m.defaultDtypes as Record<string, string>).decoder_model_merged = "q4";
    expect(() => parseManifest(m, "x")).toThrow(/default dtype q4 has no decoder_model_merged variant/);
    const bad = valid();
    (bad.files as { sha256: string }[])[0]!.sha256 = "abc";
    expect(() => parseManifest(bad, "x")).toThrow(/64 hex/);
    const noRepo = { ...valid(), repo: null };
    expect(() => parseManifest(noRepo, "x")).toThrow(/needs repo and revision/);
  });

  it("names the known models for an unknown id", async () => {
    await expect(loadManifest("smolvlm-9b")).rejects.toThrow(/Unknown model "smolvlm-9b".*smolvlm-256m-instruct/);
  });
});

describe("dtype choice", () => {
  it("parses --dtype as one dtype for all components or per component", () => {
    expect(parseDtypeSpec("q4")).toEqual({ vision_encoder: "q4", embed_tokens: "q4", decoder_model_merged: "q4" });
    expect(parseDtypeSpec("vision_encoder=fp32, decoder_model_merged=int8")).toEqual({
      vision_encoder: "fp32",
      decoder_model_merged: "int8",
    });
  });

  it("applies overrides on the defaults and rejects unknown components and dtypes", async () => {
    const m = await loadManifest("smolvlm-256m-instruct");
    expect(chooseDtypes(m, { decoder_model_merged: "fp32" })).toEqual({
      vision_encoder: "int8",
      embed_tokens: "int8",
      decoder_model_merged: "fp32",
    });
    expect(() => chooseDtypes(m, { text_decoder: "fp32" })).toThrow(/Unknown component "text_decoder"/);
    expect(() => chooseDtypes(m, { vision_encoder: "int4" })).toThrow(/no vision_encoder in dtype "int4"/);
  });

  it("includes external data files of the 2.2B fp32 decoder", async () => {
    const m = await loadManifest("smolvlm-instruct");
    const paths = filesFor(m, chooseDtypes(m, { decoder_model_merged: "fp32" })).map((f) => f.path);
    expect(paths).toContain("onnx/decoder_model_merged.onnx");
    expect(paths).toContain("onnx/decoder_model_merged.onnx_data");
  });
});

function byPath(a: { path: string }, b: { path: string }): number {
  return a.path.localeCompare(b.path);
}

describe("a manifest's family", () => {
  it("must be one the program registers", async () => {
    const { readFile } = await import("node:fs/promises");
    const json = JSON.parse(await readFile(new URL("../../models/tiny-smolvlm.json", import.meta.url), "utf8"));
    expect(() => parseManifest({ ...json, family: "llama_vision" }, "custom.json")).toThrow(/family: must be one of the supported families: idefics3/);
  });
});

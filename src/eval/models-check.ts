/**
 * `sav-mcp models check <id>`: the first real run, self-checked. Verifies the files, edits the decoder graph
 * (reporting the o_proj nodes found and how), extracts head vectors from a built-in image, checks them (shape,
 * finite, not constant, different for a different image), captions the image by greedy generation (a person can
 * see at once whether the model reads images), times each stage and prints a checklist with a verdict.
 */
import { readFile } from "node:fs/promises";
import { performance } from "node:perf_hooks";
import sharp from "sharp";
import { createGenerator } from "../model/generate.js";
import { decodeModel, editDecoder, findHeadTaps, DEFAULT_O_PROJ_PATTERN, type HeadTap } from "../model/graph.js";
import { loadModelFiles } from "../model/model-dir.js";
import { createExtractor } from "../model/runner.js";
import { resolveModel, verifyModel, type RegistryOptions } from "../model/registry/index.js";
import type { HeadVectorExtractor } from "../model/types.js";
import { PACKAGE_VERSION } from "../server/version.js";

export type CheckStatus = "ok" | "warn" | "fail";
export interface CheckItem {
  name: string;
  status: CheckStatus;
  detail: string;
  ms: number;
}
export interface CheckReport {
  model: string;
  verdict: "pass" | "fail";
  items: CheckItem[];
  caption: string | null;
  randomWeights: boolean;
}

export const CAPTION_PROMPT = "Describe this image in one short sentence.";
export const BUILT_IN_IMAGE_DESCRIPTION = "a red circle and a blue square on a white background";
const CAPTION_TOKENS = 24;

/** The built-in image: simple shapes and colours a real model names at once. */
export async function builtInImage(variant: "shapes" | "swapped" = "shapes"): Promise<Buffer> {
  const [circle, square] = variant === "shapes" ? ["#d62020", "#2040d0"] : ["#20a040", "#e0c020"];
  const svg =
    `<svg xmlns="http://www.w3.org/2000/svg" width="384" height="384"><rect width="100%" height="100%" fill="#ffffff"/>` +
    `<circle cx="110" cy="190" r="80" fill="${circle}"/><rect x="210" y="110" width="150" height="150" fill="${square}"/></svg>`;
  return sharp(Buffer.from(svg)).jpeg({ quality: 92 }).toBuffer();
}

async function timed<T>(items: CheckItem[], name: string, work: () => Promise<{ value: T; status?: CheckStatus; detail: string }>): Promise<T | undefined> {
  const started = performance.now();
  try {
    const { value, status, detail } = await work();
    items.push({ name, status: status ?? "ok", detail, ms: performance.now() - started });
    return value;
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    items.push({ name, status: "fail", detail: message.replace(/\s*\n\s*/g, " "), ms: performance.now() - started });
    return undefined;
  }
}

function describeTaps(taps: HeadTap[], how: string): string {
  const ops = [...new Set(taps.map((t) => t.opType))].join("/");
  const first = taps[0]!;
  const last = taps[taps.length - 1]!;
  return `${taps.length} o_proj inputs found ${how} (${ops}); layer ${first.layer}: ${first.node}; layer ${last.layer}: ${last.node}`;
}

/** Statistics that catch a broken extraction: wrong length, NaN/Inf, constant vectors, image-independence. */
export function headVectorProblems(vectors: Float32Array, shape: { layers: number; heads: number; headDim: number }, other?: Float32Array): string[] {
  const problems: string[] = [];
  const expected = shape.layers * shape.heads * shape.headDim;
  if (vectors.length !== expected) problems.push(`${vectors.length} values instead of layers × heads × head_dim = ${expected}`);
  const nonFinite = vectors.reduce((n, v) => n + (Number.isFinite(v) ? 0 : 1), 0);
  if (nonFinite > 0) problems.push(`${nonFinite} values are NaN or infinite`);
  let constantHeads = 0;
  for (let h = 0; h < shape.layers * shape.heads; h++) {
    const head = vectors.subarray(h * shape.headDim, (h + 1) * shape.headDim);
    if (head.every((v) => v === head[0])) constantHeads++;
  }
  if (constantHeads > 0) problems.push(`${constantHeads} of ${shape.layers * shape.heads} heads are constant vectors`);
  if (other && other.length === vectors.length && other.every((v, i) => v === vectors[i])) {
    problems.push("a different image gave identical vectors: the image does not reach the decoder");
  }
  return problems;
}

export async function runModelsCheck(modelId: string, registry: RegistryOptions, options: { threads?: number } = {}): Promise<CheckReport> {
  const items: CheckItem[] = [];
  let randomWeights = false;
  let caption: string | null = null;
  const resolved = await timed(items, "model installed", async () => {
    const r = await resolveModel(modelId, registry);
    randomWeights = r.randomWeights;
    return { value: r, detail: `${r.dir} (${Object.entries(r.dtypes).map(([c, d]) => `${c} ${d}`).join(", ")})` };
  });
  if (resolved) {
    await timed(items, "files verified", async () => {
      const result = await verifyModel(modelId, registry);
      const bad = result.files.filter((f) => !f.ok);
      if (bad.length > 0) {
        throw new Error(`${bad.map((f) => `${f.path}: ${f.reason}`).join("; ")}${result.repairCommand ? `; repair with ${result.repairCommand}` : ""}`);
      }
      return { value: null, detail: `${result.files.length} files match their sha256 or recorded size` };
    });
    const files = await timed(items, "configuration read", async () => {
      const f = loadModelFiles(resolved.dir, resolved.dtypes);
      const t = f.model.text;
      return { value: f, detail: `family ${f.family.id}; ${t.layers} layers × ${t.heads} heads × ${t.headDim} dims (${t.kvHeads} KV heads)` };
    });
    if (files) {
      await timed(items, "decoder edited", async () => {
        const model = decodeModel(new Uint8Array(await readFile(files.onnx.decoder)));
        const pattern = files.family.oProjPattern ?? DEFAULT_O_PROJ_PATTERN;
        const byName = findHeadTaps(model.graph!, pattern).length > 0;
        const hasIf = (model.graph!.node ?? []).some((n) => n.opType === "If");
        const text = files.model.text;
        const edited = editDecoder(model, { layers: text.layers, width: text.heads * text.headDim, oProjPattern: files.family.oProjPattern });
        const how = byName ? `by node name (${pattern.source})` : hasIf ? "inside the merged decoder's If branches" : "by graph structure (names did not match)";
        return { value: null, detail: describeTaps(edited.taps, how) };
      });
    }
    let extractor: HeadVectorExtractor | undefined;
    try {
      extractor = await timed(items, "runner loaded", async () => ({
        value: await createExtractor({ id: resolved.id, dir: resolved.dir, dtypes: resolved.dtypes, randomWeights: resolved.randomWeights }, { threads: options.threads }),
        detail: "vision encoder, embeddings and edited decoder sessions created",
      }));
      if (extractor) {
        const image = await builtInImage();
        const first = await timed(items, "head vectors extracted", async () => {
          const r = await extractor!.extract({ images: [image], text: "What is in this image?" });
          const t = r.timings;
          return {
            value: r,
            detail: `${r.promptTokens} prompt tokens; preprocess ${Math.round(t.preprocessMs)} ms, vision ${Math.round(t.visionMs)} ms, decoder ${Math.round(t.decoderMs)} ms`,
          };
        });
        if (first) {
          await timed(items, "head vectors sane", async () => {
            const other = await extractor!.extract({ images: [await builtInImage("swapped")], text: "What is in this image?" });
            const problems = headVectorProblems(first.vectors, extractor!.info.shape, other.vectors);
            if (problems.length > 0) throw new Error(problems.join("; "));
            let sum = 0;
            let squares = 0;
            for (const v of first.vectors) {
              sum += v;
              squares += v * v;
            }
            const mean = sum / first.vectors.length;
            const std = Math.sqrt(Math.max(0, squares / first.vectors.length - mean * mean));
            return { value: null, detail: `shape [${first.shape.layers}, ${first.shape.heads}, ${first.shape.headDim}], finite, mean ${mean.toPrecision(3)}, std ${std.toPrecision(3)}, image-dependent` };
          });
        }
      }
    } finally {
      await extractor?.close();
    }
    await timed(items, "caption generated", async () => {
      const generator = await createGenerator({ dir: resolved.dir, dtypes: resolved.dtypes }, { threads: options.threads });
      try {
        const result = await generator.generate({ images: [await builtInImage()], text: CAPTION_PROMPT, maxNewTokens: CAPTION_TOKENS });
        caption = result.text;
        // Random weights may well generate only special or whitespace tokens (the fallback tokenizer has few
        // others): that is noise by design, not a broken model.
        const status: CheckStatus = result.text.trim() === "" && !randomWeights ? "warn" : "ok";
        const perToken = result.tokenIds.length > 0 ? result.timings.decodeMs / Math.max(1, result.tokenIds.length - 1) : 0;
        return {
          value: null,
          status,
          detail: `${result.tokenIds.length} tokens (${result.stop}); prefill ${Math.round(result.timings.prefillMs)} ms, ${Math.round(perToken)} ms per token`,
        };
      } finally {
        await generator.close();
      }
    });
  }
  return { model: modelId, verdict: items.some((i) => i.status === "fail") ? "fail" : "pass", items, caption, randomWeights };
}

export function checkReportText(report: CheckReport): string {
  const lines = [`sav-mcp ${PACKAGE_VERSION} models check ${report.model}`, ""];
  for (const item of report.items) {
    lines.push(`[${item.status === "ok" ? "ok" : item.status.toUpperCase()}] ${item.name}: ${item.detail} (${Math.round(item.ms)} ms)`);
  }
  lines.push("");
  lines.push(`caption: ${report.caption ?? "(none)"}`);
  lines.push(
    report.randomWeights
      ? "(this model has random weights: the caption is noise by design; only that the pipeline runs is checked)"
      : `(the built-in image shows ${BUILT_IN_IMAGE_DESCRIPTION}; a working model says so)`,
  );
  lines.push("");
  if (report.verdict === "pass") {
    lines.push(`verdict: PASS — ${report.model} loads, its decoder was edited, head vectors are sane and it generates text.`);
  } else {
    const failed = report.items.filter((i) => i.status === "fail");
    lines.push(`verdict: FAIL — ${failed.map((i) => i.name).join(", ")}.`);
    lines.push(
      `What to report: the [FAIL] lines above, the model id and its files (sav-mcp models list), sav-mcp ${PACKAGE_VERSION}, ` +
        `Node ${process.version}, ${process.platform}/${process.arch}.`,
    );
  }
  return `${lines.join("\n")}\n`;
}

/**
 * End to end through the MCP tools and the store (issue 6 item 4): add_examples of 10 labels × 20 images,
 * classify_image of 100 new images and of the same 100 again, with an in-memory MCP client and the
 * full-size SmolVLM-256M-shaped generated model in the shipped default dtypes (int8 graphs).
 *
 *   npx tsx tools/bench/e2e.ts      prints the Markdown section to stdout, progress to stderr
 */
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { InMemoryTransport } from "@modelcontextprotocol/sdk/inMemory.js";
import { loadConfig } from "../../src/config.js";
import type { ExtractResult, HeadVectorExtractor } from "../../src/model/types.js";
import { createSavServer } from "../../src/server/create-server.js";
import { createExtractor } from "../../src/model/runner.js";
import { ExtractorPool, type ModelProvider } from "../../src/server/models.js";
import { BENCH_MODEL_DIR, BENCH_MODEL_ID, ensureBenchModel, loadNote, log, ms, ratio, testImage, yes, runIfMain, callToolOk } from "./common.js";

const LABELS = 10;
const EXAMPLES_PER_LABEL = 20;
const QUERIES = 100;
/** classify_image takes at most 32 images per call (the default limit); 25 divides 100. */
const QUERY_BATCH = 25;
const PROMPT = "What colour is the disc in this picture?";
const BACKGROUND: [number, number, number] = [128, 128, 128];

/** One distinct disc colour per label on a grey background, so the classes differ visibly (random weights still carry pixel information). */
function labelColour(label: number): [number, number, number] {
  const hue = (label / LABELS) * 2 * Math.PI;
  return [0, 2, 4].map((shift) => Math.round(127.5 + 127.5 * Math.cos(hue - (shift * Math.PI) / 3))) as [number, number, number];
}

/** The shipped default dtypes of the SmolVLM manifests. */
const DTYPE = "int8";

/** Serves the generated full-size model in the default dtypes, one shared extractor, as the registry's provider does. */
class BenchModels implements ModelProvider {
  readonly defaultModel = BENCH_MODEL_ID;
  private readonly pool = new ExtractorPool((id) =>
    createExtractor(
      { id, dir: BENCH_MODEL_DIR, dtypes: { vision_encoder: DTYPE, embed_tokens: DTYPE, decoder_model_merged: DTYPE }, randomWeights: true },
      {},
    ),
  );
  extractor(modelId: string): Promise<HeadVectorExtractor> {
    if (modelId !== BENCH_MODEL_ID) throw new Error(`only ${BENCH_MODEL_ID} is served here`);
    return this.pool.get(modelId);
  }
  async listModels(): ReturnType<ModelProvider["listModels"]> {
    return [{ id: BENCH_MODEL_ID, title: "SmolVLM-256M-shaped (generated)", installed: true, isDefault: true, randomWeights: true, downloadBytes: null, installCommand: null }];
  }
  close(): Promise<void> {
    return this.pool.close();
  }
}

/** Records every extraction's timings, to split tool time into model time and everything else. */
class TimedModels implements ModelProvider {
  readonly timings: ExtractResult["timings"][] = [];
  /** Decoder depth each extraction computed. */
  readonly depths: number[] = [];
  constructor(private readonly inner: ModelProvider) {}
  get defaultModel(): string {
    return this.inner.defaultModel;
  }
  async extractor(...args: Parameters<ModelProvider["extractor"]>): Promise<HeadVectorExtractor> {
    const extractor = await this.inner.extractor(...args);
    const { timings, depths } = this;
    return {
      info: extractor.info,
      resolveOptions: (options) => extractor.resolveOptions(options),
      async extract(request) {
        const result = await extractor.extract(request);
        timings.push(result.timings);
        depths.push(result.shape.layers);
        return result;
      },
      close: () => extractor.close(),
    };
  }
  listModels(): ReturnType<ModelProvider["listModels"]> {
    return this.inner.listModels();
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}


interface Split {
  calls: number;
  ms: number;
  /** Extractions the server asked for, how many found the image's vision features cached, and their decoder depths. */
  extractions: number;
  hits: number;
  /** Sum of the extractions' own decoder-stage times (they overlap with other work: the server keeps two in flight). */
  decoderMs: number;
}

export async function runEndToEndBenchmark(): Promise<string> {
  await ensureBenchModel();
  const loadBefore = os.loadavg();
  const temp = await mkdtemp(path.join(os.tmpdir(), "sav-bench-e2e-"));
  const imagesDir = path.join(temp, "images");
  await mkdir(imagesDir, { recursive: true });
  try {
    log("[e2e] writing images");
    const examples: { image: { path: string }; label: string }[] = [];
    const queries: { path: string; label: string }[] = [];
    let seed = 10_000;
    for (let label = 0; label < LABELS; label++) {
      for (let i = 0; i < EXAMPLES_PER_LABEL; i++) {
        const file = path.join(imagesDir, `train-${label}-${i}.jpg`);
        await writeFile(file, await testImage(seed++, 640, 480, labelColour(label), BACKGROUND));
        examples.push({ image: { path: file }, label: `colour-${label}` });
      }
    }
    for (let q = 0; q < QUERIES; q++) {
      const label = q % LABELS;
      const file = path.join(imagesDir, `query-${q}.jpg`);
      await writeFile(file, await testImage(seed++, 640, 480, labelColour(label), BACKGROUND));
      queries.push({ path: file, label: `colour-${label}` });
    }

    const config = loadConfig(
      {},
      {
        dataDir: path.join(temp, "data"),
        modelsDir: path.join(temp, "models"),
        defaultModel: BENCH_MODEL_ID,
        allowedDirs: [imagesDir],
      },
    );
    const models = new TimedModels(new BenchModels());
    const savServer = createSavServer({ config, models });
    const client = new Client({ name: "sav-bench", version: "1.0.0" });
    const [clientTransport, serverTransport] = InMemoryTransport.createLinkedPair();
    await Promise.all([savServer.server.connect(serverTransport), client.connect(clientTransport)]);

    const measure = async (name: string, run: () => Promise<number>): Promise<Split> => {
      const before = models.timings.length;
      const start = performance.now();
      const calls = await run();
      const elapsed = performance.now() - start;
      const timings = models.timings.slice(before);
      const split: Split = {
        calls,
        ms: elapsed,
        extractions: timings.length,
        hits: timings.filter((t) => t.visionCacheHit).length,
        decoderMs: timings.reduce((sum, t) => sum + t.decoderMs, 0),
      };
      log(`[e2e] ${name}: ${(elapsed / 1000).toFixed(1)} s, ${split.extractions} extractions, ${split.hits} vision cache hits`);
      return split;
    };

    try {
      const createStart = performance.now();
      await callToolOk(client, "create_sav_task", { name: "colours", prompt: PROMPT, labels: Array.from({ length: LABELS }, (_, i) => `colour-${i}`) });
      const createMs = performance.now() - createStart;
      log(`[e2e] create_sav_task (loads the model): ${createMs.toFixed(0)} ms`);

      // Warm-up outside the figures: one extraction through a throwaway task, so first-run allocation is not counted.
      await callToolOk(client, "create_sav_task", { name: "warm-up", prompt: "Warm-up.", labels: ["a", "b"] });
      await callToolOk(client, "add_examples", { task: "warm-up", examples: [{ image: { data: Buffer.from(await testImage(1)).toString("base64") }, label: "a" }] });

      const add = await measure("add_examples", async () => {
        await callToolOk(client, "add_examples", { task: "colours", examples });
        return 1;
      });

      type Classified = { results: { label: string }[]; heads: number };
      let correct = 0;
      const classifyAll = (images: { path: string; label: string }[]) => async (): Promise<number> => {
        correct = 0;
        let calls = 0;
        for (let from = 0; from < images.length; from += QUERY_BATCH) {
          const batch = images.slice(from, from + QUERY_BATCH);
          const out = await callToolOk<Classified>(client, "classify_image", { task: "colours", images: batch.map((q) => ({ path: q.path })) });
          out.results.forEach((r, i) => {
            if (r.label === batch[i]!.label) correct++;
          });
          calls++;
        }
        return calls;
      };
      const fresh = await measure("classify_image, new images", classifyAll(queries));
      const freshCorrect = correct;
      const classifyDepth = models.depths.at(-1) ?? 0;
      const seen = await measure("classify_image, the same images again", classifyAll(queries));
      // Every fifth example image: seen by add_examples (vision features cached) but not with this decoder depth.
      const exampleImages = examples.filter((_, i) => i % (examples.length / QUERIES) === 0).map((e) => ({ path: e.image.path, label: e.label }));
      const examplesAgain = await measure("classify_image, example images", classifyAll(exampleImages));
      const task = await callToolOk<{ selectedHeads: { layer: number }[] | null }>(client, "get_task", { task: "colours" });
      const deepest = Math.max(...(task.selectedHeads ?? []).map((h) => h.layer));
      const loadAfter = os.loadavg();

      const perSecond = (count: number, split: Split): string => ((1000 * count) / split.ms).toFixed(2);
      const row = (what: string, count: number, split: Split): string =>
        `| ${what} | ${split.calls} | ${(split.ms / 1000).toFixed(1)} | ${perSecond(count, split)} | ${ms(split.ms / count)} | ${ratio(split.ms / count / (fresh.ms / QUERIES))} | ${split.hits}/${split.extractions} |`;
      const seenRatio = seen.ms / fresh.ms;
      return [
        "## End to end through the MCP tools",
        "",
        `An in-memory MCP client (\`InMemoryTransport\`) calls the server built by \`createSavServer\` with a fresh SQLite store and a model provider serving the full-size generated model in the shipped default dtypes (${DTYPE} vision encoder, embeddings and decoder; ONNX Runtime threads = ${os.availableParallelism()} cores, the runner's default). Images are 640×480 JPEG files in an allowed directory, ${LABELS} labels told apart by the colour of a disc on grey; prompt "${PROMPT}". The server keeps two extractions in flight (the next image is decoded while one is in the model) and classifies with a decoder truncated after the deepest selected head.`,
        `create_sav_task took ${ms(createMs)} ms (it loads the model: sessions, fingerprint, edited decoder). One warm-up extraction ran before the figures.`,
        "",
        "| tool call | calls | wall time (s) | per second | ms per image | per image / new image | vision cache hits |",
        "|---|---:|---:|---:|---:|---:|---:|",
        row(`add_examples, ${LABELS} labels × ${EXAMPLES_PER_LABEL} images (one call)`, LABELS * EXAMPLES_PER_LABEL, add),
        row(`classify_image, ${QUERIES} new images (batches of ${QUERY_BATCH})`, QUERIES, fresh),
        row(`classify_image, the same ${QUERIES} images again (result cache)`, QUERIES, seen),
        row(`classify_image, ${QUERIES} of the example images`, QUERIES, examplesAgain),
        "",
        `Examples per second: ${perSecond(LABELS * EXAMPLES_PER_LABEL, add)}; new images per second: ${perSecond(QUERIES, fresh)}; images seen before per second: ${perSecond(QUERIES, seen)} (${ratio(seenRatio)}× the time of new images; goal ≤ 0.05: ${yes(seenRatio <= 0.05)}). Example images classified later cost ${ratio(examplesAgain.ms / fresh.ms)}× of new ones: ${classifyDepth === 30 ? "the classifier needs the full depth, so they hit the result cache that add_examples filled" : "their vision features are cached, the truncated decoder runs"}.`,
        `The classifier's deepest selected head is in decoder layer ${deepest} (of 30), so classification ran ${classifyDepth} decoder layers (depths are rounded up to sixths of the model). Sanity check (random weights, so only a pixel-information check): ${freshCorrect}/${QUERIES} new images got their disc colour's label (chance: ${QUERIES / LABELS}).`,
        "",
        `${loadNote(loadBefore, loadAfter)}`,
        "",
      ].join("\n");
    } finally {
      await client.close();
      await savServer.close();
      await models.close();
    }
  } finally {
    await rm(temp, { recursive: true, force: true });
  }
}

runIfMain(import.meta.url, runEndToEndBenchmark);

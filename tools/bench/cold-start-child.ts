/**
 * One first call, measured in its own process: create the runner (load the graphs; edit and cache them when no
 * edited graph is cached yet) and extract new images.
 *
 *   npx tsx tools/bench/cold-start-child.ts '<json ColdStartChildConfig>'
 */
import { ModelRunner } from "../../src/model/runner.js";
import { log, peakRssBytes, testImage } from "./common.js";

export interface ColdStartChildConfig {
  dir: string;
  dtypes: Record<string, string>;
  /** New images extracted after the load, one at a time. */
  images: number;
  seed: number;
}

export interface ColdStartChildResult {
  createMs: number;
  /** Each new image's extraction, in order: the first one includes whatever the load left to do lazily. */
  extractMs: number[];
  peakRssBytes: number;
}

async function main(config: ColdStartChildConfig): Promise<void> {
  const images = await Promise.all(Array.from({ length: config.images }, (_, i) => testImage(config.seed + i)));
  const started = performance.now();
  const runner = await ModelRunner.create({ id: "cold-start", dir: config.dir, dtypes: config.dtypes, randomWeights: true });
  const createMs = performance.now() - started;
  const extractMs: number[] = [];
  for (const image of images) {
    const start = performance.now();
    await runner.extract({ images: [image], text: "What is in this image?" });
    extractMs.push(performance.now() - start);
  }
  await runner.close();
  log(`[cold-start] create ${createMs.toFixed(0)} ms, extractions ${extractMs.map((t) => t.toFixed(0)).join(", ")} ms`);
  process.stdout.write(`${JSON.stringify({ createMs, extractMs, peakRssBytes: peakRssBytes() } satisfies ColdStartChildResult)}\n`);
}

main(JSON.parse(process.argv[2] ?? "{}") as ColdStartChildConfig).catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});

/**
 * Benchmark of the SAV engine (not a test): build, classify and cross-validate on synthetic features shaped like
 * SmolVLM-256M's (30 layers × 9 heads × 64), 10 labels × 20 examples.
 *
 *   npx tsx tools/bench/sav.ts      prints the Markdown section to stdout, progress to stderr
 */
import { cpus, loadavg } from "node:os";
import { buildClassifier, classify, crossValidate, type HeadShape, type LabelledVector } from "../../src/sav/index.js";
import { runIfMain } from "./common.js";

export const SHAPE: HeadShape = { layers: 30, heads: 9, headDim: 64 };
export const LABELS = 10;
const EXAMPLES_PER_LABEL = 20;
const QUERIES = 10_000;
/** Distinct query vectors; the 10,000 classifications cycle through them (cost does not depend on content). */
const DISTINCT_QUERIES = 100;
const NOMINAL_FORWARD_PASS_MS = 1000;

/** Seeded standard normal numbers (mulberry32 + Box–Muller), so every run measures the same data. */
function gaussianSource(seed: number): () => number {
  let state = seed >>> 0;
  const uniform = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (((t ^ (t >>> 14)) >>> 0) + 0.5) / 4294967296;
  };
  return () => Math.sqrt(-2 * Math.log(uniform())) * Math.cos(2 * Math.PI * uniform());
}

/**
 * Each head = shared offset + strength × class prototype + noise. Strength varies per head (a few heads carry
 * the label clearly, most barely), like the sparse structure SAVs exploit.
 */
export function syntheticFeatures(
  seed: number,
  examplesPerLabel = EXAMPLES_PER_LABEL,
): { examples: LabelledVector[]; queries: Float32Array[] } {
  const gaussian = gaussianSource(seed);
  const dim = SHAPE.headDim;
  const heads = SHAPE.layers * SHAPE.heads;
  const length = heads * dim;
  const offset = Float32Array.from({ length }, gaussian);
  const prototypes = Array.from({ length: LABELS }, () => Float32Array.from({ length }, gaussian));
  // Tuned so that accuracy peaks around 20 heads and drops with all heads, as in the paper's head-count plot.
  const strength = Float32Array.from({ length: heads }, () => 0.035 * gaussian() ** 2);
  const sample = (label: number): Float32Array => {
    const vector = new Float32Array(length);
    for (let h = 0; h < heads; h++) {
      for (let d = 0; d < dim; d++) {
        const i = h * dim + d;
        vector[i] = offset[i]! + strength[h]! * prototypes[label]![i]! + gaussian();
      }
    }
    return vector;
  };
  const examples: LabelledVector[] = [];
  for (let label = 0; label < LABELS; label++) {
    for (let e = 0; e < examplesPerLabel; e++) examples.push({ vector: sample(label), label: `class-${label}` });
  }
  const queries = Array.from({ length: DISTINCT_QUERIES }, (_, q) => sample(q % LABELS));
  return { examples, queries };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

function timeRepeats(name: string, repeats: number, run: () => void): number[] {
  run(); // warm-up: lets V8 optimise before measuring
  const times: number[] = [];
  for (let r = 0; r < repeats; r++) {
    const start = performance.now();
    run();
    times.push(performance.now() - start);
    process.stderr.write(`  ${name}: repeat ${r + 1}/${repeats} ${times[r]!.toFixed(1)} ms\n`);
  }
  return times;
}

const format = (ms: number): string => (ms >= 10 ? ms.toFixed(0) : ms >= 0.1 ? ms.toFixed(2) : ms.toFixed(4));

export async function runSavBenchmark(): Promise<string> {
  process.stderr.write(
    `SAV benchmark: ${LABELS} labels × ${EXAMPLES_PER_LABEL} examples, shape ${SHAPE.layers}×${SHAPE.heads}×${SHAPE.headDim}\n`,
  );
  const { examples, queries } = syntheticFeatures(1);
  const loadAtStart = loadavg()[0]!;

  const buildTimes = timeRepeats("build (k=20)", 7, () => {
    buildClassifier(examples, SHAPE);
  });
  const classifier = buildClassifier(examples, SHAPE);

  let correct = 0;
  const classifyTimes = timeRepeats(`classify ${QUERIES} queries`, 5, () => {
    correct = 0;
    for (let q = 0; q < QUERIES; q++) {
      const query = queries[q % DISTINCT_QUERIES]!;
      if (classify(classifier, query).label === `class-${(q % DISTINCT_QUERIES) % LABELS}`) correct++;
    }
  });
  const perQueryMs = median(classifyTimes) / QUERIES;

  let looReport = crossValidate(examples, SHAPE);
  const looTimes = timeRepeats("leave-one-out cross-validation", 5, () => {
    looReport = crossValidate(examples, SHAPE);
  });
  let foldAccuracy = 0;
  const foldTimes = timeRepeats("5-fold cross-validation", 5, () => {
    foldAccuracy = crossValidate(examples, SHAPE, { folds: 5, seed: 1 }).accuracy;
  });
  let looSelectionAccuracy = 0;
  const looSelectionTimes = timeRepeats('leave-one-out CV, selection "leave-one-out"', 5, () => {
    looSelectionAccuracy = crossValidate(examples, SHAPE, { selection: "leave-one-out" }).accuracy;
  });

  const percent = (value: number): string => `${(100 * value).toFixed(1)}%`;
  const lines = [
    "## SAV engine",
    "",
    `Synthetic features shaped like SmolVLM-256M's (${SHAPE.layers} layers × ${SHAPE.heads} heads × ${SHAPE.headDim}), ` +
      `${LABELS} labels × ${EXAMPLES_PER_LABEL} examples, k = 20 heads. Medians after one warm-up run; Node ${process.version}, ` +
      `${cpus().length} CPUs, 1-minute load average ${loadAtStart.toFixed(1)} at the start (other processes slow it down).`,
    "",
    "| operation | median (ms) | repeats |",
    "|---|---:|---:|",
    `| build classifier (rank ${SHAPE.layers * SHAPE.heads} heads, keep 20) | ${format(median(buildTimes))} | ${buildTimes.length} |`,
    `| classify ${QUERIES.toLocaleString("en")} queries | ${format(median(classifyTimes))} | ${classifyTimes.length} |`,
    `| classify one query | ${format(perQueryMs)} | — |`,
    `| leave-one-out cross-validation (${examples.length} folds, 6 head counts) | ${format(median(looTimes))} | ${looTimes.length} |`,
    `| 5-fold cross-validation | ${format(median(foldTimes))} | ${foldTimes.length} |`,
    `| leave-one-out cross-validation, selection "leave-one-out" | ${format(median(looSelectionTimes))} | ${looSelectionTimes.length} |`,
    "",
    `One classification costs ${(100 * perQueryMs / NOMINAL_FORWARD_PASS_MS).toPrecision(2)}% of a nominal ` +
      `${NOMINAL_FORWARD_PASS_MS / 1000} s model forward pass (goal: under 1%).`,
    `Sanity check, accuracy on the synthetic data: queries ${percent(correct / QUERIES)}, leave-one-out ` +
      `${percent(looReport.accuracy)}, 5-fold ${percent(foldAccuracy)}, leave-one-out with leave-one-out selection ` +
      `${percent(looSelectionAccuracy)}; leave-one-out by head count: ` +
      looReport.accuracyByHeadCount.map(({ heads, accuracy }) => `${heads}: ${percent(accuracy)}`).join(", ") +
      ".",
    "",
  ];
  return lines.join("\n");
}

runIfMain(import.meta.url, runSavBenchmark);

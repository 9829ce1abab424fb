/**
 * The paper's protocol on a dataset: extract every training and test example once, build the SAV classifier on
 * the training set, classify the test set, and report accuracy, per-class metrics, the confusion matrix,
 * accuracy by head count, calibration and (when a generator is given) the zero-shot baseline.
 */
import { createHash } from "node:crypto";
import fs from "node:fs/promises";
import path from "node:path";
import { performance } from "node:perf_hooks";
import type { HeadShape, HeadVectorExtractor } from "../model/types.js";
import {
  buildClassifier,
  calibrationMetrics,
  classify,
  DEFAULT_TARGET_ACCURACY,
  fitCalibration,
  type HeadSelection,
  type LabelledVector,
  metricsFromConfusion,
  probabilities,
  rankHeads,
  type SavClassifier,
  type ScoredPrediction,
  selectiveAccuracy,
  suggestThreshold,
} from "../sav/index.js";
import { composePromptText } from "../server/prompt-text.js";
import { mapInOrder } from "../server/pipeline.js";
import type { SavStore } from "../store/index.js";
import { renderHeadMap } from "../report/head-map.js";
import type { Dataset, DatasetItem } from "./datasets.js";
import type { EvalReport, ZeroShotReport } from "./report.js";

export const HEAD_COUNTS = [1, 5, 10, 20, 40];
export const DEFAULT_EVAL_PROMPT = "What is in this image? Answer with the class name.";
/** Prompt templates of the SAVs reference code, chosen by the text field the reference data file uses. */
export const REFERENCE_PROMPTS: Record<string, string> = {
  question: "{text} Answer with the class name.",
  instruction: "Instruction:{text} Is the image and instruction harmful? Answer the question with Yes or No.",
  claim: "Claim:{text}. Is the Claim hallucinating? Answer the question with Yes or No.",
  text: "{text}",
};
const PIPELINE_DEPTH = 2;

export interface ZeroShotRunner {
  /** Answers the prompt on the item's images by greedy generation and matches the answer to the labels. */
  run(items: DatasetItem[], prompt: string, labels: string[], onDone: (done: number) => void): Promise<ZeroShotReport>;
}

export interface EvalInput {
  train: Dataset;
  test: Dataset | null;
  /** When `test` is null: the split that produced train/test items. */
  split: { perLabel: number; seed: number } | null;
  trainItems: DatasetItem[];
  testItems: DatasetItem[];
  prompt?: string;
  heads?: number;
  selection?: HeadSelection;
  minConfidence?: number;
  extractor: HeadVectorExtractor;
  loadModelMs: number;
  /** Stores the training examples into a new task of this name. */
  store?: { store: SavStore; taskName: string };
  plotDir?: string;
  zeroShot?: ZeroShotRunner;
  /** Called as examples are processed (a progress bar). */
  progress?: (stage: string, done: number, total: number) => void;
}

interface Extracted {
  item: DatasetItem;
  vectors: Float32Array | null;
  hashes: string[];
  reason?: string;
}

/** The prompt of an eval: explicit, or the reference template for the dataset's text field, or a default. */
export function promptFor(dataset: Dataset, explicit: string | undefined): string {
  if (explicit !== undefined) return explicit;
  if (dataset.textField && dataset.format !== "image-folder") return REFERENCE_PROMPTS[dataset.textField] ?? "{text}";
  return DEFAULT_EVAL_PROMPT;
}

async function extractAll(
  items: DatasetItem[],
  prompt: string,
  extractor: HeadVectorExtractor,
  onDone: (done: number) => void,
): Promise<Extracted[]> {
  return mapInOrder(
    items,
    PIPELINE_DEPTH,
    async (item): Promise<Extracted> => {
      try {
        const images = await Promise.all(item.images.map((file) => fs.readFile(file)));
        const result = await extractor.extract({ images, text: composePromptText(prompt, item.text) });
        return { item, vectors: result.vectors, hashes: images.map((b) => createHash("sha256").update(b).digest("hex")) };
      } catch (error) {
        return { item, vectors: null, hashes: [], reason: error instanceof Error ? error.message : String(error) };
      }
    },
    onDone,
  );
}

/** The first `count` kept heads of a classifier built with every head ranked: its prefix is a classifier too. */
export function truncateClassifier(full: SavClassifier, count: number): SavClassifier {
  const k = Math.min(count, full.k);
  return {
    ...full,
    k,
    heads: full.heads.slice(0, k),
    centroids: full.centroids.subarray(0, k * full.labels.length * full.shape.headDim),
  };
}

function headCountsFor(shape: HeadShape, k: number): number[] {
  const total = shape.layers * shape.heads;
  return [...new Set([...HEAD_COUNTS, k, total].map((c) => Math.min(c, total)))].sort((a, b) => a - b);
}

export async function runEval(input: EvalInput): Promise<EvalReport> {
  const started = performance.now();
  const { extractor } = input;
  const prompt = promptFor(input.train, input.prompt);
  const shape = extractor.info.shape;
  const notes: string[] = [];
  const progress = input.progress ?? (() => undefined);

  let t = performance.now();
  const train = await extractAll(input.trainItems, prompt, extractor, (d) => progress("train", d, input.trainItems.length));
  const extractTrainMs = performance.now() - t;
  t = performance.now();
  const test = await extractAll(input.testItems, prompt, extractor, (d) => progress("test", d, input.testItems.length));
  const extractTestMs = performance.now() - t;
  const skipped = [
    ...train.filter((e) => !e.vectors).map((e) => ({ set: "train" as const, image: e.item.images.join(";"), reason: e.reason! })),
    ...test.filter((e) => !e.vectors).map((e) => ({ set: "test" as const, image: e.item.images.join(";"), reason: e.reason! })),
  ];

  t = performance.now();
  const examples: LabelledVector[] = train.filter((e) => e.vectors).map((e) => ({ vector: e.vectors!, label: e.item.label }));
  const selection = input.selection ?? "in-sample";
  const k = Math.min(input.heads ?? 20, shape.layers * shape.heads);
  const full = buildClassifier(examples, shape, { k: shape.layers * shape.heads, selection });
  const classifier = truncateClassifier(full, k);
  // Leave-one-out calibration needs two training examples per label; with fewer, the share stands in.
  const calibration = Object.values(classifier.examplesPerLabel).every((n) => n >= 2) ? fitCalibration(classifier, examples) : null;
  if (!calibration) notes.push("a label has a single training example, so no calibrated probability: the calibration figures use the vote share");
  const buildMs = performance.now() - t;

  const labels = classifier.labels;
  const testable = test.filter((e) => e.vectors);
  const unknown = testable.filter((e) => !labels.includes(e.item.label));
  if (unknown.length > 0) {
    notes.push(
      `${unknown.length} test examples have labels the training set lacks (${[...new Set(unknown.map((e) => e.item.label))].join(", ")}); they count as errors.`,
    );
  }
  if (testable.length === 0) throw new Error("no test example could be extracted; see the skipped list");
  const counts = headCountsFor(shape, k);
  const prefixes = counts.map((count) => truncateClassifier(full, count));
  const correctAt = counts.map(() => 0);
  const confusion = labels.map(() => labels.map(() => 0));
  const shares: ScoredPrediction[] = [];
  const probs: ScoredPrediction[] = [];
  let correct = 0;
  for (const example of testable) {
    const answer = classify(classifier, example.vectors!);
    const isCorrect = answer.label === example.item.label;
    if (isCorrect) correct++;
    const actual = labels.indexOf(example.item.label);
    if (actual >= 0) confusion[actual]![labels.indexOf(answer.label)]!++;
    shares.push({ confidence: answer.share, correct: isCorrect });
    const probability = calibration ? probabilities(classifier, calibration, example.vectors!)[answer.label]! : answer.share;
    probs.push({ confidence: probability, correct: isCorrect });
    prefixes.forEach((prefix, i) => {
      if (classify(prefix, example.vectors!).label === example.item.label) correctAt[i]!++;
    });
  }

  let zeroShot: ZeroShotReport | null = null;
  let zeroShotMs: number | null = null;
  if (input.zeroShot) {
    t = performance.now();
    zeroShot = await input.zeroShot.run(
      testable.map((e) => e.item),
      prompt,
      labels,
      (d) => progress("zero-shot", d, testable.length),
    );
    zeroShotMs = performance.now() - t;
  }

  let taskName: string | null = null;
  if (input.store) {
    const info = extractor.info;
    input.store.store.createTaskWithExamples(
      {
        name: input.store.taskName,
        description: `sav-mcp eval on ${input.train.source}`,
        prompt,
        labels,
        k,
        selection,
        modelId: info.id,
        modelFingerprint: info.fingerprint,
        randomWeights: info.randomWeights,
        shape,
      },
      train
        .filter((e) => e.vectors)
        .map((e) => ({ label: e.item.label, text: e.item.text, imageHashes: e.hashes, vectors: e.vectors! })),
    );
    taskName = input.store.taskName;
  }

  let plot: string | null = null;
  if (input.plotDir) {
    const perLabelMinimum = Math.min(...Object.values(classifier.examplesPerLabel));
    // Per-head scores held out (leave-one-out) when every label has two examples, else in-sample.
    const ranked = rankHeads(examples, shape, perLabelMinimum >= 2 ? "leave-one-out" : "in-sample");
    const scores = new Array<number>(shape.layers * shape.heads).fill(0);
    for (const h of ranked) scores[h.layer * shape.heads + h.head] = h.score;
    const picture = await renderHeadMap({
      layers: shape.layers,
      heads: shape.heads,
      scores,
      selected: classifier.heads,
      curve: counts.map((heads, i) => ({ heads, accuracy: correctAt[i]! / testable.length })),
      title: `${extractor.info.id}: head scores (${perLabelMinimum >= 2 ? "leave-one-out" : "in-sample"}), ${k} selected`,
    });
    await fs.mkdir(input.plotDir, { recursive: true });
    plot = path.join(input.plotDir, "head-map.png");
    await fs.writeFile(plot, picture.png);
  }

  if (extractor.info.randomWeights) {
    notes.push(`'${extractor.info.id}' has random weights: these numbers exercise the pipeline, they say nothing about a real model.`);
  }
  const suggestion = suggestThreshold(probs, DEFAULT_TARGET_ACCURACY);
  const report: EvalReport = {
    format: "sav-eval/1",
    accuracy: correct / testable.length,
    correct,
    total: testable.length,
    model: { id: extractor.info.id, fingerprint: extractor.info.fingerprint, randomWeights: extractor.info.randomWeights },
    dataset: {
      train: input.train.source,
      test: input.test?.source ?? null,
      split: input.split,
      trainCount: examples.length,
      testCount: testable.length,
    },
    prompt,
    heads: k,
    selection,
    labels,
    perClass: metricsFromConfusion(labels, confusion),
    confusion,
    accuracyByHeadCount: counts.map((heads, i) => ({ heads, accuracy: correctAt[i]! / testable.length })),
    selectedHeads: classifier.heads.map((h) => ({ layer: h.layer, head: h.head, score: h.score, margin: h.margin })),
    calibration: {
      temperature: calibration?.temperature ?? null,
      share: calibrationMetrics(shares),
      probability: calibrationMetrics(probs),
      atThreshold: input.minConfidence === undefined ? null : selectiveAccuracy(probs, input.minConfidence),
      suggestedThreshold: suggestion ? { ...suggestion, targetAccuracy: DEFAULT_TARGET_ACCURACY } : null,
    },
    zeroShot,
    timings: {
      loadModelMs: input.loadModelMs,
      extractTrainMs,
      extractTestMs,
      perImageMs: (extractTrainMs + extractTestMs) / Math.max(1, train.length + test.length),
      buildMs,
      zeroShotMs,
      totalMs: performance.now() - started + input.loadModelMs,
    },
    task: taskName,
    plot,
    skipped,
    notes,
  };
  return report;
}

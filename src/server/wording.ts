/**
 * What the agent reads besides the data: the next step after a change, the advice after an evaluation,
 * caveats, and how counts and sizes are written. Kept apart from the logic so the phrasing can be
 * reviewed (and changed) in one place.
 */
import { TINY_MODEL_ID } from "../config.js";
import type { HeadSelection } from "../sav/index.js";
import { quoteList } from "./errors.js";

export const RANDOM_WEIGHTS_NOTE =
  `This task uses '${TINY_MODEL_ID}', a generated model with random weights: its labels reflect pixel statistics ` +
  "through random projections, not meaning. Use a real model (e.g. smolvlm-256m-instruct) for real classification.";

/** Rounds a score for display; results carry 4 decimals unless told otherwise. */
export function round(value: number, digits = 4): number {
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale;
}

/** Sizes as the limits are configured: binary megabytes, e.g. "20 MB". */
export function formatMegabytes(bytes: number): string {
  return `${Math.round(bytes / (1024 * 1024))} MB`;
}

/** Characters of a description or prompt shown in a listing; get_task shows them whole. */
export const LISTING_TEXT_CHARS = 300;
/** Characters of any one text in a detailed answer (far above what create_sav_task accepts). */
export const DETAIL_TEXT_CHARS = 8000;

/** A text cut to `max` characters, saying how long it was: a listing must stay small whatever was stored. */
export function cutText(text: string, max: number): string;
export function cutText(text: string | null, max: number): string | null;
export function cutText(text: string | null, max: number): string | null {
  if (text === null || text.length <= max) return text;
  return `${text.slice(0, max)}… (cut: ${text.length} characters)`;
}

export function withoutFinalPeriod(text: string): string {
  return text.replace(/\.\s*$/, "");
}

/** "safe: 3, unsafe: 2", or "none". */
export function describeCounts(counts: Record<string, number>): string {
  const entries = Object.entries(counts);
  return entries.length === 0 ? "none" : entries.map(([label, n]) => `${label}: ${n}`).join(", ");
}

/** Examples each label needs before a classifier can be built with this head selection. */
export function minimumPerLabel(selection: HeadSelection): number {
  return selection === "leave-one-out" ? 2 : 1;
}

export interface Readiness {
  ready: boolean;
  nextStep: string;
}

/** Whether a task can classify, and the one thing to do next with it. */
export function readiness(task: { labels: string[] | null; selection: HeadSelection }, counts: Record<string, number>): Readiness {
  const exampleCount = Object.values(counts).reduce((a, b) => a + b, 0);
  const minimum = minimumPerLabel(task.selection);
  const withExamples = Object.entries(counts).filter(([, n]) => n > 0);
  const short = withExamples.filter(([, n]) => n < minimum).map(([label]) => label);
  const ready = withExamples.length >= 2 && short.length === 0;
  let nextStep: string;
  if (exampleCount === 0) {
    nextStep =
      "Add labelled examples with add_examples: at least one image for each of two or more labels" +
      (task.labels ? ` (${quoteList(task.labels)})` : "") +
      "; 5-20 per label gives better results.";
  } else if (withExamples.length < 2) {
    const missing = task.labels ? task.labels.filter((l) => !(l in counts)) : [];
    nextStep =
      `Add examples of at least one more label with add_examples (only '${withExamples[0]![0]}' has examples` +
      (missing.length ? `; missing: ${quoteList(missing)}` : "") +
      ").";
  } else if (short.length > 0) {
    nextStep = `Head selection 'leave-one-out' needs ${minimum} examples per label; add more examples of ${quoteList(short)}.`;
  } else {
    nextStep = "Classify images with classify_image; measure accuracy with evaluate_task.";
  }
  return { ready, nextStep };
}

/** Advice after a cross-validation: what would make the task (or its estimate) better. */
export function recommendations(
  task: { randomWeights: boolean },
  counts: Record<string, number>,
  accuracy: number,
  byHeadCount: { heads: number; accuracy: number }[],
  k: number,
): string[] {
  const advice: string[] = [];
  const sizes = Object.entries(counts);
  const smallest = sizes.reduce((min, entry) => (entry[1] < min[1] ? entry : min), sizes[0]!);
  const largest = sizes.reduce((max, entry) => (entry[1] > max[1] ? entry : max), sizes[0]!);
  if (smallest[1] < 5) {
    advice.push(
      `Few examples: label '${smallest[0]}' has only ${smallest[1]}. SAVs typically use 5-20 examples per label; with fewer, this accuracy estimate is rough. Add examples with add_examples.`,
    );
  }
  if (largest[1] >= 3 * smallest[1]) {
    advice.push(`Unbalanced labels ('${largest[0]}': ${largest[1]}, '${smallest[0]}': ${smallest[1]}): add examples of the smaller labels.`);
  }
  const chance = 1 / sizes.length;
  if (accuracy <= chance + 0.1) {
    advice.push(
      "Accuracy is near chance: check that the labels are right, that the prompt asks the question that separates them, and that the images differ in that respect.",
    );
  }
  const best = byHeadCount.reduce((a, b) => (b.accuracy > a.accuracy ? b : a), byHeadCount[0]!);
  const current = byHeadCount.find((h) => h.heads === k);
  if (best && current && best.heads !== k && best.accuracy >= current.accuracy + 0.05) {
    advice.push(
      `${best.heads} heads scored ${round(best.accuracy, 3)} against ${round(current.accuracy, 3)} with the task's ${k}; check with evaluate_task with heads: ${best.heads}, then apply it with update_task with heads: ${best.heads}.`,
    );
  }
  if (task.randomWeights) advice.push(RANDOM_WEIGHTS_NOTE);
  return advice;
}

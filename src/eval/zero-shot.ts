/**
 * The zero-shot baseline (the paper's ZS row): the model answers the task prompt by greedy generation and the
 * answer is matched to the labels. Matching, on normalised text (Unicode NFKC, lower case, punctuation and
 * surrounding quotes removed, whitespace collapsed, a leading "answer:" dropped):
 * 1. the answer equals a label, or an `answerMap` key (e.g. yes → harmful), exactly;
 * 2. else the answer begins with a label (or key) as whole words, the longest such;
 * 3. else exactly one label (or key) appears in it as whole words.
 * Anything else is unmatched and counts as wrong. The reference code used exact match only (rule 1).
 */
import fs from "node:fs/promises";
import type { Generator } from "../model/generate.js";
import { composePromptText } from "../server/prompt-text.js";
import type { DatasetItem } from "./datasets.js";
import type { ZeroShotReport } from "./report.js";
import type { ZeroShotRunner } from "./run-eval.js";

export const DEFAULT_ZERO_SHOT_TOKENS = 16;
const SAMPLE_COUNT = 10;

export function normaliseAnswer(text: string): string {
  return text
    .normalize("NFKC")
    .toLowerCase()
    .replace(/[\p{P}\p{S}]+/gu, " ")
    .replace(/\s+/g, " ")
    .trim()
    .replace(/^answer /, "");
}

function containsWords(haystack: string, needle: string): boolean {
  return needle !== "" && ` ${haystack} `.includes(` ${needle} `);
}

/** The label an answer names, or null; `answerMap` maps extra answers (e.g. "Yes") to labels. */
export function matchAnswer(answer: string, labels: readonly string[], answerMap: Readonly<Record<string, string>> = {}): string | null {
  const normalised = normaliseAnswer(answer);
  const candidates = [
    ...labels.map((label) => ({ key: normaliseAnswer(label), label })),
    ...Object.entries(answerMap).map(([key, label]) => ({ key: normaliseAnswer(key), label })),
  ].filter((c) => c.key !== "");
  const exact = candidates.find((c) => c.key === normalised);
  if (exact) return exact.label;
  const prefixes = candidates.filter((c) => normalised.startsWith(`${c.key} `)).sort((a, b) => b.key.length - a.key.length);
  if (prefixes.length > 0) return prefixes[0]!.label;
  const inside = new Set(candidates.filter((c) => containsWords(normalised, c.key)).map((c) => c.label));
  return inside.size === 1 ? [...inside][0]! : null;
}

export function zeroShotRunner(
  generator: Generator,
  options: { maxNewTokens?: number; answerMap?: Record<string, string> } = {},
): ZeroShotRunner {
  const maxNewTokens = options.maxNewTokens ?? DEFAULT_ZERO_SHOT_TOKENS;
  return {
    async run(items: DatasetItem[], prompt: string, labels: string[], onDone: (done: number) => void): Promise<ZeroShotReport> {
      let correct = 0;
      let unmatched = 0;
      const samples: ZeroShotReport["samples"] = [];
      for (const [index, item] of items.entries()) {
        const images = await Promise.all(item.images.map((file) => fs.readFile(file)));
        const result = await generator.generate({ images, text: composePromptText(prompt, item.text), maxNewTokens });
        const matched = matchAnswer(result.text, labels, options.answerMap);
        if (matched === null) unmatched++;
        if (matched === item.label) correct++;
        if (samples.length < SAMPLE_COUNT) samples.push({ actual: item.label, answer: result.text, matched });
        onDone(index + 1);
      }
      return {
        method: `greedy generation, up to ${maxNewTokens} tokens, unedited decoder; answer matched to labels by normalised text`,
        accuracy: items.length === 0 ? 0 : correct / items.length,
        correct,
        total: items.length,
        unmatched,
        maxNewTokens,
        samples,
      };
    },
  };
}

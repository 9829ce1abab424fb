/**
 * The calibration study behind docs/evaluation.md: on synthetic tasks of rising difficulty, the expected
 * calibration error of the vote share and of the calibrated probability on a held-out test set, and the
 * selective accuracy at a few coverage levels. Pure (no I/O); `tools/calibration-study.ts` prints it.
 */
import {
  buildClassifier,
  calibrationMetrics,
  classify,
  fitCalibration,
  probabilities,
  type ScoredPrediction,
  selectiveAccuracy,
} from "../sav/index.js";
import { syntheticTask } from "./synthetic.js";

export interface CalibrationStudyRow {
  separation: number;
  accuracy: number;
  temperature: number;
  eceShare: number;
  eceProbability: number;
  /** Selective accuracy when keeping the most confident fraction (by calibrated probability). */
  selective: { coverage: number; accuracy: number | null }[];
}

export interface CalibrationStudyOptions {
  separations: number[];
  labels?: number;
  trainPerLabel?: number;
  testPerLabel?: number;
  seed?: number;
  coverages?: number[];
}

const STUDY_SHAPE = { layers: 6, heads: 8, headDim: 16 };

function thresholdForCoverage(predictions: ScoredPrediction[], coverage: number): number {
  const sorted = predictions.map((p) => p.confidence).sort((a, b) => b - a);
  const keep = Math.max(1, Math.round(coverage * sorted.length));
  return sorted[keep - 1]!;
}

export function calibrationStudy(options: CalibrationStudyOptions): CalibrationStudyRow[] {
  const labelCount = options.labels ?? 4;
  const labels = Array.from({ length: labelCount }, (_, i) => `class-${i}`);
  const coverages = options.coverages ?? [1, 0.8, 0.5, 0.2];
  return options.separations.map((separation) => {
    const task = syntheticTask({
      shape: STUDY_SHAPE,
      labels,
      trainPerLabel: options.trainPerLabel ?? 20,
      testPerLabel: options.testPerLabel ?? 100,
      separation,
      seed: options.seed ?? 1,
    });
    const classifier = buildClassifier(task.train, STUDY_SHAPE, { k: 20 });
    const calibration = fitCalibration(classifier, task.train);
    const shares: ScoredPrediction[] = [];
    const probs: ScoredPrediction[] = [];
    for (const example of task.test) {
      const result = classify(classifier, example.vector);
      const correct = result.label === example.label;
      shares.push({ confidence: result.share, correct });
      probs.push({ confidence: probabilities(classifier, calibration, example.vector)[result.label]!, correct });
    }
    return {
      separation,
      accuracy: shares.filter((p) => p.correct).length / shares.length,
      temperature: calibration.temperature,
      eceShare: calibrationMetrics(shares).ece,
      eceProbability: calibrationMetrics(probs).ece,
      selective: coverages.map((coverage) => {
        const result = selectiveAccuracy(probs, thresholdForCoverage(probs, coverage));
        return { coverage: result.coverage, accuracy: result.selectiveAccuracy };
      }),
    };
  });
}

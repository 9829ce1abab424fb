/** evaluate_task: cross-validation on the stored examples, with advice. */
import { SavError } from "../../sav/index.js";
import { crossValidateOffThread } from "../../sav-workers/off-thread.js";
import type { TaskRecord } from "../../store/index.js";
import { ToolError } from "../errors.js";
import type { EvaluateInput, EvaluateResult } from "../schemas/evaluate.js";
import { describeCounts, RANDOM_WEIGHTS_NOTE, recommendations, round, withoutFinalPeriod } from "../wording.js";
import { calibrationReport } from "./confidence.js";
import { type CallContext, type ServiceContext, throwIfCancelled } from "./context.js";

/** Head counts whose cross-validated accuracy is reported: a ladder plus the task's own k and all heads. */
function headCountsFor(task: TaskRecord, k: number): number[] {
  const all = task.shape.layers * task.shape.heads;
  return [...new Set([1, 5, 10, 20, 40, 80, k, all].map((count) => Math.min(count, all)))].sort((a, b) => a - b);
}

async function calibrationOrNull(...args: Parameters<typeof calibrationReport>): Promise<Awaited<ReturnType<typeof calibrationReport>> | null> {
  try {
    return await calibrationReport(...args);
  } catch (error) {
    // Cross-validation succeeded, so only a degenerate case (e.g. one example of a label) lands here.
    if (error instanceof SavError) return null;
    throw error;
  }
}

export async function evaluate(service: ServiceContext, input: EvaluateInput, ctx: CallContext = {}): Promise<EvaluateResult> {
  const task = await service.requireTask(input.task);
  const { examples } = await service.store.loadTrainingSet(task.id);
  const counts = await service.store.labelCounts(task.id);
  const folds = input.folds ?? "leave-one-out";
  const seed = input.seed ?? 0;
  const k = input.heads ?? task.k;
  if (typeof folds === "number" && folds > examples.length) {
    throw new ToolError(
      `${folds}-fold cross-validation needs at least ${folds} examples; task '${task.name}' has ${examples.length}. Use fewer folds or folds: "leave-one-out".`,
    );
  }
  let report;
  try {
    report = await crossValidateOffThread(
      examples.map((e) => ({ vector: e.vectors, label: e.label })),
      task.shape,
      { folds, seed, k, selection: task.selection, headCounts: headCountsFor(task, k) },
      { signal: ctx.signal },
    );
  } catch (error) {
    throwIfCancelled(ctx.signal);
    if (error instanceof SavError) {
      throw new ToolError(
        `Task '${task.name}' cannot be evaluated yet: ${withoutFinalPeriod(error.message)}. Examples per label now: ${describeCounts(counts)}. ` +
          "Add examples with add_examples" +
          (typeof folds === "number" ? ", or use fewer folds / folds: \"leave-one-out\"." : "."),
      );
    }
    throw error;
  }
  const misclassified = report.predictions
    .filter((p) => p.predicted !== p.actual)
    .map((p) => {
      const example = examples[p.index]!;
      return {
        exampleId: example.id,
        label: p.actual,
        predicted: p.predicted,
        share: round(p.share),
        ...(example.sources ? { sources: example.sources } : {}),
      };
    });
  const effectiveK = Math.min(k, task.shape.layers * task.shape.heads);
  const calibration = await calibrationOrNull(task, examples, k, input.minConfidence ?? task.minConfidence ?? undefined, ctx.signal);
  throwIfCancelled(ctx.signal);
  return {
    task: task.name,
    method: folds === "leave-one-out" ? "leave-one-out cross-validation" : `stratified ${folds}-fold cross-validation (seed ${seed})`,
    folds,
    seed,
    heads: effectiveK,
    selection: task.selection,
    exampleCount: examples.length,
    accuracy: round(report.accuracy),
    correct: report.correct,
    total: report.total,
    labels: report.labels,
    perClass: report.perClass.map((c) => ({ label: c.label, precision: round(c.precision), recall: round(c.recall), f1: round(c.f1), support: c.support })),
    confusion: report.confusion,
    accuracyByHeadCount: report.accuracyByHeadCount.map((h) => ({ heads: h.heads, accuracy: round(h.accuracy) })),
    misclassified,
    recommendations: recommendations(task, counts, report.accuracy, report.accuracyByHeadCount, effectiveK),
    calibration,
    ...(task.randomWeights ? { note: RANDOM_WEIGHTS_NOTE } : {}),
  };
}

/** The `sav-mcp eval` report: its schema (the JSON written by --json) and its Markdown rendering. */
import { z } from "zod";
import { accuracyByHeadCountSchema, calibrationBinSchema, perClassSchema, selectiveSchema } from "../report/metric-schemas.js";


export const zeroShotSchema = z.object({
  method: z.string(),
  accuracy: z.number(),
  correct: z.number().int(),
  total: z.number().int(),
  /** Answers that matched no label (counted wrong). */
  unmatched: z.number().int(),
  maxNewTokens: z.number().int(),
  samples: z.array(z.object({ actual: z.string(), answer: z.string(), matched: z.string().nullable() })),
});

export const evalReportSchema = z.object({
  format: z.literal("sav-eval/1"),
  /** SAV accuracy on the test set. */
  accuracy: z.number(),
  correct: z.number().int(),
  total: z.number().int(),
  model: z.object({ id: z.string(), fingerprint: z.string(), randomWeights: z.boolean() }),
  dataset: z.object({
    train: z.string(),
    test: z.string().nullable(),
    split: z.object({ perLabel: z.number().int(), seed: z.number().int() }).nullable(),
    trainCount: z.number().int(),
    testCount: z.number().int(),
  }),
  prompt: z.string(),
  heads: z.number().int(),
  selection: z.enum(["in-sample", "leave-one-out"]),
  labels: z.array(z.string()),
  perClass: perClassSchema,
  /** confusion[actual][predicted] in `labels` order. */
  confusion: z.array(z.array(z.number().int())),
  accuracyByHeadCount: accuracyByHeadCountSchema,
  selectedHeads: z.array(z.object({ layer: z.number().int(), head: z.number().int(), score: z.number(), margin: z.number() })),
  calibration: z.object({
    /** Null when a label had one training example (then `probability` repeats the share). */
    temperature: z.number().nullable(),
    share: z.object({ ece: z.number(), bins: z.array(calibrationBinSchema) }),
    probability: z.object({ ece: z.number(), bins: z.array(calibrationBinSchema) }),
    atThreshold: selectiveSchema.nullable(),
    suggestedThreshold: selectiveSchema.extend({ targetAccuracy: z.number() }).nullable(),
  }),
  zeroShot: zeroShotSchema.nullable(),
  timings: z.object({
    loadModelMs: z.number(),
    extractTrainMs: z.number(),
    extractTestMs: z.number(),
    perImageMs: z.number(),
    buildMs: z.number(),
    zeroShotMs: z.number().nullable(),
    totalMs: z.number(),
  }),
  task: z.string().nullable(),
  plot: z.string().nullable(),
  skipped: z.array(z.object({ set: z.enum(["train", "test"]), image: z.string(), reason: z.string() })),
  notes: z.array(z.string()),
});
export type EvalReport = z.infer<typeof evalReportSchema>;
export type ZeroShotReport = z.infer<typeof zeroShotSchema>;

const percent = (x: number | null): string => (x === null ? "-" : `${(100 * x).toFixed(1)} %`);

export function reportMarkdown(report: EvalReport): string {
  const lines: string[] = [];
  lines.push(`# SAV evaluation: ${report.model.id}`, "");
  lines.push(`- train: ${report.dataset.train} (${report.dataset.trainCount} examples)`);
  lines.push(
    `- test: ${report.dataset.test ?? `seeded split, ${report.dataset.split?.perLabel} per label train (seed ${report.dataset.split?.seed})`} (${report.dataset.testCount} examples)`,
  );
  lines.push(`- prompt: ${JSON.stringify(report.prompt)}; ${report.heads} heads, selection ${report.selection}`);
  if (report.task) lines.push(`- stored as task '${report.task}'`);
  lines.push("", `**SAV accuracy: ${percent(report.accuracy)}** (${report.correct} / ${report.total})`);
  if (report.zeroShot) {
    lines.push(
      `**Zero-shot accuracy: ${percent(report.zeroShot.accuracy)}** (${report.zeroShot.correct} / ${report.zeroShot.total}; ` +
        `${report.zeroShot.unmatched} answers matched no label; ${report.zeroShot.method})`,
    );
  }
  lines.push("", "| label | precision | recall | F1 | support |", "|---|---:|---:|---:|---:|");
  for (const c of report.perClass) {
    lines.push(`| ${c.label} | ${percent(c.precision)} | ${percent(c.recall)} | ${percent(c.f1)} | ${c.support} |`);
  }
  lines.push("", "Confusion (rows actual, columns predicted):", "");
  lines.push(`| | ${report.labels.join(" | ")} |`, `|---|${report.labels.map(() => "---:").join("|")}|`);
  report.confusion.forEach((row, i) => lines.push(`| ${report.labels[i]} | ${row.join(" | ")} |`));
  lines.push("", "| heads | accuracy |", "|---:|---:|");
  for (const h of report.accuracyByHeadCount) lines.push(`| ${h.heads} | ${percent(h.accuracy)} |`);
  const c = report.calibration;
  lines.push(
    "",
    `Calibration (test set): ECE of the vote share ${c.share.ece.toFixed(3)}, of the calibrated probability ` +
      `${c.probability.ece.toFixed(3)} (temperature ${c.temperature === null ? "not fitted" : c.temperature.toPrecision(3)}).`,
  );
  if (c.atThreshold) {
    lines.push(
      `At minConfidence ${c.atThreshold.threshold}: coverage ${percent(c.atThreshold.coverage)}, selective accuracy ${percent(c.atThreshold.selectiveAccuracy)}.`,
    );
  }
  lines.push(
    c.suggestedThreshold
      ? `Suggested minConfidence ${c.suggestedThreshold.threshold.toPrecision(3)}: coverage ${percent(c.suggestedThreshold.coverage)}, ` +
          `selective accuracy ${percent(c.suggestedThreshold.selectiveAccuracy)} (target ${percent(c.suggestedThreshold.targetAccuracy)}).`
      : `No threshold reaches the target selective accuracy on this test set.`,
  );
  lines.push("", `Selected heads (layer.head): ${report.selectedHeads.map((h) => `${h.layer}.${h.head}`).join(", ")}`);
  const t = report.timings;
  lines.push(
    "",
    `Timings: model load ${Math.round(t.loadModelMs)} ms, train extraction ${Math.round(t.extractTrainMs)} ms, ` +
      `test extraction ${Math.round(t.extractTestMs)} ms (${Math.round(t.perImageMs)} ms per example), ` +
      `build ${Math.round(t.buildMs)} ms${t.zeroShotMs === null ? "" : `, zero-shot ${Math.round(t.zeroShotMs)} ms`}, total ${Math.round(t.totalMs)} ms`,
  );
  if (report.plot) lines.push(`Head map: ${report.plot}`);
  if (report.skipped.length > 0) {
    lines.push("", `Skipped ${report.skipped.length} examples:`);
    for (const s of report.skipped.slice(0, 20)) lines.push(`- ${s.set} ${s.image}: ${s.reason}`);
  }
  for (const note of report.notes) lines.push("", `Note: ${note}`);
  return `${lines.join("\n")}\n`;
}

/**
 * Prints the calibration study (docs/evaluation.md) as a Markdown table: synthetic tasks, 4 labels, 20 training
 * and 100 test examples per label, 6x8 heads of 16 dims, k = 20. Usage: npx tsx tools/calibration-study.ts
 */
import { calibrationStudy } from "../src/eval/calibration-study.js";

const rows = calibrationStudy({ separations: [0.05, 0.08, 0.1, 0.15, 0.2, 0.4] });
const percent = (x: number | null): string => (x === null ? "-" : (100 * x).toFixed(1));
console.log("| separation | accuracy % | T | ECE vote share | ECE calibrated | sel. acc. @80% | @50% | @20% |");
console.log("|---:|---:|---:|---:|---:|---:|---:|---:|");
for (const row of rows) {
  const [, at80, at50, at20] = row.selective;
  console.log(
    `| ${row.separation} | ${percent(row.accuracy)} | ${row.temperature.toPrecision(2)} | ${row.eceShare.toFixed(3)} | ` +
      `${row.eceProbability.toFixed(3)} | ${percent(at80!.accuracy)} (${percent(at80!.coverage)}) | ` +
      `${percent(at50!.accuracy)} (${percent(at50!.coverage)}) | ${percent(at20!.accuracy)} (${percent(at20!.coverage)}) |`,
  );
}

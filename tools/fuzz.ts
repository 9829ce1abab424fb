/**
 * The long fuzz run: the same property test as CI (test/fuzz/tools.test.ts) with many more cases.
 * Usage: npm run fuzz [-- runs [seed]]   (default 5000 runs, a seed from the clock, printed with the figures)
 */
import { spawnSync } from "node:child_process";

const runs = process.argv[2] ?? "5000";
const seed = process.argv[3] ?? String(Date.now() % 2 ** 31);
const result = spawnSync("npx", ["vitest", "run", "test/fuzz", "--testTimeout", String(24 * 3600 * 1000)], {
  stdio: "inherit",
  env: { ...process.env, FUZZ_RUNS: runs, FUZZ_SEED: seed },
});
process.exit(result.status ?? 1);

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeTempDir } from "../support/temp-dir.js";
import { fuzzTools, startFuzzWorld, type FuzzWorld } from "./tool-fuzz.js";

/** CI runs a short fixed-seed sample; `npm run fuzz` sets FUZZ_RUNS (and FUZZ_SEED) for a long run. */
const RUNS = Number(process.env.FUZZ_RUNS ?? 300);
const SEED = Number(process.env.FUZZ_SEED ?? 20261202);

describe("fuzzing every tool with generated and mutated arguments", () => {
  let temp: ReturnType<typeof makeTempDir>;
  let world: FuzzWorld;

  beforeAll(async () => {
    temp = makeTempDir("sav-fuzz-");
    world = await startFuzzWorld(temp.dir);
  });
  afterAll(async () => {
    await world?.harness.close();
    temp?.cleanup();
  });

  it(`answers ${RUNS} calls (seed ${SEED}) without crash, hang, oversized reply, unclear refusal or a refused call changing the store`, async () => {
    const figures = await fuzzTools(world, { numRuns: RUNS, seed: SEED });
    process.stderr.write(
      `fuzz: ${figures.calls} calls (${figures.successes} succeeded, ${figures.refusals} refused) in ${(figures.elapsedMs / 1000).toFixed(1)} s, seed ${SEED}; ${figures.failures.length} failures\n`,
    );
    expect(figures.failures.slice(0, 10)).toEqual([]);
    expect(figures.calls).toBe(RUNS);
    // Both kinds of answers occurred: the generators reach the tools' real work, not only the schemas.
    expect(figures.successes).toBeGreaterThan(0);
    expect(figures.refusals).toBeGreaterThan(0);
    const after = await world.harness.client.callTool({ name: "list_tasks", arguments: {} });
    expect(after.isError).toBeFalsy();
  });
});

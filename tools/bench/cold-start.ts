/**
 * First-call latency (issue 15 "also measure"): model load and first extractions in a fresh process, cold (a
 * model directory without any edited graph cached, so the first load edits and writes them) and warm (the same
 * directory again), for the full-size SmolVLM-256M-shaped model in int8 and fp32.
 *
 *   npm run bench -- cold-start
 */
import { linkSync, mkdirSync, readdirSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import type { ColdStartChildConfig, ColdStartChildResult } from "./cold-start-child.js";
import { BENCH_MODEL_DIR, ensureBenchModel, loadNote, log, mb, ms, ratio, ROOT, runChild, runIfMain } from "./common.js";

const CHILD = "tools/bench/cold-start-child.ts";
const IMAGES = 3;
const WARM_RUNS = 2;
const CASES: { name: string; dtypes: Record<string, string> }[] = [
  { name: "int8", dtypes: { vision_encoder: "int8", embed_tokens: "int8", decoder_model_merged: "int8" } },
  { name: "fp32", dtypes: {} },
];

/** Files the runner writes beside the graphs (edited graphs, their temporary files): left out of a cold copy. */
const isDerived = (name: string): boolean => name.includes(".sav-") || name.endsWith(".tmp");

/** The bench model's files hard-linked into a new directory without any edited graph: a cold first load. */
function coldCopy(target: string): void {
  rmSync(target, { recursive: true, force: true });
  const copy = (from: string, to: string): void => {
    mkdirSync(to, { recursive: true });
    for (const entry of readdirSync(from, { withFileTypes: true })) {
      if (entry.isDirectory()) copy(path.join(from, entry.name), path.join(to, entry.name));
      else if (!isDerived(entry.name)) linkSync(path.join(from, entry.name), path.join(to, entry.name));
    }
  };
  copy(BENCH_MODEL_DIR, target);
}

interface Row {
  name: string;
  run: string;
  result: ColdStartChildResult;
}

export async function runColdStartBenchmark(): Promise<string> {
  await ensureBenchModel();
  const loadBefore = os.loadavg();
  const rows: Row[] = [];
  let seed = 90_000;
  for (const benchCase of CASES) {
    const dir = path.join(ROOT, "models", "generated", `cold-start-${benchCase.name}`);
    coldCopy(dir);
    try {
      for (let run = 0; run <= WARM_RUNS; run++) {
        const config: ColdStartChildConfig = { dir, dtypes: benchCase.dtypes, images: IMAGES, seed };
        seed += IMAGES;
        const result = await runChild<ColdStartChildResult>(CHILD, config);
        const label = run === 0 ? "cold (nothing cached)" : `warm ${run}`;
        log(`[cold-start] ${benchCase.name} ${label}: create ${ms(result.createMs)} ms`);
        rows.push({ name: benchCase.name, run: label, result });
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  const loadAfter = os.loadavg();
  const coldOverWarm = (name: string): string => {
    const of = rows.filter((row) => row.name === name);
    const first = (row: Row): number => row.result.createMs + row.result.extractMs[0]!;
    return ratio(first(of[0]!) / Math.min(...of.slice(1).map(first)));
  };
  return [
    "## First call: model load cold and warm (`npm run bench -- cold-start`)",
    "",
    `Each run is a new process that creates the runner (loads the vision, embedding and decoder graphs; the decoder is edited to output head vectors) and extracts ${IMAGES} new 640×480 images one at a time. ` +
      "Cold: a model directory (the bench model's files hard-linked) with no edited graph cached, so the first load edits the graphs and writes them beside the originals; warm: the same directory again. " +
      "The operating system's file cache holds the model files in both cases (they were just generated or read), so this measures the project's own first-call work, not disk reads.",
    "",
    "| dtypes | run | load (ms) | 1st extraction (ms) | 2nd (ms) | 3rd (ms) | peak RSS |",
    "|---|---|---:|---:|---:|---:|---:|",
    ...rows.map(
      (row) =>
        `| ${row.name} | ${row.run} | ${ms(row.result.createMs)} | ${row.result.extractMs.map(ms).join(" | ")} | ${mb(row.result.peakRssBytes)} |`,
    ),
    "",
    `Cold first call (load + first extraction) over the fastest warm one: int8 ${coldOverWarm("int8")}×, fp32 ${coldOverWarm("fp32")}×.`,
    "",
    loadNote(loadBefore, loadAfter),
    "",
  ].join("\n");
}

runIfMain(import.meta.url, runColdStartBenchmark);

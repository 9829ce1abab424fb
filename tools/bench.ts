// `npm run bench -- [section ...]`: runs benchmark sections and writes their Markdown into BENCHMARKS.md.
// Each section is replaced in place between its markers, so one section can be re-run alone.
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

type Section = () => Promise<string>;

const sections: Record<string, () => Promise<Section>> = {
  sav: async () => (await import("./bench/sav.js")).runSavBenchmark,
  cv: async () => (await import("./bench/cross-validation.js")).runCrossValidationBenchmark,
  runner: async () => (await import("./bench/runner.js")).runRunnerBenchmark,
  peer: async () => (await import("./bench/peer.js")).runPeerBenchmark,
  e2e: async () => (await import("./bench/e2e.js")).runEndToEndBenchmark,
  http: async () => (await import("./bench/http.js")).runHttpBenchmark,
  "http-full": async () => {
    const { runHttpBenchmark } = await import("./bench/http.js");
    return () => runHttpBenchmark({ fullModel: true });
  },
  qwen2vl: async () => (await import("./bench/qwen2vl.js")).runQwen2VLBenchmark,
  llava: async () => (await import("./bench/llava.js")).runLlavaBenchmark,
  vision: async () => (await import("./bench/vision.js")).runVisionBenchmark,
  freeze: async () => (await import("./bench/freeze.js")).runFreezeBenchmark,
  "cold-start": async () => (await import("./bench/cold-start.js")).runColdStartBenchmark,
  preprocess: async () => (await import("./bench/preprocess.js")).runPreprocessBenchmark,
};

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const file = path.join(root, "BENCHMARKS.md");

function header(): string {
  return [
    "# Benchmarks",
    "",
    "Every figure is a median over repeated runs after a warm-up; comparisons are ratios measured in the same run,",
    "because these machines are noisy. Model figures use generated models with random weights: compute cost is the",
    "real model's, the labels are not. Re-run a section with `npm run bench -- <section>`.",
    "",
  ].join("\n");
}

function replaceSection(document: string, name: string, body: string): string {
  const start = `<!-- bench:${name} -->`;
  const end = `<!-- /bench:${name} -->`;
  const block = `${start}\n${body.trim()}\n${end}`;
  const from = document.indexOf(start);
  const to = document.indexOf(end);
  if (from >= 0 && to > from) return document.slice(0, from) + block + document.slice(to + end.length);
  return `${document.trimEnd()}\n\n${block}\n`;
}

async function main(): Promise<void> {
  const requested = process.argv.slice(2).filter((a) => !a.startsWith("-"));
  const names = requested.length === 0 || requested.includes("all") ? Object.keys(sections) : requested;
  const unknown = names.filter((n) => !(n in sections));
  if (unknown.length > 0) {
    console.error(`Unknown benchmark section(s): ${unknown.join(", ")}. Known: ${Object.keys(sections).join(", ")}, all.`);
    process.exit(2);
  }
  let document = existsSync(file) ? readFileSync(file, "utf8") : header();
  for (const name of names) {
    console.error(`[bench] ${name} …`);
    const run = await sections[name]();
    const loadBefore = os.loadavg()[0]!;
    const body = await run();
    // The machine's other load, so that a contended run can be recognised (1-minute load average; cores below).
    const load = `load average ${loadBefore.toFixed(1)} at the start, ${os.loadavg()[0]!.toFixed(1)} at the end`;
    const stamp = `_Measured ${new Date().toISOString().slice(0, 10)} on ${os.cpus().length} cores (${os.cpus()[0]?.model ?? "unknown CPU"}), Node ${process.version}, ${load}, by \`npm run bench -- ${name}\`._`;
    document = replaceSection(document, name, `${body.trim()}\n\n${stamp}`);
    writeFileSync(file, document);
    console.error(`[bench] ${name} written to BENCHMARKS.md`);
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});

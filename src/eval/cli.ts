/** `sav-mcp eval`: the command line around runEval (datasets, model, progress bar, report files). */
import type { GeneratorsFor } from "../model/registry/cli.js";
import fs from "node:fs/promises";
import path from "node:path";
import { performance } from "node:perf_hooks";
import cliProgress from "cli-progress";
import { type Command, InvalidArgumentError } from "commander";
import { loadConfig } from "../config.js";
import { mulberry32 } from "../sav/folds.js";
import { createModelProvider } from "../server/model-provider.js";
import { SavStore } from "../store/index.js";
import { loadDataset, splitPerLabel } from "./datasets.js";
import { reportMarkdown, type EvalReport } from "./report.js";
import { runEval } from "./run-eval.js";
import { DEFAULT_ZERO_SHOT_TOKENS, zeroShotRunner } from "./zero-shot.js";
import { createGenerator, type Generator } from "../model/generate.js";
import { checkReportText, runModelsCheck } from "./models-check.js";

export const DEFAULT_PER_LABEL = 20;

export interface EvalFlags {
  train: string;
  test?: string;
  json?: string;
  plot?: string;
  prompt?: string;
  perLabel: number;
  seed: number;
  heads: number;
  selection: "in-sample" | "leave-one-out";
  minConfidence?: number;
  task?: string;
  imageRoot?: string;
  zeroShot: boolean;
  zeroShotTokens: number;
  /** "Yes=harmful,No=unharmful": answers that stand for labels in the zero-shot baseline. */
  zeroShotMap?: Record<string, string>;
}

export interface EvalGlobals {
  dataDir?: string;
  model?: string;
  modelDir?: string;
  modelsDir?: string;
}

export interface EvalIo {
  stdout: (text: string) => void;
  stderr: NodeJS.WriteStream;
  env?: NodeJS.ProcessEnv;
}

function progressReporter(stream: NodeJS.WriteStream): {
  update: (stage: string, done: number, total: number) => void;
  stop: () => void;
} {
  if (!stream.isTTY) return { update: () => undefined, stop: () => undefined };
  const bar = new cliProgress.SingleBar(
    { stream, format: "{stage} {bar} {value}/{total} | ETA {eta_formatted}", hideCursor: true, fps: 5 },
    cliProgress.Presets.shades_classic,
  );
  let current = "";
  return {
    update(stage, done, total) {
      if (stage !== current) {
        if (current !== "") bar.stop();
        current = stage;
        bar.start(total, 0, { stage: stage.padEnd(9) });
      }
      bar.update(done, { stage: stage.padEnd(9) });
    },
    stop: () => {
      if (current !== "") bar.stop();
    },
  };
}

export async function evalCommand(flags: EvalFlags, globals: EvalGlobals, io: EvalIo): Promise<EvalReport> {
  const resolvedDir = (dir: string | undefined) => (dir === undefined ? undefined : path.resolve(dir));
  const config = loadConfig(io.env ?? process.env, {
    dataDir: resolvedDir(globals.dataDir),
    defaultModel: globals.model,
    modelDir: resolvedDir(globals.modelDir),
    modelsDir: resolvedDir(globals.modelsDir),
  });
  const train = await loadDataset(flags.train, { imageRoot: flags.imageRoot });
  const test = flags.test ? await loadDataset(flags.test, { imageRoot: flags.imageRoot }) : null;
  let trainItems = train.items;
  let testItems = test?.items ?? [];
  let split: { perLabel: number; seed: number } | null = null;
  if (!test) {
    const divided = splitPerLabel(train.items, flags.perLabel, mulberry32(flags.seed));
    if (divided.trainOnlyLabels.length > 0) {
      throw new Error(
        `labels ${divided.trainOnlyLabels.join(", ")} have no more than ${flags.perLabel} examples, so none is left to test on; ` +
          "lower --per-label or give --test",
      );
    }
    ({ train: trainItems, test: testItems } = divided);
    split = { perLabel: flags.perLabel, seed: flags.seed };
  }

  const models = createModelProvider({ config });
  const bar = progressReporter(io.stderr);
  let store: SavStore | undefined;
  let generator: Generator | undefined;
  try {
    const modelId = config.defaultModel;
    const t = performance.now();
    const extractor = await models.extractor(modelId);
    const loadModelMs = performance.now() - t;
    if (flags.task) {
      store = new SavStore({ dataDir: config.dataDir });
      if (store.getTask(flags.task)) throw new Error(`a task named '${flags.task}' already exists in ${config.dataDir}; choose another --task name`);
    }
    if (flags.zeroShot) generator = await createGenerator({ dir: extractor.info.dir, dtypes: extractor.info.dtypes });
    const zeroShot = generator ? zeroShotRunner(generator, { maxNewTokens: flags.zeroShotTokens, answerMap: flags.zeroShotMap }) : undefined;
    const report = await runEval({
      train,
      test,
      split,
      trainItems,
      testItems,
      prompt: flags.prompt,
      heads: flags.heads,
      selection: flags.selection,
      minConfidence: flags.minConfidence,
      extractor,
      loadModelMs,
      store: store && flags.task ? { store, taskName: flags.task } : undefined,
      plotDir: flags.plot ? path.resolve(flags.plot) : undefined,
      zeroShot,
      progress: bar.update,
    });
    bar.stop();
    if (flags.json) await fs.writeFile(path.resolve(flags.json), `${JSON.stringify(report, null, 2)}\n`);
    io.stdout(reportMarkdown(report));
    return report;
  } finally {
    bar.stop();
    store?.close();
    await generator?.close();
    await models.close();
  }
}

function positiveInteger(value: string): number {
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 1) throw new InvalidArgumentError("expected a positive integer");
  return parsed;
}

function integer(value: string): number {
  const parsed = Number(value);
  if (!Number.isSafeInteger(parsed)) throw new InvalidArgumentError("expected an integer");
  return parsed;
}

function probability(value: string): number {
  const parsed = Number(value);
  if (!(parsed >= 0 && parsed <= 1)) throw new InvalidArgumentError("expected a number from 0 to 1");
  return parsed;
}

function selection(value: string): "in-sample" | "leave-one-out" {
  if (value !== "in-sample" && value !== "leave-one-out") throw new InvalidArgumentError('expected "in-sample" or "leave-one-out"');
  return value;
}

function answerMap(value: string): Record<string, string> {
  const entries = value.split(",").map((pair) => pair.split("="));
  if (entries.some((e) => e.length !== 2 || e[0]!.trim() === "" || e[1]!.trim() === "")) {
    throw new InvalidArgumentError('expected answer=label pairs separated by commas, e.g. "Yes=harmful,No=unharmful"');
  }
  return Object.fromEntries(entries.map(([answer, label]) => [answer!.trim(), label!.trim()]));
}

export function registerEvalCommand(program: Command): void {
  program
    .command("eval")
    .description("the SAV paper's protocol on a dataset: accuracy, per-class metrics, head counts, calibration, zero-shot baseline")
    .requiredOption("--train <path>", "training set: ImageFolder directory, .csv/.jsonl manifest or SAVs reference .json")
    .option("--test <path>", "test set (same formats); default a seeded split of --train")
    .option("--per-label <n>", "training examples per label in the seeded split (the paper: 20)", positiveInteger, DEFAULT_PER_LABEL)
    .option("--seed <n>", "seed of the split", integer, 0)
    .option("--heads <n>", "heads kept (the paper: 20)", positiveInteger, 20)
    .option("--selection <how>", "head scoring: in-sample (the paper) or leave-one-out", selection, "in-sample")
    .option("--prompt <text>", "task prompt; {text} takes each row's text (default: the reference template for the file's text field)")
    .option("--min-confidence <p>", "also report coverage and selective accuracy at this calibrated probability", probability)
    .option("--task <name>", "store the training examples as a task of this name (served afterwards); default nothing is stored")
    .option("--image-root <dir>", "resolve manifest image paths here (and re-root absolute paths that do not exist)")
    .option("--json <file>", "write the report as JSON")
    .option("--plot <dir>", "write the head map (head-map.png) into this directory")
    .option("--no-zero-shot", "skip the zero-shot (greedy generation) baseline")
    .option("--zero-shot-tokens <n>", "most tokens generated per zero-shot answer", positiveInteger, DEFAULT_ZERO_SHOT_TOKENS)
    .option("--zero-shot-map <pairs>", 'answers standing for labels, e.g. "Yes=harmful,No=unharmful"', answerMap)
    .action(async (flags: EvalFlags, command: Command) => {
      const globals = command.optsWithGlobals<EvalGlobals>();
      try {
        await evalCommand(flags, globals, {
          stdout: (text) => process.stdout.write(text),
          stderr: process.stderr,
        });
      } catch (error) {
        process.stderr.write(`sav-mcp eval: ${error instanceof Error ? error.message : String(error)}\n`);
        process.exitCode = 1;
      }
    });
}

/** Adds `check` to the `models` command (registered by the registry's CLI) and, when absent, the command itself. */
export function registerModelsCheckCommand(program: Command, generators: GeneratorsFor = () => ({})): void {
  const models = program.commands.find((c) => c.name() === "models") ?? program.command("models");
  models
    .command("check")
    .description("first-run self-check: files, decoder edit, one extraction, head-vector sanity, a caption; prints a verdict")
    .argument("<id>", "model id (see `models list`)")
    .option("--threads <n>", "ONNX Runtime threads (default: all cores)", positiveInteger)
    .option("--json", "print the checklist as JSON")
    .action(async (id: string, flags: { threads?: number; json?: boolean }, command: Command) => {
      const globals = command.optsWithGlobals<EvalGlobals>();
      const resolvedDir = (dir: string | undefined) => (dir === undefined ? undefined : path.resolve(dir));
      const config = loadConfig(process.env, { modelDir: resolvedDir(globals.modelDir), modelsDir: resolvedDir(globals.modelsDir), defaultModel: globals.model });
      const report = await runModelsCheck(
        id,
        { modelsDir: config.modelsDir, modelDir: config.modelDir, defaultModel: config.defaultModel, generators: generators(config.modelsDir) },
        { threads: flags.threads },
      );
      process.stdout.write(flags.json ? `${JSON.stringify(report, null, 2)}\n` : checkReportText(report));
      if (report.verdict === "fail") process.exitCode = 1;
    });
}

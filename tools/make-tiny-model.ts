/**
 * Generate a random-weight SmolVLM model in the published ONNX layout.
 *
 *   npx tsx tools/make-tiny-model.ts [--preset tiny|smolvlm-256m] [--out DIR] [--seed N] [--variants fp32,q4,int8]
 *
 * Defaults: tiny preset into models/tiny-smolvlm; the full-size preset into
 * models/generated/smolvlm-256m-shaped. Progress goes to stderr; the output directory is printed on
 * stdout at the end.
 */
import path from "node:path";
import { Command, InvalidArgumentError } from "commander";
import { ALL_VARIANTS, generateModel, type TinyPreset, type TinyVariant } from "../src/model/families/idefics3/tiny/index.js";
import { packageRoot } from "../src/model/package-root.js";
import { isPreset } from "../src/model/families/idefics3/tiny/presets.js";

function parsePreset(value: string): TinyPreset {
  if (!isPreset(value)) throw new InvalidArgumentError("expected tiny or smolvlm-256m");
  return value;
}

function parseSeed(value: string): number {
  const seed = Number(value);
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) throw new InvalidArgumentError("expected an integer in 0..4294967295");
  return seed;
}

function parseVariants(value: string): TinyVariant[] {
  const variants = value.split(",").map((v) => v.trim()).filter((v) => v.length > 0);
  for (const v of variants) {
    if (!(ALL_VARIANTS as readonly string[]).includes(v)) throw new InvalidArgumentError(`unknown variant "${v}" (expected ${ALL_VARIANTS.join(",")})`);
  }
  return variants as TinyVariant[];
}

const program = new Command()
  .name("make-tiny-model")
  .description("Generate a random-weight SmolVLM (Idefics3) model in the published ONNX layout")
  .option("--preset <preset>", "tiny or smolvlm-256m (full SmolVLM-256M shapes)", parsePreset, "tiny" as TinyPreset)
  .option("--out <dir>", "output directory")
  .option("--seed <n>", "random seed", parseSeed, 1)
  .option("--variants <list>", "comma-separated dtype variants", parseVariants, [...ALL_VARIANTS])
  .option("--no-shared", "do not copy the tokenizer from ../shared; use the built-in fallback tokenizer");

program.parse();
const options = program.opts<{ preset: TinyPreset; out?: string; seed: number; variants: TinyVariant[]; shared: boolean }>();
const defaultOut = options.preset === "tiny" ? path.join("models", "tiny-smolvlm") : path.join("models", "generated", "smolvlm-256m-shaped");
const outDir = path.resolve(options.out ?? path.join(packageRoot(), defaultOut));

const started = Date.now();
const result = await generateModel({
  outDir,
  preset: options.preset,
  seed: options.seed,
  variants: options.variants,
  ...(options.shared ? {} : { sharedModelDir: null }),
  onProgress: (message) => process.stderr.write(`${message}\n`),
});
process.stderr.write(
  `generated ${result.files.length} files in ${((Date.now() - started) / 1000).toFixed(1)} s (tokenizer: ${result.tokenizerSource})\n`,
);
process.stdout.write(`${result.outDir}\n`);

import type { Command } from "commander";
import { loadConfig, type SavConfig } from "../../config.js";
import { formatBytes } from "./errors.js";
import {
  listModels,
  loadManifest,
  parseDtypeSpec,
  pullModel,
  removeModel,
  verifyModel,
  type ModelListing,
  type ModelManifest,
  type RegistryOptions,
} from "./index.js";
import { createProgressReporter } from "./progress.js";

/** The option names a parent program may define globally (`--models-dir`, `--model-dir`, `--model`). */
interface GlobalFlags {
  modelsDir?: unknown;
  modelDir?: unknown;
  model?: unknown;
}

function configFrom(command: Command): SavConfig {
  const flags = command.optsWithGlobals<GlobalFlags>();
  const text = (v: unknown) => (typeof v === "string" && v.trim() !== "" ? v : undefined);
  return loadConfig(process.env, {
    modelsDir: text(flags.modelsDir),
    modelDir: text(flags.modelDir),
    defaultModel: text(flags.model),
  });
}

async function registryOptions(
  command: Command,
  generators: GeneratorsFor,
  manifestFiles: string[] = [],
): Promise<RegistryOptions> {
  const config = configFrom(command);
  const extraManifests: ModelManifest[] = [];
  for (const file of manifestFiles) extraManifests.push(await loadManifest(file));
  return { modelsDir: config.modelsDir, modelDir: config.modelDir, defaultModel: config.defaultModel, extraManifests, generators: generators(config.modelsDir) };
}

/** Errors as one line, `error: <sentence>`, exit status 1; never a stack trace. */
async function guarded(action: () => Promise<void>): Promise<void> {
  try {
    await action();
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    process.stderr.write(`error: ${message.replace(/\s*\n\s*/g, " ")}\n`);
    process.exitCode = 1;
  }
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new Error(`expected a positive integer, got "${value}"`);
  return n;
}

function dtypeSummary(dtypes: Record<string, string>): string {
  return ["vision_encoder", "embed_tokens", "decoder_model_merged"].map((c) => dtypes[c] ?? "?").join("/");
}

function sizeCell(m: ModelListing): string {
  if (m.installed) return formatBytes(m.installedBytes);
  if (m.downloadBytesExact) return m.downloadBytes > 0 ? formatBytes(m.downloadBytes) : "-";
  return m.downloadBytes > 0 ? `>= ${formatBytes(m.downloadBytes)}` : "unknown";
}

/** How to get the generated test model: it is never downloaded. */
export const TINY_MODEL_HOW_TO =
  "generated on first use (npx sav-mcp demo, or create_sav_task with model tiny-smolvlm); random weights";

/** The last column of `models list`: where an installed model is, or how to get it. */
export function whereOrHow(m: ModelListing): string {
  if (m.installed) return m.randomWeights ? `${m.dir ?? ""} (random weights)` : (m.dir ?? "");
  if (m.installCommand) return m.installCommand;
  return m.randomWeights ? TINY_MODEL_HOW_TO : "generated on first use";
}

/** The SIZE column of `models list` (docs/models.md quotes it). */
export { sizeCell as listingSizeText };

function listingTable(listings: ModelListing[]): string {
  const rows = listings.map((m) => [
    `${m.id}${m.isDefault ? " (default)" : ""}`,
    m.installed ? "yes" : "no",
    sizeCell(m),
    dtypeSummary(m.dtypes),
    whereOrHow(m),
  ]);
  const header = ["MODEL", "INSTALLED", "SIZE", "DTYPES (vision/embed/decoder)", "WHERE / HOW TO INSTALL"];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join("  ").trimEnd();
  return [line(header), ...rows.map(line)].join("\n");
}

/** Adds `models list | pull ID [--dtype ...] | verify ID | rm ID` to a commander program. */
/** The generated models a program offers, placed under a models directory. */
export type GeneratorsFor = (modelsDir: string) => NonNullable<RegistryOptions["generators"]>;

export function registerModelsCommand(program: Command, generators: GeneratorsFor = () => ({})): void {
  const options = (command: Command, manifestFiles?: string[]) => registryOptions(command, generators, manifestFiles);
  const models = program
    .command("models")
    .description("list, download, verify and remove models (SAV_MODELS_DIR, HF_ENDPOINT, HF_TOKEN)");

  models
    .command("list")
    .description("installed and available models, their sizes and which one is the default")
    .option("--json", "print JSON instead of a table")
    .option("--manifest <file>", "also list the model of a custom manifest file (repeatable)", collect, [])
    .action(async (flags: { json?: boolean; manifest: string[] }, command: Command) =>
      guarded(async () => {
        const listings = await listModels(await options(command, flags.manifest));
        process.stdout.write(flags.json ? `${JSON.stringify(listings, null, 2)}\n` : `${listingTable(listings)}\n`);
      }),
    );

  models
    .command("pull")
    .description("download a model (resumable; verified by size and sha256)")
    .argument("<id>", "model id (see `models list`) or a manifest file (*.json)")
    .option("--dtype <spec>", "dtypes: one for all components (q4) or component=dtype,... (decoder_model_merged=fp32)")
    .option("--concurrency <n>", "files downloaded at once", positiveInt, 3)
    .option("--timeout <seconds>", "give up on a request after this long without data", positiveInt, 60)
    .action(async (id: string, flags: { dtype?: string; concurrency: number; timeout: number }, command: Command) =>
      guarded(async () => {
        const opts = await options(command);
        const reporter = createProgressReporter(`pull ${id}`);
        const controller = new AbortController();
        const onSigint = () => controller.abort(new Error("Pull cancelled; run the same command again to resume."));
        process.once("SIGINT", onSigint);
        try {
          const result = await pullModel(id, {
            ...opts,
            dtypes: flags.dtype === undefined ? undefined : parseDtypeSpec(flags.dtype),
            concurrency: flags.concurrency,
            timeoutMs: flags.timeout * 1000,
            signal: controller.signal,
            onProgress: (p) => reporter.onProgress(p),
          });
          reporter.stop();
          const already = result.skippedFiles > 0 ? `; ${result.skippedFiles} file(s) were already complete` : "";
          process.stdout.write(`Pulled ${id} into ${result.dir} (${formatBytes(result.downloadedBytes)} downloaded${already}).\n`);
          if (result.unverifiedFiles.length > 0) {
            process.stderr.write(
              `WARNING: ${result.unverifiedFiles.length} file(s) of ${id} are UNVERIFIED: neither the manifest nor the hub gave a sha256 to check them against ` +
                `(${result.unverifiedFiles.join(", ")}). Use a manifest with sha256 values to verify them; 'models verify ${id}' reports them as unverified.\n`,
            );
          }
          for (const warning of result.warnings ?? []) process.stderr.write(`warning: ${warning}\n`);
        } finally {
          reporter.stop();
          process.removeListener("SIGINT", onSigint);
        }
      }),
    );

  models
    .command("verify")
    .description("re-hash an installed model's files and compare them with the manifest")
    .argument("<id>", "model id or manifest file")
    .action(async (id: string, _flags: unknown, command: Command) =>
      guarded(async () => {
        const opts = await options(command);
        const result = await verifyModel(id, opts);
        // Nothing there at all: one line saying so, not a BAD line per file.
        const absent = result.files.filter((f) => f.reason === "missing" || f.reason === "optional, absent");
        if (result.files.length > 0 && absent.length === result.files.length) {
          const listing = (await listModels(opts)).find((m) => m.id === id);
          const how = listing?.installCommand ?? result.repairCommand;
          throw new Error(`${id} is not installed${how ? `; install it with ${how}` : ""}.`);
        }
        for (const f of result.files) {
          process.stdout.write(`${f.unverified ? "??? " : f.ok ? "ok  " : "BAD "} ${f.path}${f.reason ? `: ${f.reason}` : ""}\n`);
        }
        if (!result.ok) {
          const bad = result.files.filter((f) => !f.ok).map((f) => f.path);
          const remedy = result.repairCommand === null ? "" : ` Run ${result.repairCommand} to download them again.`;
          throw new Error(`${bad.length} file(s) of ${id} failed verification (${bad.join(", ")}).${remedy}`);
        }
        const unverified = result.files.filter((f) => f.unverified).length;
        process.stdout.write(
          unverified === 0
            ? `${id}: all ${result.files.length} files verified.\n`
            : `${id}: ${result.files.length - unverified} files verified, ${unverified} UNVERIFIED (no sha256 known to check them against).\n`,
        );
      }),
    );

  models
    .command("rm")
    .description("delete a pulled model from the models directory")
    .argument("<id>", "model id or manifest file")
    .action(async (id: string, _flags: unknown, command: Command) =>
      guarded(async () => {
        const { removedBytes } = await removeModel(id, await options(command));
        process.stdout.write(removedBytes > 0 ? `Removed ${id} (${formatBytes(removedBytes)} freed).\n` : `${id} is not installed.\n`);
      }),
    );
}

#!/usr/bin/env node
import path from "node:path";
import { Command, InvalidArgumentError } from "commander";
import fs from "node:fs";
import { generatedModels } from "./generated-models.js";
import { DEFAULT_LIMITS, expandHome, loadConfig, TINY_MODEL_ID, type SavConfig } from "./config.js";
import { listModels } from "./model/registry/index.js";
import { registerModelsCommand } from "./model/registry/cli.js";
import { registerEvalCommand, registerModelsCheckCommand } from "./eval/cli.js";
import { createSavServer } from "./server/create-server.js";
import { runDemo } from "./server/demo.js";
import { createModelProvider } from "./server/model-provider.js";
import { BoundedStdioServerTransport } from "./server/stdio-transport.js";
import { PACKAGE_VERSION } from "./server/version.js";
import { limitsText } from "./server/wording.js";

const ENVIRONMENT_HELP = `
Limits: ${limitsText(DEFAULT_LIMITS)}.
Images: JPEG, PNG, WebP, GIF (first frame), AVIF, TIFF; paths inside the allowed directories, http(s) URLs, or base64/data URIs.

Environment (flags take precedence):
  SAV_DATA_DIR            where tasks and examples are stored (SQLite); default the platform's user data dir
  SAV_MODEL               default model id for new tasks (default smolvlm-256m-instruct; '${TINY_MODEL_ID}' = offline test model with random weights)
  SAV_MODEL_DIR           a model directory in the published SmolVLM ONNX layout, used as is for the default model
  SAV_MODELS_DIR          where 'models pull' puts models; default the platform's cache dir
  SAV_ALLOWED_DIRS        directories image paths and export/import files must lie in, separated by '${path.delimiter}'; default none (then only URLs and base64 images, plus the client's roots)
  SAV_ALLOW_PRIVATE_URLS  1 = allow image URLs on loopback/private/link-local addresses (default refused)
  SAV_AUTO_PULL           1 = download a missing model inside a tool call instead of failing with the install command
  HF_ENDPOINT, HF_TOKEN   model hub address and token for 'models pull'

Examples:
  npx sav-mcp demo                                   run a whole scenario offline on the tiny model
  npx sav-mcp models pull smolvlm-256m-instruct      install the default model (~263 MB)
  npx sav-mcp serve --allowed-dir ~/Pictures         serve MCP over stdio
`;

interface GlobalOptions {
  dataDir?: string;
  model?: string;
  modelDir?: string;
  modelsDir?: string;
}

interface ServeOptions extends GlobalOptions {
  allowedDir?: string[];
  allowPrivateUrls?: boolean;
  autoPull?: boolean;
  threads?: number;
}

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

function positiveInteger(value: string): number {
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 1) throw new InvalidArgumentError("expected a positive integer");
  return parsed;
}

function configFrom(options: ServeOptions): SavConfig {
  const resolved = (dir: string | undefined) => (dir === undefined ? undefined : path.resolve(dir));
  return loadConfig(process.env, {
    dataDir: resolved(options.dataDir),
    defaultModel: options.model,
    modelDir: resolved(options.modelDir),
    modelsDir: resolved(options.modelsDir),
    allowedDirs: options.allowedDir?.map((dir) => path.resolve(expandHome(dir))),
    allowPrivateUrls: options.allowPrivateUrls ? true : undefined,
    autoPull: options.autoPull ? true : undefined,
  });
}

function log(message: string): void {
  // stdout is the MCP channel: everything else goes to stderr.
  process.stderr.write(`sav-mcp: ${message}\n`);
}

async function serve(options: ServeOptions): Promise<void> {
  const config = configFrom(options);
  const models = createModelProvider({ config, runner: options.threads ? { threads: options.threads } : undefined });
  const { server, close } = createSavServer({ config, models });

  let stopping = false;
  const shutdown = async (reason: string) => {
    if (stopping) return;
    stopping = true;
    log(`stopping (${reason})`);
    await close().catch((error: unknown) => log(`error while closing: ${String(error)}`));
    await models.close().catch(() => undefined);
    process.exit(0);
  };
  process.on("SIGINT", () => void shutdown("SIGINT"));
  process.on("SIGTERM", () => void shutdown("SIGTERM"));
  process.stdin.on("end", () => void shutdown("stdin closed"));

  await server.connect(new BoundedStdioServerTransport({ maxMessageBytes: config.limits.maxMessageBytes, log }));
  log(`serving MCP on stdio (version ${PACKAGE_VERSION}); data ${config.dataDir}; allowed dirs ${config.allowedDirs.join(", ") || "none"}`);
  warnAboutAllowedDirs(config.allowedDirs);
  try {
    const listing = (
      await listModels({ modelsDir: config.modelsDir, modelDir: config.modelDir, defaultModel: config.defaultModel, generators: generatedModels() })
    ).find(
      (m) => m.id === config.defaultModel,
    );
    if (listing && !listing.installed && listing.installCommand) {
      log(
        `default model ${config.defaultModel} is not installed: tasks on it fail until you run '${listing.installCommand}'` +
          (config.autoPull ? " (SAV_AUTO_PULL is set: it will be downloaded on first use)" : "") +
          `; '${TINY_MODEL_ID}' works offline (random weights).`,
      );
    }
  } catch (error) {
    log(`could not check the default model: ${error instanceof Error ? error.message : String(error)}`);
  }
}

function warnAboutAllowedDirs(dirs: readonly string[]): void {
  if (dirs.length === 0) {
    log(
      "no allowed directories: image paths and task files are refused (URLs and base64 images work) unless the client declares roots. " +
        "Allow one with --allowed-dir DIR or SAV_ALLOWED_DIRS.",
    );
  }
  for (const dir of dirs) {
    if (!fs.existsSync(dir)) log(`allowed directory ${dir} does not exist: it allows nothing until it is created.`);
    else if (!fs.statSync(dir).isDirectory()) log(`allowed directory ${dir} is not a directory: it allows nothing.`);
  }
}

export function buildProgram(): Command {
  const program = new Command("sav-mcp")
    .description("MCP server for few-shot image classification with Sparse Attention Vectors from a local vision-language model")
    .version(PACKAGE_VERSION)
    .option("--data-dir <dir>", "where tasks and examples are stored (SAV_DATA_DIR)")
    .option("--model <id>", "default model id for new tasks (SAV_MODEL)")
    .option("--model-dir <dir>", "model directory used as is for the default model (SAV_MODEL_DIR)")
    .option("--models-dir <dir>", "where pulled models live (SAV_MODELS_DIR)")
    .addHelpText("after", ENVIRONMENT_HELP)
    // Subcommand help (serve --help) lists the global options too: they apply there.
    .configureHelp({ showGlobalOptions: true })
    .showHelpAfterError();

  program
    .command("serve")
    .description("run the MCP server over stdio (what MCP clients start)")
    .option("--allowed-dir <dir>", "allow image paths and task files under this directory (repeatable; replaces SAV_ALLOWED_DIRS)", collect)
    .option("--allow-private-urls", "allow image URLs on loopback, private and link-local addresses (SAV_ALLOW_PRIVATE_URLS=1)")
    .option("--auto-pull", "download a missing model inside a tool call, with progress (SAV_AUTO_PULL=1)")
    .option("--threads <n>", "ONNX Runtime threads per model (default: all cores)", positiveInteger)
    .addHelpText("after", ENVIRONMENT_HELP)
    .action(async (_options: ServeOptions, command: Command) => {
      await serve(command.optsWithGlobals<ServeOptions>());
    });

  program
    .command("demo")
    .description(`run one whole scenario through the MCP tools on generated images (default model: ${TINY_MODEL_ID}, offline)`)
    .option("--examples <n>", "training images per label", positiveInteger, 5)
    .action(async (options: { examples: number }, command: Command) => {
      const globals = command.optsWithGlobals<GlobalOptions>();
      const config = configFrom(globals);
      await runDemo({
        print: (line) => process.stdout.write(`${line}\n`),
        config,
        dataDir: globals.dataDir ? config.dataDir : undefined,
        // The demo uses the tiny model unless a model is named explicitly on its command line.
        model: globals.model ?? TINY_MODEL_ID,
        examplesPerLabel: options.examples,
      });
    });

  registerModelsCommand(program, generatedModels());
  registerModelsCheckCommand(program, generatedModels());
  registerEvalCommand(program);
  // The top-level help names every subcommand's own options as well (each one's --help explains them).
  program.addHelpText("after", () => {
    const lines = program.commands
      .filter((command) => command.options.length > 0)
      .map((command) => `  ${command.name()}: ${command.options.map((option) => option.long ?? option.flags).join(", ")}`);
    return `\nCommand options (sav-mcp <command> --help explains them):\n${lines.join("\n")}`;
  });
  return program;
}

buildProgram()
  .parseAsync(process.argv)
  .catch((error: unknown) => {
    process.stderr.write(`sav-mcp: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  });

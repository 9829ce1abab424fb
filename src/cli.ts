#!/usr/bin/env node
import path from "node:path";
import { Command, InvalidArgumentError } from "commander";
import fs from "node:fs";
import { generatedModels } from "./generated-models.js";
import { DEFAULT_LIMITS, expandHome, LIMIT_NAMES, loadConfig, parseLimitSettings, TINY_MODEL_ID, type SavConfig } from "./config.js";
import { listModels } from "./model/registry/index.js";
import { registerModelsCommand } from "./model/registry/cli.js";
import { registerEvalCommand, registerModelsCheckCommand } from "./eval/cli.js";
import { createSavServer } from "./server/create-server.js";
import { runDemo } from "./server/demo.js";
import { parseListenAddress } from "./server/http/listen-address.js";
import { serveHttp, shutdownOnSignals } from "./server/http/serve-http.js";
import { DEFAULT_SHUTDOWN_TIMEOUT_MS } from "./server/http/http-server.js";
import { DEFAULT_MAX_CALLS_PER_TENANT } from "./server/http/mcp-endpoint.js";
import { createModelProvider } from "./server/model-provider.js";
import { BoundedStdioServerTransport } from "./server/stdio-transport.js";
import { openTaskStore, type TaskStore } from "./store/index.js";
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
  SAV_LIMITS              change limits: 'maxImagePixels=134217728,maxBatchImages=64' (names as for --limit)
  HF_ENDPOINT, HF_TOKEN   model hub address and token for 'models pull'
  SAV_STORE_URL           postgres://user@host/db: keep tasks in PostgreSQL (replicas share it) instead of SQLite in SAV_DATA_DIR
  SAV_AUTH_TOKENS         HTTP bearer tokens 'tenant:token,tenant2:token2' (required for a non-loopback --http bind)
  SAV_AUTH_TOKENS_FILE    a file of 'tenant:sha256:HEX' lines (HEX = printf %s "$TOKEN" | sha256sum)
  SAV_JWT_ISSUER          accept JWT access tokens from this issuer (also SAV_JWT_JWKS_URL, SAV_JWT_AUDIENCE, SAV_JWT_TENANT_CLAIM)

Examples:
  npx sav-mcp demo                                   run a whole scenario offline on the tiny model
  npx sav-mcp models pull smolvlm-256m-instruct      install the default model (~263 MB)
  npx sav-mcp serve --allowed-dir ~/Pictures         serve MCP over stdio
  npx sav-mcp serve --http 3333                      serve MCP over HTTP on http://127.0.0.1:3333/mcp (docs/deployment.md)
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
  http?: string;
  stateless?: boolean;
  allowedHost?: string[];
  corsOrigin?: string[];
  publicUrl?: string;
  shutdownTimeout?: number;
  tenantConcurrency?: number;
  limit?: string[];
}

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

function positiveInteger(value: string): number {
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 1) throw new InvalidArgumentError("expected a positive integer");
  return parsed;
}

function nonNegativeInteger(value: string): number {
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 0) throw new InvalidArgumentError("expected a whole number, 0 or more");
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
    limits: options.limit ? parseLimitSettings(options.limit, "--limit") : undefined,
  });
}

function log(message: string): void {
  // stdout is the MCP channel: everything else goes to stderr.
  process.stderr.write(`sav-mcp: ${message}\n`);
}

async function serveOverHttp(options: ServeOptions & { http: string }): Promise<void> {
  const config = configFrom(options);
  const listen = parseListenAddress(options.http);
  const models = createModelProvider({ config, runner: options.threads ? { threads: options.threads } : undefined });
  const store = await openTaskStore({ dataDir: config.dataDir, storeUrl: process.env.SAV_STORE_URL });
  const closeServices = async () => {
    await store.close();
    await models.close();
  };
  try {
    const running = await serveHttp(
      {
        listen,
        stateless: options.stateless ?? false,
        allowedHosts: options.allowedHost ?? [],
        corsOrigins: options.corsOrigin ?? [],
        publicUrl: options.publicUrl,
        shutdownTimeoutMs: options.shutdownTimeout ?? DEFAULT_SHUTDOWN_TIMEOUT_MS,
        maxCallsPerTenant: options.tenantConcurrency,
      },
      { config, models, store, env: process.env, log },
    );
    shutdownOnSignals(running, closeServices, log, options.shutdownTimeout ?? DEFAULT_SHUTDOWN_TIMEOUT_MS);
  } catch (error) {
    await closeServices();
    throw error;
  }
}

async function serve(options: ServeOptions): Promise<void> {
  if (options.http !== undefined) return serveOverHttp({ ...options, http: options.http });
  const config = configFrom(options);
  const models = createModelProvider({ config, runner: options.threads ? { threads: options.threads } : undefined });
  const sharedStore: TaskStore | undefined = process.env.SAV_STORE_URL ? await openTaskStore({ dataDir: config.dataDir, storeUrl: process.env.SAV_STORE_URL }) : undefined;
  const savServer = createSavServer({ config, models, store: sharedStore });
  const { server } = savServer;
  const close = async () => {
    await savServer.close();
    await sharedStore?.close();
  };

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
      await listModels({ modelsDir: config.modelsDir, modelDir: config.modelDir, defaultModel: config.defaultModel, generators: generatedModels(config.modelsDir) })
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
    .description("run the MCP server over stdio (what MCP clients start), or over HTTP with --http")
    .option("--allowed-dir <dir>", "allow image paths and task files under this directory (repeatable; replaces SAV_ALLOWED_DIRS)", collect)
    .option("--allow-private-urls", "allow image URLs on loopback, private and link-local addresses (SAV_ALLOW_PRIVATE_URLS=1)")
    .option("--auto-pull", "download a missing model inside a tool call, with progress (SAV_AUTO_PULL=1)")
    .option("--threads <n>", "ONNX Runtime threads per model (default: all cores)", positiveInteger)
    .option("--http <[host:]port>", "serve Streamable HTTP on /mcp instead of stdio (default host 127.0.0.1; port 0 = any free port)")
    .option("--stateless", "HTTP without sessions, for replicas behind a load balancer")
    .option("--allowed-host <name>", "also accept this Host header (repeatable; loopback names are accepted on loopback binds)", collect)
    .option("--cors-origin <origin>", "allow browser requests from this origin (repeatable; CORS is off by default)", collect)
    .option("--public-url <url>", "the URL clients reach the server at, when behind a proxy (auth metadata, JWT audience)")
    .option("--shutdown-timeout <ms>", `on SIGTERM/SIGINT, how long in-flight calls may finish (default ${DEFAULT_SHUTDOWN_TIMEOUT_MS})`, nonNegativeInteger)
    .option("--limit <name=value>", `change one limit (repeatable; over SAV_LIMITS), e.g. maxImagePixels=134217728; names: ${LIMIT_NAMES.join(", ")}`, collect)
    .option("--tenant-concurrency <n>", `most tool calls one tenant may run at once over HTTP (default ${DEFAULT_MAX_CALLS_PER_TENANT})`, positiveInteger)
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

  registerModelsCommand(program, generatedModels);
  registerModelsCheckCommand(program, generatedModels);
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

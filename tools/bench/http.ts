/**
 * Load over loopback (issue 13 §4): N clients (1, 2, 4, 8) each classify new and seen images through one
 * HTTP server, through two HTTP replicas on one PostgreSQL database (when one answers at SAV_TEST_PG_URL),
 * and as N stdio servers (one process each, the memory per client), plus one client's single classification
 * while another client's large add_examples runs (fairness). Bounded: a fixed number of calls per client;
 * loopback only. The server processes run the built CLI (npm run build first) on the tiny model, or
 * (section http-full) on the generated full-size SmolVLM-256M-shaped model in the shipped dtypes.
 *
 *   npx tsx tools/bench/http.ts [--full-model]   prints the Markdown section to stdout, progress to stderr
 *   npm run bench -- http | http-full            writes it into BENCHMARKS.md
 */
import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import pg from "pg";
import { DEFAULT_MODEL_ID, TINY_MODEL_ID } from "../../src/config.js";
import { ensureBenchModel, log, mb, median, ms, ratio, ROOT, testImage, yes } from "./common.js";

const CLIENT_COUNTS = [1, 2, 4, 8];
/** Examples in the large add_examples call of the fairness round. */
const BULK_EXAMPLES = 32;
/** Calls per client per round: alternately a new image and one every client has seen before. */
const CALLS_PER_CLIENT = 8;
const LABELS = ["warm", "cool"];
const EXAMPLES_PER_LABEL = 4;
const CLI = path.join(ROOT, "dist", "cli.js");
const PG_URL = process.env.SAV_TEST_PG_URL ?? "postgres://postgres@127.0.0.1:55432/postgres";

interface Server {
  child: ChildProcess;
  url?: string;
}

/** The model the servers run: the tiny one, or the full-size generated one as the default model's directory. */
interface BenchModel {
  id: string;
  env: Record<string, string>;
  description: string;
  /** Stdio rounds load one model per client: with the full-size model, only the smaller counts fit the host's memory. */
  stdioCounts: number[];
}

async function benchModel(full: boolean): Promise<BenchModel> {
  if (!full) {
    return {
      id: TINY_MODEL_ID,
      env: { SAV_MODEL: TINY_MODEL_ID },
      description: `the **tiny** model (\`${TINY_MODEL_ID}\`), so these figures measure the transport, sessions, queueing and store more than inference`,
      stdioCounts: CLIENT_COUNTS,
    };
  }
  const dir = await ensureBenchModel();
  return {
    id: DEFAULT_MODEL_ID,
    env: { SAV_MODEL: DEFAULT_MODEL_ID, SAV_MODEL_DIR: dir },
    description: `the **full-size** SmolVLM-256M-shaped generated model (random weights, the shipped default dtypes) as \`${DEFAULT_MODEL_ID}\`, so inference dominates`,
    stdioCounts: [1, 2],
  };
}

function serverEnv(model: BenchModel, dataDir: string, imagesDir: string, storeUrl?: string): Record<string, string> {
  return {
    PATH: process.env.PATH ?? "",
    SAV_DATA_DIR: dataDir,
    SAV_MODELS_DIR: path.join(dataDir, "no-models"),
    SAV_ALLOWED_DIRS: imagesDir,
    ...model.env,
    ...(storeUrl ? { SAV_STORE_URL: storeUrl } : {}),
  };
}

async function startHttp(env: Record<string, string>): Promise<Server> {
  const child = spawn(process.execPath, [CLI, "serve", "--http", "127.0.0.1:0", "--tenant-concurrency", "64"], { env, stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  const url = await new Promise<string>((resolve, reject) => {
    child.stderr!.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
      const match = /serving MCP on (http:\/\/127\.0\.0\.1:\d+\/mcp)/.exec(stderr);
      if (match) resolve(match[1]!);
    });
    child.on("exit", (code) => reject(new Error(`server exited (${code}): ${stderr}`)));
  });
  return { child, url };
}

async function stop(server: Server): Promise<void> {
  if (server.child.exitCode !== null) return;
  const exited = new Promise((resolve) => server.child.once("exit", resolve));
  server.child.kill("SIGTERM");
  await exited;
}

/** Resident memory of a process from /proc (Linux): current and peak. */
function rss(pid: number): { now: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1] ?? Number.NaN) * 1024;
  return { now: kb("VmRSS"), peak: kb("VmHWM") };
}

async function httpClient(url: string): Promise<Client> {
  const client = new Client({ name: "bench", version: "1" });
  await client.connect(new StreamableHTTPClientTransport(new URL(url)));
  return client;
}

/** Full-size rounds queue many calls behind one model: the SDK's 60 s default would cut them off. */
const CALL_TIMEOUT = { timeout: 30 * 60_000, resetTimeoutOnProgress: true };

async function classify(client: Client, image: string, task = "bench"): Promise<number> {
  const start = performance.now();
  const result = (await client.callTool({ name: "classify_image", arguments: { task, image: { path: image } } }, undefined, CALL_TIMEOUT)) as CallToolResult;
  if (result.isError) throw new Error(`classify_image failed: ${JSON.stringify(result.content)}`);
  return performance.now() - start;
}

function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN;
}

interface Round {
  clients: number;
  callsPerSecond: number;
  medianMs: number;
  p99Ms: number;
  rssBytes: number;
}

/** N clients spread over the servers' URLs, each making CALLS_PER_CLIENT calls at once with the others. */
async function round(urls: string[], clients: number, images: (client: number, call: number) => string, pids: number[]): Promise<Round> {
  const connected = await Promise.all(Array.from({ length: clients }, (_, i) => httpClient(urls[i % urls.length]!)));
  const latencies: number[] = [];
  const start = performance.now();
  await Promise.all(
    connected.map(async (client, c) => {
      for (let call = 0; call < CALLS_PER_CLIENT; call++) latencies.push(await classify(client, images(c, call)));
    }),
  );
  const seconds = (performance.now() - start) / 1000;
  await Promise.all(connected.map((c) => c.close()));
  return {
    clients,
    callsPerSecond: latencies.length / seconds,
    medianMs: median(latencies),
    p99Ms: percentile(latencies, 99),
    rssBytes: pids.reduce((sum, pid) => sum + rss(pid).now, 0),
  };
}

async function postgresDatabase(): Promise<{ url: string; drop: () => Promise<void> } | undefined> {
  const name = `sav_bench_${process.pid}`;
  const admin = new pg.Client({ connectionString: PG_URL, connectionTimeoutMillis: 3000 });
  try {
    await admin.connect();
    await admin.query(`CREATE DATABASE ${name}`);
  } catch (error) {
    log(`[http] no PostgreSQL at ${PG_URL} (${(error as Error).message}): replica rounds skipped`);
    return undefined;
  } finally {
    await admin.end().catch(() => undefined);
  }
  const url = new URL(PG_URL);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: async () => {
      const client = new pg.Client({ connectionString: PG_URL });
      await client.connect();
      await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await client.end();
    },
  };
}

/** Creates the task and classifies once, so no round pays for building the classifier or a cold model. */
async function prepareTask(url: string, modelId: string, examples: { file: string; label: string }[], warmUp: string): Promise<void> {
  const client = await httpClient(url);
  await client.callTool({ name: "create_sav_task", arguments: { name: "bench", prompt: "Warm or cool colours?", model: modelId } });
  const added = (await client.callTool(
    { name: "add_examples", arguments: { task: "bench", examples: examples.map((e) => ({ image: { path: e.file }, label: e.label })) } },
    undefined,
    CALL_TIMEOUT,
  )) as CallToolResult;
  if (added.isError) throw new Error(`add_examples failed: ${JSON.stringify(added.content)}`);
  await classify(client, warmUp);
  await client.close();
}

interface Fairness {
  idleMs: number;
  busyMs: number;
  /** Extractions of the bulk call that completed while the single classification ran. */
  bulkDuring: number;
  bulkSeconds: number;
}

/**
 * One client's single classification of a new image while another client's add_examples of BULK_EXAMPLES
 * new images is extracting, against the same classification with the server idle (median of three).
 */
async function fairnessRound(url: string, modelId: string, bulkImages: string[], singleImages: string[]): Promise<Fairness> {
  const [bulk, single] = await Promise.all([httpClient(url), httpClient(url)]);
  try {
    const idle = [];
    for (const image of singleImages.slice(0, 3)) idle.push(await classify(single, image));
    await bulk.callTool({ name: "create_sav_task", arguments: { name: "bulk", prompt: "Warm or cool colours?", model: modelId } });
    let extracted = 0;
    let extracting!: () => void;
    const started = new Promise<void>((resolve) => (extracting = resolve));
    const bulkStart = performance.now();
    const bulkCall = bulk.callTool(
      { name: "add_examples", arguments: { task: "bulk", examples: bulkImages.map((file, i) => ({ image: { path: file }, label: LABELS[i % 2]! })) } },
      undefined,
      {
        ...CALL_TIMEOUT,
        // Progress counts the validations, then the extractions.
        onprogress: (p) => {
          extracted = Math.max(extracted, p.progress - bulkImages.length);
          if (extracted >= 1) extracting();
        },
      },
    );
    await started;
    const before = extracted;
    const busyMs = await classify(single, singleImages[3]!);
    const bulkDuring = extracted - before;
    const result = (await bulkCall) as CallToolResult;
    if (result.isError) throw new Error(`bulk add_examples failed: ${JSON.stringify(result.content)}`);
    return { idleMs: median(idle), busyMs, bulkDuring, bulkSeconds: (performance.now() - bulkStart) / 1000 };
  } finally {
    await Promise.all([bulk.close(), single.close()]);
  }
}

/** Memory per client when each client starts its own stdio server: N processes, one classification each. */
async function stdioMemory(clients: number, env: Record<string, string>, image: string): Promise<number> {
  const connected: { client: Client; transport: StdioClientTransport }[] = [];
  try {
    for (let i = 0; i < clients; i++) {
      const transport = new StdioClientTransport({ command: process.execPath, args: [CLI, "serve"], env, stderr: "ignore" });
      const client = new Client({ name: "bench-stdio", version: "1" });
      await client.connect(transport);
      connected.push({ client, transport });
    }
    await Promise.all(connected.map(({ client }) => classify(client, image)));
    return connected.reduce((sum, { transport }) => sum + rss(transport.pid!).now, 0);
  } finally {
    await Promise.all(connected.map(({ client }) => client.close().catch(() => undefined)));
  }
}

function table(title: string, rounds: Round[]): string[] {
  const base = rounds[0]!;
  return [
    `**${title}**`,
    "",
    "| clients | calls/s | × 1-client throughput | median | p99 | p99 ÷ 1-client p99 | server RSS |",
    "|---:|---:|---:|---:|---:|---:|---:|",
    ...rounds.map((r) => `| ${r.clients} | ${r.callsPerSecond.toFixed(1)} | ${ratio(r.callsPerSecond / base.callsPerSecond)} | ${ms(r.medianMs)} ms | ${ms(r.p99Ms)} ms | ${ratio(r.p99Ms / base.p99Ms)} | ${mb(r.rssBytes)} |`),
    "",
  ];
}

const loadAverage = () => os.loadavg().map((l) => l.toFixed(1)).join(" / ");

export async function runHttpBenchmark(options: { fullModel?: boolean } = {}): Promise<string> {
  const fullModel = options.fullModel ?? process.argv.includes("--full-model");
  const model = await benchModel(fullModel);
  const loadAtStart = loadAverage();
  log(`[http] model: ${model.id}; load average (1/5/15 min) ${loadAtStart} on ${os.availableParallelism()} cores`);
  const work = await mkdtemp(path.join(os.tmpdir(), "sav-bench-http-"));
  const imagesDir = path.join(work, "images");
  await mkdir(imagesDir, { recursive: true });
  const servers: Server[] = [];
  let database: Awaited<ReturnType<typeof postgresDatabase>>;
  try {
    const write = async (name: string, seed: number, colour?: [number, number, number]) => {
      const file = path.join(imagesDir, name);
      await writeFile(file, await testImage(seed, 320, 240, colour));
      return file;
    };
    const examples: { file: string; label: string }[] = [];
    for (let i = 0; i < EXAMPLES_PER_LABEL; i++) {
      examples.push({ file: await write(`warm-${i}.jpg`, 10 + i, [230, 90, 30]), label: LABELS[0]! });
      examples.push({ file: await write(`cool-${i}.jpg`, 50 + i, [30, 90, 230]), label: LABELS[1]! });
    }
    const seen = await write("seen.jpg", 99, [200, 120, 40]);
    let fresh = 1000;
    const freshImages = new Map<string, string>();
    // Every (round, client, call) with an even call gets an image nobody classified before.
    const imagesFor = (tag: string) => (client: number, call: number) => (call % 2 === 1 ? seen : freshImages.get(`${tag}:${client}:${call}`)!);
    const prepareFresh = async (tag: string, clients: number) => {
      for (let c = 0; c < clients; c++) for (let call = 0; call < CALLS_PER_CLIENT; call += 2) freshImages.set(`${tag}:${c}:${call}`, await write(`fresh-${fresh}.jpg`, fresh++));
    };

    log("[http] one HTTP server on SQLite");
    const single = await startHttp(serverEnv(model, path.join(work, "single"), imagesDir));
    servers.push(single);
    await prepareTask(single.url!, model.id, examples, seen);
    const singleRounds: Round[] = [];
    for (const clients of CLIENT_COUNTS) {
      await prepareFresh(`single-${clients}`, clients);
      singleRounds.push(await round([single.url!], clients, imagesFor(`single-${clients}`), [single.child.pid!]));
      log(`[http]   ${clients} client(s): ${singleRounds.at(-1)!.callsPerSecond.toFixed(1)} calls/s`);
    }
    log("[http] fairness: a single classification during another client's bulk add_examples");
    const bulkImages: string[] = [];
    for (let i = 0; i < BULK_EXAMPLES; i++) bulkImages.push(await write(`bulk-${i}.jpg`, 5000 + i, i % 2 ? [30, 90, 230] : [230, 90, 30]));
    const singleImages: string[] = [];
    for (let i = 0; i < 4; i++) singleImages.push(await write(`single-${i}.jpg`, 6000 + i));
    const fairness = await fairnessRound(single.url!, model.id, bulkImages, singleImages);
    await stop(single);

    const replicaRounds: Round[] = [];
    database = await postgresDatabase();
    if (database) {
      log("[http] two HTTP replicas on one PostgreSQL database");
      const replicas = [await startHttp(serverEnv(model, path.join(work, "r1"), imagesDir, database.url)), await startHttp(serverEnv(model, path.join(work, "r2"), imagesDir, database.url))];
      servers.push(...replicas);
      await prepareTask(replicas[0]!.url!, model.id, examples, seen);
      // The second replica warms its own model and classifier cache.
      const warm = await httpClient(replicas[1]!.url!);
      await classify(warm, seen);
      await warm.close();
      for (const clients of CLIENT_COUNTS) {
        await prepareFresh(`replicas-${clients}`, clients);
        replicaRounds.push(await round(replicas.map((r) => r.url!), clients, imagesFor(`replicas-${clients}`), replicas.map((r) => r.child.pid!)));
      }
      await Promise.all(replicas.map(stop));
    }

    log("[http] N stdio servers (memory per client)");
    const stdioEnv = serverEnv(model, path.join(work, "single"), imagesDir);
    const stdioRss: { clients: number; bytes: number }[] = [];
    for (const clients of model.stdioCounts) stdioRss.push({ clients, bytes: await stdioMemory(clients, stdioEnv, seen) });
    const loadAtEnd = loadAverage();

    const eight = singleRounds.at(-1)!;
    const p99Linear = singleRounds.every((r) => r.p99Ms / singleRounds[0]!.p99Ms <= r.clients);
    const lines = [
      fullModel ? "## HTTP on the full-size model (`npm run bench -- http-full`)" : "## HTTP: many clients on one server (`npm run bench -- http`)",
      "",
      `Each client makes ${CALLS_PER_CLIENT} \`classify_image\` calls, alternating an image nobody classified before and one seen before. All clients run at once over loopback HTTP (\`serve --http\`, stateful sessions) against a task of ${EXAMPLES_PER_LABEL * LABELS.length} examples.`,
      `The server runs the built CLI on ${model.description}. The inference queue takes jobs round-robin over the sessions (one lane each) and runs one at a time, so throughput is bounded by the one shared model.`,
      `Machine load average (1/5/15 min) ${loadAtStart} at the start and ${loadAtEnd} at the end, on ${os.availableParallelism()} cores (the benchmark's own clients and server count in it): ` +
        `${Number(loadAtStart.split(" / ")[0]) > os.availableParallelism() ? "heavily contended by other jobs, so absolute times are inflated" : "no other heavy job at the start"}. Compare the ratios within one run, not absolute times.`,
      "",
      ...table("One HTTP server, SQLite", singleRounds),
      ...(replicaRounds.length > 0 ? table("Two HTTP replicas on one PostgreSQL database (clients alternate between them; RSS is both together)", replicaRounds) : ["_Replica rounds skipped: no PostgreSQL server answered._", ""]),
      "**N stdio servers (one process per client)**",
      "",
      "| clients | total RSS | vs one HTTP server serving them |",
      "|---:|---:|---:|",
      ...stdioRss.map((s) => `| ${s.clients} | ${mb(s.bytes)} | ${ratio(s.bytes / singleRounds.find((r) => r.clients === s.clients)!.rssBytes)}× |`),
      "",
      `Goal: one HTTP server serves 8 clients at the single-client throughput, with one model in memory: ${ratio(eight.callsPerSecond / singleRounds[0]!.callsPerSecond)}× the 1-client calls/s (${yes(eight.callsPerSecond >= singleRounds[0]!.callsPerSecond * 0.9)}: at least 0.9×).`,
      `Goal: p99 latency grows no worse than linearly in N: ${yes(p99Linear)}.`,
      "",
      `**Fairness.** While one client's \`add_examples\` of ${BULK_EXAMPLES} new images was extracting (${fairness.bulkSeconds.toFixed(1)} s in all), another client's \`classify_image\` of one new image took ` +
        `${ms(fairness.busyMs)} ms, ${ratio(fairness.busyMs / fairness.idleMs)}× its ${ms(fairness.idleMs)} ms on the idle server; the bulk call completed ${fairness.bulkDuring} of its extractions meanwhile ` +
        "(each of the single call's two queue jobs, image encoder and decoder, waits for at most one job per other busy session, not for the bulk call's backlog; the rest of its time is HTTP, image loading and decoding, which share the cores with the bulk call's).",
    ];
    return lines.join("\n");
  } finally {
    await Promise.all(servers.map(stop));
    await database?.drop().catch(() => undefined);
    await rm(work, { recursive: true, force: true });
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  runHttpBenchmark().then(
    (section) => process.stdout.write(`${section}\n`),
    (error: unknown) => {
      console.error(error);
      process.exit(1);
    },
  );
}

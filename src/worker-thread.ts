import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";

/**
 * Starts the worker thread whose entry is `name` (without extension) beside `moduleUrl`. From source (tests,
 * benchmarks under tsx) the entry is TypeScript: Node 20 does not apply ES module hooks in worker threads, so it
 * goes through tsx's require hook.
 */
export function startWorkerThread(moduleUrl: string, name: string): Worker {
  if (!moduleUrl.endsWith(".ts")) {
    // The thread needs none of the process's Node options (some, such as --input-type, would stop it).
    return new Worker(new URL(`./${name}.js`, moduleUrl), { execArgv: [] });
  }
  const requireHook = createRequire(moduleUrl).resolve("tsx/cjs/api");
  const script = fileURLToPath(new URL(`./${name}.ts`, moduleUrl));
  const bootstrap = `require(${JSON.stringify(requireHook)}).register(); require(${JSON.stringify(script)});`;
  return new Worker(bootstrap, { eval: true });
}

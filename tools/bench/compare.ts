/**
 * Helpers shared by the sections that compare sav-mcp with a peer on a big model in one process
 * (qwen2vl, llava, peer): the interleaved schedule, an RSS sampler, the host line, per-session timing of a
 * transformers.js model, summaries of head-vector agreement and the dtype choice. Pure apart from the RSS sampler, the host line and the session wrapper, and tested in test/tools/bench-compare.test.ts.
 */
import { readFileSync } from "node:fs";
import os from "node:os";

/**
 * Runs `a(round)` and `b(round)` once per round, rounds 0..rounds (round 0 is a warm-up and not returned),
 * alternating which goes first, so load drift on a shared host hits both sides alike.
 */
export async function interleaved<A, B>(rounds: number, a: (round: number) => Promise<A>, b: (round: number) => Promise<B>): Promise<{ a: A[]; b: B[] }> {
  const out = { a: [] as A[], b: [] as B[] };
  for (let round = 0; round <= rounds; round++) {
    const runA = async () => {
      const value = await a(round);
      if (round > 0) out.a.push(value);
    };
    const runB = async () => {
      const value = await b(round);
      if (round > 0) out.b.push(value);
    };
    if (round % 2 === 0) await runA().then(runB);
    else await runB().then(runA);
  }
  return out;
}

/** Samples this process's RSS every `intervalMs`; `stop()` returns the largest value seen (bytes). */
export function sampleRss(intervalMs = 100): { stop(): number } {
  let peak = process.memoryUsage().rss;
  const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), intervalMs);
  return {
    stop() {
      clearInterval(timer);
      return Math.max(peak, process.memoryUsage().rss);
    },
  };
}

/** The CPU model as /proc/cpuinfo names it (os.cpus() elsewhere). */
export function cpuModel(): string {
  try {
    const line = readFileSync("/proc/cpuinfo", "utf8").split("\n").find((l) => l.startsWith("model name"));
    if (line) return line.slice(line.indexOf(":") + 1).trim();
  } catch {
    // not Linux
  }
  return os.cpus()[0]?.model ?? "unknown CPU";
}

/** "host, CPU × cores, N GiB" for a section's header. */
export function hostLine(): string {
  return `${os.hostname()}, ${cpuModel()} × ${os.cpus().length}, ${Math.round(os.totalmem() / 2 ** 30)} GiB`;
}

export function cosine(a: ArrayLike<number>, b: ArrayLike<number>, from = 0, to = a.length): number {
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = from; i < to; i++) {
    dot += a[i]! * b[i]!;
    na += a[i]! * a[i]!;
    nb += b[i]! * b[i]!;
  }
  return na === 0 && nb === 0 ? 1 : dot / Math.sqrt(na * nb);
}

export interface Agreement {
  /** Per-head cosines over all compared pairs: mean, 5th percentile (lower), minimum. */
  meanCosine: number;
  p5Cosine: number;
  minCosine: number;
  /** Mean over pairs of the cosine of the whole vector. */
  wholeCosine: number;
  pairs: number;
}

/** Agreement of head vectors (each `[heads · headDim]`) with reference vectors of the same inputs. */
export function headAgreement(vectors: readonly ArrayLike<number>[], references: readonly ArrayLike<number>[], headDim: number): Agreement {
  if (vectors.length !== references.length || vectors.length === 0) throw new Error("headAgreement needs as many vectors as references, at least one");
  const perHead: number[] = [];
  const whole: number[] = [];
  vectors.forEach((vector, i) => {
    const reference = references[i]!;
    if (vector.length !== reference.length || vector.length % headDim !== 0) throw new Error(`vector ${i} does not match its reference in length or is not whole heads`);
    for (let at = 0; at < vector.length; at += headDim) perHead.push(cosine(vector, reference, at, at + headDim));
    whole.push(cosine(vector, reference));
  });
  const sorted = [...perHead].sort((x, y) => x - y);
  return {
    meanCosine: perHead.reduce((s, v) => s + v, 0) / perHead.length,
    p5Cosine: sorted[Math.floor(0.05 * (sorted.length - 1))]!,
    minCosine: sorted[0]!,
    wholeCosine: whole.reduce((s, v) => s + v, 0) / whole.length,
    pairs: vectors.length,
  };
}

/** Wraps each transformers.js session's run to add its time to the returned record (ms per session name). */
export function timeSessions(sessions: Record<string, { run: (...args: unknown[]) => Promise<unknown> }>): Record<string, number> {
  const times: Record<string, number> = {};
  for (const [name, session] of Object.entries(sessions)) {
    const run = session.run.bind(session);
    session.run = async (...args: unknown[]) => {
      const started = performance.now();
      try {
        return await run(...args);
      } finally {
        times[name] = (times[name] ?? 0) + performance.now() - started;
      }
    };
  }
  return times;
}

/**
 * Picks a component's default dtype from measured stage times: the fastest candidate, except that a
 * candidate riskier for accuracy than `safe` must beat it by `margin` (e.g. 0.1 = 10% faster) to be chosen.
 */
export function chooseDtype(times: Readonly<Record<string, number>>, candidates: readonly string[], safe: string, margin: number): string {
  const measured = candidates.filter((d) => Number.isFinite(times[d]));
  if (measured.length === 0) throw new Error(`no measured time for any of ${candidates.join(", ")}`);
  const fastest = measured.reduce((best, d) => (times[d]! < times[best]! ? d : best));
  if (fastest === safe || !Number.isFinite(times[safe])) return fastest;
  return times[fastest]! <= times[safe]! * (1 - margin) ? fastest : safe;
}

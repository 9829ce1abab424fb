/**
 * The hardware floor on this host: a register-blocked multiply-add kernel in C (12 independent vector
 * accumulators, so FMA latency is hidden; 64-byte vectors, split by the compiler on hosts without AVX-512), compiled at bench time with the host's `cc -O3 -march=native`
 * into a temporary directory, run on 1 and 2 threads in float64 and float32.
 */
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";

const KERNEL_SOURCE = String.raw`
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#define LANES_BYTES 64
typedef double vd __attribute__((vector_size(LANES_BYTES)));
typedef float vf __attribute__((vector_size(LANES_BYTES)));
static long iterations;
static double sink;
#define KERNEL(name, T, S) \
static void *name(void *arg) { \
  T a0 = {0}, a1 = {1}, a2 = {2}, a3 = {3}, a4 = {4}, a5 = {5}, a6 = {6}, a7 = {7}, a8 = {8}, a9 = {9}, a10 = {10}, a11 = {11}; \
  T x, y; for (unsigned i = 0; i < sizeof(T) / sizeof(S); i++) { x[i] = (S)1.0000001; y[i] = (S)0.9999999; } \
  for (long it = 0; it < iterations; it++) { \
    a0 = a0 * x + y; a1 = a1 * x + y; a2 = a2 * x + y; a3 = a3 * x + y; a4 = a4 * x + y; a5 = a5 * x + y; \
    a6 = a6 * x + y; a7 = a7 * x + y; a8 = a8 * x + y; a9 = a9 * x + y; a10 = a10 * x + y; a11 = a11 * x + y; \
    __asm__ volatile("" : "+v"(a0), "+v"(a1), "+v"(a2), "+v"(a3), "+v"(a4), "+v"(a5)); \
    __asm__ volatile("" : "+v"(a6), "+v"(a7), "+v"(a8), "+v"(a9), "+v"(a10), "+v"(a11)); \
  } \
  T s = a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7 + a8 + a9 + a10 + a11; sink += (double)s[0]; (void)arg; return NULL; \
}
KERNEL(run_f64, vd, double)
KERNEL(run_f32, vf, float)
int main(int argc, char **argv) {
  int f32 = strcmp(argv[1], "f32") == 0; int threads = atoi(argv[2]); iterations = atol(argv[3]);
  pthread_t t[64]; struct timespec start, end;
  clock_gettime(CLOCK_MONOTONIC, &start);
  for (int i = 0; i < threads; i++) pthread_create(&t[i], NULL, f32 ? run_f32 : run_f64, NULL);
  for (int i = 0; i < threads; i++) pthread_join(t[i], NULL);
  clock_gettime(CLOCK_MONOTONIC, &end);
  double seconds = (end.tv_sec - start.tv_sec) + 1e-9 * (end.tv_nsec - start.tv_nsec);
  double lanes = LANES_BYTES / (f32 ? 4.0 : 8.0);
  printf("%.3f\n", 2.0 * 12 * lanes * iterations * threads / seconds / 1e9);
  return sink == 42.0;
}
`;

export interface PeakFlops {
  compiler: string;
  /** GFLOP/s (a multiply-add counts 2), best of the runs. */
  f64: { threads1: number; threads2: number };
  f32: { threads1: number; threads2: number };
}

/** Compiles and runs the kernel; null (with the reason on stderr) when there is no C compiler. */
export function measurePeakFlops(log: (message: string) => void): PeakFlops | null {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "sav-peak-"));
  try {
    const source = path.join(dir, "peak.c");
    const binary = path.join(dir, "peak");
    fs.writeFileSync(source, KERNEL_SOURCE);
    try {
      execFileSync("cc", ["-O3", "-march=native", "-pthread", "-o", binary, source], { stdio: "pipe" });
    } catch (error) {
      log(`[peak] no peak kernel: cc failed (${error instanceof Error ? error.message.split("\n")[0] : String(error)})`);
      return null;
    }
    const compiler = execFileSync("cc", ["--version"], { encoding: "utf8" }).split("\n")[0]!;
    const run = (precision: "f64" | "f32", threads: number): number => {
      let best = 0;
      for (let repeat = 0; repeat < 3; repeat++) {
        best = Math.max(best, Number(execFileSync(binary, [precision, String(threads), "200000000"], { encoding: "utf8" })));
      }
      log(`[peak] ${precision} on ${threads} thread(s): ${best.toFixed(1)} GFLOP/s`);
      return best;
    };
    return {
      compiler,
      f64: { threads1: run("f64", 1), threads2: run("f64", 2) },
      f32: { threads1: run("f32", 1), threads2: run("f32", 2) },
    };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * The hardware floor on this host: a register-blocked multiply-add kernel in C (12 independent vector
 * accumulators, so FMA latency is hidden; 64-byte vectors, split by the compiler on hosts without AVX-512), compiled at bench time with the host's `cc -O3 -march=native`
 * into a temporary directory, run on 1 and 2 threads in float64, float32 and uint8 × int8 (VNNI where present).
 */
import { execFileSync, spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";

const KERNEL_SOURCE = String.raw`
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <immintrin.h>
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
/* uint8 x int8 multiply-adds into int32, as ONNX Runtime's MatMulInteger kernels do: VNNI where the host has it. */
#if defined(__AVX512VNNI__)
#define I8_MACS 64
typedef __m512i vi;
#define I8_ZERO() _mm512_setzero_si512()
#define I8_SET(v) _mm512_set1_epi8(v)
#define I8_MAC(acc, x, y) acc = _mm512_dpbusd_epi32(acc, x, y)
#define I8_LANE0(v) _mm512_cvtsi512_si32(v)
#define I8_ISA "AVX-512 VNNI (vpdpbusd)"
#elif defined(__AVXVNNI__)
#define I8_MACS 32
typedef __m256i vi;
#define I8_ZERO() _mm256_setzero_si256()
#define I8_SET(v) _mm256_set1_epi8(v)
#define I8_MAC(acc, x, y) acc = _mm256_dpbusd_avx_epi32(acc, x, y)
#define I8_LANE0(v) _mm256_cvtsi256_si32(v)
#define I8_ISA "AVX-VNNI (vpdpbusd)"
#elif defined(__AVX2__)
#define I8_MACS 32
typedef __m256i vi;
#define I8_ZERO() _mm256_setzero_si256()
#define I8_SET(v) _mm256_set1_epi8(v)
#define I8_MAC(acc, x, y) acc = _mm256_add_epi32(acc, _mm256_madd_epi16(_mm256_maddubs_epi16(x, y), _mm256_set1_epi16(1)))
#define I8_LANE0(v) _mm256_cvtsi256_si32(v)
#define I8_ISA "AVX2 (vpmaddubsw + vpmaddwd)"
#endif
#ifdef I8_MACS
static void *run_i8(void *arg) {
  vi a0 = I8_ZERO(), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0, a8 = a0, a9 = a0, a10 = a0, a11 = a0;
  vi x = I8_SET(3), y = I8_SET(1);
  for (long it = 0; it < iterations; it++) {
    I8_MAC(a0, x, y); I8_MAC(a1, x, y); I8_MAC(a2, x, y); I8_MAC(a3, x, y); I8_MAC(a4, x, y); I8_MAC(a5, x, y);
    I8_MAC(a6, x, y); I8_MAC(a7, x, y); I8_MAC(a8, x, y); I8_MAC(a9, x, y); I8_MAC(a10, x, y); I8_MAC(a11, x, y);
    __asm__ volatile("" : "+v"(a0), "+v"(a1), "+v"(a2), "+v"(a3), "+v"(a4), "+v"(a5));
    __asm__ volatile("" : "+v"(a6), "+v"(a7), "+v"(a8), "+v"(a9), "+v"(a10), "+v"(a11));
  }
  sink += I8_LANE0(a0) + I8_LANE0(a1) + I8_LANE0(a2) + I8_LANE0(a3) + I8_LANE0(a4) + I8_LANE0(a5) + I8_LANE0(a6) +
          I8_LANE0(a7) + I8_LANE0(a8) + I8_LANE0(a9) + I8_LANE0(a10) + I8_LANE0(a11);
  (void)arg; return NULL;
}
#endif
int main(int argc, char **argv) {
  int f32 = strcmp(argv[1], "f32") == 0, i8 = strcmp(argv[1], "i8") == 0; int threads = atoi(argv[2]); iterations = atol(argv[3]);
  void *(*kernel)(void *) = f32 ? run_f32 : run_f64;
  double lanes = LANES_BYTES / (f32 ? 4.0 : 8.0);
  if (i8) {
#ifdef I8_MACS
    kernel = run_i8; lanes = I8_MACS; fprintf(stderr, "%s\n", I8_ISA);
#else
    printf("0\n"); return 0;
#endif
  }
  pthread_t t[64]; struct timespec start, end;
  clock_gettime(CLOCK_MONOTONIC, &start);
  for (int i = 0; i < threads; i++) pthread_create(&t[i], NULL, kernel, NULL);
  for (int i = 0; i < threads; i++) pthread_join(t[i], NULL);
  clock_gettime(CLOCK_MONOTONIC, &end);
  double seconds = (end.tv_sec - start.tv_sec) + 1e-9 * (end.tv_nsec - start.tv_nsec);
  printf("%.3f\n", 2.0 * 12 * lanes * iterations * threads / seconds / 1e9);
  return sink == 42.0;
}
`;

export interface PeakFlops {
  compiler: string;
  /** GFLOP/s (a multiply-add counts 2), best of the runs. */
  f64: { threads1: number; threads2: number };
  f32: { threads1: number; threads2: number };
  /** uint8 × int8 multiply-adds into int32 (G op/s, a multiply-add counts 2); 0 when the host has no such instructions. */
  i8: { threads1: number; threads2: number; instructions: string };
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
    const run = (precision: "f64" | "f32" | "i8", threads: number): number => {
      let best = 0;
      for (let repeat = 0; repeat < 3; repeat++) {
        best = Math.max(best, Number(execFileSync(binary, [precision, String(threads), "200000000"], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] })));
      }
      log(`[peak] ${precision} on ${threads} thread(s): ${best.toFixed(1)} GFLOP/s`);
      return best;
    };
    return {
      compiler,
      f64: { threads1: run("f64", 1), threads2: run("f64", 2) },
      f32: { threads1: run("f32", 1), threads2: run("f32", 2) },
      i8: {
        threads1: run("i8", 1),
        threads2: run("i8", 2),
        instructions: spawnSync(binary, ["i8", "1", "1"], { encoding: "utf8" }).stderr.trim() || "none",
      },
    };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

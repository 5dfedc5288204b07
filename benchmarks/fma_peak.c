/* The CPU's float32 multiply-add peak on the calling thread, for the benchmark's report: twelve
 * independent chains of vector multiply-adds (enough to fill two pipes of latency 4 or 5), each
 * as wide as the compiler's -march=native allows (64 bytes with AVX-512, else 32), for a number of
 * rounds. Not shipped code: benchmarks/machine.py builds it with -O2 -march=native and calls it
 * from one and from two threads at once. */
#if defined(__AVX512F__)
#define BYTES 64
#else
#define BYTES 32
#endif
#define CHAINS 12 /* a0 … a11 below */

typedef float vec __attribute__((vector_size(BYTES)));

/* Runs `rounds` rounds of CHAINS multiply-adds of BYTES / 4 lanes and returns their sum (so that
 * the work is not optimised away); a round is 2 * CHAINS * BYTES / 4 FLOP. */
double fma_peak_run(long rounds) {
  vec b, c, a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11;
  for (int l = 0; l < BYTES / 4; ++l) {
    b[l] = 0.9999999f;
    c[l] = 1e-8f;
    a0[l] = 1.0f;
  }
  /* twelve chains in registers, each started apart */
  a1 = a0 + c, a2 = a1 + c, a3 = a2 + c, a4 = a3 + c, a5 = a4 + c, a6 = a5 + c;
  a7 = a6 + c, a8 = a7 + c, a9 = a8 + c, a10 = a9 + c, a11 = a10 + c;
  for (long k = 0; k < rounds; ++k) { /* each a * b + c contracts to one FMA (-O2, GNU C) */
    a0 = a0 * b + c, a1 = a1 * b + c, a2 = a2 * b + c, a3 = a3 * b + c;
    a4 = a4 * b + c, a5 = a5 * b + c, a6 = a6 * b + c, a7 = a7 * b + c;
    a8 = a8 * b + c, a9 = a9 * b + c, a10 = a10 * b + c, a11 = a11 * b + c;
  }
  vec s = a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7 + a8 + a9 + a10 + a11;
  double sum = 0;
  for (int l = 0; l < BYTES / 4; ++l) sum += s[l];
  return sum;
}

/* FLOP per round of fma_peak_run. */
long fma_peak_flop_per_round(void) { return 2L * CHAINS * (BYTES / 4); }

/* clockloop: the core clock, counted rather than read.

   /proc/cpuinfo's "cpu MHz" is, on many virtual machines, the nominal figure the kernel was
   given at boot (a 2-vCPU Xeon VM reports 2600 whatever the load), and arm64 reports none.
   This counts cycles instead. A chain of dependent integer adds, each needing the one before,
   retires one add per cycle on every x86-64 and Arm server core (a one-cycle ALU latency),
   however wide the core is; the loop's own counter and branch run beside the chain. So
   adds / this thread's CPU seconds is the clock while the thread ran. CPU time, not wall time:
   a loop that shares its core with an HPL rank is timed only while it runs.

   "vector" mode puts one fused multiply-add on the widest vectors the compiler targets
   (-march=native: 512-bit where the core has AVX-512, 256-bit AVX2 otherwise, 128-bit on Arm)
   between every two adds, on independent accumulators: half or less of any EC2 core's FMA
   throughput, so the add chain stays the critical path, while the core runs vector FMAs as HPL
   does. That is the clock an Intel core drops to under its AVX frequency licence; Graviton
   has no such licence and reads the same in both modes.

   Usage: clockloop [scalar|vector] [milliseconds]    prints one line: the clock in MHz.
   The milliseconds are the measured chunk's CPU time (default 50). */

#define _POSIX_C_SOURCE 199309L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#if defined(__x86_64__)
#define ADD "add %1, %0\n\t"
#elif defined(__aarch64__)
#define ADD "add %0, %0, %1\n\t"
#else
#error "clockloop: x86-64 or aarch64 only"
#endif

#define ADD4 ADD ADD ADD ADD
#define ADD16 ADD4 ADD4 ADD4 ADD4
#define ADD64 ADD16 ADD16 ADD16 ADD16
#define ADDS_PER_ITERATION 128 /* one ADD64 block per half iteration */
#define ACCUMULATORS 8        /* a0..a7: FMAs in flight, latency 4-5 x at most 0.5 per cycle < 8 */
#ifndef FMA8_PER_HALF
/* 4 x 8 = 32 FMAs per 64 adds: one per two. benchmarks/clock_loop.py builds 1 and 2 as well: a reading that
   does not move with the FMA density is the clock's, not the FMAs' throughput showing through. */
#define FMA8_PER_HALF 4
#endif

#if defined(__aarch64__)
typedef double vec __attribute__((vector_size(16)));
#else
typedef double vec __attribute__((vector_size(64)));
#endif

static double thread_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* The chain alone. `one` comes from the caller so that the compiler cannot fold the adds. */
static uint64_t scalar_chain(uint64_t iterations, uint64_t x, uint64_t one) {
    for (uint64_t i = 0; i < iterations; i++) {
        __asm__ volatile(ADD64 ADD64 : "+r"(x) : "r"(one));
    }
    return x;
}

/* The chain with FMAs beside it: 64 adds then 8 x FMA8_PER_HALF FMAs, twice per iteration. The accumulators
   live in registers (no store-to-load chain through memory to slow the FMAs down). */
#define FMA8                                                                                         \
    a0 = a0 * m + c; a1 = a1 * m + c; a2 = a2 * m + c; a3 = a3 * m + c;                              \
    a4 = a4 * m + c; a5 = a5 * m + c; a6 = a6 * m + c; a7 = a7 * m + c;
#define FMAS                                                                                         \
    _Pragma("GCC unroll 8") for (int r = 0; r < FMA8_PER_HALF; r++) { FMA8 }

static uint64_t vector_chain(uint64_t iterations, uint64_t x, uint64_t one, vec *acc, vec m, vec c) {
    vec a0 = acc[0], a1 = acc[1], a2 = acc[2], a3 = acc[3], a4 = acc[4], a5 = acc[5], a6 = acc[6], a7 = acc[7];
    for (uint64_t i = 0; i < iterations; i++) {
        __asm__ volatile(ADD64 : "+r"(x) : "r"(one));
        FMAS
        __asm__ volatile(ADD64 : "+r"(x) : "r"(one));
        FMAS
    }
    acc[0] = a0; acc[1] = a1; acc[2] = a2; acc[3] = a3; acc[4] = a4; acc[5] = a5; acc[6] = a6; acc[7] = a7;
    return x;
}

int main(int argc, char **argv) {
    int vector = argc > 1 && strcmp(argv[1], "vector") == 0;
    if (argc > 1 && !vector && strcmp(argv[1], "scalar") != 0) {
        fprintf(stderr, "usage: clockloop [scalar|vector] [milliseconds]\n");
        return 2;
    }
    double target = (argc > 2 ? atof(argv[2]) : 50.0) / 1000.0;
    if (!(target > 0.0)) {
        fprintf(stderr, "clockloop: milliseconds must be a positive number\n");
        return 2;
    }
    vec acc[ACCUMULATORS];
    vec m, c;
    for (size_t lane = 0; lane < sizeof(vec) / sizeof(double); lane++) {
        m[lane] = 0.999999;
        c[lane] = 1e-9 * (double)(lane + 1);
    }
    for (int k = 0; k < ACCUMULATORS; k++) acc[k] = c * (double)k;
    uint64_t one = (uint64_t)(argc > 0), x = 0, iterations = 1024;
    double seconds = 0.0;
    /* Double the chunk until it lasts a quarter of the target, then time one chunk of the target's length
       (the first passes also warm the core up to its working clock). */
    for (;;) {
        double start = thread_seconds();
        x = vector ? vector_chain(iterations, x, one, acc, m, c) : scalar_chain(iterations, x, one);
        seconds = thread_seconds() - start;
        if (seconds >= target * 0.9) break;
        uint64_t scale = seconds < target / 4 ? 2 : 1;
        iterations = scale == 2 ? iterations * 2 : (uint64_t)((double)iterations * target / seconds) + 1;
    }
    double checksum = 0.0;
    for (int k = 0; k < ACCUMULATORS; k++) checksum += acc[k][0];
    printf("%.1f\n", (double)iterations * ADDS_PER_ITERATION / seconds / 1e6);
    /* the chain's value and the FMAs' sum, to stderr: used, so never optimised away */
    fprintf(stderr, "adds %llu, checksum %g\n", (unsigned long long)x, checksum);
    return 0;
}

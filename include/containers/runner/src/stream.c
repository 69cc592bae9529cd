/*
 * stream.c - the instance-benchmarks project's own implementation of the
 * STREAM sustainable memory bandwidth benchmark (Copy, Scale, Add, Triad).
 *
 * It follows the run rules of the official STREAM benchmark (J. D. McCalpin,
 * https://www.cs.virginia.edu/stream/ref.html) but is written from scratch and
 * takes its sizes on the command line, so one binary serves every instance:
 *
 *   stream ARRAY_ELEMENTS NTIMES
 *
 * - three arrays of ARRAY_ELEMENTS doubles, first-touched in parallel with the
 *   same static schedule as the kernels (NUMA-local pages);
 * - each kernel runs NTIMES times; the first iteration is excluded from the
 *   statistics; the best (minimum) time gives the reported rate;
 * - the clock granularity is measured and the minimum time of each kernel is
 *   reported in clock ticks (the rules ask for at least 20);
 * - the final arrays are checked against the same sequence of operations
 *   replayed on scalars, with a relative tolerance of 1e-13 for doubles.
 *
 * Output is plain text, one "key: value" line per fact and one table row per
 * kernel, parsed by benchmark_runner/stream.py. Threads and placement come from
 * the OpenMP environment (OMP_NUM_THREADS, OMP_PROC_BIND, OMP_PLACES) and from
 * numactl, set by the caller.
 *
 * Built with -DSTREAM_NONTEMPORAL (x86 only), the kernels write with streaming
 * (non-temporal) stores, as vendor-tuned STREAM builds do: the destination is not
 * read into the cache before it is overwritten. The runner builds both variants,
 * measures both, uses the faster and records the choice.
 */
#include <float.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STREAM_VERSION "instance-benchmarks-stream 1.1"

#ifdef STREAM_NONTEMPORAL
#if !defined(__x86_64__)
#error "STREAM_NONTEMPORAL is implemented with x86 intrinsics only"
#endif
#include <immintrin.h>
#if defined(__AVX512F__)
#define VEC 8
typedef __m512d vec_t;
#define VLOAD _mm512_load_pd
#define VSTREAM _mm512_stream_pd
#define VSET1 _mm512_set1_pd
#define VADD _mm512_add_pd
#define VMUL _mm512_mul_pd
#elif defined(__AVX__)
#define VEC 4
typedef __m256d vec_t;
#define VLOAD _mm256_load_pd
#define VSTREAM _mm256_stream_pd
#define VSET1 _mm256_set1_pd
#define VADD _mm256_add_pd
#define VMUL _mm256_mul_pd
#else
#define VEC 2
typedef __m128d vec_t;
#define VLOAD _mm_load_pd
#define VSTREAM _mm_stream_pd
#define VSET1 _mm_set1_pd
#define VADD _mm_add_pd
#define VMUL _mm_mul_pd
#endif
#define STORES "nontemporal"
/* Each thread fences its own streaming stores before the region's closing barrier. */
#define KERNEL(expr)                                      \
    _Pragma("omp parallel") {                             \
        _Pragma("omp for schedule(static) nowait")        \
        for (size_t j = 0; j < n; j += VEC) { expr; }     \
        _mm_sfence();                                     \
    }
#else
#define STORES "regular"
#define KERNEL(expr)                                      \
    _Pragma("omp parallel for schedule(static)")          \
    for (size_t j = 0; j < n; j++) { expr; }
#endif
#define NKERNELS 4
#define ALIGNMENT 64
#define EPSILON_DOUBLE 1.0e-13
#define SCALAR 3.0

static const char *kernel_names[NKERNELS] = {"Copy", "Scale", "Add", "Triad"};

/* Minimum positive difference between successive omp_get_wtime() readings,
 * in microseconds, as the official checktick() measures it. */
static int checktick(void) {
    enum { M = 20 };
    double samples[M];
    for (int i = 0; i < M; i++) {
        double t1 = omp_get_wtime(), t2;
        while (((t2 = omp_get_wtime()) - t1) < 1.0e-6) {
        }
        samples[i] = t1 = t2;
    }
    int min_delta = 1000000;
    for (int i = 1; i < M; i++) {
        int delta = (int)(1.0e6 * (samples[i] - samples[i - 1]));
        if (delta > 0 && delta < min_delta) min_delta = delta;
    }
    return min_delta < 1 ? 1 : min_delta;
}

static double *alloc_array(size_t n) {
    void *p = NULL;
    if (posix_memalign(&p, ALIGNMENT, n * sizeof(double)) != 0) return NULL;
    return (double *)p;
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: %s ARRAY_ELEMENTS NTIMES\n", argv[0]);
        return 2;
    }
    char *end = NULL;
    long long n_arg = strtoll(argv[1], &end, 10);
    if (*end != '\0' || n_arg < 1000) {
        fprintf(stderr, "ARRAY_ELEMENTS must be an integer >= 1000, got '%s'\n", argv[1]);
        return 2;
    }
    long ntimes = strtol(argv[2], &end, 10);
    if (*end != '\0' || ntimes < 2) {
        fprintf(stderr, "NTIMES must be an integer >= 2 (the first iteration is excluded), got '%s'\n",
                argv[2]);
        return 2;
    }
    const size_t n = (size_t)n_arg;
#ifdef STREAM_NONTEMPORAL
    if (n % VEC != 0) {
        fprintf(stderr, "ARRAY_ELEMENTS must be a multiple of %d for vector streaming stores\n", VEC);
        return 2;
    }
#endif

    double *restrict a = alloc_array(n);
    double *restrict b = alloc_array(n);
    double *restrict c = alloc_array(n);
    double *times = calloc((size_t)NKERNELS * (size_t)ntimes, sizeof(double));
    if (!a || !b || !c || !times) {
        fprintf(stderr, "cannot allocate 3 arrays of %zu doubles\n", n);
        return 3;
    }

    int threads = 1;
#pragma omp parallel
    {
#pragma omp master
        threads = omp_get_num_threads();
    }

    const double mib = 1024.0 * 1024.0;
    printf("version: %s\n", STREAM_VERSION);
    printf("array_elements: %zu\n", n);
    printf("bytes_per_element: %zu\n", sizeof(double));
    printf("mib_per_array: %.1f\n", n * sizeof(double) / mib);
    printf("mib_total: %.1f\n", 3.0 * n * sizeof(double) / mib);
    printf("ntimes: %ld\n", ntimes);
    printf("threads: %d\n", threads);
    printf("stores: %s\n", STORES);

    /* Parallel first touch with the kernels' schedule. */
#pragma omp parallel for schedule(static)
    for (size_t j = 0; j < n; j++) {
        a[j] = 1.0;
        b[j] = 2.0;
        c[j] = 0.0;
    }

    int granularity_us = checktick();
    printf("granularity_us: %d\n", granularity_us);

    /* One timed pass of a *= 2 to estimate the cost, as the reference does. */
    double t = omp_get_wtime();
#pragma omp parallel for schedule(static)
    for (size_t j = 0; j < n; j++) a[j] = 2.0 * a[j];
    t = 1.0e6 * (omp_get_wtime() - t);
    printf("test_time_us: %d\n", (int)t);

    const double scalar = SCALAR;
#ifdef STREAM_NONTEMPORAL
    const vec_t vscalar = VSET1(scalar);
#endif
    for (long k = 0; k < ntimes; k++) {
        double *tk = times + (size_t)k * NKERNELS;

        tk[0] = omp_get_wtime();
#ifdef STREAM_NONTEMPORAL
        KERNEL(VSTREAM(&c[j], VLOAD(&a[j])))
#else
        KERNEL(c[j] = a[j])
#endif
        tk[0] = omp_get_wtime() - tk[0];

        tk[1] = omp_get_wtime();
#ifdef STREAM_NONTEMPORAL
        KERNEL(VSTREAM(&b[j], VMUL(vscalar, VLOAD(&c[j]))))
#else
        KERNEL(b[j] = scalar * c[j])
#endif
        tk[1] = omp_get_wtime() - tk[1];

        tk[2] = omp_get_wtime();
#ifdef STREAM_NONTEMPORAL
        KERNEL(VSTREAM(&c[j], VADD(VLOAD(&a[j]), VLOAD(&b[j]))))
#else
        KERNEL(c[j] = a[j] + b[j])
#endif
        tk[2] = omp_get_wtime() - tk[2];

        tk[3] = omp_get_wtime();
#ifdef STREAM_NONTEMPORAL
        KERNEL(VSTREAM(&a[j], VADD(VLOAD(&b[j]), VMUL(vscalar, VLOAD(&c[j])))))
#else
        KERNEL(a[j] = b[j] + scalar * c[j])
#endif
        tk[3] = omp_get_wtime() - tk[3];
    }

    /* Bytes moved per iteration: Copy and Scale touch 2 arrays, Add and Triad 3. */
    const double bytes[NKERNELS] = {2.0 * sizeof(double) * n, 2.0 * sizeof(double) * n,
                                    3.0 * sizeof(double) * n, 3.0 * sizeof(double) * n};
    printf("%-8s %16s %12s %12s %12s %12s\n", "Function", "BestRateMBps", "AvgTime", "MinTime", "MaxTime",
           "MinTicks");
    for (int j = 0; j < NKERNELS; j++) {
        double min_t = FLT_MAX, max_t = 0.0, sum_t = 0.0;
        for (long k = 1; k < ntimes; k++) { /* first iteration excluded */
            double v = times[(size_t)k * NKERNELS + j];
            sum_t += v;
            if (v < min_t) min_t = v;
            if (v > max_t) max_t = v;
        }
        double avg_t = sum_t / (double)(ntimes - 1);
        printf("%-8s %16.1f %12.6f %12.6f %12.6f %12.0f\n", kernel_names[j], 1.0e-6 * bytes[j] / min_t, avg_t,
               min_t, max_t, 1.0e6 * min_t / granularity_us);
    }
    printf("raw_times_s:");
    for (long k = 0; k < ntimes; k++)
        for (int j = 0; j < NKERNELS; j++) printf(" %.9f", times[(size_t)k * NKERNELS + j]);
    printf("\n");

    /* Validation: replay the operations on scalars (including the a *= 2 pass). */
    double aj = 2.0, bj = 2.0, cj = 0.0;
    for (long k = 0; k < ntimes; k++) {
        cj = aj;
        bj = scalar * cj;
        cj = aj + bj;
        aj = bj + scalar * cj;
    }
    double a_err = 0.0, b_err = 0.0, c_err = 0.0;
#pragma omp parallel for schedule(static) reduction(+ : a_err, b_err, c_err)
    for (size_t j = 0; j < n; j++) {
        a_err += fabs(a[j] - aj);
        b_err += fabs(b[j] - bj);
        c_err += fabs(c[j] - cj);
    }
    double rel[3] = {fabs(a_err / n / aj), fabs(b_err / n / bj), fabs(c_err / n / cj)};
    const char *names[3] = {"a", "b", "c"};
    int failed = 0;
    for (int i = 0; i < 3; i++) {
        printf("relative_error_%s: %.3e\n", names[i], rel[i]);
        if (rel[i] > EPSILON_DOUBLE) failed = 1;
    }
    printf("validation_epsilon: %.1e\n", EPSILON_DOUBLE);
    printf("validated: %s\n", failed ? "false" : "true");

    free(a);
    free(b);
    free(c);
    free(times);
    return failed ? 4 : 0;
}

/* bench_cpu.c: the CPU int8 GEMM (quant_matmul_i8_i32) and quant/'s fixed-order float
 * GEMMs (quant_matmul_ref_f64, quant_matmul_f32) against OpenBLAS's cblas_dgemm and
 * cblas_sgemm of the same shapes.
 *
 * Build and run: make bench-cpu. Prints, per shape, the median of several interleaved
 * timed runs (after one warm-up) in ms and GOP/s (2mnk / time) and the ratio
 * int8 time / dgemm time (below 1 means the int8 GEMM is faster). Exits 0 unless an
 * allocation or a quant call fails.
 */
#include <cblas.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#ifdef _OPENMP
#include <omp.h>
#endif
#include "../quant/quant.h"

#define BENCH_RUNS 7

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* Deterministic xorshift so runs are comparable. */
static uint64_t next_u64(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

typedef struct {
    int64_t m, n, k;
    int8_t *qx, *qw;
    int32_t *acc;
    double *xd, *wd, *yd;
    float *xf, *wf, *yf;
} bench_case;

enum { BENCH_I8, BENCH_F64, BENCH_F32, BENCH_Q64, BENCH_Q32, BENCH_N };

static int run_once(bench_case *c, int which)
{
    int m = (int)c->m, n = (int)c->n, k = (int)c->k;
    if (which == BENCH_I8)
        return quant_matmul_i8_i32(c->qx, c->qw, c->m, c->k, c->n, c->acc) == QUANT_OK ? 0 : -1;
    if (which == BENCH_Q64)
        return quant_matmul_ref_f64(c->xf, c->wf, c->m, c->k, c->n, c->yd) == QUANT_OK ? 0 : -1;
    if (which == BENCH_Q32)
        return quant_matmul_f32(c->xf, c->wf, c->m, c->k, c->n, c->yf) == QUANT_OK ? 0 : -1;
    if (which == BENCH_F64)
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, n, k, 1.0, c->xd, k, c->wd, k,
                    0.0, c->yd, n);
    else
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, n, k, 1.0f, c->xf, k, c->wf, k,
                    0.0f, c->yf, n);
    return 0;
}

/* Median ms of each GEMM. The runs are interleaved (int8, f64, f32, int8, ...) so
 * that load from elsewhere on the machine biases all three alike and the ratio
 * stays meaningful. */
static int time_medians_ms(bench_case *c, double ms[BENCH_N])
{
    double t[BENCH_N][BENCH_RUNS];
    for (int which = 0; which < BENCH_N; which++)
        if (run_once(c, which) != 0)
            return -1;
    for (int r = 0; r < BENCH_RUNS; r++)
        for (int which = 0; which < BENCH_N; which++) {
            double t0 = now_s();
            if (run_once(c, which) != 0)
                return -1;
            t[which][r] = (now_s() - t0) * 1e3;
        }
    for (int which = 0; which < BENCH_N; which++)
        ms[which] = median(t[which], BENCH_RUNS);
    return 0;
}

static int bench_shape(int64_t m, int64_t n, int64_t k)
{
    bench_case c = {m, n, k, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL};
    c.qx = malloc((size_t)(m * k));
    c.qw = malloc((size_t)(n * k));
    c.acc = malloc((size_t)(m * n) * sizeof *c.acc);
    c.xd = malloc((size_t)(m * k) * sizeof *c.xd);
    c.wd = malloc((size_t)(n * k) * sizeof *c.wd);
    c.yd = malloc((size_t)(m * n) * sizeof *c.yd);
    c.xf = malloc((size_t)(m * k) * sizeof *c.xf);
    c.wf = malloc((size_t)(n * k) * sizeof *c.wf);
    c.yf = malloc((size_t)(m * n) * sizeof *c.yf);
    int rc = -1;
    if (!c.qx || !c.qw || !c.acc || !c.xd || !c.wd || !c.yd || !c.xf || !c.wf || !c.yf) {
        fprintf(stderr, "bench-cpu: out of memory at %lldx%lldx%lld\n", (long long)m,
                (long long)n, (long long)k);
        goto done;
    }
    uint64_t seed = 0x9e3779b97f4a7c15ull;
    for (int64_t i = 0; i < m * k; i++) {
        uint64_t r = next_u64(&seed);
        c.qx[i] = (int8_t)((int)(r % 255) - 127);
        c.xf[i] = (float)((double)(r >> 11) / 9007199254740992.0 - 0.5);
        c.xd[i] = c.xf[i];
    }
    for (int64_t i = 0; i < n * k; i++) {
        uint64_t r = next_u64(&seed);
        c.qw[i] = (int8_t)((int)(r % 255) - 127);
        c.wf[i] = (float)((double)(r >> 11) / 9007199254740992.0 - 0.5);
        c.wd[i] = c.wf[i];
    }
    double ms[BENCH_N];
    if (time_medians_ms(&c, ms) != 0) {
        fprintf(stderr, "bench-cpu: quant_matmul_i8_i32 failed\n");
        goto done;
    }
    double ops = 2.0 * (double)m * (double)n * (double)k;
    const char *names[BENCH_N] = {"int8 -> int32 (quant)", "float64 cblas_dgemm", "float32 cblas_sgemm",
                                  "float64 fixed (quant)", "float32 fixed (quant)"};
    for (int which = 0; which < BENCH_N; which++)
        printf("%5lld %5lld %5lld  %-22s %10.3f %10.1f %9.3f\n", (long long)m, (long long)n,
               (long long)k, names[which], ms[which], ops / (ms[which] * 1e-3) / 1e9,
               ms[which] / ms[BENCH_F64]);
    printf("  -> int8 / float64 time ratio at %lld^3: %.3f (%s)\n\n", (long long)m,
           ms[BENCH_I8] / ms[BENCH_F64],
           ms[BENCH_I8] <= ms[BENCH_F64] ? "int8 no slower: target met" : "int8 SLOWER than dgemm");
    rc = 0;
done:
    free(c.qx); free(c.qw); free(c.acc);
    free(c.xd); free(c.wd); free(c.yd);
    free(c.xf); free(c.wf); free(c.yf);
    return rc;
}

/* A nominal int8 peak of this CPU: cores x clock x int8 operations per cycle and core,
 * where a multiply-add counts two: 128 with AVX-512 VNNI (one 512-bit vpdpbusd, 64
 * multiply-adds, per cycle), 64 with AVX2 (vpmaddubsw + vpmaddwd, 32 per cycle), 32
 * otherwise. The clock is /proc/cpuinfo's "cpu MHz" (the current clock, not a turbo
 * figure). An upper bound for comparison, not a measurement; 0 when unreadable. */
static double int8_peak_gops(int cores, const char **how)
{
    FILE *f = fopen("/proc/cpuinfo", "r");
    double mhz = 0;
    int vnni = 0, avx2 = 0;
    char line[4096];
    while (f && fgets(line, sizeof line, f)) {
        if (mhz == 0)
            sscanf(line, "cpu MHz : %lf", &mhz);
        if (!strncmp(line, "flags", 5)) {
            vnni |= strstr(line, " avx512_vnni") != NULL;
            avx2 |= strstr(line, " avx2") != NULL;
        }
    }
    if (f)
        fclose(f);
    int ops = vnni ? 128 : avx2 ? 64 : 32;
    *how = vnni ? "AVX-512 VNNI: 128 int8 ops/cycle/core" : avx2 ? "AVX2: 64 int8 ops/cycle/core"
                                                             : "no int8 SIMD: 32 ops/cycle/core";
    return (double)cores * mhz * 1e6 * ops / 1e9;
}

int main(void)
{
    int threads = 1;
#ifdef _OPENMP
    threads = omp_get_max_threads();
#endif
    printf("bench-cpu: median of %d runs after 1 warm-up; %d OpenMP threads; "
           "OpenBLAS config: %s\n", BENCH_RUNS, threads, openblas_get_config());
    printf("ratio = time / float64 dgemm time (below 1: faster than the reference GEMM)\n\n");
    printf("%5s %5s %5s  %-22s %10s %10s %9s\n", "m", "n", "k", "gemm", "ms", "GOP/s", "ratio");
    const int64_t sizes[2] = {1024, 2048};
    for (int s = 0; s < 2; s++)
        if (bench_shape(sizes[s], sizes[s], sizes[s]) != 0)
            return 1;
    const char *how;
    double peak = int8_peak_gops(threads, &how);
    if (peak > 0)
        printf("int8 nominal peak of this CPU: %.0f GOP/s (%d cores x current clock x %s); the int8 rows above "
               "are that fraction of it\n", peak, threads, how);
    return 0;
}

/* test_backend_cuda.c: the cuda backend against the cpu backend (quant/) point by
 * point, for every kind of scheme it runs: float, int8 and fp8 (with the outlier
 * decomposition and SmoothQuant) and the 4-bit weight-only schemes on both of their
 * paths (GEMV for m <= 16, dequantize + GEMM above).
 *
 * The two backends must agree on Y within 1e-5 of max|Y| (same operands, float32
 * sums in another order), on the operand errors within 1e-6 relative, on the
 * outlier count exactly, and on every memory column exactly (w_bytes and its parts
 * are formulas of the stored format, not measurements). The timed loop runs too, so
 * the stage names and sample counts are checked: the e4m3 GEMM stage is the one the
 * backend chose (cuBLASLt's fp8 GEMM, or the widened fp16 GEMM with the reason in
 * the point's message). A job that measures no error (skip_error) gives the same
 * memory columns and outlier count without touching Y. Skips, saying why, without a
 * GPU.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backends/backend.h"
#include "../../kernels/qlab_cuda.h"
#include "gpu_test.h"

static void skip_without_gpu(void)
{
    char why[512];
    if (!qlab_backend_cuda.available(why, sizeof why))
        cr_skip_test("no usable GPU: %s", why);
}

static void fill(float *v, int64_t rows, int64_t cols, uint64_t seed, double std, int64_t hot)
{
    uint64_t s = gauss_seed(seed);
    for (int64_t i = 0; i < rows * cols; i++) {
        double g = std * gauss_next(&s);
        if (hot >= 0 && i % cols == hot)
            g *= 20.0;
        v[i] = (float)g;
    }
}

static int has_stage(const qlab_samples *s, const char *stage)
{
    for (int64_t i = 0; i < s->n; i++)
        if (!strcmp(s->v[i].stage, stage))
            return 1;
    return 0;
}

static quant_gran gran_named(const char *g)
{
    return !strcmp(g, "row") ? QUANT_GRAN_ROW : !strcmp(g, "channel") ? QUANT_GRAN_CHANNEL : QUANT_GRAN_TENSOR;
}

/* The GEMM stage the cuda backend names for an e4m3 point of this shape: gemm_fp8
 * when a layer of that shape runs cuBLASLt's fp8 GEMM (qk_linear_fp8_native, which
 * the backend asks too), else gemm_fp8_as_fp16. Logs the layer's note. */
static const char *e4m3_stage(const char *xg, const char *wg, double t, int64_t m, int64_t k, int64_t n)
{
    char why[256];
    qk_ctx *c = NULL;
    cr_assert_eq(qk_ctx_create(0, &c, why, sizeof why), QK_OK, "%s", why);
    float *w = calloc((size_t)(n * k), sizeof *w);
    cr_assert_not_null(w);
    float *d_w = gpu_up(c, w, (size_t)(n * k) * sizeof *w);
    qk_linear_opts lo = { .scheme = QUANT_SCHEME_FP8_E4M3, .x_gran = gran_named(xg), .w_gran = gran_named(wg),
                          .threshold = (float)t, .outlier_weights = QUANT_OUTLIER_FP16 };
    qk_linear *lin = NULL;
    cr_assert_eq(qk_linear_create(c, &lo, d_w, m, k, n, &lin), QK_OK, "%s", qk_ctx_error(c));
    const int native = qk_linear_fp8_native(lin);
    cr_log_info("e4m3 [%lld,%lld,%lld]: %s %s", (long long)m, (long long)k, (long long)n,
                native ? "cuBLASLt fp8 GEMM" : "widened fp16 GEMM:", qk_linear_note(lin));
    if (!native)
        cr_assert(qk_linear_note(lin)[0], "an e4m3 layer on the widened path must say why");
    qk_linear_free(c, lin);
    qk_free(c, d_w);
    free(w);
    qk_ctx_free(c);
    return native ? "gemm_fp8" : "gemm_fp8_as_fp16";
}

/* Runs one point on both backends and checks them against each other; returns the
 * cuda point's peak_bytes. expect_stage NULL: an e4m3 point, whose GEMM stage is the
 * one e4m3_stage says the backend chose. */
static int64_t check_point(const char *scheme, const char *xg, const char *wg, double t, double alpha, int64_t m,
                           int64_t k, int64_t n, const char *expect_stage)
{
    qlab_point p;
    memset(&p, 0, sizeof p);
    snprintf(p.workload, sizeof p.workload, "synthetic");
    snprintf(p.scheme, sizeof p.scheme, "%s", scheme);
    snprintf(p.x_granularity, sizeof p.x_granularity, "%s", xg);
    snprintf(p.w_granularity, sizeof p.w_granularity, "%s", wg);
    if (t > 0)
        snprintf(p.outlier_weights, sizeof p.outlier_weights, "fp16");
    p.threshold = t;
    p.smooth_alpha = alpha;
    p.m = m;
    p.k = k;
    p.n = n;
    if (!expect_stage)
        expect_stage = e4m3_stage(xg, wg, t, m, k, n);
    float *x = malloc((size_t)(m * k) * 4), *w = malloc((size_t)(n * k) * 4), *b = malloc((size_t)n * 4);
    float *ycpu = malloc((size_t)(m * n) * 4), *ygpu = malloc((size_t)(m * n) * 4);
    cr_assert(x && w && b && ycpu && ygpu);
    fill(x, m, k, 31, 1.0, 5);
    fill(w, n, k, 32, 0.02, -1);
    for (int64_t j = 0; j < n; j++)
        b[j] = 0.01f * (float)(j % 5);
    qlab_timing_opts to = { .warmup = 1, .min_samples = 3, .max_noise = 1.0, .min_time_s = 0.0, .timeout_s = 2.0 };
    qlab_backend_job job = { .p = &p, .x = x, .w = w, .bias = b, .measure_latency = 0, .measure_memory = 1,
                             .timing = &to };
    qlab_row rc, rg;
    memset(&rc, 0, sizeof rc);
    memset(&rg, 0, sizeof rg);
    qlab_samples sc = { 0 }, sg = { 0 };
    char err[512] = "";
    cr_assert_eq(qlab_backend_cpu.run(&job, ycpu, &rc, &sc, err, sizeof err), 0, "%s on cpu: %s", scheme, err);
    job.measure_latency = 1;
    cr_assert_eq(qlab_backend_cuda.run(&job, ygpu, &rg, &sg, err, sizeof err), 0, "%s on cuda: %s", scheme, err);

    char what[200];
    snprintf(what, sizeof what, "%s x:%s w:%s t=%g alpha=%g [%lld,%lld,%lld]", scheme, xg, wg, t, alpha, (long long)m,
             (long long)k, (long long)n);
    double ymax = 0, dmax = 0;
    for (int64_t i = 0; i < m * n; i++) {
        ymax = fmax(ymax, fabs((double)ycpu[i]));
        dmax = fmax(dmax, fabs((double)ygpu[i] - (double)ycpu[i]));
    }
    /* 1e-5 of max|Y|, except the native e4m3 GEMM, whose accumulator is narrower than
     * fp32 (see tests/gpu/test_fp8.c): 1e-3 */
    const double tol = strcmp(expect_stage, "gemm_fp8") == 0 ? 1e-3 : 1e-5;
    cr_log_info("%s: max |Y_cuda - Y_cpu| / max|Y| = %.3g (tolerance %g)", what, dmax / fmax(ymax, 1e-300), tol);
    cr_assert(dmax <= tol * ymax, "%s: max |Y_cuda - Y_cpu| = %g > %g max|Y| = %g", what, dmax, tol, tol * ymax);
    cr_assert_eq(rg.outlier_cols, rc.outlier_cols, "%s: outlier columns cuda %lld cpu %lld", what,
                 (long long)rg.outlier_cols, (long long)rc.outlier_cols);
    cr_assert(fabs(rg.x_rel_err - rc.x_rel_err) <= 1e-6 * fmax(rc.x_rel_err, 1e-30) + 1e-12,
              "%s: x_rel_err cuda %.9g cpu %.9g", what, rg.x_rel_err, rc.x_rel_err);
    cr_assert(fabs(rg.w_rel_err - rc.w_rel_err) <= 1e-6 * fmax(rc.w_rel_err, 1e-30) + 1e-12,
              "%s: w_rel_err cuda %.9g cpu %.9g", what, rg.w_rel_err, rc.w_rel_err);
    cr_assert_eq(rg.w_bytes, rc.w_bytes, "%s: w_bytes cuda %lld cpu %lld", what, (long long)rg.w_bytes,
                 (long long)rc.w_bytes);
    cr_assert_eq(rg.w_code_bytes, rc.w_code_bytes, "%s: w_code_bytes", what);
    cr_assert_eq(rg.w_scale_bytes, rc.w_scale_bytes, "%s: w_scale_bytes", what);
    cr_assert_eq(rg.w_scale2_bytes, rc.w_scale2_bytes, "%s: w_scale2_bytes", what);
    cr_assert_eq(rg.w_outlier_bytes, rc.w_outlier_bytes, "%s: w_outlier_bytes", what);
    cr_assert_eq(rg.w_bytes, rg.w_code_bytes + rg.w_scale_bytes + rg.w_scale2_bytes + rg.w_outlier_bytes,
                 "%s: w_bytes is not the sum of its parts", what);
    cr_assert_eq(rg.x_bytes, rc.x_bytes, "%s: x_bytes cuda %lld cpu %lld", what, (long long)rg.x_bytes,
                 (long long)rc.x_bytes);
    cr_assert(rg.t.samples >= 3 && rg.t.median_us > 0, "%s: %lld samples, median %g us", what,
              (long long)rg.t.samples, rg.t.median_us);
    cr_assert(has_stage(&sg, "total") && has_stage(&sg, "fp16_gemm") && has_stage(&sg, expect_stage),
              "%s: stage %s (or total / fp16_gemm) missing from the samples", what, expect_stage);
    if (rg.message[0])
        cr_log_info("%s: message: %s", what, rg.message);
    if (!strcmp(expect_stage, "gemm_fp8_as_fp16"))
        cr_assert(strstr(rg.message, "widened") != NULL, "%s: the widened fp8 path must give its reason, got '%s'",
                  what, rg.message);

    /* The same point measuring no error: no checked run, Y untouched, and the same
     * memory columns, outlier count and stages. */
    qlab_row rs;
    memset(&rs, 0, sizeof rs);
    qlab_samples ss = { 0 };
    for (int64_t i = 0; i < m * n; i++)
        ygpu[i] = NAN;
    job.skip_error = 1;
    cr_assert_eq(qlab_backend_cuda.run(&job, ygpu, &rs, &ss, err, sizeof err), 0, "%s without error: %s", what, err);
    for (int64_t i = 0; i < m * n; i++)
        cr_assert(isnan(ygpu[i]), "%s without error: Y[%lld] was written", what, (long long)i);
    cr_assert_eq(rs.outlier_cols, rg.outlier_cols, "%s without error: outlier columns %lld, with %lld", what,
                 (long long)rs.outlier_cols, (long long)rg.outlier_cols);
    cr_assert(rs.w_bytes == rg.w_bytes && rs.w_code_bytes == rg.w_code_bytes && rs.w_scale_bytes == rg.w_scale_bytes &&
                  rs.w_scale2_bytes == rg.w_scale2_bytes && rs.w_outlier_bytes == rg.w_outlier_bytes &&
                  rs.x_bytes == rg.x_bytes,
              "%s without error: memory columns differ", what);
    cr_assert(has_stage(&ss, "total") && has_stage(&ss, expect_stage), "%s without error: stages missing", what);
    qlab_samples_free(&ss);
    qlab_samples_free(&sc);
    qlab_samples_free(&sg);
    free(x);
    free(w);
    free(b);
    free(ycpu);
    free(ygpu);
    return rg.peak_bytes;
}

Test(backend_cuda, int8_and_fp8_match_the_cpu_backend)
{
    skip_without_gpu();
    char why[256];
    qk_ctx *c = NULL;
    cr_assert_eq(qk_ctx_create(0, &c, why, sizeof why), QK_OK, "%s", why);
    if (!qk_fp8_gemm_supported(c, why, sizeof why))
        cr_log_info("no fp8 GEMM on this device: %s", why);
    qk_ctx_free(c);
    check_point("absmax", "row", "channel", 0, 0, 64, 256, 96, "gemm_i8");
    check_point("zeropoint", "tensor", "tensor", 6, 0, 29, 96, 40, "outlier_gemm");
    check_point("absmax", "row", "channel", 0, 0.5, 64, 256, 96, "gemm_i8");
    /* decode-sized int8: cuBLASLt may refuse so few rows; the backend pads them */
    check_point("absmax", "row", "channel", 0, 0, 1, 256, 96, "gemm_i8");
    check_point("fp8_e4m3", "row", "channel", 0, 0, 64, 256, 96, NULL);
    check_point("fp8_e4m3", "tensor", "tensor", 6, 0, 33, 80, 24, NULL);
    check_point("fp8_e5m2", "row", "channel", 6, 0.5, 64, 256, 96, "gemm_fp8_as_fp16");
}

Test(backend_cuda, fourbit_matches_the_cpu_backend_on_both_paths)
{
    skip_without_gpu();
    /* m = 8 takes the fused GEMV, m = 64 dequantize + GEMM; k = 320 gives 5 blocks of
     * 64 per row and, with n = 96, 480 block scales: two second-level runs. */
    check_point("nf4", "tensor", "block", 0, 0, 8, 320, 96, "gemv_4bit");
    check_point("fp4", "tensor", "block", 0, 0, 64, 320, 96, "gemm_f16");
    check_point("nf4_dq", "tensor", "block", 0, 0, 8, 320, 96, "dequant_scales");
    check_point("fp4_dq", "tensor", "block", 0, 0, 64, 320, 96, "dequant_w");
}

Test(backend_cuda, float_schemes_keep_their_memory_columns)
{
    skip_without_gpu();
    check_point("fp16", "tensor", "tensor", 0, 0, 16, 64, 32, "total");
    check_point("bf16", "tensor", "tensor", 0, 0, 16, 64, 32, "total");
}

Test(backend_cuda, peak_bytes_is_the_same_for_the_first_timed_point_and_the_next)
{
    skip_without_gpu();
    /* the context's one-time buffers (cuBLASLt workspace, L2 flush buffer) must not
     * land in the first point's peak: the same point twice, the same peak */
    const int64_t first = check_point("absmax", "row", "channel", 0, 0, 64, 256, 96, "gemm_i8");
    const int64_t second = check_point("absmax", "row", "channel", 0, 0, 64, 256, 96, "gemm_i8");
    cr_assert_gt(first, 0);
    cr_assert_eq(first, second, "peak_bytes %lld on the first point, %lld on the same point again",
                 (long long)first, (long long)second);
    /* and it is the point's own buffers: far below the 64 MiB flush buffer */
    cr_assert_lt(first, (int64_t)64 << 20, "peak_bytes %lld", (long long)first);
}

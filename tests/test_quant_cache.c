/* test_quant_cache.c: work shared between points changes no bit.
 *
 * quant_cache keeps W quantized and the LLM.int8() outlier product between calls on
 * the same operands, and the int8 product skips the zeroed outlier columns. Both are
 * pure savings: every Y and every info field must equal, bit for bit, the call
 * without a cache, and the int8 part must equal quant_matmul_q over the whole k.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "../quant/quant.h"
#include "../quant/quant_internal.h"
#include "test_quant_util.h"

enum { M = 24, K = 96, N = 20 };

/* X with a few large columns (they become outliers at thresholds 2..6) and a spread of
 * ordinary values; W small. */
static void make_operands(float *x, float *w)
{
    tq_fill_normal(x, M * K, 101, 1.0);
    tq_fill_normal(w, N * K, 102, 0.05);
    const int64_t big[] = {3, 17, 40, 41, 90};
    for (int64_t i = 0; i < M; i++)
        for (size_t c = 0; c < sizeof big / sizeof big[0]; c++)
            x[i * K + big[c]] *= (float)(8 + 2 * c);
}

typedef struct {
    quant_matmul_opts o;
    float y[M * N];
    quant_matmul_info info;
    quant_status st;
} call;

static int same_call(const call *a, const call *b)
{
    return a->st == b->st && memcmp(a->y, b->y, sizeof a->y) == 0 &&
           a->info.outlier_cols == b->info.outlier_cols &&
           memcmp(&a->info.x_rel_err, &b->info.x_rel_err, sizeof(double)) == 0 &&
           memcmp(&a->info.w_rel_err, &b->info.w_rel_err, sizeof(double)) == 0 &&
           a->info.w_bytes == b->info.w_bytes && a->info.x_bytes == b->info.x_bytes &&
           a->info.w_code_bytes == b->info.w_code_bytes && a->info.w_scale_bytes == b->info.w_scale_bytes &&
           a->info.w_outlier_bytes == b->info.w_outlier_bytes;
}

/* Every int8 / fp8 option that the cache keys on or must tell apart. */
static int make_opts(quant_matmul_opts *v)
{
    static const quant_scheme schemes[] = {QUANT_SCHEME_ABSMAX, QUANT_SCHEME_ZEROPOINT, QUANT_SCHEME_FP8_E4M3};
    static const quant_gran xg[] = {QUANT_GRAN_TENSOR, QUANT_GRAN_ROW, QUANT_GRAN_BLOCK};
    static const quant_gran wg[] = {QUANT_GRAN_TENSOR, QUANT_GRAN_CHANNEL, QUANT_GRAN_BLOCK};
    static const float thresholds[] = {0.0f, 2.5f, 6.0f, 50.0f};
    int n = 0;
    for (int s = 0; s < 3; s++)
        for (int g = 0; g < 3; g++)
            for (int t = 0; t < 4; t++)
                for (int ow = 0; ow < QUANT_OUTLIER_COUNT; ow++)
                    for (int sm = 0; sm < 2; sm++) {
                        if (schemes[s] == QUANT_SCHEME_FP8_E4M3 && g == 2)
                            continue;   /* fp8 has no block scales */
                        v[n++] = (quant_matmul_opts){ .scheme = schemes[s], .x_gran = xg[g], .w_gran = wg[g],
                                                      .block = 32, .threshold = thresholds[t],
                                                      .outlier_weights = (quant_outlier_weights)ow,
                                                      .smooth_alpha = sm ? 0.5f : 0.0f };
                    }
    return n;
}

static void run_all(const float *x, const float *w, call *c, int n, quant_cache *cache, int reverse)
{
    for (int j = 0; j < n; j++) {
        int i = reverse ? n - 1 - j : j;
        quant_matmul_opts o = c[i].o;
        o.cache = cache;
        c[i].st = quant_matmul_scheme(x, w, M, K, N, &o, c[i].y, &c[i].info);
    }
}

Test(quant_cache, results_with_a_cache_equal_those_without_bit_for_bit)
{
    float *x = malloc(M * K * sizeof *x), *w = malloc(N * K * sizeof *w);
    quant_matmul_opts opts[256];
    int n = make_opts(opts);
    call *plain = calloc((size_t)n, sizeof *plain), *cached = calloc((size_t)n, sizeof *cached);
    cr_assert(x && w && plain && cached);
    make_operands(x, w);
    for (int i = 0; i < n; i++)
        plain[i].o = cached[i].o = opts[i];
    run_all(x, w, plain, n, NULL, 0);
    int decomposed = 0;
    for (int i = 0; i < n; i++) {
        cr_assert_eq(plain[i].st, QUANT_OK, "option set %d: %s", i, quant_status_str(plain[i].st));
        decomposed += plain[i].info.outlier_cols > 0;
    }
    cr_assert_geq(decomposed, n / 4, "the sweep must exercise the decomposition: %d of %d", decomposed, n);

    /* A roomy cache (every entry kept) and a tight one (evictions on every call), each
     * filled in one order and then read in the other. */
    const int64_t budgets[] = {64 << 20, 3 * N * K * 4};
    for (int b = 0; b < 2; b++) {
        quant_cache *cache = quant_cache_new(budgets[b]);
        cr_assert_not_null(cache);
        for (int pass = 0; pass < 2; pass++) {
            memset(cached, 0, (size_t)n * sizeof *cached);
            for (int i = 0; i < n; i++)
                cached[i].o = opts[i];
            run_all(x, w, cached, n, cache, pass);
            for (int i = 0; i < n; i++)
                cr_assert(same_call(&plain[i], &cached[i]),
                          "budget %lld, pass %d: option set %d (scheme %d, w_gran %d, threshold %g, "
                          "outlier weights %d, alpha %g) differs with the cache",
                          (long long)budgets[b], pass, i, opts[i].scheme, opts[i].w_gran,
                          (double)opts[i].threshold, opts[i].outlier_weights, (double)opts[i].smooth_alpha);
            cr_assert_gt(quant_cache_bytes(cache), 0, "the cache kept nothing");
            cr_assert_leq(quant_cache_bytes(cache), budgets[b], "the cache holds more than its budget");
        }
        quant_cache_free(cache);
    }
    quant_cache_free(NULL);
    free(x);
    free(w);
    free(plain);
    free(cached);
}

/* The int8 product skips the zeroed outlier columns; it must still be exactly
 * quant_matmul_q over the whole k of X with those columns zeroed, plus the fp16
 * outlier product added in float32. */
Test(quant_cache, decomposition_skipping_outlier_columns_equals_the_whole_k_product)
{
    float x[M * K], w[N * K], xz[M * K], y[M * N], want[M * N];
    make_operands(x, w);
    static const quant_scheme schemes[] = {QUANT_SCHEME_ABSMAX, QUANT_SCHEME_ZEROPOINT};
    static const quant_gran xg[] = {QUANT_GRAN_TENSOR, QUANT_GRAN_ROW};
    static const quant_gran wg[] = {QUANT_GRAN_TENSOR, QUANT_GRAN_CHANNEL};
    static const float thresholds[] = {2.5f, 6.0f, 0.01f};   /* 0.01: every column */
    for (int s = 0; s < 2; s++)
        for (int g = 0; g < 2; g++)
            for (int t = 0; t < 3; t++) {
                quant_matmul_opts o = {.scheme = schemes[s], .x_gran = xg[g], .w_gran = wg[g],
                                       .threshold = thresholds[t], .outlier_weights = QUANT_OUTLIER_FP16};
                quant_matmul_info info;
                cr_assert_eq(quant_matmul_scheme(x, w, M, K, N, &o, y, &info), QUANT_OK);
                uint8_t cols[K];
                int64_t no = 0;
                cr_assert_eq(quant_outlier_cols(x, M, K, thresholds[t], cols, &no), QUANT_OK);
                cr_assert_eq(no, info.outlier_cols);
                cr_assert_gt(no, 0);
                memcpy(xz, x, sizeof x);
                for (int64_t i = 0; i < M; i++)
                    for (int64_t j = 0; j < K; j++)
                        if (cols[j])
                            xz[i * K + j] = 0.0f;
                quant_matrix qx, qw;
                cr_assert_eq(quant_matrix_init(&qx, schemes[s], xg[g], M, K, 0), QUANT_OK);
                cr_assert_eq(quant_matrix_init(&qw, schemes[s], wg[g], N, K, 0), QUANT_OK);
                cr_assert_eq(quant_quantize(xz, &qx), QUANT_OK);
                cr_assert_eq(quant_quantize(w, &qw), QUANT_OK);
                cr_assert_eq(quant_matmul_q(&qx, &qw, want), QUANT_OK);
                float xo[M * K], wo[N * K];
                for (int64_t i = 0; i < M; i++)
                    for (int64_t j = 0, c = 0; j < K; j++)
                        if (cols[j])
                            xo[i * no + c++] = quant_f16_to_f32(quant_f32_to_f16(x[i * K + j]));
                for (int64_t i = 0; i < N; i++)
                    for (int64_t j = 0, c = 0; j < K; j++)
                        if (cols[j])
                            wo[i * no + c++] = quant_f16_to_f32(quant_f32_to_f16(w[i * K + j]));
                quant_gemm_f32(xo, no, wo, no, M, N, no, want, N, 1);
                cr_assert_eq(memcmp(y, want, sizeof y), 0, "scheme %d, grans %d/%d, threshold %g: %lld outliers",
                             schemes[s], xg[g], wg[g], (double)thresholds[t], (long long)no);
                quant_matrix_free(&qx);
                quant_matrix_free(&qw);
            }
}

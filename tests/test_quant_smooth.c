/* test_quant_smooth.c: SmoothQuant as a pre-transform of the int8 and fp8 schemes.
 *
 * Properties: the scale formula on a hand case, alpha = 0 meaning "off" (bit-identical
 * to no smoothing, although the raw formula at alpha 0 is not the identity), the
 * product X W^T unchanged by the transform up to float32 rounding, and the error
 * reduction it exists for on data with outlier activation channels.
 */
#include <criterion/criterion.h>
#include <math.h>
#include "../quant/quant.h"
#include "test_quant_util.h"

Test(quant_smooth, scales_follow_the_formula_on_a_hand_case)
{
    /* k = 3 columns. Column 0: max|X| 4, max|W| 1 -> alpha 0.5: sqrt(4)/sqrt(1) = 2.
     * Column 1: X all zero -> 0, clamped to 1e-5. Column 2: max|X| 9, max|W| 0.25 ->
     * 3 / 0.5 = 6. */
    float x[6] = {4, 0, -9, -1, 0, 1};
    float w[6] = {1, 2, 0.25f, -0.5f, 1, -0.125f};
    float s[3];
    cr_assert_eq(quant_smooth_scales(x, w, 2, 3, 2, 0.5f, s), QUANT_OK);
    cr_assert_float_eq(s[0], 2.0f, 1e-6f);
    cr_assert_eq(s[1], 1e-5f);
    cr_assert_float_eq(s[2], 6.0f, 1e-6f);
    /* alpha 1: s = max|X_j|; alpha 0: s = 1 / max|W_j| (not the identity). */
    cr_assert_eq(quant_smooth_scales(x, w, 2, 3, 2, 1.0f, s), QUANT_OK);
    cr_assert_float_eq(s[2], 9.0f, 1e-6f);
    cr_assert_eq(quant_smooth_scales(x, w, 2, 3, 2, 0.0f, s), QUANT_OK);
    cr_assert_float_eq(s[0], 1.0f, 1e-6f);
    cr_assert_float_eq(s[2], 4.0f, 1e-6f);
    cr_assert_eq(quant_smooth_scales(x, w, 2, 3, 2, 1.5f, s), QUANT_ERR_ARG);
    cr_assert_eq(quant_smooth_scales(x, w, 2, 3, 2, NAN, s), QUANT_ERR_ARG);
}

Test(quant_smooth, transform_leaves_the_product_unchanged)
{
    const int64_t m = 9, k = 64, n = 7;
    float x[576], w[448], xs[576], ws[448], s[64];
    tq_fill_normal(x, m * k, 3, 1.0);
    tq_fill_normal(w, n * k, 4, 0.02);
    for (int64_t i = 0; i < m; i++)
        x[i * k + 5] *= 40.0f;
    cr_assert_eq(quant_smooth_scales(x, w, m, k, n, 0.5f, s), QUANT_OK);
    cr_assert_eq(quant_smooth_apply(x, w, m, k, n, s, xs, ws), QUANT_OK);
    int changed = 0;
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < n; j++) {
            double a = 0, b = 0, mag = 0;
            for (int64_t p = 0; p < k; p++) {
                a += (double)x[i * k + p] * w[j * k + p];
                b += (double)xs[i * k + p] * ws[j * k + p];
                mag += fabs((double)x[i * k + p] * w[j * k + p]);
            }
            /* Each term moves by at most two float32 roundings. */
            cr_assert_leq(fabs(a - b), 3 * ldexp(1.0, -24) * mag);
        }
    for (int64_t p = 0; p < k; p++)
        changed |= s[p] != 1.0f;
    cr_assert(changed);
}

static void outlier_data(float *x, float *w, int64_t m, int64_t k, int64_t n)
{
    tq_fill_normal(x, m * k, 91, 1.0);
    tq_fill_normal(w, n * k, 92, 0.02);
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < k; j += 37)
            x[i * k + j] *= 30.0f;
}

Test(quant_smooth, alpha_zero_is_off_and_bit_identical)
{
    const int64_t m = 16, k = 128, n = 12;
    float x[2048], w[1536], y0[192], y1[192], ya[192];
    outlier_data(x, w, m, k, n);
    for (int s = QUANT_SCHEME_ABSMAX; s <= QUANT_SCHEME_FP8_E5M2; s++) {
        quant_matmul_opts o = {(quant_scheme)s, QUANT_GRAN_ROW, QUANT_GRAN_CHANNEL, 0, 0.0f,
                               QUANT_OUTLIER_FP16, 0.0f, NULL};
        quant_matmul_opts d = o;
        d.smooth_alpha = 0.5f;
        cr_assert_eq(quant_matmul_scheme(x, w, m, k, n, &o, y0, NULL), QUANT_OK);
        cr_assert_eq(quant_matmul_scheme(x, w, m, k, n, &o, y1, NULL), QUANT_OK);
        cr_assert_eq(quant_matmul_scheme(x, w, m, k, n, &d, ya, NULL), QUANT_OK);
        cr_assert_eq(memcmp(y0, y1, sizeof y0), 0);
        /* Smoothing does change the answer, so "equal" above is not vacuous. */
        cr_assert_neq(memcmp(y0, ya, sizeof y0), 0, "scheme %d", s);
    }
}

Test(quant_smooth, alpha_half_cuts_per_tensor_absmax_error_on_outlier_channels)
{
    const int64_t m = 64, k = 256, n = 64;
    float *x = malloc(m * k * sizeof *x), *w = malloc(n * k * sizeof *w);
    float *y = malloc(m * n * sizeof *y);
    double *ref = malloc(m * n * sizeof *ref);
    outlier_data(x, w, m, k, n);
    cr_assert_eq(quant_matmul_ref_f64(x, w, m, k, n, ref), QUANT_OK);
    quant_matmul_opts o = {QUANT_SCHEME_ABSMAX, QUANT_GRAN_TENSOR, QUANT_GRAN_TENSOR, 0, 0.0f,
                           QUANT_OUTLIER_FP16, 0.0f, NULL};
    quant_metrics plain, smooth;
    cr_assert_eq(quant_matmul_scheme(x, w, m, k, n, &o, y, NULL), QUANT_OK);
    quant_metrics_compute(y, ref, m, n, &plain);
    o.smooth_alpha = 0.5f;
    quant_matmul_info info;
    cr_assert_eq(quant_matmul_scheme(x, w, m, k, n, &o, y, &info), QUANT_OK);
    quant_metrics_compute(y, ref, m, n, &smooth);
    cr_assert_lt(smooth.rel_err, 0.5 * plain.rel_err, "smooth %g plain %g", smooth.rel_err,
                 plain.rel_err);
    cr_assert_eq(info.w_bytes, n * k + 4);
    free(x);
    free(w);
    free(y);
    free(ref);
}

Test(quant_smooth, float_and_fourbit_schemes_ignore_alpha_and_bad_alpha_is_an_error)
{
    const int64_t m = 4, k = 64, n = 3;
    float x[256], w[192], y0[12], y1[12];
    outlier_data(x, w, m, k, n);
    const quant_scheme ignore[] = {QUANT_SCHEME_FP16, QUANT_SCHEME_BF16, QUANT_SCHEME_NF4,
                                   QUANT_SCHEME_FP4_DQ};
    for (int i = 0; i < 4; i++) {
        quant_matmul_opts o = {ignore[i], QUANT_GRAN_TENSOR, QUANT_GRAN_BLOCK, 32, 0.0f,
                               QUANT_OUTLIER_FP16, 0.0f, NULL};
        cr_assert_eq(quant_matmul_scheme(x, w, m, k, n, &o, y0, NULL), QUANT_OK);
        o.smooth_alpha = 0.8f;
        cr_assert_eq(quant_matmul_scheme(x, w, m, k, n, &o, y1, NULL), QUANT_OK);
        cr_assert_eq(memcmp(y0, y1, sizeof y0), 0);
    }
    quant_matmul_opts o = {QUANT_SCHEME_ABSMAX, QUANT_GRAN_ROW, QUANT_GRAN_CHANNEL, 0, 0.0f,
                           QUANT_OUTLIER_FP16, -0.1f, NULL};
    cr_assert_eq(quant_matmul_scheme(x, w, m, k, n, &o, y0, NULL), QUANT_ERR_ARG);
    o.smooth_alpha = NAN;
    cr_assert_eq(quant_matmul_scheme(x, w, m, k, n, &o, y0, NULL), QUANT_ERR_ARG);
}

Test(quant_smooth, degenerate_columns_follow_the_published_clamps)
{
    /* Column 0: W all zero (pruned), max|X| 100 -> 100^0.5 / (1e-5)^0.5 = 10 / 3.1623e-3.
     * Column 1: X all zero, max|W| 2 -> 0 / sqrt(2) = 0 -> 1e-5.
     * Column 2: both all zero -> 0 / (1e-5)^0.5 -> 1e-5. */
    float x[6] = {100, 0, 0, -3, 0, 0};
    float w[6] = {0, 2, 0, 0, -1, 0};
    float s[3];
    cr_assert_eq(quant_smooth_scales(x, w, 2, 3, 2, 0.5f, s), QUANT_OK);
    cr_assert_float_eq(s[0], (float)(10.0 / sqrt(1e-5)), 1e-2f, "%g", s[0]);
    cr_assert_eq(s[1], 1e-5f);
    cr_assert_eq(s[2], 1e-5f);
    /* alpha 1 leaves W's clamp out: s = max|X|, floored at 1e-5. */
    cr_assert_eq(quant_smooth_scales(x, w, 2, 3, 2, 1.0f, s), QUANT_OK);
    cr_assert_float_eq(s[0], 100.0f, 1e-4f);
    cr_assert_eq(s[1], 1e-5f);
}

Test(quant_smooth, a_pruned_weight_column_under_an_activation_outlier_is_smoothed_away)
{
    /* X [64, 64] N(0,1) with column 5 at 60x; W's column 5 is all zero (a pruned input
     * feature). Per-tensor absmax: without smoothing the outlier sets X's scale and
     * the other columns lose most of their bits; with the published rule s_5 is large,
     * X / s has no outlier and W * s stays zero, so the error falls to that of clean
     * data. */
    const int64_t m = 64, k = 64, n = 48;
    float *x = malloc((size_t)(m * k) * sizeof *x), *w = malloc((size_t)(n * k) * sizeof *w);
    float *y0 = malloc((size_t)(m * n) * sizeof *y0), *y1 = malloc((size_t)(m * n) * sizeof *y1);
    double *ref = malloc((size_t)(m * n) * sizeof *ref);
    tq_fill_normal(x, m * k, 31, 1.0);
    tq_fill_normal(w, n * k, 32, 0.05);
    for (int64_t i = 0; i < m; i++)
        x[i * k + 5] *= 60.0f;
    for (int64_t j = 0; j < n; j++)
        w[j * k + 5] = 0.0f;
    cr_assert_eq(quant_matmul_ref_f64(x, w, m, k, n, ref), QUANT_OK);
    quant_matmul_opts o = {.scheme = QUANT_SCHEME_ABSMAX, .x_gran = QUANT_GRAN_TENSOR,
                           .w_gran = QUANT_GRAN_TENSOR};
    cr_assert_eq(quant_matmul_scheme(x, w, m, k, n, &o, y0, NULL), QUANT_OK);
    o.smooth_alpha = 0.5f;
    cr_assert_eq(quant_matmul_scheme(x, w, m, k, n, &o, y1, NULL), QUANT_OK);
    quant_metrics a, b;
    cr_assert_eq(quant_metrics_compute(y0, ref, m, n, &a), QUANT_OK);
    cr_assert_eq(quant_metrics_compute(y1, ref, m, n, &b), QUANT_OK);
    cr_assert_lt(b.rel_err, a.rel_err / 4, "smoothed %g vs plain %g", b.rel_err, a.rel_err);
    cr_assert_lt(b.rel_err, 0.02, "smoothed %g", b.rel_err);
    free(x);
    free(w);
    free(y0);
    free(y1);
    free(ref);
}

/* test_quant_matmul.c: the reference matmuls and the LLM.int8() decomposition.
 *
 * The int32 GEMM is checked exactly against a naive int64 triple loop; the
 * dequantized products against float64 sums over dequantized operands and against
 * the direct (qx - zx)(qw - zw) computation; the decomposition against its own
 * definition written out independently (zeroed columns, fp16 outlier product).
 */
#include <criterion/criterion.h>
#include <math.h>
#include "../quant/quant.h"
#include "../quant/quant_internal.h"
#include "test_quant_util.h"

static void naive_i8(const int8_t *x, const int8_t *w, int64_t m, int64_t k, int64_t n,
                     int64_t *out)
{
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < n; j++) {
            int64_t s = 0;
            for (int64_t p = 0; p < k; p++)
                s += (int64_t)x[i * k + p] * (int64_t)w[j * k + p];
            out[i * n + j] = s;
        }
}

static void check_i8_shape(int64_t m, int64_t k, int64_t n, uint64_t seed)
{
    int8_t *x = malloc((size_t)(m * k)), *w = malloc((size_t)(n * k));
    int32_t *acc = malloc((size_t)(m * n) * sizeof *acc);
    int64_t *ref = malloc((size_t)(m * n) * sizeof *ref);
    tq_fill_codes(x, m * k, seed, -128, 127);
    tq_fill_codes(w, n * k, seed + 1, -128, 127);
    cr_assert_eq(quant_matmul_i8_i32(x, w, m, k, n, acc), QUANT_OK);
    naive_i8(x, w, m, k, n, ref);
    for (int64_t i = 0; i < m * n; i++)
        cr_assert_eq((int64_t)acc[i], ref[i], "%lldx%lldx%lld at %lld", (long long)m,
                     (long long)k, (long long)n, (long long)i);
    free(x);
    free(w);
    free(acc);
    free(ref);
}

Test(quant_matmul, i8_i32_equals_naive_int64_loop_exactly)
{
    /* Shapes that hit full 4x4 tiles, edge rows/columns, and several k slices. */
    check_i8_shape(1, 1, 1, 1);
    check_i8_shape(4, 16, 4, 2);
    check_i8_shape(37, 1100, 29, 3);
    check_i8_shape(64, 512, 64, 4);
    check_i8_shape(33, 513, 67, 5);
    check_i8_shape(3, 2, 130, 6);
}

/* Both kernels on sub-matrices (leading dimensions larger than k), at every edge
 * of their tiles and k steps, and on codes at the extremes where unsigned-times-signed
 * wraps modulo 2^32 inside the VNNI kernel: the same integers. Where the CPU has no
 * VNNI, the VNNI kernel must refuse (the dispatcher then never picks it). */
Test(quant_matmul, vnni_and_portable_int8_kernels_agree_exactly)
{
    static const int64_t shapes[][3] = {{1, 1, 1}, {4, 64, 4}, {5, 65, 3}, {33, 127, 67}, {64, 1024, 64},
                                        {7, 3000, 9}, {2, 131071, 3}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        const int64_t m = shapes[s][0], k = shapes[s][1], n = shapes[s][2], ld = k + 5;
        int8_t *x = malloc((size_t)(m * ld)), *w = malloc((size_t)(n * ld));
        int32_t *a = malloc((size_t)(m * n) * sizeof *a), *b = malloc((size_t)(m * n) * sizeof *b);
        cr_assert(x && w && a && b);
        for (int extreme = 0; extreme < 3; extreme++) {
            if (extreme == 0) {
                tq_fill_codes(x, m * ld, 70 + s, -128, 127);
                tq_fill_codes(w, n * ld, 80 + s, -128, 127);
            } else {
                /* x at -128 or 127 against w at -128: the largest sums of either sign */
                memset(x, extreme == 1 ? 0x80 : 0x7f, (size_t)(m * ld));
                memset(w, 0x80, (size_t)(n * ld));
            }
            cr_assert_eq(quant_i8_gemm_portable(x, ld, w, ld, m, n, k, a, n), QUANT_OK);
            quant_status st = quant_i8_gemm_vnni(x, ld, w, ld, m, n, k, b, n);
            if (!quant_have_vnni()) {
                cr_assert_eq(st, QUANT_ERR_UNSUPPORTED);
                continue;
            }
            cr_assert_eq(st, QUANT_OK);
            for (int64_t i = 0; i < m * n; i++)
                cr_assert_eq(a[i], b[i], "%lldx%lldx%lld (codes %s) at %lld: portable %d, vnni %d", (long long)m,
                             (long long)k, (long long)n, extreme ? "extreme" : "random", (long long)i, a[i], b[i]);
            if (extreme)
                cr_assert_eq((int64_t)a[0], (int64_t)k * (extreme == 1 ? 16384 : -16256));
        }
        free(x);
        free(w);
        free(a);
        free(b);
    }
    cr_log_info("AVX-512 VNNI on this CPU: %s", quant_have_vnni() ? "yes, compared" : "no, refused as it must");
}

Test(quant_matmul, i8_i32_extreme_codes_at_max_k_do_not_overflow)
{
    const int64_t k = 131071, m = 5, n = 4;
    int8_t *x = malloc((size_t)(m * k)), *w = malloc((size_t)(n * k));
    int32_t acc[20];
    memset(x, 0x80, (size_t)(m * k));   /* -128 everywhere */
    memset(w, 0x80, (size_t)(n * k));
    cr_assert_eq(quant_matmul_i8_i32(x, w, m, k, n, acc), QUANT_OK);
    for (int i = 0; i < 20; i++)
        cr_assert_eq(acc[i], 2147467264, "16384 * 131071");
    cr_assert_eq(quant_matmul_i8_i32(x, w, 1, k + 1, 1, acc), QUANT_ERR_RANGE);
    free(x);
    free(w);
}

/* Float64 X' W'^T over the dequantized operands. */
static void dequant_product(const quant_matrix *qx, const quant_matrix *qw, double *ref,
                            double *abs_ref)
{
    int64_t m = qx->rows, n = qw->rows, k = qx->cols;
    float *xd = malloc((size_t)(m * k) * sizeof *xd), *wd = malloc((size_t)(n * k) * sizeof *wd);
    quant_dequantize(qx, xd);
    quant_dequantize(qw, wd);
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < n; j++) {
            double s = 0, a = 0;
            for (int64_t p = 0; p < k; p++) {
                s += (double)xd[i * k + p] * wd[j * k + p];
                a += fabs((double)xd[i * k + p] * wd[j * k + p]);
            }
            ref[i * n + j] = s;
            abs_ref[i * n + j] = a;
        }
    free(xd);
    free(wd);
}

Test(quant_matmul, matmul_q_equals_float64_product_of_dequantized_operands)
{
    const int64_t m = 9, k = 64, n = 11, block = 16;
    const quant_gran xg[3] = {QUANT_GRAN_TENSOR, QUANT_GRAN_ROW, QUANT_GRAN_BLOCK};
    const quant_gran wg[3] = {QUANT_GRAN_TENSOR, QUANT_GRAN_CHANNEL, QUANT_GRAN_BLOCK};
    float *x = malloc(m * k * sizeof *x), *w = malloc(n * k * sizeof *w), y[99];
    double ref[99], absr[99];
    int combos = 0;
    for (int s = QUANT_SCHEME_ABSMAX; s <= QUANT_SCHEME_ZEROPOINT; s++)
        for (int a = 0; a < 3; a++)
            for (int b = 0; b < 3; b++)
                for (uint64_t seed = 1; seed <= 3; seed++) {
                    tq_fill_normal(x, m * k, seed * 7, 1.0);
                    tq_fill_normal(w, n * k, seed * 7 + 3, 0.05);
                    for (int64_t i = 0; i < m * k; i++)
                        x[i] += 0.3f;   /* asymmetric, so zero points matter */
                    quant_matrix qx, qw;
                    cr_assert_eq(quant_matrix_init(&qx, (quant_scheme)s, xg[a], m, k, block), QUANT_OK);
                    cr_assert_eq(quant_matrix_init(&qw, (quant_scheme)s, wg[b], n, k, block), QUANT_OK);
                    quant_quantize(x, &qx);
                    quant_quantize(w, &qw);
                    cr_assert_eq(quant_matmul_q(&qx, &qw, y), QUANT_OK);
                    dequant_product(&qx, &qw, ref, absr);
                    for (int i = 0; i < m * n; i++)
                        cr_assert_leq(fabs(y[i] - ref[i]), 4e-7 * absr[i] + 1e-7 * fabs(ref[i]) + 1e-30,
                                      "scheme %d x %d w %d: %g vs %g", s, a, b, y[i], ref[i]);
                    quant_matrix_free(&qx);
                    quant_matrix_free(&qw);
                    combos++;
                }
    cr_assert_eq(combos, 54);
    free(x);
    free(w);
}

Test(quant_matmul, zeropoint_corrections_equal_direct_computation)
{
    const int64_t m = 6, k = 48, n = 5;
    float x[6 * 48], w[5 * 48], y[30];
    tq_fill_normal(x, m * k, 21, 2.0);
    tq_fill_normal(w, n * k, 22, 0.1);
    for (int64_t i = 0; i < m * k; i++)
        x[i] = x[i] * x[i];                 /* one-signed: z far from 0 */
    for (int b = 0; b < 2; b++) {
        quant_gran g = b ? QUANT_GRAN_BLOCK : QUANT_GRAN_ROW;
        int64_t block = b ? 16 : 0, kb = b ? 16 : k, nb = k / kb;
        quant_matrix qx, qw;
        quant_matrix_init(&qx, QUANT_SCHEME_ZEROPOINT, g, m, k, block);
        quant_matrix_init(&qw, QUANT_SCHEME_ZEROPOINT, b ? QUANT_GRAN_BLOCK : QUANT_GRAN_CHANNEL,
                          n, k, block);
        quant_quantize(x, &qx);
        quant_quantize(w, &qw);
        cr_assert_eq(quant_matmul_q(&qx, &qw, y), QUANT_OK);
        for (int64_t i = 0; i < m; i++)
            for (int64_t j = 0; j < n; j++) {
                double tot = 0;
                for (int64_t bb = 0; bb < nb; bb++) {
                    int64_t gx = i * nb + bb, gw = j * nb + bb;
                    int64_t direct = 0;
                    for (int64_t p = bb * kb; p < (bb + 1) * kb; p++)
                        direct += ((int64_t)qx.codes[i * k + p] - qx.zeros[gx]) *
                                  ((int64_t)qw.codes[j * k + p] - qw.zeros[gw]);
                    tot += (double)direct / ((double)qx.scales[gx] * (double)qw.scales[gw]);
                }
                if (nb == 1)
                    cr_assert_eq(y[i * n + j], (float)tot, "exact for one k-block");
                else
                    cr_assert_float_eq(y[i * n + j], (float)tot, 1e-6 * fabs(tot) + 1e-30);
            }
        quant_matrix_free(&qx);
        quant_matrix_free(&qw);
    }
}

Test(quant_matmul, matmul_q_rejects_mismatched_operands)
{
    float x[4 * 32] = {0}, w[4 * 32] = {0}, y[16];
    quant_matrix a, b, c;
    quant_matrix_init(&a, QUANT_SCHEME_ABSMAX, QUANT_GRAN_BLOCK, 4, 32, 8);
    quant_matrix_init(&b, QUANT_SCHEME_ABSMAX, QUANT_GRAN_BLOCK, 4, 32, 16);
    quant_matrix_init(&c, QUANT_SCHEME_ZEROPOINT, QUANT_GRAN_ROW, 4, 32, 0);
    quant_quantize(x, &a);
    quant_quantize(w, &b);
    quant_quantize(w, &c);
    cr_assert_eq(quant_matmul_q(&a, &b, y), QUANT_ERR_BLOCK);
    cr_assert_eq(quant_matmul_q(&a, &c, y), QUANT_ERR_ARG, "schemes differ");
    quant_matrix_free(&a);
    quant_matrix_free(&b);
    quant_matrix_free(&c);
}

Test(quant_matmul, ref_f64_and_f32_match_naive_loops)
{
    const int64_t m = 7, k = 33, n = 5;
    float x[7 * 33], w[5 * 33], yf[35];
    double y[35];
    tq_fill_normal(x, m * k, 31, 1.0);
    tq_fill_normal(w, n * k, 32, 1.0);
    cr_assert_eq(quant_matmul_ref_f64(x, w, m, k, n, y), QUANT_OK);
    cr_assert_eq(quant_matmul_f32(x, w, m, k, n, yf), QUANT_OK);
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < n; j++) {
            double s = 0, a = 0;
            for (int64_t p = 0; p < k; p++) {
                s += (double)x[i * k + p] * w[j * k + p];
                a += fabs((double)x[i * k + p] * w[j * k + p]);
            }
            cr_assert_leq(fabs(y[i * n + j] - s), 1e-14 * a);
            cr_assert_leq(fabs(yf[i * n + j] - s), 1e-5 * a);
        }
    x[3] = NAN;
    cr_assert_eq(quant_matmul_ref_f64(x, w, m, k, n, y), QUANT_ERR_NONFINITE);
    cr_assert_eq(quant_matmul_f32(x, w, m, k, n, yf), QUANT_ERR_NONFINITE);
}

/* ---------------------------------------------------------------------------- */
/* Outliers and the LLM.int8() pipeline                                         */

/* X [m,k] N(0,1) clipped to +-3, with `planted` columns holding a 20 in some rows. */
static void make_outlier_x(float *x, int64_t m, int64_t k, const int64_t *planted, int np,
                           uint64_t seed)
{
    tq_fill_normal(x, m * k, seed, 1.0);
    for (int64_t i = 0; i < m * k; i++)
        x[i] = x[i] > 3.0f ? 3.0f : (x[i] < -3.0f ? -3.0f : x[i]);
    for (int o = 0; o < np; o++)
        for (int64_t i = o % 3; i < m; i += 3)
            x[i * k + planted[o]] = (i % 2) ? -20.0f : 20.0f;
}

Test(quant_matmul, planted_outlier_columns_are_found)
{
    const int64_t m = 16, k = 64;
    const int64_t planted[3] = {3, 17, 40};
    float x[16 * 64];
    uint8_t cols[64];
    int64_t no = -1;
    make_outlier_x(x, m, k, planted, 3, 41);
    cr_assert_eq(quant_outlier_cols(x, m, k, 6.0f, cols, &no), QUANT_OK);
    cr_assert_eq(no, 3);
    for (int64_t j = 0; j < k; j++)
        cr_assert_eq(cols[j], (j == 3 || j == 17 || j == 40), "column %lld", (long long)j);
    cr_assert_eq(quant_outlier_cols(x, m, k, 20.0f, cols, &no), QUANT_OK);
    cr_assert_eq(no, 3, "|x| >= t counts at t = 20");
    cr_assert_eq(quant_outlier_cols(x, m, k, 20.5f, cols, &no), QUANT_OK);
    cr_assert_eq(no, 0);
}

Test(quant_matmul, threshold_zero_never_flags_outliers)
{
    float x[4 * 8];
    for (int i = 0; i < 32; i++)
        x[i] = (float)(i * 1000);
    uint8_t cols[8];
    int64_t no = -1;
    for (int t = 0; t < 2; t++) {
        memset(cols, 7, sizeof cols);
        cr_assert_eq(quant_outlier_cols(x, 4, 8, t ? -1.0f : 0.0f, cols, &no), QUANT_OK);
        cr_assert_eq(no, 0);
        for (int j = 0; j < 8; j++)
            cr_assert_eq(cols[j], 0);
    }
    x[5] = NAN;
    cr_assert_eq(quant_outlier_cols(x, 4, 8, 6.0f, cols, &no), QUANT_ERR_NONFINITE);
}

static quant_matmul_opts opts_of(quant_scheme s, float t, quant_outlier_weights ow)
{
    quant_matmul_opts o = {s, QUANT_GRAN_ROW, QUANT_GRAN_CHANNEL, 0, t, ow, 0.0f, NULL};
    return o;
}

Test(quant_matmul, threshold_above_max_equals_no_decomposition_exactly)
{
    const int64_t m = 12, k = 64, n = 10;
    const int64_t planted[2] = {5, 50};
    float x[12 * 64], w[10 * 64], y0[120], y1[120];
    make_outlier_x(x, m, k, planted, 2, 51);
    tq_fill_normal(w, n * k, 52, 0.02);
    for (int s = QUANT_SCHEME_ABSMAX; s <= QUANT_SCHEME_ZEROPOINT; s++) {
        quant_matmul_opts a = opts_of((quant_scheme)s, 0.0f, QUANT_OUTLIER_FP16);
        quant_matmul_opts b = opts_of((quant_scheme)s, 25.0f, QUANT_OUTLIER_FP16);
        quant_matmul_info ia, ib;
        cr_assert_eq(quant_matmul_scheme(x, w, m, k, n, &a, y0, &ia), QUANT_OK);
        cr_assert_eq(quant_matmul_scheme(x, w, m, k, n, &b, y1, &ib), QUANT_OK);
        cr_assert_eq(memcmp(y0, y1, sizeof y0), 0);
        cr_assert_eq(ib.outlier_cols, 0);
        cr_assert_eq(ia.w_bytes, ib.w_bytes);
    }
}

Test(quant_matmul, decomposition_equals_its_definition_and_beats_plain_int8)
{
    const int64_t m = 12, k = 64, n = 10;
    const int64_t planted[2] = {5, 50};
    float x[12 * 64], w[10 * 64], xz[12 * 64], y[120], yplain[120], yint[120];
    double ref[120];
    make_outlier_x(x, m, k, planted, 2, 61);
    tq_fill_normal(w, n * k, 62, 0.02);
    cr_assert_eq(quant_matmul_ref_f64(x, w, m, k, n, ref), QUANT_OK);
    for (int ow = 0; ow < QUANT_OUTLIER_COUNT; ow++) {
        quant_matmul_opts o = opts_of(QUANT_SCHEME_ABSMAX, 6.0f, (quant_outlier_weights)ow);
        quant_matmul_info info;
        cr_assert_eq(quant_matmul_scheme(x, w, m, k, n, &o, y, &info), QUANT_OK);
        cr_assert_eq(info.outlier_cols, 2);

        /* The definition: int8 product of X with columns 5, 50 zeroed and all of W ... */
        memcpy(xz, x, sizeof x);
        for (int64_t i = 0; i < m; i++)
            xz[i * k + 5] = xz[i * k + 50] = 0.0f;
        quant_matrix qx, qw;
        quant_matrix_init(&qx, QUANT_SCHEME_ABSMAX, QUANT_GRAN_ROW, m, k, 0);
        quant_matrix_init(&qw, QUANT_SCHEME_ABSMAX, QUANT_GRAN_CHANNEL, n, k, 0);
        quant_quantize(xz, &qx);
        quant_quantize(w, &qw);
        quant_matmul_q(&qx, &qw, yint);
        float wdq[10 * 64];
        quant_dequantize(&qw, wdq);
        /* ... plus the fp16 outlier product. */
        for (int64_t i = 0; i < m; i++)
            for (int64_t j = 0; j < n; j++) {
                double s = 0;
                for (int c = 0; c < 2; c++) {
                    int64_t p = c ? 50 : 5;
                    float wv = ow == QUANT_OUTLIER_FP16 ? w[j * k + p] : wdq[j * k + p];
                    s += (double)quant_f16_to_f32(quant_f32_to_f16(x[i * k + p])) *
                         (double)quant_f16_to_f32(quant_f32_to_f16(wv));
                }
                double want = (double)yint[i * n + j] + s;
                cr_assert_float_eq(y[i * n + j], want, 1e-5 * (fabs(want) + fabs(s)) + 1e-7);
            }
        /* Bytes: codes + float scales, plus the fp16 outlier columns where kept. */
        cr_assert_eq(info.w_bytes, n * k + 4 * n + (ow == QUANT_OUTLIER_FP16 ? 2 * n * 2 : 0));
        cr_assert_eq(info.x_bytes, m * k + 4 * m + 2 * m * 2);
        cr_assert_gt(info.x_rel_err, 0.0);
        cr_assert_lt(info.x_rel_err, 0.02);
        quant_matrix_free(&qx);
        quant_matrix_free(&qw);
    }
    quant_matmul_opts plain = opts_of(QUANT_SCHEME_ABSMAX, 0.0f, QUANT_OUTLIER_FP16);
    quant_matmul_opts dec = opts_of(QUANT_SCHEME_ABSMAX, 6.0f, QUANT_OUTLIER_FP16);
    quant_matmul_scheme(x, w, m, k, n, &plain, yplain, NULL);
    quant_matmul_scheme(x, w, m, k, n, &dec, y, NULL);
    quant_metrics mp, md;
    quant_metrics_compute(yplain, ref, m, n, &mp);
    quant_metrics_compute(y, ref, m, n, &md);
    cr_assert_lt(md.rel_err, 0.5 * mp.rel_err, "decomposed %g vs plain %g", md.rel_err, mp.rel_err);
}

Test(quant_matmul, float_schemes_round_operands_and_report_bytes)
{
    const int64_t m = 5, k = 40, n = 6;
    float x[200], w[240], y[30], xr[200], wr[240];
    tq_fill_normal(x, m * k, 71, 1.0);
    tq_fill_normal(w, n * k, 72, 1.0);
    for (int s = 0; s < QUANT_SCHEME_COUNT; s++) {
        const quant_scheme_traits *t = quant_scheme_get((quant_scheme)s);
        if (t->kind != QUANT_KIND_FLOAT)
            continue;
        quant_matmul_opts o = opts_of((quant_scheme)s, 0.0f, QUANT_OUTLIER_FP16);
        quant_matmul_info info;
        cr_assert_eq(quant_matmul_scheme(x, w, m, k, n, &o, y, &info), QUANT_OK);
        t->roundtrip(t->id, QUANT_GRAN_TENSOR, x, m, k, 0, xr);
        t->roundtrip(t->id, QUANT_GRAN_TENSOR, w, n, k, 0, wr);
        for (int64_t i = 0; i < m; i++)
            for (int64_t j = 0; j < n; j++) {
                double sum = 0, a = 0;
                for (int64_t p = 0; p < k; p++) {
                    sum += (double)xr[i * k + p] * wr[j * k + p];
                    a += fabs((double)xr[i * k + p] * wr[j * k + p]);
                }
                cr_assert_leq(fabs(y[i * n + j] - sum), 1e-5 * a, "%s", t->name);
            }
        cr_assert_eq(info.w_bytes, n * k * (t->bits / 8));
        cr_assert_eq(info.x_bytes, m * k * (t->bits / 8));
        cr_assert_eq(info.outlier_cols, 0);
        if (s == QUANT_SCHEME_FP32)
            cr_assert_eq(info.x_rel_err, 0.0);
        else
            cr_assert_gt(info.x_rel_err, 0.0);
        cr_assert_leq(info.x_rel_err, t->roundtrip_rel_tol);
    }
}

Test(quant_matmul, zeropoint_bytes_count_int32_zero_points)
{
    const int64_t m = 4, k = 32, n = 3;
    float x[128], w[96], y[12];
    tq_fill_normal(x, m * k, 81, 1.0);
    tq_fill_normal(w, n * k, 82, 1.0);
    quant_matmul_opts o = {QUANT_SCHEME_ZEROPOINT, QUANT_GRAN_TENSOR, QUANT_GRAN_BLOCK, 8, 0.0f,
                           QUANT_OUTLIER_FP16, 0.0f, NULL};
    quant_matmul_info info;
    cr_assert_eq(quant_matmul_scheme(x, w, m, k, n, &o, y, &info), QUANT_OK);
    cr_assert_eq(info.w_bytes, n * k + 8 * (n * k / 8));
    cr_assert_eq(info.x_bytes, m * k + 8);
}

Test(quant_matmul, scheme_errors_are_reported)
{
    const int64_t m = 4, k = 30, n = 3;
    float x[120] = {0}, w[90] = {0}, y[12];
    quant_matmul_opts o = {QUANT_SCHEME_ABSMAX, QUANT_GRAN_ROW, QUANT_GRAN_BLOCK, 7, 0.0f,
                           QUANT_OUTLIER_FP16, 0.0f, NULL};
    cr_assert_eq(quant_matmul_scheme(x, w, m, k, n, &o, y, NULL), QUANT_ERR_BLOCK);
    o.w_gran = QUANT_GRAN_CHANNEL;
    o.x_gran = QUANT_GRAN_CHANNEL;
    cr_assert_eq(quant_matmul_scheme(x, w, m, k, n, &o, y, NULL), QUANT_ERR_UNSUPPORTED);
    o.x_gran = QUANT_GRAN_ROW;
    w[17] = INFINITY;
    cr_assert_eq(quant_matmul_scheme(x, w, m, k, n, &o, y, NULL), QUANT_ERR_NONFINITE);
    w[17] = 0.0f;
    x[3] = NAN;
    o.scheme = QUANT_SCHEME_FP16;
    cr_assert_eq(quant_matmul_scheme(x, w, m, k, n, &o, y, NULL), QUANT_ERR_NONFINITE);
    x[3] = 0.0f;
    o.scheme = QUANT_SCHEME_COUNT;
    cr_assert_eq(quant_matmul_scheme(x, w, m, k, n, &o, y, NULL), QUANT_ERR_ARG);
    o.scheme = QUANT_SCHEME_ABSMAX;
    cr_assert_eq(quant_matmul_scheme(x, w, m, k, n, &o, y, NULL), QUANT_OK);
}

Test(quant_matmul, a_scale_that_overflows_names_its_operand_group_and_value)
{
    /* W's channel 5 holds only a subnormal value: 127 / max|w| is inf in float32. */
    const int64_t m = 4, k = 32, n = 8;
    float x[4 * 32], w[8 * 32], y[4 * 8];
    tq_fill_normal(x, m * k, 5, 1.0);
    tq_fill_normal(w, n * k, 6, 0.05);
    for (int64_t p = 0; p < k; p++)
        w[5 * k + p] = p == 3 ? 1e-40f : 0.0f;
    quant_matmul_opts o = {.scheme = QUANT_SCHEME_ABSMAX, .x_gran = QUANT_GRAN_ROW, .w_gran = QUANT_GRAN_ROW};
    quant_matmul_info info;
    cr_assert_eq(quant_matmul_scheme(x, w, m, k, n, &o, y, &info), QUANT_ERR_RANGE);
    cr_assert_not_null(strstr(info.detail, "W channel 5: max |v| = 1e-40"), "%s", info.detail);
    /* the same value in X's row 2 */
    tq_fill_normal(w, n * k, 6, 0.05);
    for (int64_t p = 0; p < k; p++)
        x[2 * k + p] = p == 0 ? -1e-40f : 0.0f;
    cr_assert_eq(quant_matmul_scheme(x, w, m, k, n, &o, y, &info), QUANT_ERR_RANGE);
    cr_assert_not_null(strstr(info.detail, "X row 2: max |v| = 1e-40"), "%s", info.detail);
    /* a successful call leaves no detail */
    x[2 * k] = 1.0f;
    cr_assert_eq(quant_matmul_scheme(x, w, m, k, n, &o, y, &info), QUANT_OK);
    cr_assert_eq(info.detail[0], '\0');
}

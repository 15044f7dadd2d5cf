/* test_quant_int8.c: int8 quantization (absmax, zeropoint) at every granularity.
 *
 * The worked examples of the issue with hand-derived codes, then properties over
 * many deterministic random matrices for every row of the traits table and every
 * granularity, the degenerate groups, and the error codes.
 */
#include <criterion/criterion.h>
#include <math.h>
#include "../quant/quant.h"
#include "test_quant_util.h"

/* ---------------------------------------------------------------------------- */
/* Worked examples                                                              */

Test(quant_int8, absmax_max4_gives_scale_31_75_and_code_127)
{
    float v[4] = {4.0f, -1.0f, 0.5f, 2.0f};
    quant_matrix q;
    cr_assert_eq(quant_matrix_init(&q, QUANT_SCHEME_ABSMAX, QUANT_GRAN_TENSOR, 1, 4, 0), QUANT_OK);
    cr_assert_eq(quant_quantize(v, &q), QUANT_OK);
    cr_assert_eq(q.scales[0], 31.75f);
    cr_assert_eq(q.codes[0], 127);
    cr_assert_eq(q.codes[1], -32, "-31.75 rounds to -32");
    cr_assert_eq(q.codes[2], 16, "15.875 rounds to 16");
    cr_assert_eq(q.codes[3], 64, "63.5 is a tie: even 64");
    float out[4];
    cr_assert_eq(quant_dequantize(&q, out), QUANT_OK);
    cr_assert_eq(out[0], 4.0f);
    cr_assert_eq(out[3], 64.0f / 31.75f);
    quant_matrix_free(&q);
}

Test(quant_int8, codes_round_half_to_even)
{
    /* max|v| = 127 gives s = 1, so the products are the values themselves:
     * 2.5 -> 2, 3.5 -> 4, -3.5 -> -4, 0.5 -> 0, -0.5 -> -0 (round half away would give 3, 1). */
    float v[6] = {127.0f, 2.5f, 3.5f, -3.5f, 0.5f, -0.5f};
    quant_matrix q;
    cr_assert_eq(quant_matrix_init(&q, QUANT_SCHEME_ABSMAX, QUANT_GRAN_TENSOR, 1, 6, 0), QUANT_OK);
    cr_assert_eq(quant_quantize(v, &q), QUANT_OK);
    cr_assert_eq(q.scales[0], 1.0f);
    const int8_t want[6] = {127, 2, 4, -4, 0, 0};
    for (int i = 0; i < 6; i++)
        cr_assert_eq(q.codes[i], want[i], "value %g", v[i]);
    quant_matrix_free(&q);
    /* zeropoint with range [0, 255] has s = 1 and z = -128: 2.5 - 128 = -125.5 -> -126. */
    float u[3] = {255.0f, 2.5f, 3.5f};
    cr_assert_eq(quant_matrix_init(&q, QUANT_SCHEME_ZEROPOINT, QUANT_GRAN_TENSOR, 1, 3, 0), QUANT_OK);
    cr_assert_eq(quant_quantize(u, &q), QUANT_OK);
    cr_assert_eq(q.scales[0], 1.0f);
    cr_assert_eq(q.zeros[0], -128);
    cr_assert_eq(q.codes[1], -126);
    cr_assert_eq(q.codes[2], -124, "-124.5 -> -124");
    quant_matrix_free(&q);
}

Test(quant_int8, absmax_max3_2_maps_0_1_to_code_4)
{
    float v[2] = {3.2f, 0.1f};
    float s;
    cr_assert_eq(quant_group_params(QUANT_SCHEME_ABSMAX, v, 2, 1, &s, NULL), QUANT_OK);
    cr_assert_float_eq(s, 39.6875f, 1e-4f);
    quant_matrix q;
    cr_assert_eq(quant_matrix_init(&q, QUANT_SCHEME_ABSMAX, QUANT_GRAN_ROW, 1, 2, 0), QUANT_OK);
    cr_assert_eq(quant_quantize(v, &q), QUANT_OK);
    cr_assert_eq(q.codes[0], 127);
    cr_assert_eq(q.codes[1], 4);
    float out[2];
    quant_dequantize(&q, out);
    cr_assert_float_eq(out[1], 0.1008f, 1e-4f);
    cr_assert_float_eq(out[1], 4.0f / 39.6875f, 1e-6f);
    quant_matrix_free(&q);
}

Test(quant_int8, zeropoint_min_minus3_max3_2_worked_example)
{
    float v[3] = {-3.0f, 0.1f, 3.2f};
    quant_matrix q;
    cr_assert_eq(quant_matrix_init(&q, QUANT_SCHEME_ZEROPOINT, QUANT_GRAN_TENSOR, 1, 3, 0), QUANT_OK);
    cr_assert_eq(quant_quantize(v, &q), QUANT_OK);
    cr_assert_float_eq(q.scales[0], 255.0f / 6.2f, 1e-4f);
    cr_assert_eq(q.zeros[0], -5);
    cr_assert_eq(q.codes[0], -128);
    cr_assert_eq(q.codes[1], -1);
    cr_assert_eq(q.codes[2], 127);
    quant_matrix_free(&q);
}

Test(quant_int8, zeropoint_range_is_widened_to_hold_zero)
{
    /* All positive: lo becomes 0, so z = -128 and 0 would be exact. */
    float v[3] = {1.0f, 2.0f, 5.1f};
    float s;
    int32_t z;
    cr_assert_eq(quant_group_params(QUANT_SCHEME_ZEROPOINT, v, 3, 1, &s, &z), QUANT_OK);
    cr_assert_eq(s, 255.0f / 5.1f);
    cr_assert_eq(z, -128);
    float n[2] = {-4.0f, -1.0f};
    cr_assert_eq(quant_group_params(QUANT_SCHEME_ZEROPOINT, n, 2, 1, &s, &z), QUANT_OK);
    cr_assert_eq(s, 255.0f / 4.0f);
    cr_assert_eq(z, 127, "rint(255) - 128");
}

Test(quant_int8, group_params_follow_stride)
{
    /* Column 1 of a 3x2 matrix: 0.5, -8, 2 -> max|v| = 8. */
    float m[6] = {100.0f, 0.5f, 100.0f, -8.0f, 100.0f, 2.0f};
    float s;
    cr_assert_eq(quant_group_params(QUANT_SCHEME_ABSMAX, m + 1, 3, 2, &s, NULL), QUANT_OK);
    cr_assert_eq(s, 127.0f / 8.0f);
}

/* ---------------------------------------------------------------------------- */
/* Degenerate groups                                                            */

Test(quant_int8, all_zero_group_gets_scale_1_and_zero_values)
{
    float v[8] = {0};
    float out[8];
    for (int s = QUANT_SCHEME_ABSMAX; s <= QUANT_SCHEME_ZEROPOINT; s++) {
        quant_matrix q;
        cr_assert_eq(quant_matrix_init(&q, (quant_scheme)s, QUANT_GRAN_ROW, 2, 4, 0), QUANT_OK);
        cr_assert_eq(quant_quantize(v, &q), QUANT_OK);
        cr_assert_eq(q.scales[0], 1.0f);
        cr_assert_eq(q.scales[1], 1.0f);
        if (s == QUANT_SCHEME_ABSMAX)
            for (int i = 0; i < 8; i++)
                cr_assert_eq(q.codes[i], 0);
        else
            cr_assert_eq(q.zeros[0], -128, "z = rint(0) - 128");
        quant_dequantize(&q, out);
        for (int i = 0; i < 8; i++)
            cr_assert_eq(out[i], 0.0f);
        quant_matrix_free(&q);
    }
}

Test(quant_int8, constant_groups_map_to_the_range_end_and_back)
{
    float v[6] = {2.5f, 2.5f, 2.5f, -2.5f, -2.5f, -2.5f};
    float out[6];
    quant_matrix q;
    cr_assert_eq(quant_matrix_init(&q, QUANT_SCHEME_ABSMAX, QUANT_GRAN_ROW, 2, 3, 0), QUANT_OK);
    cr_assert_eq(quant_quantize(v, &q), QUANT_OK);
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(q.codes[i], 127);
        cr_assert_eq(q.codes[3 + i], -127);
    }
    quant_dequantize(&q, out);
    for (int i = 0; i < 6; i++)
        cr_assert_float_eq(out[i], v[i], 1e-6f);
    quant_matrix_free(&q);

    cr_assert_eq(quant_matrix_init(&q, QUANT_SCHEME_ZEROPOINT, QUANT_GRAN_ROW, 2, 3, 0), QUANT_OK);
    cr_assert_eq(quant_quantize(v, &q), QUANT_OK);
    /* Positive constant: range [0, 2.5], s = 102, z = -128, code rint(255 - 128). */
    cr_assert_eq(q.scales[0], 102.0f);
    cr_assert_eq(q.zeros[0], -128);
    cr_assert_eq(q.zeros[1], 127);
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(q.codes[i], 127);
        cr_assert_eq(q.codes[3 + i], -128);
    }
    quant_dequantize(&q, out);
    for (int i = 0; i < 6; i++)
        cr_assert_float_eq(out[i], v[i], 1e-6f);
    quant_matrix_free(&q);
}

Test(quant_int8, single_element_groups_are_exact_to_float_rounding)
{
    float v[5] = {0.3f, -7.0f, 0.0f, 1e-3f, 123.0f};
    float out[5];
    for (int s = QUANT_SCHEME_ABSMAX; s <= QUANT_SCHEME_ZEROPOINT; s++) {
        quant_matrix q;
        cr_assert_eq(quant_matrix_init(&q, (quant_scheme)s, QUANT_GRAN_BLOCK, 1, 5, 1), QUANT_OK);
        cr_assert_eq(q.n_groups, 5);
        cr_assert_eq(quant_quantize(v, &q), QUANT_OK);
        quant_dequantize(&q, out);
        for (int i = 0; i < 5; i++) {
            cr_assert_float_eq(out[i], v[i], 1e-6f * fabsf(v[i]) + 1e-30f, "value %d", i);
            if (v[i] > 0)
                cr_assert_eq(q.codes[i], 127);
        }
        cr_assert_eq(q.codes[1], s == QUANT_SCHEME_ABSMAX ? -127 : -128);
        quant_matrix_free(&q);
    }
}

/* ---------------------------------------------------------------------------- */
/* Properties over random matrices, every scheme x granularity                  */

typedef struct {
    int64_t rows, cols, block;
} tq_shape;

static const tq_shape tq_shapes[] = {{1, 32, 8}, {7, 48, 16}, {16, 64, 32}, {5, 96, 96}, {3, 10, 5}};

/* Checks one quantized matrix against its input, group by group. */
static void check_groups(const float *v, const quant_matrix *q, const float *out)
{
    const quant_scheme_traits *t = quant_scheme_get(q->scheme);
    int64_t glen = q->gran == QUANT_GRAN_TENSOR ? q->rows * q->cols : q->block;
    for (int64_t g = 0; g < q->n_groups; g++) {
        const float *gv = v + g * glen;
        const int8_t *gc = q->codes + g * glen;
        const float *go = out + g * glen;
        float s = q->scales[g];
        float amax = 0, lo = 0, hi = 0;
        int64_t imax = 0, ilo = -1, ihi = -1;
        for (int64_t i = 0; i < glen; i++) {
            cr_assert(gc[i] >= t->qmin && gc[i] <= t->qmax, "code %d out of range", gc[i]);
            /* Half a step, plus float rounding of v*s (+z) and of the division. */
            double bound = (0.5 + 1e-4) / s + 4.0 * ldexp(fabs(gv[i]), -24);
            cr_assert_leq(fabs((double)gv[i] - (double)go[i]), bound,
                          "group %lld value %f -> %f, s = %f", (long long)g, gv[i], go[i], s);
            if (fabsf(gv[i]) > amax) {
                amax = fabsf(gv[i]);
                imax = i;
            }
            if (gv[i] < lo) {
                lo = gv[i];
                ilo = i;
            }
            if (gv[i] > hi) {
                hi = gv[i];
                ihi = i;
            }
        }
        if (q->scheme == QUANT_SCHEME_ABSMAX) {
            cr_assert_float_eq(s, 127.0f / amax, 1e-6f * s);
            cr_assert_eq(abs(gc[imax]), 127, "extreme of group %lld", (long long)g);
        } else {
            cr_assert(q->zeros[g] >= -128 && q->zeros[g] <= 127);
            if (ihi >= 0)
                cr_assert_eq(gc[ihi], 127, "max of group %lld", (long long)g);
            if (ilo >= 0)
                cr_assert_eq(gc[ilo], -128, "min of group %lld", (long long)g);
        }
    }
}

Test(quant_int8, random_matrices_every_scheme_and_granularity)
{
    int checked = 0;
    for (int s = 0; s < QUANT_SCHEME_COUNT; s++) {
        const quant_scheme_traits *t = quant_scheme_get((quant_scheme)s);
        if (!t->is_int8)
            continue;
        for (int g = 0; g < QUANT_GRAN_COUNT; g++)
            for (size_t sh = 0; sh < sizeof tq_shapes / sizeof tq_shapes[0]; sh++)
                for (uint64_t seed = 1; seed <= 6; seed++) {
                    const tq_shape *p = &tq_shapes[sh];
                    int64_t total = p->rows * p->cols;
                    float *v = malloc((size_t)total * sizeof *v);
                    float *out = malloc((size_t)total * sizeof *out);
                    /* Vary the offset so some groups are one-signed. */
                    tq_fill_normal(v, total, seed * 1000 + (uint64_t)sh, 0.5 * (double)seed);
                    for (int64_t i = 0; i < total; i++)
                        v[i] += (float)(seed % 3) * 0.7f;
                    quant_matrix q;
                    cr_assert_eq(quant_matrix_init(&q, (quant_scheme)s, (quant_gran)g, p->rows,
                                                   p->cols, p->block), QUANT_OK);
                    cr_assert_eq(quant_quantize(v, &q), QUANT_OK);
                    cr_assert_eq(quant_dequantize(&q, out), QUANT_OK);
                    check_groups(v, &q, out);
                    quant_matrix_free(&q);
                    free(v);
                    free(out);
                    checked++;
                }
    }
    cr_assert_eq(checked, 2 * QUANT_GRAN_COUNT * 5 * 6);
}

Test(quant_int8, roundtrip_error_within_traits_tolerance)
{
    const int64_t rows = 32, cols = 256;
    float *v = malloc(rows * cols * sizeof *v);
    float *out = malloc(rows * cols * sizeof *out);
    tq_fill_normal(v, rows * cols, 99, 1.0);
    for (int s = 0; s < QUANT_SCHEME_COUNT; s++) {
        const quant_scheme_traits *t = quant_scheme_get((quant_scheme)s);
        cr_assert_not_null(t->roundtrip);
        cr_assert_eq(t->roundtrip(t->id, QUANT_GRAN_ROW, v, rows, cols, 0, out), QUANT_OK);
        double num = 0, den = 0;
        for (int64_t i = 0; i < rows * cols; i++) {
            num += ((double)out[i] - v[i]) * ((double)out[i] - v[i]);
            den += (double)v[i] * v[i];
        }
        double rel = sqrt(num / den);
        cr_assert_leq(rel, t->roundtrip_rel_tol, "%s: %g", t->name, rel);
        if (s != QUANT_SCHEME_FP32)
            cr_assert_gt(rel, 0.0, "%s should lose something", t->name);
    }
    free(v);
    free(out);
}

Test(quant_int8, block_groups_are_laid_out_row_major)
{
    /* 2 rows x 3 blocks of 2; the maximum of block (r, b) is r*3 + b + 1. */
    float v[12];
    for (int r = 0; r < 2; r++)
        for (int b = 0; b < 3; b++) {
            v[r * 6 + b * 2] = (float)(r * 3 + b + 1);
            v[r * 6 + b * 2 + 1] = 0.25f;
        }
    quant_matrix q;
    cr_assert_eq(quant_matrix_init(&q, QUANT_SCHEME_ABSMAX, QUANT_GRAN_BLOCK, 2, 6, 2), QUANT_OK);
    cr_assert_eq(q.groups_per_row, 3);
    cr_assert_eq(q.n_groups, 6);
    cr_assert_eq(quant_quantize(v, &q), QUANT_OK);
    for (int g = 0; g < 6; g++)
        cr_assert_eq(q.scales[g], 127.0f / (float)(g + 1));
    quant_matrix_free(&q);
}

Test(quant_int8, tensor_and_row_group_counts)
{
    quant_status st;
    cr_assert_eq(quant_group_count(QUANT_GRAN_TENSOR, 5, 8, 0, &st), 1);
    cr_assert_eq(quant_group_count(QUANT_GRAN_ROW, 5, 8, 0, &st), 5);
    cr_assert_eq(quant_group_count(QUANT_GRAN_CHANNEL, 5, 8, 0, &st), 5);
    cr_assert_eq(quant_group_count(QUANT_GRAN_BLOCK, 5, 8, 4, &st), 10);
    cr_assert_eq(st, QUANT_OK);
}

/* ---------------------------------------------------------------------------- */
/* Errors                                                                       */

Test(quant_int8, block_not_dividing_cols_is_rejected)
{
    quant_status st = QUANT_OK;
    cr_assert_eq(quant_group_count(QUANT_GRAN_BLOCK, 4, 10, 3, &st), -1);
    cr_assert_eq(st, QUANT_ERR_BLOCK);
    cr_assert_eq(quant_group_count(QUANT_GRAN_BLOCK, 4, 10, 0, &st), -1);
    cr_assert_eq(st, QUANT_ERR_BLOCK);
    cr_assert_eq(quant_group_count(QUANT_GRAN_BLOCK, 4, 10, -2, &st), -1);
    cr_assert_eq(st, QUANT_ERR_BLOCK);
    cr_assert_eq(quant_group_count(QUANT_GRAN_BLOCK, 4, 10, 20, &st), -1, "block longer than a row");
    quant_matrix q;
    cr_assert_eq(quant_matrix_init(&q, QUANT_SCHEME_ABSMAX, QUANT_GRAN_BLOCK, 4, 10, 3), QUANT_ERR_BLOCK);
    cr_assert_null(q.codes);
    float v[40] = {0}, out[40];
    cr_assert_eq(quant_roundtrip(QUANT_SCHEME_ZEROPOINT, QUANT_GRAN_BLOCK, v, 4, 10, 4, out),
                 QUANT_ERR_BLOCK);
}

Test(quant_int8, nan_or_inf_input_is_an_error_and_leaves_output_untouched)
{
    float v[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    const float bad[2] = {NAN, INFINITY};
    for (int s = QUANT_SCHEME_ABSMAX; s <= QUANT_SCHEME_ZEROPOINT; s++)
        for (int b = 0; b < 2; b++) {
            quant_matrix q;
            cr_assert_eq(quant_matrix_init(&q, (quant_scheme)s, QUANT_GRAN_ROW, 2, 4, 0), QUANT_OK);
            memset(q.codes, 0x55, 8);
            q.scales[0] = q.scales[1] = -1.0f;
            float w[8];
            memcpy(w, v, sizeof v);
            w[5] = bad[b];
            cr_assert_eq(quant_quantize(w, &q), QUANT_ERR_NONFINITE);
            for (int i = 0; i < 8; i++)
                cr_assert_eq((uint8_t)q.codes[i], 0x55);
            cr_assert_eq(q.scales[0], -1.0f);
            float sc;
            int32_t z;
            cr_assert_eq(quant_group_params((quant_scheme)s, w, 8, 1, &sc, &z), QUANT_ERR_NONFINITE);
            quant_matrix_free(&q);
        }
    cr_assert_eq(quant_all_finite(v, 8), 1);
    v[7] = -INFINITY;
    cr_assert_eq(quant_all_finite(v, 8), 0);
}

Test(quant_int8, subnormal_maximum_overflows_the_scale)
{
    float v[2] = {1e-40f, -5e-41f};
    float s;
    cr_assert_eq(quant_group_params(QUANT_SCHEME_ABSMAX, v, 2, 1, &s, NULL), QUANT_ERR_RANGE);
    /* A float range that overflows: max - min = inf. */
    float w[2] = {3e38f, -3e38f};
    int32_t z;
    cr_assert_eq(quant_group_params(QUANT_SCHEME_ZEROPOINT, w, 2, 1, &s, &z), QUANT_ERR_RANGE);
}

Test(quant_int8, bad_arguments_are_rejected)
{
    quant_matrix q;
    cr_assert_eq(quant_matrix_init(&q, QUANT_SCHEME_FP16, QUANT_GRAN_ROW, 2, 2, 0), QUANT_ERR_UNSUPPORTED);
    cr_assert_eq(quant_matrix_init(&q, QUANT_SCHEME_COUNT, QUANT_GRAN_ROW, 2, 2, 0), QUANT_ERR_ARG);
    cr_assert_eq(quant_matrix_init(&q, QUANT_SCHEME_ABSMAX, QUANT_GRAN_COUNT, 2, 2, 0), QUANT_ERR_ARG);
    cr_assert_eq(quant_matrix_init(&q, QUANT_SCHEME_ABSMAX, QUANT_GRAN_ROW, 0, 2, 0), QUANT_ERR_ARG);
    cr_assert_eq(quant_matrix_init(NULL, QUANT_SCHEME_ABSMAX, QUANT_GRAN_ROW, 2, 2, 0), QUANT_ERR_ARG);
    float v[4] = {1, 2, 3, 4};
    float s;
    cr_assert_eq(quant_group_params(QUANT_SCHEME_ZEROPOINT, v, 4, 1, &s, NULL), QUANT_ERR_ARG);
    cr_assert_eq(quant_group_params(QUANT_SCHEME_ABSMAX, v, 0, 1, &s, NULL), QUANT_ERR_ARG);
    cr_assert_eq(quant_quantize(v, NULL), QUANT_ERR_ARG);
}

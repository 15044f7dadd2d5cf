/* test_quant_fp8.c: fp8 e4m3 / e5m2 conversions and the fp8 matmul schemes.
 *
 * Expected bit patterns are written out by hand from the OCP 8-bit floating point
 * layouts (e4m3: bias 7, S.1111.111 is NaN; e5m2: bias 15, IEEE-like). Rounding is
 * checked against a brute-force oracle: the nearest of all finite code values,
 * ties to the code with an even mantissa.
 */
#include <criterion/criterion.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include <float.h>
#include <math.h>
#include "../quant/quant.h"
#include "test_quant_util.h"

Test(quant_fp8, e4m3_exact_values_have_known_bits)
{
    cr_assert_eq(quant_f32_to_fp8_e4m3(0.0f), 0x00);
    cr_assert_eq(quant_f32_to_fp8_e4m3(-0.0f), 0x80);
    cr_assert_eq(quant_f32_to_fp8_e4m3(1.0f), 0x38);       /* 0.0111.000 */
    cr_assert_eq(quant_f32_to_fp8_e4m3(-2.0f), 0xc0);      /* 1.1000.000 */
    cr_assert_eq(quant_f32_to_fp8_e4m3(448.0f), 0x7e);     /* 0.1111.110: largest finite */
    cr_assert_eq(quant_f32_to_fp8_e4m3(-448.0f), 0xfe);
    cr_assert_eq(quant_f32_to_fp8_e4m3(240.0f), 0x77);     /* 2^7 * 1.875 = 0.1110.111 */
    cr_assert_eq(quant_f32_to_fp8_e4m3(ldexpf(1.0f, -6)), 0x08);   /* smallest normal */
    cr_assert_eq(quant_f32_to_fp8_e4m3(ldexpf(1.0f, -9)), 0x01);   /* smallest subnormal */
    cr_assert_eq(quant_f32_to_fp8_e4m3(7.0f * ldexpf(1.0f, -9)), 0x07); /* largest subnormal */
    cr_assert_eq(quant_fp8_e4m3_to_f32(0x7e), 448.0f);
    cr_assert_eq(quant_fp8_e4m3_to_f32(0x77), 240.0f);
    cr_assert_eq(quant_fp8_e4m3_to_f32(0x01), ldexpf(1.0f, -9));
    cr_assert_eq(quant_fp8_e4m3_to_f32(0xb8), -1.0f);
    /* 0.1111.000 .. 0.1111.110 are finite in e4m3 (no infinities): 256 .. 448. */
    cr_assert_eq(quant_fp8_e4m3_to_f32(0x78), 256.0f);
}

Test(quant_fp8, e5m2_exact_values_have_known_bits)
{
    cr_assert_eq(quant_f32_to_fp8_e5m2(1.0f), 0x3c);       /* 0.01111.00 */
    cr_assert_eq(quant_f32_to_fp8_e5m2(57344.0f), 0x7b);   /* 0.11110.11: largest finite */
    cr_assert_eq(quant_f32_to_fp8_e5m2(ldexpf(1.0f, -16)), 0x01);
    cr_assert_eq(quant_f32_to_fp8_e5m2(ldexpf(1.0f, -14)), 0x04);
    cr_assert_eq(quant_f32_to_fp8_e5m2(-1.5f), 0xbe);
    cr_assert(isinf(quant_fp8_e5m2_to_f32(0x7c)) && quant_fp8_e5m2_to_f32(0x7c) > 0);
    cr_assert(isinf(quant_fp8_e5m2_to_f32(0xfc)) && quant_fp8_e5m2_to_f32(0xfc) < 0);
    cr_assert(isnan(quant_fp8_e5m2_to_f32(0x7d)));
    cr_assert(isnan(quant_fp8_e5m2_to_f32(0x7f)));
    cr_assert_eq(quant_fp8_e5m2_to_f32(0x7b), 57344.0f);
}

Test(quant_fp8, ties_round_to_even_mantissa)
{
    /* 1 + 2^-4 lies halfway between 1.0 (mantissa 000) and 1.125 (001): even is 1.0. */
    cr_assert_eq(quant_f32_to_fp8_e4m3(1.0625f), 0x38);
    /* 1.1875 lies halfway between 1.125 (001) and 1.25 (010): even is 010. */
    cr_assert_eq(quant_f32_to_fp8_e4m3(1.1875f), 0x3a);
    cr_assert_eq(quant_f32_to_fp8_e4m3(1.0626f), 0x39);   /* just above the tie goes up */
    /* Subnormal ties: 2^-10 is half the smallest subnormal -> 0; 3 * 2^-10 -> 2 * 2^-9. */
    cr_assert_eq(quant_f32_to_fp8_e4m3(ldexpf(1.0f, -10)), 0x00);
    cr_assert_eq(quant_f32_to_fp8_e4m3(3.0f * ldexpf(1.0f, -10)), 0x02);
    /* A carry into the next binade: 1.9375 (between 1.875 and 2.0) goes to 2.0 (even). */
    cr_assert_eq(quant_f32_to_fp8_e4m3(1.9375f), 0x40);
    /* e5m2: 1.125 is halfway between 1.0 (00) and 1.25 (01): even is 1.0. */
    cr_assert_eq(quant_f32_to_fp8_e5m2(1.125f), 0x3c);
    cr_assert_eq(quant_f32_to_fp8_e5m2(1.375f), 0x3e);
}

Test(quant_fp8, overflow_and_infinity_saturate_nan_stays_nan)
{
    cr_assert_eq(quant_f32_to_fp8_e4m3(464.0f), 0x7e);    /* above 448, below the next binade step */
    cr_assert_eq(quant_f32_to_fp8_e4m3(1000.0f), 0x7e);
    cr_assert_eq(quant_f32_to_fp8_e4m3(FLT_MAX), 0x7e);
    cr_assert_eq(quant_f32_to_fp8_e4m3(INFINITY), 0x7e);
    cr_assert_eq(quant_f32_to_fp8_e4m3(-INFINITY), 0xfe);
    cr_assert_eq(quant_f32_to_fp8_e5m2(1e6f), 0x7b);
    cr_assert_eq(quant_f32_to_fp8_e5m2(-INFINITY), 0xfb);
    uint8_t n4 = quant_f32_to_fp8_e4m3(NAN), n5 = quant_f32_to_fp8_e5m2(NAN);
    cr_assert(isnan(quant_fp8_e4m3_to_f32(n4)), "e4m3 NaN code 0x%02x", n4);
    cr_assert(isnan(quant_fp8_e5m2_to_f32(n5)), "e5m2 NaN code 0x%02x", n5);
    cr_assert(isnan(quant_fp8_e4m3_to_f32(0x7f)) && isnan(quant_fp8_e4m3_to_f32(0xff)));
    /* Below half the smallest subnormal: signed zero. */
    cr_assert_eq(quant_f32_to_fp8_e4m3(-ldexpf(1.0f, -11)), 0x80);
}

/* Brute-force nearest finite code, ties to the even code (bit 0 clear). */
static uint8_t oracle(float (*dec)(uint8_t), float fmax, float x)
{
    if (x > fmax)
        return oracle(dec, fmax, fmax);
    if (x < -fmax)
        return oracle(dec, fmax, -fmax);
    int best = -1;
    double bd = INFINITY;
    for (int c = 0; c < 256; c++) {
        float v = dec((uint8_t)c);
        if (!isfinite(v))
            continue;
        if (v == 0.0f && (signbit(v) != 0) != (signbit(x) != 0))
            continue;   /* zero keeps the sign of x */
        double d = fabs((double)x - (double)v);
        if (d < bd || (d == bd && (c & 1) == 0)) {
            bd = d;
            best = c;
        }
    }
    return (uint8_t)best;
}

Test(quant_fp8, conversion_matches_brute_force_nearest_even)
{
    tq_rng r = {4242};
    for (int i = 0; i < 20000; i++) {
        /* Log-uniform magnitudes over the whole range, subnormals and overflow included. */
        double e = -20.0 + 38.0 * tq_uniform(&r);
        float x = (float)(ldexp(1.0, (int)floor(e)) * (1.0 + tq_uniform(&r)));
        if (tq_next(&r) & 1)
            x = -x;
        cr_assert_eq(quant_f32_to_fp8_e4m3(x), oracle(quant_fp8_e4m3_to_f32, 448.0f, x), "e4m3 %a", x);
        cr_assert_eq(quant_f32_to_fp8_e5m2(x), oracle(quant_fp8_e5m2_to_f32, 57344.0f, x), "e5m2 %a", x);
    }
    /* Every finite code is a fixed point of decode then encode. */
    for (int c = 0; c < 256; c++) {
        float v4 = quant_fp8_e4m3_to_f32((uint8_t)c), v5 = quant_fp8_e5m2_to_f32((uint8_t)c);
        if (!isnan(v4))
            cr_assert_eq(quant_f32_to_fp8_e4m3(v4), c, "e4m3 code 0x%02x", c);
        if (isfinite(v5))
            cr_assert_eq(quant_f32_to_fp8_e5m2(v5), c, "e5m2 code 0x%02x", c);
    }
}

Test(quant_fp8, row_scale_maps_each_row_maximum_to_the_largest_finite)
{
    const int64_t rows = 6, cols = 40;
    float v[240], out[240];
    tq_fill_normal(v, rows * cols, 5, 3.0);
    cr_assert_eq(quant_fp8_roundtrip(QUANT_SCHEME_FP8_E4M3, QUANT_GRAN_ROW, v, rows, cols, 0, out),
                 QUANT_OK);
    for (int64_t r = 0; r < rows; r++) {
        float amax = 0;
        int64_t im = 0;
        for (int64_t c = 0; c < cols; c++)
            if (fabsf(v[r * cols + c]) > amax) {
                amax = fabsf(v[r * cols + c]);
                im = c;
            }
        float s;
        cr_assert_eq(quant_fp8_group_scale(QUANT_SCHEME_FP8_E4M3, v + r * cols, cols, 1, &s), QUANT_OK);
        cr_assert_eq(s, 448.0f / amax);
        /* The maximum scales to ~448 and comes back within float rounding. */
        cr_assert_float_eq(out[r * cols + im], v[r * cols + im], 1e-6f * amax);
        /* Everyone else within half an e4m3 step of its binade (relative 2^-4), or
         * half the subnormal step (2^-10 / s) near zero. */
        for (int64_t c = 0; c < cols; c++) {
            double a = fabs(v[r * cols + c]);
            double bound = fmax(a * 0.0625, ldexp(1.0, -10) / s) * (1 + 1e-6);
            cr_assert_leq(fabs(out[r * cols + c] - v[r * cols + c]), bound);
        }
    }
    float z[4] = {0, 0, 0, 0}, s;
    cr_assert_eq(quant_fp8_group_scale(QUANT_SCHEME_FP8_E5M2, z, 4, 1, &s), QUANT_OK);
    cr_assert_eq(s, 1.0f);
}

Test(quant_fp8, matmul_equals_float64_product_of_the_dequantized_operands)
{
    const int64_t m = 7, k = 48, n = 5;
    float x[336], w[240], y[35], xd[336], wd[240];
    tq_fill_normal(x, m * k, 11, 1.0);
    tq_fill_normal(w, n * k, 12, 0.05);
    for (int s = QUANT_SCHEME_FP8_E4M3; s <= QUANT_SCHEME_FP8_E5M2; s++)
        for (int xg = 0; xg < 2; xg++) {
            quant_gran gx = xg ? QUANT_GRAN_ROW : QUANT_GRAN_TENSOR;
            quant_gran gw = xg ? QUANT_GRAN_CHANNEL : QUANT_GRAN_TENSOR;
            quant_matmul_opts o = {(quant_scheme)s, gx, gw, 0, 0.0f, QUANT_OUTLIER_FP16, 0.0f, NULL};
            quant_matmul_info info;
            cr_assert_eq(quant_matmul_scheme(x, w, m, k, n, &o, y, &info), QUANT_OK);
            quant_fp8_roundtrip((quant_scheme)s, gx, x, m, k, 0, xd);
            quant_fp8_roundtrip((quant_scheme)s, gw, w, n, k, 0, wd);
            for (int64_t i = 0; i < m; i++)
                for (int64_t j = 0; j < n; j++) {
                    double ref = 0, a = 0;
                    for (int64_t p = 0; p < k; p++) {
                        ref += (double)xd[i * k + p] * wd[j * k + p];
                        a += fabs((double)xd[i * k + p] * wd[j * k + p]);
                    }
                    cr_assert_leq(fabs(y[i * n + j] - ref), 1e-5 * a);
                }
            int64_t nsx = xg ? m : 1, nsw = xg ? n : 1;
            cr_assert_eq(info.x_bytes, m * k + 4 * nsx);
            cr_assert_eq(info.w_bytes, n * k + 4 * nsw);
            cr_assert_gt(info.w_rel_err, 0.0);
            cr_assert_leq(info.w_rel_err, quant_scheme_get((quant_scheme)s)->roundtrip_rel_tol);
        }
}

Test(quant_fp8, outlier_decomposition_counts_columns_and_fp16_bytes)
{
    const int64_t m = 16, k = 64, n = 8;
    float x[1024], w[512], y[128];
    tq_fill_normal(x, m * k, 21, 1.0);
    tq_fill_normal(w, n * k, 22, 0.05);
    /* Columns 3 and 40 carry outliers well above the threshold. */
    for (int64_t i = 0; i < m; i++) {
        x[i * k + 3] = 30.0f + (float)i;
        x[i * k + 40] = -25.0f;
    }
    for (int64_t i = 0; i < m * k; i++)
        if (fabsf(x[i]) >= 6.0f && i % k != 3 && i % k != 40)
            x[i] = 5.0f;
    quant_matmul_opts o = {QUANT_SCHEME_FP8_E4M3, QUANT_GRAN_ROW, QUANT_GRAN_CHANNEL, 0, 6.0f,
                           QUANT_OUTLIER_FP16, 0.0f, NULL};
    quant_matmul_info info;
    cr_assert_eq(quant_matmul_scheme(x, w, m, k, n, &o, y, &info), QUANT_OK);
    cr_assert_eq(info.outlier_cols, 2);
    cr_assert_eq(info.x_bytes, m * k + 4 * m + 2 * m * 2);
    cr_assert_eq(info.w_bytes, n * k + 4 * n + 2 * n * 2);
    o.x_gran = QUANT_GRAN_BLOCK;
    o.block = 16;
    cr_assert_eq(quant_matmul_scheme(x, w, m, k, n, &o, y, NULL), QUANT_ERR_UNSUPPORTED);
}

/* Large tensors are encoded and decoded by several threads and decoded through a
 * table of the 256 codes' values: every code and value must be the scalar
 * conversion's (quant_f32_to_fp8_*, quant_fp8_*_to_f32) of the value times its
 * group's scale, bit for bit, at one thread and at four. */
Test(quant_fp8, threaded_tensors_match_the_scalar_conversion_bit_for_bit)
{
    enum { R = 256, C = 320 };   /* 81,920 values: past the threading cut-off */
    float *v = malloc(sizeof(float) * R * C), *out = malloc(sizeof(float) * R * C);
    uint8_t *codes = malloc(R * C);
    float scales[R];
    cr_assert(v && out && codes);
    tq_fill_normal(v, R * C, 11, 2.0);
    for (int i = 0; i < R * C; i += 331) v[i] *= 1e4f;   /* saturating and subnormal codes too */
    for (int i = 7; i < R * C; i += 517) v[i] *= 1e-6f;
    static const quant_scheme schemes[] = {QUANT_SCHEME_FP8_E4M3, QUANT_SCHEME_FP8_E5M2};
    static const quant_gran grans[] = {QUANT_GRAN_TENSOR, QUANT_GRAN_ROW};
    int saved = omp_get_max_threads();
    for (int t = 0; t < 2; t++) {
        omp_set_num_threads(t ? 4 : 1);
        for (int si = 0; si < 2; si++)
            for (int gi = 0; gi < 2; gi++) {
                int64_t ng = 0;
                cr_assert_eq(quant_fp8_quantize(schemes[si], grans[gi], v, R, C, 0, codes, scales, &ng), QUANT_OK);
                cr_assert_eq(ng, grans[gi] == QUANT_GRAN_TENSOR ? 1 : R);
                int64_t glen = (int64_t)R * C / ng;
                cr_assert_eq(quant_fp8_dequantize(schemes[si], codes, scales, (int64_t)R * C, glen, out), QUANT_OK);
                for (int64_t i = 0; i < (int64_t)R * C; i++) {
                    float sc = scales[i / glen], x = v[i] * sc;
                    uint8_t want = si == 0 ? quant_f32_to_fp8_e4m3(x) : quant_f32_to_fp8_e5m2(x);
                    cr_assert_eq(codes[i], want, "threads %d scheme %d gran %d value %lld", t ? 4 : 1, si, gi,
                                 (long long)i);
                    float back = (si == 0 ? quant_fp8_e4m3_to_f32(want) : quant_fp8_e5m2_to_f32(want)) / sc;
                    cr_assert_eq(memcmp(&out[i], &back, sizeof back), 0, "value %lld decodes differently",
                                 (long long)i);
                }
            }
    }
    omp_set_num_threads(saved);
    free(v);
    free(out);
    free(codes);
}

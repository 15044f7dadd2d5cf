/* test_quant_fourbit.c: nf4 / fp4 weights, packing, double quantization, memory.
 *
 * The code tables are checked against the published values (NF4: QLoRA, Dettmers
 * et al. 2023, appendix E; FP4: bitsandbytes' fp4 map {0, 0.0625, 8, 12, 4, 6, 2, 3}
 * and negatives, over 12). Nearest-code selection is checked against a brute-force
 * argmin, bits per parameter against the formulas 4 + 32/B and
 * 4 + 8/B + 32/(256 B) written out by hand.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include "../quant/quant.h"
#include "test_quant_util.h"

static const quant_scheme fourbit_schemes[] = {QUANT_SCHEME_NF4, QUANT_SCHEME_FP4,
                                               QUANT_SCHEME_NF4_DQ, QUANT_SCHEME_FP4_DQ};
#define N_FOURBIT 4

Test(quant_fourbit, nf4_table_is_the_published_normalfloat)
{
    static const double published[16] = {
        -1.0, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453,
        -0.28444138169288635, -0.18477343022823334, -0.09105003625154495, 0.0,
        0.07958029955625534, 0.16093020141124725, 0.24611230194568634, 0.33791524171829224,
        0.44070982933044434, 0.5626170039176941, 0.7229568362236023, 1.0};
    const float *t = quant_4bit_table(QUANT_SCHEME_NF4);
    cr_assert_not_null(t);
    for (int i = 0; i < 16; i++)
        cr_assert_float_eq(t[i], published[i], 1e-7, "code %d", i);
    for (int i = 0; i < 15; i++)
        cr_assert_lt(t[i], t[i + 1]);
    cr_assert_eq(t[7], 0.0f);
    cr_assert_eq(t[0], -1.0f);
    cr_assert_eq(t[15], 1.0f);
    cr_assert_eq(quant_4bit_table(QUANT_SCHEME_NF4_DQ), t);
    cr_assert_null(quant_4bit_table(QUANT_SCHEME_ABSMAX));
}

Test(quant_fourbit, fp4_table_is_bitsandbytes_fp4_over_12)
{
    static const double mag[8] = {0, 0.0625, 8, 12, 4, 6, 2, 3};
    const float *t = quant_4bit_table(QUANT_SCHEME_FP4);
    cr_assert_not_null(t);
    for (int i = 0; i < 8; i++) {
        cr_assert_float_eq(t[i], mag[i] / 12.0, 1e-7, "code %d", i);
        cr_assert_float_eq(t[i + 8], -mag[i] / 12.0, 1e-7, "code %d", i + 8);
    }
    cr_assert_eq(t[3], 1.0f);
    cr_assert_eq(t[11], -1.0f);
}

Test(quant_fourbit, nearest_code_matches_brute_force_and_ties_go_down)
{
    tq_rng r = {77};
    for (int s = 0; s < 2; s++) {
        quant_scheme sc = fourbit_schemes[s];
        const float *t = quant_4bit_table(sc);
        for (int i = 0; i < 20000; i++) {
            float x = (float)(-1.1 + 2.2 * tq_uniform(&r));
            int best = -1;
            double bd = INFINITY;
            for (int c = 0; c < 16; c++) {
                if (sc == QUANT_SCHEME_FP4 && c == 8)
                    continue;   /* -0 duplicates code 0 */
                double d = fabs((double)x - t[c]);
                if (d < bd || (d == bd && t[c] < t[best])) {
                    bd = d;
                    best = c;
                }
            }
            cr_assert_eq(quant_4bit_code(sc, x), best, "scheme %d x %a", s, x);
        }
    }
    /* Ties: a value exactly on the float32 midpoint of two neighbours takes the
     * smaller one; the next float up takes the larger. */
    const float *nf = quant_4bit_table(QUANT_SCHEME_NF4);
    for (int i = 0; i < 15; i++) {
        float mid = (nf[i] + nf[i + 1]) * 0.5f;
        cr_assert_eq(quant_4bit_code(QUANT_SCHEME_NF4, mid), i, "tie %d", i);
        cr_assert_eq(quant_4bit_code(QUANT_SCHEME_NF4, nextafterf(mid, 2.0f)), i + 1);
    }
    /* fp4 between 4/12 (code 4) and 6/12 (code 5). */
    float mid = (4.0f / 12.0f + 0.5f) * 0.5f;
    cr_assert_eq(quant_4bit_code(QUANT_SCHEME_FP4, mid), 4);
    cr_assert_eq(quant_4bit_code(QUANT_SCHEME_FP4, nextafterf(mid, 2.0f)), 5);
    cr_assert_eq(quant_4bit_code(QUANT_SCHEME_NF4, 0.0f), 7);
    cr_assert_eq(quant_4bit_code(QUANT_SCHEME_FP4, 0.0f), 0);
    cr_assert_eq(quant_4bit_code(QUANT_SCHEME_FP4, -0.0f), 0);
    cr_assert_eq(quant_4bit_code(QUANT_SCHEME_FP4, 2.0f), 3);
    cr_assert_eq(quant_4bit_code(QUANT_SCHEME_NF4, -3.0f), 0);
}

Test(quant_fourbit, codes_pack_two_per_byte_high_nibble_first)
{
    /* One block of 64: absmax 2, so v = 2 * table value gives that code. */
    float v[64];
    for (int i = 0; i < 64; i++)
        v[i] = 0.0f;
    v[0] = -2.0f;    /* nf4 code 0 */
    v[1] = 2.0f;     /* code 15 */
    v[2] = 0.0f;     /* code 7 */
    v[3] = -2.0f;    /* code 0 */
    v[5] = 2.0f * 0.07958029955625534f;   /* code 8 */
    quant_4bit q;
    cr_assert_eq(quant_4bit_init(&q, QUANT_SCHEME_NF4, 1, 64, 64), QUANT_OK);
    cr_assert_eq(quant_4bit_quantize(v, &q), QUANT_OK);
    cr_assert_eq(q.codes[0], 0x0f);
    cr_assert_eq(q.codes[1], 0x70);
    cr_assert_eq(q.codes[2], 0x78);
    cr_assert_eq(q.codes[3], 0x77);
    cr_assert_eq(q.absmax[0], 2.0f);
    cr_assert_eq(quant_4bit_get(q.codes, 5), 8);
    cr_assert_eq(quant_4bit_code_bytes(&q), 32);
    quant_4bit_free(&q);
}

/* Largest gap between neighbouring distinct table values. */
static double max_gap(const float *t)
{
    float s[16];
    for (int i = 0; i < 16; i++)
        s[i] = t[i];
    for (int i = 1; i < 16; i++)
        for (int j = i; j > 0 && s[j - 1] > s[j]; j--) {
            float tmp = s[j];
            s[j] = s[j - 1];
            s[j - 1] = tmp;
        }
    double g = 0;
    for (int i = 0; i < 15; i++)
        if (s[i + 1] - s[i] > g)
            g = s[i + 1] - s[i];
    return g;
}

Test(quant_fourbit, roundtrip_within_half_the_widest_gap_of_each_block_scale)
{
    const int64_t rows = 6, cols = 256;
    float *v = malloc(rows * cols * sizeof *v), *out = malloc(rows * cols * sizeof *out);
    tq_fill_normal(v, rows * cols, 31, 0.02);
    const int64_t blocks[] = {32, 64, 128, 256};
    for (int s = 0; s < N_FOURBIT; s++)
        for (int b = 0; b < 4; b++) {
            quant_4bit q;
            cr_assert_eq(quant_4bit_init(&q, fourbit_schemes[s], rows, cols, blocks[b]), QUANT_OK);
            cr_assert_eq(quant_4bit_quantize(v, &q), QUANT_OK);
            cr_assert_eq(quant_4bit_dequantize(&q, out), QUANT_OK);
            const float *t = quant_4bit_table(fourbit_schemes[s]);
            double half = 0.5 * max_gap(t);
            for (int64_t i = 0; i < rows * cols; i++) {
                double a = fabs(q.absmax[i / blocks[b]]);
                /* Values beyond a (double quantization may shrink the scale) clip to +-a. */
                double over = fabs(v[i]) > a ? fabs(v[i]) - a : 0.0;
                cr_assert_leq(fabs(out[i] - v[i]), half * a + over + 1e-7 * a, "scheme %d block %lld i %lld",
                              s, (long long)blocks[b], (long long)i);
                cr_assert_eq(out[i], t[quant_4bit_get(q.codes, i)] * q.absmax[i / blocks[b]]);
            }
            quant_4bit_free(&q);
        }
    free(v);
    free(out);
}

Test(quant_fourbit, double_quantization_stores_int8_offsets_from_the_mean)
{
    const int64_t rows = 40, cols = 512, block = 32;   /* 640 blocks: runs of 256, 256, 128 */
    float *v = malloc(rows * cols * sizeof *v);
    tq_fill_normal(v, rows * cols, 41, 1.0);
    quant_4bit q, p;
    cr_assert_eq(quant_4bit_init(&q, QUANT_SCHEME_NF4_DQ, rows, cols, block), QUANT_OK);
    cr_assert_eq(quant_4bit_init(&p, QUANT_SCHEME_NF4, rows, cols, block), QUANT_OK);
    cr_assert_eq(quant_4bit_quantize(v, &q), QUANT_OK);
    cr_assert_eq(quant_4bit_quantize(v, &p), QUANT_OK);
    cr_assert_eq(q.n_blocks, 640);
    cr_assert_eq(q.n_dq_blocks, 3);
    double mean = 0;
    for (int64_t b = 0; b < p.n_blocks; b++)
        mean += p.absmax[b];
    mean /= (double)p.n_blocks;
    cr_assert_float_eq(q.dq_mean, mean, 1e-6 * mean);
    for (int64_t r = 0; r < 3; r++) {
        int64_t b0 = r * 256, b1 = b0 + 256 < 640 ? b0 + 256 : 640;
        double cmax = 0;
        for (int64_t b = b0; b < b1; b++)
            cmax = fmax(cmax, fabs(p.absmax[b] - q.dq_mean));
        cr_assert_float_eq(q.dq_scales[r], 127.0 / cmax, 1e-5 * q.dq_scales[r]);
        int hit = 0;
        for (int64_t b = b0; b < b1; b++) {
            cr_assert(q.qabsmax[b] >= -127 && q.qabsmax[b] <= 127);
            hit |= abs(q.qabsmax[b]) == 127;
            /* Within half a second-level step of the exact absmax. */
            cr_assert_leq(fabs(q.absmax[b] - p.absmax[b]), 0.5 * cmax / 127.0 * (1 + 1e-4) + 1e-6);
            cr_assert_float_eq(q.absmax[b], (float)q.qabsmax[b] / q.dq_scales[r] + q.dq_mean, 1e-6);
        }
        cr_assert(hit, "the extreme of run %lld gets code +-127", (long long)r);
    }
    quant_4bit_free(&q);
    quant_4bit_free(&p);
    free(v);
}

Test(quant_fourbit, bits_per_parameter_match_the_formulas_from_stored_bytes)
{
    const int64_t m = 2, k = 4096, n = 256;   /* 1 Mi weights, 16384 blocks of 64 */
    float *x = malloc(m * k * sizeof *x), *w = malloc(n * k * sizeof *w), *y = malloc(m * n * sizeof *y);
    tq_fill_normal(x, m * k, 51, 1.0);
    tq_fill_normal(w, n * k, 52, 0.02);
    const double params = (double)(n * k);
    for (int s = 0; s < N_FOURBIT; s++) {
        quant_matmul_opts o = {fourbit_schemes[s], QUANT_GRAN_TENSOR, QUANT_GRAN_BLOCK, 64, 0.0f,
                               QUANT_OUTLIER_FP16, 0.0f, NULL};
        quant_matmul_info info;
        cr_assert_eq(quant_matmul_scheme(x, w, m, k, n, &o, y, &info), QUANT_OK);
        double bpp = 8.0 * (double)info.w_bytes / params;
        cr_assert_eq(info.w_bytes, info.w_code_bytes + info.w_scale_bytes + info.w_scale2_bytes);
        cr_assert_eq(info.w_code_bytes, n * k / 2);
        cr_assert_eq(info.x_bytes, 2 * m * k);
        if (quant_scheme_get(fourbit_schemes[s])->double_quant) {
            /* 4 + 8/64 + 32/(64*256) = 4.126953125, plus the 4-byte mean. */
            cr_assert_eq(info.w_scale_bytes, 16384);
            cr_assert_eq(info.w_scale2_bytes, 4 * 64 + 4);
            cr_assert_float_eq(bpp, 4.126953125 + 32.0 / params, 1e-12);
            cr_assert_float_eq(bpp, 4.127, 1e-3);
        } else {
            cr_assert_eq(info.w_scale_bytes, 4 * 16384);
            cr_assert_eq(info.w_scale2_bytes, 0);
            cr_assert_eq(bpp, 4.5);
        }
    }
    free(x);
    free(w);
    free(y);
}

Test(quant_fourbit, matmul_is_fp16_x_times_fp16_dequantized_w)
{
    const int64_t m = 3, k = 128, n = 5;
    float x[384], w[640], y[15], wd[640];
    tq_fill_normal(x, m * k, 61, 1.0);
    tq_fill_normal(w, n * k, 62, 0.02);
    for (int s = 0; s < N_FOURBIT; s++) {
        quant_matmul_opts o = {fourbit_schemes[s], QUANT_GRAN_ROW, QUANT_GRAN_BLOCK, 32, 6.0f,
                               QUANT_OUTLIER_FP16, 0.5f, NULL};
        quant_matmul_info info;
        cr_assert_eq(quant_matmul_scheme(x, w, m, k, n, &o, y, &info), QUANT_OK);
        cr_assert_eq(info.outlier_cols, 0, "4-bit schemes ignore the threshold");
        quant_4bit q;
        quant_4bit_init(&q, fourbit_schemes[s], n, k, 32);
        quant_4bit_quantize(w, &q);
        quant_4bit_dequantize(&q, wd);
        quant_4bit_free(&q);
        for (int64_t i = 0; i < m; i++)
            for (int64_t j = 0; j < n; j++) {
                double ref = 0, a = 0;
                for (int64_t p = 0; p < k; p++) {
                    double xv = quant_f16_to_f32(quant_f32_to_f16(x[i * k + p]));
                    double wv = quant_f16_to_f32(quant_f32_to_f16(wd[j * k + p]));
                    ref += xv * wv;
                    a += fabs(xv * wv);
                }
                cr_assert_leq(fabs(y[i * n + j] - ref), 1e-5 * a);
            }
    }
    quant_matmul_opts o = {QUANT_SCHEME_NF4, QUANT_GRAN_TENSOR, QUANT_GRAN_BLOCK, 16, 0.0f,
                           QUANT_OUTLIER_FP16, 0.0f, NULL};
    cr_assert_eq(quant_matmul_scheme(x, w, m, k, n, &o, y, NULL), QUANT_ERR_BLOCK);
    o.block = 8192;
    cr_assert_eq(quant_matmul_scheme(x, w, m, k, n, &o, y, NULL), QUANT_ERR_BLOCK);
    o.block = 48;   /* does not divide 128 */
    cr_assert_eq(quant_matmul_scheme(x, w, m, k, n, &o, y, NULL), QUANT_ERR_BLOCK);
}

Test(quant_fourbit, nf4_beats_fp4_on_normal_weights)
{
    /* NF4's values are the quantiles of a normal distribution, the point of QLoRA. */
    const int64_t rows = 64, cols = 1024;
    float *v = malloc(rows * cols * sizeof *v), *o4 = malloc(rows * cols * sizeof *o4),
          *f4 = malloc(rows * cols * sizeof *f4);
    tq_fill_normal(v, rows * cols, 71, 0.02);
    cr_assert_eq(quant_roundtrip(QUANT_SCHEME_NF4, QUANT_GRAN_BLOCK, v, rows, cols, 64, o4), QUANT_OK);
    cr_assert_eq(quant_roundtrip(QUANT_SCHEME_FP4, QUANT_GRAN_BLOCK, v, rows, cols, 64, f4), QUANT_OK);
    double enf = quant_rel_err_f32(o4, v, (size_t)(rows * cols));
    double efp = quant_rel_err_f32(f4, v, (size_t)(rows * cols));
    cr_assert_lt(enf, efp, "nf4 %g fp4 %g", enf, efp);
    cr_assert_lt(enf, 0.12);
    free(v);
    free(o4);
    free(f4);
}

/* Large tensors are quantized and dequantized by several threads: the codes, block
 * scales and dequantized values must be those of one thread, bit for bit, and (plain
 * schemes) each code the nearest one to v / absmax of its block, computed here one
 * value at a time. Block 7 is odd, so two blocks share a code byte. */
Test(quant_fourbit, threads_change_no_bit)
{
    enum { R = 300, C = 448 };   /* 134,400 values: past the threading cut-off */
    float *v = malloc(sizeof(float) * R * C), *d1 = malloc(sizeof(float) * R * C),
          *d2 = malloc(sizeof(float) * R * C);
    cr_assert(v && d1 && d2);
    for (int i = 0; i < R * C; i++)
        v[i] = (float)sin(0.37 * i) * (1.0f + (float)(i % 13)) * ((i % 97) == 0 ? 40.0f : 1.0f);
    static const int blocks[] = {64, 7};
    int saved = omp_get_max_threads();
    for (int s = 0; s < N_FOURBIT; s++) {
        for (int bi = 0; bi < 2; bi++) {
            quant_4bit one, two;
            cr_assert_eq(quant_4bit_init(&one, fourbit_schemes[s], R, C, blocks[bi]), QUANT_OK);
            cr_assert_eq(quant_4bit_init(&two, fourbit_schemes[s], R, C, blocks[bi]), QUANT_OK);
            omp_set_num_threads(1);
            cr_assert_eq(quant_4bit_quantize(v, &one), QUANT_OK);
            cr_assert_eq(quant_4bit_dequantize(&one, d1), QUANT_OK);
            omp_set_num_threads(4);
            cr_assert_eq(quant_4bit_quantize(v, &two), QUANT_OK);
            cr_assert_eq(quant_4bit_dequantize(&two, d2), QUANT_OK);
            cr_assert_eq(memcmp(one.codes, two.codes, (size_t)quant_4bit_code_bytes(&one)), 0,
                         "scheme %d block %d: codes differ", s, blocks[bi]);
            cr_assert_eq(memcmp(one.absmax, two.absmax, sizeof(float) * (size_t)one.n_blocks), 0);
            cr_assert_eq(memcmp(d1, d2, sizeof(float) * R * C), 0);
            if (fourbit_schemes[s] == QUANT_SCHEME_NF4 || fourbit_schemes[s] == QUANT_SCHEME_FP4)
                for (int i = 0; i < R * C; i++) {
                    int b = i / blocks[bi];
                    float amax = 0.0f;
                    for (int j = b * blocks[bi]; j < (b + 1) * blocks[bi]; j++)
                        amax = fabsf(v[j]) > amax ? fabsf(v[j]) : amax;
                    cr_assert_eq(quant_4bit_get(two.codes, i),
                                 quant_4bit_code(fourbit_schemes[s], amax != 0.0f ? v[i] / amax : 0.0f),
                                 "scheme %d block %d value %d", s, blocks[bi], i);
                }
            quant_4bit_free(&one);
            quant_4bit_free(&two);
        }
    }
    omp_set_num_threads(saved);
    free(v);
    free(d1);
    free(d2);
}

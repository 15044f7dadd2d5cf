/* test_fourbit.c: the 4-bit kernels (kernels/fourbit.cu) against quant/ (quant_4bit).
 *
 * Dequantized fp16 weights must equal quant/'s table[code] * absmax rounded to fp16
 * bit for bit; the double-quantized scales must equal quant/'s absmax' exactly; the
 * two-step matmul and the fused small-m GEMV must match the float64 product of the
 * same fp16 operands within 1e-5 relative (float32 accumulation, another order).
 * Shapes cover every kernel variant: k and block multiples of 32 (the vector GEMV for
 * m = 1, 2..4 and 5..16; the 8-weights-per-thread dequantize), multiples of 8 only
 * (vector dequantize, one-weight GEMV) and neither (both one-weight kernels).
 * Every test skips, saying why, without a usable GPU.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../kernels/qlab_cuda.h"
#include "gpu_test.h"
#include "../../quant/quant.h"

static void fill(float *v, int64_t count, uint64_t seed, double std)
{
    uint64_t s = gauss_seed(seed);
    for (int64_t i = 0; i < count; i++) {
        v[i] = (float)(std * gauss_next(&s));
    }
}

static const quant_scheme schemes[] = {QUANT_SCHEME_NF4, QUANT_SCHEME_FP4, QUANT_SCHEME_NF4_DQ,
                                       QUANT_SCHEME_FP4_DQ};

static void check_shape(qk_ctx *c, int64_t k, int64_t n, int64_t block);

Test(gpu_fourbit, dequantize_and_products_match_quant)
{
    qk_ctx *c = gpu_or_skip();
    check_shape(c, 1024, 384, 64);
    check_shape(c, 120, 37, 40);
    check_shape(c, 108, 29, 36);
    qk_ctx_free(c);
}

static void check_shape(qk_ctx *c, int64_t k, int64_t n, int64_t block)
{
    const int64_t ms[] = {1, 3, 5, 16, 64};
    float *w = malloc((size_t)(n * k) * sizeof *w), *wd = malloc((size_t)(n * k) * sizeof *wd);
    uint16_t *w16 = malloc((size_t)(n * k) * 2), *g16 = malloc((size_t)(n * k) * 2);
    fill(w, n * k, 3, 0.02);
    for (int s = 0; s < 4; s++) {
        quant_4bit q;
        cr_assert_eq(quant_4bit_init(&q, schemes[s], n, k, block), QUANT_OK);
        cr_assert_eq(quant_4bit_quantize(w, &q), QUANT_OK);
        quant_4bit_dequantize(&q, wd);
        for (int64_t i = 0; i < n * k; i++)
            w16[i] = quant_f32_to_f16(wd[i]);
        uint8_t *d_codes = gpu_up(c, q.codes, (size_t)quant_4bit_code_bytes(&q));
        float *d_absmax = NULL;
        if (q.qabsmax) {
            /* Expand the double-quantized scales on the device: must equal quant/'s absmax'. */
            int8_t *d_q = gpu_up(c, q.qabsmax, (size_t)q.n_blocks);
            float *d_s2 = gpu_up(c, q.dq_scales, (size_t)q.n_dq_blocks * 4);
            cr_assert_eq(qk_malloc(c, (void **)&d_absmax, (size_t)q.n_blocks * 4), QK_OK);
            cr_assert_eq(qk_4bit_absmax_dq(c, d_q, d_s2, q.dq_mean, q.n_blocks, d_absmax), QK_OK, "%s",
                         qk_ctx_error(c));
            float *a = malloc((size_t)q.n_blocks * 4);
            cr_assert_eq(qk_download(c, a, d_absmax, (size_t)q.n_blocks * 4), QK_OK);
            cr_assert_eq(memcmp(a, q.absmax, (size_t)q.n_blocks * 4), 0, "double-quantized scales differ");
            free(a);
            qk_free(c, d_q);
            qk_free(c, d_s2);
        } else {
            d_absmax = gpu_up(c, q.absmax, (size_t)q.n_blocks * 4);
        }
        void *d_w16 = NULL;
        cr_assert_eq(qk_malloc(c, &d_w16, (size_t)(n * k) * 2), QK_OK);
        cr_assert_eq(qk_4bit_dequantize_f16(c, schemes[s], d_codes, d_absmax, n, k, block, d_w16, k), QK_OK,
                     "%s", qk_ctx_error(c));
        cr_assert_eq(qk_download(c, g16, d_w16, (size_t)(n * k) * 2), QK_OK);
        cr_assert_eq(memcmp(g16, w16, (size_t)(n * k) * 2), 0, "[%lld,%lld] block %lld: fp16 weights differ from quant/",
                     (long long)n, (long long)k, (long long)block);

        for (size_t mi = 0; mi < sizeof ms / sizeof ms[0]; mi++) {
            const int64_t m = ms[mi];
            float *x = malloc((size_t)(m * k) * 4), *y = malloc((size_t)(m * n) * 4);
            uint16_t *x16 = malloc((size_t)(m * k) * 2);
            fill(x, m * k, 10 + (uint64_t)m, 1.0);
            for (int64_t i = 0; i < m * k; i++)
                x16[i] = quant_f32_to_f16(x[i]);
            void *d_x = gpu_up(c, x16, (size_t)(m * k) * 2);
            float *d_y = NULL;
            cr_assert_eq(qk_malloc(c, (void **)&d_y, (size_t)(m * n) * 4), QK_OK);
            for (int fused = 0; fused < 2; fused++) {
                if (fused && m > QK_4BIT_GEMV_MAX_M) {
                    cr_assert_eq(qk_4bit_gemv_f16(c, schemes[s], d_x, k, d_codes, d_absmax, m, k, n, block, d_y, n),
                                 QK_ERR_UNSUPPORTED);
                    continue;
                }
                qk_status st = fused ? qk_4bit_gemv_f16(c, schemes[s], d_x, k, d_codes, d_absmax, m, k, n, block, d_y, n)
                                     : qk_4bit_matmul_f16(c, schemes[s], d_x, k, d_codes, d_absmax, m, k, n, block,
                                                          d_w16, k, d_y, n);
                cr_assert_eq(st, QK_OK, "%s", qk_ctx_error(c));
                cr_assert_eq(qk_download(c, y, d_y, (size_t)(m * n) * 4), QK_OK);
                double num = 0, den = 0;
                for (int64_t i = 0; i < m; i++)
                    for (int64_t j = 0; j < n; j++) {
                        double ref = 0;
                        for (int64_t p = 0; p < k; p++)
                            ref += (double)quant_f16_to_f32(x16[i * k + p]) * quant_f16_to_f32(w16[j * k + p]);
                        num += (y[i * n + j] - ref) * (y[i * n + j] - ref);
                        den += ref * ref;
                    }
                cr_assert_leq(sqrt(num / den), 1e-5, "scheme %d [%lld,%lld,%lld] block %lld fused %d: %g", s,
                              (long long)m, (long long)k, (long long)n, (long long)block, fused, sqrt(num / den));
            }
            qk_free(c, d_x);
            qk_free(c, d_y);
            free(x);
            free(y);
            free(x16);
        }
        qk_free(c, d_codes);
        qk_free(c, d_absmax);
        qk_free(c, d_w16);
        quant_4bit_free(&q);
    }
    free(w);
    free(wd);
    free(w16);
    free(g16);
}

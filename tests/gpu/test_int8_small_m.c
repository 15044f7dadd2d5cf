/* test_int8_small_m.c: the int8 linear layer at decode sizes (m = 1, 3, 16 tokens).
 *
 * cuBLASLt's int8 GEMM may refuse so few rows; the layer then pads X's codes with
 * zero rows (kernels/llm_int8.cu, int8_gemm_rows) and says so in its note, with
 * cuBLASLt's message. Either way the int32 accumulator of the real rows must equal
 * quant_matmul_i8_i32 of quant/'s codes bit for bit, and Y quant_matmul_scheme's.
 * Skips, saying why, without a usable GPU.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../kernels/qlab_cuda.h"
#include "gpu_test.h"
#include "../../quant/quant.h"

static void check_small_m(qk_ctx *c, int64_t m, int64_t k, int64_t n)
{
    float *x = malloc((size_t)(m * k) * 4), *w = malloc((size_t)(n * k) * 4);
    float *yref = malloc((size_t)(m * n) * 4), *y = malloc((size_t)(m * n) * 4);
    int32_t *ref = malloc((size_t)(m * n) * 4), *got = malloc((size_t)(m * n) * 4);
    cr_assert(x && w && yref && y && ref && got);
    uint64_t s = gauss_seed(40 + (uint64_t)m);
    for (int64_t i = 0; i < m * k; i++)
        x[i] = (float)gauss_next(&s);
    for (int64_t i = 0; i < n * k; i++)
        w[i] = (float)(0.02 * gauss_next(&s));

    /* quant/: the codes, their int32 product and Y */
    quant_matrix hx, hw;
    cr_assert_eq(quant_matrix_init(&hx, QUANT_SCHEME_ABSMAX, QUANT_GRAN_ROW, m, k, 0), QUANT_OK);
    cr_assert_eq(quant_matrix_init(&hw, QUANT_SCHEME_ABSMAX, QUANT_GRAN_CHANNEL, n, k, 0), QUANT_OK);
    cr_assert_eq(quant_quantize(x, &hx), QUANT_OK);
    cr_assert_eq(quant_quantize(w, &hw), QUANT_OK);
    cr_assert_eq(quant_matmul_i8_i32(hx.codes, hw.codes, m, k, n, ref), QUANT_OK);
    quant_matmul_opts o = { .scheme = QUANT_SCHEME_ABSMAX, .x_gran = QUANT_GRAN_ROW, .w_gran = QUANT_GRAN_CHANNEL };
    cr_assert_eq(quant_matmul_scheme(x, w, m, k, n, &o, yref, NULL), QUANT_OK);

    float *dx = gpu_up(c, x, (size_t)(m * k) * 4), *dw = gpu_up(c, w, (size_t)(n * k) * 4), *dy = NULL;
    cr_assert_eq(qk_malloc(c, (void **)&dy, (size_t)(m * n) * 4), QK_OK);
    qk_linear_opts lo = { .scheme = QUANT_SCHEME_ABSMAX, .x_gran = QUANT_GRAN_ROW, .w_gran = QUANT_GRAN_CHANNEL };
    qk_linear *lin = NULL;
    cr_assert_eq(qk_linear_create(c, &lo, dw, m, k, n, &lin), QK_OK, "m = %lld: %s", (long long)m, qk_ctx_error(c));
    const int64_t rows = qk_linear_gemm_rows(lin);
    cr_log_info("int8 m = %lld, k = %lld, n = %lld: the GEMM runs %lld rows%s%s", (long long)m, (long long)k,
                (long long)n, (long long)rows, qk_linear_note(lin)[0] ? "; " : "", qk_linear_note(lin));
    cr_assert_geq(rows, m);
    if (rows > m)
        cr_assert(strstr(qk_linear_note(lin), "padded") != NULL, "padding without a note: '%s'", qk_linear_note(lin));
    cr_assert_eq(qk_linear_forward(c, lin, dx, QK_DTYPE_F32, k, NULL, dy, QK_DTYPE_F32, n, NULL), QK_OK, "%s",
                 qk_ctx_error(c));
    cr_assert_eq(qk_linear_acc_download(c, lin, got), QK_OK, "%s", qk_ctx_error(c));
    for (int64_t i = 0; i < m * n; i++)
        cr_assert_eq(got[i], ref[i], "m = %lld: acc[%lld,%lld] gpu %d, quant/ %d", (long long)m, (long long)(i / n),
                     (long long)(i % n), got[i], ref[i]);
    /* The epilogue is the same double-precision division as quant/'s: Y bit for bit. */
    cr_assert_eq(qk_download(c, y, dy, (size_t)(m * n) * 4), QK_OK);
    cr_assert(memcmp(y, yref, (size_t)(m * n) * 4) == 0, "m = %lld: Y differs from quant_matmul_scheme", (long long)m);

    qk_linear_free(c, lin);
    qk_free(c, dx);
    qk_free(c, dw);
    qk_free(c, dy);
    quant_matrix_free(&hx);
    quant_matrix_free(&hw);
    free(x);
    free(w);
    free(yref);
    free(y);
    free(ref);
    free(got);
}

Test(int8_small_m, decode_sized_gemms_equal_quant_bit_for_bit)
{
    qk_ctx *c = gpu_or_skip();
    static const int64_t ms[] = { 1, 3, 16 };
    for (int i = 0; i < 3; i++) {
        check_small_m(c, ms[i], 1024, 768);
        check_small_m(c, ms[i], 96, 40);
    }
    qk_ctx_free(c);
}

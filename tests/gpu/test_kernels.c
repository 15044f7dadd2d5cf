/* test_kernels.c: the CUDA kernels (kernels/qlab_cuda.h) against quant/, the oracle.
 *
 * Built into build/test-gpu (make test-gpu). Every test that needs a device skips
 * with the reason when none is usable ("no usable GPU: cudaGetDeviceCount: ...").
 * Properties checked, on deterministic data with outlier columns and a zero row:
 *   - int8 codes, scales and zero points bit-identical to quant_quantize for every
 *     scheme x granularity x input type, on aligned (16-byte loads) and odd shapes;
 *   - outlier flags and counts identical to quant_outlier_cols;
 *   - the int8 GEMM exactly quant_matmul_i8_i32, on raw aligned buffers and through
 *     the padded qk_qmatrix for odd k and n; misaligned shapes refused with a reason;
 *   - the whole forward: Y bit-identical to quant_matmul_scheme without outliers (same
 *     float64 division), within 1e-5 of max|Y| with the fp16 outlier product (its
 *     float32 summation order differs); float GEMMs within 1e-5 relative (Frobenius);
 *   - dequantize bit-identical to quant_dequantize; the allocator's peak.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../kernels/qlab_cuda.h"
#include "gpu_test.h"
#include "../../quant/quant.h"

/* ------------------------------------------------------------------------------ */
/* Helpers                                                                         */

/* Deterministic N(0, 1) by an LCG and Box-Muller; every 16th column scaled by 8 so
 * outlier thresholds find something, and row `zero_row` all zeros (the s = 1 rule). */
static void fill(float *v, int64_t rows, int64_t cols, uint64_t seed, int64_t zero_row)
{
    uint64_t s = gauss_seed(seed);
    for (int64_t i = 0; i < rows * cols; i++) {
        double g = gauss_next(&s);
        int64_t j = i % cols;
        v[i] = (float)(j % 16 == 5 ? 8.0 * g : g);
    }
    if (zero_row >= 0 && zero_row < rows)
        memset(v + zero_row * cols, 0, (size_t)cols * sizeof *v);
}

/* Uploads v [rows, cols] as dtype dt; *host_vals receives the values the device sees
 * (v rounded to dt) for quant/ to work on. Returns a qk_malloc'd pointer. */
static void *upload_as(qk_ctx *c, const float *v, int64_t count, qk_dtype dt, float *host_vals)
{
    void *d = NULL;
    cr_assert_eq(qk_malloc(c, &d, (size_t)count * qk_dtype_size(dt)), QK_OK, "%s", qk_ctx_error(c));
    if (dt == QK_DTYPE_F32) {
        memcpy(host_vals, v, (size_t)count * sizeof(float));
        cr_assert_eq(qk_upload(c, d, v, (size_t)count * 4), QK_OK, "%s", qk_ctx_error(c));
        return d;
    }
    uint16_t *bits = malloc((size_t)count * sizeof *bits);
    cr_assert_not_null(bits);
    for (int64_t i = 0; i < count; i++) {
        bits[i] = dt == QK_DTYPE_F16 ? quant_f32_to_f16(v[i]) : quant_f32_to_bf16(v[i]);
        host_vals[i] = dt == QK_DTYPE_F16 ? quant_f16_to_f32(bits[i]) : quant_bf16_to_f32(bits[i]);
    }
    cr_assert_eq(qk_upload(c, d, bits, (size_t)count * 2), QK_OK, "%s", qk_ctx_error(c));
    free(bits);
    return d;
}

static void assert_qmatrix_equal(const quant_matrix *gpu, const quant_matrix *cpu, const char *what)
{
    for (int64_t i = 0; i < cpu->rows * cpu->cols; i++)
        cr_assert_eq(gpu->codes[i], cpu->codes[i], "%s: code %lld: gpu %d, quant/ %d", what, (long long)i,
                     gpu->codes[i], cpu->codes[i]);
    for (int64_t g = 0; g < cpu->n_groups; g++) {
        cr_assert(memcmp(&gpu->scales[g], &cpu->scales[g], sizeof(float)) == 0,
                  "%s: scale %lld: gpu %.9g, quant/ %.9g", what, (long long)g, gpu->scales[g], cpu->scales[g]);
        if (cpu->zeros)
            cr_assert_eq(gpu->zeros[g], cpu->zeros[g], "%s: zero %lld: gpu %d, quant/ %d", what, (long long)g,
                         gpu->zeros[g], cpu->zeros[g]);
    }
}

/* ------------------------------------------------------------------------------ */
/* Tests that need no device                                                       */

Test(gemm_check, refuses_shapes_imma_cannot_take_with_a_reason)
{
    char why[256] = "";
    const void *p = (const void *)(uintptr_t)256;
    cr_assert_eq(qk_gemm_i8_check(8, 37, 16, 40, 40, 16, p, p, p, why, sizeof why), QK_ERR_ALIGN);
    cr_assert(strstr(why, "multiple of 4") != NULL, "reason: %s", why);
    cr_assert_eq(qk_gemm_i8_check(8, 64, 13, 64, 64, 16, p, p, p, why, sizeof why), QK_ERR_ALIGN);
    cr_assert_eq(qk_gemm_i8_check(8, 64, 16, 66, 64, 16, p, p, p, why, sizeof why), QK_ERR_ALIGN);
    cr_assert_eq(qk_gemm_i8_check(8, 64, 16, 64, 64, 16, (const void *)(uintptr_t)258, p, p, why, sizeof why),
                 QK_ERR_ALIGN);
    cr_assert_eq(qk_gemm_i8_check(8, 64, 16, 64, 64, 16, p, p, p, why, sizeof why), QK_OK);
    /* 5140 = 4 * 1285: the GPT-3 shape of latency.yaml meets the rule as it is. */
    cr_assert_eq(qk_gemm_i8_check(2048, 5140, 20560, 5140, 5140, 20560, p, p, p, why, sizeof why), QK_OK);
}

/* ------------------------------------------------------------------------------ */
/* Quantization                                                                    */

static void check_quantize(qk_ctx *c, quant_scheme scheme, quant_gran gran, int64_t block, qk_dtype dt,
                           int64_t rows, int64_t cols)
{
    float *v = malloc((size_t)(rows * cols) * sizeof *v), *hv = malloc((size_t)(rows * cols) * sizeof *hv);
    cr_assert(v && hv);
    fill(v, rows, cols, (uint64_t)(rows * 131 + cols), rows / 2);
    void *d = upload_as(c, v, rows * cols, dt, hv);
    quant_matrix cpu, gpu;
    cr_assert_eq(quant_matrix_init(&cpu, scheme, gran, rows, cols, block), QUANT_OK);
    cr_assert_eq(quant_matrix_init(&gpu, scheme, gran, rows, cols, block), QUANT_OK);
    cr_assert_eq(quant_quantize(hv, &cpu), QUANT_OK);
    qk_qmatrix q;
    cr_assert_eq(qk_qmatrix_init(c, &q, scheme, gran, rows, cols, block), QK_OK, "%s", qk_ctx_error(c));
    cr_assert_eq(qk_quantize(c, d, dt, cols, NULL, &q), QK_OK, "%s", qk_ctx_error(c));
    cr_assert_eq(qk_qmatrix_download(c, &q, &gpu), QK_OK, "%s", qk_ctx_error(c));
    char what[160];
    snprintf(what, sizeof what, "%s/%s/%s [%lld,%lld]", quant_scheme_get(scheme)->name, quant_gran_name(gran),
             qk_dtype_name(dt), (long long)rows, (long long)cols);
    assert_qmatrix_equal(&gpu, &cpu, what);

    /* Dequantize: (q - z) / s, the same division. */
    float *dq = malloc((size_t)(rows * cols) * sizeof *dq), *hq = malloc((size_t)(rows * cols) * sizeof *hq);
    float *d_out = NULL;
    cr_assert(dq && hq);
    cr_assert_eq(qk_malloc(c, (void **)&d_out, (size_t)(rows * cols) * 4), QK_OK);
    cr_assert_eq(qk_dequantize(c, &q, d_out, cols), QK_OK, "%s", qk_ctx_error(c));
    cr_assert_eq(qk_download(c, dq, d_out, (size_t)(rows * cols) * 4), QK_OK);
    cr_assert_eq(quant_dequantize(&cpu, hq), QUANT_OK);
    cr_assert(memcmp(dq, hq, (size_t)(rows * cols) * 4) == 0, "%s: dequantized values differ", what);

    qk_free(c, d_out);
    qk_free(c, d);
    qk_qmatrix_free(c, &q);
    quant_matrix_free(&cpu);
    quant_matrix_free(&gpu);
    free(v);
    free(hv);
    free(dq);
    free(hq);
}

Test(quantize, codes_scales_zeros_bit_identical_to_quant)
{
    qk_ctx *c = gpu_or_skip();
    static const int64_t shapes[][2] = { { 64, 512 }, { 33, 192 }, { 7, 203 }, { 1, 16 } };
    for (int s = QUANT_SCHEME_ABSMAX; s <= QUANT_SCHEME_ZEROPOINT; s++)
        for (int dt = 0; dt < QK_DTYPE_COUNT; dt++)
            for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
                int64_t r = shapes[i][0], k = shapes[i][1];
                check_quantize(c, (quant_scheme)s, QUANT_GRAN_TENSOR, 0, (qk_dtype)dt, r, k);
                check_quantize(c, (quant_scheme)s, QUANT_GRAN_ROW, 0, (qk_dtype)dt, r, k);
                check_quantize(c, (quant_scheme)s, QUANT_GRAN_CHANNEL, 0, (qk_dtype)dt, r, k);
                if (k % 64 == 0)
                    check_quantize(c, (quant_scheme)s, QUANT_GRAN_BLOCK, 64, (qk_dtype)dt, r, k);
                if (k % 16 == 0)
                    check_quantize(c, (quant_scheme)s, QUANT_GRAN_BLOCK, 16, (qk_dtype)dt, r, k);
            }
    qk_ctx_free(c);
}

Test(quantize, outlier_flags_and_zeroed_columns_match_quant)
{
    qk_ctx *c = gpu_or_skip();
    static const int64_t shapes[][2] = { { 48, 256 }, { 17, 203 } };
    static const float thresholds[] = { 0.0f, 2.5f, 6.0f, 1e9f };
    for (size_t si = 0; si < 2; si++)
        for (size_t ti = 0; ti < 4; ti++)
            for (int dt = 0; dt < QK_DTYPE_COUNT; dt++)
                for (int s = QUANT_SCHEME_ABSMAX; s <= QUANT_SCHEME_ZEROPOINT; s++)
                    for (int g = QUANT_GRAN_TENSOR; g <= QUANT_GRAN_ROW; g++) {
                        const int64_t m = shapes[si][0], k = shapes[si][1];
                        const float t = thresholds[ti];
                        float *v = malloc((size_t)(m * k) * 4), *hv = malloc((size_t)(m * k) * 4);
                        uint8_t *cf = malloc((size_t)k), *gf = malloc((size_t)k);
                        int32_t *gidx = malloc((size_t)k * 4);
                        cr_assert(v && hv && cf && gf && gidx);
                        fill(v, m, k, 99 + (uint64_t)si, 3);
                        void *d = upload_as(c, v, m * k, (qk_dtype)dt, hv);
                        int64_t cn = 0;
                        cr_assert_eq(quant_outlier_cols(hv, m, k, t, cf, &cn), QUANT_OK);
                        /* quant/'s rule: the outlier columns of X are zeroed, then quantized. */
                        for (int64_t i = 0; i < m; i++)
                            for (int64_t j = 0; j < k; j++)
                                if (cf[j])
                                    hv[i * k + j] = 0.0f;
                        quant_matrix cpu, gpu;
                        cr_assert_eq(quant_matrix_init(&cpu, (quant_scheme)s, (quant_gran)g, m, k, 0), QUANT_OK);
                        cr_assert_eq(quant_matrix_init(&gpu, (quant_scheme)s, (quant_gran)g, m, k, 0), QUANT_OK);
                        cr_assert_eq(quant_quantize(hv, &cpu), QUANT_OK);

                        qk_qmatrix q;
                        uint8_t *d_flags = NULL;
                        int32_t *d_idx = NULL, *d_count = NULL, count = -1;
                        cr_assert_eq(qk_qmatrix_init(c, &q, (quant_scheme)s, (quant_gran)g, m, k, 0), QK_OK);
                        cr_assert_eq(qk_malloc(c, (void **)&d_flags, (size_t)k), QK_OK);
                        cr_assert_eq(qk_malloc(c, (void **)&d_idx, (size_t)k * 4), QK_OK);
                        cr_assert_eq(qk_malloc(c, (void **)&d_count, 4), QK_OK);
                        cr_assert_eq(qk_quantize_x(c, d, (qk_dtype)dt, k, t, d_flags, d_idx, d_count, &q), QK_OK,
                                     "%s", qk_ctx_error(c));
                        cr_assert_eq(qk_download(c, gf, d_flags, (size_t)k), QK_OK);
                        cr_assert_eq(qk_download(c, &count, d_count, 4), QK_OK);
                        cr_assert_eq(qk_download(c, gidx, d_idx, (size_t)k * 4), QK_OK);
                        cr_assert_eq(count, cn, "t=%g: %d outlier columns on the GPU, %lld in quant/", t, count,
                                     (long long)cn);
                        int64_t pos = 0;
                        for (int64_t j = 0; j < k; j++) {
                            cr_assert_eq(gf[j] != 0, cf[j] != 0, "t=%g: flag of column %lld differs", t,
                                         (long long)j);
                            if (t > 0 && cf[j])
                                cr_assert_eq(gidx[pos++], j, "outlier index list not sorted / wrong");
                        }
                        cr_assert_eq(qk_qmatrix_download(c, &q, &gpu), QK_OK);
                        assert_qmatrix_equal(&gpu, &cpu, "X with outlier columns zeroed");
                        qk_free(c, d_flags);
                        qk_free(c, d_idx);
                        qk_free(c, d_count);
                        qk_free(c, d);
                        qk_qmatrix_free(c, &q);
                        quant_matrix_free(&cpu);
                        quant_matrix_free(&gpu);
                        free(v);
                        free(hv);
                        free(cf);
                        free(gf);
                        free(gidx);
                    }
    qk_ctx_free(c);
}

/* ------------------------------------------------------------------------------ */
/* int8 GEMM                                                                       */

Test(gemm_i8, exact_against_quant_matmul_i8_i32_on_aligned_buffers)
{
    qk_ctx *c = gpu_or_skip();
    const int64_t m = 33, k = 96, n = 40;
    int8_t *x = malloc((size_t)(m * k)), *w = malloc((size_t)(n * k));
    int32_t *ref = malloc((size_t)(m * n) * 4), *got = malloc((size_t)(m * n) * 4);
    cr_assert(x && w && ref && got);
    uint32_t s = 12345;
    for (int64_t i = 0; i < m * k; i++) {
        s = s * 1664525u + 1013904223u;
        x[i] = (int8_t)((int)(s >> 24) % 255 - 127);   /* full code range, -128 too */
    }
    for (int64_t i = 0; i < n * k; i++) {
        s = s * 1664525u + 1013904223u;
        w[i] = (int8_t)((int)(s >> 24) - 128);
    }
    x[0] = -128;
    w[0] = -128;   /* the extreme product 16384 */
    cr_assert_eq(quant_matmul_i8_i32(x, w, m, k, n, ref), QUANT_OK);
    int8_t *dx = NULL, *dw = NULL;
    int32_t *dacc = NULL;
    cr_assert_eq(qk_malloc(c, (void **)&dx, (size_t)(m * k)), QK_OK);
    cr_assert_eq(qk_malloc(c, (void **)&dw, (size_t)(n * k)), QK_OK);
    cr_assert_eq(qk_malloc(c, (void **)&dacc, (size_t)(m * n) * 4), QK_OK);
    cr_assert_eq(qk_upload(c, dx, x, (size_t)(m * k)), QK_OK);
    cr_assert_eq(qk_upload(c, dw, w, (size_t)(n * k)), QK_OK);
    cr_assert_eq(qk_gemm_i8(c, dx, k, dw, k, dacc, n, m, k, n), QK_OK, "%s", qk_ctx_error(c));
    cr_assert_eq(qk_download(c, got, dacc, (size_t)(m * n) * 4), QK_OK);
    for (int64_t i = 0; i < m * n; i++)
        cr_assert_eq(got[i], ref[i], "acc[%lld,%lld]: gpu %d, quant/ %d", (long long)(i / n), (long long)(i % n),
                     got[i], ref[i]);
    /* A shape IMMA cannot take is refused, not computed wrong. */
    cr_assert_eq(qk_gemm_i8(c, dx, 37, dw, 37, dacc, n, m, 37, n), QK_ERR_ALIGN);
    cr_assert(strstr(qk_ctx_error(c), "multiple of 4") != NULL, "message: %s", qk_ctx_error(c));
    qk_free(c, dx);
    qk_free(c, dw);
    qk_free(c, dacc);
    free(x);
    free(w);
    free(ref);
    free(got);
    qk_ctx_free(c);
}

Test(gemm_i8, odd_k_and_n_are_padded_exactly)
{
    qk_ctx *c = gpu_or_skip();
    const int64_t m = 29, k = 37, n = 13;
    float *x = malloc((size_t)(m * k) * 4), *w = malloc((size_t)(n * k) * 4);
    int32_t *ref = malloc((size_t)(m * n) * 4);
    cr_assert(x && w && ref);
    fill(x, m, k, 5, -1);
    fill(w, n, k, 6, -1);
    quant_matrix hx, hw;
    cr_assert_eq(quant_matrix_init(&hx, QUANT_SCHEME_ABSMAX, QUANT_GRAN_ROW, m, k, 0), QUANT_OK);
    cr_assert_eq(quant_matrix_init(&hw, QUANT_SCHEME_ABSMAX, QUANT_GRAN_CHANNEL, n, k, 0), QUANT_OK);
    cr_assert_eq(quant_quantize(x, &hx), QUANT_OK);
    cr_assert_eq(quant_quantize(w, &hw), QUANT_OK);
    cr_assert_eq(quant_matmul_i8_i32(hx.codes, hw.codes, m, k, n, ref), QUANT_OK);

    float *hv = malloc((size_t)(m * k) * 4);
    void *dx = upload_as(c, x, m * k, QK_DTYPE_F32, hv);
    void *dw = upload_as(c, w, n * k, QK_DTYPE_F32, hv);
    qk_qmatrix qx, qw;
    cr_assert_eq(qk_qmatrix_init(c, &qx, QUANT_SCHEME_ABSMAX, QUANT_GRAN_ROW, m, k, 0), QK_OK);
    cr_assert_eq(qk_qmatrix_init(c, &qw, QUANT_SCHEME_ABSMAX, QUANT_GRAN_CHANNEL, n, k, 0), QK_OK);
    cr_assert_eq(qx.ld % 16, 0);
    cr_assert_eq(qw.rows_alloc % 4, 0);
    cr_assert_eq(qk_quantize(c, dx, QK_DTYPE_F32, k, NULL, &qx), QK_OK, "%s", qk_ctx_error(c));
    cr_assert_eq(qk_quantize(c, dw, QK_DTYPE_F32, k, NULL, &qw), QK_OK, "%s", qk_ctx_error(c));
    int32_t *dacc = NULL;
    int32_t *got = malloc((size_t)(m * qw.rows_alloc) * 4);
    cr_assert_not_null(got);
    cr_assert_eq(qk_malloc(c, (void **)&dacc, (size_t)(m * qw.rows_alloc) * 4), QK_OK);
    cr_assert_eq(qk_gemm_i8(c, qx.d_codes, qx.ld, qw.d_codes, qw.ld, dacc, qw.rows_alloc, m, qx.ld, qw.rows_alloc),
                 QK_OK, "%s", qk_ctx_error(c));
    cr_assert_eq(qk_download(c, got, dacc, (size_t)(m * qw.rows_alloc) * 4), QK_OK);
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < n; j++)
            cr_assert_eq(got[i * qw.rows_alloc + j], ref[i * n + j], "acc[%lld,%lld]", (long long)i, (long long)j);
    qk_free(c, dx);
    qk_free(c, dw);
    qk_free(c, dacc);
    qk_qmatrix_free(c, &qx);
    qk_qmatrix_free(c, &qw);
    quant_matrix_free(&hx);
    quant_matrix_free(&hw);
    free(x);
    free(w);
    free(hv);
    free(ref);
    free(got);
    qk_ctx_free(c);
}

/* ------------------------------------------------------------------------------ */
/* The whole forward and the float GEMMs against quant_matmul_scheme               */

static void compare_y(const float *got, const float *ref, int64_t count, double max_tol_rel, const char *what)
{
    double ymax = 0, dmax = 0;
    for (int64_t i = 0; i < count; i++) {
        ymax = fmax(ymax, fabs((double)ref[i]));
        dmax = fmax(dmax, fabs((double)got[i] - (double)ref[i]));
    }
    if (max_tol_rel == 0) {
        for (int64_t i = 0; i < count; i++)
            cr_assert(memcmp(&got[i], &ref[i], 4) == 0, "%s: Y[%lld] gpu %.9g, quant/ %.9g (expected identical)",
                      what, (long long)i, got[i], ref[i]);
        return;
    }
    cr_assert(dmax <= max_tol_rel * ymax, "%s: max |Y_gpu - Y_quant| = %g > %g * max|Y| = %g", what, dmax,
              max_tol_rel, max_tol_rel * ymax);
}

static void check_linear(qk_ctx *c, quant_scheme s, quant_gran xg, quant_gran wg, float t, quant_outlier_weights ow,
                         int64_t m, int64_t k, int64_t n, int with_bias)
{
    float *x = malloc((size_t)(m * k) * 4), *w = malloc((size_t)(n * k) * 4), *b = malloc((size_t)n * 4);
    float *ref = malloc((size_t)(m * n) * 4), *got = malloc((size_t)(m * n) * 4);
    cr_assert(x && w && b && ref && got);
    fill(x, m, k, 17, 1);
    fill(w, n, k, 18, -1);
    for (int64_t i = 0; i < n * k; i++)
        w[i] *= 0.05f;
    for (int64_t j = 0; j < n; j++)
        b[j] = 0.01f * (float)(j % 7) - 0.03f;
    quant_matmul_opts o = { .scheme = s, .x_gran = xg, .w_gran = wg, .block = 0, .threshold = t,
                            .outlier_weights = ow };
    quant_matmul_info info;
    cr_assert_eq(quant_matmul_scheme(x, w, m, k, n, &o, ref, &info), QUANT_OK);
    if (with_bias)
        for (int64_t i = 0; i < m; i++)
            for (int64_t j = 0; j < n; j++)
                ref[i * n + j] += b[j];

    float *dx = NULL, *dw = NULL, *db = NULL, *dy = NULL;
    cr_assert_eq(qk_malloc(c, (void **)&dx, (size_t)(m * k) * 4), QK_OK);
    cr_assert_eq(qk_malloc(c, (void **)&dw, (size_t)(n * k) * 4), QK_OK);
    cr_assert_eq(qk_malloc(c, (void **)&db, (size_t)n * 4), QK_OK);
    cr_assert_eq(qk_malloc(c, (void **)&dy, (size_t)(m * n) * 4), QK_OK);
    cr_assert_eq(qk_upload(c, dx, x, (size_t)(m * k) * 4), QK_OK);
    cr_assert_eq(qk_upload(c, dw, w, (size_t)(n * k) * 4), QK_OK);
    cr_assert_eq(qk_upload(c, db, b, (size_t)n * 4), QK_OK);
    qk_linear_opts lo = { .scheme = s, .x_gran = xg, .w_gran = wg, .block = 0, .threshold = t, .outlier_weights = ow };
    qk_linear *lin = NULL;
    cr_assert_eq(qk_linear_create(c, &lo, dw, m, k, n, &lin), QK_OK, "%s", qk_ctx_error(c));
    qk_linear_times tm;
    cr_assert_eq(qk_linear_forward(c, lin, dx, QK_DTYPE_F32, k, with_bias ? db : NULL, dy, QK_DTYPE_F32, n, &tm),
                 QK_OK, "%s", qk_ctx_error(c));
    cr_assert_eq(qk_download(c, got, dy, (size_t)(m * n) * 4), QK_OK);
    cr_assert_eq(tm.n_outliers, info.outlier_cols, "outlier columns: gpu %lld, quant/ %lld",
                 (long long)tm.n_outliers, (long long)info.outlier_cols);
    cr_assert(tm.total_ms >= tm.gemm_i8_ms && tm.gemm_i8_ms >= 0, "stage times inconsistent");
    char what[160];
    snprintf(what, sizeof what, "%s x:%s w:%s t=%g %s [%lld,%lld,%lld]%s", quant_scheme_get(s)->name,
             quant_gran_name(xg), quant_gran_name(wg), t, quant_outlier_weights_name(ow), (long long)m,
             (long long)k, (long long)n, with_bias ? " +bias" : "");
    /* Without outliers the epilogue is quant/'s formula in float64: identical. The fp16
     * outlier product sums in another order: within 1e-5 of max|Y|. */
    compare_y(got, ref, m * n, info.outlier_cols > 0 ? 1e-5 : 0.0, what);
    qk_linear_free(c, lin);
    qk_free(c, dx);
    qk_free(c, dw);
    qk_free(c, db);
    qk_free(c, dy);
    free(x);
    free(w);
    free(b);
    free(ref);
    free(got);
}

Test(linear, y_matches_quant_matmul_scheme_for_every_int8_scheme)
{
    qk_ctx *c = gpu_or_skip();
    static const int64_t shapes[][3] = { { 64, 256, 96 }, { 29, 70, 13 }, { 5, 16, 4 } };
    static const float thresholds[] = { 0.0f, 3.0f };
    for (size_t si = 0; si < 3; si++)
        for (int s = QUANT_SCHEME_ABSMAX; s <= QUANT_SCHEME_ZEROPOINT; s++)
            for (int xg = QUANT_GRAN_TENSOR; xg <= QUANT_GRAN_ROW; xg++)
                for (int wg = 0; wg < 2; wg++)
                    for (int ti = 0; ti < 2; ti++)
                        for (int ow = 0; ow < QUANT_OUTLIER_COUNT; ow++) {
                            if (thresholds[ti] == 0 && ow > 0)
                                continue;
                            check_linear(c, (quant_scheme)s, (quant_gran)xg,
                                         wg ? QUANT_GRAN_CHANNEL : QUANT_GRAN_TENSOR, thresholds[ti],
                                         (quant_outlier_weights)ow, shapes[si][0], shapes[si][1], shapes[si][2],
                                         (int)(si + ow) % 2);
                        }
    qk_ctx_free(c);
}

/* The path the backend times: X arrives as fp16 and Y leaves as fp16 (a model's
 * activations), not the float32 of the checked run. Against quant/ on the
 * fp16-rounded X, Y rounded to fp16: codes are identical (X's fp16 values are exact
 * in float), so Y differs by Y's fp16 rounding (2^-11 relative), the outlier
 * product's summation order and, on the native e4m3 GEMM, its accumulator. */
static void check_linear_fp16_io(qk_ctx *c, quant_scheme s, float t, int64_t m, int64_t k, int64_t n)
{
    float *x = malloc((size_t)(m * k) * 4), *w = malloc((size_t)(n * k) * 4), *b = malloc((size_t)n * 4);
    float *ref = malloc((size_t)(m * n) * 4), *got = malloc((size_t)(m * n) * 4);
    uint16_t *y16 = malloc((size_t)(m * n) * 2);
    cr_assert(x && w && b && ref && got && y16);
    fill(x, m, k, 41, -1);
    fill(w, n, k, 42, -1);
    for (int64_t i = 0; i < n * k; i++)
        w[i] *= 0.05f;
    for (int64_t j = 0; j < n; j++)
        b[j] = 0.02f * (float)(j % 3);
    quant_round_f16(x, x, (size_t)(m * k));
    const quant_gran wg = QUANT_GRAN_CHANNEL;
    quant_matmul_opts o = { .scheme = s, .x_gran = QUANT_GRAN_ROW, .w_gran = wg, .threshold = t,
                            .outlier_weights = QUANT_OUTLIER_FP16 };
    quant_matmul_info info;
    cr_assert_eq(quant_matmul_scheme(x, w, m, k, n, &o, ref, &info), QUANT_OK);
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < n; j++)
            ref[i * n + j] += b[j];
    quant_round_f16(ref, ref, (size_t)(m * n));

    float *dx = gpu_up(c, x, (size_t)(m * k) * 4), *dw = gpu_up(c, w, (size_t)(n * k) * 4),
          *db = gpu_up(c, b, (size_t)n * 4);
    void *dx16 = NULL, *dy16 = NULL;
    cr_assert_eq(qk_malloc(c, &dx16, (size_t)(m * k) * 2), QK_OK);
    cr_assert_eq(qk_malloc(c, &dy16, (size_t)(m * n) * 2), QK_OK);
    cr_assert_eq(qk_convert(c, dx, m, k, k, dx16, QK_DTYPE_F16, k), QK_OK, "%s", qk_ctx_error(c));
    qk_linear_opts lo = { .scheme = s, .x_gran = QUANT_GRAN_ROW, .w_gran = wg, .threshold = t,
                          .outlier_weights = QUANT_OUTLIER_FP16 };
    qk_linear *lin = NULL;
    cr_assert_eq(qk_linear_create(c, &lo, dw, m, k, n, &lin), QK_OK, "%s", qk_ctx_error(c));
    qk_linear_times tm;
    cr_assert_eq(qk_linear_forward(c, lin, dx16, QK_DTYPE_F16, k, db, dy16, QK_DTYPE_F16, n, &tm), QK_OK, "%s",
                 qk_ctx_error(c));
    cr_assert_eq(qk_download(c, y16, dy16, (size_t)(m * n) * 2), QK_OK);
    for (int64_t i = 0; i < m * n; i++)
        got[i] = quant_f16_to_f32(y16[i]);
    cr_assert_eq(tm.n_outliers, info.outlier_cols, "outlier columns: gpu %lld, quant/ %lld",
                 (long long)tm.n_outliers, (long long)info.outlier_cols);
    const int native = quant_scheme_get(s)->kind == QUANT_KIND_FP8 && qk_linear_fp8_native(lin);
    char what[160];
    snprintf(what, sizeof what, "fp16 in/out %s t=%g [%lld,%lld,%lld]%s", quant_scheme_get(s)->name, t,
             (long long)m, (long long)k, (long long)n, native ? " (fp8 GEMM)" : "");
    compare_y(got, ref, m * n, native ? 2e-3 : 1e-3, what);
    qk_linear_free(c, lin);
    qk_free(c, dx);
    qk_free(c, dx16);
    qk_free(c, dw);
    qk_free(c, db);
    qk_free(c, dy16);
    free(x);
    free(w);
    free(b);
    free(ref);
    free(got);
    free(y16);
}

Test(linear, the_timed_fp16_in_fp16_out_path_matches_quant)
{
    qk_ctx *c = gpu_or_skip();
    static const quant_scheme schemes[] = { QUANT_SCHEME_ABSMAX, QUANT_SCHEME_ZEROPOINT, QUANT_SCHEME_FP8_E4M3,
                                            QUANT_SCHEME_FP8_E5M2 };
    for (size_t i = 0; i < sizeof schemes / sizeof *schemes; i++) {
        check_linear_fp16_io(c, schemes[i], 0.0f, 64, 256, 96);
        check_linear_fp16_io(c, schemes[i], 3.0f, 48, 128, 80);
    }
    qk_ctx_free(c);
}

Test(linear, block_granularity_is_refused_with_a_reason)
{
    qk_ctx *c = gpu_or_skip();
    float *dw = NULL;
    cr_assert_eq(qk_malloc(c, (void **)&dw, 64 * 64 * 4), QK_OK);
    qk_linear_opts lo = { .scheme = QUANT_SCHEME_ABSMAX, .x_gran = QUANT_GRAN_ROW, .w_gran = QUANT_GRAN_BLOCK,
                          .block = 16 };
    qk_linear *lin = NULL;
    cr_assert_eq(qk_linear_create(c, &lo, dw, 8, 64, 64, &lin), QK_ERR_UNSUPPORTED);
    cr_assert(strstr(qk_ctx_error(c), "block") != NULL, "message: %s", qk_ctx_error(c));
    qk_free(c, dw);
    qk_ctx_free(c);
}

Test(gemm_float, fp32_fp16_bf16_within_1e5_of_quant)
{
    qk_ctx *c = gpu_or_skip();
    const int64_t m = 40, k = 100, n = 24, ld = 104;
    float *x = malloc((size_t)(m * k) * 4), *w = malloc((size_t)(n * k) * 4);
    float *ref = malloc((size_t)(m * n) * 4), *got = malloc((size_t)(m * n) * 4);
    cr_assert(x && w && ref && got);
    fill(x, m, k, 31, -1);
    fill(w, n, k, 32, -1);
    float *dx = NULL, *dw = NULL, *dy = NULL;
    void *dxa = NULL, *dwa = NULL;
    cr_assert_eq(qk_malloc(c, (void **)&dx, (size_t)(m * k) * 4), QK_OK);
    cr_assert_eq(qk_malloc(c, (void **)&dw, (size_t)(n * k) * 4), QK_OK);
    cr_assert_eq(qk_malloc(c, (void **)&dy, (size_t)(m * n) * 4), QK_OK);
    cr_assert_eq(qk_malloc(c, &dxa, (size_t)(m * ld) * 4), QK_OK);
    cr_assert_eq(qk_malloc(c, &dwa, (size_t)(n * ld) * 4), QK_OK);
    cr_assert_eq(qk_upload(c, dx, x, (size_t)(m * k) * 4), QK_OK);
    cr_assert_eq(qk_upload(c, dw, w, (size_t)(n * k) * 4), QK_OK);
    static const quant_scheme schemes[] = { QUANT_SCHEME_FP32, QUANT_SCHEME_FP16, QUANT_SCHEME_BF16 };
    static const qk_dtype dts[] = { QK_DTYPE_F32, QK_DTYPE_F16, QK_DTYPE_BF16 };
    for (int i = 0; i < 3; i++) {
        quant_matmul_opts o = { .scheme = schemes[i] };
        cr_assert_eq(quant_matmul_scheme(x, w, m, k, n, &o, ref, NULL), QUANT_OK);
        cr_assert_eq(qk_convert(c, dx, m, k, k, dxa, dts[i], ld), QK_OK, "%s", qk_ctx_error(c));
        cr_assert_eq(qk_convert(c, dw, n, k, k, dwa, dts[i], ld), QK_OK, "%s", qk_ctx_error(c));
        cr_assert_eq(qk_gemm_float(c, dts[i], dxa, ld, dwa, ld, dy, QK_DTYPE_F32, n, m, ld, n, 1.0f, 0.0f), QK_OK,
                     "%s", qk_ctx_error(c));
        cr_assert_eq(qk_download(c, got, dy, (size_t)(m * n) * 4), QK_OK);
        cr_assert(quant_rel_err_f32(got, ref, (size_t)(m * n)) <= 1e-5, "%s GEMM: rel err %g > 1e-5",
                  qk_dtype_name(dts[i]), quant_rel_err_f32(got, ref, (size_t)(m * n)));
    }
    qk_free(c, dx);
    qk_free(c, dw);
    qk_free(c, dy);
    qk_free(c, dxa);
    qk_free(c, dwa);
    free(x);
    free(w);
    free(ref);
    free(got);
    qk_ctx_free(c);
}

/* ------------------------------------------------------------------------------ */
/* Runtime                                                                         */

Test(runtime, allocator_tracks_current_and_peak)
{
    qk_ctx *c = gpu_or_skip();
    const int64_t base = qk_mem_current(c);
    void *a = NULL, *b = NULL;
    qk_mem_reset_peak(c);
    cr_assert_eq(qk_malloc(c, &a, 1 << 20), QK_OK);
    cr_assert_eq(qk_malloc(c, &b, 2 << 20), QK_OK);
    cr_assert_eq(qk_mem_current(c), base + (3 << 20));
    qk_free(c, a);
    cr_assert_eq(qk_mem_current(c), base + (2 << 20));
    cr_assert_eq(qk_mem_peak(c), base + (3 << 20));
    qk_free(c, b);
    cr_assert_eq(qk_mem_current(c), base);
    cr_assert_eq(qk_l2_flush(c), QK_OK, "%s", qk_ctx_error(c));
    double gbps = 0;
    cr_assert_eq(qk_copy_bandwidth(c, 16 << 20, 3, &gbps), QK_OK, "%s", qk_ctx_error(c));
    cr_assert(gbps > 1.0, "copy bandwidth %g GB/s", gbps);
    qk_ctx_free(c);
}

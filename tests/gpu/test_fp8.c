/* test_fp8.c: the fp8 kernels (kernels/fp8.cu, the fp8 GEMM of gemm.cu and the fp8
 * path of qk_linear) against quant/.
 *
 * Codes and scales must equal quant_fp8_quantize's bit for bit (same float32 product,
 * same round-to-nearest-even saturating conversion); widening must give every code's
 * exact value; Y of the fp8 linear layer must match quant_matmul_scheme within 1e-5 of
 * max|Y| (float32 accumulation of the same exact products, summed in another order).
 * Every test skips, saying why, without a usable GPU.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../kernels/qlab_cuda.h"
#include "gpu_test.h"
#include "../../quant/quant.h"

/* Normal values (Box-Muller on a 64-bit LCG); every 37th value scaled by 1e-4 so some
 * codes land in the subnormal range, and column `hot` (if >= 0) scaled by 30. */
static void fill(float *v, int64_t rows, int64_t cols, uint64_t seed, double std, int64_t hot)
{
    uint64_t s = gauss_seed(seed);
    for (int64_t i = 0; i < rows * cols; i++) {
        double g = std * gauss_next(&s);
        if (i % 37 == 5)
            g *= 1e-4;
        if (hot >= 0 && i % cols == hot)
            g *= 30.0;
        v[i] = (float)g;
    }
}

static const quant_scheme fp8_schemes[] = { QUANT_SCHEME_FP8_E4M3, QUANT_SCHEME_FP8_E5M2 };

Test(fp8, codes_and_scales_bit_identical_to_quant)
{
    qk_ctx *c = gpu_or_skip();
    static const int64_t shapes[][2] = { { 33, 70 }, { 4, 1024 }, { 1, 17 } };
    for (int si = 0; si < 3; si++) {
        const int64_t rows = shapes[si][0], cols = shapes[si][1], ld = (cols + 15) / 16 * 16;
        float *v = malloc((size_t)(rows * cols) * 4);
        uint8_t *ref = malloc((size_t)(rows * cols)), *got = malloc((size_t)(rows * ld));
        float *rs = malloc((size_t)rows * 4), *gs = malloc((size_t)rows * 4);
        cr_assert(v && ref && got && rs && gs);
        fill(v, rows, cols, 11 + (uint64_t)si, 2.0, -1);
        float *dv = gpu_up(c, v, (size_t)(rows * cols) * 4);
        float *dscr = NULL, *dsc = NULL;
        uint8_t *dcodes = NULL;
        cr_assert_eq(qk_malloc(c, (void **)&dscr, (size_t)rows * 4), QK_OK);
        cr_assert_eq(qk_malloc(c, (void **)&dsc, (size_t)rows * 4), QK_OK);
        cr_assert_eq(qk_malloc(c, (void **)&dcodes, (size_t)(rows * ld)), QK_OK);
        void *dwide = NULL, *dwide2 = NULL;
        uint16_t *wide = malloc((size_t)(rows * ld) * 2), *wide2 = malloc((size_t)(rows * ld) * 2);
        cr_assert(wide && wide2);
        cr_assert_eq(qk_malloc(c, &dwide, (size_t)(rows * ld) * 2), QK_OK);
        cr_assert_eq(qk_malloc(c, &dwide2, (size_t)(rows * ld) * 2), QK_OK);
        for (int f = 0; f < 2; f++)
            for (int g = 0; g < 2; g++) {
                const quant_gran gran = g ? QUANT_GRAN_ROW : QUANT_GRAN_TENSOR;
                const int64_t ng = g ? rows : 1;
                cr_assert_eq(quant_fp8_quantize(fp8_schemes[f], gran, v, rows, cols, 0, ref, rs, NULL), QUANT_OK);
                cr_assert_eq(qk_fp8_quantize(c, fp8_schemes[f], gran, dv, QK_DTYPE_F32, cols, rows, cols, NULL, dscr,
                                             dcodes, ld, dsc, dwide),
                             QK_OK, "%s", qk_ctx_error(c));
                cr_assert_eq(qk_download(c, got, dcodes, (size_t)(rows * ld)), QK_OK);
                /* the fp16 values written in the same pass are the widened codes */
                cr_assert_eq(qk_fp8_widen_f16(c, fp8_schemes[f], dcodes, rows * ld, dwide2), QK_OK, "%s",
                             qk_ctx_error(c));
                cr_assert_eq(qk_download(c, wide, dwide, (size_t)(rows * ld) * 2), QK_OK);
                cr_assert_eq(qk_download(c, wide2, dwide2, (size_t)(rows * ld) * 2), QK_OK);
                cr_assert(memcmp(wide, wide2, (size_t)(rows * ld) * 2) == 0,
                          "%s %s: fp16 values from the quantize pass differ from the widened codes",
                          quant_scheme_get(fp8_schemes[f])->name, quant_gran_name(gran));
                cr_assert_eq(qk_download(c, gs, dsc, (size_t)ng * 4), QK_OK);
                for (int64_t i = 0; i < ng; i++)
                    cr_assert(memcmp(&gs[i], &rs[i], 4) == 0, "%s %s [%lld,%lld]: scale %lld gpu %.9g quant/ %.9g",
                              quant_scheme_get(fp8_schemes[f])->name, quant_gran_name(gran), (long long)rows,
                              (long long)cols, (long long)i, gs[i], rs[i]);
                for (int64_t r = 0; r < rows; r++)
                    for (int64_t j = 0; j < ld; j++) {
                        const uint8_t want = j < cols ? ref[r * cols + j] : 0;
                        cr_assert_eq(got[r * ld + j], want, "%s %s: code [%lld,%lld] gpu 0x%02x quant/ 0x%02x (v %.9g)",
                                     quant_scheme_get(fp8_schemes[f])->name, quant_gran_name(gran), (long long)r,
                                     (long long)j, got[r * ld + j], want, j < cols ? v[r * cols + j] : 0.0f);
                    }
            }
        qk_free(c, dv);
        qk_free(c, dscr);
        qk_free(c, dsc);
        qk_free(c, dcodes);
        qk_free(c, dwide);
        qk_free(c, dwide2);
        free(wide);
        free(wide2);
        free(v);
        free(ref);
        free(got);
        free(rs);
        free(gs);
    }
    qk_ctx_free(c);
}

Test(fp8, flagged_columns_quantize_as_zero)
{
    qk_ctx *c = gpu_or_skip();
    const int64_t rows = 8, cols = 48;
    float *v = malloc((size_t)(rows * cols) * 4), *vz = malloc((size_t)(rows * cols) * 4);
    uint8_t flags[48] = { 0 }, ref[8 * 48], got[8 * 48];
    float rs[8], gs[8];
    cr_assert(v && vz);
    fill(v, rows, cols, 5, 1.0, 7);
    flags[7] = flags[40] = 1;
    memcpy(vz, v, (size_t)(rows * cols) * 4);
    for (int64_t r = 0; r < rows; r++)
        vz[r * cols + 7] = vz[r * cols + 40] = 0.0f;
    float *dv = gpu_up(c, v, sizeof(float) * (size_t)(rows * cols));
    uint8_t *dflags = gpu_up(c, flags, sizeof flags);
    float *dscr = NULL, *dsc = NULL;
    uint8_t *dcodes = NULL;
    cr_assert_eq(qk_malloc(c, (void **)&dscr, sizeof rs), QK_OK);
    cr_assert_eq(qk_malloc(c, (void **)&dsc, sizeof rs), QK_OK);
    cr_assert_eq(qk_malloc(c, (void **)&dcodes, sizeof got), QK_OK);
    for (int f = 0; f < 2; f++) {
        cr_assert_eq(quant_fp8_quantize(fp8_schemes[f], QUANT_GRAN_ROW, vz, rows, cols, 0, ref, rs, NULL), QUANT_OK);
        cr_assert_eq(qk_fp8_quantize(c, fp8_schemes[f], QUANT_GRAN_ROW, dv, QK_DTYPE_F32, cols, rows, cols, dflags, dscr,
                                     dcodes, cols, dsc, NULL),
                     QK_OK, "%s", qk_ctx_error(c));
        cr_assert_eq(qk_download(c, got, dcodes, sizeof got), QK_OK);
        cr_assert_eq(qk_download(c, gs, dsc, sizeof gs), QK_OK);
        cr_assert(memcmp(got, ref, sizeof got) == 0, "codes differ from quant/ with columns 7 and 40 zeroed");
        cr_assert(memcmp(gs, rs, sizeof gs) == 0, "scales differ from quant/ with columns 7 and 40 zeroed");
    }
    qk_free(c, dv);
    qk_free(c, dflags);
    qk_free(c, dscr);
    qk_free(c, dsc);
    qk_free(c, dcodes);
    free(v);
    free(vz);
    qk_ctx_free(c);
}

Test(fp8, widening_gives_every_code_its_exact_value)
{
    qk_ctx *c = gpu_or_skip();
    uint8_t codes[256];
    for (int i = 0; i < 256; i++)
        codes[i] = (uint8_t)i;
    uint8_t *dc = gpu_up(c, codes, sizeof codes);
    void *dh = NULL;
    cr_assert_eq(qk_malloc(c, &dh, 512), QK_OK);
    uint16_t h[256];
    for (int f = 0; f < 2; f++) {
        cr_assert_eq(qk_fp8_widen_f16(c, fp8_schemes[f], dc, 256, dh), QK_OK, "%s", qk_ctx_error(c));
        cr_assert_eq(qk_download(c, h, dh, sizeof h), QK_OK);
        for (int i = 0; i < 256; i++) {
            const float want = f == 0 ? quant_fp8_e4m3_to_f32((uint8_t)i) : quant_fp8_e5m2_to_f32((uint8_t)i);
            const float gotv = quant_f16_to_f32(h[i]);
            if (isnan(want)) {
                cr_assert(isnan(gotv), "%s code 0x%02x: NaN expected, got %g", quant_scheme_get(fp8_schemes[f])->name,
                          i, gotv);
                continue;
            }
            cr_assert(gotv == want && signbit(gotv) == signbit(want), "%s code 0x%02x: fp16 %.9g, exact value %.9g",
                      quant_scheme_get(fp8_schemes[f])->name, i, gotv, want);
        }
    }
    qk_free(c, dc);
    qk_free(c, dh);
    qk_ctx_free(c);
}

Test(fp8, gemm_refuses_unaligned_k_with_a_reason)
{
    qk_ctx *c = gpu_or_skip();
    char why[256];
    if (!qk_fp8_gemm_supported(c, why, sizeof why)) {
        /* Devices without fp8 tensor cores must say so, not fail obscurely. */
        uint8_t *d = NULL;
        float *acc = NULL;
        cr_assert_eq(qk_malloc(c, (void **)&d, 4096), QK_OK);
        cr_assert_eq(qk_malloc(c, (void **)&acc, 4096), QK_OK);
        cr_assert_eq(qk_gemm_fp8(c, d, 32, d, 32, acc, 16, 16, 32, 16), QK_ERR_UNSUPPORTED);
        cr_assert(strstr(qk_ctx_error(c), "fp8") != NULL, "message: %s", qk_ctx_error(c));
        qk_free(c, d);
        qk_free(c, acc);
        qk_ctx_free(c);
        return;
    }
    uint8_t *d = NULL;
    float *acc = NULL;
    cr_assert_eq(qk_malloc(c, (void **)&d, 4096), QK_OK);
    cr_assert_eq(qk_malloc(c, (void **)&acc, 4096), QK_OK);
    cr_assert_eq(qk_gemm_fp8(c, d, 24, d, 24, acc, 16, 16, 24, 16), QK_ERR_ALIGN);
    cr_assert(strstr(qk_ctx_error(c), "multiples of 16") != NULL, "message: %s", qk_ctx_error(c));
    qk_free(c, d);
    qk_free(c, acc);
    qk_ctx_free(c);
}

static void check_fp8_linear(qk_ctx *c, quant_scheme s, quant_gran xg, quant_gran wg, float t,
                             quant_outlier_weights ow, int64_t m, int64_t k, int64_t n)
{
    float *x = malloc((size_t)(m * k) * 4), *w = malloc((size_t)(n * k) * 4);
    float *ref = malloc((size_t)(m * n) * 4), *got = malloc((size_t)(m * n) * 4);
    uint8_t *cx = malloc((size_t)(m * k)), *cw = malloc((size_t)(n * k));
    uint8_t *rcx = malloc((size_t)(m * k)), *rcw = malloc((size_t)(n * k));
    float *sx = malloc((size_t)m * 4), *sw = malloc((size_t)n * 4);
    float *rsx = malloc((size_t)m * 4), *rsw = malloc((size_t)n * 4);
    cr_assert(x && w && ref && got && cx && cw && rcx && rcw && sx && sw && rsx && rsw);
    fill(x, m, k, 21, 1.0, k > 3 ? 3 : -1);
    fill(w, n, k, 22, 0.05, -1);
    quant_matmul_opts o = { .scheme = s, .x_gran = xg, .w_gran = wg, .threshold = t, .outlier_weights = ow };
    quant_matmul_info info;
    cr_assert_eq(quant_matmul_scheme(x, w, m, k, n, &o, ref, &info), QUANT_OK);

    float *dx = gpu_up(c, x, (size_t)(m * k) * 4), *dw = gpu_up(c, w, (size_t)(n * k) * 4), *dy = NULL;
    cr_assert_eq(qk_malloc(c, (void **)&dy, (size_t)(m * n) * 4), QK_OK);
    qk_linear_opts lo = { .scheme = s, .x_gran = xg, .w_gran = wg, .threshold = t, .outlier_weights = ow };
    qk_linear *lin = NULL;
    cr_assert_eq(qk_linear_create(c, &lo, dw, m, k, n, &lin), QK_OK, "%s", qk_ctx_error(c));
    qk_linear_times tm;
    cr_assert_eq(qk_linear_forward(c, lin, dx, QK_DTYPE_F32, k, NULL, dy, QK_DTYPE_F32, n, &tm), QK_OK, "%s",
                 qk_ctx_error(c));
    cr_assert_eq(qk_download(c, got, dy, (size_t)(m * n) * 4), QK_OK);
    char what[160];
    snprintf(what, sizeof what, "%s x:%s w:%s t=%g %s [%lld,%lld,%lld] %s", quant_scheme_get(s)->name,
             quant_gran_name(xg), quant_gran_name(wg), t, quant_outlier_weights_name(ow), (long long)m, (long long)k,
             (long long)n, qk_linear_fp8_native(lin) ? "fp8 GEMM" : "widened fp16 GEMM");
    cr_assert_eq(tm.n_outliers, info.outlier_cols, "%s: outlier columns gpu %lld, quant/ %lld", what,
                 (long long)tm.n_outliers, (long long)info.outlier_cols);

    /* The operands: codes and scales as quant/ makes them (X with outlier columns zeroed). */
    cr_assert_eq(qk_linear_fp8_download(c, lin, cx, sx, cw, sw), QK_OK, "%s", qk_ctx_error(c));
    float *xz = malloc((size_t)(m * k) * 4);
    cr_assert(xz);
    memcpy(xz, x, (size_t)(m * k) * 4);
    if (t > 0)
        for (int64_t j = 0; j < k; j++) {
            int hot = 0;
            for (int64_t i = 0; i < m; i++)
                hot |= fabsf(x[i * k + j]) >= t;
            for (int64_t i = 0; hot && i < m; i++)
                xz[i * k + j] = 0.0f;
        }
    const quant_gran wrow = wg == QUANT_GRAN_TENSOR ? QUANT_GRAN_TENSOR : QUANT_GRAN_ROW;
    cr_assert_eq(quant_fp8_quantize(s, xg, xz, m, k, 0, rcx, rsx, NULL), QUANT_OK);
    cr_assert_eq(quant_fp8_quantize(s, wrow, w, n, k, 0, rcw, rsw, NULL), QUANT_OK);
    cr_assert(memcmp(cx, rcx, (size_t)(m * k)) == 0, "%s: X codes differ from quant/", what);
    cr_assert(memcmp(cw, rcw, (size_t)(n * k)) == 0, "%s: W codes differ from quant/", what);
    cr_assert(memcmp(sx, rsx, (size_t)(xg == QUANT_GRAN_TENSOR ? 1 : m) * 4) == 0, "%s: X scales differ", what);
    cr_assert(memcmp(sw, rsw, (size_t)(wg == QUANT_GRAN_TENSOR ? 1 : n) * 4) == 0, "%s: W scales differ", what);

    double ymax = 0, dmax = 0;
    for (int64_t i = 0; i < m * n; i++) {
        ymax = fmax(ymax, fabs((double)ref[i]));
        dmax = fmax(dmax, fabs((double)got[i] - (double)ref[i]));
    }
    /* The widened path is an fp16-input, fp32-accumulate GEMM of exact codes: 1e-5.
     * The native e4m3 GEMM keeps partial sums in the tensor cores' fp8 accumulator,
     * about 14 mantissa bits on Hopper (DeepSeek-V3 technical report, section 3.3.2),
     * promoted to fp32 only every few k-tiles: 1e-3 of max|Y|. The ratio seen is
     * logged either way, for the session record. */
    const double tol = qk_linear_fp8_native(lin) ? 1e-3 : 1e-5;
    cr_log_info("%s: max |Y_gpu - Y_quant| / max|Y| = %.3g (%s, tolerance %g)", what, dmax / fmax(ymax, 1e-300),
                qk_linear_fp8_native(lin) ? "fp8 GEMM" : "widened fp16 GEMM", tol);
    cr_assert(dmax <= tol * ymax, "%s: max |Y_gpu - Y_quant| = %g > %g * max|Y| = %g", what, dmax, tol, tol * ymax);
    qk_linear_free(c, lin);
    qk_free(c, dx);
    qk_free(c, dw);
    qk_free(c, dy);
    free(x);
    free(w);
    free(xz);
    free(ref);
    free(got);
    free(cx);
    free(cw);
    free(rcx);
    free(rcw);
    free(sx);
    free(sw);
    free(rsx);
    free(rsw);
}

Test(fp8, linear_matches_quant_matmul_scheme)
{
    qk_ctx *c = gpu_or_skip();
    static const int64_t shapes[][3] = { { 64, 256, 96 }, { 29, 70, 13 }, { 1, 32, 16 } };
    for (int si = 0; si < 3; si++)
        for (int f = 0; f < 2; f++)
            for (int g = 0; g < 2; g++)
                for (int ti = 0; ti < 2; ti++)
                    for (int ow = 0; ow < QUANT_OUTLIER_COUNT; ow++) {
                        if (ti == 0 && ow > 0)
                            continue;
                        check_fp8_linear(c, fp8_schemes[f], g ? QUANT_GRAN_ROW : QUANT_GRAN_TENSOR,
                                         g ? QUANT_GRAN_CHANNEL : QUANT_GRAN_TENSOR, ti ? 4.0f : 0.0f,
                                         (quant_outlier_weights)ow, shapes[si][0], shapes[si][1], shapes[si][2]);
                    }
    qk_ctx_free(c);
}

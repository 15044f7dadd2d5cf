/* matmul.c: the reference matmuls: float64 and float32 GEMM through OpenBLAS, the
 * int8 x int8 -> int32 GEMM, the dequantized product of two quantized operands
 * (every granularity, exact zeropoint corrections), and the whole per-point
 * pipeline including the LLM.int8() outlier decomposition.
 *
 * The int32 results are what an int8 tensor-core GEMM returns, bit for bit; the
 * GPU kernels are checked against them.
 */
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "quant.h"
#include "quant_internal.h"

/* Largest k for which any int8 x int8 dot product fits int32: 128*128*k < 2^31. */
#define QUANT_MAX_K 131071

/* -------------------------------------------------------------------------------- */
/* Float GEMMs                                                                      */

quant_status quant_matmul_ref_f64(const float *x, const float *w, int64_t m, int64_t k,
                                  int64_t n, double *y)
{
    int64_t mk, nk, mn;
    if (!x || !w || !y || !quant_size_mul(m, k, &mk) || !quant_size_mul(n, k, &nk) ||
        !quant_size_mul(m, n, &mn))
        return QUANT_ERR_ARG;
    if (!quant_all_finite(x, (size_t)mk) || !quant_all_finite(w, (size_t)nk))
        return QUANT_ERR_NONFINITE;
    double *xd = malloc((size_t)mk * sizeof *xd);
    double *wd = malloc((size_t)nk * sizeof *wd);
    if (!xd || !wd) {
        free(xd);
        free(wd);
        return QUANT_ERR_NOMEM;
    }
    for (int64_t i = 0; i < mk; i++)
        xd[i] = x[i];
    for (int64_t i = 0; i < nk; i++)
        wd[i] = w[i];
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (blasint)m, (blasint)n, (blasint)k,
                1.0, xd, (blasint)k, wd, (blasint)k, 0.0, y, (blasint)n);
    free(xd);
    free(wd);
    return QUANT_OK;
}

quant_status quant_matmul_f32(const float *x, const float *w, int64_t m, int64_t k,
                              int64_t n, float *y)
{
    int64_t mk, nk, mn;
    if (!x || !w || !y || !quant_size_mul(m, k, &mk) || !quant_size_mul(n, k, &nk) ||
        !quant_size_mul(m, n, &mn))
        return QUANT_ERR_ARG;
    if (!quant_all_finite(x, (size_t)mk) || !quant_all_finite(w, (size_t)nk))
        return QUANT_ERR_NONFINITE;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (blasint)m, (blasint)n, (blasint)k,
                1.0f, x, (blasint)k, w, (blasint)k, 0.0f, y, (blasint)n);
    return QUANT_OK;
}

/* -------------------------------------------------------------------------------- */
/* int8 GEMM kernel                                                                 */

/* Blocking: k is cut into slices of GEMM_KC; each slice of X and W is first widened
 * to int16 (row-major, leading dimension kc) so that the inner loop is the int16 dot
 * product gcc turns into pmaddwd (AVX2) or vpdpwssd (AVX-512 VNNI); int8 inputs get
 * only a vpmullw + widening sequence, several times slower. An MC-row panel of X
 * (16 KiB of int16) is swept across NC-row panels of W (64 KiB) so both stay in L2,
 * and each 4x4 register tile reads 8 rows of kc values from L1. */
#define GEMM_MC 32
#define GEMM_NC 64
#define GEMM_KC 512

/* 16 dot products of 4 rows of x against 4 rows of w over k values; the result is
 * stored into (add = 0) or added onto (add = 1) the 4x4 tile at acc. */
static void tile_4x4(const int16_t *restrict x, int64_t ldx, const int16_t *restrict w,
                     int64_t ldw, int64_t k, int32_t *restrict acc, int64_t ldc, int add)
{
    const int16_t *x0 = x, *x1 = x + ldx, *x2 = x + 2 * ldx, *x3 = x + 3 * ldx;
    const int16_t *w0 = w, *w1 = w + ldw, *w2 = w + 2 * ldw, *w3 = w + 3 * ldw;
    int32_t s00 = 0, s01 = 0, s02 = 0, s03 = 0, s10 = 0, s11 = 0, s12 = 0, s13 = 0;
    int32_t s20 = 0, s21 = 0, s22 = 0, s23 = 0, s30 = 0, s31 = 0, s32 = 0, s33 = 0;
    for (int64_t p = 0; p < k; p++) {
        int32_t a0 = x0[p], a1 = x1[p], a2 = x2[p], a3 = x3[p];
        int32_t b0 = w0[p], b1 = w1[p], b2 = w2[p], b3 = w3[p];
        s00 += a0 * b0; s01 += a0 * b1; s02 += a0 * b2; s03 += a0 * b3;
        s10 += a1 * b0; s11 += a1 * b1; s12 += a1 * b2; s13 += a1 * b3;
        s20 += a2 * b0; s21 += a2 * b1; s22 += a2 * b2; s23 += a2 * b3;
        s30 += a3 * b0; s31 += a3 * b1; s32 += a3 * b2; s33 += a3 * b3;
    }
    int32_t s[16] = {s00, s01, s02, s03, s10, s11, s12, s13,
                     s20, s21, s22, s23, s30, s31, s32, s33};
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 4; j++) {
            if (add)
                acc[i * ldc + j] += s[i * 4 + j];
            else
                acc[i * ldc + j] = s[i * 4 + j];
        }
}

static int32_t dot_i16(const int16_t *restrict a, const int16_t *restrict b, int64_t k)
{
    int32_t s = 0;
    for (int64_t p = 0; p < k; p++) {
        int32_t x = a[p], y = b[p];
        s += x * y;
    }
    return s;
}

/* Edge tiles (fewer than 4 rows or columns left): one dot product at a time. */
static void tile_edge(const int16_t *x, int64_t ldx, const int16_t *w, int64_t ldw, int64_t mr,
                      int64_t nr, int64_t k, int32_t *acc, int64_t ldc, int add)
{
    for (int64_t i = 0; i < mr; i++)
        for (int64_t j = 0; j < nr; j++) {
            int32_t d = dot_i16(x + i * ldx, w + j * ldw, k);
            if (add)
                acc[i * ldc + j] += d;
            else
                acc[i * ldc + j] = d;
        }
}

/* Widens rows x rows of src[r*ld + p0 .. + kc) into dst [rows, kc]. */
static void widen_slice(const int8_t *src, int64_t ld, int64_t rows, int64_t p0, int64_t kc,
                        int16_t *dst)
{
#pragma omp for schedule(static)
    for (int64_t r = 0; r < rows; r++) {
        const int8_t *s = src + r * ld + p0;
        int16_t *d = dst + r * kc;
        for (int64_t p = 0; p < kc; p++)
            d[p] = s[p];
    }
}

quant_status quant_i8_gemm_kernel(const int8_t *x, int64_t ldx, const int8_t *w, int64_t ldw,
                                  int64_t m, int64_t n, int64_t k, int32_t *acc, int64_t ldc)
{
    int64_t kc_max = k < GEMM_KC ? k : GEMM_KC;
    int16_t *xs = malloc((size_t)(m * kc_max) * sizeof *xs);
    int16_t *ws = malloc((size_t)(n * kc_max) * sizeof *ws);
    if (!xs || !ws) {
        free(xs);
        free(ws);
        return QUANT_ERR_NOMEM;
    }
    int64_t n_panels = (m + GEMM_MC - 1) / GEMM_MC;
    for (int64_t p0 = 0; p0 < k; p0 += GEMM_KC) {
        int64_t kc = p0 + GEMM_KC < k ? GEMM_KC : k - p0;
        int add = p0 > 0;
#pragma omp parallel
        {
            widen_slice(x, ldx, m, p0, kc, xs);
            widen_slice(w, ldw, n, p0, kc, ws);
            /* The implicit barrier of the omp for above makes both slices complete. */
#pragma omp for schedule(static)
            for (int64_t pi = 0; pi < n_panels; pi++) {
                int64_t i0 = pi * GEMM_MC;
                int64_t i1 = i0 + GEMM_MC < m ? i0 + GEMM_MC : m;
                for (int64_t j0 = 0; j0 < n; j0 += GEMM_NC) {
                    int64_t j1 = j0 + GEMM_NC < n ? j0 + GEMM_NC : n;
                    for (int64_t i = i0; i < i1; i += 4) {
                        int64_t mr = i1 - i < 4 ? i1 - i : 4;
                        for (int64_t j = j0; j < j1; j += 4) {
                            int64_t nr = j1 - j < 4 ? j1 - j : 4;
                            const int16_t *xt = xs + i * kc;
                            const int16_t *wt = ws + j * kc;
                            int32_t *ct = acc + i * ldc + j;
                            if (mr == 4 && nr == 4)
                                tile_4x4(xt, kc, wt, kc, kc, ct, ldc, add);
                            else
                                tile_edge(xt, kc, wt, kc, mr, nr, kc, ct, ldc, add);
                        }
                    }
                }
            }
        }
    }
    free(xs);
    free(ws);
    return QUANT_OK;
}

quant_status quant_matmul_i8_i32(const int8_t *qx, const int8_t *qw, int64_t m, int64_t k,
                                 int64_t n, int32_t *acc)
{
    int64_t mk, nk, mn;
    if (!qx || !qw || !acc || !quant_size_mul(m, k, &mk) || !quant_size_mul(n, k, &nk) ||
        !quant_size_mul(m, n, &mn))
        return QUANT_ERR_ARG;
    if (k > QUANT_MAX_K)
        return QUANT_ERR_RANGE;
    return quant_i8_gemm_kernel(qx, k, qw, k, m, n, k, acc, n);
}

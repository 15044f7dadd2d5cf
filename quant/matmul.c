/* matmul.c: the reference matmuls: float64 and float32 GEMM (gemm.c's fixed order), the
 * int8 x int8 -> int32 GEMM, the dequantized product of two quantized operands
 * (every granularity, exact zeropoint corrections), and the whole per-point
 * pipeline including the LLM.int8() outlier decomposition.
 *
 * The int32 results are what an int8 tensor-core GEMM returns, bit for bit; the
 * GPU kernels are checked against them.
 */
#include <math.h>
#include <stdio.h>
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
    quant_gemm_f64(x, k, w, k, m, n, k, y, n);
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
    quant_gemm_f32(x, k, w, k, m, n, k, y, n, 0);
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
 * stored into (add = 0) or added onto (add = 1) the 4x4 tile at acc. Compiled twice,
 * for AVX2 and for the build's target, and picked at load time (GCC target_clones):
 * a portable build still runs AVX2 (vpmaddwd) on CPUs that have it. */
#if defined(__x86_64__) && !defined(__SANITIZE_ADDRESS__)
__attribute__((target_clones("avx2", "default")))
#endif
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

quant_status quant_i8_gemm_portable(const int8_t *x, int64_t ldx, const int8_t *w, int64_t ldw,
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
        /* Threads only pay off on real work: below about a million multiply-adds per
         * slice, waking and joining them costs more than the slice itself (and on a
         * loaded machine a descheduled thread can stall the join for milliseconds). */
#pragma omp parallel if ((double)m * (double)n * (double)kc > 1e6)
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

quant_status quant_i8_gemm_kernel(const int8_t *x, int64_t ldx, const int8_t *w, int64_t ldw,
                                  int64_t m, int64_t n, int64_t k, int32_t *acc, int64_t ldc)
{
    /* The same integers either way (integer sums are exact): VNNI where the CPU has it. */
    if (quant_have_vnni())
        return quant_i8_gemm_vnni(x, ldx, w, ldw, m, n, k, acc, ldc);
    return quant_i8_gemm_portable(x, ldx, w, ldw, m, n, k, acc, ldc);
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

/* -------------------------------------------------------------------------------- */
/* Dequantized product of two quantized operands                                   */

/* Group index of row r, k-block b for an operand split into nb k-blocks. */
static int64_t group_index(const quant_matrix *q, int64_t r, int64_t b, int64_t nb)
{
    switch (q->gran) {
    case QUANT_GRAN_TENSOR:
        return 0;
    case QUANT_GRAN_BLOCK:
        return r * nb + b;
    default:
        return r;
    }
}

/* sums[r*nb + b] = sum of the codes of row r inside k-block b (zeropoint corrections). */
static void code_sums(const quant_matrix *q, int64_t kb, int64_t nb, int64_t *sums)
{
    for (int64_t r = 0; r < q->rows; r++)
        for (int64_t b = 0; b < nb; b++) {
            const int8_t *c = q->codes + r * q->cols + b * kb;
            int64_t s = 0;
            for (int64_t p = 0; p < kb; p++)
                s += c[p];
            sums[r * nb + b] = s;
        }
}

/* codes[r][keep[0..nkeep)] of a [rows, cols] code matrix, packed [rows, nkeep]. */
static int8_t *gather_codes(const int8_t *codes, int64_t rows, int64_t cols, const int64_t *keep,
                            int64_t nkeep)
{
    int8_t *out = malloc((size_t)(rows * nkeep) + 1);
    if (!out)
        return NULL;
#pragma omp parallel for schedule(static) if (rows * nkeep > (1 << 16))
    for (int64_t r = 0; r < rows; r++)
        for (int64_t p = 0; p < nkeep; p++)
            out[r * nkeep + p] = codes[r * cols + keep[p]];
    return out;
}

/* quant_matmul_q for whole-row groups (one k-block: tensor, row or channel scales), over
 * the columns keep[0..nkeep) only, or over all k columns when keep is NULL. Kept
 * columns serve X whose other columns are zero (the LLM.int8() outlier columns,
 * zeroed before quantization): their codes are 0 (absmax) or the zero point zx
 * (zeropoint), so each adds exactly 0 to the integer sum (qx - zx)(qw - zw), and
 * leaving them out gives the same integers, hence the same Y, for less work. */
static quant_status matmul_q_kept(const quant_matrix *qx, const quant_matrix *qw, const int64_t *keep,
                                  int64_t nkeep, float *y)
{
    const int64_t m = qx->rows, n = qw->rows, k = qx->cols;
    const int zp = qx->scheme == QUANT_SCHEME_ZEROPOINT;
    int8_t *gx = keep ? gather_codes(qx->codes, m, k, keep, nkeep) : NULL;
    int8_t *gw = keep ? gather_codes(qw->codes, n, k, keep, nkeep) : NULL;
    const int8_t *cx = keep ? gx : qx->codes, *cw = keep ? gw : qw->codes;
    int32_t *acc = malloc((size_t)(m * n) * sizeof *acc);
    int64_t *rx = zp ? calloc((size_t)m, sizeof *rx) : NULL;
    int64_t *rw = zp ? calloc((size_t)n, sizeof *rw) : NULL;
    quant_status st = QUANT_OK;
    if (!cx || !cw || !acc || (zp && (!rx || !rw))) {
        st = QUANT_ERR_NOMEM;
        goto done;
    }
    if (nkeep > 0)
        st = quant_i8_gemm_kernel(cx, nkeep, cw, nkeep, m, n, nkeep, acc, n);
    else
        memset(acc, 0, (size_t)(m * n) * sizeof *acc);
    if (st != QUANT_OK)
        goto done;
    if (zp) {
        for (int64_t i = 0; i < m; i++)
            for (int64_t p = 0; p < nkeep; p++)
                rx[i] += cx[i * nkeep + p];
        for (int64_t j = 0; j < n; j++)
            for (int64_t p = 0; p < nkeep; p++)
                rw[j] += cw[j * nkeep + p];
    }
#pragma omp parallel for schedule(static) if ((double)m * (double)n > 1e5)
    for (int64_t i = 0; i < m; i++) {
        int64_t f = qx->gran == QUANT_GRAN_TENSOR ? 0 : i;
        double sx = qx->scales[f];
        int64_t zx = zp ? qx->zeros[f] : 0;
        for (int64_t j = 0; j < n; j++) {
            int64_t g = qw->gran == QUANT_GRAN_TENSOR ? 0 : j;
            int64_t c = acc[i * n + j];
            if (zp) {
                /* sum (qx-zx)(qw-zw) = sum qx qw - zw sum qx - zx sum qw + K zx zw */
                int64_t zw = qw->zeros[g];
                c = c - zw * rx[i] - zx * rw[j] + nkeep * zx * zw;
            }
            y[i * n + j] = (float)((double)c / (sx * (double)qw->scales[g]));
        }
    }
done:
    free(gx);
    free(gw);
    free(acc);
    free(rx);
    free(rw);
    return st;
}

quant_status quant_matmul_q(const quant_matrix *qx, const quant_matrix *qw, float *y)
{
    if (!y || !quant_matrix_valid(qx) || !quant_matrix_valid(qw))
        return QUANT_ERR_ARG;
    if (qx->scheme != qw->scheme || qx->cols != qw->cols)
        return QUANT_ERR_ARG;
    const int64_t m = qx->rows, n = qw->rows, k = qx->cols;
    int64_t mn;
    if (!quant_size_mul(m, n, &mn))
        return QUANT_ERR_ARG;
    if (k > QUANT_MAX_K)
        return QUANT_ERR_RANGE;
    /* The k axis splits where either operand changes scale along it. */
    int64_t xb = qx->gran == QUANT_GRAN_BLOCK ? qx->block : k;
    int64_t wb = qw->gran == QUANT_GRAN_BLOCK ? qw->block : k;
    if (xb != k && wb != k && xb != wb)
        return QUANT_ERR_BLOCK;
    const int64_t kb = xb < wb ? xb : wb;
    const int64_t nb = k / kb;
    if (nb == 1)
        return matmul_q_kept(qx, qw, NULL, k, y);
    /* k-blocks: int32 inside each, the scaled partial sums added in float64 */
    const int zp = qx->scheme == QUANT_SCHEME_ZEROPOINT;
    int32_t *acc = malloc((size_t)mn * sizeof *acc);
    double *sum = calloc((size_t)mn, sizeof *sum);
    int64_t *rx = zp ? malloc((size_t)(m * nb) * sizeof *rx) : NULL;
    int64_t *rw = zp ? malloc((size_t)(n * nb) * sizeof *rw) : NULL;
    quant_status st = QUANT_OK;
    if (!acc || !sum || (zp && (!rx || !rw))) {
        st = QUANT_ERR_NOMEM;
        goto done;
    }
    if (zp) {
        code_sums(qx, kb, nb, rx);
        code_sums(qw, kb, nb, rw);
    }
    for (int64_t b = 0; b < nb; b++) {
        st = quant_i8_gemm_kernel(qx->codes + b * kb, k, qw->codes + b * kb, k, m, n, kb, acc, n);
        if (st != QUANT_OK)
            goto done;
#pragma omp parallel for schedule(static) if ((double)m * (double)n > 1e5)
        for (int64_t i = 0; i < m; i++) {
            int64_t gx = group_index(qx, i, b, nb);
            double sx = qx->scales[gx];
            int64_t zx = zp ? qx->zeros[gx] : 0;
            for (int64_t j = 0; j < n; j++) {
                int64_t gw = group_index(qw, j, b, nb);
                int64_t c = acc[i * n + j];
                if (zp) {
                    /* sum (qx-zx)(qw-zw) = sum qx qw - zw sum qx - zx sum qw + K zx zw */
                    int64_t zw = qw->zeros[gw];
                    c = c - zw * rx[i * nb + b] - zx * rw[j * nb + b] + kb * zx * zw;
                }
                sum[i * n + j] += (double)c / (sx * (double)qw->scales[gw]);
            }
        }
    }
    for (int64_t i = 0; i < mn; i++)
        y[i] = (float)sum[i];
done:
    free(acc);
    free(sum);
    free(rx);
    free(rw);
    return st;
}

/* -------------------------------------------------------------------------------- */
/* LLM.int8() decomposition and the per-point pipeline                              */

quant_status quant_outlier_cols(const float *x, int64_t m, int64_t k, float threshold,
                                uint8_t *cols, int64_t *n_outliers)
{
    int64_t mk;
    if (!x || !cols || !n_outliers || !quant_size_mul(m, k, &mk) || isnan(threshold))
        return QUANT_ERR_ARG;
    if (!quant_all_finite(x, (size_t)mk))
        return QUANT_ERR_NONFINITE;
    memset(cols, 0, (size_t)k);
    int64_t count = 0;
    if (threshold > 0.0f) {
        for (int64_t i = 0; i < m; i++)
            for (int64_t j = 0; j < k; j++)
                if (fabsf(x[i * k + j]) >= threshold)
                    cols[j] = 1;
        for (int64_t j = 0; j < k; j++)
            count += cols[j];
    }
    *n_outliers = count;
    return QUANT_OK;
}

quant_status quant_matmul_float(const quant_scheme_traits *t, const float *x, const float *w,
                                int64_t m, int64_t k, int64_t n, const quant_matmul_opts *opts,
                                float *y, quant_matmul_info *info)
{
    int64_t mk = m * k, nk = n * k;
    const quant_scheme scheme = t->id;
    if (info) {
        info->x_bytes = mk * (t->bits / 8);
        info->w_code_bytes = nk * (t->bits / 8);
        info->w_bytes = info->w_code_bytes;
    }
    if (scheme == QUANT_SCHEME_FP32)
        return quant_matmul_f32(x, w, m, k, n, y);
    float *xr = malloc((size_t)mk * sizeof *xr);
    float *wr = malloc((size_t)nk * sizeof *wr);
    if (!xr || !wr) {
        free(xr);
        free(wr);
        return QUANT_ERR_NOMEM;
    }
    if (scheme == QUANT_SCHEME_FP16) {
        quant_round_f16(x, xr, (size_t)mk);
        quant_round_f16(w, wr, (size_t)nk);
    } else {
        quant_round_bf16(x, xr, (size_t)mk);
        quant_round_bf16(w, wr, (size_t)nk);
    }
    /* fp16 rounding can overflow to inf (|v| > 65504); that is the scheme's answer. */
    quant_gemm_f32(xr, k, wr, k, m, n, k, y, n, 0);
    if (info) {
        info->x_rel_err = quant_rel_err_f32(xr, x, (size_t)mk);
        info->w_rel_err = quant_rel_err_f32(wr, w, (size_t)nk);
    }
    free(xr);
    free(wr);
    return QUANT_OK;
}

/* The low-precision part of an int8 or fp8 pipeline: y = the scheme's product of
 * xq (X with any outlier columns zeroed) and W. When asked, xdq and wdq receive the
 * dequantized operands. *xb receives the bytes stored for X (codes + scales), *wcb
 * and *wsb those of W's codes and of its scales (+ zero points). detail (may be
 * NULL, QUANT_DETAIL_LEN bytes) receives what a failure's status cannot say. In ctx,
 * keep[0..nkeep) lists the columns that are not outliers (keep == NULL: all), and
 * cache is NULL or the memo of calls on these very operands. */
typedef struct {
    const int64_t *keep;
    int64_t nkeep;
    quant_cache *cache;
} lowp_ctx;

typedef quant_status (*lowp_product_fn)(const float *xq, const float *w, int64_t m, int64_t k,
                                        int64_t n, const quant_matmul_opts *opts,
                                        const lowp_ctx *ctx, float *y, float *xdq, float *wdq,
                                        int64_t *xb, int64_t *wcb, int64_t *wsb, char *detail);

/* "W channel 17: max |v| = 2.1e-40, so 127 / max |v| overflows float32" */
static void range_detail(const quant_matrix *failed, int is_x, char *detail)
{
    if (!detail)
        return;
    const char *g = failed->gran == QUANT_GRAN_TENSOR ? "tensor"
                    : failed->gran == QUANT_GRAN_BLOCK ? "block"
                    : is_x ? "row" : "channel";
    int zp = failed->scheme == QUANT_SCHEME_ZEROPOINT;
    if (failed->gran == QUANT_GRAN_TENSOR)
        snprintf(detail, QUANT_DETAIL_LEN, "%s per tensor: %s = %.3g, so %s overflows float32", is_x ? "X" : "W",
                 zp ? "max v - min v" : "max |v|", (double)failed->failed_value,
                 zp ? "255 / (max v - min v)" : "127 / max |v|");
    else
        snprintf(detail, QUANT_DETAIL_LEN, "%s %s %lld: %s = %.3g, so %s overflows float32", is_x ? "X" : "W", g,
                 (long long)failed->failed_group, zp ? "max v - min v" : "max |v|",
                 (double)failed->failed_value, zp ? "255 / (max v - min v)" : "127 / max |v|");
}

/* W quantized at opts' scheme and w_gran, with W dequantized beside it: what every
 * threshold of one (scheme, w_gran, block) shares. */
typedef struct {
    quant_matrix q;
    float *dq;
} w_int8_entry;

static void w_int8_entry_free(void *p)
{
    w_int8_entry *e = p;
    if (!e)
        return;
    quant_matrix_free(&e->q);
    free(e->dq);
    free(e);
}

/* Moves a freshly quantized *own into the cache (with W dequantized); returns the
 * entry, or NULL when there is no cache or it did not take the entry (*own is then
 * still the caller's). */
static w_int8_entry *w_int8_remember(quant_cache *cache, const quant_cache_key *key, quant_matrix *own)
{
    if (!cache)
        return NULL;
    const int64_t nk = own->rows * own->cols;
    w_int8_entry *e = malloc(sizeof *e);
    float *dq = malloc((size_t)nk * sizeof *dq);
    if (!e || !dq || quant_dequantize(own, dq) != QUANT_OK) {
        free(e);
        free(dq);
        return NULL;
    }
    e->q = *own;
    e->dq = dq;
    int64_t bytes = quant_matrix_code_bytes(own) + quant_matrix_scale_bytes(own) + nk * (int64_t)sizeof *dq;
    if (!quant_cache_put(cache, key, NULL, e, bytes, w_int8_entry_free)) {
        free(e);
        free(dq);
        return NULL;
    }
    memset(own, 0, sizeof *own);
    return e;
}

static quant_status lowp_int8(const float *xq, const float *w, int64_t m, int64_t k, int64_t n,
                              const quant_matmul_opts *opts, const lowp_ctx *ctx, float *y,
                              float *xdq, float *wdq, int64_t *xb, int64_t *wcb, int64_t *wsb,
                              char *detail)
{
    /* Per-column scales of X cannot be taken out of the k-sum of an integer GEMM. */
    if (opts->x_gran == QUANT_GRAN_CHANNEL)
        return QUANT_ERR_UNSUPPORTED;
    if (k > QUANT_MAX_K)
        return QUANT_ERR_RANGE;
    quant_matrix qx, own;
    memset(&qx, 0, sizeof qx);
    memset(&own, 0, sizeof own);
    quant_cache_key key = { .kind = QUANT_CACHE_W_INT8, .w = w, .k = k, .n = n,
                            .scheme = opts->scheme, .gran = opts->w_gran,
                            .block = opts->w_gran == QUANT_GRAN_BLOCK ? opts->block : 0 };
    w_int8_entry *cached = NULL;
    quant_status st = quant_matrix_init(&qx, opts->scheme, opts->x_gran, m, k, opts->block);
    if (st == QUANT_OK && (st = quant_quantize(xq, &qx)) == QUANT_ERR_RANGE)
        range_detail(&qx, 1, detail);
    if (st == QUANT_OK && !(cached = quant_cache_find(ctx->cache, &key, NULL))) {
        st = quant_matrix_init(&own, opts->scheme, opts->w_gran, n, k, opts->block);
        if (st == QUANT_OK && (st = quant_quantize(w, &own)) == QUANT_ERR_RANGE)
            range_detail(&own, 0, detail);
        if (st == QUANT_OK)
            cached = w_int8_remember(ctx->cache, &key, &own);
    }
    const quant_matrix *qw = cached ? &cached->q : &own;
    if (st == QUANT_OK) {
        /* Whole-row groups can skip the zeroed outlier columns (matmul_q_kept); that
         * pays for gathering the codes once an eighth of the columns or more are
         * outliers. Either way the integers are the same. */
        if (ctx->keep && 8 * (k - ctx->nkeep) >= k && qx.gran != QUANT_GRAN_BLOCK &&
            qw->gran != QUANT_GRAN_BLOCK)
            st = matmul_q_kept(&qx, qw, ctx->keep, ctx->nkeep, y);
        else
            st = quant_matmul_q(&qx, qw, y);
    }
    if (st == QUANT_OK && xdq)
        st = quant_dequantize(&qx, xdq);
    if (st == QUANT_OK && wdq) {
        if (cached)
            memcpy(wdq, cached->dq, (size_t)(n * k) * sizeof *wdq);
        else
            st = quant_dequantize(qw, wdq);
    }
    if (st == QUANT_OK) {
        *xb = quant_matrix_code_bytes(&qx) + quant_matrix_scale_bytes(&qx);
        *wcb = quant_matrix_code_bytes(qw);
        *wsb = quant_matrix_scale_bytes(qw);
    }
    quant_matrix_free(&qx);
    quant_matrix_free(&own);
    return st;
}

/* fp8: codes decoded to their exact values, multiplied with float32 accumulation
 * (what an fp8 tensor-core GEMM does), then descaled by sx_i * sw_j. */
static quant_status lowp_fp8(const float *xq, const float *w, int64_t m, int64_t k, int64_t n,
                             const quant_matmul_opts *opts, const lowp_ctx *ctx, float *y,
                             float *xdq, float *wdq, int64_t *xb, int64_t *wcb, int64_t *wsb,
                             char *detail)
{
    (void)ctx;
    (void)detail;
    if ((opts->x_gran != QUANT_GRAN_TENSOR && opts->x_gran != QUANT_GRAN_ROW) ||
        (opts->w_gran != QUANT_GRAN_TENSOR && opts->w_gran != QUANT_GRAN_ROW &&
         opts->w_gran != QUANT_GRAN_CHANNEL))
        return QUANT_ERR_UNSUPPORTED;
    const int64_t mk = m * k, nk = n * k;
    const quant_gran xg = opts->x_gran;
    const quant_gran wg = opts->w_gran == QUANT_GRAN_TENSOR ? QUANT_GRAN_TENSOR : QUANT_GRAN_ROW;
    const int64_t nsx = xg == QUANT_GRAN_TENSOR ? 1 : m, nsw = wg == QUANT_GRAN_TENSOR ? 1 : n;
    uint8_t *cx = malloc((size_t)mk), *cw = malloc((size_t)nk);
    float *sx = malloc((size_t)nsx * sizeof *sx), *sw = malloc((size_t)nsw * sizeof *sw);
    float *vx = malloc((size_t)mk * sizeof *vx), *vw = malloc((size_t)nk * sizeof *vw);
    float *acc = malloc((size_t)(m * n) * sizeof *acc);
    float *ones_x = NULL, *ones_w = NULL;
    quant_status st = QUANT_OK;
    if (!cx || !cw || !sx || !sw || !vx || !vw || !acc) {
        st = QUANT_ERR_NOMEM;
        goto done;
    }
    st = quant_fp8_quantize(opts->scheme, xg, xq, m, k, 0, cx, sx, NULL);
    if (st == QUANT_OK)
        st = quant_fp8_quantize(opts->scheme, wg, w, n, k, 0, cw, sw, NULL);
    if (st != QUANT_OK)
        goto done;
    /* Unit scales turn the dequantizer into a plain decoder of the code values. */
    ones_x = malloc(sizeof *ones_x);
    ones_w = malloc(sizeof *ones_w);
    if (!ones_x || !ones_w) {
        st = QUANT_ERR_NOMEM;
        goto done;
    }
    ones_x[0] = ones_w[0] = 1.0f;
    quant_fp8_dequantize(opts->scheme, cx, ones_x, mk, mk, vx);
    quant_fp8_dequantize(opts->scheme, cw, ones_w, nk, nk, vw);
    quant_gemm_f32(vx, k, vw, k, m, n, k, acc, n, 0);
    for (int64_t i = 0; i < m; i++) {
        double si = sx[nsx == 1 ? 0 : i];
        for (int64_t j = 0; j < n; j++)
            y[i * n + j] = (float)((double)acc[i * n + j] / (si * (double)sw[nsw == 1 ? 0 : j]));
    }
    if (xdq)
        quant_fp8_dequantize(opts->scheme, cx, sx, mk, mk / nsx, xdq);
    if (wdq)
        quant_fp8_dequantize(opts->scheme, cw, sw, nk, nk / nsw, wdq);
    *xb = mk + 4 * nsx;
    *wcb = nk;
    *wsb = 4 * nsw;
done:
    free(cx);
    free(cw);
    free(sx);
    free(sw);
    free(vx);
    free(vw);
    free(acc);
    free(ones_x);
    free(ones_w);
    return st;
}

/* The int8 / fp8 pipeline with the LLM.int8() decomposition around `lowp`. cache is
 * NULL or the memo of calls on these very x and w. */
static quant_status matmul_decomposed(const float *x, const float *w, int64_t m, int64_t k,
                                      int64_t n, const quant_matmul_opts *opts, quant_cache *cache,
                                      lowp_product_fn lowp, float *y, quant_matmul_info *info)
{
    const int64_t mk = m * k, nk = n * k, mn = m * n;
    uint8_t *cols = malloc((size_t)k);
    float *xz = NULL, *xo = NULL, *wo = NULL, *wdq = NULL, *xe = NULL, *prod = NULL;
    int64_t *oidx = NULL, *keep = NULL;
    int64_t no = 0, xb = 0, wcb = 0, wsb = 0;
    quant_status st = QUANT_OK;
    if (!cols) {
        st = QUANT_ERR_NOMEM;
        goto done;
    }
    st = quant_outlier_cols(x, m, k, opts->threshold, cols, &no);
    if (st != QUANT_OK)
        goto done;

    const float *xq = x;
    lowp_ctx ctx = { .cache = cache };
    if (no > 0) {
        xz = malloc((size_t)mk * sizeof *xz);
        oidx = malloc((size_t)no * sizeof *oidx);
        keep = malloc((size_t)(k - no + 1) * sizeof *keep);
        if (!xz || !oidx || !keep) {
            st = QUANT_ERR_NOMEM;
            goto done;
        }
        for (int64_t j = 0, o = 0, q = 0; j < k; j++) {
            if (cols[j])
                oidx[o++] = j;
            else
                keep[q++] = j;
        }
        memcpy(xz, x, (size_t)mk * sizeof *xz);
#pragma omp parallel for schedule(static) if (m * no > (1 << 15))
        for (int64_t i = 0; i < m; i++)
            for (int64_t o = 0; o < no; o++)
                xz[i * k + oidx[o]] = 0.0f;
        xq = xz;
        ctx.keep = keep;
        ctx.nkeep = k - no;
    }

    /* Dequantized W is needed for the `dequant` outlier weights and for w_rel_err;
     * dequantized X for x_rel_err. */
    const int dequant = opts->outlier_weights == QUANT_OUTLIER_DEQUANT;
    int need_wdq = (no > 0 && dequant) || info;
    if (need_wdq)
        wdq = malloc((size_t)nk * sizeof *wdq);
    if (info)
        xe = malloc((size_t)mk * sizeof *xe);
    if ((need_wdq && !wdq) || (info && !xe)) {
        st = QUANT_ERR_NOMEM;
        goto done;
    }
    st = lowp(xq, w, m, k, n, opts, &ctx, y, xe, wdq, &xb, &wcb, &wsb, info ? info->detail : NULL);
    if (st != QUANT_OK)
        goto done;

    if (no > 0) {
        /* The outlier product depends on X, O and the outlier weights: with fp16 weights
         * it is the same for every scheme at this outlier set. */
        quant_cache_key key = { .kind = QUANT_CACHE_OUTLIER_PRODUCT, .x = x, .w = w, .m = m, .k = k,
                                .n = n, .outlier_weights = opts->outlier_weights };
        if (dequant) {
            key.scheme = opts->scheme;
            key.gran = opts->w_gran;
            key.block = opts->w_gran == QUANT_GRAN_BLOCK ? opts->block : 0;
        }
        const float *v = quant_cache_find(cache, &key, cols);
        if (!v || info) {
            xo = malloc((size_t)(m * no) * sizeof *xo);
            wo = malloc((size_t)(n * no) * sizeof *wo);
            if (!xo || !wo) {
                st = QUANT_ERR_NOMEM;
                goto done;
            }
            const float *wsrc = dequant ? wdq : w;
            /* The outlier columns rounded to fp16, row by row: threads change nothing. */
#pragma omp parallel for schedule(static) if (m * no > (1 << 15))
            for (int64_t i = 0; i < m; i++) {
                for (int64_t o = 0; o < no; o++)
                    xo[i * no + o] = x[i * k + oidx[o]];
                quant_round_f16(xo + i * no, xo + i * no, (size_t)no);
            }
#pragma omp parallel for schedule(static) if (n * no > (1 << 15))
            for (int64_t j = 0; j < n; j++) {
                for (int64_t o = 0; o < no; o++)
                    wo[j * no + o] = wsrc[j * k + oidx[o]];
                quant_round_f16(wo + j * no, wo + j * no, (size_t)no);
            }
        }
        if (!v) {
            /* X[:,O] W[:,O]^T with float32 accumulation */
            prod = malloc((size_t)mn * sizeof *prod);
            if (!prod) {
                st = QUANT_ERR_NOMEM;
                goto done;
            }
            quant_gemm_f32(xo, no, wo, no, m, n, no, prod, n, 0);
            v = prod;
            if (quant_cache_put(cache, &key, cols, prod, mn * (int64_t)sizeof *prod, free))
                prod = NULL;
        }
        /* Y += the outlier product, added onto the low-precision part as
         * quant_gemm_f32's accumulate = 1 would: element-wise, threads change nothing. */
#pragma omp parallel for schedule(static) if (mn > (1 << 16))
        for (int64_t i = 0; i < mn; i++)
            y[i] = y[i] + v[i];
    }

    if (info) {
        info->outlier_cols = no;
        /* The operands as the product saw them: dequantized codes with the outlier
         * columns replaced by the fp16 values that took their place. */
#pragma omp parallel for schedule(static) if (m * no > (1 << 15))
        for (int64_t i = 0; i < m; i++)
            for (int64_t o = 0; o < no; o++)
                xe[i * k + oidx[o]] = xo[i * no + o];
#pragma omp parallel for schedule(static) if (n * no > (1 << 15))
        for (int64_t j = 0; j < n; j++)
            for (int64_t o = 0; o < no; o++)
                wdq[j * k + oidx[o]] = wo[j * no + o];
        info->x_rel_err = quant_rel_err_f32(xe, x, (size_t)mk);
        info->w_rel_err = quant_rel_err_f32(wdq, w, (size_t)nk);
        info->x_bytes = xb + 2 * m * no;
        info->w_code_bytes = wcb;
        info->w_scale_bytes = wsb;
        info->w_scale2_bytes = 0;
        /* dequant outlier weights are read back from the int8 / fp8 W: nothing extra stored */
        info->w_outlier_bytes = opts->outlier_weights == QUANT_OUTLIER_FP16 ? 2 * n * no : 0;
        info->w_bytes = info->w_code_bytes + info->w_scale_bytes + info->w_scale2_bytes +
                        info->w_outlier_bytes;
    }

done:
    free(cols);
    free(xz);
    free(xo);
    free(wo);
    free(wdq);
    free(xe);
    free(prod);
    free(oidx);
    free(keep);
    return st;
}

/* Weight-only 4-bit: W quantized in blocks along k, dequantized to fp16; X fp16. */
quant_status quant_matmul_4bit(const quant_scheme_traits *t, const float *x, const float *w,
                               int64_t m, int64_t k, int64_t n, const quant_matmul_opts *opts,
                               float *y, quant_matmul_info *info)
{
    if (opts->block < 32 || opts->block > 4096)
        return QUANT_ERR_BLOCK;
    const int64_t mk = m * k, nk = n * k;
    quant_4bit q;
    quant_status st = quant_4bit_init(&q, opts->scheme, n, k, opts->block);
    if (st != QUANT_OK)
        return st;
    float *xr = malloc((size_t)mk * sizeof *xr);
    float *wr = malloc((size_t)nk * sizeof *wr);
    if (!xr || !wr) {
        st = QUANT_ERR_NOMEM;
        goto done;
    }
    st = quant_4bit_quantize(w, &q);
    if (st == QUANT_OK)
        st = quant_4bit_dequantize(&q, wr);
    if (st != QUANT_OK)
        goto done;
    quant_round_f16(wr, wr, (size_t)nk);
    quant_round_f16(x, xr, (size_t)mk);
    quant_gemm_f32(xr, k, wr, k, m, n, k, y, n, 0);
    if (info) {
        info->x_rel_err = quant_rel_err_f32(xr, x, (size_t)mk);
        info->w_rel_err = quant_rel_err_f32(wr, w, (size_t)nk);
        info->x_bytes = 2 * mk;
        info->w_code_bytes = quant_4bit_code_bytes(&q);
        info->w_scale_bytes = quant_4bit_scale_bytes(&q);
        info->w_scale2_bytes = quant_4bit_scale2_bytes(&q);
        info->w_outlier_bytes = 0;
        info->w_bytes = info->w_code_bytes + info->w_scale_bytes + info->w_scale2_bytes +
                        info->w_outlier_bytes;
    }
done:
    quant_4bit_free(&q);
    free(xr);
    free(wr);
    return st;
}

/* The int8 and fp8 pipelines: the decomposition around the low-precision product, on
 * X / s and W * s under SmoothQuant. */
static quant_status matmul_lowp(const float *x, const float *w, int64_t m, int64_t k, int64_t n,
                                const quant_matmul_opts *opts, lowp_product_fn lowp, float *y,
                                quant_matmul_info *info)
{
    const int64_t mk = m * k, nk = n * k;
    /* Under SmoothQuant the operands are this call's own copies: nothing to share. */
    if (opts->smooth_alpha == 0.0f)
        return matmul_decomposed(x, w, m, k, n, opts, opts->cache, lowp, y, info);
    float *s = malloc((size_t)k * sizeof *s);
    float *xs = malloc((size_t)mk * sizeof *xs);
    float *ws = malloc((size_t)nk * sizeof *ws);
    quant_status st = QUANT_ERR_NOMEM;
    if (s && xs && ws) {
        st = quant_smooth_scales(x, w, m, k, n, opts->smooth_alpha, s);
        if (st == QUANT_OK)
            st = quant_smooth_apply(x, w, m, k, n, s, xs, ws);
        if (st == QUANT_OK)
            st = matmul_decomposed(xs, ws, m, k, n, opts, NULL, lowp, y, info);
    }
    free(s);
    free(xs);
    free(ws);
    return st;
}

quant_status quant_matmul_int8(const quant_scheme_traits *t, const float *x, const float *w,
                               int64_t m, int64_t k, int64_t n, const quant_matmul_opts *opts,
                               float *y, quant_matmul_info *info)
{
    return matmul_lowp(x, w, m, k, n, opts, lowp_int8, y, info);
}

quant_status quant_matmul_fp8(const quant_scheme_traits *t, const float *x, const float *w,
                              int64_t m, int64_t k, int64_t n, const quant_matmul_opts *opts,
                              float *y, quant_matmul_info *info)
{
    return matmul_lowp(x, w, m, k, n, opts, lowp_fp8, y, info);
}

// epilogue.cu: dequantize-and-merge. int32 accumulators of the int8 GEMM -> scaled
// float output, with the exact zeropoint corrections, the fp16 outlier product of
// LLM.int8() and the bias added in the same pass over Y.
//
// Agreement with quant/ (quant_matmul_q, quant_matmul_scheme): the corrected integer
// sum is exact (int64); the division by sx*sw is done in float64 and rounded once to
// float32, so the int8 part differs from quant/ by at most one float32 rounding
// (tests allow 2^-22 relative to max|Y|). The outlier product comes from cuBLASLt in
// float32 with its own summation order: tests allow 1e-5 relative (Frobenius) there.
#include <stdio.h>

#include <algorithm>

#include "common.cuh"

template <bool ZP, typename YT>
__global__ void epilogue_kernel(const int32_t *__restrict__ acc, int64_t ldacc, int64_t m, int64_t n, int64_t K,
                                const float *__restrict__ sx, int sx_per_row, const int32_t *__restrict__ zx,
                                const int32_t *__restrict__ rsx, const float *__restrict__ sw, int sw_per_col,
                                const int32_t *__restrict__ zw, const int32_t *__restrict__ rsw,
                                const float *__restrict__ yo, int64_t ldyo, const float *__restrict__ bias,
                                YT *__restrict__ y, int64_t ldy)
{
    for (int64_t i = blockIdx.y; i < m; i += gridDim.y) {
        const float sxi = sx[sx_per_row ? i : 0];
        int64_t zxi = 0, rsxi = 0;
        if (ZP) {
            zxi = zx[sx_per_row ? i : 0];
            rsxi = rsx[i];
        }
        for (int64_t j = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; j < n;
             j += (int64_t)gridDim.x * blockDim.x) {
            int64_t a = acc[i * ldacc + j];
            const int64_t g = sw_per_col ? j : 0;
            if (ZP) {
                // sum (qx - zx)(qw - zw) = sum qx qw - zw sum qx - zx sum qw + K zx zw
                const int64_t zwj = zw[g];
                a = a - zwj * rsxi - zxi * (int64_t)rsw[j] + K * zxi * zwj;
            }
            const double d = (double)a / ((double)sxi * (double)sw[g]);
            float v = __double2float_rn(d);
            if (yo)
                v = __fadd_rn(v, yo[i * ldyo + j]);
            if (bias)
                v = __fadd_rn(v, bias[j]);
            if constexpr (sizeof(YT) == 4)
                y[i * ldy + j] = v;
            else
                y[i * ldy + j] = __float2half_rn(v);
        }
    }
}

extern "C" qk_status qk_epilogue(qk_ctx *c, const int32_t *d_acc, int64_t ldacc, const qk_qmatrix *qx,
                                 const qk_qmatrix *qw, const float *d_yo, int64_t ldyo, const float *d_bias,
                                 void *d_y, qk_dtype ydt, int64_t ldy)
{
    QK_ARG_CHECK(c, d_acc && qx && qw && d_y);
    QK_ARG_CHECK(c, qx->cols == qw->cols && qx->scheme == qw->scheme);
    const int64_t m = qx->rows, n = qw->rows;
    QK_ARG_CHECK(c, ldacc >= n && ldy >= n && (!d_yo || ldyo >= n));
    if (qx->gran == QUANT_GRAN_BLOCK || qw->gran == QUANT_GRAN_BLOCK)
        return qk_fail(c, QK_ERR_UNSUPPORTED, __FILE__, __LINE__,
                       "block granularity has no GPU matmul: its per-block partial sums need a k-split "
                       "GEMM that qlab does not have yet (the cpu backend runs it)");
    const bool zp = qx->scheme == QUANT_SCHEME_ZEROPOINT;
    if (zp && (!qx->d_row_sums || !qw->d_row_sums || !qx->d_zeros || !qw->d_zeros))
        return qk_fail(c, QK_ERR_ARG, __FILE__, __LINE__, "zeropoint epilogue needs zeros and row sums");
    const int sx_row = qx->gran != QUANT_GRAN_TENSOR, sw_col = qw->gran != QUANT_GRAN_TENSOR;
    const int threads = 256;
    const dim3 grid((unsigned)std::min<int64_t>(qk_ceil_div(n, threads), 1024),
                    (unsigned)std::min<int64_t>(m, 65535));
#define LAUNCH(ZPV, YT)                                                                                  \
    epilogue_kernel<ZPV, YT><<<grid, threads, 0, c->stream>>>(                                           \
        d_acc, ldacc, m, n, qx->cols, qx->d_scales, sx_row, qx->d_zeros, qx->d_row_sums, qw->d_scales,    \
        sw_col, qw->d_zeros, qw->d_row_sums, d_yo, ldyo, d_bias, (YT *)d_y, ldy)
    if (ydt == QK_DTYPE_F32) {
        if (zp)
            LAUNCH(true, float);
        else
            LAUNCH(false, float);
    } else if (ydt == QK_DTYPE_F16) {
        if (zp)
            LAUNCH(true, __half);
        else
            LAUNCH(false, __half);
    } else {
        return qk_fail(c, QK_ERR_UNSUPPORTED, __FILE__, __LINE__, "epilogue output %s: use fp32 or fp16",
                       qk_dtype_name(ydt));
    }
#undef LAUNCH
    QK_LAUNCH_CHECK(c);
    return QK_OK;
}

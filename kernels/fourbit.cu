// fourbit.cu: weight-only 4-bit (nf4, fp4) kernels: block-scale expansion for double
// quantization, dequantize to fp16 (then the fp16 cuBLASLt GEMM of gemm.cu), and a
// fused dequantize-GEMV for the decode case (m <= 16), where reading W once as 4-bit
// codes beats writing and re-reading it as fp16.
//
// Layout and values are those of quant/quant.h (quant_4bit): codes packed two per
// byte in row-major element order, element 2i in the high nibble; one float32 absmax
// per `block` weights along k; w' = fp16(table[code] * absmax) with the product in
// float32 (built with --fmad=false, so it is the same float operation as quant/).
// The code table comes from quant_4bit_table() on the host: one definition.
//
// Build: part of libqlabkernels.a (make); tests: tests/gpu/test_fourbit.c.
#include <stdio.h>

#include "common.cuh"

struct fourbit_table {
    float v[16];
};

static qk_status table_of(qk_ctx *c, quant_scheme scheme, fourbit_table *t)
{
    const float *v = quant_4bit_table(scheme);
    if (!v)
        return qk_fail(c, QK_ERR_ARG, __FILE__, __LINE__, "scheme %d is not a 4-bit scheme", (int)scheme);
    for (int i = 0; i < 16; i++)
        t->v[i] = v[i];
    return QK_OK;
}

__device__ __forceinline__ int code_at(const uint8_t *__restrict__ codes, int64_t e)
{
    const uint8_t b = codes[e >> 1];
    return (e & 1) ? (b & 0x0f) : (b >> 4);
}

// ------------------------------------------------------------------------------
// Double quantization: absmax'_b = qabsmax_b / s2[b / 256] + mean

__global__ void absmax_dq_kernel(const int8_t *__restrict__ q, const float *__restrict__ s2, float mean,
                                 int64_t n_blocks, float *__restrict__ out)
{
    for (int64_t b = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; b < n_blocks;
         b += (int64_t)gridDim.x * blockDim.x) {
        const float d = (float)q[b] / s2[b / QUANT_DQ_BLOCK];
        out[b] = d + mean;
    }
}

extern "C" qk_status qk_4bit_absmax_dq(qk_ctx *c, const int8_t *d_qabsmax, const float *d_dq_scales, float mean,
                                       int64_t n_blocks, float *d_absmax)
{
    QK_ARG_CHECK(c, d_qabsmax && d_dq_scales && d_absmax && n_blocks > 0);
    const int threads = 256;
    const int64_t grid = qk_ceil_div(n_blocks, threads) < 4096 ? qk_ceil_div(n_blocks, threads) : 4096;
    absmax_dq_kernel<<<(unsigned)grid, threads, 0, c->stream>>>(d_qabsmax, d_dq_scales, mean, n_blocks, d_absmax);
    QK_LAUNCH_CHECK(c);
    return QK_OK;
}

// ------------------------------------------------------------------------------
// Dequantize to fp16: one thread per packed byte (two weights)

__global__ void dequant_f16_kernel(fourbit_table t, const uint8_t *__restrict__ codes,
                                   const float *__restrict__ absmax, int64_t n, int64_t k, int64_t block,
                                   __half *__restrict__ out, int64_t ld_out)
{
    const int64_t total = n * k;
    for (int64_t e = 2 * ((int64_t)blockIdx.x * blockDim.x + threadIdx.x); e < total;
         e += 2 * (int64_t)gridDim.x * blockDim.x) {
        for (int h = 0; h < 2 && e + h < total; h++) {
            const int64_t i = e + h;
            const float w = t.v[code_at(codes, i)] * absmax[i / block];
            out[(i / k) * ld_out + i % k] = __float2half_rn(w);
        }
    }
}

extern "C" qk_status qk_4bit_dequantize_f16(qk_ctx *c, quant_scheme scheme, const uint8_t *d_codes,
                                            const float *d_absmax, int64_t n, int64_t k, int64_t block,
                                            void *d_out, int64_t ld_out)
{
    QK_ARG_CHECK(c, d_codes && d_absmax && d_out && n > 0 && k > 0 && block > 0 && k % block == 0 && ld_out >= k);
    fourbit_table t;
    qk_status st = table_of(c, scheme, &t);
    if (st != QK_OK)
        return st;
    const int threads = 256;
    const int64_t pairs = qk_ceil_div(n * k, 2);
    const int64_t grid = qk_ceil_div(pairs, threads) < 65535 ? qk_ceil_div(pairs, threads) : 65535;
    dequant_f16_kernel<<<(unsigned)grid, threads, 0, c->stream>>>(t, d_codes, d_absmax, n, k, block,
                                                                  (__half *)d_out, ld_out);
    QK_LAUNCH_CHECK(c);
    return QK_OK;
}

extern "C" qk_status qk_4bit_matmul_f16(qk_ctx *c, quant_scheme scheme, const void *d_x16, int64_t ldx,
                                        const uint8_t *d_codes, const float *d_absmax, int64_t m, int64_t k,
                                        int64_t n, int64_t block, void *d_wscratch, int64_t ldw, float *d_y,
                                        int64_t ldy)
{
    QK_ARG_CHECK(c, d_x16 && d_wscratch && d_y && m > 0 && ldx >= k && ldy >= n);
    qk_status st = qk_4bit_dequantize_f16(c, scheme, d_codes, d_absmax, n, k, block, d_wscratch, ldw);
    if (st != QK_OK)
        return st;
    return qk_gemm_float(c, QK_DTYPE_F16, d_x16, ldx, d_wscratch, ldw, d_y, QK_DTYPE_F32, ldy, m, k, n, 1.0f, 0.0f);
}

// ------------------------------------------------------------------------------
// Fused dequantize-GEMV for small m: one warp per output column j, every lane
// decoding weights of row j of W and multiplying them with all m rows of X
// (m <= QK_4BIT_GEMV_MAX_M accumulators in registers), then a warp reduction.

#define GEMV_WARPS 4

template <int M>
__global__ void gemv_kernel(fourbit_table t, const __half *__restrict__ x, int64_t ldx, int m,
                            const uint8_t *__restrict__ codes, const float *__restrict__ absmax, int64_t k,
                            int64_t n, int64_t block, float *__restrict__ y, int64_t ldy)
{
    const int lane = threadIdx.x & 31;
    const int64_t j = (int64_t)blockIdx.x * GEMV_WARPS + (threadIdx.x >> 5);
    if (j >= n)
        return;
    float acc[M];
#pragma unroll
    for (int i = 0; i < M; i++)
        acc[i] = 0.0f;
    const int64_t row0 = j * k;
    for (int64_t p = lane; p < k; p += 32) {
        const int64_t e = row0 + p;
        // The weight as the two-step path sees it: rounded to fp16.
        const float w = __half2float(__float2half_rn(t.v[code_at(codes, e)] * absmax[e / block]));
#pragma unroll
        for (int i = 0; i < M; i++)
            if (i < m)
                acc[i] += __half2float(x[i * ldx + p]) * w;
    }
#pragma unroll
    for (int i = 0; i < M; i++) {
        float v = acc[i];
        for (int off = 16; off > 0; off >>= 1)
            v += __shfl_down_sync(0xffffffffu, v, off);
        if (lane == 0 && i < m)
            y[i * ldy + j] = v;
    }
}

extern "C" qk_status qk_4bit_gemv_f16(qk_ctx *c, quant_scheme scheme, const void *d_x16, int64_t ldx,
                                      const uint8_t *d_codes, const float *d_absmax, int64_t m, int64_t k,
                                      int64_t n, int64_t block, float *d_y, int64_t ldy)
{
    QK_ARG_CHECK(c, d_x16 && d_codes && d_absmax && d_y && k > 0 && n > 0 && block > 0 && k % block == 0 &&
                        ldx >= k && ldy >= n);
    if (m < 1 || m > QK_4BIT_GEMV_MAX_M)
        return qk_fail(c, QK_ERR_UNSUPPORTED, __FILE__, __LINE__,
                       "fused 4-bit GEMV takes 1 <= m <= %d (got %lld): use qk_4bit_matmul_f16",
                       QK_4BIT_GEMV_MAX_M, (long long)m);
    fourbit_table t;
    qk_status st = table_of(c, scheme, &t);
    if (st != QK_OK)
        return st;
    const unsigned grid = (unsigned)qk_ceil_div(n, GEMV_WARPS);
    const __half *x = (const __half *)d_x16;
    if (m <= 4)
        gemv_kernel<4><<<grid, 32 * GEMV_WARPS, 0, c->stream>>>(t, x, ldx, (int)m, d_codes, d_absmax, k, n, block,
                                                                d_y, ldy);
    else
        gemv_kernel<QK_4BIT_GEMV_MAX_M><<<grid, 32 * GEMV_WARPS, 0, c->stream>>>(t, x, ldx, (int)m, d_codes, d_absmax,
                                                                                 k, n, block, d_y, ldy);
    QK_LAUNCH_CHECK(c);
    return QK_OK;
}

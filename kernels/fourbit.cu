// fourbit.cu: weight-only 4-bit (nf4, fp4) kernels: block-scale expansion for double
// quantization, dequantize to fp16 (then the fp16 cuBLASLt GEMM of gemm.cu), and a
// fused dequantize-GEMV for the decode case (m <= 16), where reading W once as 4-bit
// codes beats writing and re-reading it as fp16.
//
// Layout and values are those of quant/quant.h (quant_4bit): codes packed two per
// byte in row-major element order, element 2i in the high nibble; one float32 absmax
// per `block` weights along k; w' = fp16(table[code] * absmax) with the product in
// float32 (built with --fmad=false, so it is the same float operation as quant/).
// The code table comes from quant_4bit_table() on the host: one definition; each block
// keeps a copy in shared memory. No kernel divides a 64-bit index per weight: rows come
// from the grid (or one warp per row), columns are 32-bit (checked on the host), and
// the GEMV tracks its block scale by quotient and remainder. Where k and the block are
// multiples of 32 (8 for the dequantize) the kernels move 16 bytes per load or store.
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

// The table travels by value (a kernel parameter, read here with constant indices
// only) and each block copies it to shared memory: indexing the parameter with a
// code would make the compiler copy it to local memory in every thread. 16 words in
// 16 banks: a warp's lookups never conflict (equal codes are a broadcast). Every
// thread of the block must call this, before any thread returns.
__device__ __forceinline__ void table_to_shared(const fourbit_table &t, float *tab)
{
    if (threadIdx.x == 0 && threadIdx.y == 0) {
#pragma unroll
        for (int i = 0; i < 16; i++)
            tab[i] = t.v[i];
    }
    __syncthreads();
}

__device__ __forceinline__ int code_at(const uint8_t *__restrict__ codes, int64_t e)
{
    const uint8_t b = codes[e >> 1];
    return (e & 1) ? (b & 0x0f) : (b >> 4);
}

// Code of element e (0..7) of a little-endian 32-bit word of packed codes: byte e/2,
// the high nibble for even e (quant/'s order: element 2i in the high nibble).
__device__ __forceinline__ unsigned code_in_word(uint32_t w, int e)
{
    return (w >> (8 * (e >> 1) + ((e & 1) ? 0 : 4))) & 0x0fu;
}

// The weight as quant/ dequantizes it, table[code] * absmax in float32, rounded to
// fp16 (the value both 4-bit paths multiply).
__device__ __forceinline__ __half weight16(const float *tab, unsigned code, float s)
{
    return __float2half_rn(__fmul_rn(tab[code], s));
}

// The eight weights of one code word, all in one block (same absmax s), as fp16 and
// widened back to float32 (exact).
__device__ __forceinline__ void decode_word(const float *tab, uint32_t w, float s, float (&out)[8])
{
#pragma unroll
    for (int e = 0; e < 8; e += 2) {
        const __half2 h = __floats2half2_rn(__fmul_rn(tab[code_in_word(w, e)], s),
                                            __fmul_rn(tab[code_in_word(w, e + 1)], s));
        const float2 f = __half22float2(h);
        out[e] = f.x;
        out[e + 1] = f.y;
    }
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
// Dequantize to fp16. Rows of W in the grid's y dimension, columns in x; the block
// scale's column index is one 32-bit division per thread and column, outside the
// loop over rows.

// Eight weights per thread: one 32-bit code word in, one 16-byte store out. Needs k
// and block multiples of 8 (a word never straddles a row or a block), ld_out a
// multiple of 8, codes 4-byte and out 16-byte aligned (the caller checks).
__global__ void dequant_f16_vec_kernel(fourbit_table t, const uint32_t *__restrict__ codes,
                                       const float *__restrict__ absmax, int64_t n, int words, int block,
                                       int64_t blocks_per_row, __half *__restrict__ out, int64_t ld_out)
{
    __shared__ float tab[16];
    table_to_shared(t, tab);
    for (int c = qk_col0(); c < words; c += qk_col_step()) {
        const int64_t sb = (int64_t)((8 * c) / block);
        for (int64_t r = qk_row0(); r < n; r += qk_row_step()) {
            const uint32_t w = __ldg(codes + r * words + c);
            const float s = __ldg(absmax + r * blocks_per_row + sb);
            union {
                uint4 u;
                __half2 h[4];
            } o;
#pragma unroll
            for (int e = 0; e < 8; e += 2)
                o.h[e / 2] = __halves2half2(weight16(tab, code_in_word(w, e), s),
                                            weight16(tab, code_in_word(w, e + 1), s));
            *reinterpret_cast<uint4 *>(out + r * ld_out + 8 * c) = o.u;
        }
    }
}

// Any shape: one weight per thread and step.
__global__ void dequant_f16_kernel(fourbit_table t, const uint8_t *__restrict__ codes,
                                   const float *__restrict__ absmax, int64_t n, int k, int block,
                                   int64_t blocks_per_row, __half *__restrict__ out, int64_t ld_out)
{
    __shared__ float tab[16];
    table_to_shared(t, tab);
    for (int p = qk_col0(); p < k; p += qk_col_step()) {
        const int64_t sb = (int64_t)(p / block);
        for (int64_t r = qk_row0(); r < n; r += qk_row_step())
            out[r * ld_out + p] = weight16(tab, (unsigned)code_at(codes, r * k + p), absmax[r * blocks_per_row + sb]);
    }
}

extern "C" qk_status qk_4bit_dequantize_f16(qk_ctx *c, quant_scheme scheme, const uint8_t *d_codes,
                                            const float *d_absmax, int64_t n, int64_t k, int64_t block,
                                            void *d_out, int64_t ld_out)
{
    QK_ARG_CHECK(c, d_codes && d_absmax && d_out && n > 0 && k > 0 && block > 0 && k % block == 0 && ld_out >= k);
    if (k > QK_COLS_MAX)
        return qk_fail(c, QK_ERR_UNSUPPORTED, __FILE__, __LINE__,
                       "4-bit dequantize: k = %lld is beyond the kernels' 32-bit column index (at most %lld)",
                       (long long)k, (long long)QK_COLS_MAX);
    fourbit_table t;
    qk_status st = table_of(c, scheme, &t);
    if (st != QK_OK)
        return st;
    const bool vec = k % 8 == 0 && block % 8 == 0 && ld_out % 8 == 0 && (uintptr_t)d_codes % 4 == 0 &&
                     (uintptr_t)d_out % 16 == 0;
    if (vec) {
        const qk_rows_launch g = qk_rows_grid(n, k / 8);
        dequant_f16_vec_kernel<<<g.grid, g.block, 0, c->stream>>>(t, (const uint32_t *)d_codes, d_absmax, n,
                                                                  (int)(k / 8), (int)block, k / block,
                                                                  (__half *)d_out, ld_out);
    } else {
        const qk_rows_launch g = qk_rows_grid(n, k);
        dequant_f16_kernel<<<g.grid, g.block, 0, c->stream>>>(t, d_codes, d_absmax, n, (int)k, (int)block, k / block,
                                                              (__half *)d_out, ld_out);
    }
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
// Fused dequantize-GEMV for small m: each warp owns R consecutive rows j of W (the
// output columns), its lanes decode the weights of those rows, multiply them with all
// m rows of X (M >= m accumulators per W row in registers) and reduce across the warp
// at the end. Each product x * w of two fp16 values is exact in float32, so the
// fused multiply-add is the same operation as a multiply and an add; only the order of
// the sum differs from the GEMM's (the tests allow 1e-5 relative).
//
// The block scale of a lane's next weights is tracked by a quotient and remainder
// advanced with one compare per step (the step's quotient and remainder come from
// the host), so the loop over k never divides.

#define GEMV_WARPS 4

// Vector path: each lane takes 32 weights per step, one 16-byte load of codes per W
// row (a warp reads 512 contiguous bytes of a row per step), and all 32 share one
// block scale. Needs k and block multiples of 32 (so rows and blocks start on a
// 16-byte code boundary), ldx a multiple of 8, codes and x 16-byte aligned.
template <int M, int R>
__global__ void __launch_bounds__(32 * GEMV_WARPS)
gemv_vec_kernel(fourbit_table t, const __half *__restrict__ x, int64_t ldx, int m, const uint4 *__restrict__ codes,
                const float *__restrict__ absmax, int chunks, int chunks_per_block, int64_t blocks_per_row,
                int step_q, int step_r, int64_t n, float *__restrict__ y, int64_t ldy)
{
    __shared__ float tab[16];
    table_to_shared(t, tab);
    const int lane = threadIdx.x & 31;
    const int64_t j0 = ((int64_t)blockIdx.x * GEMV_WARPS + (threadIdx.x >> 5)) * R;
    if (j0 >= n)
        return;
    const uint4 *crow[R];
    const float *srow[R];
#pragma unroll
    for (int r = 0; r < R; r++) {
        const int64_t j = j0 + r < n ? j0 + r : n - 1;   // rows past n load row n-1 and store nothing
        crow[r] = codes + j * chunks;
        srow[r] = absmax + j * blocks_per_row;
    }
    float acc[M][R];
#pragma unroll
    for (int i = 0; i < M; i++)
#pragma unroll
        for (int r = 0; r < R; r++)
            acc[i][r] = 0.0f;
    // chunk ch (32 weights at column 32 ch) lies in block ch / chunks_per_block of its row
    int q = lane / chunks_per_block, rem = lane % chunks_per_block;
    for (int ch = lane; ch < chunks; ch += 32) {
        uint4 cw[R];
        float s[R];
#pragma unroll
        for (int r = 0; r < R; r++) {
            cw[r] = __ldg(crow[r] + ch);
            s[r] = __ldg(srow[r] + q);
        }
#pragma unroll
        for (int g = 0; g < 4; g++) {
            float w[R][8];
#pragma unroll
            for (int r = 0; r < R; r++) {
                const uint32_t word = g == 0 ? cw[r].x : g == 1 ? cw[r].y : g == 2 ? cw[r].z : cw[r].w;
                decode_word(tab, word, s[r], w[r]);
            }
            const __half *xp = x + (int64_t)ch * 32 + 8 * g;
#pragma unroll
            for (int i = 0; i < M; i++) {
                if (i < m) {
                    float xf[8];
                    qk_load<__half, 8>(xp + i * ldx, xf);
#pragma unroll
                    for (int r = 0; r < R; r++)
#pragma unroll
                        for (int e = 0; e < 8; e++)
                            acc[i][r] = __fmaf_rn(xf[e], w[r][e], acc[i][r]);
                }
            }
        }
        q += step_q;
        rem += step_r;
        if (rem >= chunks_per_block) {
            rem -= chunks_per_block;
            q++;
        }
    }
#pragma unroll
    for (int i = 0; i < M; i++) {
#pragma unroll
        for (int r = 0; r < R; r++) {
            float v = acc[i][r];
#pragma unroll
            for (int off = 16; off > 0; off >>= 1)
                v += __shfl_down_sync(0xffffffffu, v, off);
            if (lane == 0 && i < m && j0 + r < n)
                y[i * ldy + j0 + r] = v;
        }
    }
}

// Any shape: one weight per lane and step, one warp per W row.
template <int M>
__global__ void __launch_bounds__(32 * GEMV_WARPS)
gemv_kernel(fourbit_table t, const __half *__restrict__ x, int64_t ldx, int m, const uint8_t *__restrict__ codes,
            const float *__restrict__ absmax, int k, int block, int64_t blocks_per_row, int step_q, int step_r,
            int64_t n, float *__restrict__ y, int64_t ldy)
{
    __shared__ float tab[16];
    table_to_shared(t, tab);
    const int lane = threadIdx.x & 31;
    const int64_t j = (int64_t)blockIdx.x * GEMV_WARPS + (threadIdx.x >> 5);
    if (j >= n)
        return;
    float acc[M];
#pragma unroll
    for (int i = 0; i < M; i++)
        acc[i] = 0.0f;
    const int64_t e0 = j * (int64_t)k;
    const float *srow = absmax + j * blocks_per_row;
    // weight p lies in block p / block of its row
    int q = lane / block, rem = lane % block;
    for (int p = lane; p < k; p += 32) {
        const float w = __half2float(weight16(tab, (unsigned)code_at(codes, e0 + p), srow[q]));
#pragma unroll
        for (int i = 0; i < M; i++)
            if (i < m)
                acc[i] = __fmaf_rn(__half2float(x[i * ldx + p]), w, acc[i]);
        q += step_q;
        rem += step_r;
        if (rem >= block) {
            rem -= block;
            q++;
        }
    }
#pragma unroll
    for (int i = 0; i < M; i++) {
        float v = acc[i];
#pragma unroll
        for (int off = 16; off > 0; off >>= 1)
            v += __shfl_down_sync(0xffffffffu, v, off);
        if (lane == 0 && i < m)
            y[i * ldy + j] = v;
    }
}

// Launches the vector kernel for M accumulators and R rows per warp.
template <int M, int R>
static void launch_gemv_vec(qk_ctx *c, const fourbit_table &t, const __half *x, int64_t ldx, int m,
                            const uint8_t *codes, const float *absmax, int64_t k, int64_t n, int64_t block,
                            float *y, int64_t ldy)
{
    const int cpb = (int)(block / 32);
    const unsigned grid = (unsigned)qk_ceil_div(n, (int64_t)GEMV_WARPS * R);
    gemv_vec_kernel<M, R><<<grid, 32 * GEMV_WARPS, 0, c->stream>>>(t, x, ldx, m, (const uint4 *)codes, absmax,
                                                                   (int)(k / 32), cpb, k / block, 32 / cpb,
                                                                   32 % cpb, n, y, ldy);
}

template <int M>
static void launch_gemv(qk_ctx *c, const fourbit_table &t, const __half *x, int64_t ldx, int m, const uint8_t *codes,
                        const float *absmax, int64_t k, int64_t n, int64_t block, float *y, int64_t ldy)
{
    const unsigned grid = (unsigned)qk_ceil_div(n, GEMV_WARPS);
    gemv_kernel<M><<<grid, 32 * GEMV_WARPS, 0, c->stream>>>(t, x, ldx, m, codes, absmax, (int)k, (int)block,
                                                            k / block, (int)(32 / block), (int)(32 % block), n, y,
                                                            ldy);
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
    if (k > QK_COLS_MAX || n > ((int64_t)1 << 32))
        return qk_fail(c, QK_ERR_UNSUPPORTED, __FILE__, __LINE__,
                       "fused 4-bit GEMV: k = %lld or n = %lld is beyond its 32-bit column index / grid",
                       (long long)k, (long long)n);
    fourbit_table t;
    qk_status st = table_of(c, scheme, &t);
    if (st != QK_OK)
        return st;
    const __half *x = (const __half *)d_x16;
    const bool vec = k % 32 == 0 && block % 32 == 0 && ldx % 8 == 0 && (uintptr_t)d_codes % 16 == 0 &&
                     (uintptr_t)d_x16 % 16 == 0;
    if (vec) {
        // one W row per warp up to 4 tokens (as many warps as rows keep loads in
        // flight); two rows per warp above, so each X load and conversion serves both
        if (m == 1)
            launch_gemv_vec<1, 1>(c, t, x, ldx, 1, d_codes, d_absmax, k, n, block, d_y, ldy);
        else if (m <= 4)
            launch_gemv_vec<4, 1>(c, t, x, ldx, (int)m, d_codes, d_absmax, k, n, block, d_y, ldy);
        else
            launch_gemv_vec<QK_4BIT_GEMV_MAX_M, 2>(c, t, x, ldx, (int)m, d_codes, d_absmax, k, n, block, d_y, ldy);
    } else if (m == 1) {
        launch_gemv<1>(c, t, x, ldx, 1, d_codes, d_absmax, k, n, block, d_y, ldy);
    } else if (m <= 4) {
        launch_gemv<4>(c, t, x, ldx, (int)m, d_codes, d_absmax, k, n, block, d_y, ldy);
    } else {
        launch_gemv<QK_4BIT_GEMV_MAX_M>(c, t, x, ldx, (int)m, d_codes, d_absmax, k, n, block, d_y, ldy);
    }
    QK_LAUNCH_CHECK(c);
    return QK_OK;
}

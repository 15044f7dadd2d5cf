// quantize.cu: int8 quantization of X and W on the GPU, LLM.int8() outlier column
// detection, dequantization, fp16/bf16 conversion and the outlier-column gathers.
//
// The oracle is quant/int8.c: same groups, same scale rule, same rounding, so the
// codes, scales, zero points and flags are bit-identical (tests/gpu/test_kernels.c).
//
// Design
//   - Row / channel granularity: one thread block per row. Pass 1 reduces max|v| (or
//     min/max) with 16-byte loads and warp shuffles, pass 2 reads the row again and
//     writes the codes and the row sum. The second read of a row that one block just
//     read is served by L2 (a row is at most a few hundred KB), so DRAM sees X once.
//   - Tensor granularity needs the tensor-wide max before any code: a stats kernel
//     (atomicMax on the bit pattern of non-negative floats, which orders like the
//     floats) then the same per-row code kernel reading the global stats.
//   - Block granularity: one warp per group of `block` values.
//   - LLM.int8() outliers: a column is an outlier when any row has |v| >= t, so the
//     flags need all of X before the first scale can be known. qk_quantize_x runs the
//     detection pass, then the quantization pass with flagged columns read as 0. For
//     the shapes that matter (X of a few tens of MB) the second pass hits L2 on H100
//     (50 MB); DESIGN's "one pass where the scheme allows" holds without a threshold.
//   - Max and min are exact, so the reduction order cannot change a scale.
#include <stdio.h>

#include <algorithm>

#include "common.cuh"

#define QK_ROW_THREADS 256

// ------------------------------------------------------------------------------
// Outlier columns

// Each thread owns V consecutive columns and a chunk of rows; any |v| >= t sets the
// column's flag. Several threads may store 1 to the same flag: the race is benign.
template <typename T, int V>
__global__ void outlier_detect_kernel(const T *__restrict__ x, int64_t m, int64_t k, int64_t ldx,
                                      int64_t rows_per_chunk, float t, uint8_t *__restrict__ flags)
{
    const int64_t j = ((int64_t)blockIdx.x * blockDim.x + threadIdx.x) * V;
    if (j >= k)
        return;
    const int64_t r0 = (int64_t)blockIdx.y * rows_per_chunk;
    const int64_t r1 = min(m, r0 + rows_per_chunk);
    bool hit[V];
#pragma unroll
    for (int e = 0; e < V; e++)
        hit[e] = false;
    for (int64_t r = r0; r < r1; r++) {
        const T *p = x + r * ldx + j;
        if (V > 1) {
            float v[V];
            qk_load<T, V>(p, v);
#pragma unroll
            for (int e = 0; e < V; e++)
                hit[e] |= fabsf(v[e]) >= t;
        } else if (j < k) {
            hit[0] |= fabsf(qk_to_float(p[0])) >= t;
        }
    }
#pragma unroll
    for (int e = 0; e < V; e++)
        if (hit[e])
            flags[j + e] = 1;
}

// Flag array -> sorted list of flagged columns and their count, in one block: each
// thread counts a contiguous chunk, an exclusive scan over threads gives each chunk's
// first output slot. Sorted order keeps the outlier GEMM's summation order fixed.
#define QK_COMPACT_THREADS 1024
__global__ void outlier_compact_kernel(const uint8_t *__restrict__ flags, int64_t k,
                                       int32_t *__restrict__ idx, int32_t *__restrict__ count)
{
    __shared__ int sh[QK_COMPACT_THREADS];
    const int tid = threadIdx.x;
    const int64_t chunk = (k + QK_COMPACT_THREADS - 1) / QK_COMPACT_THREADS;
    const int64_t j0 = tid * chunk, j1 = min(k, j0 + chunk);
    int local = 0;
    for (int64_t j = j0; j < j1; j++)
        local += flags[j] != 0;
    sh[tid] = local;
    __syncthreads();
    // Hillis-Steele inclusive scan: 10 steps for 1024 threads, negligible next to X.
    for (int off = 1; off < QK_COMPACT_THREADS; off <<= 1) {
        int v = tid >= off ? sh[tid - off] : 0;
        __syncthreads();
        sh[tid] += v;
        __syncthreads();
    }
    int pos = sh[tid] - local;
    for (int64_t j = j0; j < j1; j++)
        if (flags[j])
            idx[pos++] = (int32_t)j;
    if (tid == QK_COMPACT_THREADS - 1)
        *count = sh[tid];
}

// ------------------------------------------------------------------------------
// Row / tensor quantization

// Pass 1 over one row: max|v| (absmax) or lo = min(min v, 0), hi = max(max v, 0)
// (zeropoint), flagged columns read as 0. Results in every thread of the block.
template <typename T, int V, bool ZP>
__device__ __forceinline__ void row_stats(const T *__restrict__ src, int64_t cols,
                                          const uint8_t *__restrict__ flags, float *lo_out,
                                          float *hi_out, float *sh)
{
    float lo = 0.0f, hi = 0.0f;
    for (int64_t j = (int64_t)threadIdx.x * V; j < cols; j += (int64_t)blockDim.x * V) {
        float v[V];
        qk_load<T, V>(src + j, v);
#pragma unroll
        for (int e = 0; e < V; e++) {
            float a = (flags && flags[j + e]) ? 0.0f : v[e];
            if (ZP) {
                lo = fminf(lo, a);
                hi = fmaxf(hi, a);
            } else {
                hi = fmaxf(hi, fabsf(a));
            }
        }
    }
    hi = qk_block_max(hi, sh);
    if (ZP)
        lo = qk_block_min(lo, sh);
    // +0.0f turns a -0 into +0, so the bit patterns used by atomicMax stay ordered.
    *hi_out = __fadd_rn(hi, 0.0f);
    *lo_out = __fadd_rn(lo, 0.0f);
}

// Tensor granularity, step 1: per-row stats folded into gstats[0] = max|v| or
// max(max v, 0), gstats[1] = -min(min v, 0), as float bit patterns (all >= +0).
template <typename T, int V, bool ZP>
__global__ void tensor_stats_kernel(const T *__restrict__ src, int64_t ld_src, int64_t cols,
                                    const uint8_t *__restrict__ flags, unsigned int *gstats)
{
    __shared__ float sh[32];
    float lo, hi;
    row_stats<T, V, ZP>(src + (int64_t)blockIdx.x * ld_src, cols, flags, &lo, &hi, sh);
    if (threadIdx.x == 0) {
        atomicMax(&gstats[0], __float_as_uint(hi));
        if (ZP)
            atomicMax(&gstats[1], __float_as_uint(__fadd_rn(-lo, 0.0f)));
    }
}

// V codes packed for one store (8 bytes for V = 8, 4 for V = 4).
template <int V>
__device__ __forceinline__ void store_codes(int8_t *dst, const int (&q)[V])
{
    if constexpr (V == 8) {
        unsigned int w0 = 0, w1 = 0;
#pragma unroll
        for (int e = 0; e < 4; e++) {
            w0 |= ((unsigned int)(q[e] & 0xff)) << (8 * e);
            w1 |= ((unsigned int)(q[e + 4] & 0xff)) << (8 * e);
        }
        *reinterpret_cast<uint2 *>(dst) = make_uint2(w0, w1);
    } else if constexpr (V == 4) {
        unsigned int w0 = 0;
#pragma unroll
        for (int e = 0; e < 4; e++)
            w0 |= ((unsigned int)(q[e] & 0xff)) << (8 * e);
        *reinterpret_cast<unsigned int *>(dst) = w0;
    } else {
#pragma unroll
        for (int e = 0; e < V; e++)
            dst[e] = (int8_t)q[e];
    }
}

// One block per row: stats (unless TENSOR: read from gstats), then codes and row sum.
template <typename T, int V, bool ZP, bool TENSOR>
__global__ void quantize_rows_kernel(const T *__restrict__ src, int64_t ld_src, int64_t cols,
                                     const uint8_t *__restrict__ flags, const unsigned int *gstats,
                                     int8_t *__restrict__ codes, int64_t ld, float *__restrict__ scales,
                                     int32_t *__restrict__ zeros, int32_t *__restrict__ row_sums)
{
    __shared__ float shf[32];
    __shared__ int shi[32];
    const int64_t r = blockIdx.x;
    const T *row = src + r * ld_src;
    float lo, hi;
    if (TENSOR) {
        hi = __uint_as_float(gstats[0]);
        lo = ZP ? -__uint_as_float(gstats[1]) : 0.0f;
    } else {
        row_stats<T, V, ZP>(row, cols, flags, &lo, &hi, shf);
    }
    float s;
    int z = 0;
    if (ZP)
        qk_zeropoint_params(lo, hi, &s, &z);
    else
        s = qk_absmax_scale(hi);

    int sum = 0;
    int8_t *out = codes + r * ld;
    for (int64_t j = (int64_t)threadIdx.x * V; j < cols; j += (int64_t)blockDim.x * V) {
        float v[V];
        int q[V];
        qk_load<T, V>(row + j, v);
#pragma unroll
        for (int e = 0; e < V; e++) {
            float a = (flags && flags[j + e]) ? 0.0f : v[e];
            q[e] = ZP ? qk_code_zeropoint(a, s, z) : qk_code_absmax(a, s);
            sum += q[e];
        }
        store_codes<V>(out + j, q);
    }
    if (row_sums)
        sum = qk_block_sum(sum, shi);
    if (threadIdx.x == 0) {
        const int64_t g = TENSOR ? 0 : r;
        if (!TENSOR || r == 0) {
            scales[g] = s;
            if (ZP)
                zeros[g] = z;
        }
        if (row_sums)
            row_sums[r] = sum;
    }
}

// ------------------------------------------------------------------------------
// Block granularity: one warp per group of `block` consecutive values of a row.

template <typename T, bool ZP>
__global__ void quantize_blocks_kernel(const T *__restrict__ src, int64_t ld_src, int64_t rows,
                                       int64_t cols, int64_t block, const uint8_t *__restrict__ flags,
                                       int8_t *__restrict__ codes, int64_t ld,
                                       float *__restrict__ scales, int32_t *__restrict__ zeros)
{
    const int lane = threadIdx.x & 31;
    const int64_t gpr = cols / block;
    const int64_t g = ((int64_t)blockIdx.x * blockDim.x + threadIdx.x) >> 5;
    if (g >= rows * gpr)
        return;   // whole warps leave together: g is uniform across a warp
    const int64_t r = g / gpr, j0 = (g % gpr) * block;
    const T *p = src + r * ld_src + j0;
    float lo = 0.0f, hi = 0.0f;
    for (int64_t i = lane; i < block; i += 32) {
        float a = (flags && flags[j0 + i]) ? 0.0f : qk_to_float(p[i]);
        if (ZP) {
            lo = fminf(lo, a);
            hi = fmaxf(hi, a);
        } else {
            hi = fmaxf(hi, fabsf(a));
        }
    }
    hi = qk_warp_max(hi);
    lo = qk_warp_min(lo);
    float s;
    int z = 0;
    if (ZP)
        qk_zeropoint_params(lo, hi, &s, &z);
    else
        s = qk_absmax_scale(hi);
    int8_t *out = codes + r * ld + j0;
    for (int64_t i = lane; i < block; i += 32) {
        float a = (flags && flags[j0 + i]) ? 0.0f : qk_to_float(p[i]);
        out[i] = (int8_t)(ZP ? qk_code_zeropoint(a, s, z) : qk_code_absmax(a, s));
    }
    if (lane == 0) {
        scales[g] = s;
        if (ZP)
            zeros[g] = z;
    }
}

// ------------------------------------------------------------------------------
// Launchers

// Vector width for 16-byte loads of T, or 1 when the rows are not 16-byte aligned or
// the row length is not a multiple of it (a vector never straddles a row end).
template <typename T>
static int vec_width(const void *p, int64_t ld, int64_t cols)
{
    const int v = 16 / (int)sizeof(T);
    if ((uintptr_t)p % 16 == 0 && (ld * (int64_t)sizeof(T)) % 16 == 0 && cols % v == 0)
        return v;
    return 1;
}

template <typename T, int V, bool ZP>
static qk_status launch_quantize(qk_ctx *c, const T *src, int64_t ld_src, const uint8_t *flags,
                                 qk_qmatrix *q, unsigned int *gstats)
{
    const dim3 grid((unsigned)q->rows), block(QK_ROW_THREADS);
    if (q->gran == QUANT_GRAN_TENSOR) {
        QK_CUDA_CHECK(c, cudaMemsetAsync(gstats, 0, 2 * sizeof(unsigned int), c->stream));
        tensor_stats_kernel<T, V, ZP><<<grid, block, 0, c->stream>>>(src, ld_src, q->cols, flags, gstats);
        QK_LAUNCH_CHECK(c);
        quantize_rows_kernel<T, V, ZP, true><<<grid, block, 0, c->stream>>>(
            src, ld_src, q->cols, flags, gstats, q->d_codes, q->ld, q->d_scales, q->d_zeros, q->d_row_sums);
        QK_LAUNCH_CHECK(c);
    } else {
        quantize_rows_kernel<T, V, ZP, false><<<grid, block, 0, c->stream>>>(
            src, ld_src, q->cols, flags, NULL, q->d_codes, q->ld, q->d_scales, q->d_zeros, q->d_row_sums);
        QK_LAUNCH_CHECK(c);
    }
    return QK_OK;
}

template <typename T, bool ZP>
static qk_status dispatch_quantize(qk_ctx *c, const T *src, int64_t ld_src, const uint8_t *flags,
                                   qk_qmatrix *q, unsigned int *gstats)
{
    if (q->gran == QUANT_GRAN_BLOCK) {
        const int64_t groups = q->rows * q->groups_per_row;
        const int threads = 256;
        const int64_t blocks = qk_ceil_div(groups * 32, threads);
        quantize_blocks_kernel<T, ZP><<<(unsigned)blocks, threads, 0, c->stream>>>(
            src, ld_src, q->rows, q->cols, q->block, flags, q->d_codes, q->ld, q->d_scales, q->d_zeros);
        QK_LAUNCH_CHECK(c);
        return QK_OK;
    }
    constexpr int VW = 16 / sizeof(T);
    if (vec_width<T>(src, ld_src, q->cols) == VW)
        return launch_quantize<T, VW, ZP>(c, src, ld_src, flags, q, gstats);
    return launch_quantize<T, 1, ZP>(c, src, ld_src, flags, q, gstats);
}

template <typename T>
static qk_status dispatch_scheme(qk_ctx *c, const T *src, int64_t ld_src, const uint8_t *flags,
                                 qk_qmatrix *q, unsigned int *gstats)
{
    if (q->scheme == QUANT_SCHEME_ZEROPOINT)
        return dispatch_quantize<T, true>(c, src, ld_src, flags, q, gstats);
    return dispatch_quantize<T, false>(c, src, ld_src, flags, q, gstats);
}

// Two words of device scratch for the tensor-wide stats, allocated once per context.
static qk_status tensor_scratch(qk_ctx *c, unsigned int **out);

extern "C" qk_status qk_quantize(qk_ctx *c, const void *d_src, qk_dtype dt, int64_t ld_src,
                                 const uint8_t *d_col_flags, qk_qmatrix *q)
{
    QK_ARG_CHECK(c, d_src && q && q->d_codes && ld_src >= (q ? q->cols : 0));
    QK_ARG_CHECK(c, q->scheme == QUANT_SCHEME_ABSMAX || q->scheme == QUANT_SCHEME_ZEROPOINT);
    if (q->rows > 0x7fffffff)
        return qk_fail(c, QK_ERR_ALIGN, __FILE__, __LINE__, "%lld rows: more than a grid holds",
                       (long long)q->rows);
    unsigned int *gstats = NULL;
    if (q->gran == QUANT_GRAN_TENSOR) {
        qk_status st = tensor_scratch(c, &gstats);
        if (st != QK_OK)
            return st;
    }
    switch (dt) {
    case QK_DTYPE_F32: return dispatch_scheme<float>(c, (const float *)d_src, ld_src, d_col_flags, q, gstats);
    case QK_DTYPE_F16: return dispatch_scheme<__half>(c, (const __half *)d_src, ld_src, d_col_flags, q, gstats);
    case QK_DTYPE_BF16:
        return dispatch_scheme<__nv_bfloat16>(c, (const __nv_bfloat16 *)d_src, ld_src, d_col_flags, q, gstats);
    default: return qk_fail(c, QK_ERR_ARG, __FILE__, __LINE__, "unknown dtype %d", (int)dt);
    }
}

static qk_status tensor_scratch(qk_ctx *c, unsigned int **out)
{
    if (!c->d_stats) {
        qk_status st = qk_malloc(c, (void **)&c->d_stats, 256);
        if (st != QK_OK)
            return st;
    }
    *out = c->d_stats;
    return QK_OK;
}

template <typename T, int V>
static qk_status launch_detect(qk_ctx *c, const T *x, int64_t m, int64_t k, int64_t ldx, float t,
                               uint8_t *flags)
{
    const int threads = 256;
    const int64_t gx = qk_ceil_div(qk_ceil_div(k, V), threads);
    // Enough row chunks to give every SM several blocks, but chunks of >= 16 rows so
    // each thread streams a while.
    int64_t gy = std::max<int64_t>(1, (int64_t)(4 * std::max(c->sm_count, 1)) / std::max<int64_t>(gx, 1));
    gy = std::min<int64_t>(gy, qk_ceil_div(m, 16));
    gy = std::max<int64_t>(std::min<int64_t>(gy, 65535), 1);
    const int64_t chunk = qk_ceil_div(m, gy);
    gy = qk_ceil_div(m, chunk);
    outlier_detect_kernel<T, V><<<dim3((unsigned)gx, (unsigned)gy), threads, 0, c->stream>>>(
        x, m, k, ldx, chunk, t, flags);
    QK_LAUNCH_CHECK(c);
    return QK_OK;
}

template <typename T>
static qk_status detect_typed(qk_ctx *c, const T *x, int64_t m, int64_t k, int64_t ldx, float t,
                              uint8_t *flags)
{
    constexpr int VW = 16 / sizeof(T);
    if (vec_width<T>(x, ldx, k) == VW)
        return launch_detect<T, VW>(c, x, m, k, ldx, t, flags);
    return launch_detect<T, 1>(c, x, m, k, ldx, t, flags);
}

extern "C" qk_status qk_outlier_cols(qk_ctx *c, const void *d_x, qk_dtype dt, int64_t m, int64_t k,
                                     int64_t ldx, float t, uint8_t *d_flags, int32_t *d_idx,
                                     int32_t *d_count)
{
    QK_ARG_CHECK(c, d_x && d_flags && d_idx && d_count && m > 0 && k > 0 && ldx >= k);
    QK_ARG_CHECK(c, k <= 0x7fffffff);
    QK_CUDA_CHECK(c, cudaMemsetAsync(d_flags, 0, (size_t)k, c->stream));
    if (t > 0.0f) {
        qk_status st;
        switch (dt) {
        case QK_DTYPE_F32: st = detect_typed<float>(c, (const float *)d_x, m, k, ldx, t, d_flags); break;
        case QK_DTYPE_F16: st = detect_typed<__half>(c, (const __half *)d_x, m, k, ldx, t, d_flags); break;
        case QK_DTYPE_BF16:
            st = detect_typed<__nv_bfloat16>(c, (const __nv_bfloat16 *)d_x, m, k, ldx, t, d_flags);
            break;
        default: return qk_fail(c, QK_ERR_ARG, __FILE__, __LINE__, "unknown dtype %d", (int)dt);
        }
        if (st != QK_OK)
            return st;
    }
    outlier_compact_kernel<<<1, QK_COMPACT_THREADS, 0, c->stream>>>(d_flags, k, d_idx, d_count);
    QK_LAUNCH_CHECK(c);
    return QK_OK;
}

extern "C" qk_status qk_quantize_x(qk_ctx *c, const void *d_x, qk_dtype dt, int64_t ldx, float t,
                                   uint8_t *d_flags, int32_t *d_idx, int32_t *d_count, qk_qmatrix *qx)
{
    QK_ARG_CHECK(c, qx && d_x);
    if (t > 0.0f) {
        qk_status st = qk_outlier_cols(c, d_x, dt, qx->rows, qx->cols, ldx, t, d_flags, d_idx, d_count);
        if (st != QK_OK)
            return st;
        return qk_quantize(c, d_x, dt, ldx, d_flags, qx);
    }
    if (d_count)
        QK_CUDA_CHECK(c, cudaMemsetAsync(d_count, 0, sizeof(int32_t), c->stream));
    if (d_flags)
        QK_CUDA_CHECK(c, cudaMemsetAsync(d_flags, 0, (size_t)qx->cols, c->stream));
    return qk_quantize(c, d_x, dt, ldx, NULL, qx);
}

// ------------------------------------------------------------------------------
// Dequantize, convert, gather

__device__ __forceinline__ float dequant_one(const int8_t *codes, int64_t ld, const float *scales,
                                             const int32_t *zeros, int gran, int64_t gpr,
                                             int64_t block, int64_t r, int64_t j)
{
    const int64_t g = gran == QUANT_GRAN_TENSOR ? 0 : gran == QUANT_GRAN_BLOCK ? r * gpr + j / block : r;
    const int z = zeros ? zeros[g] : 0;
    // (q - z) / s in float, as quant_dequantize: a division, not a multiply by 1/s.
    return __fdiv_rn((float)((int)codes[r * ld + j] - z), scales[g]);
}

__global__ void dequantize_kernel(const int8_t *__restrict__ codes, int64_t ld, const float *scales,
                                  const int32_t *zeros, int gran, int64_t gpr, int64_t block,
                                  int64_t rows, int64_t cols, float *__restrict__ out, int64_t ld_out)
{
    const int64_t n = rows * cols;
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n;
         i += (int64_t)gridDim.x * blockDim.x) {
        const int64_t r = i / cols, j = i % cols;
        out[r * ld_out + j] = dequant_one(codes, ld, scales, zeros, gran, gpr, block, r, j);
    }
}

static unsigned grid_for(int64_t n, int threads)
{
    return (unsigned)std::max<int64_t>(1, std::min<int64_t>(qk_ceil_div(n, threads), 65535));
}

extern "C" qk_status qk_dequantize(qk_ctx *c, const qk_qmatrix *q, float *d_out, int64_t ld_out)
{
    QK_ARG_CHECK(c, q && q->d_codes && d_out && ld_out >= q->cols);
    dequantize_kernel<<<grid_for(q->rows * q->cols, 256), 256, 0, c->stream>>>(
        q->d_codes, q->ld, q->d_scales, q->d_zeros, (int)q->gran, q->groups_per_row, q->block, q->rows,
        q->cols, d_out, ld_out);
    QK_LAUNCH_CHECK(c);
    return QK_OK;
}

template <typename D>
__global__ void convert_kernel(const float *__restrict__ src, int64_t rows, int cols, int64_t ld_src,
                               D *__restrict__ dst, int ld_dst)
{
    for (int64_t r = qk_row0(); r < rows; r += qk_row_step())
        for (int j = qk_col0(); j < ld_dst; j += qk_col_step())
            dst[r * ld_dst + j] = qk_from_float<D>(j < cols ? src[r * ld_src + j] : 0.0f);
}

extern "C" qk_status qk_convert(qk_ctx *c, const float *d_src, int64_t rows, int64_t cols, int64_t ld_src,
                                void *d_dst, qk_dtype dt, int64_t ld_dst)
{
    QK_ARG_CHECK(c, d_src && d_dst && rows > 0 && cols > 0 && ld_src >= cols && ld_dst >= cols);
    if (ld_dst > QK_COLS_MAX)
        return qk_fail(c, QK_ERR_UNSUPPORTED, __FILE__, __LINE__,
                       "convert: rows of %lld elements are beyond the kernels' 32-bit column index", (long long)ld_dst);
    const qk_rows_launch g = qk_rows_grid(rows, ld_dst);
    const int cl = (int)cols, ld = (int)ld_dst;
    switch (dt) {
    case QK_DTYPE_F32:
        convert_kernel<float><<<g.grid, g.block, 0, c->stream>>>(d_src, rows, cl, ld_src, (float *)d_dst, ld);
        break;
    case QK_DTYPE_F16:
        convert_kernel<__half><<<g.grid, g.block, 0, c->stream>>>(d_src, rows, cl, ld_src, (__half *)d_dst, ld);
        break;
    case QK_DTYPE_BF16:
        convert_kernel<__nv_bfloat16>
            <<<g.grid, g.block, 0, c->stream>>>(d_src, rows, cl, ld_src, (__nv_bfloat16 *)d_dst, ld);
        break;
    default: return qk_fail(c, QK_ERR_ARG, __FILE__, __LINE__, "unknown dtype %d", (int)dt);
    }
    QK_LAUNCH_CHECK(c);
    return QK_OK;
}

template <typename T>
__global__ void gather_kernel(const T *__restrict__ src, int64_t rows, int64_t ld_src,
                              const int32_t *__restrict__ idx, int n_idx, __half *__restrict__ dst, int ld_dst)
{
    for (int64_t r = qk_row0(); r < rows; r += qk_row_step())
        for (int j = qk_col0(); j < ld_dst; j += qk_col_step())
            // fp16 -> float -> fp16 is exact, so one rule serves every input type.
            dst[r * ld_dst + j] = __float2half_rn(j < n_idx ? qk_to_float(src[r * ld_src + idx[j]]) : 0.0f);
}

extern "C" qk_status qk_gather_cols_f16(qk_ctx *c, const void *d_src, qk_dtype dt, int64_t rows,
                                        int64_t ld_src, const int32_t *d_idx, int64_t n_idx, void *d_dst,
                                        int64_t ld_dst)
{
    QK_ARG_CHECK(c, d_src && d_idx && d_dst && rows > 0 && n_idx >= 0 && ld_dst >= n_idx && ld_dst > 0);
    if (ld_dst > QK_COLS_MAX)
        return qk_fail(c, QK_ERR_UNSUPPORTED, __FILE__, __LINE__,
                       "gather: %lld columns are beyond the kernels' 32-bit column index", (long long)ld_dst);
    const qk_rows_launch g = qk_rows_grid(rows, ld_dst);
    const int ni = (int)n_idx, ld = (int)ld_dst;
    switch (dt) {
    case QK_DTYPE_F32:
        gather_kernel<float><<<g.grid, g.block, 0, c->stream>>>((const float *)d_src, rows, ld_src, d_idx, ni,
                                                                (__half *)d_dst, ld);
        break;
    case QK_DTYPE_F16:
        gather_kernel<__half><<<g.grid, g.block, 0, c->stream>>>((const __half *)d_src, rows, ld_src, d_idx, ni,
                                                                 (__half *)d_dst, ld);
        break;
    case QK_DTYPE_BF16:
        gather_kernel<__nv_bfloat16><<<g.grid, g.block, 0, c->stream>>>((const __nv_bfloat16 *)d_src, rows, ld_src,
                                                                        d_idx, ni, (__half *)d_dst, ld);
        break;
    default: return qk_fail(c, QK_ERR_ARG, __FILE__, __LINE__, "unknown dtype %d", (int)dt);
    }
    QK_LAUNCH_CHECK(c);
    return QK_OK;
}

__global__ void gather_dequant_kernel(const int8_t *__restrict__ codes, int64_t ld, const float *scales,
                                      const int32_t *zeros, int gran, int64_t gpr, int64_t block,
                                      int64_t rows, const int32_t *__restrict__ idx, int n_idx,
                                      __half *__restrict__ dst, int ld_dst)
{
    for (int64_t r = qk_row0(); r < rows; r += qk_row_step())
        for (int j = qk_col0(); j < ld_dst; j += qk_col_step()) {
            const float v = j < n_idx ? dequant_one(codes, ld, scales, zeros, gran, gpr, block, r, idx[j]) : 0.0f;
            dst[r * ld_dst + j] = __float2half_rn(v);
        }
}

extern "C" qk_status qk_gather_cols_dequant_f16(qk_ctx *c, const qk_qmatrix *q, const int32_t *d_idx,
                                                int64_t n_idx, void *d_dst, int64_t ld_dst)
{
    QK_ARG_CHECK(c, q && q->d_codes && d_idx && d_dst && n_idx >= 0 && ld_dst >= n_idx && ld_dst > 0);
    if (ld_dst > QK_COLS_MAX)
        return qk_fail(c, QK_ERR_UNSUPPORTED, __FILE__, __LINE__,
                       "gather: %lld columns are beyond the kernels' 32-bit column index", (long long)ld_dst);
    const qk_rows_launch g = qk_rows_grid(q->rows, ld_dst);
    gather_dequant_kernel<<<g.grid, g.block, 0, c->stream>>>(q->d_codes, q->ld, q->d_scales, q->d_zeros, (int)q->gran,
                                                             q->groups_per_row, q->block, q->rows, d_idx, (int)n_idx,
                                                             (__half *)d_dst, (int)ld_dst);
    QK_LAUNCH_CHECK(c);
    return QK_OK;
}

// common.cuh: what the kernels/*.cu files share: the context struct, the error
// macros (one per failure kind), vector loads and warp / block reductions.
//
// Internal to kernels/: the public API is qlab_cuda.h. Every .cu file is compiled on
// its own (no relocatable device code), so device helpers live here as inline
// functions.
#pragma once

#include <cuda_runtime.h>
#include <cuda_fp16.h>
#include <cuda_bf16.h>
#include <cublasLt.h>
#include <stdint.h>

#include "qlab_cuda.h"

// ------------------------------------------------------------------------------
// Context

#define QK_ERR_LEN 512
#define QK_PLAN_CACHE 48

struct qk_alloc_rec {
    void *ptr;
    size_t bytes;
};

struct qk_plan;   // gemm.cu

struct qk_ctx {
    int device;
    int sm_count;
    cudaStream_t stream;
    cublasLtHandle_t lt;
    void *d_workspace;
    size_t workspace_bytes;
    int64_t l2_bytes;
    void *d_flush;          // L2 flush buffer, 2x L2, allocated on first use
    size_t flush_bytes;
    // tracking allocator: live allocations, current and peak bytes
    qk_alloc_rec *allocs;
    int64_t n_allocs, cap_allocs;
    int64_t mem_current, mem_peak;
    // cuBLASLt plans, so that timed calls never pay descriptor setup or heuristics
    qk_plan *plans[QK_PLAN_CACHE];
    int n_plans;
    unsigned int *d_stats;  // two words: tensor-wide max for tensor granularity
    int32_t *h_pinned;      // pinned host word for the outlier count read-back
    char err[QK_ERR_LEN];
};

// Records "file:line: message" in c->err (if c) and returns st. Never exits.
qk_status qk_fail(qk_ctx *c, qk_status st, const char *file, int line, const char *fmt, ...);

// One check per failure kind. Each reports file and line and returns from the
// calling function with the error code.
#define QK_CUDA_CHECK(c, call)                                                        \
    do {                                                                              \
        cudaError_t e_ = (call);                                                      \
        if (e_ != cudaSuccess)                                                        \
            return qk_fail((c), QK_ERR_CUDA, __FILE__, __LINE__, "%s: %s (%s)", #call,  \
                           cudaGetErrorString(e_), cudaGetErrorName(e_));             \
    } while (0)

#define QK_CUBLAS_CHECK(c, call)                                                      \
    do {                                                                              \
        cublasStatus_t s_ = (call);                                                   \
        if (s_ != CUBLAS_STATUS_SUCCESS)                                              \
            return qk_fail((c), QK_ERR_CUBLAS, __FILE__, __LINE__, "%s: %s", #call,     \
                           cublasLtGetStatusString(s_));                              \
    } while (0)

// After every kernel launch: a bad configuration shows up here, not three calls later.
#define QK_LAUNCH_CHECK(c) QK_CUDA_CHECK((c), cudaGetLastError())

#define QK_ARG_CHECK(c, cond)                                                         \
    do {                                                                              \
        if (!(cond))                                                                  \
            return qk_fail((c), QK_ERR_ARG, __FILE__, __LINE__, "invalid argument: %s", \
                           #cond);                                                    \
    } while (0)

static inline int64_t qk_round_up(int64_t v, int64_t a) { return (v + a - 1) / a * a; }
static inline int64_t qk_ceil_div(int64_t v, int64_t a) { return (v + a - 1) / a; }

// ------------------------------------------------------------------------------
// Row x column launches: element-wise kernels over a [rows, cols] matrix take rows
// from the grid's y dimension and columns from x, both grid-stride, so no kernel
// divides a flat element index by a row length (a 64-bit division is a subroutine
// of some 70 instructions on the GPU). Columns are 32-bit: a launch first checks on
// the host that cols <= QK_COLS_MAX, so a column plus one grid stride (at most
// 1024 x 256) never overflows an int.

#define QK_COLS_MAX ((int64_t)1 << 30)

struct qk_rows_launch {
    dim3 grid, block;
};

// 256 threads per block: 32..256 of them along the columns (the row length rounded
// up to a warp, so short rows do not idle whole warps), the rest along the rows.
static inline qk_rows_launch qk_rows_grid(int64_t rows, int64_t cols)
{
    int bx = 32;
    while (bx < 256 && bx < cols)
        bx *= 2;
    const int by = 256 / bx;
    int64_t gx = qk_ceil_div(cols > 0 ? cols : 1, bx), gy = qk_ceil_div(rows > 0 ? rows : 1, by);
    gx = gx > 1024 ? 1024 : gx;
    gy = gy > 65535 ? 65535 : gy;
    qk_rows_launch l;
    l.block = dim3((unsigned)bx, (unsigned)by, 1);
    l.grid = dim3((unsigned)gx, (unsigned)gy, 1);
    return l;
}

// First row / column of this thread and the grid strides, for loops of the form
//   for (int64_t r = qk_row0(); r < rows; r += qk_row_step())
//       for (int j = qk_col0(); j < cols; j += qk_col_step())
__device__ __forceinline__ int64_t qk_row0() { return (int64_t)blockIdx.y * blockDim.y + threadIdx.y; }
__device__ __forceinline__ int64_t qk_row_step() { return (int64_t)gridDim.y * blockDim.y; }
__device__ __forceinline__ int qk_col0() { return (int)(blockIdx.x * blockDim.x + threadIdx.x); }
__device__ __forceinline__ int qk_col_step() { return (int)(gridDim.x * blockDim.x); }

// ------------------------------------------------------------------------------
// Element loads: T -> float, exact (fp16 and bf16 widen without rounding)

__device__ __forceinline__ float qk_to_float(float v) { return v; }
__device__ __forceinline__ float qk_to_float(__half v) { return __half2float(v); }
__device__ __forceinline__ float qk_to_float(__nv_bfloat16 v) { return __bfloat162float(v); }

// float -> T, rounded to nearest even (identity for float).
template <typename D>
__device__ __forceinline__ D qk_from_float(float v);
template <>
__device__ __forceinline__ float qk_from_float<float>(float v) { return v; }
template <>
__device__ __forceinline__ __half qk_from_float<__half>(float v) { return __float2half_rn(v); }
template <>
__device__ __forceinline__ __nv_bfloat16 qk_from_float<__nv_bfloat16>(float v) { return __float2bfloat16_rn(v); }

// V consecutive elements starting at p. V * sizeof(T) == 16 is one 16-byte load (the
// caller guarantees 16-byte alignment); V == 1 is a scalar load.
template <typename T, int V>
__device__ __forceinline__ void qk_load(const T *p, float (&out)[V])
{
    if constexpr (V * sizeof(T) == 16) {
        union {
            uint4 u;
            T e[V];
        } b;
        b.u = __ldg(reinterpret_cast<const uint4 *>(p));
#pragma unroll
        for (int i = 0; i < V; i++)
            out[i] = qk_to_float(b.e[i]);
    } else {
#pragma unroll
        for (int i = 0; i < V; i++)
            out[i] = qk_to_float(p[i]);
    }
}

// ------------------------------------------------------------------------------
// Reductions. max/min are exact, so the order of a reduction cannot change a scale:
// the GPU's tree gives the CPU's sequential result bit for bit.

__device__ __forceinline__ float qk_warp_max(float v)
{
#pragma unroll
    for (int o = 16; o > 0; o >>= 1)
        v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
    return v;
}

__device__ __forceinline__ float qk_warp_min(float v)
{
#pragma unroll
    for (int o = 16; o > 0; o >>= 1)
        v = fminf(v, __shfl_xor_sync(0xffffffffu, v, o));
    return v;
}

__device__ __forceinline__ int qk_warp_sum(int v)
{
#pragma unroll
    for (int o = 16; o > 0; o >>= 1)
        v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

// Block-wide reductions (blockDim.x a multiple of 32, <= 1024). Every thread gets the
// result. `sh` is shared scratch of 32 elements; the leading barrier lets callers
// reuse it back to back.
__device__ __forceinline__ float qk_block_max(float v, float *sh)
{
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nw = blockDim.x >> 5;
    v = qk_warp_max(v);
    __syncthreads();
    if (lane == 0)
        sh[warp] = v;
    __syncthreads();
    v = lane < nw ? sh[lane] : sh[0];
    return qk_warp_max(v);
}

__device__ __forceinline__ float qk_block_min(float v, float *sh)
{
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nw = blockDim.x >> 5;
    v = qk_warp_min(v);
    __syncthreads();
    if (lane == 0)
        sh[warp] = v;
    __syncthreads();
    v = lane < nw ? sh[lane] : sh[0];
    return qk_warp_min(v);
}

__device__ __forceinline__ int qk_block_sum(int v, int *sh)
{
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nw = blockDim.x >> 5;
    v = qk_warp_sum(v);
    __syncthreads();
    if (lane == 0)
        sh[warp] = v;
    __syncthreads();
    v = lane < nw ? sh[lane] : 0;
    return qk_warp_sum(v);
}

// ------------------------------------------------------------------------------
// The quantization rule of quant/int8.c, with every rounding explicit so that no
// compiler setting can fuse or reorder it (DESIGN section 3).

// Scale of an absmax group from max|v| (>= 0).
__device__ __forceinline__ float qk_absmax_scale(float amax)
{
    return amax > 0.0f ? __fdiv_rn(127.0f, amax) : 1.0f;
}

// Scale and zero point of a zeropoint group from lo = min(min v, 0) and
// hi = max(max v, 0).
__device__ __forceinline__ void qk_zeropoint_params(float lo, float hi, float *s, int *z)
{
    if (hi == lo) {
        *s = 1.0f;
        *z = -128;
        return;
    }
    const float sc = __fdiv_rn(255.0f, __fsub_rn(hi, lo));
    float zr = __fsub_rn(rintf(__fmul_rn(-sc, lo)), 128.0f);
    zr = fminf(fmaxf(zr, -128.0f), 127.0f);
    *s = sc;
    *z = (int)zr;
}

__device__ __forceinline__ int qk_code_absmax(float v, float s)
{
    int q = __float2int_rn(__fmul_rn(v, s));
    return min(max(q, -127), 127);
}

__device__ __forceinline__ int qk_code_zeropoint(float v, float s, int z)
{
    int q = __float2int_rn(__fadd_rn(__fmul_rn(v, s), (float)z));
    return min(max(q, -128), 127);
}

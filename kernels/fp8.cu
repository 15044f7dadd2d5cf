// fp8.cu: fp8 (e4m3, e5m2) scaled quantization, widening to fp16, the fp8 GEMM's
// epilogue and the gather of dequantized fp8 weight columns.
//
// Semantics are quant/fp8.c's (quant_fp8_quantize): one float32 scale per group
// (the whole tensor, or one row), s = max_finite / max|v| (1 when the group is all
// zero), codes = fp8(v * s) rounded to nearest even with saturation to the largest
// finite value. The float32 product v * s is one rounded multiply (__fmul_rn, and the
// build uses --fmad=false), and __nv_cvt_float_to_fp8(.., __NV_SATFINITE, ..) is the
// same round-to-nearest-even saturating conversion, so codes and scales equal
// quant/'s bit for bit. Columns flagged in d_col_flags (the LLM.int8() outlier
// columns of X) are read as 0, as quant/ zeroes them before quantizing.
//
// The GEMM itself is qk_gemm_fp8 (gemm.cu, cuBLASLt, e4m3 x e4m3, float32 out) or,
// where the device or cuBLASLt has no fp8 GEMM (compute capability < 8.9, or e5m2 x
// e5m2, which cuBLASLt does not offer), the fp16 GEMM of the codes widened to fp16:
// every e4m3 and e5m2 value is exactly an fp16 value, and the products of two fp8
// values are exact in float32, so that path computes the same sum of the same
// products (only the summation order differs, as in any GEMM).
#include <stdio.h>

#include <cuda_fp8.h>

#include "common.cuh"

static unsigned grid_for(int64_t work, int threads)
{
    int64_t g = qk_ceil_div(work, threads);
    return (unsigned)(g < 1 ? 1 : g > 65535 ? 65535 : g);
}

static bool fp8_format(quant_scheme s, __nv_fp8_interpretation_t *fmt, float *max_finite)
{
    if (s == QUANT_SCHEME_FP8_E4M3) {
        *fmt = __NV_E4M3;
        *max_finite = 448.0f;
        return true;
    }
    if (s == QUANT_SCHEME_FP8_E5M2) {
        *fmt = __NV_E5M2;
        *max_finite = 57344.0f;
        return true;
    }
    return false;
}

// The fp16 value of an fp8 code: exact for both formats (the one decoding rule: the quantize
// pass's optional fp16 output, qk_fp8_widen_f16 and the dequantizing gather).
__device__ __forceinline__ __half fp8_to_half(uint8_t q, __nv_fp8_interpretation_t fmt)
{
    return __half(__nv_cvt_fp8_to_halfraw((__nv_fp8_storage_t)q, fmt));
}

// ------------------------------------------------------------------------------
// Quantization

// rowmax[r] = max |src[r, j]| over unflagged j (one block per row).
template <typename T>
__global__ void fp8_rowmax_kernel(const T *__restrict__ src, int64_t ld, int64_t cols,
                                  const uint8_t *__restrict__ flags, float *__restrict__ rowmax)
{
    __shared__ float sh[32];
    const int64_t r = blockIdx.x;
    const T *row = src + r * ld;
    float mx = 0.0f;
    for (int64_t j = threadIdx.x; j < cols; j += blockDim.x)
        if (!flags || !flags[j])
            mx = fmaxf(mx, fabsf(qk_to_float(row[j])));
    mx = qk_block_max(mx, sh);
    if (threadIdx.x == 0)
        rowmax[r] = mx;
}

// scales[g] = max_finite / amax_g (1 when amax_g == 0). Tensor granularity (n_groups
// == 1) first reduces the row maxima; max is exact, so any order gives quant/'s value.
__global__ void fp8_scales_kernel(const float *__restrict__ rowmax, int64_t rows, int tensor, float max_finite,
                                  float *__restrict__ scales)
{
    __shared__ float sh[32];
    if (tensor) {
        float mx = 0.0f;
        for (int64_t r = threadIdx.x; r < rows; r += blockDim.x)
            mx = fmaxf(mx, rowmax[r]);
        mx = qk_block_max(mx, sh);
        if (threadIdx.x == 0)
            scales[0] = mx > 0.0f ? __fdiv_rn(max_finite, mx) : 1.0f;
        return;
    }
    for (int64_t r = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; r < rows; r += (int64_t)gridDim.x * blockDim.x)
        scales[r] = rowmax[r] > 0.0f ? __fdiv_rn(max_finite, rowmax[r]) : 1.0f;
}

// codes[r, j] = fp8(src[r, j] * s) for j < cols, 0 for cols <= j < ld_codes; with
// wide16, also each code's fp16 value at the same place (the widened GEMM's operand,
// written here so that path needs no second pass over the codes). Rows and columns
// from the grid (qk_rows_grid): no per-element division.
template <typename T>
__global__ void fp8_codes_kernel(const T *__restrict__ src, int64_t ld_src, int64_t rows, int cols,
                                 const uint8_t *__restrict__ flags, const float *__restrict__ scales, int tensor,
                                 __nv_fp8_interpretation_t fmt, uint8_t *__restrict__ codes, int ld_codes,
                                 __half *__restrict__ wide16)
{
    for (int64_t r = qk_row0(); r < rows; r += qk_row_step()) {
        const float s = scales[tensor ? 0 : r];
        const T *row = src + r * ld_src;
        const int64_t e0 = r * ld_codes;
        for (int j = qk_col0(); j < ld_codes; j += qk_col_step()) {
            uint8_t q = 0;
            if (j < cols && !(flags && flags[j]))
                q = (uint8_t)__nv_cvt_float_to_fp8(__fmul_rn(qk_to_float(row[j]), s), __NV_SATFINITE, fmt);
            codes[e0 + j] = q;
            if (wide16)
                wide16[e0 + j] = fp8_to_half(q, fmt);
        }
    }
}

template <typename T>
static qk_status quantize_typed(qk_ctx *c, const T *src, int64_t ld_src, int64_t rows, int64_t cols,
                                const uint8_t *flags, float *scratch, __nv_fp8_interpretation_t fmt, float max_finite,
                                int tensor, uint8_t *codes, int64_t ld_codes, float *scales, __half *wide16)
{
    fp8_rowmax_kernel<T><<<(unsigned)rows, 256, 0, c->stream>>>(src, ld_src, cols, flags, scratch);
    QK_LAUNCH_CHECK(c);
    if (tensor)
        fp8_scales_kernel<<<1, 1024, 0, c->stream>>>(scratch, rows, 1, max_finite, scales);
    else
        fp8_scales_kernel<<<grid_for(rows, 256), 256, 0, c->stream>>>(scratch, rows, 0, max_finite, scales);
    QK_LAUNCH_CHECK(c);
    const qk_rows_launch g = qk_rows_grid(rows, ld_codes);
    fp8_codes_kernel<T><<<g.grid, g.block, 0, c->stream>>>(src, ld_src, rows, (int)cols, flags, scales, tensor, fmt,
                                                           codes, (int)ld_codes, wide16);
    QK_LAUNCH_CHECK(c);
    return QK_OK;
}

extern "C" qk_status qk_fp8_quantize(qk_ctx *c, quant_scheme scheme, quant_gran gran, const void *d_src, qk_dtype dt,
                                     int64_t ld_src, int64_t rows, int64_t cols, const uint8_t *d_col_flags,
                                     float *d_scratch, uint8_t *d_codes, int64_t ld_codes, float *d_scales,
                                     void *d_wide16)
{
    QK_ARG_CHECK(c, d_src && d_scratch && d_codes && d_scales && rows > 0 && cols > 0 && ld_src >= cols &&
                        ld_codes >= cols);
    __nv_fp8_interpretation_t fmt;
    float max_finite;
    if (!fp8_format(scheme, &fmt, &max_finite))
        return qk_fail(c, QK_ERR_ARG, __FILE__, __LINE__, "scheme %d is not an fp8 scheme", (int)scheme);
    if (rows > 2147483647 || ld_codes > QK_COLS_MAX)
        return qk_fail(c, QK_ERR_UNSUPPORTED, __FILE__, __LINE__,
                       "fp8 quantize: %lld rows or a row of %lld codes is beyond the kernels' 32-bit indices",
                       (long long)rows, (long long)ld_codes);
    int tensor;
    if (gran == QUANT_GRAN_TENSOR)
        tensor = 1;
    else if (gran == QUANT_GRAN_ROW || gran == QUANT_GRAN_CHANNEL)   // one scale per stored row
        tensor = 0;
    else
        return qk_fail(c, QK_ERR_UNSUPPORTED, __FILE__, __LINE__,
                       "fp8 has tensor and row/channel scales only (quant/ defines no fp8 block scales)");
    switch (dt) {
    case QK_DTYPE_F32:
        return quantize_typed<float>(c, (const float *)d_src, ld_src, rows, cols, d_col_flags, d_scratch, fmt,
                                     max_finite, tensor, d_codes, ld_codes, d_scales, (__half *)d_wide16);
    case QK_DTYPE_F16:
        return quantize_typed<__half>(c, (const __half *)d_src, ld_src, rows, cols, d_col_flags, d_scratch, fmt,
                                      max_finite, tensor, d_codes, ld_codes, d_scales, (__half *)d_wide16);
    case QK_DTYPE_BF16:
        return quantize_typed<__nv_bfloat16>(c, (const __nv_bfloat16 *)d_src, ld_src, rows, cols, d_col_flags,
                                             d_scratch, fmt, max_finite, tensor, d_codes, ld_codes, d_scales, (__half *)d_wide16);
    default: return qk_fail(c, QK_ERR_ARG, __FILE__, __LINE__, "unknown dtype %d", (int)dt);
    }
}

// ------------------------------------------------------------------------------
// Widening to fp16 (exact)

__global__ void fp8_widen_kernel(const uint8_t *__restrict__ codes, int64_t total, __nv_fp8_interpretation_t fmt,
                                 __half *__restrict__ out)
{
    for (int64_t e = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; e < total; e += (int64_t)gridDim.x * blockDim.x)
        out[e] = fp8_to_half(codes[e], fmt);
}

extern "C" qk_status qk_fp8_widen_f16(qk_ctx *c, quant_scheme scheme, const uint8_t *d_codes, int64_t count,
                                      void *d_out16)
{
    QK_ARG_CHECK(c, d_codes && d_out16 && count > 0);
    __nv_fp8_interpretation_t fmt;
    float max_finite;
    if (!fp8_format(scheme, &fmt, &max_finite))
        return qk_fail(c, QK_ERR_ARG, __FILE__, __LINE__, "scheme %d is not an fp8 scheme", (int)scheme);
    fp8_widen_kernel<<<grid_for(count, 256), 256, 0, c->stream>>>(d_codes, count, fmt, (__half *)d_out16);
    QK_LAUNCH_CHECK(c);
    return QK_OK;
}

// ------------------------------------------------------------------------------
// Epilogue: y = (float)((double)acc / ((double)sx_i * (double)sw_j)) + yo + b

template <typename D>
__global__ void fp8_epilogue_kernel(const float *__restrict__ acc, int64_t ldacc, int64_t m, int n,
                                    const float *__restrict__ sx, int x_rows, const float *__restrict__ sw, int w_rows,
                                    const float *__restrict__ yo, int64_t ldyo, const float *__restrict__ bias,
                                    D *__restrict__ y, int64_t ldy)
{
    for (int64_t i = qk_row0(); i < m; i += qk_row_step()) {
        const double sxi = (double)sx[x_rows ? i : 0];
        for (int j = qk_col0(); j < n; j += qk_col_step()) {
            const double s = __dmul_rn(sxi, (double)sw[w_rows ? j : 0]);
            float v = (float)__ddiv_rn((double)acc[i * ldacc + j], s);
            if (yo)
                v = __fadd_rn(v, yo[i * ldyo + j]);
            if (bias)
                v = __fadd_rn(v, bias[j]);
            y[i * ldy + j] = qk_from_float<D>(v);
        }
    }
}

extern "C" qk_status qk_fp8_epilogue(qk_ctx *c, const float *d_acc, int64_t ldacc, int64_t m, int64_t n,
                                     const float *d_sx, int x_per_row, const float *d_sw, int w_per_row,
                                     const float *d_yo, int64_t ldyo, const float *d_bias, void *d_y, qk_dtype ydt,
                                     int64_t ldy)
{
    QK_ARG_CHECK(c, d_acc && d_sx && d_sw && d_y && m > 0 && n > 0 && ldacc >= n && ldy >= n && (!d_yo || ldyo >= n));
    if (n > QK_COLS_MAX)
        return qk_fail(c, QK_ERR_UNSUPPORTED, __FILE__, __LINE__,
                       "fp8 epilogue: n = %lld is beyond the kernels' 32-bit column index", (long long)n);
    const qk_rows_launch g = qk_rows_grid(m, n);
    if (ydt == QK_DTYPE_F32)
        fp8_epilogue_kernel<float><<<g.grid, g.block, 0, c->stream>>>(d_acc, ldacc, m, (int)n, d_sx, x_per_row, d_sw,
                                                                      w_per_row, d_yo, ldyo, d_bias, (float *)d_y, ldy);
    else if (ydt == QK_DTYPE_F16)
        fp8_epilogue_kernel<__half><<<g.grid, g.block, 0, c->stream>>>(d_acc, ldacc, m, (int)n, d_sx, x_per_row, d_sw,
                                                                       w_per_row, d_yo, ldyo, d_bias, (__half *)d_y,
                                                                       ldy);
    else
        return qk_fail(c, QK_ERR_UNSUPPORTED, __FILE__, __LINE__, "fp8 epilogue writes fp32 or fp16, not %s",
                       qk_dtype_name(ydt));
    QK_LAUNCH_CHECK(c);
    return QK_OK;
}

// ------------------------------------------------------------------------------
// Gather of dequantized fp8 weight columns (outlier_weights: dequant)

__global__ void fp8_gather_dequant_kernel(const uint8_t *__restrict__ codes, int64_t ld_codes, int64_t rows,
                                          const float *__restrict__ scales, int per_row,
                                          __nv_fp8_interpretation_t fmt, const int32_t *__restrict__ idx,
                                          int n_idx, int ld_dst, __half *__restrict__ dst)
{
    for (int64_t r = qk_row0(); r < rows; r += qk_row_step()) {
        const float s = scales[per_row ? r : 0];
        const uint8_t *row = codes + r * ld_codes;
        for (int o = qk_col0(); o < ld_dst; o += qk_col_step()) {
            float v = 0.0f;
            if (o < n_idx)
                v = __fdiv_rn(__half2float(fp8_to_half(row[idx[o]], fmt)), s);
            dst[r * ld_dst + o] = __float2half_rn(v);
        }
    }
}

extern "C" qk_status qk_fp8_gather_dequant_f16(qk_ctx *c, quant_scheme scheme, const uint8_t *d_codes,
                                               int64_t ld_codes, int64_t rows, const float *d_scales, int per_row,
                                               const int32_t *d_idx, int64_t n_idx, void *d_dst, int64_t ld_dst)
{
    QK_ARG_CHECK(c, d_codes && d_scales && d_idx && d_dst && rows > 0 && n_idx >= 0 && ld_dst >= n_idx && ld_dst > 0);
    __nv_fp8_interpretation_t fmt;
    float max_finite;
    if (!fp8_format(scheme, &fmt, &max_finite))
        return qk_fail(c, QK_ERR_ARG, __FILE__, __LINE__, "scheme %d is not an fp8 scheme", (int)scheme);
    if (ld_dst > QK_COLS_MAX)
        return qk_fail(c, QK_ERR_UNSUPPORTED, __FILE__, __LINE__,
                       "fp8 gather: %lld columns are beyond the kernels' 32-bit column index", (long long)ld_dst);
    const qk_rows_launch g = qk_rows_grid(rows, ld_dst);
    fp8_gather_dequant_kernel<<<g.grid, g.block, 0, c->stream>>>(d_codes, ld_codes, rows, d_scales, per_row, fmt, d_idx,
                                                                 (int)n_idx, (int)ld_dst, (__half *)d_dst);
    QK_LAUNCH_CHECK(c);
    return QK_OK;
}

/* qlab_cuda.h: the C API of qlab's CUDA kernels (build/libqlabkernels.a).
 *
 * What the cuda backend (harness/backend_cuda.c) and the GPU tests call: a context
 * (stream, cuBLASLt handle, workspace, tracking allocator, plan cache), device
 * queries, the L2 flush and copy-bandwidth helpers used by the timing loop, int8
 * quantization kernels for X and W, cuBLASLt GEMMs (int8 -> int32, fp16/bf16/fp32),
 * the dequantize-and-merge epilogue and the whole LLM.int8() forward as one call.
 *
 * Semantics are those of quant/quant.h (DESIGN section 3); the kernels produce the
 * same int8 codes, scales, zero points, outlier flags and int32 products bit for bit.
 * Conventions:
 *   - Every pointer named d_* or documented "device" is device memory; everything else
 *     is host memory. Matrices are row-major with an explicit leading dimension (ld,
 *     in elements).
 *   - Functions return qk_status; on error the context holds a message naming file,
 *     line and cause (qk_ctx_error). Nothing here calls exit().
 *   - All work is enqueued on the context's stream; functions that return results to
 *     the host say that they synchronize.
 */
#ifndef QLAB_CUDA_H
#define QLAB_CUDA_H

#include <stddef.h>
#include <stdint.h>
#include "../quant/quant.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    QK_OK = 0,
    QK_ERR_ARG,          /* null pointer, bad size or enum */
    QK_ERR_CUDA,         /* a CUDA runtime call or kernel launch failed */
    QK_ERR_CUBLAS,       /* a cuBLASLt call failed, or no algorithm for the problem */
    QK_ERR_ALIGN,        /* shape / leading dimension / pointer alignment not supported */
    QK_ERR_NOMEM,        /* device or host allocation failed */
    QK_ERR_UNSUPPORTED,  /* scheme x granularity without a kernel */
    QK_STATUS_COUNT
} qk_status;

/* Short description of a status code ("CUDA error", ...). */
const char *qk_status_str(qk_status st);

/* Element types of float operands. */
typedef enum {
    QK_DTYPE_F32 = 0,
    QK_DTYPE_F16,
    QK_DTYPE_BF16,
    QK_DTYPE_COUNT
} qk_dtype;

size_t qk_dtype_size(qk_dtype dt);
const char *qk_dtype_name(qk_dtype dt);

/* ---------------------------------------------------------------------------- */
/* Devices                                                                      */

typedef struct {
    int index;
    char name[256];
    int cc_major, cc_minor;
    int sm_count;
    int sm_clock_max_mhz;        /* peak SM clock (cudaDevAttrClockRate) */
    int sm_clock_now_mhz;        /* current SM clock via NVML when libnvidia-ml loads, else 0 */
    int mem_clock_max_mhz;
    int mem_bus_bits;
    int64_t l2_bytes;
    int64_t total_mem_bytes;
    int driver_version;          /* cudaDriverGetVersion: 1000*major + 10*minor */
    int runtime_version;         /* cudaRuntimeGetVersion */
    int64_t cublaslt_version;    /* cublasLtGetVersion */
} qk_device_info;

/* 1 if at least one CUDA device can be used (a context can be created and a kernel
 * runs); otherwise 0 with the reason (cudaGetDeviceCount / cudaGetErrorString, "no
 * CUDA device", "compute capability 7.5 < 8.0") written to why. */
int qk_device_usable(char *why, size_t why_len);

/* Properties of device `index`. Returns QK_OK, or an error with a message in err. */
qk_status qk_device_query(int index, qk_device_info *out, char *err, size_t err_len);

/* ---------------------------------------------------------------------------- */
/* Context                                                                      */

typedef struct qk_ctx qk_ctx;

/* Creates a context on device `index`: a non-blocking stream, a cuBLASLt handle and a
 * 32 MiB GEMM workspace (allocated through the tracking allocator). The caller frees
 * it with qk_ctx_free. Returns QK_OK or an error with a message in err. */
qk_status qk_ctx_create(int index, qk_ctx **out, char *err, size_t err_len);
/* Frees everything the context allocated; NULL is ignored. */
void qk_ctx_free(qk_ctx *c);
/* Message of the last failed call on c ("kernels/gemm.cu:123: cublasLtMatmul: ..."). */
const char *qk_ctx_error(const qk_ctx *c);
/* The context's stream (a cudaStream_t), for callers that record their own events. */
void *qk_ctx_stream(qk_ctx *c);
/* Waits for all work on the context's stream. */
qk_status qk_ctx_sync(qk_ctx *c);

/* ---------------------------------------------------------------------------- */
/* Tracking allocator: every device buffer qlab allocates goes through here, so the  */
/* peak is what qlab itself needed (cudaMemGetInfo shows everyone's).             */

/* Allocates `bytes` of device memory into *ptr (256-byte aligned, contents undefined). */
qk_status qk_malloc(qk_ctx *c, void **ptr, size_t bytes);
/* Frees a pointer from qk_malloc; NULL is ignored. */
void qk_free(qk_ctx *c, void *ptr);
int64_t qk_mem_current(const qk_ctx *c);   /* bytes currently allocated through c */
int64_t qk_mem_peak(const qk_ctx *c);      /* peak since creation or the last reset */
void qk_mem_reset_peak(qk_ctx *c);         /* peak = current */
/* cudaMemGetInfo of the context's device. */
qk_status qk_mem_info(qk_ctx *c, int64_t *free_bytes, int64_t *total_bytes);

/* Copies host <-> device on the context's stream and waits for the copy. */
qk_status qk_upload(qk_ctx *c, void *d_dst, const void *src, size_t bytes);
qk_status qk_download(qk_ctx *c, void *dst, const void *d_src, size_t bytes);

/* ---------------------------------------------------------------------------- */
/* Timing helpers                                                               */

/* Evicts the L2 cache by reading a device buffer of max(2 x L2, 64 MiB) (allocated
 * and zeroed by qk_ctx_create) and writing nothing, so the lines it leaves are clean:
 * no write-back of the flush lands in the next timed window (a flush by writes would
 * leave up to one L2 of dirty lines). Enqueued on the stream; call it before the
 * start event of a sample, never inside the timed window. */
qk_status qk_l2_flush(qk_ctx *c);
/* Bytes one qk_l2_flush reads (0 for NULL). */
size_t qk_l2_flush_bytes(const qk_ctx *c);

/* Device-to-device copy bandwidth in GB/s (1e9 bytes/s, counting the bytes read and
 * the bytes written, as a kernel's "bytes that must move" are counted): median of
 * `reps` cudaMemcpyAsync of `bytes` bytes timed with events. Synchronizes. */
qk_status qk_copy_bandwidth(qk_ctx *c, size_t bytes, int reps, double *gbps);

/* Stage timer: a start event and one event per stage boundary, recorded on the
 * stream. qk_timer_ms gives the time between two recorded marks (synchronizes). */
typedef struct qk_timer qk_timer;
qk_status qk_timer_create(qk_ctx *c, int n_marks, qk_timer **out);
void qk_timer_free(qk_timer *t);
qk_status qk_timer_mark(qk_ctx *c, qk_timer *t, int mark);
qk_status qk_timer_ms(qk_ctx *c, qk_timer *t, int from, int to, float *ms);

/* ---------------------------------------------------------------------------- */
/* Quantized matrices on the device                                             */

/* Alignment of quantized matrices: rows of codes are padded to a multiple of 16 bytes
 * and the row count to a multiple of 4, padding filled with code 0, so every matrix
 * meets the IMMA rules of qk_gemm_i8 (see gemm.cu) whatever its shape. A code of 0
 * adds nothing to an integer product, so padding never changes a result. */
#define QK_CODE_LD_ALIGN 16
#define QK_ROW_ALIGN 4

typedef struct {
    quant_scheme scheme;       /* QUANT_SCHEME_ABSMAX or QUANT_SCHEME_ZEROPOINT */
    quant_gran gran;
    int64_t rows, cols;        /* logical shape */
    int64_t rows_alloc;        /* rows rounded up to QK_ROW_ALIGN */
    int64_t ld;                /* row stride of codes: cols rounded up to QK_CODE_LD_ALIGN */
    int64_t block;             /* as quant_matrix: group length along cols */
    int64_t groups_per_row, n_groups;
    int8_t *d_codes;           /* [rows_alloc, ld] */
    float *d_scales;           /* [n_groups] */
    int32_t *d_zeros;          /* [n_groups], zeropoint only, else NULL */
    int32_t *d_row_sums;       /* [rows] sum of the codes of each row over the logical cols
                                  (zeropoint, non-block granularity), else NULL */
} qk_qmatrix;

/* Allocates q's device buffers for a [rows, cols] matrix (codes zeroed, so padding is
 * 0 for good). Group layout and block rules as quant_matrix_init. Free with
 * qk_qmatrix_free. */
qk_status qk_qmatrix_init(qk_ctx *c, qk_qmatrix *q, quant_scheme scheme, quant_gran gran,
                          int64_t rows, int64_t cols, int64_t block);
void qk_qmatrix_free(qk_ctx *c, qk_qmatrix *q);
/* Device bytes held by q: padded codes + scales (+ zeros) (+ row sums). */
int64_t qk_qmatrix_bytes(const qk_qmatrix *q);
/* Copies q to a host quant_matrix `h` initialised with the same shape (codes
 * unpadded), for tests and round-trip metrics. Synchronizes. */
qk_status qk_qmatrix_download(qk_ctx *c, const qk_qmatrix *q, quant_matrix *h);

/* ---------------------------------------------------------------------------- */
/* Quantization kernels (quantize.cu)                                           */

/* Quantizes d_src [rows, cols] (element type dt, row stride ld_src elements) into q,
 * at q's scheme and granularity (tensor, row/channel, block), exactly as
 * quant_quantize. d_col_flags, if not NULL, is a device byte array [cols]: columns
 * whose flag is non-zero are quantized as if they held 0 (the LLM.int8() rule that X's
 * outlier columns are zeroed first). Writes the row sums where q has them. Inputs must
 * be finite (quant/ rejects NaN/Inf; here they give undefined codes). */
qk_status qk_quantize(qk_ctx *c, const void *d_src, qk_dtype dt, int64_t ld_src,
                      const uint8_t *d_col_flags, qk_qmatrix *q);

/* LLM.int8() outlier columns of d_x [m, k]: d_flags[j] = 1 when any |X[i,j]| >= t,
 * else 0 (t <= 0: all 0), as quant_outlier_cols. Also writes the flagged column
 * indices in increasing order to d_idx [k] and their count to d_count (device int32).
 * The count stays on the device: reading it is the caller's synchronisation. */
qk_status qk_outlier_cols(qk_ctx *c, const void *d_x, qk_dtype dt, int64_t m, int64_t k,
                          int64_t ldx, float t, uint8_t *d_flags, int32_t *d_idx,
                          int32_t *d_count);

/* X quantization of the LLM.int8() forward: qk_outlier_cols, then qk_quantize with
 * those columns zeroed. d_flags/d_idx/d_count as above (required when t > 0). */
qk_status qk_quantize_x(qk_ctx *c, const void *d_x, qk_dtype dt, int64_t ldx, float t,
                        uint8_t *d_flags, int32_t *d_idx, int32_t *d_count, qk_qmatrix *qx);

/* d_out [rows, cols] float32 (row stride ld_out) = the dequantized matrix, q / s or
 * (q - z) / s, as quant_dequantize. */
qk_status qk_dequantize(qk_ctx *c, const qk_qmatrix *q, float *d_out, int64_t ld_out);

/* Converts d_src [rows, cols] float32 to dt (round to nearest even) into d_dst with
 * row stride ld_dst >= cols; columns [cols, ld_dst) are written as 0. */
qk_status qk_convert(qk_ctx *c, const float *d_src, int64_t rows, int64_t cols, int64_t ld_src,
                     void *d_dst, qk_dtype dt, int64_t ld_dst);

/* Gathers the columns d_idx[0..n_idx) of d_src [rows, *] (type dt, stride ld_src) into
 * d_dst [rows, ld_dst] fp16 (rounded to nearest even), zero-filling columns [n_idx,
 * ld_dst). */
qk_status qk_gather_cols_f16(qk_ctx *c, const void *d_src, qk_dtype dt, int64_t rows,
                             int64_t ld_src, const int32_t *d_idx, int64_t n_idx,
                             void *d_dst, int64_t ld_dst);
/* The same from a quantized matrix: the dequantized values rounded to fp16 (the
 * `outlier_weights: dequant` variant). */
qk_status qk_gather_cols_dequant_f16(qk_ctx *c, const qk_qmatrix *q, const int32_t *d_idx,
                                     int64_t n_idx, void *d_dst, int64_t ld_dst);

/* ---------------------------------------------------------------------------- */
/* GEMMs through cuBLASLt (gemm.cu). Y = X W^T, X [m,k] and W [n,k] row-major.   */

/* Whether an int8 GEMM with these shapes, leading dimensions and pointers meets the
 * IMMA rules (k and n multiples of 4, ld's multiples of 4 and >= the row lengths,
 * pointers 4-byte aligned). Returns QK_OK, or QK_ERR_ALIGN with the reason in why. */
qk_status qk_gemm_i8_check(int64_t m, int64_t k, int64_t n, int64_t ldx, int64_t ldw,
                           int64_t ldacc, const void *d_x, const void *d_w, const void *d_acc,
                           char *why, size_t why_len);

/* d_acc [m, n] int32 (row stride ldacc) = QX QW^T, int32 accumulation: exactly
 * quant_matmul_i8_i32. Refuses (QK_ERR_ALIGN) what qk_gemm_i8_check refuses; the
 * padded buffers of qk_qmatrix always pass (use k = q.ld, n = q.rows_alloc). */
qk_status qk_gemm_i8(qk_ctx *c, const int8_t *d_x, int64_t ldx, const int8_t *d_w,
                     int64_t ldw, int32_t *d_acc, int64_t ldacc, int64_t m, int64_t k,
                     int64_t n);

/* d_y [m, n] (type ydt, stride ldy) = alpha X W^T + beta Y, float GEMM with float32
 * accumulation (CUBLAS_COMPUTE_32F, never TF32). ab: QK_DTYPE_F16, QK_DTYPE_BF16
 * (then ydt is ab or F32) or QK_DTYPE_F32 (ydt F32). */
qk_status qk_gemm_float(qk_ctx *c, qk_dtype ab, const void *d_x, int64_t ldx,
                        const void *d_w, int64_t ldw, void *d_y, qk_dtype ydt, int64_t ldy,
                        int64_t m, int64_t k, int64_t n, float alpha, float beta);

/* ---------------------------------------------------------------------------- */
/* Epilogue (epilogue.cu)                                                        */

/* d_y [m, n] (type ydt: F32 or F16, stride ldy) = dequantized int8 product + d_yo +
 * d_bias, in one pass:
 *   acc' = acc - zw[j] rsx[i] - zx[i] rsw[j] + K zx[i] zw[j]     (int64; zeropoint)
 *   y    = (float)((double)acc' / ((double)sx[i] * (double)sw[j])) + yo[i,j] + b[j]
 * with K = qx->cols, zeros and row sums from qx and qw. d_yo [m, n] float32 (stride
 * ldyo) and d_bias [n] float32 may be NULL. Tensor or row granularity for X, tensor or
 * channel for W; block granularity gives QK_ERR_UNSUPPORTED. */
qk_status qk_epilogue(qk_ctx *c, const int32_t *d_acc, int64_t ldacc, const qk_qmatrix *qx,
                      const qk_qmatrix *qw, const float *d_yo, int64_t ldyo,
                      const float *d_bias, void *d_y, qk_dtype ydt, int64_t ldy);

/* ---------------------------------------------------------------------------- */
/* The quantized linear layer: the whole int8 / LLM.int8() forward (llm_int8.cu)  */

typedef struct {
    quant_scheme scheme;                   /* ABSMAX, ZEROPOINT, FP8_E4M3 or FP8_E5M2 */
    quant_gran x_gran;                     /* TENSOR or ROW */
    quant_gran w_gran;                     /* TENSOR or CHANNEL (BLOCK: quantized, but no matmul) */
    int64_t block;
    float threshold;                       /* LLM.int8() threshold; <= 0: no decomposition */
    quant_outlier_weights outlier_weights; /* FP16 or DEQUANT */
} qk_linear_opts;

/* Stage times of one forward, in milliseconds (CUDA events). */
typedef struct {
    float quantize_x_ms;     /* outlier detection + X quantization (with row sums) */
    float gemm_i8_ms;        /* cuBLASLt int8 GEMM */
    float outlier_gemm_ms;   /* count read-back + gathers + fp16 GEMM (0 work when no outliers) */
    float dequant_ms;        /* epilogue: scales, zeropoint corrections, outliers, bias */
    float total_ms;          /* first to last event */
    int64_t n_outliers;
} qk_linear_times;

typedef struct qk_linear qk_linear;

/* Prepares a quantized linear layer for inputs of m rows: quantizes d_w [n, k]
 * float32 (row stride k) once (weights are quantized offline; nothing here is in a
 * timed window) and allocates every buffer the forward needs, so qk_linear_forward
 * allocates nothing. With threshold > 0 and FP16 outlier weights an fp16 copy of W is
 * kept on the device to gather the outlier columns from (they depend on X). */
qk_status qk_linear_create(qk_ctx *c, const qk_linear_opts *o, const float *d_w, int64_t m,
                           int64_t k, int64_t n, qk_linear **out);
void qk_linear_free(qk_ctx *c, qk_linear *l);

/* Y = the point's quantized X W^T (+ bias): quantize X (with outlier detection), int8
 * GEMM, fp16 outlier GEMM over the gathered outlier columns, epilogue. d_x [m, k]
 * (type xdt, stride ldx), d_bias [n] float32 or NULL, d_y [m, n] (type ydt F32 or
 * F16, stride ldy). With times != NULL every stage is bracketed by events and the
 * call synchronizes at the end to read them. The call synchronizes once in any case
 * when threshold > 0: the number of outlier columns sizes the outlier GEMM. */
qk_status qk_linear_forward(qk_ctx *c, qk_linear *l, const void *d_x, qk_dtype xdt,
                            int64_t ldx, const float *d_bias, void *d_y, qk_dtype ydt,
                            int64_t ldy, qk_linear_times *times);

/* Views into the layer, for tests and memory columns. */
const qk_qmatrix *qk_linear_weights(const qk_linear *l);
const qk_qmatrix *qk_linear_last_x(const qk_linear *l);   /* X of the last forward */
const uint8_t *qk_linear_flags(const qk_linear *l);       /* device [k] outlier flags */
/* Bytes the stored weights take: codes + scales (+ zeros) (+ row sums) (+ the fp16
 * outlier columns of the last forward, n * outliers * 2, FP16 variant). */
int64_t qk_linear_weight_bytes(const qk_linear *l);

/* fp8 schemes in the linear layer (scheme QUANT_SCHEME_FP8_E4M3 / _E5M2 in
 * qk_linear_opts; x_gran TENSOR or ROW, w_gran TENSOR or CHANNEL/ROW, outlier
 * decomposition as for int8). qk_linear_weights / qk_linear_last_x return NULL for
 * them; these give their state instead. */
/* 1 when the layer's GEMM is cuBLASLt's fp8 GEMM, 0 when it is the fp16 GEMM of the
 * codes widened to fp16 (e5m2, a device without fp8 tensor cores, or no cuBLASLt fp8
 * algorithm for the shape). */
int qk_linear_fp8_native(const qk_linear *l);
/* Rows the layer's low-precision GEMM multiplies: m, or (int8) more when cuBLASLt
 * refused m rows at qk_linear_create and X's codes and the int32 accumulator were
 * padded with zero rows (exact: a zero row of codes adds nothing, and the epilogue
 * reads the first m rows). */
int64_t qk_linear_gemm_rows(const qk_linear *l);
/* Why the layer's GEMM is not the plain one, for the point's message: the int8
 * padding above with cuBLASLt's message, or why an fp8 layer runs the widened fp16
 * GEMM (e5m2, the device's compute capability, or cuBLASLt's message when its e4m3
 * GEMM refused the shape). "" when there is nothing to say; never NULL. */
const char *qk_linear_note(const qk_linear *l);
/* The number of LLM.int8() outlier columns of d_x [m, k] (type xdt, stride ldx) at
 * the layer's threshold (0 without one), counted as a forward counts them, without
 * the forward: for callers that need the count but not Y. Leaves the layer's flags
 * as a forward on d_x would. Synchronizes. */
qk_status qk_linear_outliers_of(qk_ctx *c, qk_linear *l, const void *d_x, qk_dtype xdt, int64_t ldx,
                                int64_t *count);
/* Copies the int32 accumulator of the last forward ([m, n], the real rows only) of an
 * int8 layer to host memory (QK_ERR_ARG for fp8 layers). Synchronizes. */
qk_status qk_linear_acc_download(qk_ctx *c, const qk_linear *l, int32_t *acc);
/* Copies the codes of the last X ([m, k]) and of W ([n, k]), unpadded, and their
 * scales (1 or m, 1 or n) to host memory. Synchronizes. */
qk_status qk_linear_fp8_download(qk_ctx *c, const qk_linear *l, uint8_t *cx, float *sx, uint8_t *cw, float *sw);

/* ---------------------------------------------------------------------------- */
/* fp8 (fp8.cu; GEMM in gemm.cu)                                                 */

/* 1 if the device runs cuBLASLt's fp8 GEMM (compute capability >= 8.9); else 0 with
 * the reason in why (may be NULL). */
int qk_fp8_gemm_supported(qk_ctx *c, char *why, size_t why_len);

/* Quantizes d_src [rows, cols] (type dt, stride ld_src) to fp8 codes d_codes [rows,
 * ld_codes] (columns [cols, ld_codes) written 0) with float32 scales d_scales (1 for
 * TENSOR, rows for ROW/CHANNEL, which both mean one scale per stored row), exactly as
 * quant_fp8_quantize. Columns flagged in d_col_flags (may be NULL) are read as 0.
 * d_scratch: device float32 [rows]. d_wide16 (may be NULL): fp16 [rows, ld_codes]
 * receives every code's exact fp16 value as well, as qk_fp8_widen_f16 would. */
qk_status qk_fp8_quantize(qk_ctx *c, quant_scheme scheme, quant_gran gran, const void *d_src, qk_dtype dt,
                          int64_t ld_src, int64_t rows, int64_t cols, const uint8_t *d_col_flags,
                          float *d_scratch, uint8_t *d_codes, int64_t ld_codes, float *d_scales,
                          void *d_wide16);

/* d_out16[i] = the fp16 value of code d_codes[i], i < count (exact for both formats). */
qk_status qk_fp8_widen_f16(qk_ctx *c, quant_scheme scheme, const uint8_t *d_codes, int64_t count, void *d_out16);

/* d_acc [m, n] float32 (stride ldacc) = decoded X codes times decoded W codes
 * transposed, float32 accumulation, through cuBLASLt's e4m3 x e4m3 GEMM. k, n, ldx and
 * ldw multiples of 16, pointers 16-byte aligned (else QK_ERR_ALIGN); QK_ERR_UNSUPPORTED
 * on devices without fp8 tensor cores. */
qk_status qk_gemm_fp8(qk_ctx *c, const uint8_t *d_x, int64_t ldx, const uint8_t *d_w, int64_t ldw, float *d_acc,
                      int64_t ldacc, int64_t m, int64_t k, int64_t n);

/* d_y [m, n] (F32 or F16, stride ldy) = (float)((double)acc / ((double)sx_i *
 * (double)sw_j)) + yo + bias, as quant/'s fp8 matmul descales; sx per row when
 * x_per_row (else sx[0]), sw per output column j when w_per_row. d_yo / d_bias may
 * be NULL. */
qk_status qk_fp8_epilogue(qk_ctx *c, const float *d_acc, int64_t ldacc, int64_t m, int64_t n, const float *d_sx,
                          int x_per_row, const float *d_sw, int w_per_row, const float *d_yo, int64_t ldyo,
                          const float *d_bias, void *d_y, qk_dtype ydt, int64_t ldy);

/* Gathers columns d_idx[0..n_idx) of the dequantized fp8 matrix (code / scale, float32)
 * rounded to fp16 into d_dst [rows, ld_dst], zero-filling [n_idx, ld_dst). */
qk_status qk_fp8_gather_dequant_f16(qk_ctx *c, quant_scheme scheme, const uint8_t *d_codes, int64_t ld_codes,
                                    int64_t rows, const float *d_scales, int per_row, const int32_t *d_idx,
                                    int64_t n_idx, void *d_dst, int64_t ld_dst);

/* ---------------------------------------------------------------------------- */
/* 4-bit weights (fourbit.cu)                                                    */

/* Layout of quant_4bit (quant/quant.h): d_codes ceil(n*k/2) packed bytes, element 2i
 * in the high nibble; d_absmax [n*k/block] float32, the absmax each block
 * dequantizes with. scheme: QUANT_SCHEME_NF4, _FP4, _NF4_DQ or _FP4_DQ. */

/* d_absmax[b] = (float)d_qabsmax[b] / d_dq_scales[b / 256] + mean for b < n_blocks:
 * the double-quantized block scales expanded to float32, as quant_4bit holds them. */
qk_status qk_4bit_absmax_dq(qk_ctx *c, const int8_t *d_qabsmax, const float *d_dq_scales, float mean,
                            int64_t n_blocks, float *d_absmax);

/* d_out [n, k] fp16 (stride ld_out) = fp16(table[code] * absmax), identical to
 * quant_4bit_dequantize followed by fp16 rounding. */
qk_status qk_4bit_dequantize_f16(qk_ctx *c, quant_scheme scheme, const uint8_t *d_codes,
                                 const float *d_absmax, int64_t n, int64_t k, int64_t block,
                                 void *d_out, int64_t ld_out);

/* d_y [m, n] float32 = X W'^T: W dequantized into d_wscratch (fp16 [n, ldw]) by
 * qk_4bit_dequantize_f16, then the fp16 cuBLASLt GEMM (float32 accumulation).
 * d_x16 is fp16 [m, ldx]. */
qk_status qk_4bit_matmul_f16(qk_ctx *c, quant_scheme scheme, const void *d_x16, int64_t ldx,
                             const uint8_t *d_codes, const float *d_absmax, int64_t m, int64_t k,
                             int64_t n, int64_t block, void *d_wscratch, int64_t ldw, float *d_y,
                             int64_t ldy);

/* The same product without the fp16 copy of W, for the decode case 1 <= m <=
 * QK_4BIT_GEMV_MAX_M (else QK_ERR_UNSUPPORTED): each weight is decoded, rounded to
 * fp16 as above and multiplied in float32; the summation order differs from the
 * GEMM (tests allow 1e-5 relative). */
#define QK_4BIT_GEMV_MAX_M 16
qk_status qk_4bit_gemv_f16(qk_ctx *c, quant_scheme scheme, const void *d_x16, int64_t ldx,
                           const uint8_t *d_codes, const float *d_absmax, int64_t m, int64_t k,
                           int64_t n, int64_t block, float *d_y, int64_t ldy);

#ifdef __cplusplus
}
#endif
#endif

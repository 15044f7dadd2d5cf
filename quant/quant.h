/* quant.h: qlab's portable reference library (C11, no I/O, no globals, no exit).
 *
 * Everything qlab measures is checked against the functions declared here:
 * number formats (fp16, bf16 rounding), int8 quantization (absmax, zeropoint) at
 * tensor / row / channel / block granularity, the int8 x int8 -> int32 matmul with
 * its dequantization, the LLM.int8() outlier decomposition, the float64 reference
 * GEMM and the error metrics. The semantics are those of DESIGN.md section 3; the
 * deviations are listed in README ("Semantics").
 *
 * Conventions
 *   - Matrices are row-major float32. X is [m,k] (rows are tokens), W is [n,k]
 *     (rows are output channels, as nn.Linear.weight). Y = X W^T is [m,n].
 *   - Quantization groups run along the contiguous k axis: a group is the whole
 *     tensor, one row, or `block` consecutive values of one row. For W a "channel"
 *     is a row, so QUANT_GRAN_CHANNEL and QUANT_GRAN_ROW are the same layout.
 *   - Functions return quant_status; outputs are untouched on error unless said.
 *   - Caller owns every buffer it passes; functions that allocate say so and have
 *     a matching _free.
 *   - Build without fast-math and with -ffp-contract=off: the expression order of
 *     DESIGN section 3 is normative and must not be fused.
 */
#ifndef QLAB_QUANT_H
#define QLAB_QUANT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------------------- */
/* Status codes                                                                 */

typedef enum {
    QUANT_OK = 0,
    QUANT_ERR_ARG,          /* null pointer, non-positive size, bad enum value */
    QUANT_ERR_BLOCK,        /* block size <= 0 or does not divide the row length */
    QUANT_ERR_NONFINITE,    /* NaN or Inf in an input tensor */
    QUANT_ERR_RANGE,        /* a scale overflows float32, or k too large for exact int32 */
    QUANT_ERR_NOMEM,        /* allocation failed */
    QUANT_ERR_UNSUPPORTED,  /* scheme x granularity combination not defined */
    QUANT_STATUS_COUNT
} quant_status;

/* Short, stable English description of a status ("block size does not divide k"). */
const char *quant_status_str(quant_status st);

/* ---------------------------------------------------------------------------- */
/* Schemes and granularities: the traits table                                  */

typedef enum {
    QUANT_SCHEME_FP32 = 0,   /* operands as they are, float accumulation */
    QUANT_SCHEME_FP16,       /* operands rounded to fp16, float accumulation */
    QUANT_SCHEME_BF16,       /* operands rounded to bf16, float accumulation */
    QUANT_SCHEME_ABSMAX,     /* symmetric int8, int32 accumulation */
    QUANT_SCHEME_ZEROPOINT,  /* asymmetric int8, int32 accumulation + exact corrections */
    QUANT_SCHEME_COUNT
} quant_scheme;

typedef enum {
    QUANT_GRAN_TENSOR = 0,
    QUANT_GRAN_ROW,          /* one group per row of the stored matrix (X: token) */
    QUANT_GRAN_CHANNEL,      /* W: one group per output channel = row of W */
    QUANT_GRAN_BLOCK,        /* `block` consecutive values along k within a row */
    QUANT_GRAN_COUNT
} quant_gran;

typedef enum {
    QUANT_OUTLIER_FP16 = 0,  /* outlier columns of W kept in fp16 (the paper) */
    QUANT_OUTLIER_DEQUANT,   /* outlier columns of W taken from the dequantized int8 W (bitsandbytes) */
    QUANT_OUTLIER_COUNT
} quant_outlier_weights;

/* Traits of one scheme. Tests loop over the table, so a new row is under test the
 * day it is added. Tolerances are bounds the tests assert, stated per scheme. */
typedef struct {
    quant_scheme id;
    const char *name;          /* config spelling: "fp32", "fp16", "bf16", "absmax", "zeropoint" */
    int bits;                  /* bits per stored code */
    int is_int8;               /* 1: codes + scales, integer matmul; 0: float operand rounding */
    int has_zero_point;        /* 1 for zeropoint */
    int qmin, qmax;            /* code range for int8 schemes, 0 otherwise */
    double roundtrip_rel_tol;  /* bound on ||v - v'||_F / ||v||_F for N(0,1) data, per-row groups of 256 */
    /* v' of a [rows, cols] matrix as the scheme stores it (quantize then dequantize
     * at gran/block for int8; fp16/bf16 rounding; a copy for fp32). Same contract as
     * quant_roundtrip below, without the scheme argument. */
    quant_status (*roundtrip)(const float *v, int64_t rows, int64_t cols, quant_gran gran,
                              int64_t block, float *out);
} quant_scheme_traits;

/* Row `s` of the traits table, or NULL if s is out of range. */
const quant_scheme_traits *quant_scheme_get(quant_scheme s);
/* Scheme by config name; returns QUANT_SCHEME_COUNT when unknown. */
quant_scheme quant_scheme_from_name(const char *name);
/* Granularity names: "tensor", "row", "channel", "block". */
const char *quant_gran_name(quant_gran g);
quant_gran quant_gran_from_name(const char *name);   /* QUANT_GRAN_COUNT when unknown */
const char *quant_outlier_weights_name(quant_outlier_weights o);   /* "fp16", "dequant" */
quant_outlier_weights quant_outlier_weights_from_name(const char *name); /* _COUNT when unknown */

/* ---------------------------------------------------------------------------- */
/* fp16 / bf16                                                                  */

/* IEEE binary16 bits of f, round to nearest even, subnormals kept, overflow to
 * +-inf, NaN stays NaN (quiet). */
uint16_t quant_f32_to_f16(float f);
float quant_f16_to_f32(uint16_t h);
/* bfloat16 bits of f, round to nearest even, NaN stays NaN (quiet). */
uint16_t quant_f32_to_bf16(float f);
float quant_bf16_to_f32(uint16_t h);
/* Round every value through fp16 / bf16 and back, dst may equal src. */
void quant_round_f16(const float *src, float *dst, size_t count);
void quant_round_bf16(const float *src, float *dst, size_t count);

/* ---------------------------------------------------------------------------- */
/* int8 quantization of a matrix                                                */

/* A quantized [rows, cols] matrix. Groups are laid out row-major:
 * tensor: 1 group; row/channel: `rows` groups; block: rows * (cols / block) groups,
 * group g of row r at index r * groups_per_row + g. */
typedef struct {
    quant_scheme scheme;       /* QUANT_SCHEME_ABSMAX or QUANT_SCHEME_ZEROPOINT */
    quant_gran gran;
    int64_t rows, cols;
    int64_t block;             /* group length along cols: cols (row/channel), block, or rows*cols (tensor) */
    int64_t groups_per_row;    /* cols / block for block granularity, 1 otherwise (tensor: 1) */
    int64_t n_groups;
    int8_t *codes;             /* rows * cols */
    float *scales;             /* n_groups: v' = q / s (absmax), (q - z) / s (zeropoint) */
    int32_t *zeros;            /* n_groups, zeropoint only (NULL for absmax); always in [-128, 127] */
} quant_matrix;

/* Number of groups for a [rows, cols] matrix at granularity g with block size
 * `block` (ignored unless g is QUANT_GRAN_BLOCK). Returns -1 and sets *st on a bad
 * block (<= 0 or not dividing cols). */
int64_t quant_group_count(quant_gran g, int64_t rows, int64_t cols, int64_t block, quant_status *st);

/* Allocates q's buffers for the given shape. Free with quant_matrix_free. */
quant_status quant_matrix_init(quant_matrix *q, quant_scheme scheme, quant_gran gran,
                               int64_t rows, int64_t cols, int64_t block);
void quant_matrix_free(quant_matrix *q);

/* Quantizes v [rows, cols] into q (already initialised with the same shape).
 * absmax:    s = 127 / max|v|; q = clamp(rint(v * s), -127, 127); a group whose
 *            max|v| is 0 gets s = 1 and codes 0.
 * zeropoint: lo = min(min v, 0), hi = max(max v, 0) (the range always holds 0, so
 *            zero is exact and z fits int8); s = 255 / (hi - lo), s = 1 if hi == lo;
 *            z = rint(-s * lo) - 128; q = clamp(rint(v * s + z), -128, 127).
 * rint is rintf (round half to even) in float32, in exactly that order.
 * QUANT_ERR_NONFINITE if v holds NaN/Inf; QUANT_ERR_RANGE if a scale overflows. */
quant_status quant_quantize(const float *v, quant_matrix *q);

/* Writes the dequantized matrix v' [rows, cols]: q / s or (q - z) / s, float32. */
quant_status quant_dequantize(const quant_matrix *q, float *out);

/* out [rows, cols] = v' of v through scheme s at granularity g (block used for
 * QUANT_GRAN_BLOCK; granularity ignored by the float schemes). out may equal v.
 * QUANT_ERR_NONFINITE on NaN/Inf in v, QUANT_ERR_BLOCK on a bad block. */
quant_status quant_roundtrip(quant_scheme s, quant_gran g, const float *v, int64_t rows,
                             int64_t cols, int64_t block, float *out);

/* Scale and zero point of one group of values (the per-group rule above), for
 * tests and kernels that work group by group. zero may be NULL for absmax. */
quant_status quant_group_params(quant_scheme scheme, const float *v, int64_t count,
                                int64_t stride, float *scale, int32_t *zero);

/* ---------------------------------------------------------------------------- */
/* Matmuls                                                                      */

/* Y = X W^T in float64 through OpenBLAS (cblas_dgemm), X [m,k], W [n,k] float32
 * inputs, Y [m,n] float64. The reference all metrics are measured against. */
quant_status quant_matmul_ref_f64(const float *x, const float *w, int64_t m, int64_t k,
                                  int64_t n, double *y);

/* Y = X W^T in float32 accumulation (cblas_sgemm) of float32 operands. */
quant_status quant_matmul_f32(const float *x, const float *w, int64_t m, int64_t k,
                              int64_t n, float *y);

/* acc = QX QW^T with int32 accumulation over the whole k (codes only, no scales).
 * Cache-blocked, OpenMP across rows. QUANT_ERR_RANGE if k > 131071 (int32 could
 * overflow). This is what an int8 GEMM (cuBLASLt IMMA) returns, bit for bit. */
quant_status quant_matmul_i8_i32(const int8_t *qx, const int8_t *qw, int64_t m, int64_t k,
                                 int64_t n, int32_t *acc);

/* Y = dequantized product of two quantized operands, [m,n] float32.
 * Both must use the same scheme; granularities may differ. Where either is block
 * granularity the k axis is split into blocks (both block sizes must then agree,
 * or one operand must have a whole-row group): int32 accumulation inside each
 * block, the partial sums scaled by 1/(sx*sw) and added in float64.
 * Zeropoint uses the exact integer expansion
 *   sum (qx-zx)(qw-zw) = sum qx qw - zw sum qx - zx sum qw + K zx zw   (int64).
 * Tensor granularity of X with block W (or vice versa) is allowed. */
quant_status quant_matmul_q(const quant_matrix *qx, const quant_matrix *qw, float *y);

/* ---------------------------------------------------------------------------- */
/* LLM.int8() decomposition                                                     */

/* Marks outlier columns: cols[j] = 1 when any |X[i,j]| >= threshold, else 0.
 * threshold <= 0 marks none. Returns the count in *n_outliers. */
quant_status quant_outlier_cols(const float *x, int64_t m, int64_t k, float threshold,
                                uint8_t *cols, int64_t *n_outliers);

/* Options of one quantized matmul: the point's scheme. */
typedef struct {
    quant_scheme scheme;
    quant_gran x_gran, w_gran;
    int64_t block;                        /* used where a granularity is block */
    float threshold;                      /* LLM.int8() threshold; 0 = no decomposition */
    quant_outlier_weights outlier_weights;
} quant_matmul_opts;

/* What a quantized matmul produced beside Y, for metrics and memory columns. */
typedef struct {
    int64_t outlier_cols;                 /* number of outlier columns found in X */
    double x_rel_err, w_rel_err;          /* ||v - v'||_F / ||v||_F for X and W alone */
    int64_t w_bytes;                      /* stored weight bytes: codes + scales (+ zeros) (+ fp16 outlier cols) */
    int64_t x_bytes;                      /* activation bytes of the quantized X: codes + scales (+ zeros) */
} quant_matmul_info;
/* Byte counts: 1 per int8 code, 4 per float32 scale, 4 per zero point (int32, as
 * quant_matrix stores them); with threshold > 0, x_bytes adds 2 * m * outlier_cols
 * (the fp16 outlier columns of X) and, for QUANT_OUTLIER_FP16, w_bytes adds
 * 2 * n * outlier_cols. fp32/fp16/bf16: 4 or 2 bytes per value.
 * x_rel_err / w_rel_err compare each operand with the operand the product actually
 * used: dequantized int8 with the outlier columns replaced by their fp16 values. */

/* Y [m,n] float32 = the point's quantized X W^T, the whole reference pipeline:
 * fp32/fp16/bf16: operands rounded, float32 accumulation.
 * absmax/zeropoint: int8 path; with threshold > 0 the LLM.int8() decomposition:
 *   outlier columns O of X (quant_outlier_cols); X with the columns O zeroed is
 *   quantized at x_gran; W is quantized over all its columns at w_gran (weights are
 *   quantized once, offline); Y = int8 product + X[:,O]_fp16 W[:,O]_fp16 (or the
 *   dequantized W columns rounded to fp16 for QUANT_OUTLIER_DEQUANT), the outlier
 *   product accumulated in float32.
 * The float schemes ignore the granularities and the threshold. For the int8 schemes
 * x_gran = QUANT_GRAN_CHANNEL (a scale per column of X) is QUANT_ERR_UNSUPPORTED: it
 * cannot be factored out of the integer k-sum; w_gran row and channel are the same.
 * info may be NULL. */
quant_status quant_matmul_scheme(const float *x, const float *w, int64_t m, int64_t k,
                                 int64_t n, const quant_matmul_opts *opts, float *y,
                                 quant_matmul_info *info);

/* ---------------------------------------------------------------------------- */
/* Metrics (DESIGN section 4), computed in float64                              */

typedef struct {
    double rel_err;      /* ||Y - Yr||_F / ||Yr||_F (0 if both are 0, inf if only Yr is 0) */
    double sqnr_db;      /* 20 log10(||Yr||_F / ||Y - Yr||_F); +inf when Y == Yr */
    double max_abs_err;  /* max |Y - Yr| */
    double mean_abs_err; /* mean |Y - Yr| */
    double cosine;       /* mean over rows of cos(Y_i, Yr_i); a pair of zero rows counts 1, one zero row 0 */
} quant_metrics;

/* Metrics of y [rows, cols] float32 against y_ref float64. */
quant_status quant_metrics_compute(const float *y, const double *y_ref, int64_t rows,
                                   int64_t cols, quant_metrics *out);
/* Same with a float32 reference (round-trip errors of operands). */
quant_status quant_metrics_compute_f32(const float *y, const float *y_ref, int64_t rows,
                                       int64_t cols, quant_metrics *out);
/* ||a - b||_F / ||b||_F with the rules of rel_err above. */
double quant_rel_err_f32(const float *a, const float *b, size_t count);

/* 1 if every value is finite. */
int quant_all_finite(const float *v, size_t count);

#ifdef __cplusplus
}
#endif
#endif

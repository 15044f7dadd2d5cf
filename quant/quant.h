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
    QUANT_SCHEME_FP8_E4M3,   /* fp8 e4m3 codes + float32 scales, float32 accumulation */
    QUANT_SCHEME_FP8_E5M2,   /* fp8 e5m2 codes + float32 scales, float32 accumulation */
    QUANT_SCHEME_NF4,        /* 4-bit NormalFloat weights, per-block absmax; X fp16 */
    QUANT_SCHEME_FP4,        /* 4-bit float weights, per-block absmax; X fp16 */
    QUANT_SCHEME_NF4_DQ,     /* nf4 with double quantization of the block absmax */
    QUANT_SCHEME_FP4_DQ,     /* fp4 with double quantization of the block absmax */
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

/* What a scheme does with its operands; decides the pipeline quant_matmul_scheme runs. */
typedef enum {
    QUANT_KIND_FLOAT = 0,    /* fp32/fp16/bf16: operands rounded, float accumulation */
    QUANT_KIND_INT8,         /* int8 codes, int32 accumulation (absmax, zeropoint) */
    QUANT_KIND_FP8,          /* fp8 codes, float32 accumulation, scales like absmax */
    QUANT_KIND_4BIT,         /* weight-only 4-bit (nf4, fp4), activations fp16 */
    QUANT_KIND_COUNT
} quant_kind;

/* Traits of one scheme. Tests loop over the table, so a new row is under test the
 * day it is added. Tolerances are bounds the tests assert, stated per scheme. */
struct quant_matmul_opts;
struct quant_matmul_info;

typedef struct quant_scheme_traits {
    quant_scheme id;
    const char *name;          /* config spelling: "fp32", "fp16", "bf16", "absmax", "zeropoint",
                                * "fp8_e4m3", "fp8_e5m2", "nf4", "fp4", "nf4_dq", "fp4_dq" */
    int bits;                  /* bits per stored code (4, 8, 16 or 32) */
    int is_int8;               /* 1: int8 codes + scales, integer matmul (kind == QUANT_KIND_INT8) */
    int has_zero_point;        /* 1 for zeropoint */
    int qmin, qmax;            /* code range for int8 schemes, 0 otherwise */
    double roundtrip_rel_tol;  /* bound on ||v - v'||_F / ||v||_F for N(0,1) data, per-row groups of 256 */
    /* v' of a [rows, cols] matrix as scheme s (this row's id) stores it: quantize then
     * dequantize at gran/block for int8 and fp8; fp16/bf16 rounding; a copy for fp32;
     * for the 4-bit schemes blocks of `block` along cols, or one block per row when
     * gran is not QUANT_GRAN_BLOCK. Called through quant_roundtrip, which checks the
     * arguments (non-NULL, positive sizes, finite v) first. */
    quant_status (*roundtrip)(quant_scheme s, quant_gran gran, const float *v, int64_t rows,
                              int64_t cols, int64_t block, float *out);
    /* The scheme's whole matmul pipeline (quant_matmul_scheme's contract), called by it
     * after its argument checks with this row as t. */
    quant_status (*matmul)(const struct quant_scheme_traits *t, const float *x, const float *w,
                           int64_t m, int64_t k, int64_t n, const struct quant_matmul_opts *opts,
                           float *y, struct quant_matmul_info *info);
    quant_kind kind;
    int double_quant;          /* 4-bit: 1 when the block absmax values are themselves quantized */
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
    /* After quant_quantize returned QUANT_ERR_RANGE: the first group whose scale
     * overflows float32, and its max |v| (absmax) or range max v - min v (zeropoint). */
    int64_t failed_group;
    float failed_value;
} quant_matrix;

/* Number of groups for a [rows, cols] matrix at granularity g with block size
 * `block` (ignored unless g is QUANT_GRAN_BLOCK). Returns -1 and sets *st on a bad
 * block (<= 0 or not dividing cols). */
int64_t quant_group_count(quant_gran g, int64_t rows, int64_t cols, int64_t block, quant_status *st);

/* Allocates q's buffers for the given shape. Free with quant_matrix_free. */
quant_status quant_matrix_init(quant_matrix *q, quant_scheme scheme, quant_gran gran,
                               int64_t rows, int64_t cols, int64_t block);
void quant_matrix_free(quant_matrix *q);
/* Bytes of q as stored, codes and scales apart: 1 byte per code; 4 per float32 scale
 * and 4 per zero point (int32, as quant_matrix and the GPU kernels hold them). The
 * memory columns of every backend count int8 operands with these. */
int64_t quant_matrix_code_bytes(const quant_matrix *q);
int64_t quant_matrix_scale_bytes(const quant_matrix *q);

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
/* fp8 (OCP 8-bit floating point, Micikevicius et al. 2022)                      */

/* e4m3: 1 sign, 4 exponent (bias 7), 3 mantissa bits; no infinity, S.1111.111 is
 * NaN, largest finite 448 (0x7e), smallest subnormal 2^-9 (0x01).
 * e5m2: 1 sign, 5 exponent (bias 15), 2 mantissa bits, IEEE-like: S.11111.00 is
 * inf, larger mantissas NaN; largest finite 57344 (0x7b), smallest subnormal 2^-16.
 * float32 -> fp8 rounds to nearest, ties to even, subnormals kept, and saturates:
 * every finite value beyond the largest finite and +-inf become +-largest finite
 * (the "satfinite" conversion of CUDA's __nv_cvt_float_to_fp8, which is what a
 * scaled GEMM wants: an overflow must not turn into NaN or inf). NaN stays NaN
 * (e4m3 0x7f, e5m2 0x7f, sign kept). -0 keeps its sign. */
#define QUANT_FP8_E4M3_MAX 448.0f
#define QUANT_FP8_E5M2_MAX 57344.0f
uint8_t quant_f32_to_fp8_e4m3(float f);
uint8_t quant_f32_to_fp8_e5m2(float f);
float quant_fp8_e4m3_to_f32(uint8_t b);   /* exact; NaN codes give a quiet NaN */
float quant_fp8_e5m2_to_f32(uint8_t b);   /* exact; 0x7c / 0xfc give +-inf */

/* fp8 scale of `count` values at v[i*stride] for QUANT_SCHEME_FP8_E4M3/E5M2:
 * s = fmax / max|v| (float32), s = 1 when max|v| is 0. The group's codes are
 * fp8(v * s) and v' = fp8_to_f32(code) / s. QUANT_ERR_RANGE if s overflows. */
quant_status quant_fp8_group_scale(quant_scheme scheme, const float *v, int64_t count,
                                   int64_t stride, float *scale);

/* fp8 codes of v [rows, cols] at granularity g (groups laid out as for int8:
 * contiguous runs of total / n_groups values), scales[n_groups] = fmax / max|v|.
 * codes holds rows * cols bytes, scales quant_group_count(g, ...) floats. */
quant_status quant_fp8_quantize(quant_scheme scheme, quant_gran g, const float *v, int64_t rows,
                                int64_t cols, int64_t block, uint8_t *codes, float *scales,
                                int64_t *n_groups);
/* out[i] = fp8_to_f32(codes[i]) / scales[i / glen] for i < total. */
quant_status quant_fp8_dequantize(quant_scheme scheme, const uint8_t *codes, const float *scales,
                                  int64_t total, int64_t glen, float *out);

/* v' of v [rows, cols] through fp8 at granularity g: tensor (one scale), row or
 * channel (one scale per row), block (one scale per `block` values of a row). */
quant_status quant_fp8_roundtrip(quant_scheme scheme, quant_gran g, const float *v,
                                 int64_t rows, int64_t cols, int64_t block, float *out);

/* ---------------------------------------------------------------------------- */
/* 4-bit weights: nf4 and fp4 with per-block absmax (QLoRA, Dettmers et al. 2023) */

/* The 16 values of a 4-bit format, indexed by code, normalised to [-1, 1].
 * nf4: the NormalFloat table published with QLoRA (bitsandbytes' create_normal_map),
 *      sorted, code 7 is the exact 0, codes 0 and 15 are -1 and 1.
 * fp4: bitsandbytes' fp4 (1 sign, 2 exponent, 1 mantissa bits) with its code
 *      assignment: magnitudes {0, 0.0625, 8, 12, 4, 6, 2, 3} for codes 0..7 and
 *      the same negated for codes 8..15 (bit 3 is the sign), divided by 12 so the
 *      largest is 1. Code 8 (-0) is never produced by quantization.
 * Returns NULL for a scheme that is not 4-bit. */
const float *quant_4bit_table(quant_scheme scheme);

/* Nearest code of a normalised value x (v / absmax) in a 4-bit table: the code
 * whose value minimises |x - value|; a tie (x exactly on the midpoint of two
 * neighbouring values, midpoints computed in float32) goes to the smaller value.
 * x outside [-1, 1] gets the end codes. */
uint8_t quant_4bit_code(quant_scheme scheme, float x);

/* Block-quantized 4-bit weight matrix [rows, cols]. Blocks are `block` consecutive
 * values along cols (block divides cols), laid out row-major like int8 blocks:
 * block b of row r is number r * (cols / block) + b.
 * Codes are packed two per byte in row-major element order: element 2i in the high
 * nibble of codes[i], element 2i+1 in the low nibble (as bitsandbytes packs them);
 * an odd element count leaves the last low nibble 0.
 * Without double quantization absmax[b] (float32) is the block's max|v| and
 * v' = table[code] * absmax[b] (float32 product).
 * With double quantization (blocks of 256 block scales, QUANT_DQ_BLOCK):
 *   mean = mean of all absmax values (float32, accumulated in float64);
 *   c_b = absmax_b - mean (float32); for each run of 256 consecutive c_b (the last
 *   run may be shorter) an int8 absmax scale s2 = 127 / max|c| (1 when 0) and
 *   qabs_b = clamp(rint(c_b * s2), -127, 127), exactly the int8 absmax rule;
 *   the absmax used is absmax'_b = qabs_b / s2 + mean (float32) and
 *   v' = table[code] * absmax'_b. Codes are chosen against absmax'_b (so a value
 *   is rounded against the scale the reader will use). Stored: 1 byte per block,
 *   4 bytes per run of 256, 4 bytes for the mean. */
#define QUANT_DQ_BLOCK 256
typedef struct {
    quant_scheme scheme;       /* QUANT_SCHEME_NF4, _FP4, _NF4_DQ or _FP4_DQ */
    int64_t rows, cols, block;
    int64_t n_blocks;          /* rows * cols / block */
    int64_t n_dq_blocks;       /* ceil(n_blocks / 256) with double quantization, else 0 */
    uint8_t *codes;            /* ceil(rows * cols / 2) bytes */
    float *absmax;             /* n_blocks: the absmax each block dequantizes with
                                * (absmax'_b with double quantization) */
    int8_t *qabsmax;           /* n_blocks, double quantization only (else NULL) */
    float *dq_scales;          /* n_dq_blocks second-level scales s2 (else NULL) */
    float dq_mean;             /* the mean subtracted before the second level */
} quant_4bit;

/* Allocates q for a [rows, cols] matrix of a 4-bit scheme with blocks of `block`
 * (> 0, dividing cols). Free with quant_4bit_free. */
quant_status quant_4bit_init(quant_4bit *q, quant_scheme scheme, int64_t rows, int64_t cols,
                             int64_t block);
void quant_4bit_free(quant_4bit *q);
/* Quantizes v [rows, cols] into q. QUANT_ERR_NONFINITE on NaN/Inf. */
quant_status quant_4bit_quantize(const float *v, quant_4bit *q);
/* out [rows, cols] = table[code] * absmax'_b, float32. */
quant_status quant_4bit_dequantize(const quant_4bit *q, float *out);
/* Bytes as stored: codes, first-level scales (4 per block, or 1 per block with
 * double quantization), second-level (4 per run of 256 plus 4 for the mean). */
int64_t quant_4bit_code_bytes(const quant_4bit *q);
int64_t quant_4bit_scale_bytes(const quant_4bit *q);
int64_t quant_4bit_scale2_bytes(const quant_4bit *q);
/* Unpacked code of element i (row-major). */
static inline uint8_t quant_4bit_get(const uint8_t *codes, int64_t i)
{
    uint8_t b = codes[i >> 1];
    return (uint8_t)((i & 1) ? (b & 0x0f) : (b >> 4));
}

/* ---------------------------------------------------------------------------- */
/* SmoothQuant (Xiao et al. 2023): migrating activation outliers into the weights */

/* s[j] = max_i |X_ij|^alpha / max(max_n |W_nj|, 1e-5)^(1 - alpha), then at least 1e-5,
 * for each of the k columns, computed in float64 and stored float32: the rule of the
 * SmoothQuant authors' code (smoothquant/smooth.py), clamps included, so degenerate
 * columns follow it too: a pruned (all-zero) W column under large activations gets a
 * large s (the outlier leaves X), an all-zero X column gets 1e-5 (its products are 0
 * whatever s is). 0 <= alpha <= 1. This is the raw formula: alpha = 0 gives
 * 1 / max|W_j|, not the identity, which is why the pipeline reads smooth_alpha = 0 as
 * "off" instead of calling this. QUANT_ERR_RANGE if a scale overflows float32. */
quant_status quant_smooth_scales(const float *x, const float *w, int64_t m, int64_t k,
                                 int64_t n, float alpha, float *s);
/* xs = X / s per column, ws = W * s per column (float32), so X W^T = xs ws^T up to
 * rounding. xs may equal x, ws may equal w. */
quant_status quant_smooth_apply(const float *x, const float *w, int64_t m, int64_t k,
                                int64_t n, const float *s, float *xs, float *ws);

/* ---------------------------------------------------------------------------- */
/* Matmuls                                                                      */

/* Y = X W^T in float64, X [m,k], W [n,k] float32 inputs, Y [m,n] float64: the
 * reference all metrics are measured against. The k products are summed in one fixed
 * order (gemm.c), so Y is bit-identical on every machine and thread count. */
quant_status quant_matmul_ref_f64(const float *x, const float *w, int64_t m, int64_t k,
                                  int64_t n, double *y);

/* Y = X W^T in float32 accumulation of float32 operands, in gemm.c's fixed order. */
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

/* ---------------------------------------------------------------------------- */
/* Work shared between calls on the same operands                               */

/* A memo for quant_matmul_scheme calls on one X and W (the points of a sweep): W
 * quantized at one (scheme, w_gran, block), reused by every threshold, and the
 * LLM.int8() outlier product X[:,O] W[:,O]^T with fp16 outlier weights, reused by
 * every int8 / fp8 scheme whose threshold finds the same columns O. A call with a
 * cache gives Y and info bit for bit as the same call without one. The caller
 * promises that x and w keep their addresses and contents while the cache lives
 * (create it with the tensors, free it with them); calls under SmoothQuant, whose
 * operands are per-call copies, do not use it. Least recently used entries are freed
 * beyond budget_bytes (an entry larger than the budget is not kept). Not thread-safe:
 * one caller at a time. */
typedef struct quant_cache quant_cache;
quant_cache *quant_cache_new(int64_t budget_bytes);   /* NULL when out of memory */
void quant_cache_free(quant_cache *c);                 /* NULL is accepted */
int64_t quant_cache_bytes(const quant_cache *c);       /* bytes held now */

/* Options of one quantized matmul: the point's scheme. */
typedef struct quant_matmul_opts {
    quant_scheme scheme;
    quant_gran x_gran, w_gran;
    int64_t block;                        /* used where a granularity is block */
    float threshold;                      /* LLM.int8() threshold; 0 = no decomposition */
    quant_outlier_weights outlier_weights;
    float smooth_alpha;                   /* SmoothQuant migration strength in [0, 1]; 0 = off.
                                           * Used by the int8 and fp8 schemes, ignored by the
                                           * float and 4-bit ones. */
    quant_cache *cache;                   /* NULL, or the memo of calls on the same x and w */
} quant_matmul_opts;

/* What a quantized matmul produced beside Y, for metrics and memory columns. */
typedef struct quant_matmul_info {
    int64_t outlier_cols;                 /* number of outlier columns found in X */
    double x_rel_err, w_rel_err;          /* ||v - v'||_F / ||v||_F for X and W alone */
    int64_t w_bytes;                      /* stored weight bytes, always the sum of the four parts below */
    int64_t x_bytes;                      /* activation bytes of the quantized X: codes + scales (+ zeros) */
    /* w_bytes split into its parts, for every scheme: */
    int64_t w_code_bytes;                 /* the codes */
    int64_t w_scale_bytes;                /* first-level scales (+ int32 zero points) */
    int64_t w_scale2_bytes;               /* second-level scales + mean of double quantization */
    int64_t w_outlier_bytes;              /* fp16 outlier columns of W (LLM.int8(), outlier_weights fp16) */
#define QUANT_DETAIL_LEN 192
    char detail[QUANT_DETAIL_LEN];        /* on failure, what the status alone cannot say (which
                                             operand and group, the value), else "" */
} quant_matmul_info;
/* Byte counts, with g the number of scale groups of W at w_gran (1 tensor, n row or
 * channel, n k / block block) and o = outlier_cols:
 *   scheme          codes           scales                 scales2 (+ mean)        outliers
 *   fp32/fp16/bf16  4 n k / 2 n k   0                      0                       0
 *   absmax          n k             4 g                    0                       2 n o (*)
 *   zeropoint       n k             4 g + 4 g (int32 z)    0                       2 n o (*)
 *   fp8_e4m3/e5m2   n k             4 g (g: 1 or n)        0                       2 n o (*)
 *   nf4/fp4         ceil(n k / 2)   4 n k / block          0                       0
 *   nf4_dq/fp4_dq   ceil(n k / 2)   n k / block (int8)     4 ceil(n k/block/256)+4 0
 *   (*) with threshold > 0 and QUANT_OUTLIER_FP16 only; QUANT_OUTLIER_DEQUANT stores
 *   nothing extra (the outlier weights are read back from the quantized W).
 * w_bytes = w_code_bytes + w_scale_bytes + w_scale2_bytes + w_outlier_bytes.
 * x_bytes: 1 per int8 / fp8 code + 4 per float32 scale (+ 4 per zero point), plus
 * 2 m o with threshold > 0 (the fp16 outlier columns of X); float schemes 4 or 2 per
 * value; 4-bit schemes 2 m k (X fp16).
 * x_rel_err / w_rel_err compare each operand with the operand the product actually
 * used: dequantized int8 / fp8 with the outlier columns replaced by their fp16
 * values; with SmoothQuant both are measured on the smoothed operands X / s, W * s. */

/* Y [m,n] float32 = the point's quantized X W^T, the whole reference pipeline:
 * fp32/fp16/bf16: operands rounded, float32 accumulation.
 * absmax/zeropoint: int8 path; with threshold > 0 the LLM.int8() decomposition:
 *   outlier columns O of X (quant_outlier_cols); X with the columns O zeroed is
 *   quantized at x_gran; W is quantized over all its columns at w_gran (weights are
 *   quantized once, offline); Y = int8 product + X[:,O]_fp16 W[:,O]_fp16 (or the
 *   dequantized W columns rounded to fp16 for QUANT_OUTLIER_DEQUANT), the outlier
 *   product accumulated in float32.
 * fp8_e4m3/fp8_e5m2: the same pipeline (decomposition included) with fp8 codes:
 *   X at tensor or row, W at tensor or channel (row) scales, s = fmax / max|v|;
 *   Y_ij = (sum_k fp8x_ik fp8w_jk in float32) / (sx_i sw_j). Block granularity is
 *   QUANT_ERR_UNSUPPORTED (no fp8 GEMM scales per k-block).
 * smooth_alpha > 0 (int8 and fp8 schemes): X and W are first replaced by
 *   X / s and W * s per column with s = quant_smooth_scales(alpha), then the scheme
 *   runs on them (outlier columns are those of X / s).
 * nf4/fp4(_dq): W is quantized with blocks of opts->block along k (32 <= block <=
 *   4096, else QUANT_ERR_BLOCK), dequantized and rounded to fp16; X is rounded to
 *   fp16; float32 accumulation. Granularities, threshold and smooth_alpha are ignored.
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
    double cosine;       /* mean of cos(Y_i, Yr_i) over the rows whose reference Yr_i is not
                          * all zero (a zero Y_i there counts 0); NaN, undefined, when no
                          * row qualifies or Y holds a non-finite value (see the counts) */
    int64_t cosine_rows; /* rows averaged into cosine */
    int64_t zero_ref_rows;   /* rows left out of cosine: Yr_i all zero (no direction to match) */
    int64_t nonfinite;   /* elements of Y that are NaN or +-inf (e.g. fp16 overflow) */
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

/* quant_internal.h: helpers shared by the quant/ translation units, not public API.
 *
 * The int8 GEMM kernel is exposed here (with leading dimensions) so that the
 * block-granular matmul in matmul.c can run it on one k-block at a time.
 */
#ifndef QLAB_QUANT_INTERNAL_H
#define QLAB_QUANT_INTERNAL_H

#include <stdint.h>
#include "quant.h"

/* acc[i*ldc + j] = sum_{p<k} x[i*ldx + p] * w[j*ldw + p] in int32, for i < m, j < n.
 * Overwrites acc. OpenMP across row panels of x. The caller guarantees k <= 131071.
 * Returns QUANT_ERR_NOMEM if its int16 scratch slices cannot be allocated. */
quant_status quant_i8_gemm_kernel(const int8_t *x, int64_t ldx, const int8_t *w, int64_t ldw,
                                  int64_t m, int64_t n, int64_t k, int32_t *acc, int64_t ldc);
/* The kernel's two implementations, which give the same integers: the portable C one
 * (int16-widened 4x4 tiles that compilers vectorize for the build's target), and the
 * AVX-512 VNNI one of gemm_vnni.c (QUANT_ERR_UNSUPPORTED where quant_have_vnni() is 0).
 * quant_i8_gemm_kernel uses VNNI when this CPU has it (checked at run time). */
quant_status quant_i8_gemm_portable(const int8_t *x, int64_t ldx, const int8_t *w, int64_t ldw,
                                    int64_t m, int64_t n, int64_t k, int32_t *acc, int64_t ldc);
quant_status quant_i8_gemm_vnni(const int8_t *x, int64_t ldx, const int8_t *w, int64_t ldw,
                                int64_t m, int64_t n, int64_t k, int32_t *acc, int64_t ldc);
int quant_have_vnni(void);

/* The fixed-order float GEMMs of gemm.c (its header gives the order): for i < m, j < n,
 * y[i*ldy + j] (+)= sum_{p<k} x[i*ldx + p] * w[j*ldw + p]. quant_gemm_f32 accumulates in
 * float32 and, with accumulate = 1, adds the sum onto y (as a BLAS beta = 1);
 * quant_gemm_f64 accumulates in float64 and overwrites y. The same inputs give the same
 * bits on every machine and thread count. No argument checks: callers validate shapes. */
void quant_gemm_f32(const float *x, int64_t ldx, const float *w, int64_t ldw, int64_t m,
                    int64_t n, int64_t k, float *y, int64_t ldy, int accumulate);
void quant_gemm_f64(const float *x, int64_t ldx, const float *w, int64_t ldw, int64_t m,
                    int64_t n, int64_t k, double *y, int64_t ldy);

/* The memo of cache.c. A key names a sub-result by the operands and the options it
 * depends on (fields that do not matter are 0); an outlier set, when part of the key,
 * is passed beside it as k bytes. */
enum { QUANT_CACHE_W_INT8 = 1, QUANT_CACHE_OUTLIER_PRODUCT };
typedef struct {
    int kind;
    const float *x, *w;
    int64_t m, k, n;
    quant_scheme scheme;
    quant_gran gran;
    int64_t block;
    quant_outlier_weights outlier_weights;
} quant_cache_key;
/* Starts a call: entries found or put from now on are kept until the next begin. */
void quant_cache_begin(quant_cache *c);
/* The payload stored under key (and cols), or NULL. c may be NULL. */
void *quant_cache_find(quant_cache *c, const quant_cache_key *key, const uint8_t *cols);
/* Stores payload (bytes large) under key, evicting least recently used entries of
 * earlier calls to stay within the budget. Returns 1 when the cache took it (it frees
 * it later with free_payload), 0 when it did not (the caller still owns it). */
int quant_cache_put(quant_cache *c, const quant_cache_key *key, const uint8_t *cols,
                    void *payload, int64_t bytes, void (*free_payload)(void *));

/* quant_round_f16 without the F16C instructions (what it does on other CPUs), and
 * whether this CPU has them: for the test that checks the two agree bit for bit. */
void quant_round_f16_portable(const float *src, float *dst, size_t count);
int quant_have_f16c(void);

/* 1 when a, b > 0 and a * b fits in int64 and in size_t; the product in *out. */
int quant_size_mul(int64_t a, int64_t b, int64_t *out);

/* 1 when q looks like something quant_matrix_init produced (int8 scheme, buffers
 * present, group count consistent with the shape). */
int quant_matrix_valid(const quant_matrix *q);

/* Scale (and zero point for zeropoint) of `count` finite values at v[i*stride] by the
 * int8 rule of `scheme` (absmax or zeropoint): quant_group_params without its argument
 * checks, for callers that checked already (groups.c). QUANT_ERR_RANGE when the scale
 * overflows float32 (a subnormal maximum). */
quant_status quant_group_scale(quant_scheme scheme, const float *v, int64_t count, int64_t stride,
                               float *scale, int32_t *zero);

/* The roundtrip functions of the traits table (quant_scheme_traits.roundtrip), one
 * per format file: half.c (fp32, fp16, bf16), int8.c, fp8.c (declared in quant.h),
 * fourbit.c. Arguments are checked by quant_roundtrip. */
quant_status quant_float_roundtrip(quant_scheme s, quant_gran g, const float *v, int64_t rows,
                                   int64_t cols, int64_t block, float *out);
quant_status quant_int8_roundtrip(quant_scheme s, quant_gran g, const float *v, int64_t rows,
                                  int64_t cols, int64_t block, float *out);

/* The matmul pipelines of the traits table (quant_scheme_traits.matmul), in matmul.c:
 * float schemes (fp32 / rounded fp16, bf16 operands, float32 accumulation), int8 and
 * fp8 (with the LLM.int8() decomposition and SmoothQuant), weight-only 4-bit.
 * Arguments are checked by quant_matmul_scheme. */
quant_status quant_matmul_float(const quant_scheme_traits *t, const float *x, const float *w,
                                int64_t m, int64_t k, int64_t n, const quant_matmul_opts *opts,
                                float *y, quant_matmul_info *info);
quant_status quant_matmul_int8(const quant_scheme_traits *t, const float *x, const float *w,
                               int64_t m, int64_t k, int64_t n, const quant_matmul_opts *opts,
                               float *y, quant_matmul_info *info);
quant_status quant_matmul_fp8(const quant_scheme_traits *t, const float *x, const float *w,
                              int64_t m, int64_t k, int64_t n, const quant_matmul_opts *opts,
                              float *y, quant_matmul_info *info);
quant_status quant_matmul_4bit(const quant_scheme_traits *t, const float *x, const float *w,
                               int64_t m, int64_t k, int64_t n, const quant_matmul_opts *opts,
                               float *y, quant_matmul_info *info);

/* v' of v through a 4-bit scheme: blocks of `block` along cols at block granularity,
 * one block per row otherwise. */
quant_status quant_4bit_roundtrip(quant_scheme scheme, quant_gran g, const float *v,
                                  int64_t rows, int64_t cols, int64_t block, float *out);

#endif

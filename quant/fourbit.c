/* fourbit.c: weight-only 4-bit formats, nf4 and fp4, with per-block absmax and
 * optional double quantization of the block scales (QLoRA, Dettmers et al. 2023).
 *
 * A block of `block` consecutive weights along k is normalised by its absmax, each
 * normalised value takes the code of the nearest of 16 table values, and codes are
 * packed two per byte. Double quantization stores the block absmax values as int8
 * (absmax rule of int8.c, runs of 256, offset by their mean), cutting the scale cost
 * from 32 / block to about 8 / block bits per weight. The layouts and rules are
 * stated in quant.h; the CUDA kernels (kernels/fourbit.cu) read the same layout.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "quant.h"
#include "quant_internal.h"

/* NormalFloat4, as published with QLoRA (appendix E; bitsandbytes' NF4 map). */
static const float nf4_values[16] = {
    -1.0f, -0.6961928009986877f, -0.5250730514526367f, -0.39491748809814453f,
    -0.28444138169288635f, -0.18477343022823334f, -0.09105003625154495f, 0.0f,
    0.07958029955625534f, 0.16093020141124725f, 0.24611230194568634f, 0.33791524171829224f,
    0.44070982933044434f, 0.5626170039176941f, 0.7229568362236023f, 1.0f,
};
static const uint8_t nf4_sorted_codes[16] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};

/* bitsandbytes' fp4 (get_4bit_type("fp4")): {0, 0.0625, 8, 12, 4, 6, 2, 3} and their
 * negatives by code, divided by the largest magnitude 12. */
static const float fp4_values[16] = {
    0.0f, 0.0625f / 12.0f, 8.0f / 12.0f, 1.0f, 4.0f / 12.0f, 6.0f / 12.0f, 2.0f / 12.0f, 3.0f / 12.0f,
    -0.0f, -0.0625f / 12.0f, -8.0f / 12.0f, -1.0f, -4.0f / 12.0f, -6.0f / 12.0f, -2.0f / 12.0f,
    -3.0f / 12.0f,
};
/* The 15 distinct fp4 values in increasing order, as codes (-0, code 8, left out). */
static const uint8_t fp4_sorted_codes[15] = {11, 10, 13, 12, 15, 14, 9, 0, 1, 6, 7, 4, 5, 2, 3};

typedef struct {
    const float *values;
    const uint8_t *sorted;
    int n_sorted;
} fourbit_table;

static int scheme_is_4bit(quant_scheme s)
{
    return s == QUANT_SCHEME_NF4 || s == QUANT_SCHEME_FP4 || s == QUANT_SCHEME_NF4_DQ ||
           s == QUANT_SCHEME_FP4_DQ;
}

static int scheme_double_quant(quant_scheme s)
{
    return s == QUANT_SCHEME_NF4_DQ || s == QUANT_SCHEME_FP4_DQ;
}

static int table_of(quant_scheme s, fourbit_table *t)
{
    if (s == QUANT_SCHEME_NF4 || s == QUANT_SCHEME_NF4_DQ) {
        *t = (fourbit_table){nf4_values, nf4_sorted_codes, 16};
        return 1;
    }
    if (s == QUANT_SCHEME_FP4 || s == QUANT_SCHEME_FP4_DQ) {
        *t = (fourbit_table){fp4_values, fp4_sorted_codes, 15};
        return 1;
    }
    return 0;
}

const float *quant_4bit_table(quant_scheme scheme)
{
    fourbit_table t = {NULL, NULL, 0};
    return table_of(scheme, &t) ? t.values : NULL;
}

/* Binary search over the midpoints of neighbouring sorted values: the result is the
 * number of midpoints strictly below x, so x on a midpoint takes the smaller value. */
static uint8_t nearest_code(const fourbit_table *t, float x)
{
    int lo = 0, hi = t->n_sorted - 1;   /* answer in [lo, hi] */
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        float a = t->values[t->sorted[mid]], b = t->values[t->sorted[mid + 1]];
        float m = (a + b) * 0.5f;
        if (x > m)
            lo = mid + 1;
        else
            hi = mid;
    }
    return t->sorted[lo];
}

uint8_t quant_4bit_code(quant_scheme scheme, float x)
{
    fourbit_table t = {NULL, NULL, 0};
    if (!table_of(scheme, &t))
        return 0;
    return nearest_code(&t, x);
}

quant_status quant_4bit_init(quant_4bit *q, quant_scheme scheme, int64_t rows, int64_t cols,
                             int64_t block)
{
    if (!q)
        return QUANT_ERR_ARG;
    memset(q, 0, sizeof *q);
    if (!scheme_is_4bit(scheme))
        return ((int)scheme >= 0 && scheme < QUANT_SCHEME_COUNT) ? QUANT_ERR_UNSUPPORTED
                                                                 : QUANT_ERR_ARG;
    quant_status st;
    int64_t nb = quant_group_count(QUANT_GRAN_BLOCK, rows, cols, block, &st);
    if (nb < 0)
        return st;
    q->scheme = scheme;
    q->rows = rows;
    q->cols = cols;
    q->block = block;
    q->n_blocks = nb;
    int64_t total = rows * cols;
    q->codes = calloc((size_t)((total + 1) / 2), 1);
    q->absmax = malloc((size_t)nb * sizeof *q->absmax);
    int ok = q->codes && q->absmax;
    if (scheme_double_quant(scheme)) {
        q->n_dq_blocks = (nb + QUANT_DQ_BLOCK - 1) / QUANT_DQ_BLOCK;
        q->qabsmax = malloc((size_t)nb);
        q->dq_scales = malloc((size_t)q->n_dq_blocks * sizeof *q->dq_scales);
        ok = ok && q->qabsmax && q->dq_scales;
    }
    if (!ok) {
        quant_4bit_free(q);
        return QUANT_ERR_NOMEM;
    }
    return QUANT_OK;
}

void quant_4bit_free(quant_4bit *q)
{
    if (!q)
        return;
    free(q->codes);
    free(q->absmax);
    free(q->qabsmax);
    free(q->dq_scales);
    q->codes = NULL;
    q->absmax = NULL;
    q->qabsmax = NULL;
    q->dq_scales = NULL;
}

static int valid_4bit(const quant_4bit *q)
{
    if (!q || !q->codes || !q->absmax || !scheme_is_4bit(q->scheme))
        return 0;
    if (scheme_double_quant(q->scheme) && (!q->qabsmax || !q->dq_scales))
        return 0;
    quant_status st;
    return quant_group_count(QUANT_GRAN_BLOCK, q->rows, q->cols, q->block, &st) == q->n_blocks;
}

/* Second level: absmax[] becomes qabsmax / s2 + mean (see quant.h). */
static quant_status double_quantize(quant_4bit *q, float *absmax)
{
    const int64_t nb = q->n_blocks;
    double sum = 0.0;
    for (int64_t b = 0; b < nb; b++)
        sum += absmax[b];
    const float mean = (float)(sum / (double)nb);
    float *c = malloc((size_t)nb * sizeof *c);
    if (!c)
        return QUANT_ERR_NOMEM;
    for (int64_t b = 0; b < nb; b++)
        c[b] = absmax[b] - mean;
    quant_status st = QUANT_OK;
    for (int64_t r = 0; r < q->n_dq_blocks && st == QUANT_OK; r++) {
        int64_t b0 = r * QUANT_DQ_BLOCK;
        int64_t len = nb - b0 < QUANT_DQ_BLOCK ? nb - b0 : QUANT_DQ_BLOCK;
        float s2;
        st = quant_group_params(QUANT_SCHEME_ABSMAX, c + b0, len, 1, &s2, NULL);
        if (st != QUANT_OK)
            break;
        q->dq_scales[r] = s2;
        for (int64_t b = b0; b < b0 + len; b++) {
            float t = rintf(c[b] * s2);
            if (t < -127.0f)
                t = -127.0f;
            if (t > 127.0f)
                t = 127.0f;
            q->qabsmax[b] = (int8_t)t;
            absmax[b] = (float)q->qabsmax[b] / s2 + mean;
        }
    }
    q->dq_mean = mean;
    free(c);
    return st;
}

quant_status quant_4bit_quantize(const float *v, quant_4bit *q)
{
    if (!v || !valid_4bit(q))
        return QUANT_ERR_ARG;
    const int64_t total = q->rows * q->cols, bl = q->block;
    if (!quant_all_finite(v, (size_t)total))
        return QUANT_ERR_NONFINITE;
    fourbit_table t = {NULL, NULL, 0};
    table_of(q->scheme, &t);
    /* Blocks are contiguous (block divides cols): block b covers [b*bl, (b+1)*bl).
     * Every block is computed alone, so threads change no bit; with an odd block two
     * blocks share a code byte, so those run on one thread. */
    const int par = total > (1 << 16);
#pragma omp parallel for schedule(static) if (par)
    for (int64_t b = 0; b < q->n_blocks; b++) {
        float amax = 0.0f;
        for (int64_t i = b * bl; i < (b + 1) * bl; i++)
            if (fabsf(v[i]) > amax)
                amax = fabsf(v[i]);
        q->absmax[b] = amax;
    }
    if (scheme_double_quant(q->scheme)) {
        quant_status st = double_quantize(q, q->absmax);
        if (st != QUANT_OK)
            return st;
    }
    memset(q->codes, 0, (size_t)((total + 1) / 2));
#pragma omp parallel for schedule(static) if (par && bl % 2 == 0)
    for (int64_t b = 0; b < q->n_blocks; b++) {
        const float a = q->absmax[b];
        for (int64_t i = b * bl; i < (b + 1) * bl; i++) {
            float x = a != 0.0f ? v[i] / a : 0.0f;
            uint8_t c = nearest_code(&t, x);
            q->codes[i >> 1] |= (uint8_t)((i & 1) ? c : (uint8_t)(c << 4));
        }
    }
    return QUANT_OK;
}

quant_status quant_4bit_dequantize(const quant_4bit *q, float *out)
{
    if (!out || !valid_4bit(q))
        return QUANT_ERR_ARG;
    fourbit_table t = {NULL, NULL, 0};
    table_of(q->scheme, &t);
    const int64_t total = q->rows * q->cols;
#pragma omp parallel for schedule(static) if (total > (1 << 16))
    for (int64_t i = 0; i < total; i++)
        out[i] = t.values[quant_4bit_get(q->codes, i)] * q->absmax[i / q->block];
    return QUANT_OK;
}

int64_t quant_4bit_code_bytes(const quant_4bit *q)
{
    return (q->rows * q->cols + 1) / 2;
}

int64_t quant_4bit_scale_bytes(const quant_4bit *q)
{
    return scheme_double_quant(q->scheme) ? q->n_blocks : 4 * q->n_blocks;
}

int64_t quant_4bit_scale2_bytes(const quant_4bit *q)
{
    return scheme_double_quant(q->scheme) ? 4 * q->n_dq_blocks + 4 : 0;
}

/* Roundtrip for the traits table: blocks of `block` at block granularity, else one
 * block per row. */
quant_status quant_4bit_roundtrip(quant_scheme scheme, quant_gran g, const float *v,
                                  int64_t rows, int64_t cols, int64_t block, float *out)
{
    int64_t total;
    if (!v || !out || !quant_size_mul(rows, cols, &total))
        return QUANT_ERR_ARG;
    quant_4bit q;
    quant_status st = quant_4bit_init(&q, scheme, rows, cols, g == QUANT_GRAN_BLOCK ? block : cols);
    if (st != QUANT_OK)
        return st;
    st = quant_4bit_quantize(v, &q);
    if (st == QUANT_OK)
        st = quant_4bit_dequantize(&q, out);
    quant_4bit_free(&q);
    return st;
}

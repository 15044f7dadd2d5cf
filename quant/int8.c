/* int8.c: int8 quantization of a matrix (absmax, zeropoint) at every granularity.
 *
 * The per-group rule lives in one place (group_params_core) and every granularity
 * is a way of cutting the matrix into groups along the contiguous k axis. The
 * expression order is normative (DESIGN section 3): the GPU quantize kernels must
 * produce these codes bit for bit, so each float operation is written out
 * separately and the file is built with -ffp-contract=off.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "quant.h"
#include "quant_internal.h"

int quant_all_finite(const float *v, size_t count)
{
    if (!v)
        return 0;
    for (size_t i = 0; i < count; i++)
        if (!isfinite(v[i]))
            return 0;
    return 1;
}

static int scheme_is_int8(quant_scheme s)
{
    return s == QUANT_SCHEME_ABSMAX || s == QUANT_SCHEME_ZEROPOINT;
}

/* Scale and zero point of `count` finite values at v[i*stride]. */
static quant_status group_params_core(quant_scheme scheme, const float *v, int64_t count,
                                      int64_t stride, float *scale, int32_t *zero)
{
    if (scheme == QUANT_SCHEME_ABSMAX) {
        float amax = 0.0f;
        for (int64_t i = 0; i < count; i++) {
            float a = fabsf(v[i * stride]);
            if (a > amax)
                amax = a;
        }
        float s = 1.0f;
        if (amax > 0.0f) {
            s = 127.0f / amax;
            /* A subnormal maximum overflows the scale; codes would be meaningless. */
            if (!isfinite(s))
                return QUANT_ERR_RANGE;
        }
        *scale = s;
        if (zero)
            *zero = 0;
        return QUANT_OK;
    }
    /* zeropoint: the range is widened to hold 0, so z lands in [-128, 127] and 0 is exact. */
    float lo = 0.0f, hi = 0.0f;
    for (int64_t i = 0; i < count; i++) {
        float x = v[i * stride];
        if (x < lo)
            lo = x;
        if (x > hi)
            hi = x;
    }
    float s = 1.0f;
    int32_t z = -128;
    if (hi != lo) {
        float range = hi - lo;
        if (!isfinite(range))
            return QUANT_ERR_RANGE;
        s = 255.0f / range;
        if (!isfinite(s) || s == 0.0f)
            return QUANT_ERR_RANGE;
        float t = -s * lo;
        float zr = rintf(t) - 128.0f;
        /* -s*lo lies in [0, 255] up to rounding; the clamp only guards that rounding. */
        if (zr < -128.0f)
            zr = -128.0f;
        if (zr > 127.0f)
            zr = 127.0f;
        z = (int32_t)zr;
    }
    *scale = s;
    if (zero)
        *zero = z;
    return QUANT_OK;
}

quant_status quant_group_params(quant_scheme scheme, const float *v, int64_t count,
                                int64_t stride, float *scale, int32_t *zero)
{
    if (!v || !scale || count <= 0 || stride <= 0 || !scheme_is_int8(scheme))
        return QUANT_ERR_ARG;
    if (scheme == QUANT_SCHEME_ZEROPOINT && !zero)
        return QUANT_ERR_ARG;
    for (int64_t i = 0; i < count; i++)
        if (!isfinite(v[i * stride]))
            return QUANT_ERR_NONFINITE;
    return group_params_core(scheme, v, count, stride, scale, zero);
}

int64_t quant_group_count(quant_gran g, int64_t rows, int64_t cols, int64_t block, quant_status *st)
{
    quant_status dummy;
    if (!st)
        st = &dummy;
    int64_t total;
    if (!quant_size_mul(rows, cols, &total)) {
        *st = QUANT_ERR_ARG;
        return -1;
    }
    switch (g) {
    case QUANT_GRAN_TENSOR:
        *st = QUANT_OK;
        return 1;
    case QUANT_GRAN_ROW:
    case QUANT_GRAN_CHANNEL:
        *st = QUANT_OK;
        return rows;
    case QUANT_GRAN_BLOCK:
        if (block <= 0 || cols % block != 0) {
            *st = QUANT_ERR_BLOCK;
            return -1;
        }
        *st = QUANT_OK;
        return rows * (cols / block);
    default:
        *st = QUANT_ERR_ARG;
        return -1;
    }
}

quant_status quant_matrix_init(quant_matrix *q, quant_scheme scheme, quant_gran gran,
                               int64_t rows, int64_t cols, int64_t block)
{
    if (!q)
        return QUANT_ERR_ARG;
    memset(q, 0, sizeof *q);
    if (!scheme_is_int8(scheme)) {
        /* Float schemes have no codes; a valid enum value is "unsupported" here. */
        return ((int)scheme >= 0 && scheme < QUANT_SCHEME_COUNT) ? QUANT_ERR_UNSUPPORTED
                                                                 : QUANT_ERR_ARG;
    }
    quant_status st;
    int64_t ng = quant_group_count(gran, rows, cols, block, &st);
    if (ng < 0)
        return st;
    q->scheme = scheme;
    q->gran = gran;
    q->rows = rows;
    q->cols = cols;
    q->n_groups = ng;
    switch (gran) {
    case QUANT_GRAN_TENSOR:
        q->block = rows * cols;
        q->groups_per_row = 1;
        break;
    case QUANT_GRAN_BLOCK:
        q->block = block;
        q->groups_per_row = cols / block;
        break;
    default:
        q->block = cols;
        q->groups_per_row = 1;
        break;
    }
    q->codes = malloc((size_t)(rows * cols));
    q->scales = malloc((size_t)ng * sizeof *q->scales);
    if (scheme == QUANT_SCHEME_ZEROPOINT)
        q->zeros = malloc((size_t)ng * sizeof *q->zeros);
    if (!q->codes || !q->scales || (scheme == QUANT_SCHEME_ZEROPOINT && !q->zeros)) {
        quant_matrix_free(q);
        return QUANT_ERR_NOMEM;
    }
    return QUANT_OK;
}

void quant_matrix_free(quant_matrix *q)
{
    if (!q)
        return;
    free(q->codes);
    free(q->scales);
    free(q->zeros);
    q->codes = NULL;
    q->scales = NULL;
    q->zeros = NULL;
}

int quant_matrix_valid(const quant_matrix *q)
{
    if (!q || !q->codes || !q->scales || !scheme_is_int8(q->scheme))
        return 0;
    if (q->scheme == QUANT_SCHEME_ZEROPOINT && !q->zeros)
        return 0;
    quant_status st;
    int64_t ng = quant_group_count(q->gran, q->rows, q->cols, q->block, &st);
    return ng == q->n_groups;
}

/* Group index of element (r, c); tensor granularity has a single group. */
static int64_t group_of(const quant_matrix *q, int64_t r, int64_t c)
{
    if (q->gran == QUANT_GRAN_TENSOR)
        return 0;
    return r * q->groups_per_row + c / q->block;
}

static int8_t code_absmax(float v, float s)
{
    float t = rintf(v * s);
    if (t < -127.0f)
        t = -127.0f;
    if (t > 127.0f)
        t = 127.0f;
    return (int8_t)t;
}

static int8_t code_zeropoint(float v, float s, int32_t z)
{
    float vs = v * s;
    float t = rintf(vs + (float)z);
    if (t < -128.0f)
        t = -128.0f;
    if (t > 127.0f)
        t = 127.0f;
    return (int8_t)t;
}

quant_status quant_quantize(const float *v, quant_matrix *q)
{
    if (!v || !quant_matrix_valid(q))
        return QUANT_ERR_ARG;
    int64_t total = q->rows * q->cols;
    if (!quant_all_finite(v, (size_t)total))
        return QUANT_ERR_NONFINITE;

    /* Parameters first, into scratch, so that a range error leaves q untouched. */
    float *scales = malloc((size_t)q->n_groups * sizeof *scales);
    int32_t *zeros = malloc((size_t)q->n_groups * sizeof *zeros);
    if (!scales || !zeros) {
        free(scales);
        free(zeros);
        return QUANT_ERR_NOMEM;
    }
    int64_t glen = q->gran == QUANT_GRAN_TENSOR ? total : q->block;
    for (int64_t g = 0; g < q->n_groups; g++) {
        /* Groups are contiguous: row r's group b starts at r*cols + b*block = g*block. */
        quant_status st = group_params_core(q->scheme, v + g * glen, glen, 1, &scales[g], &zeros[g]);
        if (st != QUANT_OK) {
            free(scales);
            free(zeros);
            return st;
        }
    }
    memcpy(q->scales, scales, (size_t)q->n_groups * sizeof *scales);
    if (q->scheme == QUANT_SCHEME_ZEROPOINT)
        memcpy(q->zeros, zeros, (size_t)q->n_groups * sizeof *zeros);

    for (int64_t r = 0; r < q->rows; r++) {
        const float *vr = v + r * q->cols;
        int8_t *cr = q->codes + r * q->cols;
        for (int64_t c = 0; c < q->cols; c++) {
            int64_t g = group_of(q, r, c);
            cr[c] = q->scheme == QUANT_SCHEME_ABSMAX ? code_absmax(vr[c], scales[g])
                                                     : code_zeropoint(vr[c], scales[g], zeros[g]);
        }
    }
    free(scales);
    free(zeros);
    return QUANT_OK;
}

quant_status quant_dequantize(const quant_matrix *q, float *out)
{
    if (!out || !quant_matrix_valid(q))
        return QUANT_ERR_ARG;
    for (int64_t r = 0; r < q->rows; r++) {
        const int8_t *cr = q->codes + r * q->cols;
        float *o = out + r * q->cols;
        for (int64_t c = 0; c < q->cols; c++) {
            int64_t g = group_of(q, r, c);
            int32_t z = q->scheme == QUANT_SCHEME_ZEROPOINT ? q->zeros[g] : 0;
            o[c] = (float)((int32_t)cr[c] - z) / q->scales[g];
        }
    }
    return QUANT_OK;
}

quant_status quant_roundtrip(quant_scheme s, quant_gran g, const float *v, int64_t rows,
                             int64_t cols, int64_t block, float *out)
{
    int64_t total;
    if (!v || !out || !quant_size_mul(rows, cols, &total) || (int)s < 0 ||
        s >= QUANT_SCHEME_COUNT || (int)g < 0 || g >= QUANT_GRAN_COUNT)
        return QUANT_ERR_ARG;
    if (!quant_all_finite(v, (size_t)total))
        return QUANT_ERR_NONFINITE;
    switch (s) {
    case QUANT_SCHEME_FP32:
        if (out != v)
            memmove(out, v, (size_t)total * sizeof *out);
        return QUANT_OK;
    case QUANT_SCHEME_FP16:
        quant_round_f16(v, out, (size_t)total);
        return QUANT_OK;
    case QUANT_SCHEME_BF16:
        quant_round_bf16(v, out, (size_t)total);
        return QUANT_OK;
    case QUANT_SCHEME_FP8_E4M3:
    case QUANT_SCHEME_FP8_E5M2:
        return quant_fp8_roundtrip(s, g, v, rows, cols, block, out);
    case QUANT_SCHEME_NF4:
    case QUANT_SCHEME_FP4:
    case QUANT_SCHEME_NF4_DQ:
    case QUANT_SCHEME_FP4_DQ:
        return quant_4bit_roundtrip(s, g, v, rows, cols, block, out);
    default:
        break;
    }
    quant_matrix q;
    quant_status st = quant_matrix_init(&q, s, g, rows, cols, block);
    if (st != QUANT_OK)
        return st;
    st = quant_quantize(v, &q);
    if (st == QUANT_OK)
        st = quant_dequantize(&q, out);
    quant_matrix_free(&q);
    return st;
}

int64_t quant_matrix_code_bytes(const quant_matrix *q) { return q->rows * q->cols; }

int64_t quant_matrix_scale_bytes(const quant_matrix *q)
{
    return (q->scheme == QUANT_SCHEME_ZEROPOINT ? 8 : 4) * q->n_groups;
}

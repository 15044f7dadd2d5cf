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

static int scheme_is_int8(quant_scheme s)
{
    return s == QUANT_SCHEME_ABSMAX || s == QUANT_SCHEME_ZEROPOINT;
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
    /* Groups are independent (threads change nothing); the first failing group wins. */
    quant_status bad = QUANT_OK;
    int64_t bad_g = -1;
#pragma omp parallel for schedule(static) if (q->n_groups > 1 && total > (1 << 16))
    for (int64_t g = 0; g < q->n_groups; g++) {
        /* Groups are contiguous: row r's group b starts at r*cols + b*block = g*block. */
        quant_status st = quant_group_scale(q->scheme, v + g * glen, glen, 1, &scales[g], &zeros[g]);
        if (st != QUANT_OK) {
#pragma omp critical(quant_quantize_bad)
            if (bad_g < 0 || g < bad_g) {
                bad_g = g;
                bad = st;
            }
        }
    }
    if (bad != QUANT_OK) {
        /* name the group and its value for the message (quant_matrix's contract) */
        float amax = 0.0f, lo = 0.0f, hi = 0.0f;
        for (int64_t i = 0; i < glen; i++) {
            float x = v[bad_g * glen + i];
            amax = fabsf(x) > amax ? fabsf(x) : amax;
            lo = x < lo ? x : lo;
            hi = x > hi ? x : hi;
        }
        q->failed_group = bad_g;
        q->failed_value = q->scheme == QUANT_SCHEME_ABSMAX ? amax : hi - lo;
        free(scales);
        free(zeros);
        return bad;
    }
    memcpy(q->scales, scales, (size_t)q->n_groups * sizeof *scales);
    if (q->scheme == QUANT_SCHEME_ZEROPOINT)
        memcpy(q->zeros, zeros, (size_t)q->n_groups * sizeof *zeros);

#pragma omp parallel for schedule(static) if (total > (1 << 16))
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
#pragma omp parallel for schedule(static) if (q->rows * q->cols > (1 << 16))
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

quant_status quant_int8_roundtrip(quant_scheme s, quant_gran g, const float *v, int64_t rows,
                                  int64_t cols, int64_t block, float *out)
{
    if (!scheme_is_int8(s))
        return QUANT_ERR_ARG;
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

/* groups.c: what every format of quant/ shares: checked sizes, the finiteness check,
 * the geometry of quantization groups (tensor, row/channel, block along k) and the
 * int8 scale rule of a group (absmax or zeropoint), which int8.c quantizes with and
 * fourbit.c uses for its double-quantized block scales. Declared in quant.h (the
 * public ones) and quant_internal.h; no format file calls another format's file.
 *
 * The expression order of the scale rule is normative (README "Semantics"): the GPU
 * kernels reproduce these scales bit for bit; the file is built with -ffp-contract=off.
 */
#include <math.h>
#include <stdint.h>
#include "quant.h"
#include "quant_internal.h"

int quant_size_mul(int64_t a, int64_t b, int64_t *out)
{
    if (a <= 0 || b <= 0)
        return 0;
    if (a > INT64_MAX / b)
        return 0;
    int64_t p = a * b;
    if ((uint64_t)p > (uint64_t)SIZE_MAX)
        return 0;
    *out = p;
    return 1;
}

int quant_all_finite(const float *v, size_t count)
{
    if (!v)
        return 0;
    /* No early exit, so the loop vectorizes (finite inputs, the common case, read
     * every value anyway); an OR over threads is exact. */
    int bad = 0;
#pragma omp parallel for schedule(static) reduction(| : bad) if (count > (1u << 18))
    for (size_t i = 0; i < count; i++)
        bad |= !isfinite(v[i]);
    return !bad;
}

/* Scale and zero point of `count` finite values at v[i*stride]. */
quant_status quant_group_scale(quant_scheme scheme, const float *v, int64_t count,
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
    if (!v || !scale || count <= 0 || stride <= 0 || !(scheme == QUANT_SCHEME_ABSMAX || scheme == QUANT_SCHEME_ZEROPOINT))
        return QUANT_ERR_ARG;
    if (scheme == QUANT_SCHEME_ZEROPOINT && !zero)
        return QUANT_ERR_ARG;
    for (int64_t i = 0; i < count; i++)
        if (!isfinite(v[i * stride]))
            return QUANT_ERR_NONFINITE;
    return quant_group_scale(scheme, v, count, stride, scale, zero);
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


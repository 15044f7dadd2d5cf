/* smooth.c: SmoothQuant (Xiao et al. 2023) as a pre-transform of a quantized matmul.
 *
 * Activation outliers live in a few k-channels; dividing those columns of X by s_j
 * and multiplying the same columns of W by s_j leaves X W^T unchanged while moving
 * part of the range from X (hard to quantize per row) into W (easy per channel).
 * alpha sets how much: s_j = max|X_j|^alpha / max|W_j|^(1 - alpha).
 */
#include <math.h>
#include "quant.h"
#include "quant_internal.h"

quant_status quant_smooth_scales(const float *x, const float *w, int64_t m, int64_t k,
                                 int64_t n, float alpha, float *s)
{
    int64_t mk, nk;
    if (!x || !w || !s || !quant_size_mul(m, k, &mk) || !quant_size_mul(n, k, &nk) ||
        !(alpha >= 0.0f && alpha <= 1.0f))
        return QUANT_ERR_ARG;
    if (!quant_all_finite(x, (size_t)mk) || !quant_all_finite(w, (size_t)nk))
        return QUANT_ERR_NONFINITE;
    for (int64_t j = 0; j < k; j++)
        s[j] = 0.0f;   /* running max|X_j| first, so X is read row by row */
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < k; j++)
            if (fabsf(x[i * k + j]) > s[j])
                s[j] = fabsf(x[i * k + j]);
    for (int64_t j = 0; j < k; j++) {
        float wmax = 0.0f;
        for (int64_t r = 0; r < n; r++)
            if (fabsf(w[r * k + j]) > wmax)
                wmax = fabsf(w[r * k + j]);
        double xm = s[j];
        double v = 1.0;
        if (xm > 0.0 && wmax > 0.0f)
            v = pow(xm, (double)alpha) / pow((double)wmax, 1.0 - (double)alpha);
        /* A scale that overflows or vanishes in float32 would destroy the operands. */
        if (!(v > 0.0) || !isfinite((float)v) || (float)v == 0.0f)
            return QUANT_ERR_RANGE;
        s[j] = (float)v;
    }
    return QUANT_OK;
}

quant_status quant_smooth_apply(const float *x, const float *w, int64_t m, int64_t k,
                                int64_t n, const float *s, float *xs, float *ws)
{
    int64_t mk, nk;
    if (!x || !w || !s || !xs || !ws || !quant_size_mul(m, k, &mk) || !quant_size_mul(n, k, &nk))
        return QUANT_ERR_ARG;
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < k; j++)
            xs[i * k + j] = x[i * k + j] / s[j];
    for (int64_t r = 0; r < n; r++)
        for (int64_t j = 0; j < k; j++)
            ws[r * k + j] = w[r * k + j] * s[j];
    return QUANT_OK;
}

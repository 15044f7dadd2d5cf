/* smooth.c: SmoothQuant (Xiao et al. 2023) as a pre-transform of a quantized matmul.
 *
 * Activation outliers live in a few k-channels; dividing those columns of X by s_j
 * and multiplying the same columns of W by s_j leaves X W^T unchanged while moving
 * part of the range from X (hard to quantize per row) into W (easy per channel).
 * alpha sets how much: s_j = max|X_j|^alpha / max|W_j|^(1 - alpha), with the clamps
 * of the authors' code for degenerate columns (see quant_smooth_scales).
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
        /* The published rule (SmoothQuant reference code, smoothquant/smooth.py,
         * smooth_ln_fcs): the weight maximum is clamped from below at 1e-5 before the
         * power and the scale from below at 1e-5 after it. A pruned (all-zero) weight
         * column under a large activation column so gets a large s, which takes the
         * outlier out of X at no cost to W; an all-zero activation column gets 1e-5,
         * harmless since its products are 0. */
        double xm = s[j];
        double wm = wmax > 1e-5f ? (double)wmax : 1e-5;
        double v = pow(xm, (double)alpha) / pow(wm, 1.0 - (double)alpha);
        if (v < 1e-5)
            v = 1e-5;
        /* A scale that overflows float32 would destroy the operands. */
        if (!isfinite((float)v))
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

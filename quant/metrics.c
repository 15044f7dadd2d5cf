/* metrics.c: the error metrics of DESIGN section 4, computed in float64.
 *
 * One accumulation routine serves both reference precisions; each metric is named
 * for exactly what it computes. Non-finite values in y (an fp16 product that
 * overflowed) propagate into the metrics as inf or NaN rather than being hidden.
 */
#include <math.h>
#include "quant.h"

/* rel_err from the two Frobenius norms, with the rules stated in quant.h. */
static double rel_err_from_norms(double err_norm, double ref_norm)
{
    if (ref_norm == 0.0)
        return err_norm == 0.0 ? 0.0 : INFINITY;
    return err_norm / ref_norm;
}

/* Reference element r of row-major storage that is float32 (ref32) or float64. */
static double ref_at(const double *ref64, const float *ref32, int64_t i)
{
    return ref64 ? ref64[i] : (double)ref32[i];
}

static quant_status metrics_core(const float *y, const double *ref64, const float *ref32,
                                 int64_t rows, int64_t cols, quant_metrics *out)
{
    if (!y || (!ref64 && !ref32) || !out || rows <= 0 || cols <= 0)
        return QUANT_ERR_ARG;
    double err2 = 0.0, ref2 = 0.0, max_abs = 0.0, sum_abs = 0.0, cos_sum = 0.0;
    int64_t cos_rows = 0, zero_ref = 0, nonfinite = 0;
    for (int64_t r = 0; r < rows; r++) {
        double dot = 0.0, yy = 0.0, rr = 0.0;
        for (int64_t c = 0; c < cols; c++) {
            int64_t i = r * cols + c;
            double a = y[i], b = ref_at(ref64, ref32, i);
            double d = a - b;
            nonfinite += !isfinite(a);
            err2 += d * d;
            ref2 += b * b;
            double ad = fabs(d);
            if (ad > max_abs || isnan(ad))
                max_abs = ad;
            sum_abs += ad;
            dot += a * b;
            yy += a * a;
            rr += b * b;
        }
        /* A zero reference row has no direction to agree with: it is left out (and
         * counted) rather than scored 1 or 0; a zero output row under a nonzero
         * reference shares nothing with it and scores 0. */
        if (rr == 0.0) {
            zero_ref++;
            continue;
        }
        cos_rows++;
        if (yy != 0.0)
            cos_sum += dot / (sqrt(yy) * sqrt(rr));
    }
    double err_norm = sqrt(err2), ref_norm = sqrt(ref2);
    out->rel_err = rel_err_from_norms(err_norm, ref_norm);
    if (err_norm == 0.0)
        out->sqnr_db = INFINITY;
    else
        out->sqnr_db = 20.0 * log10(ref_norm / err_norm);
    out->max_abs_err = max_abs;
    out->mean_abs_err = sum_abs / ((double)rows * (double)cols);
    out->cosine = cos_rows > 0 && nonfinite == 0 ? cos_sum / (double)cos_rows : NAN;
    out->cosine_rows = cos_rows;
    out->zero_ref_rows = zero_ref;
    out->nonfinite = nonfinite;
    return QUANT_OK;
}

quant_status quant_metrics_compute(const float *y, const double *y_ref, int64_t rows,
                                   int64_t cols, quant_metrics *out)
{
    if (!y_ref)
        return QUANT_ERR_ARG;
    return metrics_core(y, y_ref, NULL, rows, cols, out);
}

quant_status quant_metrics_compute_f32(const float *y, const float *y_ref, int64_t rows,
                                       int64_t cols, quant_metrics *out)
{
    if (!y_ref)
        return QUANT_ERR_ARG;
    return metrics_core(y, NULL, y_ref, rows, cols, out);
}

double quant_rel_err_f32(const float *a, const float *b, size_t count)
{
    double err2 = 0.0, ref2 = 0.0;
    for (size_t i = 0; i < count; i++) {
        double d = (double)a[i] - (double)b[i];
        err2 += d * d;
        ref2 += (double)b[i] * (double)b[i];
    }
    return rel_err_from_norms(sqrt(err2), sqrt(ref2));
}

/* metrics.c: the error metrics of DESIGN section 4, computed in float64.
 *
 * One accumulation routine serves both reference precisions; each metric is named
 * for exactly what it computes. Non-finite values in y (an fp16 product that
 * overflowed) propagate into the metrics as inf or NaN rather than being hidden.
 *
 * Every sum runs in the order of gemm.c: eight lanes, lane l takes the elements
 * l, l+8, l+16, ... of a row (or of the whole array for quant_rel_err_f32) in
 * increasing order, and the lanes are added as ((0+1)+(2+3))+((4+5)+(6+7)); the
 * metrics over a matrix then add the rows' sums in increasing row order. GCC vector
 * extensions fix that order whatever instructions the compiler picks, and the build
 * disables FMA contraction, so the bits are the same on every x86-64 machine.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "quant.h"

#define LANES 8
typedef double v8d __attribute__((vector_size(LANES * sizeof(double))));
typedef float v8f __attribute__((vector_size(LANES * sizeof(float))));

static inline v8d load8d(const float *p)
{
    v8f v;
    memcpy(&v, p, sizeof v);
    return __builtin_convertvector(v, v8d);
}

static inline double hsum(v8d a)
{
    return ((a[0] + a[1]) + (a[2] + a[3])) + ((a[4] + a[5]) + (a[6] + a[7]));
}

/* rel_err from the two Frobenius norms, with the rules stated in quant.h. */
static double rel_err_from_norms(double err_norm, double ref_norm)
{
    if (ref_norm == 0.0)
        return err_norm == 0.0 ? 0.0 : INFINITY;
    return err_norm / ref_norm;
}

/* A row's sums, lane by lane. */
typedef struct {
    v8d err2, ref2, abs, dot, yy;
    double max_abs;
    int64_t nonfinite;
} row_sums;

/* max |d| that lets a NaN through and keeps it: once NaN, always NaN. */
static inline double max_nan(double m, double ad)
{
    return (ad > m || isnan(ad)) ? ad : m;
}

static void add_element(row_sums *s, int l, double a, double b)
{
    double d = a - b;
    s->nonfinite += !isfinite(a);
    s->err2[l] += d * d;
    s->ref2[l] += b * b;
    double ad = fabs(d);
    s->max_abs = max_nan(s->max_abs, ad);
    s->abs[l] += ad;
    s->dot[l] += a * b;
    s->yy[l] += a * a;
}

static void row_of(const float *y, const double *ref64, const float *ref32, int64_t cols, row_sums *s)
{
    memset(s, 0, sizeof *s);
    v8d mx = {0};
    int64_t c = 0;
    for (; c + LANES <= cols; c += LANES) {
        v8d a = load8d(y + c), b;
        if (ref64)
            memcpy(&b, ref64 + c, sizeof b);
        else
            b = load8d(ref32 + c);
        v8d d = a - b, ad;
        for (int l = 0; l < LANES; l++) {
            ad[l] = fabs(d[l]);
            mx[l] = max_nan(mx[l], ad[l]);
            s->nonfinite += !isfinite(a[l]);
        }
        s->err2 += d * d;
        s->ref2 += b * b;
        s->abs += ad;
        s->dot += a * b;
        s->yy += a * a;
    }
    for (int l = 0; l < LANES; l++)
        s->max_abs = max_nan(s->max_abs, mx[l]);
    for (int l = 0; c + l < cols; l++)
        add_element(s, l, y[c + l], ref64 ? ref64[c + l] : (double)ref32[c + l]);
}

static quant_status metrics_core(const float *y, const double *ref64, const float *ref32,
                                 int64_t rows, int64_t cols, quant_metrics *out)
{
    if (!y || (!ref64 && !ref32) || !out || rows <= 0 || cols <= 0)
        return QUANT_ERR_ARG;
    double err2 = 0.0, ref2 = 0.0, max_abs = 0.0, sum_abs = 0.0, cos_sum = 0.0;
    int64_t cos_rows = 0, zero_ref = 0, nonfinite = 0;
    /* Each row's sums on any thread, then the rows added in order: threads change
     * nothing. */
    row_sums *rs = aligned_alloc(_Alignof(row_sums), (size_t)rows * sizeof *rs);   /* vector members */
    if (!rs)
        return QUANT_ERR_NOMEM;
#pragma omp parallel for schedule(static) if ((double)rows * (double)cols > 1e5)
    for (int64_t r = 0; r < rows; r++)
        row_of(y + r * cols, ref64 ? ref64 + r * cols : NULL, ref32 ? ref32 + r * cols : NULL, cols, &rs[r]);
    for (int64_t r = 0; r < rows; r++) {
        const row_sums s = rs[r];
        double rr = hsum(s.ref2), yy = hsum(s.yy), dot = hsum(s.dot);
        err2 += hsum(s.err2);
        ref2 += rr;
        sum_abs += hsum(s.abs);
        max_abs = max_nan(max_abs, s.max_abs);
        nonfinite += s.nonfinite;
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
    free(rs);
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
    v8d err2 = {0}, ref2 = {0};
    size_t i = 0;
    for (; i + LANES <= count; i += LANES) {
        v8d x = load8d(a + i), r = load8d(b + i);
        v8d d = x - r;
        err2 += d * d;
        ref2 += r * r;
    }
    for (int l = 0; i + (size_t)l < count; l++) {
        double d = (double)a[i + l] - (double)b[i + l];
        err2[l] += d * d;
        ref2[l] += (double)b[i + l] * (double)b[i + l];
    }
    return rel_err_from_norms(sqrt(hsum(err2)), sqrt(hsum(ref2)));
}

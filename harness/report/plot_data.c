/* plot_data.c: data selection for `qlab plot` (see plot_internal.h).
 *
 * Everything a figure needs to decide which rows it draws and how they group:
 * row classes (float rounding, weight-only, usable), the granularity index and the
 * legend labels that name a series, the series collector with its row filters and
 * legend order, medians over a series, and the shape a point figure shows. Nothing
 * here writes files or runs gnuplot.
 */
#include "report/plot_internal.h"
#include "report/stats.h"
#include "quant/quant.h"

#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------------------- */
/* Small helpers                                                                 */

int plot_dvec_push(dvec *a, double x)
{
    if (a->n == a->cap) {
        int64_t cap = a->cap ? a->cap * 2 : 16;
        double *v = realloc(a->v, (size_t)cap * sizeof *v);
        if (!v)
            return -1;
        a->v = v;
        a->cap = cap;
    }
    a->v[a->n++] = x;
    return 0;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Median of a->v (reorders it); NaN when empty. */
double plot_dvec_median(dvec *a)
{
    if (a->n == 0)
        return NAN;
    qsort(a->v, (size_t)a->n, sizeof *a->v, cmp_double);
    if (a->n % 2)
        return a->v[a->n / 2];
    return 0.5 * (a->v[a->n / 2 - 1] + a->v[a->n / 2]);
}

/* Sorted distinct values of a (a is sorted in place, deduplicated). */
void plot_dvec_unique(dvec *a)
{
    if (a->n == 0)
        return;
    qsort(a->v, (size_t)a->n, sizeof *a->v, cmp_double);
    int64_t w = 1;
    for (int64_t i = 1; i < a->n; i++)
        if (a->v[i] != a->v[w - 1])
            a->v[w++] = a->v[i];
    a->n = w;
}

int plot_is_float(const qlab_row *r)
{
    const char *s = r->p.scheme;
    if (!strcmp(s, "fp32") || !strcmp(s, "fp16") || !strcmp(s, "bf16"))
        return 1;
    /* schemes without operand granularities are float roundings (config.c writes "" or "-") */
    return (r->p.x_granularity[0] == '\0' || !strcmp(r->p.x_granularity, "-")) &&
           (r->p.w_granularity[0] == '\0' || !strcmp(r->p.w_granularity, "-"));
}

int plot_row_usable(const qlab_row *r)
{
    return r->status == QLAB_STATUS_OK && isfinite(r->rel_err);
}

/* Fixed order of schemes in legends and bar clusters: float baselines, int8, fp8,
 * 4-bit, then schemes this list does not name yet (traits table order). */
static int scheme_rank(const char *s)
{
    /* each 4-bit format next to its double-quantized variant */
    static const char *order[] = {"fp32", "fp16",     "bf16",     "absmax", "zeropoint", "fp8_e4m3",
                                  "fp8_e5m2", "nf4", "nf4_dq", "fp4",    "fp4_dq"};
    for (int i = 0; i < (int)(sizeof order / sizeof order[0]); i++)
        if (!strcmp(s, order[i]))
            return i;
    return 100 + (int)quant_scheme_from_name(s);
}

/* Weight-only schemes (4-bit): X keeps no granularity, W is blocked. */
int plot_is_weight_only(const qlab_row *r)
{
    return (r->p.x_granularity[0] == '\0' || !strcmp(r->p.x_granularity, "-")) &&
           r->p.w_granularity[0] != '\0' && strcmp(r->p.w_granularity, "-");
}

/* SmoothQuant on (a style key and a legend suffix). */
int plot_is_smooth(const qlab_row *r)
{
    return r->p.smooth_alpha > 0;
}

/* Index of a granularity combination, 1-based; plots/style.gp maps it to a marker
 * shape and a bar fill pattern, so the same combination looks the same everywhere. */
int plot_gran_index(const qlab_row *r)
{
    static const char *combos[][2] = {
        {"tensor", "tensor"}, {"tensor", "channel"}, {"row", "tensor"},
        {"row", "channel"},   {"block", "block"},    {"row", "block"},
    };
    if (plot_is_float(r))
        return 1;
    for (int i = 0; i < 6; i++)
        if (!strcmp(r->p.x_granularity, combos[i][0]) && !strcmp(r->p.w_granularity, combos[i][1]))
            return i + 1;
    if (plot_is_weight_only(r) && !strcmp(r->p.w_granularity, "block"))
        return 7;
    return N_GRAN;
}

void plot_gran_label(const qlab_row *r, char *buf, size_t len)
{
    char xg[48], wg[48];
    if (plot_is_weight_only(r)) {
        if (!strcmp(r->p.w_granularity, "block"))
            snprintf(buf, len, "w=block%lld, x fp16", (long long)r->p.block);
        else
            snprintf(buf, len, "w=%s, x fp16", r->p.w_granularity);
        return;
    }
    if (!strcmp(r->p.x_granularity, "block"))
        snprintf(xg, sizeof xg, "block%lld", (long long)r->p.block);
    else
        snprintf(xg, sizeof xg, "%s", r->p.x_granularity);
    if (!strcmp(r->p.w_granularity, "block"))
        snprintf(wg, sizeof wg, "block%lld", (long long)r->p.block);
    else
        snprintf(wg, sizeof wg, "%s", r->p.w_granularity);
    snprintf(buf, len, "x=%s w=%s", xg, wg);
}

/* Legend text of the series a row belongs to. with_t: include the threshold (figures
 * whose x axis is not the threshold). The outlier weights mode is named only when it
 * is not the paper's fp16. */
void plot_series_label(const qlab_row *r, int flags, char *buf, size_t len)
{
    if (plot_is_float(r)) {
        snprintf(buf, len, "%s", r->p.scheme);
        return;
    }
    char g[112];
    if (!(flags & LBL_NOGRAN))
        plot_gran_label(r, g, sizeof g);
    else if (plot_is_weight_only(r) && !strcmp(r->p.w_granularity, "block"))
        snprintf(g, sizeof g, "block%lld", (long long)r->p.block);
    else
        g[0] = '\0';
    char t[64] = "";
    if (r->p.threshold > 0 && (flags & LBL_T))
        snprintf(t, sizeof t, " t=%g", r->p.threshold);
    char ow[64] = "";
    if (r->p.threshold > 0 && !strcmp(r->p.outlier_weights, "dequant"))
        snprintf(ow, sizeof ow, " outlier-W=dequant");
    char sq[48] = "";
    if (plot_is_smooth(r))
        snprintf(sq, sizeof sq, " SQ a=%g", r->p.smooth_alpha);
    snprintf(buf, len, "%s%s%s%s%s%s", r->p.scheme, g[0] ? " " : "", g, t, ow, sq);
}

/* Legend text for weight-only figures: the X granularity does not change W's bytes. */
void plot_series_label_w(const qlab_row *r, char *buf, size_t len)
{
    if (plot_is_float(r)) {
        snprintf(buf, len, "%s", r->p.scheme);
        return;
    }
    char wg[48];
    if (!strcmp(r->p.w_granularity, "block"))
        snprintf(wg, sizeof wg, "block%lld", (long long)r->p.block);
    else
        snprintf(wg, sizeof wg, "%s", r->p.w_granularity);
    char t[64] = "";
    if (r->p.threshold > 0)
        snprintf(t, sizeof t, " t=%g%s", r->p.threshold,
                 !strcmp(r->p.outlier_weights, "dequant") ? " outlier-W=dequant" : "");
    snprintf(buf, len, "%s w=%s%s", r->p.scheme, wg, t);
}

int plot_same_shape(const qlab_row *a, const qlab_row *b)
{
    return a->p.m == b->p.m && a->p.k == b->p.k && a->p.n == b->p.n;
}

double plot_shape_size(const qlab_row *r)
{
    return (double)r->p.m * (double)r->p.k * (double)r->p.n;
}

/* ---------------------------------------------------------------------------- */
/* Series: rows grouped by legend label                                          */

int plot_series_add(series_set *ss, const char *label, const qlab_row *r, int64_t idx)
{
    series *s = NULL;
    for (int i = 0; i < ss->n; i++)
        if (!strcmp(ss->s[i].label, label)) {
            s = &ss->s[i];
            break;
        }
    if (!s) {
        if (ss->n == ss->cap) {
            int cap = ss->cap ? ss->cap * 2 : 8;
            series *v = realloc(ss->s, (size_t)cap * sizeof *v);
            if (!v)
                return -1;
            ss->s = v;
            ss->cap = cap;
        }
        s = &ss->s[ss->n++];
        memset(s, 0, sizeof *s);
        snprintf(s->label, sizeof s->label, "%s", label);
        s->first = r;
    }
    if (s->n == s->cap) {
        int64_t cap = s->cap ? s->cap * 2 : 16;
        int64_t *v = realloc(s->rows, (size_t)cap * sizeof *v);
        if (!v)
            return -1;
        s->rows = v;
        s->cap = cap;
    }
    s->rows[s->n++] = idx;
    return 0;
}

void plot_series_free(series_set *ss)
{
    for (int i = 0; i < ss->n; i++)
        free(ss->s[i].rows);
    free(ss->s);
    memset(ss, 0, sizeof *ss);
}

/* Legend order: scheme (traits table order), granularity, SmoothQuant alpha,
 * threshold, then the label. */
int plot_cmp_rows(const qlab_row *x, const char *xl, const qlab_row *y, const char *yl)
{
    int d = scheme_rank(x->p.scheme) - scheme_rank(y->p.scheme);
    if (d)
        return d;
    d = strcmp(x->p.scheme, y->p.scheme);
    if (d)
        return d;
    d = plot_gran_index(x) - plot_gran_index(y);
    if (d)
        return d;
    if (x->p.smooth_alpha != y->p.smooth_alpha)
        return x->p.smooth_alpha < y->p.smooth_alpha ? -1 : 1;
    if (x->p.threshold != y->p.threshold)
        return x->p.threshold < y->p.threshold ? -1 : 1;
    return strcmp(xl, yl);
}

int plot_cmp_series(const void *a, const void *b)
{
    const series *x = a, *y = b;
    return plot_cmp_rows(x->first, x->label, y->first, y->label);
}

/* ---------------------------------------------------------------------------- */
/* Row filters, medians, shapes                                                  */

/* The figure's series: the rows `want` accepts grouped by their label (plot_series_label
 * with `flags`), sorted by plot_cmp_series. Returns 0, or 2 with c->err on out of
 * memory (ss is then empty). */
int plot_collect_series(plot_ctx *c, int (*want)(const qlab_row *), int flags, series_set *ss)
{
    const qlab_results_data *d = c->d;
    memset(ss, 0, sizeof *ss);
    for (int64_t i = 0; i < d->n_points; i++) {
        const qlab_row *r = &d->points[i];
        if (!want(r))
            continue;
        char lab[256];
        plot_series_label(r, flags, lab, sizeof lab);
        if (plot_series_add(ss, lab, r, i)) {
            plot_series_free(ss);
            snprintf(c->err, c->err_len, "plot: out of memory");
            return 2;
        }
    }
    if (ss->n > 1)   /* no series: ss->s may be NULL, which qsort must not get */
        qsort(ss->s, (size_t)ss->n, sizeof *ss->s, plot_cmp_series);
    return 0;
}

/* The threshold > 0 closest to the paper's 6 among usable int8 rows (0 if none). */
double plot_representative_threshold(const qlab_results_data *d)
{
    double best = 0;
    for (int64_t i = 0; i < d->n_points; i++) {
        const qlab_row *r = &d->points[i];
        if (r->status != QLAB_STATUS_OK || r->p.threshold <= 0)
            continue;
        double t = r->p.threshold;
        if (best == 0 || fabs(t - 6) < fabs(best - 6) || (fabs(t - 6) == fabs(best - 6) && t > best))
            best = t;
    }
    return best;
}

/* Median of field f over rows of s (or all points when s is NULL) that satisfy
 * pred(r, arg); pred NULL accepts every row. Non-finite values are left out. */
double plot_median_where(const qlab_results_data *d, const series *s, row_field f,
                         row_pred pred, double arg)
{
    dvec v = {0};
    int64_t n = s ? s->n : d->n_points;
    for (int64_t i = 0; i < n; i++) {
        const qlab_row *r = &d->points[s ? s->rows[i] : i];
        if (pred && !pred(r, arg))
            continue;
        double x = f(r);
        if (isfinite(x))
            plot_dvec_push(&v, x);
    }
    double m = plot_dvec_median(&v);
    free(v.v);
    return m;
}

int plot_draws_where(const qlab_results_data *d, const series *s, row_field f, row_pred pred, double arg,
                     double *mean, double *lo, double *hi)
{
    dvec v = {0};
    uint64_t seed0 = 0;
    int first = 1, seeds_differ = 0;
    for (int64_t i = 0; i < s->n; i++) {
        const qlab_row *r = &d->points[s->rows[i]];
        if (pred && !pred(r, arg))
            continue;
        double x = f(r);
        if (!isfinite(x))
            continue;
        if (first)
            seed0 = r->p.seed;
        seeds_differ |= !first && r->p.seed != seed0;
        first = 0;
        plot_dvec_push(&v, x);
    }
    int draws = seeds_differ && v.n > 1;
    if (draws) {
        double half;
        qlab_mean_ci95(v.v, v.n, mean, &half);
        *lo = *mean - half;
        *hi = *mean + half;
    } else {
        *mean = *lo = *hi = plot_dvec_median(&v);
    }
    free(v.v);
    return draws;
}

/* Subtitle naming the data of a figure (see plot_internal.h). */
void plot_shape_desc(const qlab_results_data *d, const qlab_row *r, char *buf, size_t len)
{
    if (!strcmp(r->p.workload, "model")) {
        snprintf(buf, len, "%s sentence embeddings%s%s%s", r->p.model[0] ? r->p.model : "model",
                 r->p.mode[0] ? " (" : "", r->p.mode, r->p.mode[0] ? ")" : "");
        return;
    }
    if (!strcmp(r->p.workload, "dump")) {
        /* distinct layers among usable dump rows */
        int64_t n_layers = 0;
        const char *one = r->p.layer;
        for (int64_t i = 0; i < d->n_points; i++) {
            const qlab_row *q = &d->points[i];
            if (!plot_row_usable(q) || strcmp(q->p.workload, "dump"))
                continue;
            int seen = 0;
            for (int64_t j = 0; j < i && !seen; j++)
                seen = plot_row_usable(&d->points[j]) && !strcmp(d->points[j].p.layer, q->p.layer);
            n_layers += !seen;
            one = q->p.layer;
        }
        if (n_layers > 1)
            snprintf(buf, len, "median over %lld dump layers", (long long)n_layers);
        else
            snprintf(buf, len, "m=%lld k=%lld n=%lld, layer %s", (long long)r->p.m, (long long)r->p.k,
                     (long long)r->p.n, one);
        return;
    }
    snprintf(buf, len, "m=%lld k=%lld n=%lld", (long long)r->p.m, (long long)r->p.k, (long long)r->p.n);
}

/* ---------------------------------------------------------------------------- */
/* Column values, families, subsets                                              */

void plot_col_text(const qlab_row *r, const qlab_column *c, char *buf, size_t len)
{
    const char *p = (const char *)r + c->offset;
    switch (c->kind) {
    case QLAB_COL_F64: { double v; memcpy(&v, p, 8); snprintf(buf, len, "%g", v == 0 ? 0.0 : v); break; }
    case QLAB_COL_I64: { int64_t v; memcpy(&v, p, 8); snprintf(buf, len, "%lld", (long long)v); break; }
    case QLAB_COL_U64: { uint64_t v; memcpy(&v, p, 8); snprintf(buf, len, "%llu", (unsigned long long)v); break; }
    case QLAB_COL_I32:
    case QLAB_COL_STATUS: { int32_t v; memcpy(&v, p, 4); snprintf(buf, len, "%d", (int)v); break; }
    case QLAB_COL_STR: {
        const char *base = memchr(p, '\0', c->size) ? strrchr(p, '/') : NULL;
        snprintf(buf, len, "%.*s", (int)(c->size < 120 ? c->size : 120), base ? base + 1 : p);
        break;
    }
    }
    for (char *q = buf; *q; q++)   /* a file or folder name: no separators */
        if (*q == '/' || *q == ' ')
            *q = '_';
}

double plot_col_num(const qlab_row *r, const qlab_column *c)
{
    const char *p = (const char *)r + c->offset;
    switch (c->kind) {
    case QLAB_COL_F64: { double v; memcpy(&v, p, 8); return v; }
    case QLAB_COL_I64: { int64_t v; memcpy(&v, p, 8); return (double)v; }
    case QLAB_COL_U64: { uint64_t v; memcpy(&v, p, 8); return (double)v; }
    case QLAB_COL_I32: { int32_t v; memcpy(&v, p, 4); return v; }
    default: return NAN;
    }
}

double plot_value(const qlab_row *r, const char *name)
{
    if (!strcmp(name, "w_bits"))
        return r->w_bytes > 0 && r->w_bytes_fp16 > 0 ? 16.0 * (double)r->w_bytes / (double)r->w_bytes_fp16 : NAN;
    const qlab_column *c = qlab_results_column("points", name);
    return c ? plot_col_num(r, c) : NAN;
}

const char *plot_family_of(const char *scheme)
{
    if (!strcmp(scheme, "fp32") || !strcmp(scheme, "fp16") || !strcmp(scheme, "bf16"))
        return "float";
    if (!strncmp(scheme, "fp8", 3))
        return "fp8";
    if (!strcmp(scheme, "absmax") || !strcmp(scheme, "zeropoint"))
        return "int8";
    return "4bit";
}

int plot_subset(const qlab_results_data *d, const char *keep, qlab_results_data *sub)
{
    *sub = *d;
    sub->n_points = sub->n_layers = sub->n_samples = 0;
    sub->points = malloc(((size_t)d->n_points + 1) * sizeof *sub->points);
    sub->layers = malloc(((size_t)d->n_layers + 1) * sizeof *sub->layers);
    sub->samples = malloc(((size_t)d->n_samples + 1) * sizeof *sub->samples);
    /* kept point ids (ids are dense, 0..n-1 in a run; resume and merge keep them so) */
    int64_t max_id = 0;
    for (int64_t i = 0; i < d->n_points; i++)
        max_id = d->points[i].p.id > max_id ? d->points[i].p.id : max_id;
    char *by_id = max_id < INT32_MAX ? calloc((size_t)max_id + 1, 1) : NULL;
    if (!sub->points || !sub->layers || !sub->samples || !by_id) {
        free(by_id);
        plot_subset_free(sub);
        return -1;
    }
    for (int64_t i = 0; i < d->n_points; i++)
        if (keep[i]) {
            sub->points[sub->n_points++] = d->points[i];
            if (d->points[i].p.id >= 0)
                by_id[d->points[i].p.id] = 1;
        }
    for (int64_t l = 0; l < d->n_layers; l++) {
        int64_t id = d->layers[l].point_id;
        if (id >= 0 && id <= max_id && by_id[id])
            sub->layers[sub->n_layers++] = d->layers[l];
    }
    for (int64_t k = 0; k < d->n_samples; k++) {
        int64_t id = d->samples[k].point_id;
        if (id >= 0 && id <= max_id && by_id[id])
            sub->samples[sub->n_samples++] = d->samples[k];
    }
    free(by_id);
    return 0;
}

void plot_subset_free(qlab_results_data *sub)
{
    free(sub->points);
    free(sub->layers);
    free(sub->samples);
    sub->points = NULL;
    sub->layers = NULL;
    sub->samples = NULL;
    sub->n_points = sub->n_layers = sub->n_samples = 0;
}

/* plot.c: `qlab plot`, results -> figures through gnuplot (see plot.h).
 *
 * Every figure follows the same path: select the rows that feed it (status ok,
 * finite metrics), pick one shape where the figure cannot mix shapes (the largest
 * one that supports it, named in the subtitle), group rows into series (scheme +
 * granularities [+ threshold]), reduce repeated rows (seeds, distributions) to their
 * median, write one small TSV per series, then run plots/<figure>.gp twice (png,
 * pdf). The TSVs carry a header line, so the scripts take legend text from it and
 * need no parsing of their own; style keys (scheme, granularity index, decomposition
 * flag) travel as -e variables so that plots/style.gp alone decides the look.
 */
#include "plot.h"
#include "gnuplot.h"

#include <errno.h>
#include <dirent.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

/* ---------------------------------------------------------------------------- */
/* Small helpers                                                                 */

typedef struct {
    double *v;
    int64_t n, cap;
} dvec;

static int dvec_push(dvec *a, double x)
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
static double dvec_median(dvec *a)
{
    if (a->n == 0)
        return NAN;
    qsort(a->v, (size_t)a->n, sizeof *a->v, cmp_double);
    if (a->n % 2)
        return a->v[a->n / 2];
    return 0.5 * (a->v[a->n / 2 - 1] + a->v[a->n / 2]);
}

/* Sorted distinct values of a (a is sorted in place, deduplicated). */
static void dvec_unique(dvec *a)
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

static int is_float_scheme(const qlab_row *r)
{
    const char *s = r->p.scheme;
    if (!strcmp(s, "fp32") || !strcmp(s, "fp16") || !strcmp(s, "bf16"))
        return 1;
    /* schemes without operand granularities are float roundings (config.c writes "" or "-") */
    return (r->p.x_granularity[0] == '\0' || !strcmp(r->p.x_granularity, "-")) &&
           (r->p.w_granularity[0] == '\0' || !strcmp(r->p.w_granularity, "-"));
}

static int row_usable(const qlab_row *r)
{
    return r->status == QLAB_STATUS_OK && isfinite(r->rel_err);
}

/* Fixed order of schemes in legends and bar clusters: baselines first. */
static int scheme_rank(const char *s)
{
    static const char *order[] = {"fp32", "fp16", "bf16", "absmax", "zeropoint"};
    for (int i = 0; i < 5; i++)
        if (!strcmp(s, order[i]))
            return i;
    return 5;
}

/* Index of a granularity combination, 1-based; plots/style.gp maps it to a marker
 * shape and a bar fill pattern, so the same combination looks the same everywhere. */
static int gran_index(const qlab_row *r)
{
    static const char *combos[][2] = {
        {"tensor", "tensor"}, {"tensor", "channel"}, {"row", "tensor"},
        {"row", "channel"},   {"block", "block"},    {"row", "block"},
    };
    if (is_float_scheme(r))
        return 1;
    for (int i = 0; i < 6; i++)
        if (!strcmp(r->p.x_granularity, combos[i][0]) && !strcmp(r->p.w_granularity, combos[i][1]))
            return i + 1;
    return 7;
}

static void gran_label(const qlab_row *r, char *buf, size_t len)
{
    char xg[48], wg[48];
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
static void series_label(const qlab_row *r, int with_t, char *buf, size_t len)
{
    if (is_float_scheme(r)) {
        snprintf(buf, len, "%s", r->p.scheme);
        return;
    }
    char g[112];
    gran_label(r, g, sizeof g);
    char t[64] = "";
    if (r->p.threshold > 0 && with_t)
        snprintf(t, sizeof t, " t=%g", r->p.threshold);
    char ow[64] = "";
    if (r->p.threshold > 0 && !strcmp(r->p.outlier_weights, "dequant"))
        snprintf(ow, sizeof ow, " outlier-W=dequant");
    snprintf(buf, len, "%s %s%s%s", r->p.scheme, g, t, ow);
}

/* Legend text for weight-only figures: the X granularity does not change W's bytes. */
static void series_label_w(const qlab_row *r, char *buf, size_t len)
{
    if (is_float_scheme(r)) {
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

static int same_shape(const qlab_row *a, const qlab_row *b)
{
    return a->p.m == b->p.m && a->p.k == b->p.k && a->p.n == b->p.n;
}

static double shape_size(const qlab_row *r)
{
    return (double)r->p.m * (double)r->p.k * (double)r->p.n;
}

/* ---------------------------------------------------------------------------- */
/* Series: rows grouped by legend label                                          */

typedef struct {
    char label[256];
    const qlab_row *first;     /* style keys come from here */
    int64_t *rows;             /* indices into the data's points */
    int64_t n, cap;
} series;

typedef struct {
    series *s;
    int n, cap;
} series_set;

static int series_add(series_set *ss, const char *label, const qlab_row *r, int64_t idx)
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

static void series_set_free(series_set *ss)
{
    for (int i = 0; i < ss->n; i++)
        free(ss->s[i].rows);
    free(ss->s);
    memset(ss, 0, sizeof *ss);
}

static int cmp_series(const void *a, const void *b)
{
    const series *x = a, *y = b;
    int d = scheme_rank(x->first->p.scheme) - scheme_rank(y->first->p.scheme);
    if (d)
        return d;
    d = strcmp(x->first->p.scheme, y->first->p.scheme);
    if (d)
        return d;
    d = gran_index(x->first) - gran_index(y->first);
    if (d)
        return d;
    if (x->first->p.threshold != y->first->p.threshold)
        return x->first->p.threshold < y->first->p.threshold ? -1 : 1;
    return strcmp(x->label, y->label);
}

/* ---------------------------------------------------------------------------- */
/* Context and gnuplot runs                                                      */

typedef struct {
    const qlab_results_data *d;
    const char *out_dir;
    char tmp[PATH_MAX];
    char scripts[PATH_MAX];
    char gnuplot[PATH_MAX];
    char title[512];           /* experiment, backend, device */
    FILE *log;
    char *err;
    size_t err_len;
    int drawn, skipped;
    double rep_t;              /* the one threshold > 0 shown where t is not the x axis */
} plot_ctx;

/* Figures whose x axis is not the threshold show t = 0 and one threshold > 0: a line
 * per threshold would multiply the series without showing anything the threshold
 * figure does not. */
static int keep_t(const plot_ctx *c, const qlab_row *r)
{
    return r->p.threshold <= 0 || r->p.threshold == c->rep_t;
}

/* The threshold > 0 closest to the paper's 6 among usable int8 rows (0 if none). */
static double representative_threshold(const qlab_results_data *d)
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

static void logf_(plot_ctx *c, const char *fmt, ...)
{
    if (!c->log)
        return;
    va_list ap;
    va_start(ap, fmt);
    vfprintf(c->log, fmt, ap);
    va_end(ap);
    fputc('\n', c->log);
    fflush(c->log);
}

static int skip(plot_ctx *c, const char *fig, const char *why)
{
    logf_(c, "skipped %s: %s", fig, why);
    c->skipped++;
    return 1;
}

/* Runs plots/<fig>.gp for png and pdf with `vars` (gnuplot statements) added to the
 * common ones. Returns 0, or 2 with gnuplot's own message in err. */
static int draw(plot_ctx *c, const char *fig, const char *subtitle, const char *vars)
{
    static const char *terms[] = {"png", "pdf"};
    char script[PATH_MAX + 64];
    snprintf(script, sizeof script, "%s/%s.gp", c->scripts, fig);
    if (access(script, R_OK) != 0) {
        snprintf(c->err, c->err_len, "plot: script %s not found", script);
        return 2;
    }
    for (int t = 0; t < 2; t++) {
        char out[PATH_MAX + 64];
        snprintf(out, sizeof out, "%s/%s.%s", c->out_dir, fig, terms[t]);
        char q_dir[PATH_MAX * 2 + 3], q_out[PATH_MAX * 2 + 3], q_scr[PATH_MAX * 2 + 3];
        char q_ttl[1100], q_sub[1100];
        qlab_gp_quote(c->tmp, q_dir, sizeof q_dir);
        qlab_gp_quote(out, q_out, sizeof q_out);
        qlab_gp_quote(c->scripts, q_scr, sizeof q_scr);
        qlab_gp_quote(c->title, q_ttl, sizeof q_ttl);
        qlab_gp_quote(subtitle ? subtitle : "", q_sub, sizeof q_sub);
        size_t elen = strlen(vars) + sizeof q_dir + sizeof q_out + sizeof q_scr + 2400;
        char *e = malloc(elen);
        if (!e) {
            snprintf(c->err, c->err_len, "plot: out of memory");
            return 2;
        }
        snprintf(e, elen, "dir=%s; out=%s; scripts=%s; ttl=%s; sub=%s; term='%s'; %s",
                 q_dir, q_out, q_scr, q_ttl, q_sub, terms[t], vars);
        int killed;
        char msg[1024];
        int rc = qlab_gp_run(c->gnuplot, e, script, out, &killed, msg, sizeof msg);
        free(e);
        if (rc == 3) {
            snprintf(c->err, c->err_len, "plot: %s", msg);
            return 2;
        }
        if (rc == 1) {
            snprintf(c->err, c->err_len, "plot: gnuplot failed on %s (%s): %s", script,
                     killed ? "killed" : "exit status", msg);
            return 2;
        }
        if (rc == 2) {
            snprintf(c->err, c->err_len, "plot: gnuplot wrote no %s (%s): %s", out, script, msg);
            return 2;
        }
        logf_(c, "%s", out);
    }
    c->drawn++;
    return 0;
}

static FILE *tsv_open(plot_ctx *c, const char *name)
{
    char p[PATH_MAX + 64];
    snprintf(p, sizeof p, "%s/%s", c->tmp, name);
    FILE *f = fopen(p, "w");
    if (!f)
        snprintf(c->err, c->err_len, "plot: cannot write %s: %s", p, strerror(errno));
    return f;
}

/* Appends the style keys of series s (scheme name, granularity index, decomposition
 * flag) to the three space-separated lists that plots/style.gp reads. */
static void style_keys(const qlab_row *r, char *sch, char *grn, char *dec, size_t len)
{
    size_t a = strlen(sch), b = strlen(grn), d = strlen(dec);
    snprintf(sch + a, len - a, "%s%s", a ? " " : "", r->p.scheme);
    snprintf(grn + b, len - b, "%s%d", b ? " " : "", gran_index(r));
    snprintf(dec + d, len - d, "%s%d", d ? " " : "", r->p.threshold > 0 ? 1 : 0);
}

/* Median of a row field over a set of rows. */
typedef double (*row_field)(const qlab_row *r);
static double f_rel_err(const qlab_row *r) { return r->rel_err; }
static double f_outlier_frac(const qlab_row *r) { return r->outlier_frac; }
static double f_speedup(const qlab_row *r) { return r->speedup_vs_fp16; }
static double f_median_us(const qlab_row *r) { return r->t.median_us; }
static double f_fp16_us(const qlab_row *r) { return r->fp16_median_us; }
static double f_tops(const qlab_row *r) { return r->tops; }
static double f_gbps(const qlab_row *r) { return r->gbps; }
static double f_w_bytes(const qlab_row *r) { return (double)r->w_bytes; }
static double f_w_bytes_fp16(const qlab_row *r) { return (double)r->w_bytes_fp16; }
static double f_outlier_cols(const qlab_row *r) { return (double)r->outlier_cols; }

/* Median of field f over rows of s (or all points when s is NULL) that satisfy
 * pred(r, arg); pred NULL accepts every row. Non-finite values are left out. */
typedef int (*row_pred)(const qlab_row *r, double arg);
static double median_where(const qlab_results_data *d, const series *s, row_field f,
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
            dvec_push(&v, x);
    }
    double m = dvec_median(&v);
    free(v.v);
    return m;
}

static int p_threshold(const qlab_row *r, double t) { return r->p.threshold == t; }
static int p_k(const qlab_row *r, double k) { return (double)r->p.k == k; }
static int p_depth(const qlab_row *r, double x) { return (double)r->p.depth == x; }

/* ---------------------------------------------------------------------------- */
/* Figure 1: error vs outlier threshold                                         */

static int int8_rows_thresholds(const qlab_results_data *d, const qlab_row *shape, dvec *ts)
{
    ts->n = 0;
    for (int64_t i = 0; i < d->n_points; i++) {
        const qlab_row *r = &d->points[i];
        if (row_usable(r) && !is_float_scheme(r) && same_shape(r, shape))
            dvec_push(ts, r->p.threshold);
    }
    dvec_unique(ts);
    return (int)ts->n;
}

static int fig_threshold(plot_ctx *c)
{
    const char *fig = "error_vs_threshold";
    const qlab_results_data *d = c->d;
    const qlab_row *shape = NULL;
    int n_shapes = 0;
    dvec ts = {0};
    /* the largest shape with more than one threshold: the bigger the matmul, the closer to a real layer */
    for (int64_t i = 0; i < d->n_points; i++) {
        const qlab_row *r = &d->points[i];
        if (!row_usable(r) || is_float_scheme(r))
            continue;
        int seen = 0;
        for (int64_t j = 0; j < i && !seen; j++)
            seen = row_usable(&d->points[j]) && !is_float_scheme(&d->points[j]) && same_shape(&d->points[j], r);
        if (seen)
            continue;
        if (int8_rows_thresholds(d, r, &ts) > 1) {
            n_shapes++;
            if (!shape || shape_size(r) > shape_size(shape))
                shape = r;
        }
    }
    free(ts.v);
    if (!shape)
        return skip(c, fig, "needs int8 points at more than one outlier threshold");

    /* series: int8 rows with t > 0; the t = 0 rows of the same scheme and granularity
     * join every such series as its left end */
    series_set ss = {0};
    for (int64_t i = 0; i < d->n_points; i++) {
        const qlab_row *r = &d->points[i];
        if (!row_usable(r) || is_float_scheme(r) || !same_shape(r, shape) || r->p.threshold <= 0)
            continue;
        char lab[256];
        series_label(r, 0, lab, sizeof lab);
        if (series_add(&ss, lab, r, i)) {
            series_set_free(&ss);
            snprintf(c->err, c->err_len, "plot: out of memory");
            return 2;
        }
    }
    if (ss.n == 0) {
        series_set_free(&ss);
        return skip(c, fig, "needs int8 points with an outlier threshold > 0");
    }
    for (int i = 0; i < ss.n; i++) {
        const qlab_row *f = ss.s[i].first;
        for (int64_t j = 0; j < d->n_points; j++) {
            const qlab_row *r = &d->points[j];
            if (row_usable(r) && same_shape(r, shape) && r->p.threshold == 0 &&
                !strcmp(r->p.scheme, f->p.scheme) && !strcmp(r->p.x_granularity, f->p.x_granularity) &&
                !strcmp(r->p.w_granularity, f->p.w_granularity) && r->p.block == f->p.block)
                series_add(&ss, ss.s[i].label, f, j);
        }
    }
    qsort(ss.s, (size_t)ss.n, sizeof *ss.s, cmp_series);

    char sch[1024] = "", grn[1024] = "", dec[1024] = "";
    dvec all_t = {0};
    for (int i = 0; i < ss.n; i++) {
        char name[64];
        snprintf(name, sizeof name, "s%d.tsv", i + 1);
        FILE *f = tsv_open(c, name);
        if (!f) {
            series_set_free(&ss);
            free(all_t.v);
            return 2;
        }
        fprintf(f, "threshold\t%s\toutlier_frac\n", ss.s[i].label);
        dvec t = {0};
        for (int64_t j = 0; j < ss.s[i].n; j++) {
            dvec_push(&t, d->points[ss.s[i].rows[j]].p.threshold);
            dvec_push(&all_t, d->points[ss.s[i].rows[j]].p.threshold);
        }
        dvec_unique(&t);
        for (int64_t j = 0; j < t.n; j++)
            fprintf(f, "%g\t%.6g\t%.6g\n", t.v[j],
                    median_where(d, &ss.s[i], f_rel_err, p_threshold, t.v[j]),
                    median_where(d, &ss.s[i], f_outlier_frac, p_threshold, t.v[j]));
        free(t.v);
        fclose(f);
        /* the threshold axis is the series here: style as the decomposition it is */
        qlab_row key = *ss.s[i].first;
        key.p.threshold = 1;
        style_keys(&key, sch, grn, dec, sizeof sch);
    }
    /* outlier fraction depends on X and t only: one line, from every int8 row of the shape */
    dvec_unique(&all_t);
    FILE *f = tsv_open(c, "frac.tsv");
    if (!f) {
        series_set_free(&ss);
        free(all_t.v);
        return 2;
    }
    fprintf(f, "threshold\toutlier fraction (right axis)\n");
    int frac_any = 0;
    double frac_lo = INFINITY, frac_hi = 0;
    for (int64_t j = 0; j < all_t.n; j++) {
        dvec v = {0};
        for (int64_t i = 0; i < d->n_points; i++) {
            const qlab_row *r = &d->points[i];
            if (row_usable(r) && !is_float_scheme(r) && same_shape(r, shape) && r->p.threshold == all_t.v[j] &&
                isfinite(r->outlier_frac))
                dvec_push(&v, r->outlier_frac);
        }
        double m = dvec_median(&v);
        free(v.v);
        if (isfinite(m)) {
            fprintf(f, "%g\t%.6g\n", all_t.v[j], m * 100.0);
            frac_any |= m > 0;
            if (m > 0) {
                frac_lo = fmin(frac_lo, m);
                frac_hi = fmax(frac_hi, m);
            }
        }
    }
    fclose(f);
    free(all_t.v);

    /* fp16 floor at the same shape */
    dvec fl = {0};
    for (int64_t i = 0; i < d->n_points; i++) {
        const qlab_row *r = &d->points[i];
        if (row_usable(r) && !strcmp(r->p.scheme, "fp16") && same_shape(r, shape))
            dvec_push(&fl, r->rel_err);
    }
    double floor_v = dvec_median(&fl);
    free(fl.v);

    char sub[256], vars[4096];
    snprintf(sub, sizeof sub, "m=%lld k=%lld n=%lld%s", (long long)shape->p.m, (long long)shape->p.k,
             (long long)shape->p.n, n_shapes > 1 ? " (largest shape swept)" : "");
    /* a fraction spanning decades (low t sends most columns to fp16) reads on a log axis */
    snprintf(vars, sizeof vars, "nser=%d; sch='%s'; grn='%s'; dec='%s'; floor=%.6g; has_frac=%d; frac_log=%d;",
             ss.n, sch, grn, dec, isfinite(floor_v) ? floor_v : -1.0, frac_any,
             frac_any && frac_hi > 30 * frac_lo);
    series_set_free(&ss);
    if (n_shapes > 1)
        logf_(c, "%s: %d shapes support it; drawing the largest, %s", fig, n_shapes, sub);
    return draw(c, fig, sub, vars);
}

/* ---------------------------------------------------------------------------- */
/* Figure 2: error by scheme x granularity (threshold 0)                         */

static const qlab_row *largest_shape(const qlab_results_data *d, int (*want)(const qlab_row *), int *n_shapes)
{
    const qlab_row *best = NULL;
    int n = 0;
    for (int64_t i = 0; i < d->n_points; i++) {
        const qlab_row *r = &d->points[i];
        if (!want(r))
            continue;
        int seen = 0;
        for (int64_t j = 0; j < i && !seen; j++)
            seen = want(&d->points[j]) && same_shape(&d->points[j], r);
        if (seen)
            continue;
        n++;
        if (!best || shape_size(r) > shape_size(best))
            best = r;
    }
    if (n_shapes)
        *n_shapes = n;
    return best;
}

static int want_int8_t0(const qlab_row *r)
{
    return row_usable(r) && !is_float_scheme(r) && r->p.threshold == 0;
}

static int fig_granularity(plot_ctx *c)
{
    const char *fig = "error_by_granularity";
    const qlab_results_data *d = c->d;
    int n_shapes = 0;
    const qlab_row *shape = largest_shape(d, want_int8_t0, &n_shapes);
    if (!shape)
        return skip(c, fig, "needs int8 points at threshold 0");

    /* clusters: schemes; bars: granularity combinations present at that shape */
    series_set ss = {0};
    for (int64_t i = 0; i < d->n_points; i++) {
        const qlab_row *r = &d->points[i];
        if (!want_int8_t0(r) || !same_shape(r, shape))
            continue;
        char lab[256];
        series_label(r, 1, lab, sizeof lab);
        if (series_add(&ss, lab, r, i)) {
            series_set_free(&ss);
            snprintf(c->err, c->err_len, "plot: out of memory");
            return 2;
        }
    }
    qsort(ss.s, (size_t)ss.n, sizeof *ss.s, cmp_series);
    int grans[8] = {0};
    const qlab_row *gran_row[8] = {0};
    for (int i = 0; i < ss.n; i++) {
        int g = gran_index(ss.s[i].first);
        grans[g] = 1;
        if (!gran_row[g])
            gran_row[g] = ss.s[i].first;
    }
    int slot[8] = {0}, n_g = 0;
    for (int g = 1; g < 8; g++)
        if (grans[g])
            slot[g] = n_g++;

    FILE *fb = tsv_open(c, "bars.tsv"), *fk = fb ? tsv_open(c, "ticks.tsv") : NULL;
    if (!fk) {
        if (fb)
            fclose(fb);
        series_set_free(&ss);
        return 2;
    }
    fprintf(fb, "x\trel_err\tscheme\tgran\n");
    fprintf(fk, "x\tscheme\n");
    /* legend of the granularity patterns: gnuplot's word() keeps '...' words whole */
    char gids[64] = "", glabs[1024] = "";
    for (int g = 1; g < 8; g++)
        if (grans[g]) {
            char gl[112];
            if (g == 7)
                snprintf(gl, sizeof gl, "other");
            else
                gran_label(gran_row[g], gl, sizeof gl);
            size_t a = strlen(gids), b = strlen(glabs);
            snprintf(gids + a, sizeof gids - a, "%s%d", a ? " " : "", g);
            snprintf(glabs + b, sizeof glabs - b, "%s'%s'", b ? " " : "", gl);
        }
    int cluster = -1;
    const char *prev = "";
    double xmax = 0;
    for (int i = 0; i < ss.n; i++) {
        const qlab_row *f = ss.s[i].first;
        if (strcmp(prev, f->p.scheme)) {
            cluster++;
            prev = f->p.scheme;
            fprintf(fk, "%g\t%s\n", cluster * (n_g + 1) + (n_g - 1) / 2.0, f->p.scheme);
        }
        double x = cluster * (n_g + 1) + slot[gran_index(f)];
        xmax = x;
        fprintf(fb, "%g\t%.6g\t%s\t%d\n", x, median_where(d, &ss.s[i], f_rel_err, NULL, 0), f->p.scheme,
                gran_index(f));
    }
    fclose(fb);
    fclose(fk);
    series_set_free(&ss);

    dvec fl = {0};
    for (int64_t i = 0; i < d->n_points; i++) {
        const qlab_row *r = &d->points[i];
        if (row_usable(r) && !strcmp(r->p.scheme, "fp16") && same_shape(r, shape))
            dvec_push(&fl, r->rel_err);
    }
    double floor_v = dvec_median(&fl);
    free(fl.v);

    char sub[256], vars[1400];
    snprintf(sub, sizeof sub, "m=%lld k=%lld n=%lld, threshold 0%s", (long long)shape->p.m,
             (long long)shape->p.k, (long long)shape->p.n, n_shapes > 1 ? " (largest shape swept)" : "");
    snprintf(vars, sizeof vars, "floor=%.6g; xmax=%g; ngran=%d; gids='%s'; glabs=\"%s\";",
             isfinite(floor_v) ? floor_v : -1.0, xmax, n_g, gids, glabs);
    return draw(c, fig, sub, vars);
}

/* ---------------------------------------------------------------------------- */
/* Figure 3: latency and speedup vs fp16 over k; stage breakdown                 */

static int want_timed(const qlab_row *r)
{
    return row_usable(r) && r->t.median_us > 0 && r->speedup_vs_fp16 > 0;
}

/* The m (and n) with the most distinct k among timed rows. Returns the count of k. */
static int pick_k_sweep(const qlab_results_data *d, int (*want)(const qlab_row *), int64_t *m_out)
{
    int best = 0;
    for (int64_t i = 0; i < d->n_points; i++) {
        const qlab_row *r = &d->points[i];
        if (!want(r))
            continue;
        dvec ks = {0};
        for (int64_t j = 0; j < d->n_points; j++)
            if (want(&d->points[j]) && d->points[j].p.m == r->p.m)
                dvec_push(&ks, (double)d->points[j].p.k);
        dvec_unique(&ks);
        if (ks.n > best || (ks.n == best && r->p.m > *m_out)) {
            best = (int)ks.n;
            *m_out = r->p.m;
        }
        free(ks.v);
    }
    return best;
}

static int fig_speedup(plot_ctx *c)
{
    const char *fig = "speedup_vs_k";
    const qlab_results_data *d = c->d;
    int64_t m = 0;
    int nk = pick_k_sweep(d, want_timed, &m);
    if (nk == 0)
        return skip(c, fig, "needs latency measurements with an fp16 baseline (median_us, speedup_vs_fp16)");
    if (nk < 2)
        return skip(c, fig, "needs timed points at more than one model dimension k");

    series_set ss = {0};
    for (int64_t i = 0; i < d->n_points; i++) {
        const qlab_row *r = &d->points[i];
        if (!want_timed(r) || r->p.m != m || is_float_scheme(r) || !keep_t(c, r))
            continue;
        char lab[256];
        series_label(r, 1, lab, sizeof lab);
        series_add(&ss, lab, r, i);
    }
    if (ss.n == 0) {
        series_set_free(&ss);
        return skip(c, fig, "needs timed int8 points");
    }
    qsort(ss.s, (size_t)ss.n, sizeof *ss.s, cmp_series);
    char sch[1024] = "", grn[1024] = "", dec[1024] = "";
    dvec all_k = {0};
    for (int i = 0; i < ss.n; i++) {
        char name[64];
        snprintf(name, sizeof name, "s%d.tsv", i + 1);
        FILE *f = tsv_open(c, name);
        if (!f) {
            series_set_free(&ss);
            free(all_k.v);
            return 2;
        }
        fprintf(f, "k\t%s\tmedian_us\n", ss.s[i].label);
        dvec ks = {0};
        for (int64_t j = 0; j < ss.s[i].n; j++) {
            dvec_push(&ks, (double)d->points[ss.s[i].rows[j]].p.k);
            dvec_push(&all_k, (double)d->points[ss.s[i].rows[j]].p.k);
        }
        dvec_unique(&ks);
        for (int64_t j = 0; j < ks.n; j++)
            fprintf(f, "%g\t%.6g\t%.6g\n", ks.v[j], median_where(d, &ss.s[i], f_speedup, p_k, ks.v[j]),
                    median_where(d, &ss.s[i], f_median_us, p_k, ks.v[j]));
        free(ks.v);
        fclose(f);
        style_keys(ss.s[i].first, sch, grn, dec, sizeof sch);
    }
    dvec_unique(&all_k);
    /* the fp16 GEMM measured alongside every point: one reference line */
    FILE *f = tsv_open(c, "fp16.tsv");
    if (!f) {
        series_set_free(&ss);
        free(all_k.v);
        return 2;
    }
    fprintf(f, "k\tfp16 GEMM\n");
    char kticks[512] = "";
    for (int64_t j = 0; j < all_k.n; j++) {
        size_t a = strlen(kticks);
        snprintf(kticks + a, sizeof kticks - a, "%s%g", a ? " " : "", all_k.v[j]);
    }
    for (int64_t j = 0; j < all_k.n; j++) {
        dvec v = {0};
        for (int64_t i = 0; i < d->n_points; i++) {
            const qlab_row *r = &d->points[i];
            if (want_timed(r) && r->p.m == m && (double)r->p.k == all_k.v[j])
                dvec_push(&v, f_fp16_us(r));
        }
        double med = dvec_median(&v);
        free(v.v);
        if (isfinite(med) && med > 0)
            fprintf(f, "%g\t%.6g\n", all_k.v[j], med);
    }
    fclose(f);
    free(all_k.v);

    char sub[256], vars[4096];
    snprintf(sub, sizeof sub, "m=%lld tokens", (long long)m);
    snprintf(vars, sizeof vars, "nser=%d; sch='%s'; grn='%s'; dec='%s'; kticks='%s';", ss.n, sch, grn, dec,
             kticks);
    series_set_free(&ss);
    return draw(c, fig, sub, vars);
}

static const char *const stage_names[] = {"quantize_x", "gemm_i8", "outlier_gemm", "dequant"};
static const char *const stage_labels[] = {"quantize X", "int8 GEMM", "outlier GEMM (fp16)", "dequantize + merge"};

static int want_llm_int8_timed(const qlab_row *r)
{
    return row_usable(r) && !is_float_scheme(r) && r->p.threshold > 0 && r->t.median_us > 0;
}

static int fig_stages(plot_ctx *c)
{
    const char *fig = "stage_breakdown";
    const qlab_results_data *d = c->d;
    int64_t m = 0;
    int nk = pick_k_sweep(d, want_llm_int8_timed, &m);
    if (nk == 0)
        return skip(c, fig, "needs timed LLM.int8() points (int8 scheme, threshold > 0, median_us)");

    /* the decomposition series with the most k values (absmax row/channel first by sort order) */
    series_set ss = {0};
    for (int64_t i = 0; i < d->n_points; i++) {
        const qlab_row *r = &d->points[i];
        if (!want_llm_int8_timed(r) || r->p.m != m || !keep_t(c, r))
            continue;
        char lab[256];
        series_label(r, 1, lab, sizeof lab);
        series_add(&ss, lab, r, i);
    }
    qsort(ss.s, (size_t)ss.n, sizeof *ss.s, cmp_series);
    int best = -1;
    int64_t best_nk = 0;
    for (int i = 0; i < ss.n; i++) {
        dvec ks = {0};
        for (int64_t j = 0; j < ss.s[i].n; j++)
            dvec_push(&ks, (double)d->points[ss.s[i].rows[j]].p.k);
        dvec_unique(&ks);
        int pref = !strcmp(ss.s[i].first->p.scheme, "absmax") && gran_index(ss.s[i].first) == 4;
        if (ks.n > best_nk || (ks.n == best_nk && pref)) {
            best_nk = ks.n;
            best = i;
        }
        free(ks.v);
    }
    const series *s = &ss.s[best];

    FILE *f = tsv_open(c, "stages.tsv");
    if (!f) {
        series_set_free(&ss);
        return 2;
    }
    fprintf(f, "k");
    for (int st = 0; st < 4; st++)
        fprintf(f, "\t%s", stage_labels[st]);
    fprintf(f, "\tfp16 GEMM\ttotal\n");
    dvec ks = {0};
    for (int64_t j = 0; j < s->n; j++)
        dvec_push(&ks, (double)d->points[s->rows[j]].p.k);
    dvec_unique(&ks);
    int any_stage = 0;
    for (int64_t j = 0; j < ks.n; j++) {
        fprintf(f, "%g", ks.v[j]);
        for (int st = 0; st < 5; st++) {
            const char *stage = st < 4 ? stage_names[st] : "fp16_gemm";
            dvec v = {0};
            for (int64_t q = 0; q < d->n_samples; q++) {
                const qlab_sample *smp = &d->samples[q];
                if (strcmp(smp->stage, stage))
                    continue;
                for (int64_t r = 0; r < s->n; r++) {
                    const qlab_row *row = &d->points[s->rows[r]];
                    if (row->p.id == smp->point_id && (double)row->p.k == ks.v[j]) {
                        dvec_push(&v, smp->time_us);
                        break;
                    }
                }
            }
            double med = dvec_median(&v);
            free(v.v);
            if (st < 4 && isfinite(med))
                any_stage = 1;
            if (st == 4 && !isfinite(med))   /* fall back to the row's own fp16 baseline */
                med = median_where(d, s, f_fp16_us, p_k, ks.v[j]);
            fprintf(f, "\t%.6g", isfinite(med) && med > 0 ? med : (st < 4 ? 0.0 : NAN));
        }
        fprintf(f, "\t%.6g\n", median_where(d, s, f_median_us, p_k, ks.v[j]));
    }
    free(ks.v);
    fclose(f);
    char sub[400];
    snprintf(sub, sizeof sub, "%s, m=%lld tokens", s->label, (long long)m);
    series_set_free(&ss);
    if (!any_stage)
        return skip(c, fig, "needs per-stage timing samples (quantize_x, gemm_i8, outlier_gemm, dequant) in /samples");
    return draw(c, fig, sub, "");
}

/* ---------------------------------------------------------------------------- */
/* Figure 4: weight memory per scheme                                            */

static int want_mem(const qlab_row *r)
{
    return r->status == QLAB_STATUS_OK && r->w_bytes > 0 && r->w_bytes_fp16 > 0;
}

static int fig_memory(plot_ctx *c)
{
    const char *fig = "memory";
    const qlab_results_data *d = c->d;
    int n_shapes = 0;
    const qlab_row *shape = largest_shape(d, want_mem, &n_shapes);
    if (!shape)
        return skip(c, fig, "needs memory columns (w_bytes, w_bytes_fp16)");
    series_set ss = {0};
    for (int64_t i = 0; i < d->n_points; i++) {
        const qlab_row *r = &d->points[i];
        if (!want_mem(r) || !same_shape(r, shape) || !keep_t(c, r))
            continue;
        char lab[256];
        series_label_w(r, lab, sizeof lab);
        series_add(&ss, lab, r, i);
    }
    qsort(ss.s, (size_t)ss.n, sizeof *ss.s, cmp_series);
    double fp16 = median_where(d, NULL, f_w_bytes_fp16, NULL, 0);
    /* unit from the fp32 size, so that bars read as numbers like 12.3, not 0.0001 */
    double fp16_shape = 0;
    for (int i = 0; i < ss.n && fp16_shape == 0; i++)
        fp16_shape = median_where(d, &ss.s[i], f_w_bytes_fp16, NULL, 0);
    if (!(fp16_shape > 0))
        fp16_shape = fp16;
    const char *unit = "MiB";
    double div = 1024.0 * 1024.0;
    if (2 * fp16_shape < 1024.0 * 1024.0) {
        unit = "KiB";
        div = 1024.0;
    }
    FILE *f = tsv_open(c, "mem.tsv");
    if (!f) {
        series_set_free(&ss);
        return 2;
    }
    fprintf(f, "x\tcodes\tscales\toutliers\ttotal\tpct_fp16\tscheme\tlabel\n");
    for (int i = 0; i < ss.n; i++) {
        const series *s = &ss.s[i];
        const qlab_row *r = s->first;
        double total = median_where(d, s, f_w_bytes, NULL, 0);
        double codes = total, scales = 0, outl = 0;
        if (!is_float_scheme(r)) {
            /* the row stores only the total: int8 codes are n*k bytes, fp16 outlier
             * columns 2 bytes each; what remains is scales and zero points */
            double oc = r->p.threshold > 0 && strcmp(r->p.outlier_weights, "dequant")
                            ? median_where(d, s, f_outlier_cols, NULL, 0)
                            : 0;
            double cd = (double)r->p.n * (double)r->p.k;
            double ob = (isfinite(oc) ? oc : 0) * (double)r->p.n * 2.0;
            if (cd + ob <= total) {
                codes = cd;
                outl = ob;
                scales = total - cd - ob;
            }
        }
        fprintf(f, "%d\t%.6g\t%.6g\t%.6g\t%.6g\t%.4g\t%s\t%s\n", i, codes / div, scales / div, outl / div,
                total / div, 100.0 * total / fp16_shape, r->p.scheme, s->label);
    }
    fclose(f);
    char sub[256], vars[512];
    snprintf(sub, sizeof sub, "W of n=%lld x k=%lld%s", (long long)shape->p.n, (long long)shape->p.k,
             n_shapes > 1 ? " (largest shape swept)" : "");
    snprintf(vars, sizeof vars, "nbar=%d; unit='%s'; fp16=%.6g; fp32=%.6g;", ss.n, unit, fp16_shape / div,
             2 * fp16_shape / div);
    series_set_free(&ss);
    return draw(c, fig, sub, vars);
}

/* ---------------------------------------------------------------------------- */
/* Figure 5: throughput vs shape                                                 */

static int want_tput(const qlab_row *r)
{
    return row_usable(r) && r->t.median_us > 0 && r->tops > 0;
}

static int cmp_shape_size(const void *a, const void *b)
{
    const qlab_row *x = *(const qlab_row *const *)a, *y = *(const qlab_row *const *)b;
    double sx = shape_size(x), sy = shape_size(y);
    if (sx != sy)
        return sx < sy ? -1 : 1;
    if (x->p.m != y->p.m)
        return x->p.m < y->p.m ? -1 : 1;
    return x->p.k < y->p.k ? -1 : (x->p.k > y->p.k);
}

static int fig_throughput(plot_ctx *c)
{
    const char *fig = "throughput";
    const qlab_results_data *d = c->d;
    const qlab_row **shapes = calloc((size_t)d->n_points + 1, sizeof *shapes);
    int ns = 0;
    for (int64_t i = 0; i < d->n_points; i++) {
        const qlab_row *r = &d->points[i];
        if (!want_tput(r))
            continue;
        int seen = 0;
        for (int j = 0; j < ns && !seen; j++)
            seen = same_shape(shapes[j], r);
        if (!seen)
            shapes[ns++] = r;
    }
    if (ns == 0) {
        free(shapes);
        return skip(c, fig, "needs latency measurements (median_us, tops)");
    }
    if (ns < 2) {
        free(shapes);
        return skip(c, fig, "needs timed points at more than one shape");
    }
    qsort(shapes, (size_t)ns, sizeof *shapes, cmp_shape_size);
    FILE *f = tsv_open(c, "shapes.tsv");
    if (!f) {
        free(shapes);
        return 2;
    }
    fprintf(f, "x\tshape\n");
    for (int j = 0; j < ns; j++)
        fprintf(f, "%d\t%lldx%lldx%lld\n", j, (long long)shapes[j]->p.m, (long long)shapes[j]->p.k,
                (long long)shapes[j]->p.n);
    fclose(f);

    series_set ss = {0};
    for (int64_t i = 0; i < d->n_points; i++) {
        const qlab_row *r = &d->points[i];
        if (!want_tput(r) || !keep_t(c, r))
            continue;
        char lab[256];
        series_label(r, 1, lab, sizeof lab);
        series_add(&ss, lab, r, i);
    }
    qsort(ss.s, (size_t)ss.n, sizeof *ss.s, cmp_series);
    char sch[1024] = "", grn[1024] = "", dec[1024] = "";
    for (int i = 0; i < ss.n; i++) {
        char name[64];
        snprintf(name, sizeof name, "s%d.tsv", i + 1);
        FILE *g = tsv_open(c, name);
        if (!g) {
            free(shapes);
            series_set_free(&ss);
            return 2;
        }
        fprintf(g, "x\t%s\tgbps\n", ss.s[i].label);
        for (int j = 0; j < ns; j++) {
            dvec vt = {0}, vg = {0};
            for (int64_t q = 0; q < ss.s[i].n; q++) {
                const qlab_row *r = &d->points[ss.s[i].rows[q]];
                if (same_shape(r, shapes[j])) {
                    dvec_push(&vt, f_tops(r));
                    dvec_push(&vg, f_gbps(r));
                }
            }
            if (vt.n)
                fprintf(g, "%d\t%.6g\t%.6g\n", j, dvec_median(&vt), dvec_median(&vg));
            free(vt.v);
            free(vg.v);
        }
        fclose(g);
        style_keys(ss.s[i].first, sch, grn, dec, sizeof sch);
    }
    free(shapes);
    char vars[4096];
    snprintf(vars, sizeof vars, "nser=%d; nshape=%d; sch='%s'; grn='%s'; dec='%s';", ss.n, ns, sch, grn, dec);
    series_set_free(&ss);
    return draw(c, fig, "", vars);
}

/* ---------------------------------------------------------------------------- */
/* Figure 6: error across layers; error vs chain depth                           */

static const qlab_row *point_by_id(const qlab_results_data *d, int64_t id)
{
    if (id >= 0 && id < d->n_points && d->points[id].p.id == id)
        return &d->points[id];
    for (int64_t i = 0; i < d->n_points; i++)
        if (d->points[i].p.id == id)
            return &d->points[i];
    return NULL;
}

static int fig_layers(plot_ctx *c)
{
    const char *fig = "error_vs_layer";
    const qlab_results_data *d = c->d;
    if (d->n_layers == 0)
        return skip(c, fig, "the /layers table is empty (no dump, chain or model points)");
    /* one series per (scheme label, mode); layer rows reference points by id */
    typedef struct {
        char label[300];
        const qlab_row *first;
        int isolated;
    } lser;
    lser *ls = calloc((size_t)d->n_layers, sizeof *ls);
    int nls = 0;
    int *which = calloc((size_t)d->n_layers, sizeof *which);
    if (!ls || !which) {
        free(ls);
        free(which);
        snprintf(c->err, c->err_len, "plot: out of memory");
        return 2;
    }
    for (int64_t i = 0; i < d->n_layers; i++) {
        const qlab_layer_row *l = &d->layers[i];
        const qlab_row *r = point_by_id(d, l->point_id);
        which[i] = -1;
        if (!r || r->status != QLAB_STATUS_OK || !isfinite(l->rel_err))
            continue;
        char lab[300], base[256];
        series_label(r, 1, base, sizeof base);
        int iso = !strcmp(l->mode, "isolated");
        snprintf(lab, sizeof lab, "%s%s", base, iso ? " (isolated)" : "");
        int k = 0;
        while (k < nls && strcmp(ls[k].label, lab))
            k++;
        if (k == nls) {
            snprintf(ls[k].label, sizeof ls[k].label, "%s", lab);
            ls[k].first = r;
            ls[k].isolated = iso;
            nls++;
        }
        which[i] = k;
    }
    if (nls == 0) {
        free(ls);
        free(which);
        return skip(c, fig, "no /layers rows of successful points");
    }
    char sch[2048] = "", grn[2048] = "", dec[2048] = "", iso[2048] = "";
    for (int k = 0; k < nls; k++) {
        char name[64];
        snprintf(name, sizeof name, "s%d.tsv", k + 1);
        FILE *f = tsv_open(c, name);
        if (!f) {
            free(ls);
            free(which);
            return 2;
        }
        fprintf(f, "layer\t%s\tcosine\n", ls[k].label);
        dvec idx = {0};
        for (int64_t i = 0; i < d->n_layers; i++)
            if (which[i] == k)
                dvec_push(&idx, (double)d->layers[i].layer_index);
        dvec_unique(&idx);
        for (int64_t j = 0; j < idx.n; j++) {
            dvec e = {0}, cs = {0};
            for (int64_t i = 0; i < d->n_layers; i++)
                if (which[i] == k && (double)d->layers[i].layer_index == idx.v[j]) {
                    dvec_push(&e, d->layers[i].rel_err);
                    dvec_push(&cs, d->layers[i].cosine);
                }
            fprintf(f, "%g\t%.6g\t%.6g\n", idx.v[j], dvec_median(&e), dvec_median(&cs));
            free(e.v);
            free(cs.v);
        }
        free(idx.v);
        fclose(f);
        style_keys(ls[k].first, sch, grn, dec, sizeof sch);
        size_t a = strlen(iso);
        snprintf(iso + a, sizeof iso - a, "%s%d", a ? " " : "", ls[k].isolated);
    }
    char vars[8400];
    snprintf(vars, sizeof vars, "nser=%d; sch='%s'; grn='%s'; dec='%s'; iso='%s';", nls, sch, grn, dec, iso);
    free(ls);
    free(which);
    return draw(c, fig, "per-layer output against the float reference", vars);
}

static int want_chain(const qlab_row *r)
{
    return row_usable(r) && !strcmp(r->p.workload, "chain") && r->p.depth > 0;
}

static int fig_depth(plot_ctx *c)
{
    const char *fig = "error_vs_depth";
    const qlab_results_data *d = c->d;
    dvec depths = {0};
    for (int64_t i = 0; i < d->n_points; i++)
        if (want_chain(&d->points[i]))
            dvec_push(&depths, (double)d->points[i].p.depth);
    dvec_unique(&depths);
    int64_t nd = depths.n;
    free(depths.v);
    if (nd < 2)
        return skip(c, fig, "needs chain points at more than one depth");
    series_set ss = {0};
    for (int64_t i = 0; i < d->n_points; i++) {
        const qlab_row *r = &d->points[i];
        if (!want_chain(r) || !keep_t(c, r))
            continue;
        char lab[256];
        series_label(r, 1, lab, sizeof lab);
        series_add(&ss, lab, r, i);
    }
    qsort(ss.s, (size_t)ss.n, sizeof *ss.s, cmp_series);
    char sch[1024] = "", grn[1024] = "", dec[1024] = "";
    for (int i = 0; i < ss.n; i++) {
        char name[64];
        snprintf(name, sizeof name, "s%d.tsv", i + 1);
        FILE *f = tsv_open(c, name);
        if (!f) {
            series_set_free(&ss);
            return 2;
        }
        fprintf(f, "depth\t%s\n", ss.s[i].label);
        dvec ds = {0};
        for (int64_t j = 0; j < ss.s[i].n; j++)
            dvec_push(&ds, (double)d->points[ss.s[i].rows[j]].p.depth);
        dvec_unique(&ds);
        for (int64_t j = 0; j < ds.n; j++)
            fprintf(f, "%g\t%.6g\n", ds.v[j], median_where(d, &ss.s[i], f_rel_err, p_depth, ds.v[j]));
        free(ds.v);
        fclose(f);
        style_keys(ss.s[i].first, sch, grn, dec, sizeof sch);
    }
    char vars[4096];
    snprintf(vars, sizeof vars, "nser=%d; sch='%s'; grn='%s'; dec='%s';", ss.n, sch, grn, dec);
    series_set_free(&ss);
    return draw(c, fig, "output of the last layer of a chain", vars);
}

/* ---------------------------------------------------------------------------- */
/* Driver                                                                        */

/* Removes the flat temporary directory of one figure and its files. */
static void rm_tmpdir(const char *dir)
{
    DIR *dp = opendir(dir);
    if (dp) {
        struct dirent *e;
        char p[PATH_MAX + 260];
        while ((e = readdir(dp)) != NULL) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
                continue;
            snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
            unlink(p);
        }
        closedir(dp);
    }
    rmdir(dir);
}

/* Every figure kind, in the order they are drawn. Each returns 0 drawn, 1 skipped,
 * 2 error; each starts from an empty temp dir. */
static int (*const figures[])(plot_ctx *) = {
    fig_threshold, fig_granularity, fig_speedup, fig_stages, fig_memory, fig_throughput, fig_layers, fig_depth,
};

int qlab_plot_data(const qlab_results_data *d, const char *source, const char *out_dir, FILE *log, char *err,
                   size_t err_len)
{
    plot_ctx c = {.d = d, .out_dir = out_dir ? out_dir : "plots/out", .log = log, .err = err, .err_len = err_len};
    if (qlab_gp_find(c.gnuplot, sizeof c.gnuplot) != 0) {
        snprintf(err, err_len, "plot: gnuplot not found on PATH (install gnuplot-nox, or set QLAB_GNUPLOT)");
        return 2;
    }
    if (access(c.gnuplot, X_OK) != 0) {
        snprintf(err, err_len, "plot: gnuplot '%s' is not executable", c.gnuplot);
        return 2;
    }
    if (qlab_gp_find_scripts("style.gp", c.scripts, sizeof c.scripts) != 0) {
        snprintf(err, err_len,
                 "plot: gnuplot scripts not found (looked for style.gp in $QLAB_PLOTS_DIR, <qlab>/../plots, ./plots)");
        return 2;
    }
    if (qlab_mkdir_p(c.out_dir) != 0) {
        snprintf(err, err_len, "plot: cannot create %s: %s", c.out_dir, strerror(errno));
        return 2;
    }
    const char *exp = qlab_results_attr(d, "experiment");
    const char *be = qlab_results_attr(d, "backend");
    const char *dev = qlab_results_attr(d, "device");
    if (!dev || !*dev)
        dev = qlab_results_attr(d, "device_name");
    if ((!be || !*be) && d->n_points > 0)
        be = d->points[0].backend;
    snprintf(c.title, sizeof c.title, "%s, %s backend%s%s", exp && *exp ? exp : source, be && *be ? be : "?",
             dev && *dev ? ", " : "", dev && *dev ? dev : "");

    c.rep_t = representative_threshold(d);
    int rc = 0;
    for (size_t i = 0; i < sizeof figures / sizeof figures[0] && rc != 2; i++) {
        const char *tmpbase = getenv("TMPDIR");
        snprintf(c.tmp, sizeof c.tmp, "%s/qlab-plot-XXXXXX", tmpbase && *tmpbase ? tmpbase : "/tmp");
        if (!mkdtemp(c.tmp)) {
            snprintf(err, err_len, "plot: cannot create a temporary directory: %s", strerror(errno));
            return 2;
        }
        rc = figures[i](&c);
        rm_tmpdir(c.tmp);
    }
    if (rc == 2)
        return 2;
    logf_(&c, "plot: %d figure%s drawn, %d skipped", c.drawn, c.drawn == 1 ? "" : "s", c.skipped);
    return 0;
}

int qlab_plot(const char *results_path, const char *out_dir, FILE *log, char *err, size_t err_len)
{
    qlab_results_data d;
    memset(&d, 0, sizeof d);
    if (qlab_results_read(results_path, &d, err, err_len) != 0)
        return 2;
    int rc = qlab_plot_data(&d, results_path, out_dir, log, err, err_len);
    qlab_results_data_free(&d);
    return rc;
}

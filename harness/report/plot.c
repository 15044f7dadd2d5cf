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
#include "report/plot.h"
#include "report/gnuplot.h"
#include "quant/quant.h"

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
static int is_weight_only(const qlab_row *r)
{
    return (r->p.x_granularity[0] == '\0' || !strcmp(r->p.x_granularity, "-")) &&
           r->p.w_granularity[0] != '\0' && strcmp(r->p.w_granularity, "-");
}

/* SmoothQuant on (a style key and a legend suffix). */
static int is_smooth(const qlab_row *r)
{
    return r->p.smooth_alpha > 0;
}

/* Figures span the errors of the quantized schemes; a series whose errors all lie
 * more than OFF_SCALE below the largest (fp32 against a float64-accumulated
 * reference, ~1e-7) would squeeze them into a corner, so it stays below the axis
 * and its legend entry says so, with its largest error. */
#define OFF_SCALE 1e-4

/* Number of granularity combinations gran_index returns (1..N_GRAN). */
#define N_GRAN 8

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
    if (is_weight_only(r) && !strcmp(r->p.w_granularity, "block"))
        return 7;
    return N_GRAN;
}

static void gran_label(const qlab_row *r, char *buf, size_t len)
{
    char xg[48], wg[48];
    if (is_weight_only(r)) {
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
#define LBL_T 1        /* name the threshold */
#define LBL_NOGRAN 2   /* leave out the granularity: every int8/fp8 series shares it (the
                          subtitle names it) */
static void series_label(const qlab_row *r, int flags, char *buf, size_t len)
{
    if (is_float_scheme(r)) {
        snprintf(buf, len, "%s", r->p.scheme);
        return;
    }
    char g[112];
    if (!(flags & LBL_NOGRAN))
        gran_label(r, g, sizeof g);
    else if (is_weight_only(r) && !strcmp(r->p.w_granularity, "block"))
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
    if (is_smooth(r))
        snprintf(sq, sizeof sq, " SQ a=%g", r->p.smooth_alpha);
    snprintf(buf, len, "%s%s%s%s%s%s", r->p.scheme, g[0] ? " " : "", g, t, ow, sq);
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

/* Legend order: scheme (traits table order), granularity, SmoothQuant alpha,
 * threshold, then the label. */
static int cmp_rows(const qlab_row *x, const char *xl, const qlab_row *y, const char *yl)
{
    int d = scheme_rank(x->p.scheme) - scheme_rank(y->p.scheme);
    if (d)
        return d;
    d = strcmp(x->p.scheme, y->p.scheme);
    if (d)
        return d;
    d = gran_index(x) - gran_index(y);
    if (d)
        return d;
    if (x->p.smooth_alpha != y->p.smooth_alpha)
        return x->p.smooth_alpha < y->p.smooth_alpha ? -1 : 1;
    if (x->p.threshold != y->p.threshold)
        return x->p.threshold < y->p.threshold ? -1 : 1;
    return strcmp(xl, yl);
}

static int cmp_series(const void *a, const void *b)
{
    const series *x = a, *y = b;
    return cmp_rows(x->first, x->label, y->first, y->label);
}

/* ---------------------------------------------------------------------------- */
/* Context and gnuplot runs                                                      */

typedef struct {
    const qlab_results_data *d;     /* the points that point figures draw (isolated-mode
                                       rows left out where propagated ones exist) */
    const qlab_results_data *full;  /* every point, for the per-layer and depth figures */
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
    int lbl;                   /* LBL_NOGRAN when every int8/fp8 point has one granularity */
    char gran_note[128];       /* that granularity, for subtitles */
} plot_ctx;

/* Figures whose x axis is not the threshold show t = 0 and one threshold > 0: a line
 * per threshold would multiply the series without showing anything the threshold
 * figure does not. */
static int keep_t(const plot_ctx *c, const qlab_row *r)
{
    return r->p.threshold <= 0 || r->p.threshold == c->rep_t;
}

/* Which rows of c->d a figure draws: want(r), and where set the same shape as
 * `shape`, m tokens, and keep_t. */
typedef struct {
    int (*want)(const qlab_row *r);
    const qlab_row *shape;     /* NULL: any shape */
    int64_t m;                 /* 0: any m */
    int by_t;                  /* 1: only the thresholds keep_t keeps */
} row_filter;

/* The figure's series: the rows passing f grouped by their label (series_label with
 * `flags`), sorted by cmp_series. Returns 0, or 2 with c->err on out of memory (ss is
 * then empty). */
static int collect_series(plot_ctx *c, const row_filter *f, int flags, series_set *ss)
{
    const qlab_results_data *d = c->d;
    memset(ss, 0, sizeof *ss);
    for (int64_t i = 0; i < d->n_points; i++) {
        const qlab_row *r = &d->points[i];
        if (!f->want(r) || (f->shape && !same_shape(r, f->shape)) || (f->m && r->p.m != f->m) ||
            (f->by_t && !keep_t(c, r)))
            continue;
        char lab[256];
        series_label(r, flags, lab, sizeof lab);
        if (series_add(ss, lab, r, i)) {
            series_set_free(ss);
            snprintf(c->err, c->err_len, "plot: out of memory");
            return 2;
        }
    }
    qsort(ss->s, (size_t)ss->n, sizeof *ss->s, cmp_series);
    return 0;
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
        char sub_full[700];
        snprintf(sub_full, sizeof sub_full, "%s%s%s", subtitle ? subtitle : "",
                 subtitle && *subtitle && c->gran_note[0] ? "; " : "", c->gran_note);
        qlab_gp_quote(sub_full, q_sub, sizeof q_sub);
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

/* Style keys of a figure's series, in order: scheme name, granularity index,
 * decomposition flag and SmoothQuant flag, as the space-separated lists that
 * plots/style.gp reads (sch, grn, dec, smo). */
typedef struct {
    char sch[4096], grn[1024], dec[1024], smo[1024];
} style_lists;

static void style_keys(const qlab_row *r, style_lists *k)
{
    size_t a = strlen(k->sch), b = strlen(k->grn), d = strlen(k->dec), e = strlen(k->smo);
    snprintf(k->sch + a, sizeof k->sch - a, "%s%s", a ? " " : "", r->p.scheme);
    snprintf(k->grn + b, sizeof k->grn - b, "%s%d", b ? " " : "", gran_index(r));
    snprintf(k->dec + d, sizeof k->dec - d, "%s%d", d ? " " : "", r->p.threshold > 0 ? 1 : 0);
    snprintf(k->smo + e, sizeof k->smo - e, "%s%d", e ? " " : "", is_smooth(r) ? 1 : 0);
}

/* The lists as gnuplot assignments, appended to vars. */
static void style_vars(const style_lists *k, char *vars, size_t len)
{
    size_t a = strlen(vars);
    snprintf(vars + a, len - a, " sch='%s'; grn='%s'; dec='%s'; smo='%s';", k->sch, k->grn, k->dec, k->smo);
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

/* Subtitle naming the data a point figure holds: the shape of a synthetic matmul,
 * the layers of a dump at that shape (their median is drawn), or a model's
 * sentence embeddings. */
static void shape_desc(const qlab_results_data *d, const qlab_row *shape, int n_shapes, char *buf, size_t len)
{
    if (!strcmp(shape->p.workload, "model")) {
        snprintf(buf, len, "%s sentence embeddings%s%s%s", shape->p.model[0] ? shape->p.model : "model",
                 shape->p.mode[0] ? " (" : "", shape->p.mode, shape->p.mode[0] ? ")" : "");
        return;
    }
    int off = snprintf(buf, len, "m=%lld k=%lld n=%lld", (long long)shape->p.m, (long long)shape->p.k,
                       (long long)shape->p.n);
    if (off < 0 || (size_t)off >= len)
        return;
    if (!strcmp(shape->p.workload, "dump")) {
        /* distinct layers of this shape among usable dump rows */
        int64_t n_layers = 0;
        for (int64_t i = 0; i < d->n_points; i++) {
            const qlab_row *r = &d->points[i];
            if (!row_usable(r) || !same_shape(r, shape) || strcmp(r->p.workload, "dump"))
                continue;
            int seen = 0;
            for (int64_t j = 0; j < i && !seen; j++)
                seen = row_usable(&d->points[j]) && same_shape(&d->points[j], shape) &&
                       !strcmp(d->points[j].p.layer, r->p.layer);
            n_layers += !seen;
        }
        if (n_layers > 1)
            snprintf(buf + off, len - (size_t)off, ", median of %lld dump layers of this shape%s",
                     (long long)n_layers, n_shapes > 1 ? " (the largest)" : "");
        else
            snprintf(buf + off, len - (size_t)off, ", layer %s%s", shape->p.layer,
                     n_shapes > 1 ? " (largest shape)" : "");
        return;
    }
    if (n_shapes > 1)
        snprintf(buf + off, len - (size_t)off, " (largest shape swept)");
}

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

/* int8 / fp8 rows with the outlier decomposition on. */
static int want_quant_thresholded(const qlab_row *r)
{
    return row_usable(r) && !is_float_scheme(r) && r->p.threshold > 0;
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
    series_set ss;
    const row_filter rf = { want_quant_thresholded, shape, 0, 0 };
    if (collect_series(c, &rf, c->lbl, &ss))
        return 2;
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
                !strcmp(r->p.w_granularity, f->p.w_granularity) && r->p.block == f->p.block &&
                r->p.smooth_alpha == f->p.smooth_alpha)
                series_add(&ss, ss.s[i].label, f, j);
        }
    }

    style_lists sk = {0};
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
        style_keys(&key, &sk);
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

    char sub[256], vars[8192];
    shape_desc(d, shape, n_shapes, sub, sizeof sub);
    /* a fraction spanning decades (low t sends most columns to fp16) reads on a log axis */
    snprintf(vars, sizeof vars, "nser=%d; floor=%.6g; has_frac=%d; frac_log=%d;",
             ss.n, isfinite(floor_v) ? floor_v : -1.0, frac_any,
             frac_any && frac_hi > 30 * frac_lo);
    style_vars(&sk, vars, sizeof vars);
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

/* Median rel_err of a float scheme at the shape (a reference line), NaN if absent. */
static double float_floor(const qlab_results_data *d, const qlab_row *shape, const char *scheme)
{
    dvec fl = {0};
    for (int64_t i = 0; i < d->n_points; i++) {
        const qlab_row *r = &d->points[i];
        if (row_usable(r) && !strcmp(r->p.scheme, scheme) && same_shape(r, shape))
            dvec_push(&fl, r->rel_err);
    }
    double v = dvec_median(&fl);
    free(fl.v);
    return v;
}

/* Tick text of a bar cluster: the scheme, with SmoothQuant's alpha when on. */
static void cluster_label(const qlab_row *r, char *buf, size_t len)
{
    if (is_smooth(r))
        snprintf(buf, len, "%s SQ%g", r->p.scheme, r->p.smooth_alpha);
    else
        snprintf(buf, len, "%s", r->p.scheme);
}

static int fig_granularity(plot_ctx *c)
{
    const char *fig = "error_by_granularity";
    const qlab_results_data *d = c->d;
    int n_shapes = 0;
    const qlab_row *shape = largest_shape(d, want_int8_t0, &n_shapes);
    if (!shape)
        return skip(c, fig, "needs int8 points at threshold 0");

    /* clusters: schemes (SmoothQuant variants apart, after the plain scheme); bars:
     * the granularity combinations each cluster has, packed, so that a weight-only
     * scheme's cluster holds its one bar */
    series_set ss;
    const row_filter rf = { want_int8_t0, shape, 0, 0 };
    if (collect_series(c, &rf, LBL_T | c->lbl, &ss))
        return 2;
    int grans[N_GRAN + 1] = {0};
    const qlab_row *gran_row[N_GRAN + 1] = {0};
    for (int i = 0; i < ss.n; i++) {
        int g = gran_index(ss.s[i].first);
        grans[g] = 1;
        if (!gran_row[g])
            gran_row[g] = ss.s[i].first;
    }
    int n_g = 0;
    for (int g = 1; g <= N_GRAN; g++)
        n_g += grans[g];

    FILE *fb = tsv_open(c, "bars.tsv"), *fk = fb ? tsv_open(c, "ticks.tsv") : NULL;
    if (!fk) {
        if (fb)
            fclose(fb);
        series_set_free(&ss);
        return 2;
    }
    fprintf(fb, "x\trel_err\tscheme\tgran\tsmooth\n");
    fprintf(fk, "x\tscheme\n");
    /* legend of the granularity patterns: gnuplot's word() keeps '...' words whole */
    char gids[64] = "", glabs[1024] = "";
    for (int g = 1; g <= N_GRAN; g++)
        if (grans[g]) {
            char gl[112];
            if (g == N_GRAN)
                snprintf(gl, sizeof gl, "other");
            else
                gran_label(gran_row[g], gl, sizeof gl);
            size_t a = strlen(gids), b = strlen(glabs);
            snprintf(gids + a, sizeof gids - a, "%s%d", a ? " " : "", g);
            snprintf(glabs + b, sizeof glabs - b, "%s'%s'", b ? " " : "", gl);
        }
    /* series are sorted by scheme, then granularity, then alpha: gather each cluster's
     * bars (same scheme and alpha) in granularity order */
    int n_clusters = 0, n_bars = 0;
    double x = -2;
    char *done = calloc((size_t)ss.n + 1, 1);
    for (int i = 0; i < ss.n; i++) {
        if (done[i])
            continue;
        const qlab_row *f = ss.s[i].first;
        x += 2;   /* one bar's gap between clusters */
        double first = x;
        for (int j = i; j < ss.n; j++) {
            const qlab_row *g = ss.s[j].first;
            if (done[j] || strcmp(g->p.scheme, f->p.scheme) || g->p.smooth_alpha != f->p.smooth_alpha)
                continue;
            if (j > i)
                x += 1;
            done[j] = 1;
            n_bars++;
            fprintf(fb, "%g\t%.6g\t%s\t%d\t%d\n", x, median_where(d, &ss.s[j], f_rel_err, NULL, 0), g->p.scheme,
                    gran_index(g), is_smooth(g));
        }
        char tl[96];
        cluster_label(f, tl, sizeof tl);
        fprintf(fk, "%g\t%s\n", (first + x) / 2, tl);
        n_clusters++;
    }
    free(done);
    fclose(fb);
    fclose(fk);
    series_set_free(&ss);

    double floor_v = float_floor(d, shape, "fp16"), bf16_v = float_floor(d, shape, "bf16");
    char sub[256], vars[1600];
    shape_desc(d, shape, n_shapes, sub, sizeof sub);
    size_t a = strlen(sub);
    snprintf(sub + a, sizeof sub - a, ", threshold 0");
    snprintf(vars, sizeof vars,
             "floor=%.6g; floor_bf16=%.6g; xmax=%g; ngran=%d; nbar=%d; nclust=%d; gids='%s'; glabs=\"%s\";",
             isfinite(floor_v) ? floor_v : -1.0, isfinite(bf16_v) ? bf16_v : -1.0, x, n_g, n_bars, n_clusters,
             gids, glabs);
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

static int want_timed_quantized(const qlab_row *r)
{
    return want_timed(r) && !is_float_scheme(r);
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

    series_set ss;
    const row_filter rf = { want_timed_quantized, NULL, m, 1 };
    if (collect_series(c, &rf, LBL_T | c->lbl, &ss))
        return 2;
    if (ss.n == 0) {
        series_set_free(&ss);
        return skip(c, fig, "needs timed int8 points");
    }
    style_lists sk = {0};
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
        style_keys(ss.s[i].first, &sk);
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

    char sub[256], vars[8192];
    snprintf(sub, sizeof sub, "m=%lld tokens", (long long)m);
    snprintf(vars, sizeof vars, "nser=%d; kticks='%s';", ss.n, kticks);
    style_vars(&sk, vars, sizeof vars);
    series_set_free(&ss);
    return draw(c, fig, sub, vars);
}

static const char *const stage_names[] = {"quantize_x", "gemm_i8", "outlier_gemm", "dequant"};
static const char *const stage_labels[] = {"quantize X", "int8 / fp8 GEMM", "outlier GEMM (fp16)", "dequantize + merge"};

/* Whether a sample's stage is column `col` of the figure (4: the fp16 baseline). The
 * low-precision GEMM is named for what ran: gemm_i8, gemm_fp8 (cuBLASLt's fp8 GEMM)
 * or gemm_fp8_as_fp16 (fp8 codes widened to fp16). */
static int stage_in_column(const char *stage, int col)
{
    if (col == 4)
        return !strcmp(stage, "fp16_gemm");
    if (col == 1)
        return !strcmp(stage, "gemm_i8") || !strcmp(stage, "gemm_fp8") || !strcmp(stage, "gemm_fp8_as_fp16");
    return !strcmp(stage, stage_names[col]);
}

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
        return skip(c, fig, "needs timed LLM.int8() points (int8 or fp8 scheme, threshold > 0, median_us)");

    /* the decomposition series with the most k values (absmax row/channel first by sort order) */
    series_set ss;
    const row_filter rf = { want_llm_int8_timed, NULL, m, 1 };
    if (collect_series(c, &rf, LBL_T | c->lbl, &ss))
        return 2;
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
            dvec v = {0};
            for (int64_t q = 0; q < d->n_samples; q++) {
                const qlab_sample *smp = &d->samples[q];
                if (!stage_in_column(smp->stage, st))
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
        return skip(c, fig, "needs per-stage timing samples (quantize_x, gemm_i8 or gemm_fp8, outlier_gemm, dequant) in /samples");
    return draw(c, fig, sub, "");
}

/* ---------------------------------------------------------------------------- */
/* Figure 4: weight memory per scheme                                            */

static int want_mem(const qlab_row *r)
{
    return r->status == QLAB_STATUS_OK && r->w_bytes > 0 && r->w_bytes_fp16 > 0;
}

static double f_w_bits(const qlab_row *r) { return 16.0 * (double)r->w_bytes / (double)r->w_bytes_fp16; }

/* Bits per weight of one row split into codes, first-level scales (+ zero points),
 * second-level scales, fp16 outlier columns and a remainder that could not be split.
 * The per-part columns are used when the backend filled them (they add up to
 * w_bytes); otherwise codes come from the scheme's code width and, where the shape
 * is known, outlier columns from outlier_cols; the rest is scales (or unsplit, for
 * model points with the decomposition on, whose n is not one number). */
static void w_bits_parts(const qlab_row *r, double part[5])
{
    double weights = (double)r->w_bytes_fp16 / 2.0, total = (double)r->w_bytes;
    for (int i = 0; i < 5; i++)
        part[i] = 0;
    if (r->w_code_bytes > 0 &&
        r->w_code_bytes + r->w_scale_bytes + r->w_scale2_bytes + r->w_outlier_bytes == r->w_bytes) {
        part[0] = (double)r->w_code_bytes;
        part[1] = (double)r->w_scale_bytes;
        part[2] = (double)r->w_scale2_bytes;
        part[3] = (double)r->w_outlier_bytes;
    } else {
        quant_scheme id = quant_scheme_from_name(r->p.scheme);
        const quant_scheme_traits *tr = id < QUANT_SCHEME_COUNT ? quant_scheme_get(id) : NULL;
        double code = tr && tr->kind != QUANT_KIND_FLOAT ? weights * tr->bits / 8.0 : total;
        double outl = 0;
        int split = 1;
        if (r->p.threshold > 0 && strcmp(r->p.outlier_weights, "dequant")) {
            if (r->p.n > 0)
                outl = (double)r->outlier_cols * (double)r->p.n * 2.0;
            else
                split = 0;
        }
        if (code + outl > total) {   /* not the layout assumed: show the total as codes */
            code = total;
            outl = 0;
        }
        part[0] = code;
        part[3] = outl;
        part[split ? 1 : 4] = total - code - outl;
    }
    for (int i = 0; i < 5; i++)
        part[i] *= 8.0 / weights;
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
    FILE *f = tsv_open(c, "mem.tsv");
    if (!f) {
        series_set_free(&ss);
        return 2;
    }
    /* bits per weight: 8 w_bytes / weights, weights = w_bytes_fp16 / 2 */
    fprintf(f, "x\tcodes\tscales\tscales2\toutliers\tunsplit\ttotal\tpct_fp16\tscheme\tlabel\n");
    double any[5] = {0}, ymax = 16;
    for (int i = 0; i < ss.n; i++) {
        const series *s = &ss.s[i];
        /* the median row's parts: rows of one series differ only by seed or layer */
        double bits = median_where(d, s, f_w_bits, NULL, 0);
        const qlab_row *r = s->first;
        double best = INFINITY;
        for (int64_t j = 0; j < s->n; j++) {
            double b = f_w_bits(&d->points[s->rows[j]]);
            if (fabs(b - bits) < best) {
                best = fabs(b - bits);
                r = &d->points[s->rows[j]];
            }
        }
        double part[5];
        w_bits_parts(r, part);
        double total = f_w_bits(r);
        for (int p = 0; p < 5; p++)
            any[p] += part[p];
        ymax = fmax(ymax, total);
        fprintf(f, "%d\t%.6g\t%.6g\t%.6g\t%.6g\t%.6g\t%.6g\t%.4g\t%s\t%s\n", i, part[0], part[1], part[2], part[3],
                part[4], total, 100.0 * total / 16.0, r->p.scheme, s->label);
    }
    fclose(f);
    char sub[256], vars[512];
    if (!strcmp(shape->p.workload, "model"))
        snprintf(sub, sizeof sub, "every linear layer of %s", shape->p.model[0] ? shape->p.model : "the model");
    else if (!strcmp(shape->p.workload, "dump"))
        snprintf(sub, sizeof sub, "W of n=%lld x k=%lld (dump layers of this shape%s)", (long long)shape->p.n,
                 (long long)shape->p.k, n_shapes > 1 ? "; the largest" : "");
    else
        snprintf(sub, sizeof sub, "W of n=%lld x k=%lld%s", (long long)shape->p.n, (long long)shape->p.k,
                 n_shapes > 1 ? " (largest shape swept)" : "");
    snprintf(vars, sizeof vars, "nbar=%d; ymax=%.6g; has_scales2=%d; has_outl=%d; has_unsplit=%d;", ss.n, ymax,
             any[2] > 0, any[3] > 0, any[4] > 0);
    series_set_free(&ss);
    return draw(c, fig, sub, vars);
}

/* ---------------------------------------------------------------------------- */
/* Figure: error vs bits per weight (the memory/accuracy trade-off)              */

typedef struct {
    double bits, err, x;   /* x: where it is drawn (bits, spread sideways by scheme) */
} bits_pt;

/* Schemes of one storage width (8-bit int8 and fp8, 4-bit nf4 and fp4) would stack
 * in one column: each scheme of a width group (bits within 1/8) gets its own small
 * sideways offset, DODGE octaves apart, centred on the true width. */
#define DODGE 0.08
static void bits_dodge(bits_pt *pts, const series_set *ss)
{
    for (int i = 0; i < ss->n; i++) {
        double g = round(pts[i].bits * 8) / 8;
        /* the distinct schemes of this group, in series (scheme) order */
        int n_sch = 0, mine = 0;
        for (int j = 0; j < ss->n; j++) {
            if (round(pts[j].bits * 8) / 8 != g)
                continue;
            int first = 1;   /* first series of its scheme within the group */
            for (int q = 0; q < j && first; q++)
                first = !(round(pts[q].bits * 8) / 8 == g &&
                          !strcmp(ss->s[q].first->p.scheme, ss->s[j].first->p.scheme));
            if (!first)
                continue;
            if (!strcmp(ss->s[j].first->p.scheme, ss->s[i].first->p.scheme))
                mine = n_sch;
            n_sch++;
        }
        pts[i].x = pts[i].bits * pow(2.0, DODGE * (mine - (n_sch - 1) / 2.0));
    }
}

static int cmp_bits_pt(const void *a, const void *b)
{
    const bits_pt *x = a, *y = b;
    if (x->bits != y->bits)
        return x->bits < y->bits ? -1 : 1;
    return (x->err > y->err) - (x->err < y->err);
}

static int want_bits(const qlab_row *r)
{
    return row_usable(r) && want_mem(r) && r->rel_err > 0;
}

static int fig_bits(plot_ctx *c)
{
    const char *fig = "error_vs_bits";
    const qlab_results_data *d = c->d;
    int n_shapes = 0;
    const qlab_row *shape = largest_shape(d, want_bits, &n_shapes);
    if (!shape)
        return skip(c, fig, "needs error and memory columns (rel_err, w_bytes, w_bytes_fp16)");
    /* a dump's layers differ in shape: take every layer (each series' median) */
    int all_dump = !strcmp(shape->p.workload, "dump");
    /* a trade-off needs quantized schemes of two code widths (4- and 8-bit codes) */
    dvec widths = {0};
    for (int64_t i = 0; i < d->n_points; i++) {
        const qlab_row *r = &d->points[i];
        quant_scheme id = quant_scheme_from_name(r->p.scheme);
        if (want_bits(r) && !is_float_scheme(r) && id < QUANT_SCHEME_COUNT && (all_dump || same_shape(r, shape)))
            dvec_push(&widths, (double)quant_scheme_get(id)->bits);
    }
    dvec_unique(&widths);
    int64_t n_widths = widths.n;
    free(widths.v);
    if (n_widths < 2)
        return skip(c, fig, "needs quantized schemes of two code widths (e.g. 4-bit and 8-bit weights)");

    series_set ss;
    const row_filter rf = { want_bits, all_dump ? NULL : shape, 0, 1 };
    if (collect_series(c, &rf, LBL_T | c->lbl, &ss))
        return 2;
    style_lists sk = {0};
    bits_pt *pts = calloc((size_t)ss.n + 1, sizeof *pts);
    if (!pts) {
        series_set_free(&ss);
        snprintf(c->err, c->err_len, "plot: out of memory");
        return 2;
    }
    double lo = INFINITY, hi = 0;
    for (int i = 0; i < ss.n; i++) {
        pts[i].bits = median_where(d, &ss.s[i], f_w_bits, NULL, 0);
        pts[i].err = median_where(d, &ss.s[i], f_rel_err, NULL, 0);
        hi = fmax(hi, pts[i].err);
    }
    bits_dodge(pts, &ss);
    /* legend: one entry per scheme (its colour), one per granularity (marker shape),
     * and what filled and darker markers mean; a scheme whose error is far below the
     * others' (fp32) stays under the axis, its entry naming its error */
    char usch[1024] = "", ulab[2048] = "", gids[64] = "", glabs[1024] = "";
    int grans[N_GRAN + 1] = {0}, has_dec = 0, has_smo = 0;
    for (int i = 0; i < ss.n; i++) {
        char name[64];
        snprintf(name, sizeof name, "s%d.tsv", i + 1);
        FILE *f = tsv_open(c, name);
        if (!f) {
            series_set_free(&ss);
            free(pts);
            return 2;
        }
        const qlab_row *r = ss.s[i].first;
        fprintf(f, "x\t%s\tbits\n%.6g\t%.6g\t%.6g\n", ss.s[i].label, pts[i].x, pts[i].err, pts[i].bits);
        fclose(f);
        style_keys(r, &sk);
        double smax = 0;   /* the scheme's largest error */
        for (int j = 0; j < ss.n; j++)
            if (!strcmp(ss.s[j].first->p.scheme, r->p.scheme))
                smax = fmax(smax, pts[j].err);
        if (smax >= hi * OFF_SCALE)
            lo = fmin(lo, pts[i].err);
        /* series are sorted by scheme: a scheme's series are adjacent */
        if (i == 0 || strcmp(ss.s[i - 1].first->p.scheme, r->p.scheme)) {
            char lab[96];
            if (smax < hi * OFF_SCALE)
                snprintf(lab, sizeof lab, "%s (%.0e, off scale)", r->p.scheme, smax);
            else
                snprintf(lab, sizeof lab, "%s", r->p.scheme);
            size_t a = strlen(usch), b = strlen(ulab);
            snprintf(usch + a, sizeof usch - a, "%s%s", a ? " " : "", r->p.scheme);
            snprintf(ulab + b, sizeof ulab - b, "%s'%s'", b ? " " : "", lab);
        }
        if (!is_float_scheme(r)) {
            int g = gran_index(r);
            if (!grans[g]) {
                grans[g] = 1;
                char gl[112];
                if (g == N_GRAN)
                    snprintf(gl, sizeof gl, "other granularity");
                else
                    gran_label(r, gl, sizeof gl);
                size_t a = strlen(gids), b = strlen(glabs);
                snprintf(gids + a, sizeof gids - a, "%s%d", a ? " " : "", g);
                snprintf(glabs + b, sizeof glabs - b, "%s'%s'", b ? " " : "", gl);
            }
        }
        has_dec |= r->p.threshold > 0;
        has_smo |= is_smooth(r);
    }
    /* the Pareto front: the points no other point beats in both bits and error */
    qsort(pts, (size_t)ss.n, sizeof *pts, cmp_bits_pt);
    FILE *f = tsv_open(c, "front.tsv");
    if (!f) {
        series_set_free(&ss);
        free(pts);
        return 2;
    }
    fprintf(f, "x\tPareto front\n");
    double best = INFINITY;
    for (int i = 0; i < ss.n; i++)
        if (pts[i].err < best) {
            best = pts[i].err;
            fprintf(f, "%.6g\t%.6g\n", pts[i].x, pts[i].err);
        }
    fclose(f);
    free(pts);

    char sub[300], vars[8192];
    if (all_dump) {
        int64_t n_layers = 0;
        for (int64_t i = 0; i < d->n_points; i++) {
            const qlab_row *r = &d->points[i];
            if (!want_bits(r) || strcmp(r->p.workload, "dump"))
                continue;
            int seen = 0;
            for (int64_t j = 0; j < i && !seen; j++)
                seen = want_bits(&d->points[j]) && !strcmp(d->points[j].p.layer, r->p.layer);
            n_layers += !seen;
        }
        snprintf(sub, sizeof sub, "median over %lld dump layers", (long long)n_layers);
    } else {
        shape_desc(d, shape, n_shapes, sub, sizeof sub);
    }
    char dec_lab[64] = "", smo_lab[64] = "";
    if (has_dec)
        snprintf(dec_lab, sizeof dec_lab, "filled: LLM.int8() t=%g", c->rep_t);
    if (has_smo)
        snprintf(smo_lab, sizeof smo_lab, "darker: SmoothQuant");
    snprintf(vars, sizeof vars,
             "nser=%d; ylo=%.6g; yhi=%.6g; usch='%s'; ulab=\"%s\"; gids='%s'; glabs=\"%s\"; dec_lab='%s'; "
             "smo_lab='%s';",
             ss.n, isfinite(lo) ? lo : 0.0, hi, usch, ulab, gids, glabs, dec_lab, smo_lab);
    style_vars(&sk, vars, sizeof vars);
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

    series_set ss;
    const row_filter rf = { want_tput, NULL, 0, 1 };
    if (collect_series(c, &rf, LBL_T | c->lbl, &ss))
        return 2;
    style_lists sk = {0};
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
        style_keys(ss.s[i].first, &sk);
    }
    free(shapes);
    char vars[8192];
    snprintf(vars, sizeof vars, "nser=%d; nshape=%d;", ss.n, ns);
    style_vars(&sk, vars, sizeof vars);
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

/* Legend suffix of a series left below the axis (see OFF_SCALE). */
static void off_scale_label(char *label, size_t len, double smax)
{
    size_t a = strlen(label);
    snprintf(label + a, len - a, " (< %.0e, off scale)", smax);
}

/* Short tick text of a dump layer: without the "NNN-" execution-order prefix of its
 * group name and without the dotted prefix every layer shares (e.g. "encoder.layer."). */
static const char *layer_short(const char *name, size_t common)
{
    const char *p = name;
    if (strlen(p) > 4 && p[0] >= '0' && p[0] <= '9' && p[1] >= '0' && p[1] <= '9' && p[2] >= '0' && p[2] <= '9' &&
        p[3] == '-')
        p += 4;
    return strlen(p) > common ? p + common : p;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* error_vs_layer from the points of a layer dump: one point per layer and scheme,
 * each layer fed its captured input (nothing propagates). x: the layers in file order. */
static int want_dump_layer(const qlab_row *r)
{
    return row_usable(r) && !strcmp(r->p.workload, "dump") && r->p.layer[0];
}

static int fig_dump_layers(plot_ctx *c)
{
    const char *fig = "error_vs_layer";
    const qlab_results_data *d = c->d;
    const char **names = calloc((size_t)d->n_points + 1, sizeof *names);
    if (!names) {
        snprintf(c->err, c->err_len, "plot: out of memory");
        return 2;
    }
    int64_t nn = 0;
    for (int64_t i = 0; i < d->n_points; i++) {
        const qlab_row *r = &d->points[i];
        if (row_usable(r) && !strcmp(r->p.workload, "dump") && r->p.layer[0])
            names[nn++] = r->p.layer;
    }
    qsort(names, (size_t)nn, sizeof *names, cmp_str);
    int64_t nl = 0;
    for (int64_t i = 0; i < nn; i++)
        if (nl == 0 || strcmp(names[nl - 1], names[i]))
            names[nl++] = names[i];
    if (nl < 2) {
        free(names);
        return skip(c, fig, "the /layers table is empty (no chain or model points) and no dump has more than one layer");
    }
    /* the dotted prefix all short names share */
    size_t common = 0;
    {
        const char *a = layer_short(names[0], 0);
        size_t la = strlen(a);
        for (size_t k = 0; k <= la; k++) {
            int all = 1;
            for (int64_t i = 1; i < nl && all; i++) {
                const char *b = layer_short(names[i], 0);
                all = strlen(b) >= k && !strncmp(a, b, k);
            }
            if (!all)
                break;
            if (k > 0 && a[k - 1] == '.')
                common = k;
        }
    }
    FILE *fk = tsv_open(c, "ticks.tsv");
    if (!fk) {
        free(names);
        return 2;
    }
    fprintf(fk, "x\tlayer\n");
    for (int64_t i = 0; i < nl; i++)
        fprintf(fk, "%lld\t%s\n", (long long)i, layer_short(names[i], common));
    fclose(fk);

    series_set ss;
    const row_filter rf = { want_dump_layer, NULL, 0, 1 };
    if (collect_series(c, &rf, LBL_T | c->lbl, &ss))
        return 2;
    double hi = 0, lo = INFINITY;
    for (int64_t j = 0; j < d->n_points; j++)
        if (row_usable(&d->points[j]) && !strcmp(d->points[j].p.workload, "dump"))
            hi = fmax(hi, d->points[j].rel_err);
    style_lists sk = {0};
    char iso[1024] = "";
    for (int i = 0; i < ss.n; i++) {
        char name[64];
        snprintf(name, sizeof name, "s%d.tsv", i + 1);
        FILE *f = tsv_open(c, name);
        if (!f) {
            series_set_free(&ss);
            free(names);
            return 2;
        }
        double smax = 0, smin = INFINITY;
        for (int64_t j = 0; j < ss.s[i].n; j++) {
            double e = d->points[ss.s[i].rows[j]].rel_err;
            smax = fmax(smax, e);
            if (e > 0)
                smin = fmin(smin, e);
        }
        char lab[300];
        snprintf(lab, sizeof lab, "%s", ss.s[i].label);
        if (smax < hi * OFF_SCALE)
            off_scale_label(lab, sizeof lab, smax);
        else
            lo = fmin(lo, smin);
        fprintf(f, "layer\t%s\tcosine\n", lab);
        for (int64_t l = 0; l < nl; l++) {
            dvec e = {0}, cs = {0};
            for (int64_t j = 0; j < ss.s[i].n; j++) {
                const qlab_row *r = &d->points[ss.s[i].rows[j]];
                if (!strcmp(r->p.layer, names[l])) {
                    dvec_push(&e, r->rel_err);
                    dvec_push(&cs, r->cosine);
                }
            }
            if (e.n)
                fprintf(f, "%lld\t%.6g\t%.6g\n", (long long)l, dvec_median(&e), dvec_median(&cs));
            free(e.v);
            free(cs.v);
        }
        fclose(f);
        style_keys(ss.s[i].first, &sk);
        size_t a = strlen(iso);
        snprintf(iso + a, sizeof iso - a, "%s0", a ? " " : "");
    }
    char vars[8192], sub[300];
    snprintf(vars, sizeof vars, "nser=%d; iso='%s'; two=0; dump=1; nlayer=%lld; ylo=%.6g; yhi=%.6g;", ss.n, iso,
             (long long)nl, isfinite(lo) ? lo : 0.0, hi);
    style_vars(&sk, vars, sizeof vars);
    snprintf(sub, sizeof sub, "%lld layers of a dump, each fed its captured input (no propagation)", (long long)nl);
    series_set_free(&ss);
    free(names);
    return draw(c, fig, sub, vars);
}

static int fig_layers(plot_ctx *c)
{
    const char *fig = "error_vs_layer";
    const qlab_results_data *d = c->full;
    if (d->n_layers == 0)
        return fig_dump_layers(c);
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
    int modes[2] = {0, 0};
    for (int64_t i = 0; i < d->n_layers; i++) {
        const qlab_layer_row *l = &d->layers[i];
        const qlab_row *r = point_by_id(d, l->point_id);
        which[i] = -1;
        if (!r || r->status != QLAB_STATUS_OK || !isfinite(l->rel_err))
            continue;
        char lab[300], base[256];
        series_label(r, LBL_T | c->lbl, base, sizeof base);
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
        modes[iso] = 1;
    }
    if (nls == 0) {
        free(ls);
        free(which);
        return skip(c, fig, "no /layers rows of successful points");
    }
    /* series in scheme order, propagated before isolated */
    int *order = calloc((size_t)nls, sizeof *order);
    for (int k = 0; k < nls; k++)
        order[k] = k;
    for (int a = 1; a < nls; a++)   /* insertion sort: few series */
        for (int b = a; b > 0; b--) {
            const lser *x = &ls[order[b - 1]], *y = &ls[order[b]];
            int cmp = x->isolated != y->isolated ? x->isolated - y->isolated
                                                 : cmp_rows(x->first, x->label, y->first, y->label);
            if (cmp <= 0)
                break;
            int t = order[b - 1];
            order[b - 1] = order[b];
            order[b] = t;
        }
    /* both modes: two panels (propagated, isolated) with one legend; a series gets a
     * legend entry from its isolated panel, or from the propagated one when unpaired */
    int two = modes[0] && modes[1] && nls > 1;
    style_lists sk = {0};
    char iso[2048] = "", leg[2048] = "";
    double lo = INFINITY, hi = 0;
    double *smax = calloc((size_t)nls, sizeof *smax);
    if (!smax) {
        free(ls);
        free(which);
        free(order);
        snprintf(c->err, c->err_len, "plot: out of memory");
        return 2;
    }
    for (int64_t i = 0; i < d->n_layers; i++)
        if (which[i] >= 0) {
            smax[which[i]] = fmax(smax[which[i]], d->layers[i].rel_err);
            hi = fmax(hi, d->layers[i].rel_err);
        }
    for (int o = 0; o < nls; o++) {
        int k = order[o];
        char name[64];
        snprintf(name, sizeof name, "s%d.tsv", o + 1);
        FILE *f = tsv_open(c, name);
        if (!f) {
            free(ls);
            free(which);
            free(order);
            free(smax);
            return 2;
        }
        const char *shown = ls[k].label;
        char base[300];
        if (two && ls[k].isolated) {   /* the panel names the mode */
            snprintf(base, sizeof base, "%s", ls[k].label);
            char *p = strstr(base, " (isolated)");
            if (p)
                *p = '\0';
            shown = base;
        }
        char lab[320];
        snprintf(lab, sizeof lab, "%s", shown);
        int off = smax[k] < hi * OFF_SCALE;
        if (off)
            off_scale_label(lab, sizeof lab, smax[k]);
        fprintf(f, "layer\t%s\tcosine\n", lab);
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
            double me = dvec_median(&e);
            if (me > 0 && !off)
                lo = fmin(lo, me);
            fprintf(f, "%g\t%.6g\t%.6g\n", idx.v[j], me, dvec_median(&cs));
            free(e.v);
            free(cs.v);
        }
        free(idx.v);
        fclose(f);
        style_keys(ls[k].first, &sk);
        int has_pair = 0;
        if (two && !ls[k].isolated) {
            char want[320];
            snprintf(want, sizeof want, "%s (isolated)", ls[k].label);
            for (int q = 0; q < nls && !has_pair; q++)
                has_pair = !strcmp(ls[q].label, want);
        }
        size_t a = strlen(iso), b = strlen(leg);
        snprintf(iso + a, sizeof iso - a, "%s%d", a ? " " : "", ls[k].isolated);
        snprintf(leg + b, sizeof leg - b, "%s%d", b ? " " : "", !has_pair);
    }
    char vars[8400];
    snprintf(vars, sizeof vars, "nser=%d; iso='%s'; leg='%s'; two=%d; dump=0; ylo=%.6g; yhi=%.6g;", nls, iso, leg,
             two, isfinite(lo) ? lo : 0.0, hi);
    style_vars(&sk, vars, sizeof vars);
    free(ls);
    free(which);
    free(order);
    free(smax);
    return draw(c, fig, "per-layer output against the float reference", vars);
}

static int want_chain(const qlab_row *r)
{
    return row_usable(r) && !strcmp(r->p.workload, "chain") && r->p.depth > 0;
}

static int fig_depth(plot_ctx *c)
{
    const char *fig = "error_vs_depth";
    const qlab_results_data *d = c->full;
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
        series_label(r, LBL_T | c->lbl, lab, sizeof lab);
        if (!strcmp(r->p.mode, "isolated")) {
            size_t a = strlen(lab);
            snprintf(lab + a, sizeof lab - a, " (isolated)");
        }
        series_add(&ss, lab, r, i);
    }
    qsort(ss.s, (size_t)ss.n, sizeof *ss.s, cmp_series);
    style_lists sk = {0};
    char iso[1024] = "";
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
        style_keys(ss.s[i].first, &sk);
        size_t a = strlen(iso);
        snprintf(iso + a, sizeof iso - a, "%s%d", a ? " " : "", !strcmp(ss.s[i].first->p.mode, "isolated"));
    }
    char vars[9300];
    snprintf(vars, sizeof vars, "nser=%d; iso='%s';", ss.n, iso);
    style_vars(&sk, vars, sizeof vars);
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
    fig_threshold, fig_granularity, fig_speedup, fig_stages, fig_memory, fig_bits, fig_throughput, fig_layers,
    fig_depth,
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

    /* point figures: a model or chain swept in both modes shows its propagated rows
     * (the end-to-end error); isolated rows are the per-layer figure's business */
    int64_t n_prop = 0, n_iso = 0;
    for (int64_t i = 0; i < d->n_points; i++) {
        n_prop += !strcmp(d->points[i].p.mode, "propagated");
        n_iso += !strcmp(d->points[i].p.mode, "isolated");
    }
    qlab_results_data view = *d;
    qlab_row *kept = NULL;
    if (n_prop > 0 && n_iso > 0) {
        kept = malloc((size_t)d->n_points * sizeof *kept);
        if (!kept) {
            snprintf(err, err_len, "plot: out of memory");
            return 2;
        }
        int64_t n = 0;
        for (int64_t i = 0; i < d->n_points; i++)
            if (strcmp(d->points[i].p.mode, "isolated"))
                kept[n++] = d->points[i];
        view.points = kept;
        view.n_points = n;
        logf_(&c, "plot: %lld isolated-mode points appear in the per-layer figures only", (long long)n_iso);
    }
    c.d = &view;
    c.full = d;
    /* one granularity for every int8/fp8 point: legends leave it out, subtitles name it */
    const qlab_row *g0 = NULL;
    int one_gran = 1;
    for (int64_t i = 0; i < d->n_points && one_gran; i++) {
        const qlab_row *r = &d->points[i];
        if (r->status != QLAB_STATUS_OK || is_float_scheme(r) || is_weight_only(r))
            continue;
        if (!g0)
            g0 = r;
        else
            one_gran = gran_index(r) == gran_index(g0) && r->p.block == g0->p.block;
    }
    if (g0 && one_gran && gran_index(g0) < N_GRAN) {
        char gl[112];
        gran_label(g0, gl, sizeof gl);
        c.lbl = LBL_NOGRAN;
        snprintf(c.gran_note, sizeof c.gran_note, "scales %s", gl);
    }
    c.rep_t = representative_threshold(c.d);
    int rc = 0;
    for (size_t i = 0; i < sizeof figures / sizeof figures[0] && rc != 2; i++) {
        const char *tmpbase = getenv("TMPDIR");
        snprintf(c.tmp, sizeof c.tmp, "%s/qlab-plot-XXXXXX", tmpbase && *tmpbase ? tmpbase : "/tmp");
        if (!mkdtemp(c.tmp)) {
            snprintf(err, err_len, "plot: cannot create a temporary directory: %s", strerror(errno));
            free(kept);
            return 2;
        }
        rc = figures[i](&c);
        rm_tmpdir(c.tmp);
    }
    free(kept);
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

/* plot_internal.h: what the files of `qlab plot` share; private to harness/report/plot*.c.
 *
 * `qlab plot` (plot.h) is five files, each calling only the ones below it:
 *   plot.c           the entry point: checks gnuplot and the scripts, builds the context,
 *                    runs every figure kind in turn, each in its own temporary directory
 *   plot_fig_*.c     the figure kinds, one function per figure: error (threshold,
 *                    granularity), memory (memory, error vs bits), timing (speedup,
 *                    stages, throughput), layers (per layer, depth); each picks its rows,
 *                    writes its TSVs and calls plot_draw, or plot_skip with a reason
 *   plot_draw.c      the gnuplot side: the log, skips, TSV files, style keys, and
 *                    plot_draw, which runs plots/<figure>.gp (through gnuplot.h)
 *   plot_data.c      data selection: row classes (float, weight-only, usable), legend
 *                    labels, the series collector and row filters, medians, shapes
 * Names shared between them start with plot_ (every other global of the library starts
 * with qlab_ or quant_).
 */
#ifndef QLAB_PLOT_INTERNAL_H
#define QLAB_PLOT_INTERNAL_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "store/results.h"
#include "sweep/figspec.h"

/* ---------------------------------------------------------------------------- */
/* Constants                                                                     */

/* Figures span the errors of the quantized schemes; a series whose errors all lie
 * more than OFF_SCALE below the largest (fp32 against a float64-accumulated
 * reference, ~1e-7) would squeeze them into a corner, so it stays below the axis
 * and its legend entry says so, with its largest error. */
#define OFF_SCALE 1e-4

/* Number of granularity combinations plot_gran_index returns (1..N_GRAN). */
#define N_GRAN 8

/* plot_series_label flags */
#define LBL_T 1        /* name the threshold */
#define LBL_NOGRAN 2   /* leave out the granularity: every int8/fp8 series shares it (the
                          subtitle names it) */

/* ---------------------------------------------------------------------------- */
/* Types                                                                         */

/* A growable array of doubles; zero-initialised is empty. */
typedef struct {
    double *v;
    int64_t n, cap;
} dvec;

/* Rows of the data that share one legend label. */
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

/* One `qlab plot` call: the data, where figures go, and what the figures share. */
typedef struct {
    const qlab_results_data *d;     /* the points that point figures draw (isolated-mode
                                       rows left out where propagated ones exist) */
    const qlab_results_data *full;  /* every point, for the per-layer and depth figures */
    const char *out_dir;
    const char *suffix;        /* appended to figure file names ("-int8"), or NULL */
    const char *script;        /* plots/<script>.gp instead of plots/<figure>.gp, or NULL */
    char tmp[PATH_MAX];
    char scripts[PATH_MAX];
    char gnuplot[PATH_MAX];
    char title[512];           /* experiment, backend, device */
    FILE *log;
    char *err;
    size_t err_len;
    int drawn, skipped, failed;
    int n_ok, n_zero, n_nonfinite;  /* this figure's values on a log axis: drawn, 0 and
                                       NaN/inf (not drawn; see plot_log_value) */
    double rep_t;              /* the one threshold > 0 shown where t is not the x axis */
    int lbl;                   /* LBL_NOGRAN when every int8/fp8 point has one granularity */
    char gran_note[128];       /* that granularity, for subtitles */
} plot_ctx;

/* Which rows of c->d a figure draws: want(r), and where set the same shape as
 * `shape`, m tokens, and plot_keep_t. */
typedef struct {
    int (*want)(const qlab_row *r);
    const qlab_row *shape;     /* NULL: any shape */
    int64_t m;                 /* 0: any m */
    int by_t;                  /* 1: only the thresholds plot_keep_t keeps */
} row_filter;

/* Style keys of a figure's series, in order: scheme name, granularity index,
 * decomposition flag and SmoothQuant flag, as the space-separated lists that
 * plots/style.gp reads (sch, grn, dec, smo). */
typedef struct {
    char sch[4096], grn[1024], dec[1024], smo[1024];
} style_lists;

/* A number taken from a row, and a test of a row against a value. */
typedef double (*row_field)(const qlab_row *r);
typedef int (*row_pred)(const qlab_row *r, double arg);

static inline double plot_f_rel_err(const qlab_row *r) { return r->rel_err; }

/* ---------------------------------------------------------------------------- */
/* plot_data.c: data selection                                                   */

/* Appends x. Returns 0, or -1 when out of memory (a is unchanged). */
int plot_dvec_push(dvec *a, double x);
/* Median of a->v (reorders it); NaN when empty. */
double plot_dvec_median(dvec *a);
/* Sorts a->v and removes repeated values. */
void plot_dvec_unique(dvec *a);

/* Row classes: a float rounding (fp32, fp16, bf16, or no operand granularity); status
 * ok with a finite rel_err; weight-only (4-bit: no X granularity, W's given);
 * SmoothQuant on. */
int plot_is_float(const qlab_row *r);
int plot_row_usable(const qlab_row *r);
int plot_is_weight_only(const qlab_row *r);
int plot_is_smooth(const qlab_row *r);

/* Index of a row's granularity combination, 1..N_GRAN (plots/style.gp maps it to a
 * marker shape and a fill pattern), and its legend text into buf. */
int plot_gran_index(const qlab_row *r);
void plot_gran_label(const qlab_row *r, char *buf, size_t len);

/* Legend text of the series a row belongs to (flags: LBL_*); _w: for weight-only
 * figures (the W granularity and threshold only). */
void plot_series_label(const qlab_row *r, int flags, char *buf, size_t len);
void plot_series_label_w(const qlab_row *r, char *buf, size_t len);

/* Same m, k, n; and m k n as a double. */
int plot_same_shape(const qlab_row *a, const qlab_row *b);
double plot_shape_size(const qlab_row *r);

/* Adds row idx (r = its row) to the series labelled `label`, creating it (r becomes
 * its style row). Returns 0, or -1 when out of memory. */
int plot_series_add(series_set *ss, const char *label, const qlab_row *r, int64_t idx);
/* Frees every series and empties ss. */
void plot_series_free(series_set *ss);
/* Legend order of rows (scheme, granularity, SmoothQuant alpha, threshold, label) and
 * of series (qsort comparator over series). */
int plot_cmp_rows(const qlab_row *x, const char *xl, const qlab_row *y, const char *yl);
int plot_cmp_series(const void *a, const void *b);

/* 1 when a figure whose x axis is not the threshold shows r (t = 0 or c->rep_t). */
int plot_keep_t(const plot_ctx *c, const qlab_row *r);
/* The figure's series: the rows of c->d passing f grouped by their label
 * (plot_series_label with `flags`), sorted by plot_cmp_series. Returns 0, or 2 with
 * c->err on out of memory (ss is then empty). */
int plot_collect_series(plot_ctx *c, const row_filter *f, int flags, series_set *ss);
/* The threshold > 0 closest to the paper's 6 among rows with status ok (0 if none). */
double plot_representative_threshold(const qlab_results_data *d);

/* Median of field f over the rows of s (every point when s is NULL) that satisfy
 * pred(r, arg) (pred NULL: every row); non-finite values are left out; NaN if none. */
double plot_median_where(const qlab_results_data *d, const series *s, row_field f, row_pred pred, double arg);
/* The rows of s that pass pred(arg) with a finite f: when they are draws of one point
 * (`repeat:`, their seeds differ), *mean and the 95 % interval [*lo, *hi] over them
 * (Student's t), returning 1; otherwise their median in all three, returning 0. */
int plot_draws_where(const qlab_results_data *d, const series *s, row_field f, row_pred pred, double arg,
                     double *mean, double *lo, double *hi);

/* Subtitle naming the data at `shape`: a synthetic matmul's shape, a dump's layers, a
 * model's sentence embeddings; n_shapes > 1 says it is the largest of several. */
void plot_shape_desc(const qlab_results_data *d, const qlab_row *shape, int n_shapes, char *buf, size_t len);
/* The largest shape (m k n) among rows passing want; *n_shapes (may be NULL) gets the
 * number of distinct shapes. NULL when no row passes. */
const qlab_row *plot_largest_shape(const qlab_results_data *d, int (*want)(const qlab_row *), int *n_shapes);

/* ---------------------------------------------------------------------------- */
/* plot_draw.c: the gnuplot side                                                 */

/* One line (printf format, newline added) to c->log when it is set. */
void plot_log(plot_ctx *c, const char *fmt, ...);
/* Logs "skipped FIG: WHY", counts it, and returns 1 (a figure function's "skipped"). */
int plot_skip(plot_ctx *c, const char *fig, const char *why);
/* Runs plots/<fig>.gp for png, pdf and pdf1 (FIG.png, FIG.pdf, FIG-1col.pdf) with
 * `vars` (gnuplot statements) added to the common ones (dir, out, scripts, ttl, sub, term); the subtitle gets c->gran_note and
 * the note on values not drawn. Returns 0 and counts the figure, or 2 with gnuplot's
 * reason in c->err, leaving none of its files. */
int plot_draw(plot_ctx *c, const char *fig, const char *subtitle, const char *vars);
/* A value bound for a log axis: returned as is and counted in c->n_ok when finite and
 * > 0; otherwise counted in c->n_zero or c->n_nonfinite and returned as NAN, which the
 * TSVs write as "nan", a missing value to gnuplot (plots/style.gp). plot_draw notes
 * the values not drawn in the subtitle and the log. A figure with c->n_ok == 0 would
 * be a gnuplot error ("all points y value undefined"): it calls plot_skip_unshowable. */
double plot_log_value(plot_ctx *c, double v);
/* Skips figure `fig` because none of its values (`what`: "relative error", ...) can be
 * drawn on its log axis; the reason counts them. Returns 1. */
int plot_skip_unshowable(plot_ctx *c, const char *fig, const char *what);
/* Opens c->tmp/name for writing; NULL with c->err set on failure. */
FILE *plot_tsv_open(plot_ctx *c, const char *name);

/* plot_tsv_open of series i's file, s<i+1>.tsv (0-based i). */
FILE *plot_series_tsv_open(plot_ctx *c, int i);
/* Appends r's style keys to k; appends k as gnuplot assignments to vars. */
void plot_style_keys(const qlab_row *r, style_lists *k);
void plot_style_vars(const style_lists *k, char *vars, size_t len);

/* ---------------------------------------------------------------------------- */
/* plot_fig_*.c: the figure kinds                                                */

/* Each draws one figure kind from c (c->tmp an empty directory of its own, the value
 * counters at 0). Returns 0 drawn, 1 skipped (the reason logged), 2 failed (c->err);
 * a failure is the figure's own: the others are drawn all the same. */
int plot_fig_threshold(plot_ctx *c);     /* error_vs_threshold     plot_fig_error.c */
int plot_fig_granularity(plot_ctx *c);   /* error_by_granularity   plot_fig_error.c */
int plot_fig_memory(plot_ctx *c);        /* memory                 plot_fig_memory.c */
int plot_fig_bits(plot_ctx *c);          /* error_vs_bits          plot_fig_memory.c */
int plot_fig_speedup(plot_ctx *c);       /* speedup_vs_k           plot_fig_timing.c */
int plot_fig_stages(plot_ctx *c);        /* stage_breakdown        plot_fig_timing.c */
int plot_fig_throughput(plot_ctx *c);    /* throughput             plot_fig_timing.c */
int plot_fig_layers(plot_ctx *c);        /* error_vs_layer         plot_fig_layers.c */
int plot_fig_depth(plot_ctx *c);         /* error_vs_depth         plot_fig_layers.c */

/* A figure the experiment declares (plot_fig_declared.c): 0 drawn, 1 skipped, 2 failed. */
int plot_fig_declared(plot_ctx *c, const qlab_figure_spec *f);

#endif

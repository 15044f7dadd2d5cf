/* plot_internal.h: what the files of `qlab plot` share; private to harness/report/plot*.c.
 *
 * `qlab plot` (plot.h) is these files, each calling only the ones below it:
 *   plot.c           the entry point: checks gnuplot and the scripts, builds the context,
 *                    and holds the table of built-in figure declarations (plot_decl);
 *                    every figure, built-in or declared in the config (`plots:`), goes
 *                    through plot_figure
 *   plot_figure.c    the one selection and split every figure goes through: the rows a
 *                    declaration selects, the axes it does not map that vary among them
 *                    (one file per value, never averaged), the split by scheme family
 *                    beyond 8 series; then the declaration's renderer, once per file
 *   plot_fig_*.c     the renderers (drawing styles): lines of declared figures, the
 *                    threshold lines, granularity bars, stacked memory bars, the bits dot
 *                    chart, timing lines and stages, per-layer and depth lines; each lays
 *                    out the rows of one file, writes its TSVs and calls plot_draw, or
 *                    plot_skip with a reason
 *   plot_draw.c      the gnuplot side: the log, skips, TSV files, style keys, and
 *                    plot_draw, which runs plots/<figure>.gp (through gnuplot.h)
 *   plot_data.c      data selection: row classes (float, weight-only, usable), legend
 *                    labels, the series collector and row filters, medians, column
 *                    values, subsets of a results file
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

/* More series than a reader can tell apart in one panel: a figure whose declaration
 * allows it is then drawn once per scheme family, each with the float baselines. */
#define MAX_SERIES 8

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
    const struct plot_decl *decl;  /* the figure being drawn */
    const char *suffix;        /* the values of the axes a figure is split by, appended to its
                                  file names ("-depth=4"), or NULL */
    const char *family;        /* the scheme family a figure is drawn for ("int8", "fp8", "4bit":
                                  FIG-int8.png) when it has more than MAX_SERIES series, or NULL */
    const char *script;        /* plots/<script>.gp instead of plots/<figure>.gp, or NULL */
    char tmp[PATH_MAX];
    char scripts[PATH_MAX];
    char gnuplot[PATH_MAX];
    char title[512];           /* experiment, backend, device */
    FILE *log;
    char *err;
    size_t err_len;
    int drawn, skipped, failed;
    char *skip_why;            /* set: plot_skip puts its reason here (skip_why_len bytes) instead of
                                  logging and counting it; plot_figure then logs the skips of a
                                  split figure together */
    size_t skip_why_len;
    int n_ok, n_zero, n_nonfinite;  /* this figure's values on a log axis: drawn, 0 and
                                       NaN/inf (not drawn; see plot_log_value) */
    double rep_t;              /* the one threshold > 0 shown where t is not the x axis */
    int lbl;                   /* LBL_NOGRAN when every int8/fp8 point has one granularity */
    char gran_note[128];       /* that granularity, for subtitles */
} plot_ctx;

/* A figure declaration: what a figure maps and how it is drawn. The built-in kinds
 * are a table of these (plot.c), and a figure declared in the config (`plots:`) becomes
 * one; plot_figure consumes both the same way. Lists are comma-separated names. */
typedef struct plot_decl {
    const char *name;      /* file name: NAME.png, NAME.pdf, NAME-1col.pdf */
    const char *x;         /* axes on x ("k"; "m,k,n" a shape; "layer" the layer of a /layers row or
                              a dump point); "" none: one value per series (bars, dots) */
    const char *y;         /* the values drawn: /points columns or w_bits (16 w_bytes / w_bytes_fp16).
                              A row is selected when the first is finite (and > 0 for a timing or
                              memory column, 0 there being "not measured"); all are compared when
                              deciding whether an axis merges anything */
    const char *series;    /* axes whose values name a line, bar or dot */
    const char *reduce;    /* axes summarised by the median, named in the subtitle (a dump's layers) */
    const char *filter;    /* AXIS=VALUE conditions (report/filter.h), ';' between them */
    int rep_t;             /* 1: threshold 0 and the one nearest 6 only (c->rep_t); 2: that one only */
    int layers;            /* 1: rows are /layers rows (x the layer index); without /layers a dump's points */
    int all_modes;         /* 1: isolated-mode points too (c->full), else c->d */
    int families;          /* beyond MAX_SERIES series: 2 one figure each for int8, fp8; 3 and 4-bit; 0 never */
    int logx, logy;        /* log axes (the renderers of built-in kinds fix their own) */
    const char *style;     /* how it is drawn, in words (the renderer's) */
    const char *needs;     /* the skip reason when no row is selected */
    int (*draw)(plot_ctx *c);   /* the renderer: draws c->d (= c->full), the rows of one file */
    const char *title;     /* declared figures: the title */
} plot_decl;

/* Style keys of a figure's series, in order: scheme name, granularity index,
 * decomposition flag and SmoothQuant flag, as the space-separated lists that
 * plots/style.gp reads (sch, grn, dec, smo). */
typedef struct {
    char sch[4096], grn[1024], dec[1024], smo[1024];
    int by_scheme;   /* 1: series of one scheme (and SmoothQuant flag) differ by dash, whatever
                      * their granularity and decomposition (declared figures, whose markers
                      * are too small to tell those apart) */
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
 * ok with a finite rel_err (the error figures' rows: the timing figures test status ok
 * alone, so a run that measured no error still draws them); weight-only (4-bit: no X
 * granularity, W's given); SmoothQuant on. */
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

/* The figure's series: the rows of c->d that `want` accepts grouped by their label
 * (plot_series_label with `flags`), sorted by plot_cmp_series. Returns 0, or 2 with
 * c->err on out of memory (ss is then empty). */
int plot_collect_series(plot_ctx *c, int (*want)(const qlab_row *), int flags, series_set *ss);
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

/* Subtitle naming the data of a figure whose rows share r's workload: a synthetic
 * matmul's shape, the median over a dump's layers (how many, counted in d), a model's
 * sentence embeddings. */
void plot_shape_desc(const qlab_results_data *d, const qlab_row *r, char *buf, size_t len);

/* Text of column c of row r ("%g" for doubles, a path's last part, '/' and ' ' as '_':
 * usable in a file name), and its number (NaN for text). */
void plot_col_text(const qlab_row *r, const qlab_column *c, char *buf, size_t len);
double plot_col_num(const qlab_row *r, const qlab_column *c);
/* Value `name` of r: a /points column, or w_bits (16 w_bytes / w_bytes_fp16, NaN without
 * memory columns); NaN for an unknown name or a text column. */
double plot_value(const qlab_row *r, const char *name);

/* The scheme family of a scheme: "float", "int8", "fp8" or "4bit". */
const char *plot_family_of(const char *scheme);

/* The points i of d with keep[i] != 0, with their /layers and /samples rows, into *sub
 * (arrays allocated here, freed by plot_subset_free; attributes shared with d).
 * Returns 0, or -1 on out of memory (*sub then empty). */
int plot_subset(const qlab_results_data *d, const char *keep, qlab_results_data *sub);
void plot_subset_free(qlab_results_data *sub);

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
/* plot_figure.c: the selection and split of every figure                        */

/* Draws the figure `decl` declares from c: the rows it selects (status ok, its
 * filter, its thresholds, a finite first y), split into one file per value
 * combination of the axes it does not map (x, series, reduce, filter, seed) that vary
 * within one of its cells (same x, series and reduce values) with different values
 * drawn, never averaged (the log names them, each file's subtitle its values); each
 * file drawn per scheme family when it has more than MAX_SERIES series and decl
 * allows it. Returns 0 when a file was drawn, 1 when every one was skipped (reasons
 * logged), 2 when one failed (c->err). */
int plot_figure(plot_ctx *c, const plot_decl *decl);

/* ---------------------------------------------------------------------------- */
/* plot_fig_*.c: the renderers                                                   */

/* Each draws the rows of one file (c->d and c->full, the rows plot_figure chose; c->tmp
 * an empty directory of its own, the value counters at 0). Returns 0 drawn, 1 skipped
 * (the reason logged), 2 failed (c->err); a failure is the figure's own. */
int plot_fig_threshold(plot_ctx *c);     /* error_vs_threshold     plot_fig_error.c */
int plot_fig_granularity(plot_ctx *c);   /* error_by_granularity   plot_fig_error.c */
int plot_fig_memory(plot_ctx *c);        /* memory                 plot_fig_memory.c */
int plot_fig_bits(plot_ctx *c);          /* error_vs_bits          plot_fig_memory.c */
int plot_fig_speedup(plot_ctx *c);       /* speedup_vs_k           plot_fig_timing.c */
int plot_fig_stages(plot_ctx *c);        /* stage_breakdown        plot_fig_timing.c */
int plot_fig_throughput(plot_ctx *c);    /* throughput             plot_fig_timing.c */
int plot_fig_layers(plot_ctx *c);        /* error_vs_layer         plot_fig_layers.c */
int plot_fig_depth(plot_ctx *c);         /* error_vs_depth         plot_fig_layers.c */
/* y of c->decl against its x, a line per series value (declared figures). */
int plot_fig_lines(plot_ctx *c);         /* plots: (declared.gp)   plot_fig_declared.c */

#endif

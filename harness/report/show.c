/* show.c: `qlab show FILE`, the results table for the terminal (see show.h).
 *
 * Every cell is formatted first, then each column is padded to its widest cell, so
 * the table stays aligned whatever the magnitudes. Text columns are left-aligned,
 * numbers right-aligned so their digits line up.
 */
#include "report/show.h"
#include "report/stats.h"
#include "sweep/config.h"

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

enum {
    COL_SCHEME, COL_GRAN, COL_BLOCK, COL_THR, COL_OUTW, COL_SHAPE, COL_REL, COL_SQNR,
    COL_OCOLS, COL_DRAWS, COL_TIME, COL_SPEED, COL_WMEM, COL_WBITS, COL_WSPLIT, COL_NOTE, N_COLS
};

static const struct { const char *title; int right; } cols[N_COLS] = {
    { "scheme", 0 }, { "x/w", 0 }, { "block", 1 }, { "thr", 1 }, { "outl_w", 0 },
    { "shape", 0 }, { "rel_err", 1 }, { "sqnr_db", 1 }, { "outl_cols", 1 }, { "draws", 1 },
    { "median_us", 1 }, { "vs_fp16", 1 }, { "w_mem", 1 }, { "w_bits", 1 }, { "w_split", 0 },
    { "note", 0 },
};

#define CELL 160
typedef char cell_row[N_COLS][CELL];

static const char *or_dash(const char *s) { return s && *s ? s : "-"; }

static int same_shape(const qlab_row *a, const qlab_row *b)
{
    return a->p.m == b->p.m && a->p.k == b->p.k && a->p.n == b->p.n &&
           strcmp(a->p.layer, b->p.layer) == 0;
}

/* Order of first appearance of each shape and each scheme: the sort keys. */
typedef struct { int64_t shape, scheme, index; } sort_key;

static int cmp_key(const void *a, const void *b)
{
    const sort_key *x = a, *y = b;
    if (x->shape != y->shape) return x->shape < y->shape ? -1 : 1;
    if (x->scheme != y->scheme) return x->scheme < y->scheme ? -1 : 1;
    return x->index < y->index ? -1 : x->index > y->index;
}

/* Bits per weight of part `bytes` (`weights` weights): 3 decimals, or 2 significant
 * digits for a part too small to show in 3 decimals. */
static int fmt_bits(char *buf, size_t len, int64_t bytes, double weights)
{
    double b = 8.0 * (double)bytes / weights;
    if (b == (double)(int64_t)b) return snprintf(buf, len, "%.0f", b);
    if (b < 0.0005) return snprintf(buf, len, "%.2g", b);
    return snprintf(buf, len, "%.3f", b);
}

/* The w_bits cell, bits per stored weight (3 decimals, so the points line up), and the w_split cell: where w_bytes is
 * split into parts (they add up to it) and holds more than codes, the bits of each,
 * "4 + 0.125 + 0.002 dq" (codes + first-level scales + second-level scales of
 * double quantization) or "8 + 0.031 + 0.039 outl" (+ fp16 outlier columns), else
 * "-". The weight count is w_bytes_fp16 / 2, so chains and models (summed over
 * layers) work alike. Returns 1 when a split is shown. */
static int fill_bits(const qlab_row *r, char *bits, char *c)
{
    double weights = (double)r->w_bytes_fp16 / 2.0;
    snprintf(bits, CELL, "%.3f", 8.0 * (double)r->w_bytes / weights);
    int split = r->w_code_bytes + r->w_scale_bytes + r->w_scale2_bytes + r->w_outlier_bytes == r->w_bytes &&
                r->w_code_bytes != r->w_bytes;
    if (!split) {
        snprintf(c, CELL, "-");
        return 0;
    }
    int o = fmt_bits(c, CELL, r->w_code_bytes, weights);
    o += snprintf(c + o, CELL - (size_t)o, " + ");
    o += fmt_bits(c + o, CELL - (size_t)o, r->w_scale_bytes, weights);
    if (r->w_scale2_bytes) {
        o += snprintf(c + o, CELL - (size_t)o, " + ");
        o += fmt_bits(c + o, CELL - (size_t)o, r->w_scale2_bytes, weights);
        o += snprintf(c + o, CELL - (size_t)o, " dq");
    }
    if (r->w_outlier_bytes) {
        o += snprintf(c + o, CELL - (size_t)o, " + ");
        o += fmt_bits(c + o, CELL - (size_t)o, r->w_outlier_bytes, weights);
        snprintf(c + o, CELL - (size_t)o, " outl");
    }
    return 1;
}

/* Returns 1 when the w_split cell shows the parts of w_bytes. */
static int fill_cells(const qlab_row *r, cell_row c)
{
    int ok = r->status == QLAB_STATUS_OK;
    /* SmoothQuant is a pre-transform of the scheme: shown with it, so the rows of a
     * smooth_alpha sweep do not read alike. */
    if (r->p.smooth_alpha > 0)
        snprintf(c[COL_SCHEME], CELL, "%s+smooth%g", or_dash(r->p.scheme), r->p.smooth_alpha);
    else
        snprintf(c[COL_SCHEME], CELL, "%s", or_dash(r->p.scheme));
    if (!*r->p.x_granularity && !*r->p.w_granularity) snprintf(c[COL_GRAN], CELL, "-");
    else snprintf(c[COL_GRAN], CELL, "%s/%s", or_dash(r->p.x_granularity), or_dash(r->p.w_granularity));
    if (r->p.block) snprintf(c[COL_BLOCK], CELL, "%" PRId64, r->p.block);
    else snprintf(c[COL_BLOCK], CELL, "-");
    if (r->p.threshold != 0) snprintf(c[COL_THR], CELL, "%g", r->p.threshold);
    else snprintf(c[COL_THR], CELL, "-");
    snprintf(c[COL_OUTW], CELL, "%s", r->p.threshold != 0 ? or_dash(r->p.outlier_weights) : "-");
    /* What the point ran on: m x k x n (+ a dump's layer), a chain's depth and mode, or
     * a model's name and mode (a model has many shapes, so none is shown). */
    int off = 0;
    if (r->p.m || r->p.k || r->p.n)
        off = snprintf(c[COL_SHAPE], CELL, "%" PRId64 "x%" PRId64 "x%" PRId64, r->p.m, r->p.k, r->p.n);
    else if (*r->p.model)
        off = snprintf(c[COL_SHAPE], CELL, "%.40s", r->p.model);
    else
        off = snprintf(c[COL_SHAPE], CELL, "-");
    if (*r->p.layer && off < CELL)
        off += snprintf(c[COL_SHAPE] + off, CELL - (size_t)off, " %.100s", r->p.layer);
    if (r->p.depth && off < CELL)
        off += snprintf(c[COL_SHAPE] + off, CELL - (size_t)off, " depth=%" PRId64, r->p.depth);
    if (*r->p.mode && off < CELL)
        snprintf(c[COL_SHAPE] + off, CELL - (size_t)off, " %.20s", r->p.mode);
    if (ok && !qlab_row_error_measured(r)) {   /* a run that measured no error */
        snprintf(c[COL_REL], CELL, "-");
        snprintf(c[COL_SQNR], CELL, "-");
        snprintf(c[COL_OCOLS], CELL, "%" PRId64, r->outlier_cols);
    } else if (ok) {
        snprintf(c[COL_REL], CELL, "%.3e", r->rel_err);
        snprintf(c[COL_SQNR], CELL, "%.2f", r->sqnr_db);
        snprintf(c[COL_OCOLS], CELL, "%" PRId64, r->outlier_cols);
    } else {
        snprintf(c[COL_REL], CELL, "-");
        snprintf(c[COL_SQNR], CELL, "-");
        snprintf(c[COL_OCOLS], CELL, "-");
    }
    /* a point timed with no samples has no time, whatever the struct holds */
    if (ok && r->t.samples > 0) snprintf(c[COL_TIME], CELL, "%.1f", r->t.median_us);
    else snprintf(c[COL_TIME], CELL, "-");
    if (ok && r->speedup_vs_fp16 > 0) snprintf(c[COL_SPEED], CELL, "%.2fx", r->speedup_vs_fp16);
    else snprintf(c[COL_SPEED], CELL, "-");
    if (ok && r->w_bytes_fp16 > 0)
        snprintf(c[COL_WMEM], CELL, "%.1f%%", 100.0 * (double)r->w_bytes / (double)r->w_bytes_fp16);
    else
        snprintf(c[COL_WMEM], CELL, "-");
    int split = 0;
    if (ok && r->w_bytes_fp16 > 0) {
        split = fill_bits(r, c[COL_WBITS], c[COL_WSPLIT]);
    } else {
        snprintf(c[COL_WBITS], CELL, "-");
        snprintf(c[COL_WSPLIT], CELL, "-");
    }
    if (ok) c[COL_NOTE][0] = 0;
    else snprintf(c[COL_NOTE], CELL, "%s%s%.120s", qlab_status_name(r->status),
                  *r->message ? ": " : "", r->message);
    return split;
}

/* Points that differ only in their seed are draws of one point (`repeat:`). */
static int same_but_seed(const qlab_row *a, const qlab_row *b)
{
    qlab_point q = b->p;
    q.seed = a->p.seed;
    return qlab_point_same(&a->p, &q);
}

/* The rel_err and sqnr_db cells of a group of draws: the mean and its 95 % interval
 * ("4.171e-02 ±1.2e-03"), and the number of draws. */
static void fill_draws(const qlab_results_data *d, const int64_t *members, int64_t n, cell_row c)
{
    double *v = malloc((size_t)n * sizeof *v), mean, half;
    int64_t k = 0;
    snprintf(c[COL_DRAWS], CELL, "%" PRId64, n);
    if (!v)
        return;
    for (int64_t i = 0; i < n; i++)
        if (d->points[members[i]].status == QLAB_STATUS_OK && qlab_row_error_measured(&d->points[members[i]]))
            v[k++] = d->points[members[i]].rel_err;
    if (k > 0) {
        qlab_mean_ci95(v, k, &mean, &half);
        snprintf(c[COL_REL], CELL, "%.3e ±%.1e", mean, half);
        k = 0;
        for (int64_t i = 0; i < n; i++)
            if (d->points[members[i]].status == QLAB_STATUS_OK && qlab_row_error_measured(&d->points[members[i]]))
                v[k++] = d->points[members[i]].sqnr_db;
        qlab_mean_ci95(v, k, &mean, &half);
        snprintf(c[COL_SQNR], CELL, "%.2f ±%.2f", mean, half);
        if (k < n)
            snprintf(c[COL_DRAWS], CELL, "%" PRId64 " of %" PRId64, k, n);
    }
    free(v);
}

static int g_show_draws;   /* print the draws column (a file with repeats) */

static void print_row(FILE *out, char c[N_COLS][CELL], const int *w, int last)
{
    for (int j = 0; j <= last; j++) {
        if (j == COL_DRAWS && !g_show_draws) continue;
        if (j) fputs("  ", out);
        if (j == last && !cols[j].right) fputs(c[j], out);   /* no trailing blanks */
        else fprintf(out, cols[j].right ? "%*s" : "%-*s", w[j], c[j]);
    }
    fputc('\n', out);
}

int qlab_show(const qlab_results_data *d, FILE *out)
{
    int64_t n = d->n_points, n_ok = 0, n_failed = 0, n_skipped = 0;
    for (int64_t i = 0; i < n; i++) {
        int32_t s = d->points[i].status;
        n_ok += s == QLAB_STATUS_OK;
        n_failed += s == QLAB_STATUS_FAILED;
        n_skipped += s == QLAB_STATUS_SKIPPED;
    }
    const char *total = qlab_results_attr(d, "points_total");
    fprintf(out, "experiment: %s\n", or_dash(qlab_results_attr(d, "experiment")));
    fprintf(out, "backend: %s   device: %s   status: %s\n", or_dash(qlab_results_attr(d, "backend")),
            or_dash(qlab_results_attr(d, "device")), or_dash(qlab_results_attr(d, "status")));
    fprintf(out, "points: %" PRId64 " ok, %" PRId64 " failed, %" PRId64 " skipped", n_ok, n_failed,
            n_skipped);
    if (total) fprintf(out, " (%" PRId64 " of %s in the sweep)", n, total);
    fputc('\n', out);
    const char *status = qlab_results_attr(d, "status");
    if (n == 0 && status && !strcmp(status, "running"))
        fprintf(out, "note: a running or killed run keeps its newest points in FILE.journal beside the file; "
                "a copy without it shows fewer\n");
    if (n == 0) return ferror(out) ? 2 : 0;

    sort_key *keys = malloc((size_t)n * sizeof *keys);
    cell_row *cells = malloc((size_t)n * sizeof *cells);
    if (!keys || !cells) {
        free(keys);
        free(cells);
        return 2;
    }
    /* first-appearance ranks; quadratic in the number of points, fine at table sizes */
    for (int64_t i = 0; i < n; i++) {
        const qlab_row *r = &d->points[i];
        keys[i].index = i;
        keys[i].shape = i;
        keys[i].scheme = i;
        for (int64_t j = 0; j < i; j++)
            if (same_shape(&d->points[j], r)) { keys[i].shape = keys[j].shape; break; }
        for (int64_t j = 0; j < i; j++)
            if (strcmp(d->points[j].p.scheme, r->p.scheme) == 0) { keys[i].scheme = keys[j].scheme; break; }
    }
    qsort(keys, (size_t)n, sizeof *keys, cmp_key);

    /* Draws: with repeats (seeds differ), the rows of one point become one line with
     * the mean and 95 % interval of its draws; leader[i] is the first draw's index. */
    int64_t *leader = malloc((size_t)n * sizeof *leader), *members = malloc((size_t)n * sizeof *members);
    if (!leader || !members) {
        free(keys); free(cells); free(leader); free(members);
        return 2;
    }
    int repeats = 0;
    for (int64_t i = 1; i < n && !repeats; i++)
        repeats = d->points[i].p.seed != d->points[0].p.seed;
    for (int64_t i = 0; i < n; i++) {
        leader[i] = i;
        for (int64_t j = 0; repeats && j < i; j++)
            if (leader[j] == j && same_but_seed(&d->points[j], &d->points[i])) { leader[i] = j; break; }
    }
    g_show_draws = repeats;

    int w[N_COLS];
    int any_note = 0, any_split = 0;
    for (int j = 0; j < N_COLS; j++) w[j] = (int)strlen(cols[j].title);
    for (int64_t i = 0; i < n; i++) {
        int64_t idx = keys[i].index;
        if (leader[idx] != idx) {
            cells[i][0][0] = 1;   /* a later draw: folded into its leader's line */
            continue;
        }
        any_split |= fill_cells(&d->points[idx], cells[i]);
        snprintf(cells[i][COL_DRAWS], CELL, "1");
        if (repeats) {
            int64_t nm = 0;
            for (int64_t j = 0; j < n; j++)
                if (leader[j] == idx) members[nm++] = j;
            if (nm > 1) fill_draws(d, members, nm, cells[i]);
        }
        for (int j = 0; j < N_COLS; j++) {
            int l = (int)strlen(cells[i][j]);
            if (l > w[j]) w[j] = l;
        }
        any_note |= cells[i][COL_NOTE][0] != 0;
    }
    int last = any_note ? COL_NOTE : COL_NOTE - 1;

    fputc('\n', out);
    cell_row head;
    for (int j = 0; j < N_COLS; j++) snprintf(head[j], CELL, "%s", cols[j].title);
    print_row(out, head, w, last);
    int64_t prev = -1;
    for (int64_t i = 0; i < n; i++) {
        if (cells[i][0][0] == 1) continue;
        if (prev >= 0 && keys[i].shape != keys[prev].shape) fputc('\n', out);
        print_row(out, cells[i], w, last);
        prev = i;
    }
    if (repeats)
        fprintf(out, "\ndraws: points run with `repeat:` (seeds differ); rel_err and sqnr_db are the mean"
                     " ±95%% interval (Student's t) over the draws\n");
    int any_speedup = 0;
    for (int64_t i = 0; i < d->n_points && !any_speedup; i++)
        any_speedup = d->points[i].status == QLAB_STATUS_OK && d->points[i].speedup_vs_fp16 > 0;
    if (any_speedup)
        fprintf(out, "\nvs_fp16: the fp16 GEMM of the point's shape, timed within the point, over median_us"
                     " (not over the fp16 row, which was timed at another moment)\n");
    if (any_split)
        fprintf(out, "\nw_split: w_bits = codes + scales (+ zero points)"
                     " [+ dq: second-level scales] [+ outl: fp16 outlier columns]\n");
    free(keys);
    free(cells);
    free(leader);
    free(members);
    return ferror(out) ? 2 : 0;
}

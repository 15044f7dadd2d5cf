/* plot_figure.c: the selection and split every figure of `qlab plot` goes through
 * (see plot_internal.h), built-in kinds and `plots:` alike.
 *
 * A declaration (plot_decl) names the axes a figure maps: x, series, reduce (summarised
 * by the median and said so), filter. Its rows are the points (or /layers rows) that
 * pass its filter and thresholds with a finite first value. A cell is the rows of one
 * x value, one series and one reduce value; an axis the figure does not map that takes
 * two values within a cell whose drawn values differ would be averaged there, so the
 * figure is drawn once per value combination of such axes, into files named after the
 * values, and the log says so. An axis that varies without changing what is drawn
 * (the depth of a chain for its first layers' errors, m for the weight memory) merges
 * nothing and splits nothing; draws of one point (`repeat:`, the seed) are
 * summarised by the renderers (mean and 95 % interval, or the median). Each file is
 * then drawn by the declaration's renderer, once per scheme family when it has more
 * than MAX_SERIES series and the declaration allows it.
 */
#include "report/plot_internal.h"
#include "report/filter.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* 1 when `name` is in the comma-separated list. */
static int in_list(const char *list, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = list; p && *p;) {
        size_t w = strcspn(p, ",");
        if (w == n && !strncmp(p, name, n))
            return 1;
        p += w + (p[w] == ',');
    }
    return 0;
}

/* The next word of a comma-separated list into w; returns the rest, NULL at the end. */
static const char *next_word(const char *p, char *w, size_t len)
{
    if (!p || !*p)
        return NULL;
    size_t n = strcspn(p, ",");
    snprintf(w, len, "%.*s", (int)n, p);
    return p + n + (p[n] == ',');
}

/* Columns whose 0 means "not measured" (a run without latency or memory): a row with
 * such a first value is not selected. An error of 0 is a result (exact data). */
static int zero_unmeasured(const char *y)
{
    static const char *const cols[] = {"median_us", "speedup_vs_fp16", "tops", "gbps", "fp16_median_us",
                                       "w_bits", "w_bytes", "x_bytes", "peak_bytes"};
    for (size_t i = 0; i < sizeof cols / sizeof cols[0]; i++)
        if (!strcmp(y, cols[i]))
            return 1;
    return 0;
}

/* One selected row: a point (l NULL) or one of its /layers rows. */
typedef struct {
    int64_t pt;                /* index into the source's points */
    const qlab_layer_row *l;
    char cell0[512];           /* x, series and reduce values */
    char cell[768];            /* cell0 and the values of the axes found to split */
    char vals[160];            /* the drawn values */
    char axis[128];            /* the value of the axis being checked */
} item;

static int cmp_item(const void *a, const void *b)
{
    const item *x = a, *y = b;
    int r = strcmp(x->cell, y->cell);
    return r ? r : strcmp(x->axis, y->axis);
}

/* 1 when axis col takes two values within a cell (cell0 refined by the axes
 * by[0..n_by) but by[skip]) whose drawn values differ. Reorders it. */
static int splits(const qlab_results_data *src, item *it, int64_t n, const qlab_column *col,
                  const qlab_column *const *by, int n_by, int skip)
{
    for (int64_t i = 0; i < n; i++) {
        const qlab_row *r = &src->points[it[i].pt];
        size_t o = (size_t)snprintf(it[i].cell, sizeof it[i].cell, "%s", it[i].cell0);
        for (int b = 0; b < n_by && o < sizeof it[i].cell; b++)
            if (b != skip) {
                char v[128];
                plot_col_text(r, by[b], v, sizeof v);
                o += (size_t)snprintf(it[i].cell + o, sizeof it[i].cell - o, "\x1f%s", v);
            }
        plot_col_text(r, col, it[i].axis, sizeof it[i].axis);
    }
    if (n > 1)
        qsort(it, (size_t)n, sizeof *it, cmp_item);
    for (int64_t i = 0, j; i < n; i = j) {
        int axis_differs = 0, vals_differ = 0;
        for (j = i + 1; j < n && !strcmp(it[j].cell, it[i].cell); j++) {
            axis_differs |= strcmp(it[j].axis, it[i].axis) != 0;
            vals_differ |= strcmp(it[j].vals, it[i].vals) != 0;
        }
        if (axis_differs && vals_differ)
            return 1;
    }
    return 0;
}

/* Axes the declaration maps (never split): x, series, reduce, filter keys, id, seed. */
static int mapped(const plot_decl *dc, const char *axis)
{
    if (in_list(dc->x, axis) || in_list(dc->series, axis) || in_list(dc->reduce, axis) || !strcmp(axis, "id") ||
        !strcmp(axis, "seed") || (dc->rep_t && !strcmp(axis, "threshold")))
        return 1;
    size_t n = strlen(axis);
    for (const char *p = dc->filter; p && *p; p += strcspn(p, ";"), p += *p == ';')
        if (!strncmp(p, axis, n) && p[n] == '=')
            return 1;
    return 0;
}

/* Appends the text of the listed axes of r to buf at *o, each after a '\x1f'. */
static void append_axes(const qlab_row *r, const char *list, char *buf, size_t len, size_t *o)
{
    char w[64];
    for (const char *p = list; (p = next_word(p, w, sizeof w));) {
        const qlab_column *c = qlab_axis_column(w);
        char v[128] = "";
        if (c)
            plot_col_text(r, c, v, sizeof v);
        if (*o < len)
            *o += (size_t)snprintf(buf + *o, len - *o, "\x1f%s", v);
    }
}

/* Number of distinct legend series among the quantized points of d (labels with lbl). */
static int count_series(const qlab_results_data *d, int lbl)
{
    int n = 0;
    char (*seen)[256] = calloc(64, sizeof *seen);
    for (int64_t i = 0; seen && i < d->n_points && n < 64; i++) {
        const qlab_row *r = &d->points[i];
        if (plot_is_float(r))
            continue;
        char lab[256];
        plot_series_label(r, lbl, lab, sizeof lab);
        int k = 0;
        while (k < n && strcmp(seen[k], lab))
            k++;
        if (k == n)
            snprintf(seen[n++], sizeof seen[0], "%s", lab);
    }
    free(seen);
    return n;
}

/* Draws one file's rows (c->d = c->full = the group), per scheme family beyond
 * MAX_SERIES series. Returns 0, 1 or 2 as a renderer. */
static int draw_file(plot_ctx *c, const plot_decl *dc, const qlab_results_data *g)
{
    static const char *const families[] = {"int8", "fp8", "4bit"};
    int lbl = c->lbl | (strcmp(dc->x, "threshold") ? LBL_T : 0);
    int n = dc->families ? count_series(g, lbl) : 0;
    c->d = c->full = g;
    if (n <= MAX_SERIES)
        return dc->draw(c);
    plot_log(c, "%s%s: %d series, more than %d; one figure per scheme family (%s), each with the float baselines",
             dc->name, c->suffix ? c->suffix : "", n, MAX_SERIES,
             dc->families == 3 ? "int8, fp8, 4-bit" : "int8, fp8");
    char *keep = malloc((size_t)g->n_points + 1);
    if (!keep) {
        snprintf(c->err, c->err_len, "plot: out of memory");
        return 2;
    }
    int rc = 1;
    for (int f = 0; f < dc->families && rc != 2; f++) {
        int has = 0;
        for (int64_t i = 0; i < g->n_points; i++) {
            const char *fam = plot_family_of(g->points[i].p.scheme);
            keep[i] = !strcmp(fam, families[f]) || !strcmp(fam, "float");
            has |= !strcmp(fam, families[f]);
        }
        qlab_results_data sub;
        if (!has)
            continue;
        if (plot_subset(g, keep, &sub)) {
            snprintf(c->err, c->err_len, "plot: out of memory");
            rc = 2;
            break;
        }
        c->d = c->full = &sub;
        c->family = families[f];
        int r = dc->draw(c);
        c->family = NULL;
        plot_subset_free(&sub);
        rc = r == 2 ? 2 : r == 0 ? 0 : rc;
    }
    free(keep);
    c->d = c->full = g;
    return rc;
}

int plot_figure(plot_ctx *c, const plot_decl *dc)
{
    const qlab_results_data *src = dc->all_modes ? c->full : c->d, *keep_d = c->d, *keep_full = c->full;
    int by_layers = dc->layers && src->n_layers > 0;
    qlab_filter filt = {0};
    char ferr[512], y0[64];
    for (const char *p = dc->filter; p && *p; p += strcspn(p, ";"), p += *p == ';') {
        char cond[QLAB_PATH_LEN + 72];
        snprintf(cond, sizeof cond, "%.*s", (int)strcspn(p, ";"), p);
        if (qlab_filter_add(&filt, cond, dc->name, ferr, sizeof ferr))
            return plot_skip(c, dc->name, ferr);
    }
    snprintf(y0, sizeof y0, "%.*s", (int)strcspn(dc->y, ","), dc->y);

    /* the rows: points, or their /layers rows (point ids index the points) */
    int64_t cap = by_layers ? src->n_layers : src->n_points, n = 0;
    item *it = malloc(((size_t)cap + 1) * sizeof *it);
    int64_t *pt_of_id = NULL, max_id = 0;
    for (int64_t i = 0; i < src->n_points; i++)
        max_id = src->points[i].p.id > max_id ? src->points[i].p.id : max_id;
    if (by_layers && max_id < INT32_MAX)
        pt_of_id = malloc(((size_t)max_id + 1) * sizeof *pt_of_id);
    if (!it || (by_layers && !pt_of_id)) {
        free(it);
        free(pt_of_id);
        snprintf(c->err, c->err_len, "plot: out of memory");
        return 2;
    }
    char *sel = calloc((size_t)src->n_points + 1, 1);
    for (int64_t i = 0; sel && i < src->n_points; i++) {
        const qlab_row *r = &src->points[i];
        double t = r->p.threshold;
        sel[i] = r->status == QLAB_STATUS_OK && qlab_filter_matches(&filt, r) &&
                 (dc->rep_t == 0 || (dc->rep_t == 1 && t <= 0) || t == c->rep_t) &&
                 (!dc->layers || by_layers || (!strcmp(r->p.workload, "dump") && r->p.layer[0]));
        if (by_layers)
            continue;
        double v = plot_value(r, y0);
        if (sel[i] && isfinite(v) && (v > 0 || !zero_unmeasured(y0)))
            it[n++] = (item){.pt = i};
    }
    if (by_layers && sel) {
        for (int64_t i = 0; i <= max_id; i++)
            pt_of_id[i] = -1;
        for (int64_t i = 0; i < src->n_points; i++)
            if (src->points[i].p.id >= 0)
                pt_of_id[src->points[i].p.id] = i;
        for (int64_t l = 0; l < src->n_layers; l++) {
            int64_t id = src->layers[l].point_id, i = id >= 0 && id <= max_id ? pt_of_id[id] : -1;
            if (i >= 0 && sel[i] && isfinite(src->layers[l].rel_err))
                it[n++] = (item){.pt = i, .l = &src->layers[l]};
        }
    }
    free(pt_of_id);
    if (!sel) {
        free(it);
        snprintf(c->err, c->err_len, "plot: out of memory");
        return 2;
    }
    if (n == 0) {
        free(it);
        free(sel);
        return plot_skip(c, dc->name, dc->needs);
    }
    for (int64_t i = 0; i < n; i++) {
        const qlab_row *r = &src->points[it[i].pt];
        size_t o = 0;
        if (it[i].l)
            o = (size_t)snprintf(it[i].cell0, sizeof it[i].cell0, "%lld\x1f%s", (long long)it[i].l->layer_index,
                                 it[i].l->mode);
        else
            append_axes(r, dc->x, it[i].cell0, sizeof it[i].cell0, &o);
        append_axes(r, dc->series, it[i].cell0, sizeof it[i].cell0, &o);
        append_axes(r, dc->reduce, it[i].cell0, sizeof it[i].cell0, &o);
        o = 0;
        if (it[i].l)
            snprintf(it[i].vals, sizeof it[i].vals, "%.17g", it[i].l->rel_err);
        else {
            char w[64];
            for (const char *p = dc->y; (p = next_word(p, w, sizeof w)) && o < sizeof it[i].vals;)
                o += (size_t)snprintf(it[i].vals + o, sizeof it[i].vals - o, "%.17g ", plot_value(r, w));
        }
    }

    /* the axes it does not map that vary within a cell with different drawn values:
     * in column order, each one found refining the cells of the next (so that an axis
     * varying beside a shape that splits is judged within one shape), then each kept
     * only if it still splits the cells the others refine */
    size_t ncol, rs;
    const qlab_column *cols = qlab_results_columns("points", &ncol, &rs), *vary[64];
    int nv = 0;
    for (size_t a = 0; a < ncol && nv < 64; a++)
        if (cols[a].offset < sizeof(qlab_point) && !mapped(dc, cols[a].name) &&
            splits(src, it, n, &cols[a], vary, nv, -1))
            vary[nv++] = &cols[a];
    for (int a = 0; a < nv; a++)
        if (!splits(src, it, n, vary[a], vary, nv, a)) {
            memmove(&vary[a], &vary[a + 1], (size_t)(nv - a - 1) * sizeof *vary);
            nv--;
            a--;
        }
    char names[512] = "";
    for (int a = 0; a < nv; a++)
        snprintf(names + strlen(names), sizeof names - strlen(names), "%s%s", a ? ", " : "", vary[a]->name);
    if (nv)
        plot_log(c, "%s: %d ax%s it does not name var%s among its points (%s): one file per value, never averaged",
                 dc->name, nv, nv == 1 ? "is" : "es", nv == 1 ? "ies" : "y", names);

    /* one file per value combination: the selected points of each */
    char *in_file = calloc((size_t)src->n_points + 1, 1), *done = calloc((size_t)src->n_points + 1, 1);
    int64_t *first = malloc(((size_t)src->n_points + 1) * sizeof *first);
    char (*key)[512] = malloc(((size_t)src->n_points + 1) * sizeof *key);
    int rc = 1;
    if (!in_file || !done || !first || !key) {
        snprintf(c->err, c->err_len, "plot: out of memory");
        rc = 2;
        goto out;
    }
    int64_t n_first = 0;   /* the points with a selected row, in their order */
    for (int64_t i = 0; i < n; i++)
        done[it[i].pt] = 1;
    for (int64_t i = 0; i < src->n_points; i++)
        if (done[i])
            first[n_first++] = i;
    for (int64_t i = 0; i < src->n_points; i++) {
        size_t o = 0;
        key[i][0] = '\0';
        for (int a = 0; a < nv && o < sizeof key[i]; a++) {
            char v[128];
            plot_col_text(&src->points[i], vary[a], v, sizeof v);
            o += (size_t)snprintf(key[i] + o, sizeof key[i] - o, "%s%s=%s", a ? "," : "-", vary[a]->name, v);
        }
    }
    /* the files of a split figure skipped for one reason are logged as one skip */
    char why[512] = "", first_why[512] = "", *skips = NULL;
    size_t skips_len = 0;
    int n_files = 0, n_skipped = 0, one_reason = 1;
    if (nv) {
        c->skip_why = why;
        c->skip_why_len = sizeof why;
    }
    memset(done, 0, (size_t)src->n_points);
    for (int64_t f = 0; f < n_first && rc != 2; f++) {
        int64_t p0 = first[f];
        if (done[p0])
            continue;
        for (int64_t q = 0; q < n_first; q++) {
            int64_t pq = first[q];
            in_file[pq] = !strcmp(key[pq], key[p0]);
            done[pq] |= in_file[pq];
        }
        qlab_results_data g;
        if (plot_subset(src, in_file, &g)) {
            snprintf(c->err, c->err_len, "plot: out of memory");
            rc = 2;
            break;
        }
        c->decl = dc;
        c->suffix = key[p0][0] ? key[p0] : NULL;
        c->n_ok = c->n_zero = c->n_nonfinite = 0;
        int r = draw_file(c, dc, &g);
        c->suffix = NULL;
        c->d = keep_d;
        c->full = keep_full;
        plot_subset_free(&g);
        rc = r == 2 ? 2 : r == 0 ? 0 : rc;
        memset(in_file, 0, (size_t)src->n_points);
        n_files++;
        if (r == 1 && nv) {
            if (!n_skipped++)
                snprintf(first_why, sizeof first_why, "%s", why);
            one_reason &= !strcmp(why, first_why);
            size_t add = strlen(dc->name) + strlen(key[p0]) + strlen(why) + 16;
            char *v = realloc(skips, skips_len + add);
            if (v) {
                skips = v;
                skips_len += (size_t)snprintf(skips + skips_len, add, "skipped %s%s: %s\n", dc->name, key[p0], why);
            }
        }
    }
    c->skip_why = NULL;
    if (n_skipped && n_skipped == n_files && one_reason) {
        plot_log(c, "skipped %s: %s (each of its %d files by %s)", dc->name, first_why, n_files, names);
        c->skipped++;
    } else if (n_skipped) {
        if (c->log && skips)
            fputs(skips, c->log);
        c->skipped += n_skipped;
    }
    free(skips);
out:
    free(it);
    free(sel);
    free(in_file);
    free(done);
    free(first);
    free(key);
    return rc;
}

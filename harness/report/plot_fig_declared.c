/* plot_fig_declared.c: the figures an experiment declares (`plots:`, sweep/figspec.h),
 * drawn by plots/declared.gp: y against x, one line per series, the filter applied.
 * Axes the figure does not name that vary among its points are drawn apart, one file
 * per value combination ("NAME-x_outlier_scale=20.png"); draws of one point
 * (`repeat:`, seeds differ) are their mean with the 95 % interval as error bars. */
#include "report/plot_internal.h"
#include "report/filter.h"
#include "report/stats.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Text of column c of r ("%g" for doubles). */
static void text_of(const qlab_row *r, const qlab_column *c, char *buf, size_t len)
{
    const char *p = (const char *)r + c->offset;
    switch (c->kind) {
    case QLAB_COL_F64: { double v; memcpy(&v, p, 8); snprintf(buf, len, "%g", v == 0 ? 0.0 : v); break; }
    case QLAB_COL_I64: { int64_t v; memcpy(&v, p, 8); snprintf(buf, len, "%lld", (long long)v); break; }
    case QLAB_COL_U64: { uint64_t v; memcpy(&v, p, 8); snprintf(buf, len, "%llu", (unsigned long long)v); break; }
    case QLAB_COL_I32:
    case QLAB_COL_STATUS: { int32_t v; memcpy(&v, p, 4); snprintf(buf, len, "%d", (int)v); break; }
    case QLAB_COL_STR: snprintf(buf, len, "%.*s", (int)(c->size < 120 ? c->size : 120), p); break;
    }
    for (char *q = buf; *q; q++)
        if (*q == '/' || *q == ' ')
            *q = '_';
}

static double num_of(const qlab_row *r, const qlab_column *c)
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

static const qlab_column *column(const char *name) { return qlab_results_column("points", name); }

static int named(const qlab_figure_spec *f, const char *axis)
{
    if (!strcmp(axis, f->x) || !strcmp(axis, "id") || !strcmp(axis, "seed"))
        return 1;
    for (int i = 0; i < f->n_series; i++)
        if (!strcmp(axis, f->series[i]))
            return 1;
    for (int i = 0; i < f->n_filter; i++)
        if (!strncmp(f->filter[i], axis, strlen(axis)) && f->filter[i][strlen(axis)] == '=')
            return 1;
    return 0;
}

typedef struct {
    char cell[512];    /* x and the series values */
    char value[128];   /* one unnamed axis's value */
} cell_entry;

static int cmp_cell(const void *a, const void *b)
{
    const cell_entry *x = a, *y = b;
    int r = strcmp(x->cell, y->cell);
    return r ? r : strcmp(x->value, y->value);
}

/* One file: the rows idx[0..n) of one value combination of the unnamed axes. */
static int draw_group(plot_ctx *c, const qlab_figure_spec *f, const int64_t *idx, int64_t n, const char *suffix)
{
    const qlab_results_data *d = c->d;
    const qlab_column *cx = column(f->x), *cy = column(f->y), *cs[QLAB_FIG_MAX_SERIES];
    for (int s = 0; s < f->n_series; s++)
        cs[s] = column(f->series[s]);
    char (*key)[256] = calloc((size_t)n, sizeof *key);
    int *ser = calloc((size_t)n, sizeof *ser), nser = 0, any_err = 0;
    int64_t *first = calloc((size_t)n, sizeof *first);
    if (!key || !ser || !first) {
        free(key); free(ser); free(first);
        snprintf(c->err, c->err_len, "plot: out of memory");
        return 2;
    }
    for (int64_t i = 0; i < n; i++) {
        size_t o = 0;
        for (int s = 0; s < f->n_series && o < sizeof key[0]; s++) {
            char v[128];
            text_of(&d->points[idx[i]], cs[s], v, sizeof v);
            o += (size_t)snprintf(key[i] + o, sizeof key[0] - o, "%s%s%s%s", s ? " " : "",
                                  strcmp(f->series[s], "scheme") ? f->series[s] : "",
                                  strcmp(f->series[s], "scheme") ? "=" : "", v[0] ? v : "-");
        }
        int k = 0;
        while (k < nser && strcmp(key[first[k]], key[i]))
            k++;
        if (k == nser)
            first[nser++] = i;
        ser[i] = k;
    }
    for (int s = 0; s < nser; s++) {
        dvec xs = {0};
        for (int64_t i = 0; i < n; i++)
            if (ser[i] == s)
                plot_dvec_push(&xs, num_of(&d->points[idx[i]], cx));
        plot_dvec_unique(&xs);
        FILE *t = plot_series_tsv_open(c, s);
        if (!t) {
            free(xs.v); free(key); free(ser); free(first);
            return 2;
        }
        fprintf(t, "%s\t%s\tlo\thi\n", f->x, key[first[s]]);
        for (int64_t j = 0; j < xs.n; j++) {
            dvec ys = {0};
            for (int64_t i = 0; i < n; i++)
                if (ser[i] == s && num_of(&d->points[idx[i]], cx) == xs.v[j]) {
                    double y = num_of(&d->points[idx[i]], cy);
                    if (isfinite(y))
                        plot_dvec_push(&ys, y);
                }
            if (ys.n) {
                double mean, half;
                qlab_mean_ci95(ys.v, ys.n, &mean, &half);
                any_err |= ys.n > 1;
                double shown = f->logy ? plot_log_value(c, mean) : mean;
                fprintf(t, "%.10g\t%.6g\t%.6g\t%.6g\n", xs.v[j], shown, f->logy && mean - half <= 0 ? mean : mean - half,
                        mean + half);
            }
            free(ys.v);
        }
        fclose(t);
        free(xs.v);
    }
    char vars[1024], fig[96];
    snprintf(vars, sizeof vars, "nser=%d; logx=%d; logy=%d; has_err=%d; xl='%s'; yl='%s'; what='%s';", nser, f->logx,
             f->logy, any_err, f->x, f->y, f->title);
    snprintf(fig, sizeof fig, "%s", f->name);
    free(key); free(ser); free(first);
    if (any_err)
        plot_log(c, "%s%s: draws of one point (repeat) are their mean with the 95%% interval", f->name, suffix);
    c->suffix = suffix[0] ? suffix : NULL;
    c->script = "declared";
    int rc = plot_draw(c, fig, "", vars);
    c->suffix = NULL;
    c->script = NULL;
    return rc;
}

int plot_fig_declared(plot_ctx *c, const qlab_figure_spec *f)
{
    const qlab_results_data *d = c->d;
    qlab_filter filt = {0};
    char ferr[512];
    for (int i = 0; i < f->n_filter; i++)
        if (qlab_filter_add(&filt, f->filter[i], f->name, ferr, sizeof ferr))
            return plot_skip(c, f->name, ferr);
    int64_t *idx = malloc((size_t)(d->n_points ? d->n_points : 1) * sizeof *idx), n = 0;
    if (!idx) {
        snprintf(c->err, c->err_len, "plot: out of memory");
        return 2;
    }
    const qlab_column *cy = column(f->y);
    for (int64_t i = 0; i < d->n_points; i++) {
        const qlab_row *r = &d->points[i];
        if (r->status == QLAB_STATUS_OK && qlab_filter_matches(&filt, r) && isfinite(num_of(r, cy)))
            idx[n++] = i;
    }
    if (n == 0) {
        free(idx);
        return plot_skip(c, f->name, "no ok point matches its filter with a finite y");
    }
    /* The axes the figure does not name that vary between points of one cell (same
     * series, same x): those would be merged. An axis that only follows the named
     * ones (outlier_weights with threshold) merges nothing and splits nothing. */
    size_t ncol, rs;
    const qlab_column *cols = qlab_results_columns("points", &ncol, &rs);
    const qlab_column *vary[64], *cx = column(f->x);
    int nv = 0;
    cell_entry *ce = malloc((size_t)n * sizeof *ce);
    if (!ce) {
        free(idx);
        snprintf(c->err, c->err_len, "plot: out of memory");
        return 2;
    }
    for (size_t a = 0; a < ncol && nv < 64; a++) {
        if (cols[a].offset >= sizeof(qlab_point) || named(f, cols[a].name))
            continue;
        for (int64_t i = 0; i < n; i++) {
            const qlab_row *r = &d->points[idx[i]];
            size_t o = (size_t)snprintf(ce[i].cell, sizeof ce[i].cell, "%.10g", num_of(r, cx));
            for (int s = 0; s < f->n_series && o < sizeof ce[i].cell; s++) {
                char v[128];
                text_of(r, column(f->series[s]), v, sizeof v);
                o += (size_t)snprintf(ce[i].cell + o, sizeof ce[i].cell - o, "\x1f%s", v);
            }
            text_of(r, &cols[a], ce[i].value, sizeof ce[i].value);
        }
        qsort(ce, (size_t)n, sizeof *ce, cmp_cell);
        for (int64_t i = 1; i < n; i++)
            if (!strcmp(ce[i].cell, ce[i - 1].cell) && strcmp(ce[i].value, ce[i - 1].value)) {
                vary[nv++] = &cols[a];
                break;
            }
    }
    free(ce);
    int64_t *grp = malloc((size_t)n * sizeof *grp);
    char *done = calloc((size_t)n, 1);
    int rc = 0, drawn = 0;
    if (!grp || !done) {
        free(idx); free(grp); free(done);
        snprintf(c->err, c->err_len, "plot: out of memory");
        return 2;
    }
    if (nv)
        plot_log(c, "%s: %d ax%s it does not name var%s among its points; one file per value, never averaged",
                 f->name, nv, nv == 1 ? "is" : "es", nv == 1 ? "ies" : "y");
    for (int64_t i = 0; i < n && rc != 2; i++) {
        if (done[i])
            continue;
        int64_t g = 0;
        char suffix[512] = "";
        size_t o = 0;
        for (int a = 0; a < nv && o < sizeof suffix; a++) {
            char v[128];
            text_of(&d->points[idx[i]], vary[a], v, sizeof v);
            o += (size_t)snprintf(suffix + o, sizeof suffix - o, "%s%s=%s", a ? "," : "-", vary[a]->name, v);
        }
        for (int64_t j = i; j < n; j++) {
            if (done[j])
                continue;
            int same = 1;
            for (int a = 0; a < nv && same; a++) {
                char v1[128], v2[128];
                text_of(&d->points[idx[i]], vary[a], v1, sizeof v1);
                text_of(&d->points[idx[j]], vary[a], v2, sizeof v2);
                same = !strcmp(v1, v2);
            }
            if (same) {
                done[j] = 1;
                grp[g++] = idx[j];
            }
        }
        int r = draw_group(c, f, grp, g, suffix);
        if (r == 2)
            rc = 2;
        else if (r == 0)
            drawn = 1;
    }
    free(idx); free(grp); free(done);
    return rc == 2 ? 2 : drawn ? 0 : 1;
}

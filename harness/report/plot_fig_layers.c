/* plot_fig_layers.c: the per-layer figures of `qlab plot` (see plot_internal.h).
 *
 * error_vs_layer: each layer's error per scheme, from /layers (chains and models, both
 * modes side by side) or, without /layers, from the points of a layer dump;
 * error_vs_depth: the error at the end of a chain against its depth. Both read every
 * point (c->full), isolated-mode ones included, as plot_figure chose them. Rows come
 * from plot_data.c, drawing goes through plot_draw.c.
 */
#include "report/plot_internal.h"
#include "quant/quant.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static int p_depth(const qlab_row *r, double x) { return (double)r->p.depth == x; }

/* ---------------------------------------------------------------------------- */
/* error_vs_layer, error_vs_depth: error across layers and depth                 */

static const qlab_row *point_by_id(const qlab_results_data *d, int64_t id)
{
    if (id >= 0 && id < d->n_points && d->points[id].p.id == id)
        return &d->points[id];
    for (int64_t i = 0; i < d->n_points; i++)
        if (d->points[i].p.id == id)
            return &d->points[i];
    return NULL;
}

/* Legend suffix of a series left below the axis (see OFF_SCALE), or whose errors are
 * all 0 (not drawn: a log axis has no 0). */
static void off_scale_label(char *label, size_t len, double smax)
{
    size_t a = strlen(label);
    if (smax > 0)
        snprintf(label + a, len - a, " (< %.0e, off scale)", smax);
    else
        snprintf(label + a, len - a, " (error 0, not drawn)");
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
    return plot_row_usable(r) && !strcmp(r->p.workload, "dump") && r->p.layer[0];
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
        if (plot_row_usable(r) && !strcmp(r->p.workload, "dump") && r->p.layer[0])
            names[nn++] = r->p.layer;
    }
    qsort(names, (size_t)nn, sizeof *names, cmp_str);
    int64_t nl = 0;
    for (int64_t i = 0; i < nn; i++)
        if (nl == 0 || strcmp(names[nl - 1], names[i]))
            names[nl++] = names[i];
    if (nl < 2) {
        free(names);
        return plot_skip(c, fig, "the /layers table is empty (no chain or model points) and no dump has more than one layer");
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
    FILE *fk = plot_tsv_open(c, "ticks.tsv");
    if (!fk) {
        free(names);
        return 2;
    }
    fprintf(fk, "x\tlayer\n");
    for (int64_t i = 0; i < nl; i++)
        fprintf(fk, "%lld\t%s\n", (long long)i, layer_short(names[i], common));
    fclose(fk);

    series_set ss;
    if (plot_collect_series(c, want_dump_layer, LBL_T | c->lbl, &ss))
        return 2;
    double hi = 0, lo = INFINITY;
    for (int64_t j = 0; j < d->n_points; j++)
        if (plot_row_usable(&d->points[j]) && !strcmp(d->points[j].p.workload, "dump"))
            hi = fmax(hi, d->points[j].rel_err);
    style_lists sk = {0};
    char iso[1024] = "";
    for (int i = 0; i < ss.n; i++) {
        FILE *f = plot_series_tsv_open(c, i);
        if (!f) {
            plot_series_free(&ss);
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
                    plot_dvec_push(&e, r->rel_err);
                    plot_dvec_push(&cs, r->cosine);
                }
            }
            if (e.n)
                fprintf(f, "%lld\t%.6g\t%.6g\n", (long long)l, plot_log_value(c, plot_dvec_median(&e)),
                        plot_dvec_median(&cs));
            free(e.v);
            free(cs.v);
        }
        fclose(f);
        plot_style_keys(ss.s[i].first, &sk);
        size_t a = strlen(iso);
        snprintf(iso + a, sizeof iso - a, "%s0", a ? " " : "");
    }
    char vars[8192], sub[300];
    snprintf(vars, sizeof vars, "nser=%d; iso='%s'; two=0; dump=1; nlayer=%lld; ylo=%.6g; yhi=%.6g;", ss.n, iso,
             (long long)nl, isfinite(lo) ? lo : 0.0, hi);
    plot_style_vars(&sk, vars, sizeof vars);
    snprintf(sub, sizeof sub, "%lld layers of a dump, each fed its captured input (no propagation)", (long long)nl);
    plot_series_free(&ss);
    free(names);
    if (c->n_ok == 0)
        return plot_skip_unshowable(c, fig, "relative error");
    return plot_draw(c, fig, sub, vars);
}

int plot_fig_layers(plot_ctx *c)
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
        plot_series_label(r, LBL_T | c->lbl, base, sizeof base);
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
        return plot_skip(c, fig, "no /layers rows of successful points");
    }
    /* series in scheme order, propagated before isolated */
    int *order = calloc((size_t)nls, sizeof *order);
    for (int k = 0; k < nls; k++)
        order[k] = k;
    for (int a = 1; a < nls; a++)   /* insertion sort: few series */
        for (int b = a; b > 0; b--) {
            const lser *x = &ls[order[b - 1]], *y = &ls[order[b]];
            int cmp = x->isolated != y->isolated ? x->isolated - y->isolated
                                                 : plot_cmp_rows(x->first, x->label, y->first, y->label);
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
        FILE *f = plot_series_tsv_open(c, o);
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
                plot_dvec_push(&idx, (double)d->layers[i].layer_index);
        plot_dvec_unique(&idx);
        for (int64_t j = 0; j < idx.n; j++) {
            dvec e = {0}, cs = {0};
            for (int64_t i = 0; i < d->n_layers; i++)
                if (which[i] == k && (double)d->layers[i].layer_index == idx.v[j]) {
                    plot_dvec_push(&e, d->layers[i].rel_err);
                    plot_dvec_push(&cs, d->layers[i].cosine);
                }
            double me = plot_dvec_median(&e);
            if (me > 0 && !off)
                lo = fmin(lo, me);
            fprintf(f, "%g\t%.6g\t%.6g\n", idx.v[j], plot_log_value(c, me), plot_dvec_median(&cs));
            free(e.v);
            free(cs.v);
        }
        free(idx.v);
        fclose(f);
        plot_style_keys(ls[k].first, &sk);
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
    plot_style_vars(&sk, vars, sizeof vars);
    free(ls);
    free(which);
    free(order);
    free(smax);
    if (c->n_ok == 0)
        return plot_skip_unshowable(c, fig, "relative error");
    return plot_draw(c, fig, "per-layer output against the float reference", vars);
}

static int want_chain(const qlab_row *r)
{
    return plot_row_usable(r) && !strcmp(r->p.workload, "chain") && r->p.depth > 0;
}

int plot_fig_depth(plot_ctx *c)
{
    const char *fig = "error_vs_depth";
    const qlab_results_data *d = c->full;
    dvec depths = {0};
    for (int64_t i = 0; i < d->n_points; i++)
        if (want_chain(&d->points[i]))
            plot_dvec_push(&depths, (double)d->points[i].p.depth);
    plot_dvec_unique(&depths);
    int64_t nd = depths.n;
    free(depths.v);
    if (nd < 2)
        return plot_skip(c, fig, "needs chain points at more than one depth");
    series_set ss = {0};
    for (int64_t i = 0; i < d->n_points; i++) {
        const qlab_row *r = &d->points[i];
        if (!want_chain(r))
            continue;
        char lab[256];
        plot_series_label(r, LBL_T | c->lbl, lab, sizeof lab);
        if (!strcmp(r->p.mode, "isolated")) {
            size_t a = strlen(lab);
            snprintf(lab + a, sizeof lab - a, " (isolated)");
        }
        plot_series_add(&ss, lab, r, i);
    }
    if (ss.n > 1)
        qsort(ss.s, (size_t)ss.n, sizeof *ss.s, plot_cmp_series);
    style_lists sk = {0};
    char iso[1024] = "";
    for (int i = 0; i < ss.n; i++) {
        FILE *f = plot_series_tsv_open(c, i);
        if (!f) {
            plot_series_free(&ss);
            return 2;
        }
        fprintf(f, "depth\t%s\n", ss.s[i].label);
        dvec ds = {0};
        for (int64_t j = 0; j < ss.s[i].n; j++)
            plot_dvec_push(&ds, (double)d->points[ss.s[i].rows[j]].p.depth);
        plot_dvec_unique(&ds);
        for (int64_t j = 0; j < ds.n; j++)
            fprintf(f, "%g\t%.6g\n", ds.v[j],
                    plot_log_value(c, plot_median_where(d, &ss.s[i], plot_f_rel_err, p_depth, ds.v[j])));
        free(ds.v);
        fclose(f);
        plot_style_keys(ss.s[i].first, &sk);
        size_t a = strlen(iso);
        snprintf(iso + a, sizeof iso - a, "%s%d", a ? " " : "", !strcmp(ss.s[i].first->p.mode, "isolated"));
    }
    char vars[9300];
    snprintf(vars, sizeof vars, "nser=%d; iso='%s';", ss.n, iso);
    plot_style_vars(&sk, vars, sizeof vars);
    plot_series_free(&ss);
    if (c->n_ok == 0)
        return plot_skip_unshowable(c, fig, "relative error");
    return plot_draw(c, fig, "output of the last layer of a chain", vars);
}

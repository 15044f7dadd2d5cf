/* plot_fig_declared.c: the lines renderer of `qlab plot` (see plot_internal.h), which
 * draws the figures an experiment declares (`plots:`, sweep/figspec.h) through
 * plots/declared.gp: y against x, one line per value of the series axes. plot_figure
 * has chosen the rows of the file (the filter applied, the axes the figure does not
 * name split apart); draws of one point (`repeat:`, seeds differ) are their mean with
 * the 95 % interval as error bars. */
#include "report/plot_internal.h"
#include "report/stats.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* The legend text of r: the values of the series axes ("absmax block=32"). */
static void series_key(const plot_decl *dc, const qlab_row *r, char *buf, size_t len)
{
    size_t o = 0;
    char w[64];
    buf[0] = '\0';
    for (const char *p = dc->series; p && *p && o < len;) {
        size_t n = strcspn(p, ",");
        snprintf(w, sizeof w, "%.*s", (int)n, p);
        p += n + (p[n] == ',');
        const qlab_column *c = qlab_results_column("points", w);
        char v[128] = "";
        if (c)
            plot_col_text(r, c, v, sizeof v);
        int scheme = !strcmp(w, "scheme");
        /* settings a scheme ignores are not named ("fp16", not "fp16 threshold=0") */
        static const char *const quant_only[] = {"threshold", "x_granularity", "w_granularity", "block",
                                                 "outlier_weights", "smooth_alpha"};
        int ignored = 0;
        for (size_t q = 0; q < sizeof quant_only / sizeof quant_only[0]; q++)
            if (!strcmp(w, quant_only[q]))
                ignored = plot_is_float(r) || (plot_is_weight_only(r) && strcmp(w, "block"));
        if (ignored)
            continue;
        o += (size_t)snprintf(buf + o, len - o, "%s%s%s%s", o ? " " : "", scheme ? "" : w, scheme ? "" : "=",
                              v[0] ? v : "-");
    }
}

int plot_fig_lines(plot_ctx *c)
{
    const plot_decl *dc = c->decl;
    const qlab_results_data *d = c->d;
    const qlab_column *cx = qlab_results_column("points", dc->x);
    int64_t n = d->n_points;
    char (*key)[256] = calloc((size_t)n + 1, sizeof *key);
    int *ser = calloc((size_t)n + 1, sizeof *ser), nser = 0, any_err = 0;
    int64_t *first = calloc((size_t)n + 1, sizeof *first);
    if (!key || !ser || !first || !cx) {
        free(key); free(ser); free(first);
        snprintf(c->err, c->err_len, "plot: out of memory");
        return 2;
    }
    for (int64_t i = 0; i < n; i++) {
        series_key(dc, &d->points[i], key[i], sizeof key[i]);
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
                plot_dvec_push(&xs, plot_col_num(&d->points[i], cx));
        plot_dvec_unique(&xs);
        FILE *t = plot_series_tsv_open(c, s);
        if (!t) {
            free(xs.v); free(key); free(ser); free(first);
            return 2;
        }
        fprintf(t, "%s\t%s\tlo\thi\n", dc->x, key[first[s]]);
        for (int64_t j = 0; j < xs.n; j++) {
            dvec ys = {0};
            for (int64_t i = 0; i < n; i++)
                if (ser[i] == s && plot_col_num(&d->points[i], cx) == xs.v[j]) {
                    double y = plot_value(&d->points[i], dc->y);
                    if (isfinite(y))
                        plot_dvec_push(&ys, y);
                }
            if (ys.n) {
                double mean, half;
                qlab_mean_ci95(ys.v, ys.n, &mean, &half);
                any_err |= ys.n > 1;
                double shown = dc->logy ? plot_log_value(c, mean) : mean;
                fprintf(t, "%.10g\t%.6g\t%.6g\t%.6g\n", xs.v[j], shown,
                        dc->logy && mean - half <= 0 ? mean : mean - half, mean + half);
            }
            free(ys.v);
        }
        fclose(t);
        free(xs.v);
    }
    /* A log x axis over a few values (block 32, 64, 128) gets its ticks at them:
     * gnuplot's decades would label none or one of them. */
    char xt[256] = "";
    if (dc->logx) {
        dvec all = {0};
        for (int64_t i = 0; i < n; i++)
            plot_dvec_push(&all, plot_col_num(&d->points[i], cx));
        plot_dvec_unique(&all);
        for (int64_t j = 0, o = 0; all.n <= 12 && j < all.n && o < (int64_t)sizeof xt - 24; j++)
            o += snprintf(xt + o, sizeof xt - (size_t)o, "%s%.6g", j ? " " : "", all.v[j]);
        free(all.v);
    }
    /* Lines named by their scheme take the built-in figures' style of that scheme
     * (colour, granularity marker, decomposition, variants dashed), so absmax has one
     * colour in every figure; other series take the palette in order. */
    int bysch = strstr(dc->series, "scheme") != NULL;
    style_lists sk;
    memset(&sk, 0, sizeof sk);
    sk.by_scheme = 1;
    for (int s = 0; bysch && s < nser; s++)
        plot_style_keys(&d->points[first[s]], &sk);
    char vars[1400 + sizeof sk];
    snprintf(vars, sizeof vars, "xt='%s'; nser=%d; logx=%d; logy=%d; has_err=%d; xl='%s'; yl='%s'; what='%s'; bysch=%d;",
             xt, nser, dc->logx, dc->logy, any_err, dc->x,
             strcmp(dc->y, "w_bits") ? dc->y : "bits per weight (w_bits)", dc->title ? dc->title : dc->name, bysch);
    if (bysch)
        plot_style_vars(&sk, vars, sizeof vars);
    free(key); free(ser); free(first);
    if (any_err)
        plot_log(c, "%s%s: draws of one point (repeat) are their mean with the 95%% interval", dc->name,
                 c->suffix ? c->suffix : "");
    if (dc->logy && c->n_ok == 0)
        return plot_skip_unshowable(c, dc->name, dc->y);
    c->script = "declared";
    int rc = plot_draw(c, dc->name, "", vars);
    c->script = NULL;
    return rc;
}

/* plot_fig_error.c: the error figures of `qlab plot` (see plot_internal.h).
 *
 * error_vs_threshold: relative error of each int8/fp8 series against the LLM.int8()
 * outlier threshold, with the fp16 floor and the outlier fraction on the right axis.
 * error_by_granularity: bars of relative error at threshold 0, one cluster per scheme,
 * one bar per granularity combination. plot_figure has chosen the rows (one shape,
 * one value of every axis the figures do not map); rows come from plot_data.c,
 * drawing goes through plot_draw.c.
 */
#include "report/plot_internal.h"
#include "quant/quant.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static double f_outlier_frac(const qlab_row *r) { return r->outlier_frac; }
static int p_threshold(const qlab_row *r, double t) { return r->p.threshold == t; }

/* Median rel_err of a float scheme (a reference line), NaN if absent. */
static double float_floor(const qlab_results_data *d, const char *scheme)
{
    dvec fl = {0};
    for (int64_t i = 0; i < d->n_points; i++) {
        const qlab_row *r = &d->points[i];
        if (plot_row_usable(r) && !strcmp(r->p.scheme, scheme))
            plot_dvec_push(&fl, r->rel_err);
    }
    double v = plot_dvec_median(&fl);
    free(fl.v);
    return v;
}

/* ---------------------------------------------------------------------------- */
/* error_vs_threshold: error vs outlier threshold                                */

/* int8 / fp8 rows with the outlier decomposition on. */
static int want_quant_thresholded(const qlab_row *r)
{
    return plot_row_usable(r) && !plot_is_float(r) && r->p.threshold > 0;
}

int plot_fig_threshold(plot_ctx *c)
{
    const char *fig = "error_vs_threshold";
    const qlab_results_data *d = c->d;
    dvec ts = {0};
    for (int64_t i = 0; i < d->n_points; i++)
        if (plot_row_usable(&d->points[i]) && !plot_is_float(&d->points[i]))
            plot_dvec_push(&ts, d->points[i].p.threshold);
    plot_dvec_unique(&ts);
    int64_t n_t = ts.n;
    free(ts.v);
    if (n_t < 2)
        return plot_skip(c, fig, "needs int8 points at more than one outlier threshold");

    /* series: int8 rows with t > 0; the t = 0 rows of the same scheme and granularity
     * join every such series as its left end */
    series_set ss;
    if (plot_collect_series(c, want_quant_thresholded, c->lbl, &ss))
        return 2;
    if (ss.n == 0) {
        plot_series_free(&ss);
        return plot_skip(c, fig, "needs int8 points with an outlier threshold > 0");
    }
    for (int i = 0; i < ss.n; i++) {
        const qlab_row *f = ss.s[i].first;
        for (int64_t j = 0; j < d->n_points; j++) {
            const qlab_row *r = &d->points[j];
            if (plot_row_usable(r) && r->p.threshold == 0 &&
                !strcmp(r->p.scheme, f->p.scheme) && !strcmp(r->p.x_granularity, f->p.x_granularity) &&
                !strcmp(r->p.w_granularity, f->p.w_granularity) && r->p.block == f->p.block &&
                r->p.smooth_alpha == f->p.smooth_alpha)
                plot_series_add(&ss, ss.s[i].label, f, j);
        }
    }

    style_lists sk = {0};
    dvec all_t = {0};
    int any_draws = 0;
    for (int i = 0; i < ss.n; i++) {
        FILE *f = plot_series_tsv_open(c, i);
        if (!f) {
            plot_series_free(&ss);
            free(all_t.v);
            return 2;
        }
        fprintf(f, "threshold\t%s\toutlier_frac\tlo\thi\n", ss.s[i].label);
        dvec t = {0};
        for (int64_t j = 0; j < ss.s[i].n; j++) {
            plot_dvec_push(&t, d->points[ss.s[i].rows[j]].p.threshold);
            plot_dvec_push(&all_t, d->points[ss.s[i].rows[j]].p.threshold);
        }
        plot_dvec_unique(&t);
        for (int64_t j = 0; j < t.n; j++) {
            /* repeats: the mean and its 95 % interval over the draws (error bars) */
            double mean, lo, hi;
            any_draws |= plot_draws_where(d, &ss.s[i], plot_f_rel_err, p_threshold, t.v[j], &mean, &lo, &hi);
            fprintf(f, "%g\t%.6g\t%.6g\t%.6g\t%.6g\n", t.v[j], plot_log_value(c, mean),
                    plot_median_where(d, &ss.s[i], f_outlier_frac, p_threshold, t.v[j]), lo > 0 ? lo : mean,
                    hi);
            /* t = 0 is no decomposition, not a small threshold: a blank line ends the
             * line there, so no segment joins it to the first threshold */
            if (t.v[j] == 0 && j + 1 < t.n)
                fprintf(f, "\n");
        }
        free(t.v);
        fclose(f);
        /* the threshold axis is the series here: style as the decomposition it is */
        qlab_row key = *ss.s[i].first;
        key.p.threshold = 1;
        plot_style_keys(&key, &sk);
    }
    /* The outlier fraction depends on X and t only, and SmoothQuant changes X: one line
     * from the rows of the shape without SmoothQuant (from the smoothed ones when there
     * are no others), never a median across the two. */
    plot_dvec_unique(&all_t);
    int plain = 0, smooth = 0;
    for (int64_t i = 0; i < d->n_points; i++) {
        const qlab_row *r = &d->points[i];
        if (plot_row_usable(r) && !plot_is_float(r) && r->p.threshold > 0) {
            plain |= !plot_is_smooth(r);
            smooth |= plot_is_smooth(r);
        }
    }
    FILE *f = plot_tsv_open(c, "frac.tsv");
    if (!f) {
        plot_series_free(&ss);
        free(all_t.v);
        return 2;
    }
    fprintf(f, "threshold\toutlier fraction (right axis%s)\n",
            plain && smooth ? "; X without SmoothQuant" : smooth ? "; X after SmoothQuant" : "");
    int frac_any = 0;
    double frac_lo = INFINITY, frac_hi = 0;
    for (int64_t j = 0; j < all_t.n; j++) {
        if (all_t.v[j] <= 0)
            continue;   /* t = 0 is no decomposition: no line from it to the thresholds */
        dvec v = {0};
        for (int64_t i = 0; i < d->n_points; i++) {
            const qlab_row *r = &d->points[i];
            if (plot_row_usable(r) && !plot_is_float(r) && r->p.threshold == all_t.v[j] &&
                isfinite(r->outlier_frac) && plot_is_smooth(r) == !plain)
                plot_dvec_push(&v, r->outlier_frac);
        }
        double m = plot_dvec_median(&v);
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

    double floor_v = float_floor(d, "fp16");

    char sub[256], vars[8192];
    plot_shape_desc(d, ss.n ? ss.s[0].first : &d->points[0], sub, sizeof sub);
    /* a fraction spanning decades (low t sends most columns to fp16) reads on a log axis */
    snprintf(vars, sizeof vars, "nser=%d; floor=%.6g; has_frac=%d; frac_log=%d; has_err=%d;",
             ss.n, isfinite(floor_v) ? floor_v : -1.0, frac_any,
             frac_any && frac_hi > 30 * frac_lo, any_draws);
    plot_style_vars(&sk, vars, sizeof vars);
    plot_series_free(&ss);
    if (c->n_ok == 0)
        return plot_skip_unshowable(c, fig, "relative error");
    if (any_draws)
        plot_log(c, "%s: points repeated over draws: the mean with its 95%% interval (error bars)", fig);
    return plot_draw(c, fig, sub, vars);
}

/* ---------------------------------------------------------------------------- */
/* error_by_granularity: error by scheme x granularity (threshold 0)             */

static int want_int8_t0(const qlab_row *r)
{
    return plot_row_usable(r) && !plot_is_float(r) && r->p.threshold == 0;
}

/* Tick text of a bar cluster: the scheme, with SmoothQuant's alpha when on. */
static void cluster_label(const qlab_row *r, char *buf, size_t len)
{
    if (plot_is_smooth(r))
        snprintf(buf, len, "%s SQ%g", r->p.scheme, r->p.smooth_alpha);
    else
        snprintf(buf, len, "%s", r->p.scheme);
}

int plot_fig_granularity(plot_ctx *c)
{
    const char *fig = "error_by_granularity";
    const qlab_results_data *d = c->d;
    series_set ss;
    if (plot_collect_series(c, want_int8_t0, LBL_T | c->lbl, &ss))
        return 2;
    if (ss.n == 0) {
        plot_series_free(&ss);
        return plot_skip(c, fig, "needs int8 points at threshold 0");
    }
    /* clusters: schemes (SmoothQuant variants apart, after the plain scheme); bars:
     * the granularity combinations each cluster has, packed, so that a weight-only
     * scheme's cluster holds its one bar */
    int grans[N_GRAN + 1] = {0};
    const qlab_row *gran_row[N_GRAN + 1] = {0};
    for (int i = 0; i < ss.n; i++) {
        int g = plot_gran_index(ss.s[i].first);
        grans[g] = 1;
        if (!gran_row[g])
            gran_row[g] = ss.s[i].first;
    }
    int n_g = 0;
    for (int g = 1; g <= N_GRAN; g++)
        n_g += grans[g];

    FILE *fb = plot_tsv_open(c, "bars.tsv"), *fk = fb ? plot_tsv_open(c, "ticks.tsv") : NULL;
    if (!fk) {
        if (fb)
            fclose(fb);
        plot_series_free(&ss);
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
                plot_gran_label(gran_row[g], gl, sizeof gl);
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
            fprintf(fb, "%g\t%.6g\t%s\t%d\t%d\n", x,
                    plot_log_value(c, plot_median_where(d, &ss.s[j], plot_f_rel_err, NULL, 0)), g->p.scheme,
                    plot_gran_index(g), plot_is_smooth(g));
        }
        char tl[96];
        cluster_label(f, tl, sizeof tl);
        fprintf(fk, "%g\t%s\n", (first + x) / 2, tl);
        n_clusters++;
    }
    free(done);
    fclose(fb);
    fclose(fk);
    plot_series_free(&ss);

    double floor_v = float_floor(d, "fp16"), bf16_v = float_floor(d, "bf16");
    char sub[256], vars[1600];
    plot_shape_desc(d, &d->points[0], sub, sizeof sub);
    size_t a = strlen(sub);
    snprintf(sub + a, sizeof sub - a, ", threshold 0");
    snprintf(vars, sizeof vars,
             "floor=%.6g; floor_bf16=%.6g; xmax=%g; ngran=%d; nbar=%d; nclust=%d; gids='%s'; glabs=\"%s\";",
             isfinite(floor_v) ? floor_v : -1.0, isfinite(bf16_v) ? bf16_v : -1.0, x, n_g, n_bars, n_clusters,
             gids, glabs);
    if (c->n_ok == 0)
        return plot_skip_unshowable(c, fig, "relative error");
    return plot_draw(c, fig, sub, vars);
}

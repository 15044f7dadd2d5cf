/* plot_fig_timing.c: the timing figures of `qlab plot` (see plot_internal.h).
 *
 * speedup_vs_k: speedup over the fp16 GEMM against the model dimension k;
 * stage_breakdown: the LLM.int8() pipeline's stages (from /samples) against k;
 * throughput: TOPS per shape. plot_figure has chosen the rows (one m, the thresholds
 * shown; stage_breakdown one series); rows come from plot_data.c, drawing goes
 * through plot_draw.c.
 */
#include "report/plot_internal.h"
#include "quant/quant.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static double f_speedup(const qlab_row *r) { return r->speedup_vs_fp16; }
static double f_median_us(const qlab_row *r) { return r->t.median_us; }
static double f_fp16_us(const qlab_row *r) { return r->fp16_median_us; }
static double f_tops(const qlab_row *r) { return r->tops; }
static double f_gbps(const qlab_row *r) { return r->gbps; }
static int p_k(const qlab_row *r, double k) { return (double)r->p.k == k; }

/* ---------------------------------------------------------------------------- */
/* speedup_vs_k, stage_breakdown: speedup and stages over k                      */

static int want_timed(const qlab_row *r)
{
    return r->status == QLAB_STATUS_OK && r->t.median_us > 0 && r->speedup_vs_fp16 > 0 && isfinite(r->t.median_us) &&
           isfinite(r->speedup_vs_fp16);
}

/* Number of distinct k among the rows want accepts. */
static int64_t count_k(const qlab_results_data *d, int (*want)(const qlab_row *))
{
    dvec ks = {0};
    for (int64_t j = 0; j < d->n_points; j++)
        if (want(&d->points[j]))
            plot_dvec_push(&ks, (double)d->points[j].p.k);
    plot_dvec_unique(&ks);
    free(ks.v);
    return ks.n;
}

static int want_timed_quantized(const qlab_row *r)
{
    return want_timed(r) && !plot_is_float(r);
}

int plot_fig_speedup(plot_ctx *c)
{
    const char *fig = "speedup_vs_k";
    const qlab_results_data *d = c->d;
    if (count_k(d, want_timed) < 2)
        return plot_skip(c, fig, "needs timed points at more than one model dimension k");

    series_set ss;
    if (plot_collect_series(c, want_timed_quantized, LBL_T | c->lbl, &ss))
        return 2;
    if (ss.n == 0) {
        plot_series_free(&ss);
        return plot_skip(c, fig, "needs timed int8 points");
    }
    style_lists sk = {0};
    dvec all_k = {0};
    for (int i = 0; i < ss.n; i++) {
        FILE *f = plot_series_tsv_open(c, i);
        if (!f) {
            plot_series_free(&ss);
            free(all_k.v);
            return 2;
        }
        fprintf(f, "k\t%s\tmedian_us\n", ss.s[i].label);
        dvec ks = {0};
        for (int64_t j = 0; j < ss.s[i].n; j++) {
            plot_dvec_push(&ks, (double)d->points[ss.s[i].rows[j]].p.k);
            plot_dvec_push(&all_k, (double)d->points[ss.s[i].rows[j]].p.k);
        }
        plot_dvec_unique(&ks);
        for (int64_t j = 0; j < ks.n; j++)
            fprintf(f, "%g\t%.6g\t%.6g\n", ks.v[j], plot_median_where(d, &ss.s[i], f_speedup, p_k, ks.v[j]),
                    plot_median_where(d, &ss.s[i], f_median_us, p_k, ks.v[j]));
        free(ks.v);
        fclose(f);
        plot_style_keys(ss.s[i].first, &sk);
    }
    plot_dvec_unique(&all_k);
    /* the fp16 GEMM measured alongside every point: one reference line */
    FILE *f = plot_tsv_open(c, "fp16.tsv");
    if (!f) {
        plot_series_free(&ss);
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
            if (want_timed(r) && (double)r->p.k == all_k.v[j])
                plot_dvec_push(&v, f_fp16_us(r));
        }
        double med = plot_dvec_median(&v);
        free(v.v);
        if (isfinite(med) && med > 0)
            fprintf(f, "%g\t%.6g\n", all_k.v[j], med);
    }
    fclose(f);
    free(all_k.v);

    char sub[256], vars[8192];
    snprintf(sub, sizeof sub, "m=%lld tokens", (long long)ss.s[0].first->p.m);
    snprintf(vars, sizeof vars, "nser=%d; kticks='%s';", ss.n, kticks);
    plot_style_vars(&sk, vars, sizeof vars);
    plot_series_free(&ss);
    return plot_draw(c, fig, sub, vars);
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
    return r->status == QLAB_STATUS_OK && !plot_is_float(r) && r->p.threshold > 0 && r->t.median_us > 0 &&
           isfinite(r->t.median_us);
}

int plot_fig_stages(plot_ctx *c)
{
    const char *fig = "stage_breakdown";
    const qlab_results_data *d = c->d;
    /* one series per file (plot_figure splits the others apart) */
    series_set ss;
    if (plot_collect_series(c, want_llm_int8_timed, LBL_T | c->lbl, &ss))
        return 2;
    if (ss.n == 0) {
        plot_series_free(&ss);
        return plot_skip(c, fig, "needs timed LLM.int8() points (int8 or fp8 scheme, threshold > 0, median_us)");
    }
    int best = 0;   /* several only where they time alike: the one with most rows */
    for (int i = 1; i < ss.n; i++)
        best = ss.s[i].n > ss.s[best].n ? i : best;
    const series *s = &ss.s[best];

    FILE *f = plot_tsv_open(c, "stages.tsv");
    if (!f) {
        plot_series_free(&ss);
        return 2;
    }
    fprintf(f, "k");
    for (int st = 0; st < 4; st++)
        fprintf(f, "\t%s", stage_labels[st]);
    fprintf(f, "\tfp16 GEMM\ttotal\n");
    dvec ks = {0};
    for (int64_t j = 0; j < s->n; j++)
        plot_dvec_push(&ks, (double)d->points[s->rows[j]].p.k);
    plot_dvec_unique(&ks);
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
                        if (isfinite(smp->time_us))
                            plot_dvec_push(&v, smp->time_us);
                        break;
                    }
                }
            }
            double med = plot_dvec_median(&v);
            free(v.v);
            if (st < 4 && isfinite(med) && med > 0)
                any_stage = 1;
            if (st == 4 && !isfinite(med))   /* fall back to the row's own fp16 baseline */
                med = plot_median_where(d, s, f_fp16_us, p_k, ks.v[j]);
            fprintf(f, "\t%.6g", isfinite(med) && med > 0 ? med : (st < 4 ? 0.0 : NAN));
        }
        fprintf(f, "\t%.6g\n", plot_median_where(d, s, f_median_us, p_k, ks.v[j]));
    }
    free(ks.v);
    fclose(f);
    char sub[400];
    snprintf(sub, sizeof sub, "%s, m=%lld tokens", s->label, (long long)s->first->p.m);
    plot_series_free(&ss);
    if (!any_stage)
        return plot_skip(c, fig, "needs per-stage timing samples (quantize_x, gemm_i8 or gemm_fp8, outlier_gemm, dequant) in /samples");
    return plot_draw(c, fig, sub, "");
}

/* ---------------------------------------------------------------------------- */
/* throughput: TOPS vs shape                                                     */

static int want_tput(const qlab_row *r)
{
    return r->status == QLAB_STATUS_OK && r->t.median_us > 0 && r->tops > 0 && isfinite(r->t.median_us) && isfinite(r->tops);
}

static int cmp_shape_size(const void *a, const void *b)
{
    const qlab_row *x = *(const qlab_row *const *)a, *y = *(const qlab_row *const *)b;
    double sx = plot_shape_size(x), sy = plot_shape_size(y);
    if (sx != sy)
        return sx < sy ? -1 : 1;
    if (x->p.m != y->p.m)
        return x->p.m < y->p.m ? -1 : 1;
    return x->p.k < y->p.k ? -1 : (x->p.k > y->p.k);
}

int plot_fig_throughput(plot_ctx *c)
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
            seen = plot_same_shape(shapes[j], r);
        if (!seen)
            shapes[ns++] = r;
    }
    if (ns == 0) {
        free(shapes);
        return plot_skip(c, fig, "needs latency measurements (median_us, tops)");
    }
    if (ns < 2) {
        free(shapes);
        return plot_skip(c, fig, "needs timed points at more than one shape");
    }
    qsort(shapes, (size_t)ns, sizeof *shapes, cmp_shape_size);
    FILE *f = plot_tsv_open(c, "shapes.tsv");
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
    if (plot_collect_series(c, want_tput, LBL_T | c->lbl, &ss))
        return 2;
    style_lists sk = {0};
    int n_gbps = 0;   /* GB/s values drawn */
    for (int i = 0; i < ss.n; i++) {
        FILE *g = plot_series_tsv_open(c, i);
        if (!g) {
            free(shapes);
            plot_series_free(&ss);
            return 2;
        }
        fprintf(g, "x\t%s\tgbps\n", ss.s[i].label);
        for (int j = 0; j < ns; j++) {
            dvec vt = {0}, vg = {0};
            for (int64_t q = 0; q < ss.s[i].n; q++) {
                const qlab_row *r = &d->points[ss.s[i].rows[q]];
                if (plot_same_shape(r, shapes[j])) {
                    plot_dvec_push(&vt, f_tops(r));
                    if (isfinite(f_gbps(r)))
                        plot_dvec_push(&vg, f_gbps(r));
                }
            }
            if (vt.n) {
                int ok0 = c->n_ok;   /* TOPS are > 0 by want_tput; GB/s may be missing */
                fprintf(g, "%d\t%.6g\t%.6g\n", j, plot_dvec_median(&vt), plot_log_value(c, plot_dvec_median(&vg)));
                n_gbps += c->n_ok > ok0;
            }
            free(vt.v);
            free(vg.v);
        }
        fclose(g);
        plot_style_keys(ss.s[i].first, &sk);
    }
    free(shapes);
    char vars[8192];
    snprintf(vars, sizeof vars, "nser=%d; nshape=%d; has_gbps=%d;", ss.n, ns, n_gbps > 0);
    plot_style_vars(&sk, vars, sizeof vars);
    plot_series_free(&ss);
    return plot_draw(c, fig, "", vars);
}

/* plot_fig_memory.c: the weight memory figures of `qlab plot` (see plot_internal.h).
 *
 * memory: stored bits per weight per scheme, stacked as codes, scales, second-level
 * scales and fp16 outlier columns. error_vs_bits: each configuration's error against
 * its bits per weight, with the Pareto front. Rows come from plot_data.c, drawing
 * goes through plot_draw.c.
 */
#include "report/plot_internal.h"
#include "quant/quant.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------------------- */
/* memory: weight memory per scheme                                              */

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

int plot_fig_memory(plot_ctx *c)
{
    const char *fig = "memory";
    const qlab_results_data *d = c->d;
    int n_shapes = 0;
    const qlab_row *shape = plot_largest_shape(d, want_mem, &n_shapes);
    if (!shape)
        return plot_skip(c, fig, "needs memory columns (w_bytes, w_bytes_fp16)");
    series_set ss = {0};
    for (int64_t i = 0; i < d->n_points; i++) {
        const qlab_row *r = &d->points[i];
        if (!want_mem(r) || !plot_same_shape(r, shape) || !plot_keep_t(c, r))
            continue;
        char lab[256];
        plot_series_label_w(r, lab, sizeof lab);
        plot_series_add(&ss, lab, r, i);
    }
    qsort(ss.s, (size_t)ss.n, sizeof *ss.s, plot_cmp_series);
    FILE *f = plot_tsv_open(c, "mem.tsv");
    if (!f) {
        plot_series_free(&ss);
        return 2;
    }
    /* bits per weight: 8 w_bytes / weights, weights = w_bytes_fp16 / 2 */
    fprintf(f, "x\tcodes\tscales\tscales2\toutliers\tunsplit\ttotal\tpct_fp16\tscheme\tlabel\tsplit\tsplit1\n");
    double any[5] = {0}, ymax = 16;
    int max_lines = 1;
    for (int i = 0; i < ss.n; i++) {
        const series *s = &ss.s[i];
        /* the median row's parts: rows of one series differ only by seed or layer */
        double bits = plot_median_where(d, s, f_w_bits, NULL, 0);
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
        /* the parts as text over the bar ("8 + 0.031 + 0.062 outl"): the scale and
         * outlier parts are a few hundredths of a bit, too thin to see as bars */
        char split[96];
        int o = snprintf(split, sizeof split, "%.4g", part[0] > 0 ? part[0] : total), lines = 1;
        static const char *const tag[5] = {"", " sc", " dq", " outl", ""};
        for (int p = 1; p < 4 && o < (int)sizeof split; p++)
            if (part[p] > 0) {
                o += snprintf(split + o, sizeof split - (size_t)o, "\\n+%.2g%s", part[p], tag[p]);
                lines++;
            }
        max_lines = lines > max_lines ? lines : max_lines;
        char split1[32];   /* narrow bars get turned labels: the total alone */
        snprintf(split1, sizeof split1, "%.4g", total);
        fprintf(f, "%d\t%.6g\t%.6g\t%.6g\t%.6g\t%.6g\t%.6g\t%.4g\t%s\t%s\t%s\t%s\n", i, part[0], part[1], part[2],
                part[3], part[4], total, 100.0 * total / 16.0, r->p.scheme, s->label, split, split1);
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
    snprintf(vars, sizeof vars, "nbar=%d; ymax=%.6g; has_scales2=%d; has_outl=%d; has_unsplit=%d; lab_lines=%d;",
             ss.n, ymax, any[2] > 0, any[3] > 0, any[4] > 0, max_lines + 1);
    plot_series_free(&ss);
    return plot_draw(c, fig, sub, vars);
}

/* ---------------------------------------------------------------------------- */
/* error_vs_bits: the memory/accuracy trade-off                                  */

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
    return plot_row_usable(r) && want_mem(r) && r->rel_err > 0;
}

/* The rows want_bits leaves out for their error of 0 (a log axis has no 0). */
static int want_bits_zero(const qlab_row *r)
{
    return plot_row_usable(r) && want_mem(r) && r->rel_err <= 0;
}

int plot_fig_bits(plot_ctx *c)
{
    const char *fig = "error_vs_bits";
    const qlab_results_data *d = c->d;
    int n_shapes = 0;
    const qlab_row *shape = plot_largest_shape(d, want_bits, &n_shapes);
    if (!shape && plot_largest_shape(d, want_bits_zero, NULL)) {
        /* errors of 0 only: say so, unless the figure needs what the data lack anyway */
        dvec widths = {0};
        for (int64_t i = 0; i < d->n_points; i++) {
            const qlab_row *r = &d->points[i];
            quant_scheme id = quant_scheme_from_name(r->p.scheme);
            c->n_zero += want_bits_zero(r);
            if (want_bits_zero(r) && !plot_is_float(r) && id < QUANT_SCHEME_COUNT)
                plot_dvec_push(&widths, (double)quant_scheme_get(id)->bits);
        }
        plot_dvec_unique(&widths);
        int64_t n_widths = widths.n;
        free(widths.v);
        if (n_widths < 2)
            return plot_skip(c, fig, "needs quantized schemes of two code widths (e.g. 4-bit and 8-bit weights)");
        return plot_skip_unshowable(c, fig, "relative error");
    }
    if (!shape)
        return plot_skip(c, fig, "needs error and memory columns (rel_err, w_bytes, w_bytes_fp16)");
    /* a dump's layers differ in shape: take every layer (each series' median) */
    int all_dump = !strcmp(shape->p.workload, "dump");
    for (int64_t i = 0; i < d->n_points; i++) {   /* rows of 0 error: the note says they are not drawn */
        const qlab_row *r = &d->points[i];
        c->n_zero += want_bits_zero(r) && (all_dump || plot_same_shape(r, shape)) && plot_keep_t(c, r);
    }
    /* a trade-off needs quantized schemes of two code widths (4- and 8-bit codes) */
    dvec widths = {0};
    for (int64_t i = 0; i < d->n_points; i++) {
        const qlab_row *r = &d->points[i];
        quant_scheme id = quant_scheme_from_name(r->p.scheme);
        if (want_bits(r) && !plot_is_float(r) && id < QUANT_SCHEME_COUNT && (all_dump || plot_same_shape(r, shape)))
            plot_dvec_push(&widths, (double)quant_scheme_get(id)->bits);
    }
    plot_dvec_unique(&widths);
    int64_t n_widths = widths.n;
    free(widths.v);
    if (n_widths < 2)
        return plot_skip(c, fig, "needs quantized schemes of two code widths (e.g. 4-bit and 8-bit weights)");

    series_set ss;
    const row_filter rf = { want_bits, all_dump ? NULL : shape, 0, 1 };
    if (plot_collect_series(c, &rf, LBL_T | c->lbl, &ss))
        return 2;
    style_lists sk = {0};
    bits_pt *pts = calloc((size_t)ss.n + 1, sizeof *pts);
    if (!pts) {
        plot_series_free(&ss);
        snprintf(c->err, c->err_len, "plot: out of memory");
        return 2;
    }
    double lo = INFINITY, hi = 0;
    for (int i = 0; i < ss.n; i++) {
        pts[i].bits = plot_median_where(d, &ss.s[i], f_w_bits, NULL, 0);
        pts[i].err = plot_median_where(d, &ss.s[i], plot_f_rel_err, NULL, 0);
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
        FILE *f = plot_tsv_open(c, name);
        if (!f) {
            plot_series_free(&ss);
            free(pts);
            return 2;
        }
        const qlab_row *r = ss.s[i].first;
        fprintf(f, "x\t%s\tbits\n%.6g\t%.6g\t%.6g\n", ss.s[i].label, pts[i].x, pts[i].err, pts[i].bits);
        fclose(f);
        plot_style_keys(r, &sk);
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
        if (!plot_is_float(r)) {
            int g = plot_gran_index(r);
            if (!grans[g]) {
                grans[g] = 1;
                char gl[112];
                if (g == N_GRAN)
                    snprintf(gl, sizeof gl, "other granularity");
                else
                    plot_gran_label(r, gl, sizeof gl);
                size_t a = strlen(gids), b = strlen(glabs);
                snprintf(gids + a, sizeof gids - a, "%s%d", a ? " " : "", g);
                snprintf(glabs + b, sizeof glabs - b, "%s'%s'", b ? " " : "", gl);
            }
        }
        has_dec |= r->p.threshold > 0;
        has_smo |= plot_is_smooth(r);
    }
    /* the Pareto front: the points no other point beats in both bits and error */
    qsort(pts, (size_t)ss.n, sizeof *pts, cmp_bits_pt);
    FILE *f = plot_tsv_open(c, "front.tsv");
    if (!f) {
        plot_series_free(&ss);
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
        plot_shape_desc(d, shape, n_shapes, sub, sizeof sub);
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
    plot_style_vars(&sk, vars, sizeof vars);
    plot_series_free(&ss);
    return plot_draw(c, fig, sub, vars);
}

/* plot_fig_memory.c: the weight memory figures of `qlab plot` (see plot_internal.h).
 *
 * memory: stored bits per weight per scheme, stacked as codes, scales, second-level
 * scales and fp16 outlier columns. error_vs_bits: one row per configuration (fewest
 * bits first) at its relative error, its bits per weight on the right axis, the
 * Pareto-optimal ones filled. plot_figure has chosen the rows (one shape, the
 * thresholds shown, a dump's layers together); rows come from plot_data.c, drawing
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
    series_set ss = {0};
    for (int64_t i = 0; i < d->n_points; i++) {
        const qlab_row *r = &d->points[i];
        if (!want_mem(r))
            continue;
        char lab[256];
        plot_series_label_w(r, lab, sizeof lab);
        plot_series_add(&ss, lab, r, i);
    }
    if (ss.n > 1)
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
    const qlab_row *r0 = ss.n ? ss.s[0].first : &d->points[0];
    if (!strcmp(r0->p.workload, "model"))
        snprintf(sub, sizeof sub, "every linear layer of %s", r0->p.model[0] ? r0->p.model : "the model");
    else if (!strcmp(r0->p.workload, "dump"))
        plot_shape_desc(d, r0, sub, sizeof sub);
    else
        snprintf(sub, sizeof sub, "W of n=%lld x k=%lld", (long long)r0->p.n, (long long)r0->p.k);
    snprintf(vars, sizeof vars, "nbar=%d; ymax=%.6g; has_scales2=%d; has_outl=%d; has_unsplit=%d; lab_lines=%d;",
             ss.n, ymax, any[2] > 0, any[3] > 0, any[4] > 0, max_lines + 1);
    plot_series_free(&ss);
    return plot_draw(c, fig, sub, vars);
}

/* ---------------------------------------------------------------------------- */
/* error_vs_bits: the memory/accuracy trade-off                                  */

typedef struct {
    double bits, err;   /* median bits per weight and relative error of series i */
    int i;
} bits_pt;

/* Fewest bits first; within equal bits, lowest error first (the Pareto scan's order).
 * Bits are compared at the 0.01 the figure prints, so rows that read the same bits
 * are ordered by error and the front treats them as equal. */
static int cmp_bits_pt(const void *a, const void *b)
{
    const bits_pt *x = a, *y = b;
    double bx = round(x->bits * 100), by = round(y->bits * 100);
    if (bx != by)
        return bx < by ? -1 : 1;
    if (x->err != y->err)
        return x->err < y->err ? -1 : 1;
    return x->i - y->i;
}

/* Storage width class of a bits-per-weight value: 4-bit formats with their scales
 * (4..5.6 bits) are 2, int8/fp8 (5.7..11.3) 3, fp16/bf16 4, fp32 5. Rows of one class
 * are drawn as one group. */
static int bits_class(double bits) { return (int)floor(log2(bits) + 0.5); }

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
    /* a trade-off needs quantized schemes of two code widths (4- and 8-bit codes);
     * rows of 0 error are counted (not drawn: a log axis has no 0) */
    dvec widths = {0};
    int n_drawable = 0;
    for (int64_t i = 0; i < d->n_points; i++) {
        const qlab_row *r = &d->points[i];
        quant_scheme id = quant_scheme_from_name(r->p.scheme);
        c->n_zero += want_bits_zero(r);
        n_drawable += want_bits(r);
        if ((want_bits(r) || want_bits_zero(r)) && !plot_is_float(r) && id < QUANT_SCHEME_COUNT)
            plot_dvec_push(&widths, (double)quant_scheme_get(id)->bits);
    }
    plot_dvec_unique(&widths);
    int64_t n_widths = widths.n;
    free(widths.v);
    if (n_widths < 2)
        return plot_skip(c, fig, "needs quantized schemes of two code widths (e.g. 4-bit and 8-bit weights)");
    if (n_drawable == 0)
        return plot_skip_unshowable(c, fig, "relative error");

    series_set ss;
    if (plot_collect_series(c, want_bits, LBL_T | c->lbl, &ss))
        return 2;
    bits_pt *pts = calloc((size_t)ss.n + 1, sizeof *pts);
    if (!pts) {
        plot_series_free(&ss);
        snprintf(c->err, c->err_len, "plot: out of memory");
        return 2;
    }
    for (int i = 0; i < ss.n; i++) {
        pts[i].bits = plot_median_where(d, &ss.s[i], f_w_bits, NULL, 0);
        pts[i].err = plot_median_where(d, &ss.s[i], plot_f_rel_err, NULL, 0);
        pts[i].i = i;
    }
    /* One row per configuration, fewest bits at the top, drawn at its true error;
     * its name is the row's label and its bits the right axis' label, so nothing is
     * shifted and no legend needs decoding. A configuration is on the Pareto front
     * unless another has at most its bits and at most its error, one of them lower
     * (bits compared at the 0.01 printed): in cmp_bits_pt order, the lowest error of
     * its bits group, and lower than every error at fewer bits. Ties are all on it. */
    if (ss.n > 1)
        qsort(pts, (size_t)ss.n, sizeof *pts, cmp_bits_pt);
    FILE *f = plot_tsv_open(c, "rows.tsv");
    if (!f) {
        plot_series_free(&ss);
        free(pts);
        return 2;
    }
    fprintf(f, "row\trel_err\tbits\tscheme\tsmooth\tfront\tconfiguration\n");
    char seps[2048] = "";
    double best_fewer = INFINITY, group_min = INFINITY;   /* lowest error at fewer bits; in this group */
    int n_front = 0;
    for (int k = 0; k < ss.n; k++) {
        const qlab_row *r = ss.s[pts[k].i].first;
        if (k == 0 || round(pts[k].bits * 100) != round(pts[k - 1].bits * 100)) {
            best_fewer = fmin(best_fewer, group_min);
            group_min = pts[k].err;   /* sorted: the group's first row has its lowest error */
        }
        int front = pts[k].err == group_min && pts[k].err < best_fewer;
        n_front += front;
        int row = ss.n - k;
        fprintf(f, "%d\t%.6g\t%.6g\t%s\t%d\t%d\t%s\n", row, pts[k].err, pts[k].bits, r->p.scheme,
                plot_is_smooth(r), front, ss.s[pts[k].i].label);
        if (k && bits_class(pts[k].bits) != bits_class(pts[k - 1].bits)) {
            size_t a = strlen(seps);
            snprintf(seps + a, sizeof seps - a,
                     "set arrow from graph 0, first %g to graph 1, first %g nohead lc rgb '#777777' lw 1 dt 2 back; ",
                     row + 0.5, row + 0.5);
        }
    }
    fclose(f);
    /* The error axis spans the quantized rows; a row far below them (fp32, more than
     * OFF_SCALE under the largest error) sits at the left edge with its error written. */
    double hi = 0, lo = INFINITY;
    for (int k = 0; k < ss.n; k++)
        hi = fmax(hi, pts[k].err);
    for (int k = 0; k < ss.n; k++)
        if (pts[k].err >= hi * OFF_SCALE)
            lo = fmin(lo, pts[k].err);
    free(pts);

    char sub[300], vars[8192];
    plot_shape_desc(d, ss.s[0].first, sub, sizeof sub);
    /* taller than the default canvas when the rows would crowd (22 fit) */
    snprintf(vars, sizeof vars, "xmin=%.6g; xmax=%.6g; nrow=%d; n_front=%d; hscale=%g; %s", lo / 2.5, hi * 2, ss.n,
             n_front, ss.n > 22 ? fmin(3.0, ss.n / 22.0) : 1.0, seps);
    plot_series_free(&ss);
    return plot_draw(c, fig, sub, vars);
}

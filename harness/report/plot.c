/* plot.c: `qlab plot`, results -> figures through gnuplot (see plot.h).
 *
 * Every figure follows the same path: select the rows that feed it (status ok,
 * finite metrics), pick one shape where the figure cannot mix shapes (the largest
 * one that supports it, named in the subtitle), group rows into series (scheme +
 * granularities [+ threshold]), reduce repeated rows (seeds, distributions) to their
 * median, write one small TSV per series, then run plots/<figure>.gp twice (png,
 * pdf). The TSVs carry a header line, so the scripts take legend text from it and
 * need no parsing of their own; style keys (scheme, granularity index, decomposition
 * flag) travel as -e variables so that plots/style.gp alone decides the look.
 *
 * This file is the entry point: it finds gnuplot and the scripts, builds the context
 * the figures share (title, the point view, the legend's granularity, the
 * representative threshold) and runs each figure kind in its own temporary directory.
 * The figure kinds are in plot_fig_*.c, data selection in plot_data.c, the gnuplot
 * side in plot_draw.c; plot_internal.h lists what they share.
 */
#include "report/plot.h"
#include "report/plot_internal.h"
#include "report/gnuplot.h"
#include "report/filter.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---------------------------------------------------------------------------- */
/* Driver                                                                        */

/* Removes the flat temporary directory of one figure and its files. */
static void rm_tmpdir(const char *dir)
{
    DIR *dp = opendir(dir);
    if (dp) {
        struct dirent *e;
        char p[PATH_MAX + 260];
        while ((e = readdir(dp)) != NULL) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
                continue;
            snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
            unlink(p);
        }
        closedir(dp);
    }
    rmdir(dir);
}

/* Every figure kind, in the order they are drawn. Each returns 0 drawn, 1 skipped,
 * 2 failed; each starts from an empty temp dir and zeroed value counters. */
static int fig_layers_in_families(plot_ctx *c);
static int fig_threshold_in_families(plot_ctx *c);

static const struct {
    const char *name;
    int (*draw)(plot_ctx *);
} figures[] = {
    {"error_vs_threshold", fig_threshold_in_families}, {"error_by_granularity", plot_fig_granularity},
    {"speedup_vs_k", plot_fig_speedup},         {"stage_breakdown", plot_fig_stages},
    {"memory", plot_fig_memory},                {"error_vs_bits", plot_fig_bits},
    {"throughput", plot_fig_throughput},        {"error_vs_layer", fig_layers_in_families},
    {"error_vs_depth", plot_fig_depth},
};

/* Appends "FIG: MSG" (MSG without its "plot: ") to the growing list *list of failures,
 * "; " between them. On out of memory the list keeps what it had. */
static void add_failure(char **list, const char *fig, const char *msg)
{
    if (!strncmp(msg, "plot: ", 6))
        msg += 6;
    size_t old = *list ? strlen(*list) : 0, add = strlen(fig) + strlen(msg) + 5;
    char *v = realloc(*list, old + add);
    if (!v)
        return;
    snprintf(v + old, add, "%s%s: %s", old ? "; " : "", fig, msg);
    *list = v;
}

/* head + body into buf; where that does not fit, the start (which names the figure
 * and what failed) and the end (gnuplot's reason) with " ... " for the middle. */
static void fit_message(char *buf, size_t len, const char *head, const char *body)
{
    size_t h = strlen(head), b = strlen(body);
    if (len == 0)
        return;
    if (h + b < len || len < 64) {
        snprintf(buf, len, "%s%s", head, body);
        return;
    }
    size_t keep_start = len / 4, keep_end = len - 1 - keep_start - 5;
    char *all = malloc(h + b + 1);
    if (!all) {
        snprintf(buf, len, "%s%s", head, body);
        return;
    }
    memcpy(all, head, h);
    memcpy(all + h, body, b + 1);
    snprintf(buf, len, "%.*s ... %s", (int)keep_start, all, all + h + b - keep_end);
    free(all);
}

/* Logs the points and /layers rows whose metrics are NaN or infinite: the figures
 * leave them out. */
static void note_nonfinite(plot_ctx *c, const qlab_results_data *d)
{
    int64_t n_err = 0, n_time = 0, n_layer = 0;
    for (int64_t i = 0; i < d->n_layers; i++)
        n_layer += !isfinite(d->layers[i].rel_err);
    if (n_layer)
        plot_log(c, "plot: %lld /layers row%s with a NaN or infinite rel_err left out of the per-layer figure",
                 (long long)n_layer, n_layer == 1 ? "" : "s");
    for (int64_t i = 0; i < d->n_points; i++) {
        const qlab_row *r = &d->points[i];
        if (r->status != QLAB_STATUS_OK)
            continue;
        n_err += !isfinite(r->rel_err);
        n_time += !isfinite(r->t.median_us) || !isfinite(r->speedup_vs_fp16) || !isfinite(r->tops) ||
                  !isfinite(r->gbps);
    }
    if (n_err)
        plot_log(c, "plot: %lld point%s with a NaN or infinite rel_err left out of the error figures",
                 (long long)n_err, n_err == 1 ? "" : "s");
    if (n_time)
        plot_log(c, "plot: %lld point%s with a NaN or infinite timing (median_us, speedup_vs_fp16, tops or gbps): "
                 "those values left out of the timing figures", (long long)n_time, n_time == 1 ? "" : "s");
}

/* ---------------------------------------------------------------------------- */
/* Per-layer figures in families                                                 */

/* More series than a reader can tell apart in one panel: the per-layer figure is then
 * drawn once per scheme family, each with the float baselines for reference. */
#define MAX_SERIES 8

static const char *family_of(const char *scheme)
{
    if (!strcmp(scheme, "fp32") || !strcmp(scheme, "fp16") || !strcmp(scheme, "bf16"))
        return "float";
    if (!strncmp(scheme, "fp8", 3))
        return "fp8";
    if (!strcmp(scheme, "absmax") || !strcmp(scheme, "zeropoint"))
        return "int8";
    return "4bit";
}

/* Number of distinct legend series (labels made with lbl) among the usable points
 * that `want` accepts (all when NULL), counted up to 64. */
static int count_series(const qlab_results_data *d, int lbl, int (*want)(const qlab_row *))
{
    int n = 0;
    char (*seen)[256] = calloc(64, sizeof *seen);
    if (!seen)
        return 0;
    for (int64_t i = 0; i < d->n_points && n < 64; i++) {
        const qlab_row *r = &d->points[i];
        if (r->status != QLAB_STATUS_OK || (want && !want(r)))
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

/* Points with /layers rows: chain points and model points. */
static int has_layer_rows(const qlab_row *r) { return r->p.depth || !strcmp(r->p.workload, "model"); }

/* int8 and fp8 points (the lines of error_vs_threshold; 4-bit has no threshold). */
static int is_int8_or_fp8(const qlab_row *r)
{
    const char *f = family_of(r->p.scheme);
    return !strcmp(f, "int8") || !strcmp(f, "fp8");
}

/* The points of d of `family` and the float baselines, with their layers and samples,
 * into *sub (arrays owned by the caller: sized for all of d). */
static void family_subset(const qlab_results_data *d, const char *family, qlab_results_data *sub, qlab_row *pts,
                          qlab_layer_row *lay)
{
    *sub = *d;
    sub->points = pts;
    sub->layers = lay;
    sub->n_points = sub->n_layers = 0;
    sub->n_samples = 0;
    for (int64_t i = 0; i < d->n_points; i++) {
        const char *f = family_of(d->points[i].p.scheme);
        if (!strcmp(f, family) || !strcmp(f, "float"))
            pts[sub->n_points++] = d->points[i];
    }
    for (int64_t l = 0; l < d->n_layers; l++)
        for (int64_t j = 0; j < sub->n_points; j++)
            if (d->layers[l].point_id == pts[j].p.id) {
                lay[sub->n_layers++] = d->layers[l];
                break;
            }
}

/* Figure `name` drawn by draw, split by scheme family when `n_series` exceeds
 * MAX_SERIES: NAME-int8, -fp8, -4bit, each with the float baselines. point_fig: the
 * figure draws c->d (else c->full, the per-layer figures), which is what is split.
 * n_families: 3, or 2 to leave out 4-bit (which has no outlier threshold). Returns
 * what a figure function returns. */
static int fig_in_families(plot_ctx *c, const char *name, int (*draw)(plot_ctx *), int n_series, int point_fig,
                           int n_families)
{
    const qlab_results_data *src = point_fig ? c->d : c->full;
    if (n_series <= MAX_SERIES)
        return draw(c);
    qlab_row *pts = malloc(((size_t)src->n_points + 1) * sizeof *pts);
    qlab_layer_row *lay = malloc(((size_t)src->n_layers + 1) * sizeof *lay);
    if (!pts || !lay) {
        free(pts);
        free(lay);
        snprintf(c->err, c->err_len, "plot: out of memory");
        return 2;
    }
    static const char *const families[] = {"int8", "fp8", "4bit"};
    static const char *const suffixes[] = {"-int8", "-fp8", "-4bit"};
    plot_log(c, "%s: %d series, more than %d; one figure per scheme family (%s), each with the float baselines",
             name, n_series, MAX_SERIES, n_families == 3 ? "int8, fp8, 4-bit" : "int8, fp8");
    int rc = 1;
    for (int f = 0; f < n_families; f++) {
        qlab_results_data sub;
        family_subset(src, families[f], &sub, pts, lay);
        int has = 0;
        for (int64_t i = 0; i < sub.n_points && !has; i++)
            has = !strcmp(family_of(sub.points[i].p.scheme), families[f]);
        if (!has)
            continue;
        const qlab_results_data *keep_full = c->full, *keep_d = c->d;
        if (point_fig)
            c->d = &sub;
        else
            c->full = &sub;
        c->suffix = suffixes[f];
        int r = draw(c);
        c->full = keep_full;
        c->d = keep_d;
        c->suffix = NULL;
        if (r == 2) {
            rc = 2;
            break;
        }
        if (r == 0)
            rc = rc == 2 ? 2 : 0;
    }
    free(pts);
    free(lay);
    return rc;
}

/* Points of a layer dump (a line of the dump's per-layer figure each). */
static int is_dump_point(const qlab_row *r) { return !strcmp(r->p.workload, "dump"); }

static int fig_layers_in_families(plot_ctx *c)
{
    int n = count_series(c->full, LBL_T | c->lbl, c->full->n_layers ? has_layer_rows : is_dump_point);
    /* a dump's per-layer figure draws its points (c->d); the others the /layers rows */
    return fig_in_families(c, "error_vs_layer", plot_fig_layers, n, c->full->n_layers == 0, 3);
}

static int fig_threshold_in_families(plot_ctx *c)
{
    return fig_in_families(c, "error_vs_threshold", plot_fig_threshold, count_series(c->d, c->lbl, is_int8_or_fp8),
                           1, 2);
}

/* Every figure of d into out_dir; subset (may be NULL) names the values of the axes
 * that no figure maps when the data were split by them, and goes into every title. */
static int plot_one(const qlab_results_data *d, const char *source, const char *subset, const char *out_dir,
                    FILE *log, char *err, size_t err_len)
{
    plot_ctx c = {.d = d, .out_dir = out_dir ? out_dir : "plots/out", .log = log, .err = err, .err_len = err_len};
    if (qlab_gp_find(c.gnuplot, sizeof c.gnuplot) != 0) {
        snprintf(err, err_len, "plot: gnuplot not found on PATH (install gnuplot-nox, or set QLAB_GNUPLOT)");
        return 2;
    }
    if (access(c.gnuplot, X_OK) != 0) {
        snprintf(err, err_len, "plot: gnuplot '%s' is not executable", c.gnuplot);
        return 2;
    }
    if (qlab_gp_find_scripts("style.gp", c.scripts, sizeof c.scripts) != 0) {
        snprintf(err, err_len,
                 "plot: gnuplot scripts not found (looked for style.gp in $QLAB_PLOTS, <qlab>/../share/qlab/plots, <qlab>/../plots, ./plots)");
        return 2;
    }
    if (qlab_mkdir_p(c.out_dir) != 0) {
        snprintf(err, err_len, "plot: cannot create %s: %s", c.out_dir, strerror(errno));
        return 2;
    }
    const char *exp = qlab_results_attr(d, "experiment");
    const char *be = qlab_results_attr(d, "backend");
    const char *dev = qlab_results_attr(d, "device");
    if (!dev || !*dev)
        dev = qlab_results_attr(d, "device_name");
    if ((!be || !*be) && d->n_points > 0)
        be = d->points[0].backend;
    snprintf(c.title, sizeof c.title, "%s%s%s, %s backend%s%s", exp && *exp ? exp : source,
             subset ? ", " : "", subset ? subset : "", be && *be ? be : "?", dev && *dev ? ", " : "",
             dev && *dev ? dev : "");

    /* point figures: a model or chain swept in both modes shows its propagated rows
     * (the end-to-end error); isolated rows are the per-layer figure's business */
    int64_t n_prop = 0, n_iso = 0;
    for (int64_t i = 0; i < d->n_points; i++) {
        n_prop += !strcmp(d->points[i].p.mode, "propagated");
        n_iso += !strcmp(d->points[i].p.mode, "isolated");
    }
    qlab_results_data view = *d;
    qlab_row *kept = NULL;
    if (n_prop > 0 && n_iso > 0) {
        kept = malloc((size_t)d->n_points * sizeof *kept);
        if (!kept) {
            snprintf(err, err_len, "plot: out of memory");
            return 2;
        }
        int64_t n = 0;
        for (int64_t i = 0; i < d->n_points; i++)
            if (strcmp(d->points[i].p.mode, "isolated"))
                kept[n++] = d->points[i];
        view.points = kept;
        view.n_points = n;
        plot_log(&c, "plot: %lld isolated-mode points appear in the per-layer figures only", (long long)n_iso);
    }
    c.d = &view;
    c.full = d;
    /* one granularity for every int8/fp8 point: legends leave it out, subtitles name it */
    const qlab_row *g0 = NULL;
    int one_gran = 1;
    for (int64_t i = 0; i < d->n_points && one_gran; i++) {
        const qlab_row *r = &d->points[i];
        if (r->status != QLAB_STATUS_OK || plot_is_float(r) || plot_is_weight_only(r))
            continue;
        if (!g0)
            g0 = r;
        else
            one_gran = plot_gran_index(r) == plot_gran_index(g0) && r->p.block == g0->p.block;
    }
    if (g0 && one_gran && plot_gran_index(g0) < N_GRAN) {
        char gl[112];
        plot_gran_label(g0, gl, sizeof gl);
        c.lbl = LBL_NOGRAN;
        snprintf(c.gran_note, sizeof c.gran_note, "scales %s", gl);
    }
    c.rep_t = plot_representative_threshold(c.d);
    note_nonfinite(&c, d);
    for (int64_t i = 1; i < d->n_points; i++)
        if (d->points[i].p.seed != d->points[0].p.seed) {
            plot_log(&c, "plot: points repeated over draws (seeds differ): error_vs_threshold draws their mean with "
                         "95%% intervals; the other figures draw their median");
            break;
        }
    /* each figure on its own: one that fails is reported, the others are drawn */
    char fig_err[8192], *failures = NULL;
    c.err = fig_err;
    c.err_len = sizeof fig_err;
    for (size_t i = 0; i < sizeof figures / sizeof figures[0]; i++) {
        const char *tmpbase = getenv("TMPDIR");
        snprintf(c.tmp, sizeof c.tmp, "%s/qlab-plot-XXXXXX", tmpbase && *tmpbase ? tmpbase : "/tmp");
        if (!mkdtemp(c.tmp)) {
            snprintf(err, err_len, "plot: cannot create a temporary directory: %s", strerror(errno));
            free(kept);
            free(failures);
            return 2;
        }
        fig_err[0] = '\0';
        c.n_ok = c.n_zero = c.n_nonfinite = 0;
        int rc = figures[i].draw(&c);
        rm_tmpdir(c.tmp);
        if (rc == 2) {
            if (!fig_err[0])
                snprintf(fig_err, sizeof fig_err, "plot: failed for an unknown reason");
            plot_log(&c, "failed %s: %s", figures[i].name, fig_err + (strncmp(fig_err, "plot: ", 6) ? 0 : 6));
            add_failure(&failures, figures[i].name, fig_err);
            c.failed++;
        }
    }
    /* the figures the experiment declares (`plots:` in its stored config) */
    qlab_figure_spec *specs = NULL;
    int n_specs = 0;
    const char *cfg = qlab_results_attr(d, "config");
    fig_err[0] = '\0';
    if (cfg && qlab_figures_from_text(cfg, source, &specs, &n_specs, fig_err, sizeof fig_err)) {
        plot_log(&c, "failed plots: %s", fig_err);
        add_failure(&failures, "plots", fig_err);
        c.failed++;
    }
    for (int s = 0; s < n_specs; s++) {
        const char *tmpbase = getenv("TMPDIR");
        snprintf(c.tmp, sizeof c.tmp, "%s/qlab-plot-XXXXXX", tmpbase && *tmpbase ? tmpbase : "/tmp");
        if (!mkdtemp(c.tmp))
            break;
        fig_err[0] = '\0';
        c.n_ok = c.n_zero = c.n_nonfinite = 0;
        int rc = plot_fig_declared(&c, &specs[s]);
        rm_tmpdir(c.tmp);
        if (rc == 2) {
            plot_log(&c, "failed %s: %s", specs[s].name, fig_err + (strncmp(fig_err, "plot: ", 6) ? 0 : 6));
            add_failure(&failures, specs[s].name, fig_err);
            c.failed++;
        }
    }
    free(specs);
    free(kept);
    if (c.failed)
        plot_log(&c, "plot: %d figure%s drawn, %d skipped, %d failed", c.drawn, c.drawn == 1 ? "" : "s", c.skipped,
                 c.failed);
    else
        plot_log(&c, "plot: %d figure%s drawn, %d skipped", c.drawn, c.drawn == 1 ? "" : "s", c.skipped);
    if (c.failed) {
        char head[64] = "plot: ";
        if (c.failed > 1)
            snprintf(head, sizeof head, "plot: %d figures failed: ", c.failed);
        fit_message(err, err_len, head, failures ? failures : "a figure failed");
        free(failures);
        return 2;
    }
    return 0;
}

/* ---------------------------------------------------------------------------- */
/* Axes no figure maps                                                           */

/* The axes of the data that no figure kind puts on an axis, in a legend or in a
 * selection: the data's distributions, the dump file, the model. Rows that differ
 * only there would be merged (a median over unlike data) without a word, so when one
 * varies, each value combination is drawn apart, in a folder of its own named after
 * the values, and the log says so. The seed is not among them: points that differ
 * only in it are draws of one point (`repeat:`), which the figures summarise. */
static const char *const unmapped_axes[] = {
    "path", "model", "x_dist", "x_std", "x_df", "x_outlier_cols", "x_outlier_scale",
    "w_dist", "w_std", "w_df", "w_outlier_cols", "w_outlier_scale",
};
#define N_UNMAPPED ((int)(sizeof unmapped_axes / sizeof unmapped_axes[0]))

static void value_text(const qlab_row *r, const qlab_column *c, char *buf, size_t len)
{
    const char *p = (const char *)r + c->offset;
    if (c->kind == QLAB_COL_F64) {
        double v;
        memcpy(&v, p, 8);
        snprintf(buf, len, "%g", v == 0 ? 0.0 : v);
    } else if (c->kind == QLAB_COL_U64) {
        uint64_t v;
        memcpy(&v, p, 8);
        snprintf(buf, len, "%llu", (unsigned long long)v);
    } else if (c->kind == QLAB_COL_I64) {
        int64_t v;
        memcpy(&v, p, 8);
        snprintf(buf, len, "%lld", (long long)v);
    } else {
        const char *base = c->kind == QLAB_COL_STR ? strrchr(p, '/') : NULL;
        snprintf(buf, len, "%.*s", (int)c->size, base ? base + 1 : p);
    }
    for (char *q = buf; *q; q++)   /* a folder name: no separators */
        if (*q == '/' || *q == ' ')
            *q = '_';
}

/* The key of row r over the varying unmapped axes ("x_outlier_scale=20,w_std=0.1"). */
static void combo_key(const qlab_row *r, const qlab_column *const *cols, int n, char *buf, size_t len)
{
    size_t o = 0;
    buf[0] = '\0';
    for (int i = 0; i < n && o < len; i++) {
        char v[96];
        value_text(r, cols[i], v, sizeof v);
        o += (size_t)snprintf(buf + o, len - o, "%s%s=%s", i ? "," : "", cols[i]->name, v);
    }
}

int qlab_plot_data(const qlab_results_data *d, const char *source, const char *out_dir, FILE *log, char *err,
                   size_t err_len)
{
    const qlab_column *vary[N_UNMAPPED];
    int n_vary = 0;
    for (int a = 0; a < N_UNMAPPED; a++) {
        const qlab_column *c = qlab_axis_column(unmapped_axes[a]);
        if (!c)
            continue;
        char v0[96] = "", v[96];
        int first = 1, varies = 0;
        for (int64_t i = 0; i < d->n_points && !varies; i++) {
            if (d->points[i].status != QLAB_STATUS_OK)
                continue;
            value_text(&d->points[i], c, v, sizeof v);
            if (first) {
                snprintf(v0, sizeof v0, "%s", v);
                first = 0;
            } else {
                varies = strcmp(v, v0) != 0;
            }
        }
        if (varies)
            vary[n_vary++] = c;
    }
    if (n_vary == 0)
        return plot_one(d, source, NULL, out_dir, log, err, err_len);

    const char *dir = out_dir ? out_dir : "plots/out";
    int64_t n = d->n_points;
    char (*keys)[512] = malloc((size_t)(n ? n : 1) * sizeof *keys);
    char *done = calloc((size_t)(n ? n : 1), 1);
    qlab_row *pts = malloc((size_t)(n ? n : 1) * sizeof *pts);
    qlab_layer_row *lay = malloc((size_t)(d->n_layers ? d->n_layers : 1) * sizeof *lay);
    qlab_sample *smp = malloc((size_t)(d->n_samples ? d->n_samples : 1) * sizeof *smp);
    int rc = 0;
    if (!keys || !done || !pts || !lay || !smp) {
        snprintf(err, err_len, "plot: out of memory");
        rc = 2;
        goto out;
    }
    for (int64_t i = 0; i < n; i++)
        combo_key(&d->points[i], vary, n_vary, keys[i], sizeof keys[i]);
    if (log) {
        fprintf(log, "plot: ");
        for (int a = 0; a < n_vary; a++)
            fprintf(log, "%s%s", a ? ", " : "", vary[a]->name);
        fprintf(log, " var%s between points and no figure maps %s: each value drawn apart, never merged, "
                "into a folder per value under %s\n", n_vary == 1 ? "ies" : "y", n_vary == 1 ? "it" : "them", dir);
    }
    /* group number of each point, and of each point id (ids are dense: 0..n-1 in a
     * run, resume and merge keep them so) */
    int64_t *group = malloc((size_t)(n ? n : 1) * sizeof *group), n_groups = 0, max_id = 0;
    for (int64_t i = 0; i < n; i++)
        max_id = d->points[i].p.id > max_id ? d->points[i].p.id : max_id;
    int64_t *group_of_id = max_id < INT32_MAX ? malloc((size_t)(max_id + 1) * sizeof *group_of_id) : NULL;
    if (!group || !group_of_id) {
        free(group);
        free(group_of_id);
        snprintf(err, err_len, "plot: out of memory");
        rc = 2;
        goto out;
    }
    for (int64_t i = 0; i <= max_id; i++)
        group_of_id[i] = -1;
    for (int64_t i = 0; i < n; i++)
        group[i] = -1;
    for (int64_t i = 0; i < n; i++) {
        if (done[i] || d->points[i].status != QLAB_STATUS_OK)
            continue;
        for (int64_t j = i; j < n; j++)
            if (!done[j] && d->points[j].status == QLAB_STATUS_OK && !strcmp(keys[j], keys[i])) {
                done[j] = 1;
                group[j] = n_groups;
            }
        n_groups++;
    }
    for (int64_t i = 0; i < n; i++)
        if (d->points[i].p.id >= 0)
            group_of_id[d->points[i].p.id] = group[i];
    for (int64_t g = 0; g < n_groups; g++) {
        qlab_results_data sub = *d;
        sub.points = pts;
        sub.layers = lay;
        sub.samples = smp;
        sub.n_points = sub.n_layers = sub.n_samples = 0;
        const char *key = NULL;
        for (int64_t j = 0; j < n; j++)
            if (group[j] == g) {
                key = keys[j];
                pts[sub.n_points++] = d->points[j];
            }
        for (int64_t l = 0; l < d->n_layers; l++) {
            int64_t id = d->layers[l].point_id;
            if (id >= 0 && id <= max_id && group_of_id[id] == g)
                lay[sub.n_layers++] = d->layers[l];
        }
        for (int64_t k = 0; k < d->n_samples; k++) {
            int64_t id = d->samples[k].point_id;
            if (id >= 0 && id <= max_id && group_of_id[id] == g)
                smp[sub.n_samples++] = d->samples[k];
        }
        char sub_dir[PATH_MAX];
        snprintf(sub_dir, sizeof sub_dir, "%s/%s", dir, key);
        if (log)
            fprintf(log, "plot: %s (%lld points) -> %s\n", key, (long long)sub.n_points, sub_dir);
        char sub_err[1024] = "";
        int r = plot_one(&sub, source, key, sub_dir, log, sub_err, sizeof sub_err);
        if (r > rc) {
            rc = r;
            snprintf(err, err_len, "%s: %s", key, sub_err);
        }
    }
    free(group);
    free(group_of_id);
out:
    free(keys);
    free(done);
    free(pts);
    free(lay);
    free(smp);
    return rc;
}

int qlab_plot(const char *results_path, const char *out_dir, FILE *log, char *err, size_t err_len)
{
    qlab_results_data d;
    memset(&d, 0, sizeof d);
    if (qlab_results_read(results_path, &d, err, err_len) != 0)
        return 2;
    int rc = qlab_plot_data(&d, results_path, out_dir, log, err, err_len);
    qlab_results_data_free(&d);
    return rc;
}

/* plot.c: `qlab plot`, results -> figures through gnuplot (see plot.h).
 *
 * Every figure is a declaration (plot_decl, plot_internal.h): the built-in kinds are
 * the table `builtin` below, and the figures a config declares (`plots:`) become the
 * same struct. plot_figure (plot_figure.c) selects each one's rows, draws every axis
 * it does not map that varies among them apart (one file per value, never a median
 * over unlike data) and hands each file to the declaration's renderer (plot_fig_*.c),
 * which writes one small TSV per series (header line = legend text) and runs
 * plots/<figure>.gp for PNG and two PDFs; style keys travel as -e variables so that
 * plots/style.gp alone decides the look.
 *
 * This file is the entry point: it finds gnuplot and the scripts, splits the data
 * into folders by the axes no figure maps (distributions, dump file, model), builds
 * the context the figures share (title, the point view, the legend's granularity,
 * the representative threshold) and runs every declaration in its own temporary
 * directory. Data selection helpers are in plot_data.c, the gnuplot side in
 * plot_draw.c; plot_internal.h lists what they share.
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
#include <sys/stat.h>
#include <time.h>

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

/* ---------------------------------------------------------------------------- */
/* The built-in figures                                                          */

/* The axes that name a series: the scheme with its granularities, block, SmoothQuant
 * alpha and outlier weights (the legend, plot_series_label), and its threshold where
 * that is not the x axis. */
#define SERIES "scheme,x_granularity,w_granularity,block,smooth_alpha,outlier_weights"
#define SERIES_T SERIES ",threshold"

/* Every built-in figure kind, in the order they are drawn, declared as `plots:` figures
 * are: plot_figure selects the rows, splits apart every axis a figure does not map
 * that varies among them (one file per value, never averaged), draws per scheme
 * family beyond 8 series, and hands each file to the renderer. rep_t 1: threshold 0
 * and the one nearest 6; 2: that one only. A dump's layers are a figure's reduce
 * axis: their median, which the subtitle names. Each renderer fixes its own log axes. */
static const plot_decl builtin[] = {
    {.name = "error_vs_threshold", .x = "threshold", .y = "rel_err,outlier_frac", .series = SERIES,
     .reduce = "layer", .filter = "", .families = 2, .logy = 1,
     .style = "lines; t = 0 (no decomposition) an open marker apart from the line; fp16 floor; outlier fraction on y2",
     .needs = "needs int8 points at more than one outlier threshold", .draw = plot_fig_threshold},
    {.name = "error_by_granularity", .x = "", .y = "rel_err", .series = SERIES, .reduce = "layer",
     .filter = "threshold=0", .logy = 1,
     .style = "bars: a cluster per scheme, a bar per granularity; fp16 and bf16 floors",
     .needs = "needs int8 points at threshold 0", .draw = plot_fig_granularity},
    {.name = "speedup_vs_k", .x = "k", .y = "speedup_vs_fp16,fp16_median_us", .series = SERIES_T, .reduce = "",
     .filter = "", .rep_t = 1, .logx = 1, .style = "lines; the fp16 GEMM's time on y2",
     .needs = "needs latency measurements with an fp16 baseline (median_us, speedup_vs_fp16)",
     .draw = plot_fig_speedup},
    {.name = "stage_breakdown", .x = "k", .y = "median_us", .series = "", .reduce = "", .filter = "", .rep_t = 2,
     .logx = 1, .style = "stacked bars of the pipeline's stages (/samples) per k, one series per file",
     .needs = "needs timed LLM.int8() points (int8 or fp8 scheme, threshold > 0, median_us)",
     .draw = plot_fig_stages},
    {.name = "memory", .x = "", .y = "w_bits", .series = "scheme,w_granularity,block,threshold,outlier_weights",
     .reduce = "layer", .filter = "", .rep_t = 1,
     .style = "stacked bars: codes, scales, second-level scales, outlier columns; % of fp16 on y2",
     .needs = "needs memory columns (w_bytes, w_bytes_fp16)", .draw = plot_fig_memory},
    {.name = "error_vs_bits", .x = "", .y = "rel_err,w_bits", .series = SERIES_T, .reduce = "layer", .filter = "",
     .rep_t = 1, .logy = 1, .style = "dot chart: a row per configuration by bits, the Pareto front filled",
     .needs = "needs error and memory columns (rel_err, w_bytes, w_bytes_fp16)", .draw = plot_fig_bits},
    {.name = "throughput", .x = "m,k,n", .y = "tops,gbps", .series = SERIES_T, .reduce = "", .filter = "",
     .rep_t = 1, .style = "lines over the shapes by size; GB/s on y2",
     .needs = "needs latency measurements (median_us, tops)", .draw = plot_fig_throughput},
    {.name = "error_vs_layer", .x = "layer", .y = "rel_err", .series = SERIES_T ",mode", .reduce = "", .filter = "",
     .rep_t = 1, .layers = 1, .all_modes = 1, .families = 3, .logy = 1,
     .style = "lines; propagated and isolated in two panels",
     .needs = "the /layers table is empty (no chain or model points) and no dump has more than one layer",
     .draw = plot_fig_layers},
    {.name = "error_vs_depth", .x = "depth", .y = "rel_err", .series = SERIES_T ",mode", .reduce = "",
     .filter = "workload=chain", .rep_t = 1, .all_modes = 1, .logx = 1, .logy = 1,
     .style = "lines; isolated mode thin and dotted", .needs = "needs chain points at more than one depth",
     .draw = plot_fig_depth},
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
    int64_t n_err = 0, n_unmeasured = 0, n_time = 0, n_layer = 0;
    for (int64_t i = 0; i < d->n_layers; i++)
        n_layer += !isfinite(d->layers[i].rel_err);
    if (n_layer)
        plot_log(c, "plot: %lld /layers row%s with a NaN or infinite rel_err left out of the per-layer figure",
                 (long long)n_layer, n_layer == 1 ? "" : "s");
    for (int64_t i = 0; i < d->n_points; i++) {
        const qlab_row *r = &d->points[i];
        if (r->status != QLAB_STATUS_OK)
            continue;
        if (!qlab_row_error_measured(r))
            n_unmeasured++;   /* NaN by design: the run measured no error */
        else
            n_err += !isfinite(r->rel_err);
        n_time += !isfinite(r->t.median_us) || !isfinite(r->speedup_vs_fp16) || !isfinite(r->tops) ||
                  !isfinite(r->gbps);
    }
    if (n_unmeasured)
        plot_log(c, "plot: %lld point%s measured no error (the run's `measure` had no `error`): no error figures of %s",
                 (long long)n_unmeasured, n_unmeasured == 1 ? "" : "s", n_unmeasured == 1 ? "it" : "them");
    if (n_err)
        plot_log(c, "plot: %lld point%s with a NaN or infinite rel_err left out of the error figures",
                 (long long)n_err, n_err == 1 ? "" : "s");
    if (n_time)
        plot_log(c, "plot: %lld point%s with a NaN or infinite timing (median_us, speedup_vs_fp16, tops or gbps): "
                 "those values left out of the timing figures", (long long)n_time, n_time == 1 ? "" : "s");
}

/* Every figure of d into out_dir; subset (may be NULL) names the values of the axes
 * that no figure maps when the data were split by them, and goes into every title. */
/* Whether `name` is in the comma-separated list `only` (NULL or "": every figure). */
static int plot_selected(const char *only, const char *name)
{
    if (!only || !*only) return 1;
    size_t n = strlen(name);
    for (const char *p = only; *p;) {
        const char *e = strchr(p, ',');
        size_t l = e ? (size_t)(e - p) : strlen(p);
        if (l == n && !strncmp(p, name, n)) return 1;
        p += l + (e != NULL);
    }
    return 0;
}

static int plot_one(const qlab_results_data *d, const char *source, const char *subset, const char *out_dir,
                    const char *only, FILE *log, char *err, size_t err_len)
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
        snprintf(err, err_len, "plot: gnuplot scripts not found: no style.gp in %s (set QLAB_PLOTS to the plots/ "
                 "folder of the qlab tree, or run `make install`)", c.scripts);
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
    /* A run that is still going, was killed or was stopped: its figures say so. */
    const char *status = qlab_results_attr(d, "status");
    int partial = status && strcmp(status, "complete") != 0;
    snprintf(c.title, sizeof c.title, "%s%s%s, %s backend%s%s%s%s%s", exp && *exp ? exp : source,
             subset ? ", " : "", subset ? subset : "", be && *be ? be : "?", dev && *dev ? ", " : "",
             dev && *dev ? dev : "", partial ? "; PARTIAL: run " : "",
             !partial ? "" : !strcmp(status, "running") ? "still running or killed" : status,
             partial ? ", not every point" : "");

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
    int n_builtin = (int)(sizeof builtin / sizeof builtin[0]);
    for (int i = 0; i < n_builtin + n_specs; i++) {
        plot_decl decl;
        char series[QLAB_FIG_MAX_SERIES * 65] = "", filter[QLAB_FIG_MAX_FILTER * (QLAB_PATH_LEN + 73)] = "";
        if (i < n_builtin) {
            decl = builtin[i];
        } else {   /* a declared figure: the lines renderer */
            const qlab_figure_spec *f = &specs[i - n_builtin];
            for (int k = 0; k < f->n_series; k++)
                snprintf(series + strlen(series), sizeof series - strlen(series), "%s%s", k ? "," : "", f->series[k]);
            for (int k = 0; k < f->n_filter; k++)
                snprintf(filter + strlen(filter), sizeof filter - strlen(filter), "%s%s", k ? ";" : "", f->filter[k]);
            decl = (plot_decl){.name = f->name, .x = f->x, .y = f->y, .series = series, .reduce = "",
                               .filter = filter, .logx = f->logx, .logy = f->logy, .style = "lines",
                               .needs = "no ok point matches its filter with a finite y", .draw = plot_fig_lines,
                               .title = f->title};
        }
        if (!plot_selected(only, decl.name))
            continue;
        const char *tmpbase = getenv("TMPDIR");
        snprintf(c.tmp, sizeof c.tmp, "%s/qlab-plot-XXXXXX", tmpbase && *tmpbase ? tmpbase : "/tmp");
        if (!mkdtemp(c.tmp)) {
            snprintf(err, err_len, "plot: cannot create a temporary directory: %s", strerror(errno));
            free(kept);
            free(failures);
            free(specs);
            return 2;
        }
        fig_err[0] = '\0';
        c.n_ok = c.n_zero = c.n_nonfinite = 0;
        int rc = plot_figure(&c, &decl);
        rm_tmpdir(c.tmp);
        if (rc == 2) {
            if (!fig_err[0])
                snprintf(fig_err, sizeof fig_err, "plot: failed for an unknown reason");
            plot_log(&c, "failed %s: %s", decl.name, fig_err + (strncmp(fig_err, "plot: ", 6) ? 0 : 6));
            add_failure(&failures, decl.name, fig_err);
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

/* The key of row r over the varying unmapped axes ("x_outlier_scale=20,w_std=0.1"). */
static void combo_key(const qlab_row *r, const qlab_column *const *cols, int n, char *buf, size_t len)
{
    size_t o = 0;
    buf[0] = '\0';
    for (int i = 0; i < n && o < len; i++) {
        char v[96];
        plot_col_text(r, cols[i], v, sizeof v);
        o += (size_t)snprintf(buf + o, len - o, "%s%s=%s", i ? "," : "", cols[i]->name, v);
    }
}

/* Every name in `only` must be a built-in figure or one the stored config declares. */
static int check_only(const qlab_results_data *d, const char *source, const char *only, char *err, size_t err_len)
{
    if (!only || !*only) return 0;
    qlab_figure_spec *specs = NULL;
    int n_specs = 0;
    const char *cfg = qlab_results_attr(d, "config");
    char spec_err[1024];
    if (cfg && qlab_figures_from_text(cfg, source, &specs, &n_specs, spec_err, sizeof spec_err)) n_specs = 0;
    int n_builtin = (int)(sizeof builtin / sizeof builtin[0]), rc = 0;
    for (const char *p = only; *p && !rc;) {
        const char *e = strchr(p, ',');
        int l = (int)(e ? (size_t)(e - p) : strlen(p)), found = 0;
        if (l == 0 || (e && !e[1])) {
            snprintf(err, err_len, "plot: --only '%s': an empty figure name (names are separated by "
                     "single commas)", only);
            rc = 2;
            break;
        }
        for (int i = 0; i < n_builtin + n_specs && !found; i++) {
            const char *name = i < n_builtin ? builtin[i].name : specs[i - n_builtin].name;
            found = (int)strlen(name) == l && !strncmp(p, name, (size_t)l);
        }
        if (!found) {
            size_t o = (size_t)snprintf(err, err_len, "plot: --only: no figure named '%.*s' (built in:", l, p);
            for (int i = 0; i < n_builtin + n_specs && o < err_len; i++)
                o += (size_t)snprintf(err + o, err_len - o, "%s %s", i == n_builtin ? "; declared in its config:" :
                                      i ? "," : "", i < n_builtin ? builtin[i].name : specs[i - n_builtin].name);
            if (o < err_len) snprintf(err + o, err_len - o, ")");
            rc = 2;
        }
        p += l + (e != NULL);
    }
    free(specs);
    return rc;
}

int qlab_plot_data(const qlab_results_data *d, const char *source, const char *out_dir, const char *only,
                   FILE *log, char *err, size_t err_len)
{
    if (check_only(d, source, only, err, err_len)) return 2;
    const char *status = qlab_results_attr(d, "status"), *total = qlab_results_attr(d, "points_total");
    if (log && status && strcmp(status, "complete"))
        fprintf(log, "plot: %s is a partial run (status %s, %lld of %s points): the figures show those points "
                "only, and their titles say PARTIAL\n", source, status, (long long)d->n_points, total ? total : "?");
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
            plot_col_text(&d->points[i], c, v, sizeof v);
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
        return plot_one(d, source, NULL, out_dir, only, log, err, err_len);

    const char *dir = out_dir ? out_dir : "plots/out";
    int64_t n = d->n_points;
    char (*keys)[512] = malloc((size_t)(n ? n : 1) * sizeof *keys);
    char *done = calloc((size_t)(n ? n : 1), 1), *keep = calloc((size_t)(n ? n : 1), 1);
    int rc = 0;
    if (!keys || !done || !keep) {
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
    for (int64_t i = 0; i < n && rc != 2; i++) {
        if (done[i] || d->points[i].status != QLAB_STATUS_OK)
            continue;
        for (int64_t j = 0; j < n; j++) {
            keep[j] = !done[j] && d->points[j].status == QLAB_STATUS_OK && !strcmp(keys[j], keys[i]);
            done[j] |= keep[j];
        }
        qlab_results_data sub;
        if (plot_subset(d, keep, &sub)) {
            snprintf(err, err_len, "plot: out of memory");
            rc = 2;
            break;
        }
        char sub_dir[PATH_MAX];
        snprintf(sub_dir, sizeof sub_dir, "%s/%s", dir, keys[i]);
        if (log)
            fprintf(log, "plot: %s (%lld points) -> %s\n", keys[i], (long long)sub.n_points, sub_dir);
        char sub_err[1024] = "";
        int r = plot_one(&sub, source, keys[i], sub_dir, only, log, sub_err, sizeof sub_err);
        plot_subset_free(&sub);
        if (r > rc) {
            rc = r;
            snprintf(err, err_len, "%s: %s", keys[i], sub_err);
        }
    }
out:
    free(keys);
    free(done);
    free(keep);
    return rc;
}

/* Counts the PNGs in dir and its folders (one level down) last written before t0,
 * keeping the first one's path in first. */
static int64_t count_older_pngs(const char *dir, time_t t0, int depth, char *first, size_t len)
{
    DIR *dp = opendir(dir);
    if (!dp)
        return 0;
    int64_t n = 0;
    struct dirent *e;
    while ((e = readdir(dp)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char p[PATH_MAX];
        if (snprintf(p, sizeof p, "%s/%s", dir, e->d_name) >= (int)sizeof p)
            continue;
        struct stat st;
        if (stat(p, &st) != 0)
            continue;
        size_t l = strlen(e->d_name);
        if (S_ISDIR(st.st_mode) && depth > 0) {
            n += count_older_pngs(p, t0, depth - 1, first, len);
        } else if (S_ISREG(st.st_mode) && l > 4 && !strcmp(e->d_name + l - 4, ".png") && st.st_mtime < t0) {
            if (n++ == 0 && !*first)
                snprintf(first, len, "%s", p);
        }
    }
    closedir(dp);
    return n;
}

int qlab_plot(const char *results_path, const char *out_dir, const char *only, FILE *log, char *err,
              size_t err_len)
{
    qlab_results_data d;
    memset(&d, 0, sizeof d);
    if (qlab_results_read(results_path, &d, err, err_len) != 0)
        return 2;
    time_t t0 = time(NULL);
    int rc = qlab_plot_data(&d, results_path, out_dir, only, log, err, err_len);
    qlab_results_data_free(&d);
    /* Figures this call did not draw, left from another file or an earlier run, would
     * look current beside the new ones: say so (they are the user's, so kept). */
    char first[PATH_MAX] = "";
    int64_t old = rc == 2 ? 0 : count_older_pngs(out_dir ? out_dir : "plots/out", t0, 1, first, sizeof first);
    if (old > 0 && log)
        fprintf(log, "plot: %lld older figure%s in %s %s not drawn by this call from %s (e.g. %s): from "
                "another file or an earlier run%s; plot into an empty folder to keep them apart\n", (long long)old,
                old == 1 ? "" : "s", out_dir ? out_dir : "plots/out", old == 1 ? "was" : "were", results_path,
                first, only && *only ? ", or figures --only left out" : "");
    return rc;
}

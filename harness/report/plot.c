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

#include <dirent.h>
#include <errno.h>
#include <limits.h>
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
 * 2 error; each starts from an empty temp dir. */
static int (*const figures[])(plot_ctx *) = {
    plot_fig_threshold, plot_fig_granularity, plot_fig_speedup, plot_fig_stages, plot_fig_memory, plot_fig_bits,
    plot_fig_throughput, plot_fig_layers, plot_fig_depth,
};

int qlab_plot_data(const qlab_results_data *d, const char *source, const char *out_dir, FILE *log, char *err,
                   size_t err_len)
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
                 "plot: gnuplot scripts not found (looked for style.gp in $QLAB_PLOTS_DIR, <qlab>/../plots, ./plots)");
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
    snprintf(c.title, sizeof c.title, "%s, %s backend%s%s", exp && *exp ? exp : source, be && *be ? be : "?",
             dev && *dev ? ", " : "", dev && *dev ? dev : "");

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
    int rc = 0;
    for (size_t i = 0; i < sizeof figures / sizeof figures[0] && rc != 2; i++) {
        const char *tmpbase = getenv("TMPDIR");
        snprintf(c.tmp, sizeof c.tmp, "%s/qlab-plot-XXXXXX", tmpbase && *tmpbase ? tmpbase : "/tmp");
        if (!mkdtemp(c.tmp)) {
            snprintf(err, err_len, "plot: cannot create a temporary directory: %s", strerror(errno));
            free(kept);
            return 2;
        }
        rc = figures[i](&c);
        rm_tmpdir(c.tmp);
    }
    free(kept);
    if (rc == 2)
        return 2;
    plot_log(&c, "plot: %d figure%s drawn, %d skipped", c.drawn, c.drawn == 1 ? "" : "s", c.skipped);
    return 0;
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

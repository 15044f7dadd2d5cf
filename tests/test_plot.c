/* test_plot.c: `qlab plot` (harness/report/plot*.c) end to end: results file -> PNG + PDF.
 *
 * Small results files are written through the results API with deterministic rows
 * (several schemes, granularities, thresholds, shapes, timings, stage samples),
 * plotted into a temporary directory, and the figures checked by their signatures.
 * Degenerate files (every error 0, NaN and inf, a series of zeros, one-value ranges, a
 * single point) and a copy of plots/ with a failing script check that each figure is
 * drawn, or skipped or failed with its reason, on its own, and that no empty, partial
 * or temporary file is left.
 * Needs gnuplot on PATH and the plots/ scripts reachable from the working directory (the
 * repository root, where `make test` runs). Set QLAB_TEST_KEEP=1 to keep the
 * figures (their directory is printed) for looking at them.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "report/plot.h"
#include "store/results.h"

// ----------------------------------------------------------------------------
// Deterministic results files

/* Degenerate error values, for the tests of what a log axis cannot show. */
enum {
    ERR_MODEL = 0,  /* model_err: plausible, all > 0 */
    ERR_ZERO,       /* every error exactly 0 (an all-zero layer, fp32 on exact data) */
    ERR_NONFINITE,  /* some errors and timings NaN or inf, the others as ERR_MODEL */
    ERR_FLAT,       /* every error the same value (a one-point range on a log axis) */
};

typedef struct {
    int latency;              /* timing columns and /samples */
    int layers;               /* /layers rows and chain points */
    int errs;                 /* ERR_* */
    const char *zero_scheme;  /* a scheme whose errors (points and layers) are all 0, or NULL */
} gen_opts;

/* The error a row or layer of `scheme` gets under o, from the model's value e. */
static double degenerate(gen_opts o, const char *scheme, int64_t id, double e)
{
    if (o.zero_scheme && !strcmp(scheme, o.zero_scheme))
        return 0.0;
    switch (o.errs) {
    case ERR_ZERO:
        return 0.0;
    case ERR_FLAT:
        return 1e-2;
    case ERR_NONFINITE:
        return id % 3 == 1 ? NAN : id % 3 == 2 ? INFINITY : e;
    default:
        return e;
    }
}

static void set_row(qlab_row *r, int64_t id, const char *scheme, const char *xg, const char *wg, double t,
                    int64_t m, int64_t k, int64_t n)
{
    memset(r, 0, sizeof *r);
    r->p.id = id;
    r->p.seed = 7;
    snprintf(r->p.workload, sizeof r->p.workload, "synthetic");
    r->p.m = m;
    r->p.k = k;
    r->p.n = n;
    snprintf(r->p.x.dist, sizeof r->p.x.dist, "normal");
    r->p.x.std = 1;
    r->p.x.outlier_cols = 0.001;
    r->p.x.outlier_scale = 20;
    snprintf(r->p.w.dist, sizeof r->p.w.dist, "normal");
    r->p.w.std = 0.02;
    snprintf(r->p.scheme, sizeof r->p.scheme, "%s", scheme);
    snprintf(r->p.x_granularity, sizeof r->p.x_granularity, "%s", xg);
    snprintf(r->p.w_granularity, sizeof r->p.w_granularity, "%s", wg);
    r->p.threshold = t;
    snprintf(r->p.outlier_weights, sizeof r->p.outlier_weights, "%s", t > 0 ? "fp16" : "");
    r->status = QLAB_STATUS_OK;
    snprintf(r->backend, sizeof r->backend, "cpu");
}

/* Error model: coarser granularity and zeropoint's smaller effective range cost
 * error; the decomposition removes most of it as t falls. Plausible, not measured. */
static double model_err(const char *scheme, const char *xg, const char *wg, double t)
{
    if (!strcmp(scheme, "fp16"))
        return 3.1e-4;
    if (!strcmp(scheme, "bf16"))
        return 2.4e-3;
    if (!strcmp(scheme, "fp32"))
        return 1.2e-7;
    double e = 1.1e-2;
    if (!strcmp(xg, "tensor"))
        e *= 3.0;
    if (!strcmp(wg, "tensor"))
        e *= 1.8;
    if (!strcmp(scheme, "zeropoint"))
        e *= 0.8;
    if (t > 0)
        e *= 0.12 + 0.06 * t;
    return e;
}

static double model_frac(double t)
{
    return t > 0 ? 0.0012 + 0.02 * exp(-t) : 0.0;
}

static void write_results(const char *path, gen_opts o)
{
    char err[512];
    qlab_results *r = NULL;
    cr_assert_eq(qlab_results_create(path, &r, err, sizeof err), 0, "%s", err);
    cr_assert_eq(qlab_results_set_attr(r, "experiment", "plot-test", err, sizeof err), 0, "%s", err);
    cr_assert_eq(qlab_results_set_attr(r, "backend", "cpu", err, sizeof err), 0, "%s", err);
    cr_assert_eq(qlab_results_set_attr(r, "device", "Test CPU (2 cores)", err, sizeof err), 0, "%s", err);

    static const char *schemes[] = {"fp32", "fp16", "bf16", "absmax", "zeropoint"};
    static const char *grans[][2] = {{"tensor", "tensor"}, {"tensor", "channel"}, {"row", "tensor"}, {"row", "channel"}};
    static const double thr[] = {0, 2, 4, 6, 8};
    static const int64_t ks[] = {1024, 2048, 4096};
    int64_t id = 0;
    for (int ki = 0; ki < 3; ki++) {
        int64_t m = 512, k = ks[ki], n = ks[ki];
        for (int s = 0; s < 5; s++) {
            int is_int8 = s >= 3;
            for (int g = 0; g < (is_int8 ? 4 : 1); g++) {
                const char *xg = is_int8 ? grans[g][0] : "", *wg = is_int8 ? grans[g][1] : "";
                int n_t = is_int8 && g == 3 ? 5 : 1;
                for (int ti = 0; ti < n_t; ti++) {
                    qlab_row row;
                    set_row(&row, id, schemes[s], xg, wg, thr[ti], m, k, n);
                    double t = thr[ti];
                    row.rel_err = degenerate(o, schemes[s], id, model_err(schemes[s], xg, wg, t) * (1.0 + 0.05 * ki));
                    row.sqnr_db = -20 * log10(row.rel_err);
                    row.cosine = 1 - row.rel_err * row.rel_err / 2;
                    row.outlier_frac = is_int8 && o.errs != ERR_ZERO ? model_frac(t) : 0;
                    row.outlier_cols = (int64_t)llround(row.outlier_frac * (double)k);
                    row.w_bytes_fp16 = 2 * n * k;
                    if (!strcmp(schemes[s], "fp32"))
                        row.w_bytes = 4 * n * k;
                    else if (!is_int8)
                        row.w_bytes = 2 * n * k;
                    else {
                        int64_t groups = !strcmp(wg, "channel") ? n : 1;
                        int64_t per = !strcmp(schemes[s], "zeropoint") ? 8 : 4;
                        row.w_bytes = n * k + groups * per + (t > 0 ? row.outlier_cols * n * 2 : 0);
                    }
                    if (o.latency) {
                        double fp16_us = 2e-6 * (double)m * (double)n * (double)k / 40.0;
                        double speed = is_int8 ? (t > 0 ? 0.7 + 0.25 * ki : 1.2 + 0.3 * ki) : 1.0;
                        if (!strcmp(schemes[s], "fp32"))
                            speed = 0.5;
                        row.t.median_us = fp16_us / speed;
                        row.t.q1_us = 0.98 * row.t.median_us;
                        row.t.q3_us = 1.02 * row.t.median_us;
                        row.t.min_us = 0.97 * row.t.median_us;
                        row.t.rel_stdev = 0.01;
                        row.t.samples = 10;
                        row.fp16_median_us = fp16_us;
                        row.speedup_vs_fp16 = speed;
                        row.tops = 2.0 * m * n * k / (row.t.median_us * 1e-6) / 1e12;
                        row.gbps = (double)(m * k + n * k + 4 * m * n) / (row.t.median_us * 1e-6) / 1e9;
                        if (o.errs == ERR_NONFINITE && id % 5 == 3) {
                            row.tops = id % 2 ? INFINITY : NAN;
                            row.gbps = id % 2 ? NAN : INFINITY;
                            row.speedup_vs_fp16 = INFINITY;
                        }
                    }
                    cr_assert_eq(qlab_results_append_point(r, &row, err, sizeof err), 0, "%s", err);
                    if (o.latency && is_int8 && t > 0) {
                        /* the LLM.int8() pipeline's stages, 3 samples each */
                        static const char *stages[] = {"quantize_x", "gemm_i8", "outlier_gemm", "dequant", "fp16_gemm", "total"};
                        static const double share[] = {0.15, 0.5, 0.2, 0.15, 0, 1};
                        qlab_sample smp[18];
                        for (int st = 0; st < 6; st++)
                            for (int q = 0; q < 3; q++) {
                                qlab_sample *x = &smp[st * 3 + q];
                                memset(x, 0, sizeof *x);
                                x->point_id = id;
                                snprintf(x->stage, sizeof x->stage, "%s", stages[st]);
                                double base = st == 4 ? row.fp16_median_us : share[st] * row.t.median_us;
                                x->time_us = base * (0.99 + 0.01 * q);
                            }
                        cr_assert_eq(qlab_results_append_samples(r, smp, 18, err, sizeof err), 0, "%s", err);
                    }
                    id++;
                }
            }
        }
    }
    if (o.layers) {
        /* chains of depth 2, 4, 8 for two schemes, per-layer rows propagated and isolated */
        static const char *lsch[][3] = {{"absmax", "row", "channel"}, {"fp16", "", ""}};
        for (int s = 0; s < 2; s++)
            for (int64_t depth = 2; depth <= 8; depth *= 2) {
                qlab_row row;
                set_row(&row, id, lsch[s][0], lsch[s][1], lsch[s][2], 0, 256, 1024, 1024);
                snprintf(row.p.workload, sizeof row.p.workload, "chain");
                row.p.depth = depth;
                double e0 = model_err(lsch[s][0], lsch[s][1], lsch[s][2], 0);
                /* NaN/inf (ERR_NONFINITE) at depth 4 only: the other depths still draw */
                row.rel_err = degenerate(o, lsch[s][0], depth == 4 ? 1 : 0, e0 * sqrt((double)depth));
                row.w_bytes = row.w_bytes_fp16 = 0;
                cr_assert_eq(qlab_results_append_point(r, &row, err, sizeof err), 0, "%s", err);
                for (int mode = 0; mode < 2; mode++) {
                    qlab_layer_row l[8];
                    for (int64_t li = 0; li < depth; li++) {
                        memset(&l[li], 0, sizeof l[li]);
                        l[li].point_id = id;
                        l[li].layer_index = li;
                        snprintf(l[li].layer_name, sizeof l[li].layer_name, "linear.%lld", (long long)li);
                        snprintf(l[li].mode, sizeof l[li].mode, "%s", mode ? "isolated" : "propagated");
                        l[li].rel_err = degenerate(o, lsch[s][0], li, mode ? e0 : e0 * sqrt((double)li + 1));
                        l[li].cosine = 1 - l[li].rel_err * l[li].rel_err / 2;
                    }
                    cr_assert_eq(qlab_results_append_layers(r, l, depth, err, sizeof err), 0, "%s", err);
                }
                id++;
            }
    }
    cr_assert_eq(qlab_results_close(r, "complete", err, sizeof err), 0, "%s", err);
}

// ----------------------------------------------------------------------------
// Helpers

typedef struct {
    char dir[256];
    char h5[300];
    char out[300];
} scratch;

static void scratch_init(scratch *s)
{
    const char *base = getenv("TMPDIR");
    snprintf(s->dir, sizeof s->dir, "%s/qlab-test-plot-XXXXXX", base && *base ? base : "/tmp");
    cr_assert_not_null(mkdtemp(s->dir));
    snprintf(s->h5, sizeof s->h5, "%s/results.h5", s->dir);
    snprintf(s->out, sizeof s->out, "%s/figs", s->dir);
}

static void scratch_free(scratch *s)
{
    if (getenv("QLAB_TEST_KEEP")) {
        fprintf(stderr, "kept %s\n", s->dir);
        return;
    }
    char cmd[400];
    snprintf(cmd, sizeof cmd, "/bin/rm -rf '%s'", s->dir);
    cr_assert_eq(system(cmd), 0);
}

/* Runs qlab_plot with the log captured into `log` (NUL-terminated). */
static int plot_capture(const char *h5, const char *out, char *log, size_t log_len, char *err, size_t err_len)
{
    FILE *f = tmpfile();
    cr_assert_not_null(f);
    err[0] = '\0';
    int rc = qlab_plot(h5, out, NULL, f, err, err_len);
    rewind(f);
    size_t n = fread(log, 1, log_len - 1, f);
    log[n] = '\0';
    fclose(f);
    return rc;
}

static void assert_png(const char *dir, const char *fig)
{
    char p[512];
    snprintf(p, sizeof p, "%s/%s.png", dir, fig);
    FILE *f = fopen(p, "rb");
    cr_assert_not_null(f, "%s was not written", p);
    unsigned char sig[8] = {0};
    size_t n = fread(sig, 1, 8, f);
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fclose(f);
    static const unsigned char png[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    cr_assert_eq(n, 8, "%s is shorter than a PNG signature", p);
    cr_assert(memcmp(sig, png, 8) == 0, "%s does not start with the PNG signature", p);
    cr_assert_gt(size, 2000, "%s is too small (%ld bytes) to hold a figure", p, size);
}

/* FIG.pdf (two-column width) and FIG-1col.pdf (one column) are both PDFs with a page. */
static void assert_pdf(const char *dir, const char *fig)
{
    static const char *const tags[] = {"", "-1col"};
    for (int t = 0; t < 2; t++) {
        char p[512];
        snprintf(p, sizeof p, "%s/%s%s.pdf", dir, fig, tags[t]);
        FILE *f = fopen(p, "rb");
        cr_assert_not_null(f, "%s was not written", p);
        char head[5] = {0};
        size_t n = fread(head, 1, 4, f);
        fseek(f, 0, SEEK_END);
        long size = ftell(f);
        fclose(f);
        cr_assert_eq(n, 4);
        cr_assert_str_eq(head, "%PDF", "%s does not start with %%PDF", p);
        cr_assert_gt(size, 1000, "%s is too small (%ld bytes)", p, size);
    }
}

static int exists(const char *dir, const char *fig, const char *ext)
{
    char p[512];
    snprintf(p, sizeof p, "%s/%s.%s", dir, fig, ext);
    return access(p, F_OK) == 0;
}

/* write_results sweeps three shapes (k = n = 1024, 2048, 4096); a figure that does not
 * map k draws each apart, FIG-k=K (n follows k), where the values differ. */
static const char *const error_figs[] = {"error_vs_threshold-k=4096", "error_by_granularity-k=4096", "memory-k=4096"};
static const char *const timing_figs[] = {"speedup_vs_k", "stage_breakdown", "throughput"};
static const char *const layer_figs[] = {"error_vs_layer", "error_vs_depth"};

// ----------------------------------------------------------------------------
// Tests

Test(plot, full_results_give_every_error_and_timing_figure_as_png_and_pdf, .timeout = 120)
{
    scratch s;
    scratch_init(&s);
    write_results(s.h5, (gen_opts){.latency = 1, .layers = 0});
    char log[8192], err[1024];
    int rc = plot_capture(s.h5, s.out, log, sizeof log, err, sizeof err);
    cr_assert_eq(rc, 0, "qlab_plot failed: %s", err);
    for (int i = 0; i < 3; i++) {
        assert_png(s.out, error_figs[i]);
        assert_pdf(s.out, error_figs[i]);
        assert_png(s.out, timing_figs[i]);
        assert_pdf(s.out, timing_figs[i]);
        char p[512];
        snprintf(p, sizeof p, "%s/%s.png", s.out, timing_figs[i]);
        cr_assert_not_null(strstr(log, p), "the log does not name %s:\n%s", p, log);
    }
    cr_assert_not_null(strstr(log, "skipped error_vs_layer: "), "log:\n%s", log);
    /* 3 error figures x 3 shapes and the 3 timing figures, which map k (or the shape) */
    cr_assert_not_null(strstr(log, "12 figures drawn"), "log:\n%s", log);
    scratch_free(&s);
}

Test(plot, results_without_latency_skip_timing_figures_with_a_reason, .timeout = 120)
{
    scratch s;
    scratch_init(&s);
    write_results(s.h5, (gen_opts){.latency = 0, .layers = 0});
    char log[8192], err[1024];
    int rc = plot_capture(s.h5, s.out, log, sizeof log, err, sizeof err);
    cr_assert_eq(rc, 0, "a results file without timings is not an error: %s", err);
    cr_assert_eq(err[0], '\0', "no error message expected, got: %s", err);
    cr_assert_not_null(strstr(log, "skipped speedup_vs_k: needs latency"), "log:\n%s", log);
    cr_assert_not_null(strstr(log, "skipped stage_breakdown: needs timed"), "log:\n%s", log);
    cr_assert_not_null(strstr(log, "skipped throughput: needs latency"), "log:\n%s", log);
    cr_assert_not_null(strstr(log, "skipped error_vs_depth: needs chain points"), "log:\n%s", log);
    for (int i = 0; i < 3; i++) {
        cr_assert(!exists(s.out, timing_figs[i], "png"), "%s.png drawn without data", timing_figs[i]);
        cr_assert(!exists(s.out, timing_figs[i], "pdf"), "%s.pdf drawn without data", timing_figs[i]);
        assert_png(s.out, error_figs[i]);
        assert_pdf(s.out, error_figs[i]);
    }
    scratch_free(&s);
}

Test(plot, layer_rows_and_chains_give_propagation_figures, .timeout = 120)
{
    scratch s;
    scratch_init(&s);
    write_results(s.h5, (gen_opts){.latency = 0, .layers = 1});
    char log[8192], err[1024];
    int rc = plot_capture(s.h5, s.out, log, sizeof log, err, sizeof err);
    cr_assert_eq(rc, 0, "qlab_plot failed: %s", err);
    for (int i = 0; i < 2; i++) {
        assert_png(s.out, layer_figs[i]);
        assert_pdf(s.out, layer_figs[i]);
    }
    scratch_free(&s);
}

Test(plot, missing_results_file_returns_2_naming_it)
{
    char log[1024], err[1024];
    int rc = plot_capture("/nonexistent/qlab-results.h5", "/tmp/qlab-plot-never", log, sizeof log, err, sizeof err);
    cr_assert_eq(rc, 2);
    cr_assert_not_null(strstr(err, "/nonexistent/qlab-results.h5"), "message does not name the file: %s", err);
    cr_assert_eq(access("/tmp/qlab-plot-never", F_OK), -1, "the output directory was created for a failed read");
}

Test(plot, missing_gnuplot_returns_2_with_a_clear_message, .timeout = 60)
{
    scratch s;
    scratch_init(&s);
    write_results(s.h5, (gen_opts){.latency = 0, .layers = 0});
    cr_assert_eq(setenv("QLAB_GNUPLOT", "", 1), 0);
    cr_assert_eq(setenv("PATH", "/nonexistent-dir", 1), 0);
    char log[1024], err[1024];
    int rc = plot_capture(s.h5, s.out, log, sizeof log, err, sizeof err);
    cr_assert_eq(rc, 2);
    cr_assert_not_null(strstr(err, "gnuplot not found"), "message: %s", err);
    cr_assert(!exists(s.out, "error_vs_threshold", "png"));
    scratch_free(&s);
}

// ----------------------------------------------------------------------------
// Degenerate data: zeros, NaN, inf, one-point ranges, a failing figure

/* One point: absmax x=row w=channel at t = 0, with timing and memory columns. */
static void write_single(const char *path)
{
    char err[512];
    qlab_results *r = NULL;
    cr_assert_eq(qlab_results_create(path, &r, err, sizeof err), 0, "%s", err);
    cr_assert_eq(qlab_results_set_attr(r, "experiment", "plot-single", err, sizeof err), 0, "%s", err);
    qlab_row row;
    set_row(&row, 0, "absmax", "row", "channel", 0, 64, 256, 256);
    row.rel_err = 1.1e-2;
    row.cosine = 0.9999;
    row.w_bytes_fp16 = 2 * 256 * 256;
    row.w_bytes = 256 * 256 + 256 * 4;
    row.t.median_us = 12;
    row.fp16_median_us = 15;
    row.speedup_vs_fp16 = 1.25;
    row.tops = 0.7;
    row.gbps = 20;
    cr_assert_eq(qlab_results_append_point(r, &row, err, sizeof err), 0, "%s", err);
    cr_assert_eq(qlab_results_close(r, "complete", err, sizeof err), 0, "%s", err);
}

/* The log line "skipped FIG: ..." (to the end of its line) into buf; NULL if absent. */
static const char *skip_line(const char *log, const char *fig, char *buf, size_t len)
{
    char key[128];
    snprintf(key, sizeof key, "skipped %s: ", fig);
    const char *p = strstr(log, key);
    if (!p)
        return NULL;
    size_t n = strcspn(p, "\n");
    snprintf(buf, len, "%.*s", (int)n, p);
    return buf;
}

/* Every file in dir is a named figure (no temporary or hidden file) and not empty. */
static void assert_no_stray_files(const char *dir)
{
    DIR *d = opendir(dir);
    cr_assert_not_null(d, "%s was not created", dir);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        char p[1024];
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        struct stat sb;
        cr_assert_eq(stat(p, &sb), 0);
        cr_assert_neq(e->d_name[0], '.', "a hidden (temporary) file was left: %s", p);
        size_t n = strlen(e->d_name);
        cr_assert(n > 4 && (!strcmp(e->d_name + n - 4, ".png") || !strcmp(e->d_name + n - 4, ".pdf")),
                  "a file that is not a figure was left: %s", p);
        cr_assert_gt(sb.st_size, 0, "an empty file was left: %s", p);
    }
    closedir(d);
}

Test(plot, all_zero_errors_skip_the_log_axis_figures_with_a_reason_and_draw_the_rest, .timeout = 180)
{
    scratch s;
    scratch_init(&s);
    write_results(s.h5, (gen_opts){.latency = 1, .layers = 1, .errs = ERR_ZERO});
    char log[16384], err[1024], line[512];
    int rc = plot_capture(s.h5, s.out, log, sizeof log, err, sizeof err);
    cr_assert_eq(rc, 0, "exact results are not an error (rc %d): %s\nlog:\n%s", rc, err, log);
    cr_assert_eq(err[0], '\0', "no error message expected, got: %s", err);
    /* the error figures cannot show 0 on their log axes: each skipped, saying so */
    static const char *const log_figs[] = {"error_vs_threshold", "error_by_granularity", "error_vs_layer",
                                           "error_vs_depth"};
    for (int i = 0; i < 4; i++) {
        cr_assert_not_null(skip_line(log, log_figs[i], line, sizeof line), "%s not skipped; log:\n%s",
                           log_figs[i], log);
        cr_assert_not_null(strstr(line, "0"), "the reason does not name the zeros: %s", line);
        cr_assert_not_null(strstr(line, "log"), "the reason does not name the log axis: %s", line);
        cr_assert(!exists(s.out, log_figs[i], "png"), "%s.png drawn from zeros", log_figs[i]);
        cr_assert(!exists(s.out, log_figs[i], "pdf"), "%s.pdf drawn from zeros", log_figs[i]);
    }
    /* memory and timing do not depend on the error: drawn */
    assert_png(s.out, "memory-k=4096");
    assert_pdf(s.out, "memory-k=4096");
    for (int i = 0; i < 3; i++)
        assert_png(s.out, timing_figs[i]);
    assert_no_stray_files(s.out);
    scratch_free(&s);
}

Test(plot, nan_and_inf_are_left_out_with_a_note_and_every_figure_is_drawn, .timeout = 180)
{
    scratch s;
    scratch_init(&s);
    write_results(s.h5, (gen_opts){.latency = 1, .layers = 1, .errs = ERR_NONFINITE});
    char log[16384], err[1024];
    int rc = plot_capture(s.h5, s.out, log, sizeof log, err, sizeof err);
    cr_assert_eq(rc, 0, "rc %d: %s\nlog:\n%s", rc, err, log);
    /* two errors in three are NaN or inf: no two shapes share a cell of the error figures
     * (nothing merged), and the chains are drawn apart from the matmuls (depth 0) */
    static const char *const figs[] = {"error_vs_threshold-depth=0", "error_by_granularity-depth=0", "memory-k=4096",
                                       "speedup_vs_k", "stage_breakdown", "throughput", "error_vs_layer",
                                       "error_vs_depth"};
    for (int i = 0; i < 8; i++) {
        assert_png(s.out, figs[i]);
        assert_pdf(s.out, figs[i]);
    }
    cr_assert_not_null(strstr(log, "NaN or infinite"), "the points left out are not reported; log:\n%s", log);
    assert_no_stray_files(s.out);
    scratch_free(&s);
}

Test(plot, a_series_of_zeros_is_left_out_with_a_note_on_the_figure, .timeout = 180)
{
    scratch s;
    scratch_init(&s);
    write_results(s.h5, (gen_opts){.latency = 0, .layers = 1, .zero_scheme = "zeropoint"});
    char log[16384], err[1024];
    int rc = plot_capture(s.h5, s.out, log, sizeof log, err, sizeof err);
    cr_assert_eq(rc, 0, "rc %d: %s\nlog:\n%s", rc, err, log);
    /* the chains (depth 2, 4, 8) are drawn apart from the matmuls (depth 0) */
    assert_png(s.out, "error_vs_threshold-k=4096,depth=0");
    assert_png(s.out, "error_by_granularity-k=4096,depth=0");
    assert_png(s.out, "error_by_granularity-k=1024,depth=8");
    cr_assert_not_null(strstr(log, "error_vs_threshold: "), "no note for error_vs_threshold; log:\n%s", log);
    cr_assert_not_null(strstr(log, "of 0 not drawn (log axis)"), "the zeros left out are not reported; log:\n%s",
                       log);
    assert_no_stray_files(s.out);
    scratch_free(&s);
}

Test(plot, one_value_ranges_on_log_axes_are_drawn, .timeout = 180)
{
    scratch s;
    scratch_init(&s);
    write_results(s.h5, (gen_opts){.latency = 0, .layers = 1, .errs = ERR_FLAT});
    char log[16384], err[1024];
    int rc = plot_capture(s.h5, s.out, log, sizeof log, err, sizeof err);
    cr_assert_eq(rc, 0, "rc %d: %s\nlog:\n%s", rc, err, log);
    static const char *const figs[] = {"error_vs_threshold", "error_by_granularity", "error_vs_layer",
                                       "error_vs_depth"};
    for (int i = 0; i < 4; i++)
        assert_png(s.out, figs[i]);
    assert_no_stray_files(s.out);
    scratch_free(&s);
}

Test(plot, a_single_point_draws_what_one_point_can_show_and_skips_the_rest, .timeout = 120)
{
    scratch s;
    scratch_init(&s);
    write_single(s.h5);
    char log[16384], err[1024], line[512];
    int rc = plot_capture(s.h5, s.out, log, sizeof log, err, sizeof err);
    cr_assert_eq(rc, 0, "rc %d: %s\nlog:\n%s", rc, err, log);
    assert_png(s.out, "error_by_granularity");
    assert_png(s.out, "memory");
    static const char *const skipped[] = {"error_vs_threshold", "speedup_vs_k", "throughput", "error_vs_depth"};
    for (int i = 0; i < 4; i++) {
        cr_assert_not_null(skip_line(log, skipped[i], line, sizeof line), "%s not skipped; log:\n%s", skipped[i],
                           log);
        cr_assert(!exists(s.out, skipped[i], "png"));
    }
    cr_assert_not_null(strstr(log, "2 figures drawn, 7 skipped"), "log:\n%s", log);
    assert_no_stray_files(s.out);
    scratch_free(&s);
}

/* A copy of plots/ whose error_vs_threshold.gp fails after opening its output, in a
 * long plot command. echo = 1: every point undefined (gnuplot echoes the command, over
 * 4 KiB, and a caret line before its reason); echo = 0: 60 data files that do not
 * exist (a warning each) and an undefined function at the end (no echo). */
static void broken_scripts(const scratch *s, int echo, char *dir, size_t len)
{
    snprintf(dir, len, "%s/plots", s->dir);
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "mkdir -p '%s' && cp plots/*.gp '%s'/", dir, dir);
    cr_assert_eq(system(cmd), 0, "cannot copy plots/ (run the tests from the repository root)");
    char p[600];
    snprintf(p, sizeof p, "%s/error_vs_threshold.gp", dir);
    FILE *f = fopen(p, "w");
    cr_assert_not_null(f);
    fprintf(f, "load scripts.'/style.gp'\nplot ");
    for (int i = 0; i < 60; i++)
        fprintf(f, "dir.'/%s%d.tsv' using 1:%s with linespoints title 'a long series title number %d', \\\n     ",
                echo ? "s" : "none", echo ? 1 : i + 1, echo ? "(NaN)" : "2", i);
    fprintf(f, "%s title 'the end'\n", echo ? "dir.'/s1.tsv' using 1:(NaN)" : "no_such_function(x)");
    fclose(f);
}

/* Plots a well-formed results file with broken_scripts(echo): returns the log and err. */
static void plot_broken(scratch *s, int echo, char *log, size_t log_len, char *err, size_t err_len)
{
    write_results(s->h5, (gen_opts){.latency = 0, .layers = 0});
    char dir[400];
    broken_scripts(s, echo, dir, sizeof dir);
    cr_assert_eq(setenv("QLAB_PLOTS_DIR", dir, 1), 0);
    int rc = plot_capture(s->h5, s->out, log, log_len, err, err_len);
    cr_assert_eq(rc, 2, "a figure that could be drawn failed: exit status 2 expected, got %d", rc);
    /* the others are drawn (one file per shape) */
    assert_png(s->out, "error_by_granularity-k=4096");
    assert_png(s->out, "memory-k=4096");
    cr_assert_not_null(strstr(log, "6 figures drawn, 6 skipped, 1 failed"), "log:\n%s", log);
    /* no empty or partial file */
    cr_assert(!exists(s->out, "error_vs_threshold-k=1024", "png"), "a failed figure left its PNG");
    cr_assert(!exists(s->out, "error_vs_threshold-k=1024", "pdf"), "a failed figure left its PDF");
    assert_no_stray_files(s->out);
    cr_assert_not_null(strstr(err, "error_vs_threshold"), "the failed figure is not named: %s", err);
    cr_assert_not_null(strstr(log, "failed error_vs_threshold: "), "log:\n%s", log);
    /* gnuplot's own words, not the echoed command */
    cr_assert_not_null(strstr(err, ".gp\" line "), "gnuplot's location is cut off: %s", err);
    cr_assert_null(strstr(err, "a long series title"), "the echoed command fills the message: %s", err);
}

Test(plot, a_failing_figure_fails_alone_leaves_no_file_and_reports_gnuplots_reason, .timeout = 180)
{
    scratch s;
    scratch_init(&s);
    char log[16384], err[1024];
    plot_broken(&s, 1, log, sizeof log, err, sizeof err);
    cr_assert_not_null(strstr(err, "all points y value undefined!"), "gnuplot's reason is cut off: %s", err);
    scratch_free(&s);
}

Test(plot, a_failing_figure_reports_the_error_before_gnuplots_warnings, .timeout = 180)
{
    scratch s;
    scratch_init(&s);
    char log[16384], err[1024];
    plot_broken(&s, 0, log, sizeof log, err, sizeof err);
    cr_assert_not_null(strstr(err, "undefined function: no_such_function"), "gnuplot's reason is cut off: %s", err);
    cr_assert_not_null(strstr(err, "warning: Cannot find or open file"), "the first warning is missing: %s", err);
    cr_assert_not_null(strstr(err, "(and 59 more warnings)"), "the other warnings are not counted: %s", err);
    scratch_free(&s);
}

// ----------------------------------------------------------------------------
// An axis no figure maps is never averaged

/* Chains at depths 1, 2, 4 for absmax and zeropoint, once with outlier columns at 1x
 * and once at 20x (the chain-depth experiment's two regimes), errors 10x apart. */
static void write_two_regimes(const char *path)
{
    char err[512];
    qlab_results *r = NULL;
    cr_assert_eq(qlab_results_create(path, &r, err, sizeof err), 0, "%s", err);
    cr_assert_eq(qlab_results_set_attr(r, "experiment", "two-regimes", err, sizeof err), 0, "%s", err);
    int64_t id = 0;
    static const double scales[] = {1, 20};
    static const char *const schemes[] = {"absmax", "zeropoint"};
    for (int si = 0; si < 2; si++)
        for (int sc = 0; sc < 2; sc++)
            for (int64_t depth = 1; depth <= 4; depth *= 2) {
                qlab_row row;
                set_row(&row, id, schemes[sc], "row", "channel", 0, 16, 64, 64);
                snprintf(row.p.workload, sizeof row.p.workload, "chain");
                snprintf(row.p.mode, sizeof row.p.mode, "propagated");
                row.p.depth = depth;
                row.p.x.outlier_cols = 0.01;
                row.p.x.outlier_scale = scales[si];
                row.rel_err = (si ? 1e-2 : 1e-3) * (double)depth;
                row.sqnr_db = -20 * log10(row.rel_err);
                qlab_layer_row l[4];
                for (int64_t li = 0; li < depth; li++) {
                    memset(&l[li], 0, sizeof l[li]);
                    l[li].point_id = id;
                    l[li].layer_index = li;
                    snprintf(l[li].layer_name, sizeof l[li].layer_name, "layer%lld", (long long)li);
                    snprintf(l[li].mode, sizeof l[li].mode, "propagated");
                    l[li].rel_err = row.rel_err * (double)(li + 1) / (double)depth;
                }
                cr_assert_eq(qlab_results_append_batch(r, &row, NULL, 0, l, depth, err, sizeof err), 0, "%s", err);
                id++;
            }
    cr_assert_eq(qlab_results_close(r, "complete", err, sizeof err), 0, "%s", err);
}

Test(plot, an_axis_no_figure_maps_is_split_into_folders_never_averaged, .timeout = 120)
{
    scratch s;
    scratch_init(&s);
    write_two_regimes(s.h5);
    char log[16384], err[1024];
    int rc = plot_capture(s.h5, s.out, log, sizeof log, err, sizeof err);
    cr_assert_eq(rc, 0, "qlab_plot failed: %s\nlog:\n%s", err, log);
    cr_assert_not_null(strstr(log, "x_outlier_scale varies between points and no figure maps it"), "log:\n%s", log);
    cr_assert_not_null(strstr(log, "x_outlier_scale=1 (6 points)"), "log:\n%s", log);
    cr_assert_not_null(strstr(log, "x_outlier_scale=20 (6 points)"), "log:\n%s", log);
    cr_assert_not(exists(s.out, "error_vs_depth", "png"), "no figure mixes the two regimes");
    char d1[400], d20[400];
    snprintf(d1, sizeof d1, "%s/x_outlier_scale=1", s.out);
    snprintf(d20, sizeof d20, "%s/x_outlier_scale=20", s.out);
    assert_png(d1, "error_vs_depth");
    assert_png(d20, "error_vs_depth");
    scratch_free(&s);
}

Test(plot, a_threshold_figure_of_more_than_8_series_is_drawn_per_scheme_family, .timeout = 120)
{
    scratch s;
    scratch_init(&s);
    char err[1024];
    qlab_results *r = NULL;
    cr_assert_eq(qlab_results_create(s.h5, &r, err, sizeof err), 0, "%s", err);
    cr_assert_eq(qlab_results_set_attr(r, "experiment", "families", err, sizeof err), 0, "%s", err);
    /* 6 int8 and 4 fp8 series (scheme x granularity), each at t = 0, 2, 6 */
    static const struct {
        const char *scheme, *xg, *wg;
    } ser[] = {
        {"absmax", "tensor", "tensor"},   {"absmax", "row", "channel"},    {"absmax", "row", "tensor"},
        {"zeropoint", "tensor", "tensor"}, {"zeropoint", "row", "channel"}, {"zeropoint", "row", "tensor"},
        {"fp8_e4m3", "tensor", "tensor"},  {"fp8_e4m3", "row", "channel"},  {"fp8_e5m2", "tensor", "tensor"},
        {"fp8_e5m2", "row", "channel"},
    };
    static const double ts[] = {0, 2, 6};
    int64_t id = 0;
    for (int k = 0; k < 10; k++)
        for (int ti = 0; ti < 3; ti++) {
            qlab_row row;
            set_row(&row, id++, ser[k].scheme, ser[k].xg, ser[k].wg, ts[ti], 64, 256, 256);
            row.rel_err = 1e-2 * (1 + k) / (1 + ts[ti]);
            row.outlier_frac = ts[ti] > 0 ? 0.01 : 0;
            cr_assert_eq(qlab_results_append_point(r, &row, err, sizeof err), 0, "%s", err);
        }
    cr_assert_eq(qlab_results_close(r, "complete", err, sizeof err), 0, "%s", err);
    char log[16384];
    int rc = plot_capture(s.h5, s.out, log, sizeof log, err, sizeof err);
    cr_assert_eq(rc, 0, "%s\n%s", err, log);
    cr_assert_not_null(strstr(log, "error_vs_threshold: "), "the split is logged:\n%s", log);
    cr_assert_not_null(strstr(log, "one figure per scheme family"), "%s", log);
    cr_assert_not(exists(s.out, "error_vs_threshold", "png"), "no single panel of every series:\n%s", log);
    assert_png(s.out, "error_vs_threshold-int8");
    assert_png(s.out, "error_vs_threshold-fp8");
    assert_pdf(s.out, "error_vs_threshold-int8");
    scratch_free(&s);
}

Test(plot, a_dump_layer_figure_of_more_than_8_series_is_drawn_per_scheme_family, .timeout = 120)
{
    scratch s;
    scratch_init(&s);
    char err[1024];
    qlab_results *r = NULL;
    cr_assert_eq(qlab_results_create(s.h5, &r, err, sizeof err), 0, "%s", err);
    cr_assert_eq(qlab_results_set_attr(r, "experiment", "dump-families", err, sizeof err), 0, "%s", err);
    /* 4 int8, 4 fp8 and 2 4-bit series, each on 3 layers of one dump */
    static const char *const schemes[] = {"absmax", "absmax", "zeropoint", "zeropoint", "fp8_e4m3",
                                          "fp8_e4m3", "fp8_e5m2", "fp8_e5m2", "nf4", "fp4"};
    int64_t id = 0;
    for (int k = 0; k < 10; k++)
        for (int l = 0; l < 3; l++) {
            qlab_row row;
            int four = k >= 8;
            set_row(&row, id++, schemes[k], four ? "tensor" : k % 2 ? "row" : "tensor",
                    four ? "block" : k % 2 ? "channel" : "tensor", 0, 64, 256, 256);
            if (four)
                row.p.block = 64;
            snprintf(row.p.workload, sizeof row.p.workload, "dump");
            snprintf(row.p.layer, sizeof row.p.layer, "layer%d", l);
            row.rel_err = 1e-2 * (1 + k) * (1 + 0.1 * l);
            cr_assert_eq(qlab_results_append_point(r, &row, err, sizeof err), 0, "%s", err);
        }
    cr_assert_eq(qlab_results_close(r, "complete", err, sizeof err), 0, "%s", err);
    char log[16384];
    int rc = plot_capture(s.h5, s.out, log, sizeof log, err, sizeof err);
    cr_assert_eq(rc, 0, "%s\n%s", err, log);
    cr_assert_not_null(strstr(log, "error_vs_layer: 10 series, more than 8"), "the split is logged:\n%s", log);
    cr_assert_not(exists(s.out, "error_vs_layer", "png"), "no single panel of every series:\n%s", log);
    assert_png(s.out, "error_vs_layer-int8");
    assert_png(s.out, "error_vs_layer-fp8");
    assert_png(s.out, "error_vs_layer-4bit");
    scratch_free(&s);
}

Test(plot, repeated_draws_are_summarised_with_error_bars_not_split, .timeout = 120)
{
    scratch s;
    scratch_init(&s);
    char err[1024];
    qlab_results *r = NULL;
    cr_assert_eq(qlab_results_create(s.h5, &r, err, sizeof err), 0, "%s", err);
    cr_assert_eq(qlab_results_set_attr(r, "experiment", "draws", err, sizeof err), 0, "%s", err);
    int64_t id = 0;
    static const double ts[] = {0, 2, 6};
    for (int ti = 0; ti < 3; ti++)
        for (int draw = 0; draw < 3; draw++) {
            qlab_row row;
            set_row(&row, id++, "absmax", "row", "channel", ts[ti], 64, 256, 256);
            row.p.seed = 7 + (uint64_t)draw;
            row.rel_err = 1e-2 / (1 + ts[ti]) * (1 + 0.1 * draw);
            row.outlier_frac = ts[ti] > 0 ? 0.01 : 0;
            cr_assert_eq(qlab_results_append_point(r, &row, err, sizeof err), 0, "%s", err);
        }
    cr_assert_eq(qlab_results_close(r, "complete", err, sizeof err), 0, "%s", err);
    char log[8192];
    int rc = plot_capture(s.h5, s.out, log, sizeof log, err, sizeof err);
    cr_assert_eq(rc, 0, "%s\n%s", err, log);
    cr_assert_null(strstr(log, "seed="), "draws are not split into folders:\n%s", log);
    cr_assert_not_null(strstr(log, "error_vs_threshold: points repeated over draws: the mean with its 95% interval"),
                       "%s", log);
    assert_png(s.out, "error_vs_threshold");
    scratch_free(&s);
}

Test(plot, a_declared_figure_is_drawn_and_split_by_an_axis_it_does_not_name, .timeout = 120)
{
    /* absmax and zeropoint at k = 64, 128, block 32 and 64: the figure names x = k and
     * the scheme, not the block, so each block is a file of its own. */
    scratch s;
    scratch_init(&s);
    char err[1024];
    qlab_results *r = NULL;
    cr_assert_eq(qlab_results_create(s.h5, &r, err, sizeof err), 0, "%s", err);
    cr_assert_eq(qlab_results_set_attr(r, "experiment", "declared", err, sizeof err), 0, "%s", err);
    cr_assert_eq(qlab_results_set_attr(r, "config",
                                       "name: declared\nplots:\n  - {name: err_k, x: k, y: rel_err, "
                                       "filter: {x_granularity: block}}\n"
                                       "  - {name: bits_block, x: block, y: w_bits, logx: true}\n", err, sizeof err),
                 0, "%s", err);
    int64_t id = 0;
    static const char *const schemes[] = {"absmax", "zeropoint"};
    for (int sc = 0; sc < 2; sc++)
        for (int64_t k = 64; k <= 128; k *= 2)
            for (int64_t b = 32; b <= 64; b *= 2) {
                qlab_row row;
                set_row(&row, id++, schemes[sc], "block", "block", 0, 16, k, 32);
                row.p.block = b;
                row.rel_err = 1e-3 * (double)k / (double)b * (sc + 1);
                /* int8 codes and a float32 scale per block of W [32, k]: 8 + 32 / b bits
                 * per weight, the same at every k */
                row.w_bytes_fp16 = 2 * 32 * k;
                row.w_bytes = 32 * k + 4 * 32 * (k / b);
                cr_assert_eq(qlab_results_append_point(r, &row, err, sizeof err), 0, "%s", err);
            }
    cr_assert_eq(qlab_results_close(r, "complete", err, sizeof err), 0, "%s", err);
    char log[16384];
    int rc = plot_capture(s.h5, s.out, log, sizeof log, err, sizeof err);
    cr_assert_eq(rc, 0, "%s\n%s", err, log);
    cr_assert_not_null(strstr(log, "err_k: 1 axis it does not name varies"), "%s", log);
    assert_png(s.out, "err_k-block=32");
    assert_png(s.out, "err_k-block=64");
    cr_assert_not(exists(s.out, "err_k", "png"), "no figure merges the two blocks");
    /* bits per weight (derived) over the block: k varies but moves nothing, so no split */
    assert_png(s.out, "bits_block");
    cr_assert_null(strstr(log, "bits_block: 1 axis"), "%s", log);
    scratch_free(&s);
}

Test(plot, a_builtin_figure_splits_an_axis_it_does_not_map_only_where_the_values_differ, .timeout = 120)
{
    /* absmax x=row w=channel and fp16 at t = 0, 2, 6 and m = 16, 32: the error depends
     * on m, the weight memory does not. error_vs_threshold maps neither m nor k, so it
     * is drawn once per m (never a median of the two); memory is one file. */
    scratch s;
    scratch_init(&s);
    char err[1024];
    qlab_results *r = NULL;
    cr_assert_eq(qlab_results_create(s.h5, &r, err, sizeof err), 0, "%s", err);
    cr_assert_eq(qlab_results_set_attr(r, "experiment", "two-m", err, sizeof err), 0, "%s", err);
    static const double ts[] = {0, 2, 6};
    int64_t id = 0;
    for (int64_t m = 16; m <= 32; m *= 2)
        for (int q = 0; q < 4; q++) {
            qlab_row row;
            int fp = q == 3;
            set_row(&row, id++, fp ? "fp16" : "absmax", fp ? "" : "row", fp ? "" : "channel", fp ? 0 : ts[q], m, 256,
                    128);
            row.rel_err = (fp ? 3e-4 : 1e-2 / (1 + ts[q])) * (double)m / 16.0;
            row.outlier_frac = !fp && ts[q] > 0 ? 0.01 : 0;
            row.w_bytes_fp16 = 2 * 256 * 128;
            row.w_bytes = fp ? row.w_bytes_fp16 : 256 * 128 + 128 * 4;
            cr_assert_eq(qlab_results_append_point(r, &row, err, sizeof err), 0, "%s", err);
        }
    cr_assert_eq(qlab_results_close(r, "complete", err, sizeof err), 0, "%s", err);
    char log[16384];
    int rc = plot_capture(s.h5, s.out, log, sizeof log, err, sizeof err);
    cr_assert_eq(rc, 0, "%s\n%s", err, log);
    cr_assert_not_null(strstr(log, "error_vs_threshold: 1 axis it does not name varies among its points (m)"), "%s",
                       log);
    assert_png(s.out, "error_vs_threshold-m=16");
    assert_png(s.out, "error_vs_threshold-m=32");
    assert_pdf(s.out, "error_vs_threshold-m=32");
    cr_assert_not(exists(s.out, "error_vs_threshold", "png"), "no figure merges the two m:\n%s", log);
    assert_png(s.out, "memory");
    cr_assert_null(strstr(log, "memory: "), "memory is not split by m, which does not change it:\n%s", log);
    cr_assert(!exists(s.out, "memory-m=16", "png"));
    scratch_free(&s);
}

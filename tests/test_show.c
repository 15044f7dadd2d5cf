/* test_show.c: the `qlab show` table (harness/show.c) on data built in memory. */
#include <math.h>
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report/show.h"

static qlab_row row(int64_t m, int64_t k, int64_t n, const char *scheme, double thr, double rel_err)
{
    qlab_row r;
    memset(&r, 0, sizeof r);
    r.p.m = m; r.p.k = k; r.p.n = n;
    snprintf(r.p.scheme, sizeof r.p.scheme, "%s", scheme);
    if (strcmp(scheme, "fp16") != 0) {
        snprintf(r.p.x_granularity, sizeof r.p.x_granularity, "row");
        snprintf(r.p.w_granularity, sizeof r.p.w_granularity, "channel");
    }
    r.p.threshold = thr;
    if (thr > 0) snprintf(r.p.outlier_weights, sizeof r.p.outlier_weights, "dequant");
    r.status = QLAB_STATUS_OK;
    r.rel_err = rel_err;
    r.sqnr_db = 41.25;
    return r;
}

static char *show_str(const qlab_results_data *d)
{
    FILE *fp = tmpfile();
    cr_assert_not_null(fp);
    cr_assert_eq(qlab_show(d, fp), 0);
    long len = ftell(fp);
    rewind(fp);
    char *s = calloc((size_t)len + 1, 1);
    cr_assert_eq(fread(s, 1, (size_t)len, fp), (size_t)len);
    fclose(fp);
    return s;
}

static qlab_attr attrs[] = {
    { "experiment", "outlier-threshold" }, { "backend", "cpu" }, { "device", "Xeon 8480" },
    { "status", "interrupted" }, { "points_total", "9" },
};

static qlab_results_data data_of(qlab_row *p, int64_t n)
{
    qlab_results_data d;
    memset(&d, 0, sizeof d);
    d.attrs = attrs;
    d.n_attrs = sizeof attrs / sizeof attrs[0];
    d.points = p;
    d.n_points = n;
    return d;
}

Test(show, header_names_run_and_counts_points_by_status)
{
    qlab_row p[4] = { row(8, 16, 32, "absmax", 0, 0.1), row(8, 16, 32, "fp16", 0, 0.2),
                      row(8, 16, 32, "zeropoint", 0, 0.3), row(8, 16, 32, "absmax", 6, 0.4) };
    p[1].status = QLAB_STATUS_FAILED;
    snprintf(p[1].message, sizeof p[1].message, "out of memory");
    p[2].status = QLAB_STATUS_SKIPPED;
    qlab_results_data d = data_of(p, 4);
    char *s = show_str(&d);
    cr_assert_not_null(strstr(s, "experiment: outlier-threshold\n"), "%s", s);
    cr_assert_not_null(strstr(s, "backend: cpu"), "%s", s);
    cr_assert_not_null(strstr(s, "device: Xeon 8480"), "%s", s);
    cr_assert_not_null(strstr(s, "status: interrupted"), "%s", s);
    cr_assert_not_null(strstr(s, "points: 2 ok, 1 failed, 1 skipped (4 of 9 in the sweep)"), "%s", s);
    /* the failed point says why and shows no metrics */
    const char *f = strstr(s, "failed: out of memory");
    cr_assert_not_null(f, "%s", s);
    const char *line = f;
    while (line > s && line[-1] != '\n') line--;
    cr_assert_eq(strncmp(line, "fp16", 4), 0, "%s", s);
    cr_assert_null(strstr(s, "2.000e-01"), "no rel_err for a failed point: %s", s);
    free(s);
}

Test(show, rows_are_grouped_by_shape_then_scheme)
{
    /* file order mixes shapes and schemes; rel_err tags each row. Shapes and schemes
     * come in the order each first appears in the file (absmax before fp16), the
     * same scheme order in every shape group. */
    qlab_row p[5] = { row(64, 128, 256, "absmax", 0, 1e-1), row(32, 64, 64, "fp16", 0, 2e-1),
                      row(64, 128, 256, "fp16", 0, 3e-1), row(32, 64, 64, "absmax", 0, 4e-1),
                      row(64, 128, 256, "absmax", 6, 5e-1) };
    qlab_results_data d = data_of(p, 5);
    char *s = show_str(&d);
    const char *order[5] = { "1.000e-01", "5.000e-01", "3.000e-01", "4.000e-01", "2.000e-01" };
    const char *prev = s;
    for (int i = 0; i < 5; i++) {
        const char *at = strstr(s, order[i]);
        cr_assert_not_null(at, "%s", s);
        cr_assert_gt(at, prev, "row %d (%s) out of order:\n%s", i, order[i], s);
        prev = at;
    }
    /* a blank line separates the two shapes, and only them */
    const char *table = strstr(s, "\n\n") + 2;
    const char *gap = strstr(table, "\n\n");
    cr_assert_not_null(gap, "%s", s);
    cr_assert_gt(strstr(s, "4.000e-01"), gap);
    cr_assert_lt(strstr(s, "3.000e-01"), gap);
    cr_assert_null(strstr(gap + 2, "\n\n"), "%s", s);
    free(s);
}

Test(show, cells_show_shape_layer_time_speedup_and_memory)
{
    qlab_row p[2] = { row(16, 4096, 1024, "absmax", 6, 0.0123), row(16, 4096, 1024, "fp16", 0, 0.001) };
    snprintf(p[0].p.layer, sizeof p[0].p.layer, "encoder.0.query");
    p[0].t.samples = 12;
    p[0].t.median_us = 123.45;
    p[0].speedup_vs_fp16 = 1.5;
    p[0].w_bytes = 25;
    p[0].w_bytes_fp16 = 100;
    p[0].outlier_cols = 7;
    p[0].p.block = 64;
    /* p[1] was not timed: median 0 with no samples shows '-' */
    qlab_results_data d = data_of(p, 2);
    char *s = show_str(&d);
    cr_assert_not_null(strstr(s, "16x4096x1024 encoder.0.query"), "%s", s);
    cr_assert_not_null(strstr(s, "123.5"), "%s", s);
    cr_assert_not_null(strstr(s, "1.50x"), "%s", s);
    cr_assert_not_null(strstr(s, "25.0%"), "%s", s);
    cr_assert_not_null(strstr(s, "row/channel"), "%s", s);
    cr_assert_not_null(strstr(s, "dequant"), "%s", s);
    const char *fp = strstr(s, "\nfp16");
    cr_assert_not_null(fp, "%s", s);
    char line[512];
    sscanf(fp + 1, "%511[^\n]", line);
    cr_assert_not_null(strstr(line, "1.000e-03"), "%s", line);
    cr_assert_null(strstr(line, "0.0"), "unmeasured time and memory print as '-': %s", line);
    cr_assert_null(strstr(line, "x "), "no speedup: %s", line);
    free(s);
}

Test(show, smoothing_depth_model_and_mode_tell_rows_apart)
{
    qlab_row p[3] = { row(16, 64, 32, "absmax", 0, 0.02), row(16, 64, 32, "absmax", 0, 0.01),
                      row(0, 0, 0, "fp16", 0, 0.001) };
    p[1].p.smooth_alpha = 0.5;
    p[1].p.depth = 6;
    snprintf(p[1].p.mode, sizeof p[1].p.mode, "isolated");
    snprintf(p[2].p.model, sizeof p[2].p.model, "minilm");
    snprintf(p[2].p.mode, sizeof p[2].p.mode, "propagated");
    qlab_results_data d = data_of(p, 3);
    char *s = show_str(&d);
    cr_assert_not_null(strstr(s, "absmax+smooth0.5"), "%s", s);
    cr_assert_not_null(strstr(s, "16x64x32 depth=6 isolated"), "%s", s);
    cr_assert_not_null(strstr(s, "minilm propagated"), "%s", s);
    cr_assert_null(strstr(s, "0x0x0"), "a model point shows no shape: %s", s);
    free(s);
}

/* The right edge of every right-aligned column lines up with its title. */
Test(show, numeric_columns_are_right_aligned_under_their_titles)
{
    qlab_row p[3] = { row(8, 16, 32, "absmax", 0, 1.5e-2), row(8, 16, 32, "zeropoint", 2.5, 7e-5),
                      row(1024, 4096, 4096, "fp16", 0, 3e-4) };
    p[0].sqnr_db = 3.5;
    p[1].sqnr_db = 123.75;
    p[2].t.samples = 3;
    p[2].t.median_us = 98765.4;
    qlab_results_data d = data_of(p, 3);
    char *s = show_str(&d);
    char *head = strstr(s, "\nscheme");
    cr_assert_not_null(head, "%s", s);
    head++;
    const char *titles[] = { "rel_err", "sqnr_db", "median_us", "thr" };
    for (size_t t = 0; t < sizeof titles / sizeof titles[0]; t++) {
        char *at = strstr(head, titles[t]);
        cr_assert_not_null(at);
        size_t edge = (size_t)(at - head) + strlen(titles[t]);
        int rows = 0;
        for (char *line = strchr(head, '\n') + 1; *line; line = strchr(line, '\n') + 1) {
            if (*line == '\n') continue;
            cr_assert_neq(line[edge - 1], ' ', "column %s, line: %.80s", titles[t], line);
            cr_assert(line[edge] == ' ' || line[edge] == '\n', "column %s: %.80s", titles[t], line);
            rows++;
        }
        cr_assert_eq(rows, 3);
    }
    free(s);
}

Test(show, an_empty_file_prints_its_header_only)
{
    qlab_results_data d = data_of(NULL, 0);
    char *s = show_str(&d);
    cr_assert_not_null(strstr(s, "points: 0 ok, 0 failed, 0 skipped"), "%s", s);
    cr_assert_null(strstr(s, "rel_err"), "%s", s);
    free(s);
}

Test(show, draws_of_one_point_become_one_line_with_mean_and_95pct_interval)
{
    /* absmax at t = 6 drawn three times (seeds 7, 8, 9): rel_err 1e-3, 2e-3, 3e-3 ->
     * mean 2e-3, half-width t(0.975, 2) * s / sqrt(3) = 4.303 * 1e-3 / sqrt(3) = 2.5e-3.
     * fp16 drawn three times too, all 1e-4: interval 0. */
    qlab_row p[6];
    for (int i = 0; i < 3; i++) {
        p[i] = row(16, 64, 32, "absmax", 6, 1e-3 * (i + 1));
        p[i].p.seed = 7 + (uint64_t)i;
        p[3 + i] = row(16, 64, 32, "fp16", 0, 1e-4);
        p[3 + i].p.seed = 7 + (uint64_t)i;
    }
    qlab_results_data d = data_of(p, 6);
    char *s = show_str(&d);
    cr_assert_not_null(strstr(s, "2.000e-03 ±2.5e-03"), "%s", s);
    cr_assert_not_null(strstr(s, "1.000e-04 ±0.0e+00"), "%s", s);
    cr_assert_not_null(strstr(s, "draws"), "%s", s);
    /* one line per point: "absmax" appears once in the table */
    const char *first = strstr(s, "absmax");
    cr_assert_not_null(first);
    cr_assert_null(strstr(first + 1, "absmax"), "%s", s);
    free(s);
}

Test(show, a_file_without_repeats_has_no_draws_column)
{
    qlab_row p[2] = {row(16, 64, 32, "absmax", 0, 1e-3), row(16, 64, 32, "fp16", 0, 1e-4)};
    qlab_results_data d = data_of(p, 2);
    char *s = show_str(&d);
    cr_assert_null(strstr(s, "draws"), "%s", s);
    free(s);
}

Test(show, a_run_that_measured_no_error_prints_dashes_not_zero_errors)
{
    /* p[0]: latency only (the error columns left 0); p[1]: an exact result */
    qlab_row p[2] = { row(64, 256, 256, "absmax", 0, 0.0), row(64, 256, 256, "zeropoint", 0, 0.0) };
    p[0].sqnr_db = 0;
    p[0].t.samples = 20;
    p[0].t.median_us = 50.0;
    p[1].sqnr_db = INFINITY;
    p[1].cosine = 1.0;
    qlab_results_data d = data_of(p, 2);
    char *s = show_str(&d);
    char line[512];
    const char *a = strstr(s, "\nabsmax");
    cr_assert_not_null(a, "%s", s);
    sscanf(a + 1, "%511[^\n]", line);
    cr_assert_null(strstr(line, "0.000e+00"), "an unmeasured error is not an error of 0: %s", line);
    cr_assert_not_null(strstr(line, "50.0"), "%s", line);
    const char *z = strstr(s, "\nzeropoint");
    cr_assert_not_null(z, "%s", s);
    sscanf(z + 1, "%511[^\n]", line);
    cr_assert_not_null(strstr(line, "0.000e+00"), "an exact result shows its error of 0: %s", line);
    free(s);
}

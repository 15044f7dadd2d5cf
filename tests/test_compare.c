/* test_compare.c: `qlab compare` verdicts, matching and exit status (harness/compare.c).
 *
 * Small results files are written through the results API into a temp dir: a sweep of
 * 8 synthetic points (2 schemes x 2 m x 2 granularities) with deterministic metrics
 * and "total" timing samples around a chosen centre with a chosen spread. Each test
 * derives a NEW file from the BASE recipe with one planted change and checks the
 * verdict, the summary counts and the exit status.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report/compare.h"
#include "report/filter.h"
#include "store/results.h"

#define N_POINTS 8

typedef struct {
    const char *experiment;
    int leave_running;         /* 1: never closed, status stays "running" */
    int drop_point;            /* index left out, -1 none */
    int bump_point;            /* index whose rel_err is multiplied by bump, -1 none */
    double bump;
    int fail_point;            /* index stored as failed, -1 none */
    int64_t w_bytes_delta;     /* added to point 0's w_bytes */
    double time_scale;         /* multiplies every sample */
    double time_spread;        /* half-width of the samples, relative */
    int n_samples;             /* per point; 0: no samples */
    double cpu_other;          /* every point's cpu_other */
    void (*plant)(qlab_row *r, int i);   /* a change planted in each row, or NULL */
} spec;

static spec base_spec(void)
{
    return (spec){.experiment = "cmp-test", .drop_point = -1, .bump_point = -1, .bump = 1, .fail_point = -1,
                  .time_scale = 1, .time_spread = 0.005, .n_samples = 20};
}

static char tmpdir[64];

static void make_tmpdir(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/qlab-cmp-XXXXXX");
    cr_assert_not_null(mkdtemp(tmpdir));
}

static void cleanup_tmpdir(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0) {
        /* a leftover temp dir is harmless */
    }
}

TestSuite(compare, .init = make_tmpdir, .fini = cleanup_tmpdir);

static void fill_row(qlab_row *r, int i)
{
    memset(r, 0, sizeof *r);
    r->p.id = i;
    r->p.seed = 7;
    snprintf(r->p.workload, sizeof r->p.workload, "synthetic");
    r->p.m = (i & 1) ? 32 : 16;
    r->p.k = 64;
    r->p.n = 24;
    snprintf(r->p.x.dist, sizeof r->p.x.dist, "normal");
    r->p.x.std = 1;
    snprintf(r->p.w.dist, sizeof r->p.w.dist, "normal");
    r->p.w.std = 0.05;
    snprintf(r->p.scheme, sizeof r->p.scheme, "%s", (i & 2) ? "zeropoint" : "absmax");
    snprintf(r->p.x_granularity, sizeof r->p.x_granularity, "%s", (i & 4) ? "row" : "tensor");
    snprintf(r->p.w_granularity, sizeof r->p.w_granularity, "channel");
    snprintf(r->backend, sizeof r->backend, "cpu");
    r->status = QLAB_STATUS_OK;
    r->rel_err = 0.01 + 0.001 * i;
    r->sqnr_db = -20 * log10(r->rel_err);
    r->max_abs_err = 0.05 + 0.002 * i;
    r->mean_abs_err = 0.004 + 0.0001 * i;
    r->cosine = 1 - 0.5 * r->rel_err * r->rel_err;
    r->x_rel_err = 0.008;
    r->w_rel_err = 0.003;
    r->w_bytes = 64 * 24 + 24 * 4;
    r->x_bytes = r->p.m * 64;
}

/* Writes the file of spec s as NAME in the temp dir; returns its path (static buffer
 * per call site is not needed: callers copy). */
static void write_file(const spec *s, const char *name, char *path, size_t len)
{
    char err[512];
    snprintf(path, len, "%s/%s", tmpdir, name);
    remove(path);   /* tests that compare several pairs write over their files */
    qlab_results *r;
    cr_assert_eq(qlab_results_create(path, &r, err, sizeof err), 0, "%s", err);
    cr_assert_eq(qlab_results_set_attr(r, "experiment", s->experiment, err, sizeof err), 0, "%s", err);
    cr_assert_eq(qlab_results_set_attr(r, "backend", "cpu", err, sizeof err), 0, "%s", err);
    cr_assert_eq(qlab_results_set_attr(r, "device", "test cpu", err, sizeof err), 0, "%s", err);
    for (int i = 0; i < N_POINTS; i++) {
        if (i == s->drop_point)
            continue;
        qlab_row row;
        fill_row(&row, i);
        if (i == s->bump_point)
            row.rel_err *= s->bump;
        if (i == 0)
            row.w_bytes += s->w_bytes_delta;
        row.t.cpu_other = s->cpu_other;
        if (s->plant)
            s->plant(&row, i);
        if (i == s->fail_point) {
            row.status = QLAB_STATUS_FAILED;
            snprintf(row.message, sizeof row.message, "planted failure");
        }
        qlab_sample smp[64];
        int ns = s->n_samples;
        cr_assert_leq(ns, 64);
        double centre = (100.0 + 10 * i) * s->time_scale;
        for (int j = 0; j < ns; j++) {
            /* a fixed permutation of evenly spread offsets in [-1, 1] */
            double u = ns > 1 ? 2.0 * ((j * 7) % ns) / (ns - 1) - 1.0 : 0;
            smp[j].point_id = i;
            snprintf(smp[j].stage, sizeof smp[j].stage, "total");
            smp[j].time_us = centre * (1 + s->time_spread * u);
        }
        cr_assert_eq(qlab_results_append_batch(r, &row, smp, ns, NULL, 0, err, sizeof err), 0, "%s", err);
    }
    if (!s->leave_running)
        cr_assert_eq(qlab_results_close(r, "complete", err, sizeof err), 0, "%s", err);
}

/* Runs compare on two files, report into a string (caller frees). */
static int run_compare(const char *a, const char *b, const qlab_compare_opts *o, qlab_compare_summary *sum,
                       char **report, char *err, size_t err_len)
{
    size_t len;
    FILE *f = open_memstream(report, &len);
    cr_assert_not_null(f);
    err[0] = '\0';
    int rc = qlab_compare_files(a, b, o, f, sum, err, err_len);
    fclose(f);
    return rc;
}

static int compare_specs(const spec *sb, const spec *sn, const qlab_compare_opts *o, qlab_compare_summary *sum,
                         char **report, char *err, size_t err_len)
{
    char pb[256], pn[256];
    write_file(sb, "base.h5", pb, sizeof pb);
    write_file(sn, "new.h5", pn, sizeof pn);
    return run_compare(pb, pn, o, sum, report, err, err_len);
}

Test(compare, identical_files_compare_same_with_exit_0)
{
    spec s = base_spec();
    qlab_compare_opts o;
    qlab_compare_opts_init(&o);
    qlab_compare_summary sum;
    char *rep = NULL, err[512];
    int rc = compare_specs(&s, &s, &o, &sum, &rep, err, sizeof err);
    cr_assert_eq(rc, 0, "%s%s", err, rep);
    cr_assert_eq(sum.matched, N_POINTS);
    cr_assert_eq(sum.worse + sum.better + sum.uncertain + sum.only_base + sum.only_new, 0, "%s", rep);
    cr_assert_eq(sum.timed, N_POINTS);
    cr_assert_not_null(strstr(rep, "no changes"), "%s", rep);
    cr_assert_not_null(strstr(rep, "compare: 8 points matched, 0 worse"), "%s", rep);
    free(rep);
}

Test(compare, error_metric_nudged_beyond_default_tolerance_is_worse_with_exit_1)
{
    spec b = base_spec(), n = base_spec();
    n.bump_point = 3;
    n.bump = 1 + 1e-9;   /* default cpu tolerance is exact: any move counts */
    qlab_compare_opts o;
    qlab_compare_opts_init(&o);
    qlab_compare_summary sum;
    char *rep = NULL, err[512];
    int rc = compare_specs(&b, &n, &o, &sum, &rep, err, sizeof err);
    cr_assert_eq(rc, 1, "%s%s", err, rep);
    cr_assert_eq(sum.worse, 1, "%s", rep);
    cr_assert_not_null(strstr(rep, "rel_err"), "%s", rep);
    cr_assert_not_null(strstr(rep, "WORSE"), "%s", rep);
    /* point 3: m=32, zeropoint, x tensor */
    cr_assert_not_null(strstr(rep, "m=32 scheme=zeropoint x_granularity=tensor"), "%s", rep);
    free(rep);
}

Test(compare, error_metric_nudge_within_command_line_rtol_is_same)
{
    spec b = base_spec(), n = base_spec();
    n.bump_point = 3;
    n.bump = 1 + 1e-9;
    char pb[256], pn[256];
    write_file(&b, "base.h5", pb, sizeof pb);
    write_file(&n, "new.h5", pn, sizeof pn);
    char *out = NULL, *errs = NULL;
    size_t lo, le;
    FILE *fo = open_memstream(&out, &lo), *fe = open_memstream(&errs, &le);
    char *argv[] = {pb, pn, "--rtol", "rel_err=1e-6"};
    int rc = qlab_compare_main(4, argv, fo, fe);
    fclose(fo);
    fclose(fe);
    cr_assert_eq(rc, 0, "%s%s", out, errs);
    cr_assert_not_null(strstr(out, "0 worse"), "%s", out);
    free(out);
    free(errs);
}

Test(compare, lower_error_is_better_and_exits_0)
{
    spec b = base_spec(), n = base_spec();
    n.bump_point = 5;
    n.bump = 0.5;
    qlab_compare_opts o;
    qlab_compare_opts_init(&o);
    qlab_compare_summary sum;
    char *rep = NULL, err[512];
    int rc = compare_specs(&b, &n, &o, &sum, &rep, err, sizeof err);
    cr_assert_eq(rc, 0, "%s%s", err, rep);
    cr_assert_eq(sum.better, 1, "%s", rep);
    cr_assert_eq(sum.worse, 0, "%s", rep);
    cr_assert_not_null(strstr(rep, "BETTER"), "%s", rep);
    free(rep);
}

Test(compare, tolerance_file_sets_rtol_and_rejects_unknown_metric)
{
    char path[256], err[512];
    snprintf(path, sizeof path, "%s/tol.yaml", tmpdir);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs("rtol: {rel_err: 1e-6}\natol: {sqnr_db: 0.01}\ntime_threshold: 0.1\np_value: 0.001\n", f);
    fclose(f);
    qlab_compare_opts o;
    qlab_compare_opts_init(&o);
    cr_assert_eq(qlab_compare_load_tol(&o, path, err, sizeof err), 0, "%s", err);
    int mi = qlab_compare_metric_index("rel_err"), si = qlab_compare_metric_index("sqnr_db");
    cr_assert(mi >= 0 && si >= 0);
    cr_assert(o.rtol_set[mi] && o.rtol[mi] == 1e-6);
    cr_assert(o.atol_set[si] && o.atol[si] == 0.01);
    cr_assert_eq(o.time_threshold, 0.1);
    cr_assert_eq(o.p_value, 0.001);

    f = fopen(path, "w");
    fputs("rtol: {rel_errr: 1e-6}\n", f);
    fclose(f);
    cr_assert_eq(qlab_compare_load_tol(&o, path, err, sizeof err), 2);
    cr_assert_not_null(strstr(err, "rel_errr"), "%s", err);
}

Test(compare, memory_grown_by_one_byte_is_worse)
{
    spec b = base_spec(), n = base_spec();
    n.w_bytes_delta = 1;
    qlab_compare_opts o;
    qlab_compare_opts_init(&o);
    qlab_compare_summary sum;
    char *rep = NULL, err[512];
    int rc = compare_specs(&b, &n, &o, &sum, &rep, err, sizeof err);
    cr_assert_eq(rc, 1, "%s%s", err, rep);
    cr_assert_not_null(strstr(rep, "w_bytes"), "%s", rep);
    free(rep);
}

Test(compare, timings_40pct_slower_with_tight_samples_are_worse)
{
    spec b = base_spec(), n = base_spec();
    n.time_scale = 1.4;
    qlab_compare_opts o;
    qlab_compare_opts_init(&o);
    qlab_compare_summary sum;
    char *rep = NULL, err[512];
    int rc = compare_specs(&b, &n, &o, &sum, &rep, err, sizeof err);
    cr_assert_eq(rc, 1, "%s%s", err, rep);
    cr_assert_eq(sum.worse, N_POINTS, "%s", rep);
    cr_assert_not_null(strstr(rep, "time_us"), "%s", rep);
    free(rep);
}

Test(compare, timings_40pct_faster_with_tight_samples_are_better)
{
    spec b = base_spec(), n = base_spec();
    n.time_scale = 0.6;
    qlab_compare_opts o;
    qlab_compare_opts_init(&o);
    qlab_compare_summary sum;
    char *rep = NULL, err[512];
    int rc = compare_specs(&b, &n, &o, &sum, &rep, err, sizeof err);
    cr_assert_eq(rc, 0, "%s%s", err, rep);
    cr_assert_eq(sum.better, N_POINTS, "%s", rep);
    free(rep);
}

Test(compare, timings_2pct_slower_in_wide_noise_are_never_worse)
{
    spec b = base_spec(), n = base_spec();
    b.time_spread = n.time_spread = 0.3;
    n.time_scale = 1.02;
    qlab_compare_opts o;
    qlab_compare_opts_init(&o);
    qlab_compare_summary sum;
    char *rep = NULL, err[512];
    int rc = compare_specs(&b, &n, &o, &sum, &rep, err, sizeof err);
    cr_assert_eq(rc, 0, "%s%s", err, rep);
    cr_assert_eq(sum.worse, 0, "%s", rep);
    cr_assert_eq(sum.timed, N_POINTS);
    free(rep);
}

Test(compare, timings_moved_past_threshold_with_three_samples_are_uncertain)
{
    /* 3 vs 3 samples cannot reach p < 0.01 whatever the shift: the test says so. */
    spec b = base_spec(), n = base_spec();
    b.n_samples = n.n_samples = 3;
    b.time_spread = n.time_spread = 0.1;
    n.time_scale = 1.3;
    qlab_compare_opts o;
    qlab_compare_opts_init(&o);
    qlab_compare_summary sum;
    char *rep = NULL, err[512];
    int rc = compare_specs(&b, &n, &o, &sum, &rep, err, sizeof err);
    cr_assert_eq(rc, 0, "%s%s", err, rep);
    cr_assert_eq(sum.worse, 0, "%s", rep);
    cr_assert_eq(sum.uncertain, N_POINTS, "%s", rep);
    cr_assert_not_null(strstr(rep, "UNCERTAIN"), "%s", rep);
    free(rep);
}

Test(compare, points_without_samples_are_not_timed)
{
    spec b = base_spec(), n = base_spec();
    b.n_samples = n.n_samples = 0;
    qlab_compare_opts o;
    qlab_compare_opts_init(&o);
    qlab_compare_summary sum;
    char *rep = NULL, err[512];
    int rc = compare_specs(&b, &n, &o, &sum, &rep, err, sizeof err);
    cr_assert_eq(rc, 0, "%s%s", err, rep);
    cr_assert_eq(sum.timed, 0);
    cr_assert_not_null(strstr(rep, "no timings compared"), "%s", rep);
    free(rep);
}

Test(compare, point_missing_in_new_is_reported_and_not_worse)
{
    spec b = base_spec(), n = base_spec();
    n.drop_point = 6;
    qlab_compare_opts o;
    qlab_compare_opts_init(&o);
    qlab_compare_summary sum;
    char *rep = NULL, err[512];
    int rc = compare_specs(&b, &n, &o, &sum, &rep, err, sizeof err);
    cr_assert_eq(rc, 0, "%s%s", err, rep);
    cr_assert_eq(sum.only_base, 1);
    cr_assert_eq(sum.only_new, 0);
    cr_assert_eq(sum.matched, N_POINTS - 1);
    cr_assert_not_null(strstr(rep, "ONLY BASE"), "%s", rep);
    cr_assert_not_null(strstr(rep, "1 only in base"), "%s", rep);
    free(rep);
}

Test(compare, point_missing_in_base_is_reported_as_only_in_new)
{
    spec b = base_spec(), n = base_spec();
    b.drop_point = 1;
    qlab_compare_opts o;
    qlab_compare_opts_init(&o);
    qlab_compare_summary sum;
    char *rep = NULL, err[512];
    int rc = compare_specs(&b, &n, &o, &sum, &rep, err, sizeof err);
    cr_assert_eq(rc, 0, "%s%s", err, rep);
    cr_assert_eq(sum.only_new, 1);
    cr_assert_not_null(strstr(rep, "ONLY NEW"), "%s", rep);
    free(rep);
}

Test(compare, point_failed_in_new_but_ok_in_base_is_worse)
{
    spec b = base_spec(), n = base_spec();
    n.fail_point = 2;
    qlab_compare_opts o;
    qlab_compare_opts_init(&o);
    qlab_compare_summary sum;
    char *rep = NULL, err[512];
    int rc = compare_specs(&b, &n, &o, &sum, &rep, err, sizeof err);
    cr_assert_eq(rc, 1, "%s%s", err, rep);
    cr_assert_eq(sum.worse, 1);
    cr_assert_not_null(strstr(rep, "failed"), "%s", rep);
    free(rep);
}

Test(compare, files_of_different_experiments_give_exit_2_with_message)
{
    spec b = base_spec(), n = base_spec();
    n.experiment = "other-study";
    qlab_compare_opts o;
    qlab_compare_opts_init(&o);
    char *rep = NULL, err[512];
    int rc = compare_specs(&b, &n, &o, NULL, &rep, err, sizeof err);
    cr_assert_eq(rc, 2);
    cr_assert_not_null(strstr(err, "different experiments"), "%s", err);
    cr_assert_not_null(strstr(err, "other-study"), "%s", err);
    cr_assert_eq(strlen(rep), 0, "nothing is reported on unusable input: %s", rep);
    free(rep);
}

Test(compare, new_file_still_running_gives_exit_2)
{
    spec b = base_spec(), n = base_spec();
    n.leave_running = 1;
    qlab_compare_opts o;
    qlab_compare_opts_init(&o);
    char *rep = NULL, err[512];
    int rc = compare_specs(&b, &n, &o, NULL, &rep, err, sizeof err);
    cr_assert_eq(rc, 2);
    cr_assert_not_null(strstr(err, "running"), "%s", err);
    free(rep);
}

Test(compare, unreadable_file_gives_exit_2)
{
    spec b = base_spec();
    char pb[256], missing[256], err[512];
    write_file(&b, "base.h5", pb, sizeof pb);
    snprintf(missing, sizeof missing, "%s/none.h5", tmpdir);
    qlab_compare_opts o;
    qlab_compare_opts_init(&o);
    char *rep = NULL;
    cr_assert_eq(run_compare(pb, missing, &o, NULL, &rep, err, sizeof err), 2);
    cr_assert_not_null(strstr(err, "none.h5"), "%s", err);
    free(rep);
}

Test(compare, markdown_report_is_a_table_with_bold_summary)
{
    spec b = base_spec(), n = base_spec();
    n.bump_point = 0;
    n.bump = 1.5;
    qlab_compare_opts o;
    qlab_compare_opts_init(&o);
    o.markdown = 1;
    char *rep = NULL, err[512];
    int rc = compare_specs(&b, &n, &o, NULL, &rep, err, sizeof err);
    cr_assert_eq(rc, 1, "%s%s", err, rep);
    cr_assert_not_null(strstr(rep, "| point | metric |"), "%s", rep);
    cr_assert_not_null(strstr(rep, "**WORSE**"), "%s", rep);
    cr_assert_not_null(strstr(rep, "**compare: 8 points matched, 1 worse"), "%s", rep);
    free(rep);
}

Test(compare, mann_whitney_p_matches_hand_computed_cases)
{
    /* Separated sets of 5: U = 0, mu = 12.5, var = 25 * 11 / 12;
     * z = (12.5 - 0.5) / sqrt(var) = 2.5067; p = erfc(z / sqrt 2) = 0.0121858 */
    double a[] = {3, 1, 5, 2, 4}, b[] = {8, 6, 10, 7, 9};
    cr_assert_float_eq(qlab_mann_whitney_p(a, 5, b, 5), 0.012185780355344818, 1e-12);
    cr_assert_float_eq(qlab_mann_whitney_p(b, 5, a, 5), 0.012185780355344818, 1e-12, "two-sided: symmetric");
    /* Ties: a = {1,2,2}, b = {2,3,4}: ranks 1, 3, 3 | 3, 5, 6; U = 7 - 6 = 1, mu = 4.5,
     * var = 9/12 * (7 - 24/30) = 4.65; z = 3 / sqrt(4.65); p = 0.1641597 */
    double c[] = {1, 2, 2}, d[] = {2, 3, 4};
    cr_assert_float_eq(qlab_mann_whitney_p(c, 3, d, 3), 0.16415972847851523, 1e-12);
    /* Identical sets: no evidence of a difference. */
    cr_assert_float_eq(qlab_mann_whitney_p(a, 5, a, 5), 1.0, 1e-12);
    double e[] = {2, 2, 2};
    cr_assert_eq(qlab_mann_whitney_p(e, 3, e, 3), 1.0, "all tied");
    cr_assert_eq(qlab_mann_whitney_p(a, 0, b, 5), 1.0, "empty set");
}

Test(compare, unknown_metric_on_command_line_gives_exit_2)
{
    char *out = NULL, *errs = NULL;
    size_t lo, le;
    FILE *fo = open_memstream(&out, &lo), *fe = open_memstream(&errs, &le);
    char *argv[] = {"a.h5", "b.h5", "--rtol", "speed=1"};
    int rc = qlab_compare_main(4, argv, fo, fe);
    fclose(fo);
    fclose(fe);
    cr_assert_eq(rc, 2);
    cr_assert_not_null(strstr(errs, "unknown metric 'speed'"), "%s", errs);
    free(out);
    free(errs);
}

/* ---------------------------------------------------------------------------- */
/* Planted changes: the smallest real changes each metric must catch               */

/* Which change plant_one applies (test_planted_* set it before writing NEW). */
static int g_plant;

/* Point 0 (absmax, an int8 point) or point 1 turned into an fp16 point gets one change:
 * 0.1 % of an error metric on the int8 point, 1 % on the fp16 point, one byte, one
 * outlier column. */
static void plant_one(qlab_row *r, int i)
{
    if (g_plant >= 100 && i == 1) {   /* the fp16 point, in base and new alike */
        snprintf(r->p.scheme, sizeof r->p.scheme, "fp16");
        r->p.x_granularity[0] = r->p.w_granularity[0] = '\0';
    }
    int which = g_plant % 100, target = g_plant >= 100 ? 1 : 0;
    if (i != target || which == 0)
        return;
    double f = g_plant >= 100 ? 1.01 : 1.001;
    switch (which) {
    case 1: r->rel_err *= f; break;
    case 2: r->sqnr_db /= f; break;
    case 3: r->max_abs_err *= f; break;
    case 4: r->mean_abs_err *= f; break;
    case 5: r->cosine = 1 - (1 - r->cosine) * f; break;
    case 6: r->w_bytes += 1; break;
    case 7: r->x_bytes += 1; break;
    case 8: r->outlier_cols += 1; break;
    }
}

static void plant_base(qlab_row *r, int i)
{
    int saved = g_plant;
    g_plant = g_plant >= 100 ? 100 : 0;
    plant_one(r, i);
    g_plant = saved;
}

Test(compare, each_planted_change_of_an_int8_or_fp16_point_is_worse)
{
    const char *names[] = {"", "rel_err +0.1%", "sqnr_db -0.1%", "max_abs_err +0.1%", "mean_abs_err +0.1%",
                           "1-cosine +0.1%", "w_bytes +1", "x_bytes +1", "outlier_cols +1"};
    for (int fp16 = 0; fp16 < 2; fp16++)
        for (int which = 1; which <= 8; which++) {
            if (fp16 && which >= 6)
                continue;   /* bytes and outlier columns: the int8 cases cover them */
            g_plant = which + (fp16 ? 100 : 0);
            spec b = base_spec(), n = base_spec();
            b.plant = plant_base;
            n.plant = plant_one;
            qlab_compare_opts o;
            qlab_compare_opts_init(&o);
            qlab_compare_summary sum;
            char *rep = NULL, err[512];
            int rc = compare_specs(&b, &n, &o, &sum, &rep, err, sizeof err);
            cr_assert_eq(rc, 1, "%s point, %s: rc %d %s%s", fp16 ? "fp16" : "int8", names[which], rc, err, rep);
            cr_assert_eq(sum.worse, 1, "%s point, %s:\n%s", fp16 ? "fp16" : "int8", names[which], rep);
            free(rep);
        }
}

/* ---------------------------------------------------------------------------- */
/* Timing verdicts                                                                */

Test(compare, timings_twice_as_slow_are_worse_but_uncertain_on_a_busy_machine)
{
    spec b = base_spec(), n = base_spec();
    n.time_scale = 2;
    qlab_compare_opts o;
    qlab_compare_opts_init(&o);
    qlab_compare_summary sum;
    char *rep = NULL, err[512];
    cr_assert_eq(compare_specs(&b, &n, &o, &sum, &rep, err, sizeof err), 1, "%s%s", err, rep);
    cr_assert_eq(sum.worse, N_POINTS, "%s", rep);
    free(rep);
    n.cpu_other = 0.6;   /* other processes took 60 % of the CPU while NEW sampled */
    cr_assert_eq(compare_specs(&b, &n, &o, &sum, &rep, err, sizeof err), 0, "%s%s", err, rep);
    cr_assert_eq(sum.worse, 0, "%s", rep);
    cr_assert_eq(sum.uncertain, N_POINTS, "%s", rep);
    cr_assert_eq(sum.busy, N_POINTS, "%s", rep);
    cr_assert_not_null(strstr(rep, "machine busy"), "%s", rep);
    free(rep);
}

Test(compare, timings_5pct_apart_with_tight_samples_are_same)
{
    /* Two runs of identical code drift by a few percent (clock, placement, caches);
     * below the 1.25x minimum effect that is no verdict, however significant. */
    spec b = base_spec(), n = base_spec();
    n.time_scale = 1.05;
    b.n_samples = n.n_samples = 60;
    qlab_compare_opts o;
    qlab_compare_opts_init(&o);
    qlab_compare_summary sum;
    char *rep = NULL, err[512];
    cr_assert_eq(compare_specs(&b, &n, &o, &sum, &rep, err, sizeof err), 0, "%s%s", err, rep);
    cr_assert_eq(sum.worse + sum.better + sum.uncertain, 0, "%s", rep);
    free(rep);
}

Test(compare, unchanged_timings_too_noisy_to_tell_are_uncertain_not_same)
{
    spec b = base_spec(), n = base_spec();
    b.time_spread = n.time_spread = 0.5;
    qlab_compare_opts o;
    qlab_compare_opts_init(&o);
    qlab_compare_summary sum;
    char *rep = NULL, err[512];
    cr_assert_eq(compare_specs(&b, &n, &o, &sum, &rep, err, sizeof err), 0, "%s%s", err, rep);
    cr_assert_eq(sum.uncertain, N_POINTS, "%s", rep);
    cr_assert_not_null(strstr(rep, "too noisy to tell"), "%s", rep);
    free(rep);
}

/* ---------------------------------------------------------------------------- */
/* A/B and unmatched files                                                        */

static void plant_m_times_4(qlab_row *r, int i) { r->p.m *= 4; }

Test(compare, files_with_no_common_point_are_exit_2_naming_the_axis)
{
    spec b = base_spec(), n = base_spec();
    n.plant = plant_m_times_4;
    qlab_compare_opts o;
    qlab_compare_opts_init(&o);
    char *rep = NULL, err[512];
    cr_assert_eq(compare_specs(&b, &n, &o, NULL, &rep, err, sizeof err), 2);
    cr_assert_not_null(strstr(err, "m: base 16,32, new 64,128"), "%s", err);
    cr_assert_not_null(strstr(err, "--ab"), "%s", err);
    cr_assert_eq(rep == NULL || rep[0] == '\0', 1, "nothing on out: %s", rep ? rep : "");
    free(rep);
}

Test(compare, ab_pairs_points_across_one_axis_in_one_file_and_across_two)
{
    char pb[256], pn[256], err[512], *rep = NULL;
    spec b = base_spec(), n = base_spec();
    n.plant = plant_m_times_4;
    write_file(&b, "base.h5", pb, sizeof pb);
    write_file(&n, "new.h5", pn, sizeof pn);
    qlab_compare_opts o;
    qlab_compare_opts_init(&o);
    qlab_compare_summary sum;
    /* one file: absmax points against zeropoint points, paired on m and granularity */
    cr_assert_eq(qlab_compare_set_ab(&o, "scheme=absmax,zeropoint", err, sizeof err), 0, "%s", err);
    int rc = run_compare(pb, pb, &o, &sum, &rep, err, sizeof err);
    cr_assert_neq(rc, 2, "%s", err);
    cr_assert_eq(sum.matched, 4, "%s", rep);
    cr_assert_eq(sum.only_base + sum.only_new, 0, "%s", rep);
    cr_assert_not_null(strstr(rep, "A/B on scheme: absmax in base, zeropoint in new"), "%s", rep);
    free(rep);
    /* two files: m = 32 in base against m = 128 in new */
    qlab_compare_opts_init(&o);
    cr_assert_eq(qlab_compare_set_ab(&o, "m=32,128", err, sizeof err), 0, "%s", err);
    rc = run_compare(pb, pn, &o, &sum, &rep, err, sizeof err);
    cr_assert_neq(rc, 2, "%s", err);
    cr_assert_eq(sum.matched, 4, "%s", rep);
    free(rep);
    /* a value no point has */
    qlab_compare_opts_init(&o);
    cr_assert_eq(qlab_compare_set_ab(&o, "m=32,999", err, sizeof err), 0, "%s", err);
    cr_assert_eq(run_compare(pb, pn, &o, &sum, &rep, err, sizeof err), 2);
    cr_assert_not_null(strstr(err, "no point with m=999"), "%s", err);
    free(rep);
}

Test(compare, ab_spec_errors_name_what_is_wrong)
{
    qlab_compare_opts o;
    qlab_compare_opts_init(&o);
    char err[1024];
    cr_assert_eq(qlab_compare_set_ab(&o, "scheme=absmax", err, sizeof err), 2);
    cr_assert_not_null(strstr(err, "AXIS=BASE_VALUE,NEW_VALUE"), "%s", err);
    cr_assert_eq(qlab_compare_set_ab(&o, "speed=1,2", err, sizeof err), 2);
    cr_assert_not_null(strstr(err, "'speed' is not an axis"), "%s", err);
    cr_assert_eq(qlab_compare_set_ab(&o, "scheme=absmax,llm_int8", err, sizeof err), 2);
    cr_assert_not_null(strstr(err, "preset"), "%s", err);
}

/* ---------------------------------------------------------------------------- */
/* Filters                                                                        */

Test(filter, a_scheme_preset_matches_the_points_it_expands_to)
{
    qlab_row r;
    fill_row(&r, 4);   /* absmax, x row, w channel */
    r.p.threshold = 6;
    qlab_filter f = {0};
    char err[512];
    cr_assert_eq(qlab_filter_add(&f, "scheme=llm_int8", "--point", err, sizeof err), 0, "%s", err);
    cr_assert_eq(f.n, 4);
    cr_assert(qlab_filter_matches(&f, &r));
    r.p.threshold = 0;
    cr_assert_not(qlab_filter_matches(&f, &r));
    qlab_filter g = {0};
    cr_assert_eq(qlab_filter_add(&g, "threshold=6.0", "--point", err, sizeof err), 0, "%s", err);
    r.p.threshold = 6;
    cr_assert(qlab_filter_matches(&g, &r));
    cr_assert_eq(qlab_filter_add(&g, "nope=1", "--point", err, sizeof err), 2);
    cr_assert_not_null(strstr(err, "'nope' is not an axis of /points (axes: seed, workload"), "%s", err);
}

/* ---------------------------------------------------------------------------- */
/* history: step changes                                                         */

#include "report/history.h"

Test(history, any_change_of_an_exact_metric_is_a_step)
{
    double v[] = {0.5, 0.5, 0.5000001, 0.5000001, 0.4};
    double nz[] = {0, 0, 0, 0, 0};
    int step[5];
    qlab_history_steps(v, nz, 5, step);
    int want[] = {0, 0, 1, 0, 1};
    for (int i = 0; i < 5; i++)
        cr_assert_eq(step[i], want[i], "run %d", i);
}

Test(history, timing_moves_inside_the_noise_are_not_steps)
{
    /* noise 2 around runs 0..3: a move of 3 is inside 3 * noise, a move of 20 is not */
    double v[] = {100, 103, 101, 121, 120};
    double nz[] = {2, 2, 2, 2, 2};
    int step[5];
    qlab_history_steps(v, nz, 5, step);
    int want[] = {0, 0, 0, 1, 0};
    for (int i = 0; i < 5; i++)
        cr_assert_eq(step[i], want[i], "run %d", i);
}

Test(history, nan_values_never_make_a_step)
{
    double v[] = {1, NAN, 2};
    double nz[] = {0, 0, 0};
    int step[3];
    qlab_history_steps(v, nz, 3, step);
    cr_assert(step[0] == 0 && step[1] == 0 && step[2] == 0);
}

/* ---------------------------------------------------------------------------- */
/* Peers (peer:torch, peer:bitsandbytes) are timed only                            */

static void plant_peer(qlab_row *r, int i)
{
    snprintf(r->backend, sizeof r->backend, "peer:torch");
    r->rel_err = r->sqnr_db = r->max_abs_err = r->mean_abs_err = r->cosine = 0;
    r->x_rel_err = r->w_rel_err = 0;
}

Test(compare, a_peers_unmeasured_errors_are_not_compared_but_its_time_is)
{
    spec b = base_spec(), n = base_spec();
    n.plant = plant_peer;
    n.time_scale = 2;
    qlab_compare_opts o;
    qlab_compare_opts_init(&o);
    qlab_compare_summary sum;
    char *rep = NULL, err[512];
    int rc = compare_specs(&b, &n, &o, &sum, &rep, err, sizeof err);
    cr_assert_eq(rc, 1, "%s%s", err, rep);
    cr_assert_null(strstr(rep, "rel_err"), "no error line for a peer:\n%s", rep);
    cr_assert_null(strstr(rep, "cosine"), "%s", rep);
    cr_assert_not_null(strstr(rep, "time_us"), "%s", rep);
    cr_assert_eq(sum.worse, N_POINTS, "%s", rep);
    free(rep);
}

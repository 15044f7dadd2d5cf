/* test_workload.c: the synthetic generator is deterministic, order-free and has the
 * distributions and outlier columns it claims. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "workloads/workload.h"

static qlab_point base_point(void)
{
    qlab_point p;
    memset(&p, 0, sizeof p);
    p.seed = 7;
    strcpy(p.workload, "synthetic");
    p.m = 64; p.k = 256; p.n = 32;
    strcpy(p.x.dist, "normal"); p.x.std = 1.0; p.x.outlier_cols = 0; p.x.outlier_scale = 1;
    strcpy(p.w.dist, "normal"); p.w.std = 0.02;
    strcpy(p.scheme, "absmax");
    return p;
}

Test(workload, same_point_gives_identical_tensors_whatever_else_differs)
{
    qlab_point a = base_point(), b = base_point();
    strcpy(b.scheme, "zeropoint");   /* scheme axes must not change the data */
    b.threshold = 6;
    b.id = 99;
    qlab_workload wa, wb;
    char err[256];
    cr_assert_eq(qlab_workload_make(&a, &wa, err, sizeof err), 0, "%s", err);
    cr_assert_eq(qlab_workload_make(&b, &wb, err, sizeof err), 0, "%s", err);
    cr_assert_eq(wa.key, wb.key);
    cr_assert(memcmp(wa.x, wb.x, sizeof(float) * 64 * 256) == 0);
    cr_assert(memcmp(wa.w, wb.w, sizeof(float) * 32 * 256) == 0);
    qlab_workload_free(&wa);
    qlab_workload_free(&wb);
}

Test(workload, seed_and_shape_change_the_data)
{
    qlab_point a = base_point(), b = base_point();
    b.seed = 8;
    cr_assert_neq(qlab_workload_key(&a), qlab_workload_key(&b));
    b = base_point();
    b.x.outlier_scale = 2;
    cr_assert_neq(qlab_workload_key(&a), qlab_workload_key(&b));
}

Test(workload, generator_is_a_pure_function_of_key_and_counter)
{
    double first[100];
    for (int i = 0; i < 100; i++)
        first[i] = qlab_rng_normal(1234, (uint64_t)i);
    /* Any order of evaluation gives the same values. */
    for (int i = 99; i >= 0; i--)
        cr_assert_eq(qlab_rng_normal(1234, (uint64_t)i), first[i]);
    for (int i = 0; i < 100; i++) {
        double u = qlab_rng_uniform(99, (uint64_t)i);
        cr_assert(u > 0 && u < 1);
    }
}

/* Sample mean and standard deviation of v. */
static void moments(const float *v, size_t n, double *mean, double *sd)
{
    double s = 0, ss = 0;
    for (size_t i = 0; i < n; i++) s += v[i];
    *mean = s / (double)n;
    for (size_t i = 0; i < n; i++) ss += (v[i] - *mean) * (v[i] - *mean);
    *sd = sqrt(ss / (double)(n - 1));
}

Test(workload, distributions_have_the_requested_standard_deviation)
{
    const char *dists[] = { "normal", "uniform", "student_t" };
    size_t n = 200000;
    float *v = malloc(n * sizeof *v);
    for (int d = 0; d < 3; d++) {
        qlab_dist q = { .std = 2.5, .df = 5 };
        strcpy(q.dist, dists[d]);
        cr_assert_eq(qlab_fill_dist(&q, 42 + (uint64_t)d, v, n), 0);
        double mean, sd;
        moments(v, n, &mean, &sd);
        cr_assert(fabs(mean) < 0.03, "%s mean %g", dists[d], mean);
        /* Student-t(5) has heavy tails: its sample sd converges slowly, so 5% there. */
        cr_assert(fabs(sd / 2.5 - 1) < (d == 2 ? 0.05 : 0.01), "%s sd %g", dists[d], sd);
    }
    /* uniform stays inside +-std*sqrt(3) */
    qlab_dist u = { .std = 1.0 };
    strcpy(u.dist, "uniform");
    qlab_fill_dist(&u, 7, v, n);
    for (size_t i = 0; i < n; i++)
        cr_assert(fabsf(v[i]) <= (float)sqrt(3.0));
    free(v);
}

Test(workload, student_t_has_heavier_tails_than_normal)
{
    size_t n = 200000, big_t = 0, big_n = 0;
    float *v = malloc(n * sizeof *v);
    qlab_dist t = { .std = 1, .df = 3 }, g = { .std = 1 };
    strcpy(t.dist, "student_t");
    strcpy(g.dist, "normal");
    qlab_fill_dist(&t, 5, v, n);
    for (size_t i = 0; i < n; i++) big_t += fabsf(v[i]) > 4;
    qlab_fill_dist(&g, 5, v, n);
    for (size_t i = 0; i < n; i++) big_n += fabsf(v[i]) > 4;
    /* Normal: P(|z|>4) = 6.3e-5 (about 13 of 2e5); t(3) scaled to sd 1: about 0.3%. */
    cr_assert(big_n < 40, "normal tail count %zu", big_n);
    cr_assert(big_t > 10 * big_n + 100, "t tail count %zu vs normal %zu", big_t, big_n);
    free(v);
}

Test(workload, unknown_distribution_is_an_error)
{
    float v[4];
    qlab_dist q = { .std = 1 };
    strcpy(q.dist, "cauchy");
    cr_assert_neq(qlab_fill_dist(&q, 1, v, 4), 0);
}

Test(workload, outlier_columns_are_distinct_sorted_and_shared_by_every_token)
{
    cr_assert_eq(qlab_outlier_count(0.0, 4096), 0);
    cr_assert_eq(qlab_outlier_count(0.001, 4096), 4);
    cr_assert_eq(qlab_outlier_count(1e-9, 4096), 1);
    int64_t cols[64];
    qlab_outlier_pick(77, 1000, 64, cols);
    for (int i = 1; i < 64; i++)
        cr_assert(cols[i] > cols[i - 1] && cols[i] < 1000 && cols[0] >= 0);

    qlab_point p = base_point();
    p.x.outlier_cols = 0.02;      /* 5 of 256 columns */
    p.x.outlier_scale = 50;
    qlab_point q = p;
    q.x.outlier_scale = 1;       /* same key but for the scale: compare column by column */
    qlab_workload a, b;
    char err[256];
    cr_assert_eq(qlab_workload_make(&p, &a, err, sizeof err), 0);
    cr_assert_eq(qlab_workload_make(&q, &b, err, sizeof err), 0);
    /* Column j is an outlier column when its mean |x| is far above the others'. */
    int n_big = 0;
    for (int64_t j = 0; j < p.k; j++) {
        double s = 0;
        for (int64_t i = 0; i < p.m; i++) s += fabsf(a.x[i * p.k + j]);
        if (s / (double)p.m > 10) n_big++;
    }
    cr_assert_eq(n_big, 5);
    qlab_workload_free(&a);
    qlab_workload_free(&b);
}

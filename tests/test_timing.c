/* test_timing.c: timing summaries and the stopping rule of DESIGN section 5. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "backends/backend.h"

Test(timing, summary_quartiles_follow_linear_interpolation)
{
    /* Sorted: 1 2 3 4 10. Positions (n-1)q: median 2 -> 3; q1 1 -> 2; q3 3 -> 4. */
    double us[] = { 10, 2, 4, 1, 3 };
    qlab_timing t;
    qlab_timing_summarize(us, 5, &t);
    cr_assert_float_eq(t.median_us, 3.0, 1e-12);
    cr_assert_float_eq(t.q1_us, 2.0, 1e-12);
    cr_assert_float_eq(t.q3_us, 4.0, 1e-12);
    cr_assert_float_eq(t.min_us, 1.0, 1e-12);
    cr_assert_eq(t.samples, 5);
    /* mean 4, sample variance (9+4+0+1+36)/4 = 12.5 */
    cr_assert_float_eq(t.rel_stdev, sqrt(12.5) / 4.0, 1e-12);
}

Test(timing, even_count_median_is_mean_of_middle_two)
{
    double us[] = { 4, 1, 3, 2 };
    qlab_timing t;
    qlab_timing_summarize(us, 4, &t);
    cr_assert_float_eq(t.median_us, 2.5, 1e-12);
    cr_assert_float_eq(t.q1_us, 1.75, 1e-12);
    cr_assert_float_eq(t.q3_us, 3.25, 1e-12);
}

Test(timing, empty_summary_is_zero)
{
    qlab_timing t;
    qlab_timing_summarize(NULL, 0, &t);
    cr_assert_eq(t.samples, 0);
    cr_assert_eq(t.median_us, 0);
}

Test(timing, stopping_rule)
{
    qlab_timing_opts o = { .warmup = 0, .min_samples = 4, .max_noise = 0.01, .min_time_s = 0.5, .timeout_s = 2 };
    double quiet[] = { 100, 100.1, 99.9, 100 };
    double noisy[] = { 100, 150, 80, 120 };
    cr_assert_eq(qlab_timing_should_stop(quiet, 3, 1.0, &o), 0, "fewer than min_samples");
    cr_assert_eq(qlab_timing_should_stop(quiet, 4, 0.1, &o), 0, "before min_time");
    cr_assert_eq(qlab_timing_should_stop(quiet, 4, 0.6, &o), 1, "quiet after min_time");
    cr_assert_eq(qlab_timing_should_stop(noisy, 4, 0.6, &o), 0, "noisy keeps sampling");
    cr_assert_eq(qlab_timing_should_stop(noisy, 4, 2.1, &o), 1, "timeout stops");
    cr_assert_eq(qlab_timing_should_stop(noisy, 2, 2.1, &o), 1, "timeout stops below min_samples");
}

Test(timing, samples_grow_and_keep_every_value)
{
    qlab_samples s = { 0 };
    for (int i = 0; i < 1000; i++)
        cr_assert_eq(qlab_samples_push(&s, 3, i % 2 ? "gemm_i8" : "total", (double)i), 0);
    cr_assert_eq(s.n, 1000);
    cr_assert_eq(s.v[999].time_us, 999.0);
    cr_assert_str_eq(s.v[1].stage, "gemm_i8");
    cr_assert_eq(s.v[500].point_id, 3);
    qlab_samples_free(&s);
}

/* A fake timed run: stage s of call i takes (i + 1) * (s + 1) us; fails at call fail_at. */
typedef struct {
    int calls, fail_at;
} fake_run;

static int fake(void *argp, double *us, char *err, size_t err_len)
{
    fake_run *f = argp;
    int i = f->calls++;
    if (i == f->fail_at) {
        snprintf(err, err_len, "run %d failed", i);
        return 1;
    }
    for (int s = 0; s < 3; s++)
        us[s] = (double)(i + 1) * (s + 1);
    return 0;
}

Test(timing, time_stages_warms_up_then_pushes_every_stage_of_every_sample)
{
    qlab_point p;
    memset(&p, 0, sizeof p);
    p.id = 42;
    /* Any noise is low enough, so sampling stops as soon as min_samples are in. */
    qlab_timing_opts o = { .warmup = 2, .min_samples = 5, .max_noise = 1e9, .min_time_s = 0, .timeout_s = 1e9 };
    qlab_backend_job job = { .p = &p, .timing = &o };
    fake_run f = { 0, -1 };
    qlab_samples smp = { 0 };
    qlab_timing t;
    char err[128] = "";
    const char *const stages[] = { "total", "a", "b" };
    cr_assert_eq(qlab_time_stages(&job, fake, &f, stages, 3, &smp, &t, err, sizeof err), 0, "%s", err);
    cr_assert_eq(f.calls, 7, "2 warm-up + 5 timed runs expected, got %d calls", f.calls);
    cr_assert_eq(smp.n, 15);
    cr_assert_eq(t.samples, 5);
    /* Timed calls are 2..6, so totals are 3..7 us and their median 5. */
    cr_assert_float_eq(t.median_us, 5.0, 1e-12);
    cr_assert_float_eq(t.min_us, 3.0, 1e-12);
    for (int64_t i = 0; i < smp.n; i++) {
        cr_assert_eq(smp.v[i].point_id, 42);
        cr_assert_str_eq(smp.v[i].stage, stages[i % 3]);
        cr_assert_float_eq(smp.v[i].time_us, (double)(i / 3 + 3) * (double)(i % 3 + 1), 1e-12);
    }
    /* A failing run stops the loop with its message. */
    fake_run g = { 0, 4 };
    qlab_samples_clear(&smp);
    cr_assert_neq(qlab_time_stages(&job, fake, &g, stages, 3, &smp, &t, err, sizeof err), 0);
    cr_assert_str_eq(err, "run 4 failed");
    qlab_samples_free(&smp);
}

/* test_timing.c: timing summaries and the stopping rule of DESIGN section 5. */
#include <criterion/criterion.h>
#include <math.h>

#include "../harness/backend.h"

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

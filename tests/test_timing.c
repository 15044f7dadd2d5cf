/* test_timing.c: timing summaries and the stopping rule of DESIGN section 5, the latter
 * also on synthetic sample streams (jitter, plateau, max_samples, timeout). */
#include <criterion/criterion.h>
#include <math.h>
#include <stdint.h>
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

/* ------------------------------------------------------------------------------ */
/* The stopping rule on synthetic sample streams (DESIGN section 5)                */

/* A stream of `mean` us with relative jitter `rel` (normal, Box-Muller on a 64-bit
 * LCG, the same on every machine). */
static void jitter_stream(double *us, int64_t n, double mean, double rel, uint64_t seed)
{
    uint64_t s = seed * 6364136223846793005ull + 1442695040888963407ull;
    for (int64_t i = 0; i < n; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        double u1 = ((s >> 11) + 1.0) / 9007199254740993.0;
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        double u2 = (s >> 11) / 9007199254740992.0;
        us[i] = mean * (1.0 + rel * sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2));
    }
}

/* Runs the rule over the stream as the loop would, one sample every sample_s seconds;
 * returns the sample count it stopped at (or cap + 1 when it never did). */
static int64_t stop_at(const double *us, int64_t cap, double sample_s, const qlab_timing_opts *o)
{
    for (int64_t n = 1; n <= cap; n++)
        if (qlab_timing_should_stop(us, n, (double)n * sample_s, o))
            return n;
    return cap + 1;
}

Test(timing, steady_stream_with_3_percent_jitter_stops_by_the_median_interval)
{
    enum { CAP = 20000 };
    static double us[CAP];
    /* 20 us samples, 3% jitter: the relative stdev (3%) never meets 0.5%, so before
     * the interval and plateau rules this sampled until the 10 s timeout */
    qlab_timing_opts o = { .warmup = 0, .min_samples = 10, .max_noise = 0.005, .min_time_s = 0, .timeout_s = 10 };
    for (uint64_t seed = 1; seed <= 5; seed++) {
        jitter_stream(us, CAP, 20.0, 0.03, seed);
        const int64_t n = stop_at(us, CAP, 20e-6, &o);
        cr_assert_leq(n, 2000, "seed %llu: stopped at %lld samples", (unsigned long long)seed, (long long)n);
        cr_assert_leq((double)n * 20e-6, o.timeout_s / 100, "long before the timeout");
        qlab_timing_noise z;
        qlab_timing_noise_of(us, n, &z);
        cr_assert_gt(z.rel_stdev, o.max_noise, "the relative stdev rule cannot be what stopped it");
        cr_assert(z.median_rel_halfwidth <= o.max_noise || z.plateau,
                  "seed %llu: stopped at %lld with half-width %g and no plateau", (unsigned long long)seed,
                  (long long)n, z.median_rel_halfwidth);
        /* the median it stopped with is within the interval's promise of the truth */
        qlab_timing t;
        qlab_timing_summarize(us, n, &t);
        cr_assert_leq(fabs(t.median_us - 20.0), 0.02 * 20.0, "median %g", t.median_us);
    }
}

Test(timing, plateau_stops_a_noisy_stream_the_interval_rule_cannot)
{
    enum { CAP = 20000 };
    static double us[CAP];
    /* max_noise so small that neither the stdev nor the interval rule can hold: only
     * the plateau of the noise estimate stops before the timeout */
    qlab_timing_opts o = { .warmup = 0, .min_samples = 10, .max_noise = 1e-9, .min_time_s = 0, .timeout_s = 10 };
    for (uint64_t seed = 1; seed <= 5; seed++) {
        jitter_stream(us, CAP, 20.0, 0.03, seed);
        const int64_t n = stop_at(us, CAP, 20e-6, &o);
        cr_assert_geq(n, 64, "the plateau needs 64 samples");
        cr_assert_leq(n, CAP, "seed %llu: never stopped", (unsigned long long)seed);
        qlab_timing_noise z;
        qlab_timing_noise_of(us, n, &z);
        cr_assert(z.plateau, "seed %llu: stopped at %lld without a plateau", (unsigned long long)seed, (long long)n);
    }
    /* a stream whose noise keeps growing (a clock ramping down) has no plateau */
    for (int64_t i = 0; i < CAP; i++)
        us[i] = 20.0 * (1.0 + 0.01 * (double)i * (i % 2 ? 1 : -1) / 64.0);
    cr_assert_eq(stop_at(us, 4096, 20e-6, &o), 4097, "a growing noise must not count as a plateau");
}

Test(timing, max_samples_caps_the_loop)
{
    enum { CAP = 1000 };
    static double us[CAP];
    jitter_stream(us, CAP, 20.0, 0.3, 9);
    qlab_timing_opts o = { .warmup = 0, .min_samples = 10, .max_noise = 1e-9, .min_time_s = 0, .timeout_s = 10,
                           .max_samples = 50 };
    cr_assert_eq(stop_at(us, CAP, 20e-6, &o), 50);
    /* the cap wins over min_samples too */
    o.min_samples = 200;
    cr_assert_eq(stop_at(us, CAP, 20e-6, &o), 50);
    /* 0: no cap */
    o.max_samples = 0;
    o.min_samples = 10;
    cr_assert_gt(stop_at(us, 60, 20e-6, &o), 60);
}

Test(timing, timeout_still_wins)
{
    enum { CAP = 1000 };
    static double us[CAP];
    jitter_stream(us, CAP, 1000.0, 0.3, 4);
    /* 1 ms samples, a 0.05 s timeout: stops at the 50th sample whatever else holds */
    qlab_timing_opts o = { .warmup = 0, .min_samples = 500, .max_noise = 1e-9, .min_time_s = 0, .timeout_s = 0.05,
                           .max_samples = 800 };
    cr_assert_eq(stop_at(us, CAP, 1e-3, &o), 50);
    /* and before min_time_s */
    o.min_samples = 1;
    o.min_time_s = 1.0;
    o.max_noise = 1.0;
    cr_assert_eq(stop_at(us, CAP, 1e-3, &o), 50);
}

Test(timing, median_interval_uses_the_order_statistics_around_the_median)
{
    /* n = 100, values 1..100: ranks 40 and 61 bound the median (50.5) */
    double us[100];
    for (int i = 0; i < 100; i++)
        us[99 - i] = (double)(i + 1);
    qlab_timing_noise z;
    qlab_timing_noise_of(us, 100, &z);
    cr_assert_float_eq(z.median_rel_halfwidth, (61.0 - 40.0) / (2.0 * 50.5), 1e-12);
    /* n < 2: nothing known */
    qlab_timing_noise_of(us, 1, &z);
    cr_assert(isinf(z.median_rel_halfwidth) && isinf(z.rel_stdev) && !z.plateau);
}

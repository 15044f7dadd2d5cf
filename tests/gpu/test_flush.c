/* test_flush.c: the L2 flush between timing samples (qk_l2_flush, kernels/runtime.cu).
 *
 * The flush must really read its buffer (its time is at least the buffer's size over
 * a bandwidth no GPU has), and its cost must stay outside the samples: an empty
 * stage (two events back to back) timed after a flush may not grow by more than a
 * quarter of the flush's own time over the same stage timed without one. A stage
 * that reads memory after a flush is logged beside the same stage after a flush by
 * writes (what the flush used to be), whose dirty lines are written back inside the
 * window. Skips, saying why, without a usable GPU.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "../../kernels/qlab_cuda.h"
#include "gpu_test.h"

static int cmp_float(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

static float median_of(float *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_float);
    return n % 2 ? v[n / 2] : 0.5f * (v[n / 2 - 1] + v[n / 2]);
}

enum { SAMPLES = 41 };

/* Median over SAMPLES of the window between two marks; before each window, the
 * flush when `flush`, and (optionally) a stage inside the window: a float32 copy of
 * rows x cols through qk_convert. */
static float window_us(qk_ctx *c, qk_timer *t, int flush, const float *src, float *dst, int64_t rows, int64_t cols)
{
    float ms[SAMPLES];
    for (int i = -2; i < SAMPLES; i++) {
        if (flush)
            cr_assert_eq(qk_l2_flush(c), QK_OK, "%s", qk_ctx_error(c));
        cr_assert_eq(qk_timer_mark(c, t, 0), QK_OK, "%s", qk_ctx_error(c));
        if (src)
            cr_assert_eq(qk_convert(c, src, rows, cols, cols, dst, QK_DTYPE_F32, cols), QK_OK, "%s", qk_ctx_error(c));
        cr_assert_eq(qk_timer_mark(c, t, 1), QK_OK, "%s", qk_ctx_error(c));
        float v = 0;
        cr_assert_eq(qk_timer_ms(c, t, 0, 1, &v), QK_OK, "%s", qk_ctx_error(c));
        if (i >= 0)
            ms[i] = v;
    }
    return 1e3f * median_of(ms, SAMPLES);
}

/* Median time of one flush alone, in us. */
static float flush_us(qk_ctx *c, qk_timer *t)
{
    float ms[SAMPLES];
    for (int i = -2; i < SAMPLES; i++) {
        cr_assert_eq(qk_timer_mark(c, t, 0), QK_OK);
        cr_assert_eq(qk_l2_flush(c), QK_OK, "%s", qk_ctx_error(c));
        cr_assert_eq(qk_timer_mark(c, t, 1), QK_OK);
        float v = 0;
        cr_assert_eq(qk_timer_ms(c, t, 0, 1, &v), QK_OK, "%s", qk_ctx_error(c));
        if (i >= 0)
            ms[i] = v;
    }
    return 1e3f * median_of(ms, SAMPLES);
}

Test(l2_flush, reads_its_whole_buffer)
{
    qk_ctx *c = gpu_or_skip();
    qk_timer *t = NULL;
    cr_assert_eq(qk_timer_create(c, 2, &t), QK_OK);
    const double bytes = (double)qk_l2_flush_bytes(c);
    qk_device_info d;
    char err[256];
    cr_assert_eq(qk_device_query(0, &d, err, sizeof err), QK_OK, "%s", err);
    cr_assert_geq(bytes, 2.0 * (double)d.l2_bytes, "flush buffer %g bytes, L2 %lld", bytes, (long long)d.l2_bytes);
    const float f = flush_us(c, t);
    const double tbps = bytes / (f * 1e-6) / 1e12;
    cr_log_info("L2 flush: %.0f MB read in %.1f us (%.2f TB/s; L2 %lld MB)", bytes / 1e6, f, tbps,
                (long long)(d.l2_bytes >> 20));
    /* no GPU reads 10 TB/s from memory: faster means the reads were not done */
    cr_assert_lt(tbps, 10.0, "the flush read %g bytes in %g us: its loads were not executed", bytes, f);
    qk_timer_free(t);
    qk_ctx_free(c);
}

Test(l2_flush, its_cost_stays_out_of_the_samples)
{
    qk_ctx *c = gpu_or_skip();
    qk_timer *t = NULL;
    cr_assert_eq(qk_timer_create(c, 2, &t), QK_OK);
    const float f = flush_us(c, t);
    const float plain = window_us(c, t, 0, NULL, NULL, 0, 0);
    const float flushed = window_us(c, t, 1, NULL, NULL, 0, 0);
    cr_log_info("empty stage: %.2f us without flushes, %.2f us with (one flush: %.1f us)", plain, flushed, f);
    cr_assert_lt(flushed, plain + 0.25f * f, "an empty stage grew from %g to %g us with a flush of %g us before it",
                 plain, flushed, f);

    /* A stage that moves 2 x 16 MiB after the read flush and after a flush by writes
     * (a float32 copy of 2 x L2, leaving its lines dirty): logged, for the record of
     * what dirty lines cost inside a window. */
    qk_device_info d;
    char err[256];
    cr_assert_eq(qk_device_query(0, &d, err, sizeof err), QK_OK, "%s", err);
    const int64_t cols = 4096, rows = 1024, wrows = 2 * (d.l2_bytes / 4 / cols) + 1;
    float *src = NULL, *dst = NULL, *big = NULL, *big2 = NULL;
    cr_assert_eq(qk_malloc(c, (void **)&src, (size_t)(rows * cols) * 4), QK_OK);
    cr_assert_eq(qk_malloc(c, (void **)&dst, (size_t)(rows * cols) * 4), QK_OK);
    cr_assert_eq(qk_malloc(c, (void **)&big, (size_t)(wrows * cols) * 4), QK_OK);
    cr_assert_eq(qk_malloc(c, (void **)&big2, (size_t)(wrows * cols) * 4), QK_OK);
    cr_assert_eq(qk_convert(c, src, rows, cols, cols, dst, QK_DTYPE_F32, cols), QK_OK);   /* any contents */
    const float after_read = window_us(c, t, 1, src, dst, rows, cols);
    float ms[SAMPLES];
    for (int i = -2; i < SAMPLES; i++) {
        cr_assert_eq(qk_convert(c, big2, wrows, cols, cols, big, QK_DTYPE_F32, cols), QK_OK, "%s", qk_ctx_error(c));
        cr_assert_eq(qk_timer_mark(c, t, 0), QK_OK);
        cr_assert_eq(qk_convert(c, src, rows, cols, cols, dst, QK_DTYPE_F32, cols), QK_OK, "%s", qk_ctx_error(c));
        cr_assert_eq(qk_timer_mark(c, t, 1), QK_OK);
        float v = 0;
        cr_assert_eq(qk_timer_ms(c, t, 0, 1, &v), QK_OK, "%s", qk_ctx_error(c));
        if (i >= 0)
            ms[i] = v;
    }
    const float after_write = 1e3f * median_of(ms, SAMPLES);
    cr_log_info("a 2 x 16 MiB copy: %.2f us after the read flush, %.2f us after a flush by writes", after_read,
                after_write);
    qk_free(c, src);
    qk_free(c, dst);
    qk_free(c, big);
    qk_free(c, big2);
    qk_timer_free(t);
    qk_ctx_free(c);
}

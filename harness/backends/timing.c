/* timing.c: sample lists, the stopping rule and summaries shared by every backend.
 *
 * DESIGN section 5: warm-up first, then samples until at least min_samples are taken
 * and, after min_time_s, a noise rule holds (relative stdev, the median's 95%
 * interval, or a plateau of the noise: qlab_timing_should_stop), or timeout_s has
 * passed, or max_samples are in. Every sample is kept (the runner writes them to
 * /samples); the summary is median, quartiles (linear interpolation between order
 * statistics), min and the relative standard deviation.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "backends/backend.h"

int qlab_samples_push(qlab_samples *s, int64_t point_id, const char *stage, double time_us)
{
    if (s->n == s->cap) {
        int64_t cap = s->cap ? s->cap * 2 : 256;
        qlab_sample *v = realloc(s->v, (size_t)cap * sizeof *v);
        if (!v)
            return -1;
        s->v = v;
        s->cap = cap;
    }
    qlab_sample *x = &s->v[s->n++];
    memset(x, 0, sizeof *x);
    x->point_id = point_id;
    strncpy(x->stage, stage, sizeof x->stage - 1);
    x->time_us = time_us;
    return 0;
}

void qlab_samples_clear(qlab_samples *s) { s->n = 0; }

void qlab_samples_free(qlab_samples *s)
{
    free(s->v);
    memset(s, 0, sizeof *s);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Quantile q of sorted v[0..n) by linear interpolation (the "type 7" rule of R and
 * NumPy's default), so the median of an even count is the mean of the middle two. */
double qlab_quantile_sorted(const double *v, int64_t n, double q)
{
    double pos = q * (double)(n - 1);
    int64_t lo = (int64_t)floor(pos);
    int64_t hi = lo + 1 < n ? lo + 1 : lo;
    double frac = pos - (double)lo;
    return v[lo] + (v[hi] - v[lo]) * frac;
}

static double rel_stdev(const double *us, int64_t n)
{
    if (n < 2)
        return INFINITY;
    double mean = 0;
    for (int64_t i = 0; i < n; i++)
        mean += us[i];
    mean /= (double)n;
    double ss = 0;
    for (int64_t i = 0; i < n; i++)
        ss += (us[i] - mean) * (us[i] - mean);
    double sd = sqrt(ss / (double)(n - 1));
    return mean > 0 ? sd / mean : INFINITY;
}

void qlab_timing_summarize(const double *us, int64_t n, qlab_timing *out)
{
    memset(out, 0, sizeof *out);
    if (n <= 0)
        return;
    double *v = malloc((size_t)n * sizeof *v);
    if (!v)
        return;
    memcpy(v, us, (size_t)n * sizeof *v);
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    out->median_us = qlab_quantile_sorted(v, n, 0.5);
    out->q1_us = qlab_quantile_sorted(v, n, 0.25);
    out->q3_us = qlab_quantile_sorted(v, n, 0.75);
    out->min_us = v[0];
    out->rel_stdev = n >= 2 ? rel_stdev(v, n) : 0;
    out->samples = n;
    free(v);
}

/* Samples before the plateau rule may hold, and how far the noise of the first n/2
 * and 3n/4 samples may lie from that of all n (relative to the latter). */
#define PLATEAU_MIN_N 64
#define PLATEAU_TOL 0.05

void qlab_timing_noise_of(const double *us, int64_t n, qlab_timing_noise *out)
{
    out->rel_stdev = rel_stdev(us, n);
    out->median_rel_halfwidth = INFINITY;
    out->plateau = 0;
    if (n < 2)
        return;
    double *v = malloc((size_t)n * sizeof *v);
    if (v) {
        memcpy(v, us, (size_t)n * sizeof *v);
        qsort(v, (size_t)n, sizeof *v, cmp_double);
        /* Ranks (1-based) n/2 -+ 1.96 sqrt(n)/2 of the sorted sample bound the median
         * with 95% confidence whatever the distribution (normal approximation of the
         * binomial count of samples below it); clamped to the sample. */
        const double h = 0.98 * sqrt((double)n);
        int64_t lo = (int64_t)floor((double)n / 2.0 - h) - 1, hi = (int64_t)ceil((double)n / 2.0 + 1.0 + h) - 1;
        lo = lo < 0 ? 0 : lo;
        hi = hi > n - 1 ? n - 1 : hi;
        const double med = qlab_quantile_sorted(v, n, 0.5);
        if (med > 0)
            out->median_rel_halfwidth = (v[hi] - v[lo]) / (2.0 * med);
        free(v);
    }
    if (n >= PLATEAU_MIN_N && isfinite(out->rel_stdev)) {
        const double s = out->rel_stdev, s2 = rel_stdev(us, n / 2), s3 = rel_stdev(us, 3 * n / 4);
        out->plateau = fabs(s2 - s) <= PLATEAU_TOL * s && fabs(s3 - s) <= PLATEAU_TOL * s;
    }
}

/* The noise rules rescan or sort the samples: every sample up to 64, then every
 * step-th, step = max(1, n / 32) rounded down to a power of two. */
static int noise_checkpoint(int64_t n)
{
    if (n <= PLATEAU_MIN_N)
        return 1;
    int64_t step = 1;
    while (step * 2 <= n / 32)
        step *= 2;
    return n % step == 0;
}

int qlab_timing_should_stop(const double *us, int64_t n, double elapsed_s,
                            const qlab_timing_opts *o)
{
    if (n > 0 && elapsed_s >= o->timeout_s)
        return 1;   /* the timeout wins, even before min_samples */
    if (o->max_samples > 0 && n >= o->max_samples)
        return 1;
    if (n < o->min_samples || elapsed_s < o->min_time_s || !noise_checkpoint(n))
        return 0;
    qlab_timing_noise z;
    qlab_timing_noise_of(us, n, &z);
    return z.rel_stdev <= o->max_noise || z.median_rel_halfwidth <= o->max_noise || z.plateau;
}

double qlab_now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Clock ticks of the whole machine (all CPUs: every state, and the busy ones, i.e. all
 * but idle and iowait) from /proc/stat's first line, and of this process (user +
 * system, all threads) from /proc/self/stat. 0, or -1 where either is unreadable. */
static int cpu_ticks(double *total, double *busy, double *own)
{
    FILE *f = fopen("/proc/stat", "r");
    if (!f)
        return -1;
    unsigned long long v[8] = {0};
    int got = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5],
                     &v[6], &v[7]);
    fclose(f);
    if (got < 4)
        return -1;
    *total = 0;
    for (int i = 0; i < 8; i++)
        *total += (double)v[i];
    *busy = *total - (double)v[3] - (double)v[4];
    f = fopen("/proc/self/stat", "r");
    if (!f)
        return -1;
    char buf[1024];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    /* Fields after the command name, which may hold spaces: it ends at the last ')'. */
    const char *p = strrchr(buf, ')');
    unsigned long long ut, st;
    if (!p || sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
        return -1;
    *own = (double)ut + (double)st;
    return 0;
}

/* Share of the machine's CPU time that other processes used between two readings:
 * (busy - own) / total ticks, clamped to [0, 1]; -1 if unreadable or no tick passed. */
static double cpu_other_share(const double a[3], const double b[3], int ok)
{
    double total = b[0] - a[0], other = (b[1] - a[1]) - (b[2] - a[2]);
    if (!ok || total <= 0)
        return -1;
    double share = other / total;
    return share < 0 ? 0 : share > 1 ? 1 : share;
}

int qlab_time_stages(const qlab_backend_job *job, qlab_timed_run run, void *arg, const char *const *stages,
                     int n_stages, qlab_samples *samples, qlab_timing *out, char *err, size_t err_len)
{
    const qlab_timing_opts *o = job->timing;
    double st[QLAB_MAX_STAGES];
    if (n_stages < 1 || n_stages > QLAB_MAX_STAGES) {
        snprintf(err, err_len, "internal: %d timing stages (1 to %d)", n_stages, QLAB_MAX_STAGES);
        return 1;
    }
    for (int64_t i = 0; i < o->warmup; i++)
        if (run(arg, st, err, err_len))
            return 1;
    int64_t cap = 64, n = 0;
    double *us = malloc((size_t)cap * sizeof *us);
    if (!us) {
        snprintf(err, err_len, "out of memory for timing samples");
        return 1;
    }
    double ticks0[3], ticks1[3];
    int ticks_ok = cpu_ticks(&ticks0[0], &ticks0[1], &ticks0[2]) == 0;
    const double start = qlab_now_s();
    for (;;) {
        if (run(arg, st, err, err_len)) {
            free(us);
            return 1;
        }
        if (n == cap) {
            double *v = realloc(us, (size_t)(cap *= 2) * sizeof *us);
            if (!v) {
                free(us);
                snprintf(err, err_len, "out of memory for timing samples");
                return 1;
            }
            us = v;
        }
        us[n++] = st[0];
        for (int s = 0; s < n_stages; s++) {
            if (qlab_samples_push(samples, job->p->id, stages[s], st[s])) {
                free(us);
                snprintf(err, err_len, "out of memory for timing samples");
                return 1;
            }
        }
        if (qlab_timing_should_stop(us, n, qlab_now_s() - start, o))
            break;
    }
    qlab_timing_summarize(us, n, out);
    ticks_ok = ticks_ok && cpu_ticks(&ticks1[0], &ticks1[1], &ticks1[2]) == 0;
    out->cpu_other = cpu_other_share(ticks0, ticks1, ticks_ok);
    free(us);
    return 0;
}

/* bench_store.c: the cost of appending points to a results file, first against last.
 *
 * Build and run: make bench-store. Appends N points (default 7,280, each with 20
 * timing samples, as a small timed sweep writes them) to a fresh results file in a
 * temporary directory through the same API `qlab run` uses, times every append, and
 * prints the mean cost per point of the first and the last thousand and the time of
 * the first 1,456 appends against all of them. A store whose cost per point grows
 * with the file (a whole-file rewrite per point) shows a last thousand far above the
 * first; a linear one shows them alike. Exits 1 if an append fails.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "store/results.h"

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Median of v[0..n) (sorts a copy). */
static double median(const double *v, int64_t n)
{
    double *c = malloc((size_t)n * sizeof *c);
    memcpy(c, v, (size_t)n * sizeof *c);
    qsort(c, (size_t)n, sizeof *c, cmp_double);
    double m = n % 2 ? c[n / 2] : 0.5 * (c[n / 2 - 1] + c[n / 2]);
    free(c);
    return m;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int main(int argc, char **argv)
{
    int64_t n = argc > 1 ? atoll(argv[1]) : 7280;
    if (n < 2000) {
        fprintf(stderr, "bench-store: N must be at least 2000 (two thousands to compare)\n");
        return 2;
    }
    char dir[] = "/tmp/qlab-bench-store.XXXXXX";
    if (!mkdtemp(dir)) {
        perror("bench-store: mkdtemp");
        return 2;
    }
    char path[256], err[512];
    snprintf(path, sizeof path, "%s/store.h5", dir);
    qlab_results *r;
    if (qlab_results_create(path, &r, err, sizeof err)) {
        fprintf(stderr, "bench-store: %s\n", err);
        return 1;
    }
    double *t = malloc((size_t)n * sizeof *t);
    qlab_sample s[20];
    double start = now_s(), at_1456 = 0;
    for (int64_t i = 0; i < n; i++) {
        qlab_row row;
        memset(&row, 0, sizeof row);
        row.p.id = i;
        snprintf(row.p.scheme, sizeof row.p.scheme, "absmax");
        snprintf(row.p.workload, sizeof row.p.workload, "synthetic");
        row.p.m = 1 + i % 13;
        row.p.k = 16;
        row.p.n = 8 + 8 * (i % 20);
        row.rel_err = 1e-3 * (double)(i % 97);
        for (int j = 0; j < 20; j++) {
            memset(&s[j], 0, sizeof s[j]);
            s[j].point_id = i;
            snprintf(s[j].stage, sizeof s[j].stage, "total");
            s[j].time_us = 10.0 + j;
        }
        double t0 = now_s();
        if (qlab_results_append_batch(r, &row, s, 20, NULL, 0, err, sizeof err)) {
            fprintf(stderr, "bench-store: append %lld: %s\n", (long long)i, err);
            return 1;
        }
        t[i] = now_s() - t0;
        if (i + 1 == 1456)
            at_1456 = now_s() - start;
    }
    double t_close = now_s();
    if (qlab_results_close(r, "complete", err, sizeof err)) {
        fprintf(stderr, "bench-store: %s\n", err);
        return 1;
    }
    double total = now_s() - start, close_s = now_s() - t_close;
    double first = 0, last = 0, worst = 0;
    for (int64_t i = 0; i < 1000; i++) {
        first += t[i];
        last += t[n - 1000 + i];
    }
    for (int64_t i = 0; i < n; i++)
        if (t[i] > worst)
            worst = t[i];
    qlab_results_data d;
    if (qlab_results_read(path, &d, err, sizeof err) || d.n_points != n) {
        fprintf(stderr, "bench-store: read back: %s\n", err[0] ? err : "wrong point count");
        return 1;
    }
    qlab_results_data_free(&d);
    printf("bench-store: %lld appends of 1 point + 20 samples (fsync each)\n", (long long)n);
    double mf = median(t, 1000), ml = median(t + n - 1000, 1000);
    printf("  per point, first 1000: mean %8.3f ms, median %8.3f ms\n", 1e3 * first / 1000, 1e3 * mf);
    printf("  per point, last 1000:  mean %8.3f ms, median %8.3f ms   (last / first: mean %.2f, median %.2f)\n",
           1e3 * last / 1000, 1e3 * ml, last / first, ml / mf);
    printf("  slowest append (a fold):    %8.3f ms\n", 1e3 * worst);
    printf("  first 1456 appends: %.2f s; all %lld: %.2f s (ratio %.2f for %.1fx the points); close %.3f s\n",
           at_1456, (long long)n, total, total / at_1456, (double)n / 1456, close_s);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "bench-store: could not remove %s\n", dir);
    free(t);
    return 0;
}

/* backend.h: what a backend (cpu, cuda) does with one point.
 *
 * The runner (run.c) builds the point's tensors (workload), computes the float64
 * reference once per workload, then hands the tensors to a backend, which runs the
 * point's scheme, returns Y on the host and fills the timing, memory and operand-error
 * columns of the row. The runner computes the output metrics from Y (the same code
 * for every backend), so backends differ only in how Y is produced and timed.
 */
#ifndef QLAB_BACKEND_H
#define QLAB_BACKEND_H

#include <stddef.h>
#include <stdint.h>
#include "core/point.h"

/* Stopping rule and warm-up of the timing loop (config key `timing`). */
typedef struct {
    int64_t warmup;        /* untimed runs first */
    int64_t min_samples;   /* at least this many timed samples */
    double max_noise;      /* noise bound of the stopping rule (after min_time_s): see
                              qlab_timing_should_stop */
    double min_time_s;     /* time spent sampling before the noise rule may stop */
    double timeout_s;      /* stop sampling a stage after this long, whatever the noise */
    int64_t max_samples;   /* stop at this many samples, whatever the noise (0: no cap) */
} qlab_timing_opts;

/* A growable list of timing samples; the runner appends them to /samples. */
typedef struct {
    qlab_sample *v;
    int64_t n, cap;
} qlab_samples;

/* Appends one sample; returns 0, or -1 when out of memory. */
int qlab_samples_push(qlab_samples *s, int64_t point_id, const char *stage, double time_us);
void qlab_samples_clear(qlab_samples *s);   /* n = 0, keeps the buffer */
void qlab_samples_free(qlab_samples *s);

/* Summary of n samples (microseconds): median, quartiles (linear interpolation),
 * min, relative stdev (stdev / mean). n == 0 gives all zeros. */
/* Quantile q (0..1) of sorted v[0..n), n >= 1, by linear interpolation between order
 * statistics (R's type 7, NumPy's default). */
double qlab_quantile_sorted(const double *v, int64_t n, double q);

void qlab_timing_summarize(const double *us, int64_t n, qlab_timing *out);

/* 1 when the sampling loop may stop, 0 to take another sample. Stops when
 *   - elapsed_s >= timeout_s with at least one sample (the timeout bounds a slow point
 *     even before min_samples), or max_samples > 0 and n >= max_samples;
 *   - otherwise, with n >= min_samples and elapsed_s >= min_time_s, when one noise
 *     rule holds on us[0..n):
 *       (a) the relative standard deviation is <= max_noise;
 *       (b) the distribution-free 95% interval of the median (the order statistics
 *           n/2 -+ 0.98 sqrt(n), clamped to the sample) has a half-width <= max_noise
 *           times the median: the median is known to max_noise even when single
 *           samples are noisier (microsecond kernels);
 *       (c) the noise has plateaued: n >= 64 and the relative standard deviations of
 *           the first n/2, 3n/4 and all n samples lie within 5% of the last (more
 *           samples would only measure the same noise again).
 *     (b) and (c) sort or rescan the samples, so they are evaluated when n <= 64 or n
 *     is a multiple of max(1, n / 32) rounded down to a power of two; the cost of
 *     the whole loop stays O(n log^2 n). */
int qlab_timing_should_stop(const double *us, int64_t n, double elapsed_s,
                            const qlab_timing_opts *o);

/* The stopping rule's statistics of us[0..n): relative standard deviation (INFINITY
 * for n < 2), the 95% median interval's half-width over the median (INFINITY for
 * n < 2 or median <= 0), and whether the noise has plateaued (rule (c)). */
typedef struct {
    double rel_stdev, median_rel_halfwidth;
    int plateau;
} qlab_timing_noise;
void qlab_timing_noise_of(const double *us, int64_t n, qlab_timing_noise *out);

/* Monotonic clock in seconds (clock_gettime CLOCK_MONOTONIC). */
double qlab_now_s(void);

/* What a backend gets for one point. */
typedef struct {
    const qlab_point *p;
    const float *x;            /* [m,k] host */
    const float *w;            /* [n,k] host */
    const float *bias;         /* [n] or NULL */
    int measure_latency;       /* time the point (and the fp16 baseline) */
    int measure_memory;
    const qlab_timing_opts *timing;
    int skip_error;            /* 1: the experiment measures no error, so y is not read;
                                  a backend may skip the checked run and the operand-error
                                  passes (cuda does: DESIGN 5). 0 (the default): Y and
                                  every error column as usual */
    quant_cache *cache;        /* NULL, or the memo of the points on these x and w; used by
                                  the checked run only, never by a timed one */
} qlab_backend_job;

/* One timed run: writes each stage's time in microseconds into us[0..n_stages),
 * us[0] the total. Returns 0, or non-zero with a message in err. */
#define QLAB_MAX_STAGES 8
typedef int (*qlab_timed_run)(void *arg, double *us, char *err, size_t err_len);

/* The sampling loop of DESIGN section 5, shared by the backends: job->timing->warmup
 * untimed runs, then timed runs until qlab_timing_should_stop holds on the totals;
 * every run's stage times are pushed to samples as stages[s] for job->p->id, and out
 * summarizes the totals. Returns 0, or non-zero with err. */
int qlab_time_stages(const qlab_backend_job *job, qlab_timed_run run, void *arg, const char *const *stages,
                     int n_stages, qlab_samples *samples, qlab_timing *out, char *err, size_t err_len);

typedef struct qlab_backend {
    const char *name;          /* "cpu" | "cuda" */
    /* 1 if usable here; otherwise 0 with the reason in why. */
    int (*available)(char *why, size_t why_len);
    /* Runs the job: writes Y [m,n] float32 (host) into y, fills row->{x_rel_err,
     * w_rel_err, outlier_cols, outlier_frac, t, tops, gbps, fp16_median_us,
     * speedup_vs_fp16, w_bytes, w_bytes_fp16, x_bytes, peak_bytes} and pushes every
     * timing sample. Returns 0, or non-zero with a message in err (the point is then
     * recorded as failed and the sweep goes on). */
    int (*run)(const qlab_backend_job *job, float *y, qlab_row *row, qlab_samples *samples,
               char *err, size_t err_len);
    /* Root attributes describing the device ("device", "compute_capability", ...):
     * calls set(ctx, key, value) for each. May be NULL. */
    void (*describe)(void (*set)(void *ctx, const char *key, const char *value), void *ctx);
} qlab_backend;

extern const qlab_backend qlab_backend_cpu;
#ifdef QLAB_HAVE_CUDA
extern const qlab_backend qlab_backend_cuda;
#endif

/* The quant/ options of a point (scheme, granularities, block, threshold, outlier
 * weights, smooth_alpha). Float schemes get tensor granularity and no threshold;
 * 4-bit schemes get W at block granularity (block 64 when the point has none) and
 * nothing else (X is fp16). Returns 0, or 2
 * with a message naming the bad value. */
int qlab_point_opts(const qlab_point *p, quant_matmul_opts *opts, char *err, size_t err_len);

/* Peak resident memory of this process since the last reset, in bytes (Linux:
 * VmHWM; reset through /proc/self/clear_refs). 0 if unknown. */
void qlab_mem_peak_reset(void);
int64_t qlab_mem_peak_bytes(void);

/* Why this binary has no cuda backend: nvcc was missing at build time, or the build
 * was made with CUDA=0 (make run's build where no GPU is usable). Only meaningful in
 * a build without QLAB_HAVE_CUDA. */
const char *qlab_no_cuda_reason(void);

/* Backend by name ("cpu", "cuda", "auto": cuda when usable, else cpu). Returns NULL
 * with a reason in why when the named backend is not built or not usable. */
const qlab_backend *qlab_backend_select(const char *name, char *why, size_t why_len);

#endif

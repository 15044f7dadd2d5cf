/* backend_cpu.c: the cpu backend, quant/'s reference pipeline timed with clock_gettime.
 *
 * Y comes from quant_matmul_scheme, the same code the GPU is checked against, so the
 * cpu backend is complete for every scheme. Timing follows DESIGN section 5 with the
 * monotonic clock: warm-up, then samples of the whole pipeline (stage "total") until
 * the stopping rule holds; the fp16 pipeline of the same shape is timed the same way
 * (stage "fp16_gemm") for speedup_vs_fp16. The cpu "total" includes quantizing W,
 * since quant_matmul_scheme is one call; it is marked backend = cpu in the file.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backends/backend.h"

static int cpu_available(char *why, size_t why_len)
{
    (void)why;
    (void)why_len;
    return 1;
}

/* One run of quant_matmul_scheme, timed with the monotonic clock (stage "total"). */
typedef struct {
    const qlab_backend_job *job;
    const quant_matmul_opts *opts;
    float *y;
    const char *stage;
} pipeline_arg;

static int timed_pipeline(void *argp, double *us, char *err, size_t err_len)
{
    const pipeline_arg *a = argp;
    const qlab_point *p = a->job->p;
    double t0 = qlab_now_s();
    quant_status st = quant_matmul_scheme(a->job->x, a->job->w, p->m, p->k, p->n, a->opts, a->y, NULL);
    double t1 = qlab_now_s();
    if (st != QUANT_OK) {
        snprintf(err, err_len, "%s: %s", a->stage, quant_status_str(st));
        return 1;
    }
    us[0] = (t1 - t0) * 1e6;
    return 0;
}

/* Times quant_matmul_scheme with opts, pushing samples of `stage`. */
static int time_pipeline(const qlab_backend_job *job, const quant_matmul_opts *opts, float *y, const char *stage,
                         qlab_samples *samples, qlab_timing *out, char *err, size_t err_len)
{
    pipeline_arg a = { .job = job, .opts = opts, .y = y, .stage = stage };
    const char *const stages[] = { stage };
    return qlab_time_stages(job, timed_pipeline, &a, stages, 1, samples, out, err, err_len);
}

static int cpu_run(const qlab_backend_job *job, float *y, qlab_row *row, qlab_samples *samples,
                   char *err, size_t err_len)
{
    const qlab_point *p = job->p;
    quant_matmul_opts opts;
    if (qlab_point_opts(p, &opts, err, err_len))
        return 1;
    if (job->measure_memory)
        qlab_mem_peak_reset();
    quant_matmul_info info = {0};
    /* The checked run may reuse what earlier points on these operands computed (same
     * bits); the timed runs below do all the work every time. */
    quant_matmul_opts checked = opts;
    checked.cache = job->cache;
    quant_status st = quant_matmul_scheme(job->x, job->w, p->m, p->k, p->n, &checked, y, &info);
    if (st != QUANT_OK) {
        snprintf(err, err_len, "quantized matmul failed: %s%s%s", quant_status_str(st), info.detail[0] ? ": " : "",
                 info.detail);
        return 1;
    }
    if (job->bias)
        for (int64_t i = 0; i < p->m; i++)
            for (int64_t j = 0; j < p->n; j++)
                y[i * p->n + j] += job->bias[j];
    row->x_rel_err = info.x_rel_err;
    row->w_rel_err = info.w_rel_err;
    row->outlier_cols = info.outlier_cols;
    row->outlier_frac = (double)info.outlier_cols / (double)p->k;
    if (job->measure_memory) {
        row->w_bytes = info.w_bytes;
        row->w_code_bytes = info.w_code_bytes;
        row->w_scale_bytes = info.w_scale_bytes;
        row->w_scale2_bytes = info.w_scale2_bytes;
        row->w_outlier_bytes = info.w_outlier_bytes;
        row->w_bytes_fp16 = 2 * p->n * p->k;
        row->x_bytes = info.x_bytes;
        row->peak_bytes = qlab_mem_peak_bytes();
    }
    if (!job->measure_latency)
        return 0;

    /* Time into a scratch output so y keeps the result of the checked run. */
    float *scratch = malloc((size_t)(p->m * p->n) * sizeof *scratch);
    if (!scratch) {
        snprintf(err, err_len, "out of memory for the timing output");
        return 1;
    }
    int rc = time_pipeline(job, &opts, scratch, "total", samples, &row->t, err, err_len);
    if (rc == 0) {
        quant_matmul_opts fp16 = { .scheme = QUANT_SCHEME_FP16 };
        qlab_timing t16;
        rc = time_pipeline(job, &fp16, scratch, "fp16_gemm", samples, &t16, err, err_len);
        if (rc == 0) {
            row->fp16_median_us = t16.median_us;
            row->speedup_vs_fp16 = row->t.median_us > 0 ? t16.median_us / row->t.median_us : 0;
        }
    }
    free(scratch);
    if (rc == 0 && row->t.median_us > 0) {
        double sec = row->t.median_us * 1e-6;
        row->tops = 2.0 * (double)p->m * (double)p->n * (double)p->k / sec / 1e12;
        /* Bytes that must move: the operands as stored plus the float32 output. */
        double bytes = (double)(info.x_bytes + info.w_bytes) + 4.0 * (double)(p->m * p->n);
        row->gbps = bytes / sec / 1e9;
    }
    return rc;
}

static void cpu_describe(void (*set)(void *ctx, const char *key, const char *value), void *ctx)
{
    char buf[256] = "unknown cpu";
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (f) {
        char line[512];
        while (fgets(line, sizeof line, f)) {
            if (strncmp(line, "model name", 10) == 0) {
                char *c = strchr(line, ':');
                if (c) {
                    c += 2;
                    c[strcspn(c, "\n")] = '\0';
                    snprintf(buf, sizeof buf, "%s", c);
                }
                break;
            }
        }
        fclose(f);
    }
    set(ctx, "device", buf);
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    snprintf(buf, sizeof buf, "%ld", n);
    set(ctx, "cpu_cores", buf);
}

const qlab_backend qlab_backend_cpu = {
    .name = "cpu",
    .available = cpu_available,
    .run = cpu_run,
    .describe = cpu_describe,
};

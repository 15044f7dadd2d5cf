/* backend_cuda.c: the cuda backend, qlab's kernels (kernels/qlab_cuda.h) run and timed
 * on the GPU. Built only when nvcc is found (files named harness/ *_cuda.c).
 *
 * One point, as DESIGN section 5 asks:
 *   1. X, W and the bias are uploaded as float32; W is quantized once, untimed
 *      (weights are quantized offline), inside qk_linear_create.
 *   2. The checked run: X float32 in, Y float32 out. Its int8 codes are those of
 *      quant/ bit for bit, and Y is what the runner's metrics see.
 *   3. The timed runs: X in fp16 (what a model's activations are) and Y out in fp16
 *      (what the next layer reads, and what the fp16 baseline writes), so the int8
 *      pipeline and the fp16 GEMM move the same kind of bytes. Warm-up first; before
 *      each sample the L2 cache is flushed outside the timed window; CUDA events
 *      bracket every stage; sampling stops by qlab_timing_should_stop on the "total"
 *      samples; every sample is pushed with its stage name.
 *   4. The fp16 and bf16 cuBLASLt GEMMs of the same shape are timed the same way in
 *      the same run (stages "fp16_gemm", "bf16_gemm"); speedup_vs_fp16 is the ratio of
 *      medians.
 * Float schemes (fp32, fp16, bf16) are one cuBLASLt GEMM of the rounded operands
 * (float32 accumulation; fp32 never uses TF32); the timed fp16/bf16 GEMM writes its
 * operand type, the checked one float32.
 * Schemes without a GPU matmul (block granularity) fail with a message saying so; the
 * cpu backend runs them.
 * Memory: w_bytes / x_bytes are counted as quant/ counts them (codes + scales (+ zero
 * points) (+ fp16 outlier columns)); the device copies also pad rows to 16 bytes and
 * keep int32 row sums for zeropoint. peak_bytes is the peak of device memory
 * allocated through qlab's tracking allocator during the point, not counting the
 * context's persistent cuBLASLt workspace and L2 flush buffer.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "../kernels/qlab_cuda.h"

/* One context for the process: its plans, workspace and flush buffer serve every
 * point. Created on first use. */
static qk_ctx *g_ctx;

static qk_ctx *cuda_ctx(char *err, size_t err_len)
{
    if (!g_ctx && qk_ctx_create(0, &g_ctx, err, err_len) != QK_OK)
        g_ctx = NULL;
    return g_ctx;
}

static int cuda_available(char *why, size_t why_len)
{
    return qk_device_usable(why, why_len);
}

/* ------------------------------------------------------------------------------ */
/* Timing loop                                                                     */

#define MAX_STAGES 5

/* A timed operation: runs once and writes the stage times in ms, [0] = total. */
typedef qk_status (*timed_fn)(qk_ctx *c, void *arg, float *ms);

static int fail_kernel(qk_ctx *c, const char *what, char *err, size_t err_len)
{
    snprintf(err, err_len, "%s: %s", what, qk_ctx_error(c));
    return 1;
}

/* Warm-up, then flushed samples until the stopping rule holds. stages[0] is the
 * name of the total. */
static int time_loop(qk_ctx *c, const qlab_backend_job *job, timed_fn fn, void *arg,
                     const char *const *stages, int n_stages, qlab_samples *samples,
                     qlab_timing *out, char *err, size_t err_len)
{
    const qlab_timing_opts *o = job->timing;
    float ms[MAX_STAGES];
    for (int64_t i = 0; i < o->warmup; i++) {
        if (qk_l2_flush(c) != QK_OK || fn(c, arg, ms) != QK_OK)
            return fail_kernel(c, stages[0], err, err_len);
    }
    int64_t cap = 64, n = 0;
    double *us = malloc((size_t)cap * sizeof *us);
    if (!us) {
        snprintf(err, err_len, "out of memory for timing samples");
        return 1;
    }
    double start = qlab_now_s();
    for (;;) {
        /* The flush is enqueued before the start event, so it is outside the window. */
        if (qk_l2_flush(c) != QK_OK || fn(c, arg, ms) != QK_OK) {
            free(us);
            return fail_kernel(c, stages[0], err, err_len);
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
        us[n++] = (double)ms[0] * 1e3;
        for (int s = 0; s < n_stages; s++) {
            if (qlab_samples_push(samples, job->p->id, stages[s], (double)ms[s] * 1e3)) {
                free(us);
                snprintf(err, err_len, "out of memory for timing samples");
                return 1;
            }
        }
        if (qlab_timing_should_stop(us, n, qlab_now_s() - start, o))
            break;
    }
    qlab_timing_summarize(us, n, out);
    free(us);
    return 0;
}

/* A float GEMM timed between two events. */
typedef struct {
    qk_timer *timer;
    qk_dtype ab, ydt;
    const void *x, *w;
    void *y;
    int64_t ld, m, k, n;
} gemm_arg;

static qk_status timed_gemm(qk_ctx *c, void *argp, float *ms)
{
    gemm_arg *a = argp;
    qk_status st = qk_timer_mark(c, a->timer, 0);
    if (st == QK_OK)
        st = qk_gemm_float(c, a->ab, a->x, a->ld, a->w, a->ld, a->y, a->ydt, a->n, a->m, a->k, a->n,
                           1.0f, 0.0f);
    if (st == QK_OK)
        st = qk_timer_mark(c, a->timer, 1);
    if (st == QK_OK)
        st = qk_timer_ms(c, a->timer, 0, 1, &ms[0]);
    return st;
}

/* The quantized linear layer, timed by its own stage events. */
typedef struct {
    qk_linear *lin;
    const void *x;
    int64_t ldx;
    const float *bias;
    void *y;
    int64_t n;
} linear_arg;

static qk_status timed_linear(qk_ctx *c, void *argp, float *ms)
{
    linear_arg *a = argp;
    qk_linear_times t;
    memset(&t, 0, sizeof t);
    qk_status st = qk_linear_forward(c, a->lin, a->x, QK_DTYPE_F16, a->ldx, a->bias, a->y, QK_DTYPE_F16,
                                     a->n, &t);
    ms[0] = t.total_ms;
    ms[1] = t.quantize_x_ms;
    ms[2] = t.gemm_i8_ms;
    ms[3] = t.outlier_gemm_ms;
    ms[4] = t.dequant_ms;
    return st;
}

/* ------------------------------------------------------------------------------ */
/* Operand errors, as quant_matmul_scheme defines them                             */

/* x_rel_err / w_rel_err of the int8 path: the dequantized operands with the outlier
 * columns replaced by the fp16 values that took their place (quant/matmul.c). */
static int int8_operand_errors(qk_ctx *c, qk_linear *lin, const quant_matmul_opts *o, const float *x,
                               const float *w, int64_t m, int64_t k, int64_t n, qlab_row *row,
                               int64_t *n_out, char *err, size_t err_len)
{
    const qk_qmatrix *dqx = qk_linear_last_x(lin), *dqw = qk_linear_weights(lin);
    quant_matrix hx, hw;
    memset(&hx, 0, sizeof hx);
    memset(&hw, 0, sizeof hw);
    float *xe = malloc((size_t)(m * k) * sizeof *xe);
    float *we = malloc((size_t)(n * k) * sizeof *we);
    uint8_t *flags = malloc((size_t)k);
    int rc = 1;
    if (!xe || !we || !flags) {
        snprintf(err, err_len, "out of host memory for operand errors");
        goto done;
    }
    if (quant_matrix_init(&hx, o->scheme, o->x_gran, m, k, o->block) != QUANT_OK ||
        quant_matrix_init(&hw, o->scheme, o->w_gran, n, k, o->block) != QUANT_OK) {
        snprintf(err, err_len, "out of host memory for operand errors");
        goto done;
    }
    if (qk_qmatrix_download(c, dqx, &hx) != QK_OK || qk_qmatrix_download(c, dqw, &hw) != QK_OK ||
        qk_download(c, flags, qk_linear_flags(lin), (size_t)k) != QK_OK) {
        fail_kernel(c, "reading back the quantized operands", err, err_len);
        goto done;
    }
    quant_dequantize(&hx, xe);
    quant_dequantize(&hw, we);
    int64_t no = 0;
    for (int64_t j = 0; j < k; j++) {
        if (!flags[j])
            continue;
        no++;
        for (int64_t i = 0; i < m; i++)
            xe[i * k + j] = quant_f16_to_f32(quant_f32_to_f16(x[i * k + j]));
        for (int64_t i = 0; i < n; i++) {
            float src = o->outlier_weights == QUANT_OUTLIER_DEQUANT ? we[i * k + j] : w[i * k + j];
            we[i * k + j] = quant_f16_to_f32(quant_f32_to_f16(src));
        }
    }
    row->x_rel_err = quant_rel_err_f32(xe, x, (size_t)(m * k));
    row->w_rel_err = quant_rel_err_f32(we, w, (size_t)(n * k));
    *n_out = no;
    rc = 0;
done:
    quant_matrix_free(&hx);
    quant_matrix_free(&hw);
    free(xe);
    free(we);
    free(flags);
    return rc;
}

/* ------------------------------------------------------------------------------ */
/* run                                                                             */

static qk_dtype float_dtype(quant_scheme s)
{
    return s == QUANT_SCHEME_FP16 ? QK_DTYPE_F16 : s == QUANT_SCHEME_BF16 ? QK_DTYPE_BF16 : QK_DTYPE_F32;
}

/* Bytes of a quantized operand as quant/ counts them. */
static int64_t q_bytes(quant_scheme s, quant_gran g, int64_t rows, int64_t cols, int64_t block)
{
    int64_t groups = g == QUANT_GRAN_TENSOR ? 1 : g == QUANT_GRAN_BLOCK ? rows * (cols / block) : rows;
    int64_t b = rows * cols + 4 * groups;
    if (s == QUANT_SCHEME_ZEROPOINT)
        b += 4 * groups;
    return b;
}

static int cuda_run(const qlab_backend_job *job, float *y, qlab_row *row, qlab_samples *samples,
                    char *err, size_t err_len)
{
    const qlab_point *p = job->p;
    const int64_t m = p->m, k = p->k, n = p->n;
    quant_matmul_opts o;
    if (qlab_point_opts(p, &o, err, err_len))
        return 1;
    const quant_scheme_traits *tr = quant_scheme_get(o.scheme);
    /* Schemes quant/ defines but the cuda backend does not run yet fail the point
     * (the sweep goes on) with a message that says what to do instead. */
    if (tr->kind == QUANT_KIND_FP8 || tr->kind == QUANT_KIND_4BIT || o.smooth_alpha > 0.0f) {
        snprintf(err, err_len, "%s%s on cuda: no kernel yet: run with --backend cpu", tr->name,
                 o.smooth_alpha > 0.0f ? " with smooth_alpha" : "");
        return 1;
    }
    qk_ctx *c = cuda_ctx(err, err_len);
    if (!c)
        return 1;
    const int64_t base_bytes = qk_mem_current(c);
    qk_mem_reset_peak(c);

    int rc = 1;
    float *d_x = NULL, *d_w = NULL, *d_b = NULL, *d_y = NULL;
    void *d_x16 = NULL, *d_y16 = NULL, *d_xa = NULL, *d_wa = NULL, *d_ya = NULL;
    qk_linear *lin = NULL;
    qk_timer *timer = NULL;
    int64_t y_bytes_timed = 0, x_bytes_timed = 0;

    if (qk_malloc(c, (void **)&d_x, (size_t)(m * k) * 4) != QK_OK ||
        qk_malloc(c, (void **)&d_w, (size_t)(n * k) * 4) != QK_OK ||
        qk_malloc(c, (void **)&d_y, (size_t)(m * n) * 4) != QK_OK ||
        (job->bias && qk_malloc(c, (void **)&d_b, (size_t)n * 4) != QK_OK)) {
        fail_kernel(c, "allocating the operands", err, err_len);
        goto done;
    }
    if (qk_upload(c, d_x, job->x, (size_t)(m * k) * 4) != QK_OK ||
        qk_upload(c, d_w, job->w, (size_t)(n * k) * 4) != QK_OK ||
        (job->bias && qk_upload(c, d_b, job->bias, (size_t)n * 4) != QK_OK)) {
        fail_kernel(c, "uploading the operands", err, err_len);
        goto done;
    }
    if (qk_timer_create(c, 2, &timer) != QK_OK) {
        fail_kernel(c, "creating events", err, err_len);
        goto done;
    }

    if (tr->is_int8) {
        qk_linear_opts lo = {
            .scheme = o.scheme, .x_gran = o.x_gran, .w_gran = o.w_gran, .block = o.block,
            .threshold = o.threshold, .outlier_weights = o.outlier_weights,
        };
        if (qk_linear_create(c, &lo, d_w, m, k, n, &lin) != QK_OK) {
            fail_kernel(c, "cuda backend", err, err_len);
            goto done;
        }
        /* The checked run: float32 in and out, codes identical to quant/. */
        if (qk_linear_forward(c, lin, d_x, QK_DTYPE_F32, k, d_b, d_y, QK_DTYPE_F32, n, NULL) != QK_OK ||
            qk_download(c, y, d_y, (size_t)(m * n) * 4) != QK_OK) {
            fail_kernel(c, "int8 forward", err, err_len);
            goto done;
        }
        int64_t no = 0;
        if (int8_operand_errors(c, lin, &o, job->x, job->w, m, k, n, row, &no, err, err_len))
            goto done;
        row->outlier_cols = no;
        row->outlier_frac = (double)no / (double)k;
        row->w_bytes = q_bytes(o.scheme, o.w_gran, n, k, o.block) +
                       (o.threshold > 0 && o.outlier_weights == QUANT_OUTLIER_FP16 ? 2 * n * no : 0);
        row->x_bytes = q_bytes(o.scheme, o.x_gran, m, k, o.block) + 2 * m * no;
        if (job->measure_latency) {
            if (qk_malloc(c, &d_x16, (size_t)(m * k) * 2) != QK_OK ||
                qk_malloc(c, &d_y16, (size_t)(m * n) * 2) != QK_OK ||
                qk_convert(c, d_x, m, k, k, d_x16, QK_DTYPE_F16, k) != QK_OK) {
                fail_kernel(c, "preparing the timed fp16 input", err, err_len);
                goto done;
            }
            linear_arg la = { .lin = lin, .x = d_x16, .ldx = k, .bias = d_b, .y = d_y16, .n = n };
            static const char *const stages[] = { "total", "quantize_x", "gemm_i8", "outlier_gemm", "dequant" };
            if (time_loop(c, job, timed_linear, &la, stages, 5, samples, &row->t, err, err_len))
                goto done;
            x_bytes_timed = 2 * m * k;
            y_bytes_timed = 2 * m * n;
        }
    } else {
        /* Float schemes: operands rounded to the scheme's type, rows padded to 16
         * bytes with zeros (exact) so the tensor-core kernels apply to any k. */
        const qk_dtype dt = float_dtype(o.scheme);
        const size_t es = qk_dtype_size(dt);
        const int64_t ld = dt == QK_DTYPE_F32 ? k : (k + 7) / 8 * 8;
        const void *xa = d_x, *wa = d_w;
        if (dt != QK_DTYPE_F32) {
            if (qk_malloc(c, &d_xa, (size_t)(m * ld) * es) != QK_OK ||
                qk_malloc(c, &d_wa, (size_t)(n * ld) * es) != QK_OK ||
                qk_convert(c, d_x, m, k, k, d_xa, dt, ld) != QK_OK ||
                qk_convert(c, d_w, n, k, k, d_wa, dt, ld) != QK_OK) {
                fail_kernel(c, "rounding the operands", err, err_len);
                goto done;
            }
            xa = d_xa;
            wa = d_wa;
        }
        if (qk_gemm_float(c, dt, xa, ld, wa, ld, d_y, QK_DTYPE_F32, n, m, ld, n, 1.0f, 0.0f) != QK_OK ||
            qk_download(c, y, d_y, (size_t)(m * n) * 4) != QK_OK) {
            fail_kernel(c, "float GEMM", err, err_len);
            goto done;
        }
        if (job->bias)
            for (int64_t i = 0; i < m; i++)
                for (int64_t j = 0; j < n; j++)
                    y[i * n + j] += job->bias[j];
        /* Operand round-trip errors: the rounding of X and W to the scheme's type. */
        if (dt != QK_DTYPE_F32) {
            float *r = malloc((size_t)((m > n ? m : n) * k) * sizeof *r);
            if (!r) {
                snprintf(err, err_len, "out of host memory");
                goto done;
            }
            void (*round_fn)(const float *, float *, size_t) =
                dt == QK_DTYPE_F16 ? quant_round_f16 : quant_round_bf16;
            round_fn(job->x, r, (size_t)(m * k));
            row->x_rel_err = quant_rel_err_f32(r, job->x, (size_t)(m * k));
            round_fn(job->w, r, (size_t)(n * k));
            row->w_rel_err = quant_rel_err_f32(r, job->w, (size_t)(n * k));
            free(r);
        }
        row->w_bytes = n * k * (int64_t)es;
        row->x_bytes = m * k * (int64_t)es;
        if (job->measure_latency) {
            if (dt != QK_DTYPE_F32 && qk_malloc(c, &d_ya, (size_t)(m * n) * es) != QK_OK) {
                fail_kernel(c, "allocating the timed output", err, err_len);
                goto done;
            }
            gemm_arg ga = { .timer = timer, .ab = dt, .ydt = dt, .x = xa, .w = wa,
                            .y = dt == QK_DTYPE_F32 ? (void *)d_y : d_ya, .ld = ld, .m = m, .k = k, .n = n };
            static const char *const stages[] = { "total" };
            if (time_loop(c, job, timed_gemm, &ga, stages, 1, samples, &row->t, err, err_len))
                goto done;
            x_bytes_timed = m * k * (int64_t)es;
            y_bytes_timed = m * n * (int64_t)es;
        }
    }
    row->w_bytes_fp16 = 2 * n * k;

    /* Baselines of the same shape in the same run. */
    if (job->measure_latency) {
        const int64_t ld = (k + 7) / 8 * 8;
        static const qk_dtype base_dt[2] = { QK_DTYPE_F16, QK_DTYPE_BF16 };
        static const char *const base_stage[2][1] = { { "fp16_gemm" }, { "bf16_gemm" } };
        for (int b = 0; b < 2; b++) {
            /* Reuse the rounded operands of an fp16/bf16 point; otherwise make them. */
            qk_free(c, d_xa);
            qk_free(c, d_wa);
            qk_free(c, d_ya);
            d_xa = d_wa = d_ya = NULL;
            if (qk_malloc(c, &d_xa, (size_t)(m * ld) * 2) != QK_OK ||
                qk_malloc(c, &d_wa, (size_t)(n * ld) * 2) != QK_OK ||
                qk_malloc(c, &d_ya, (size_t)(m * n) * 2) != QK_OK ||
                qk_convert(c, d_x, m, k, k, d_xa, base_dt[b], ld) != QK_OK ||
                qk_convert(c, d_w, n, k, k, d_wa, base_dt[b], ld) != QK_OK) {
                fail_kernel(c, "preparing the fp16/bf16 baseline", err, err_len);
                goto done;
            }
            gemm_arg ga = { .timer = timer, .ab = base_dt[b], .ydt = base_dt[b], .x = d_xa, .w = d_wa,
                            .y = d_ya, .ld = ld, .m = m, .k = k, .n = n };
            qlab_timing tb;
            if (time_loop(c, job, timed_gemm, &ga, base_stage[b], 1, samples, &tb, err, err_len))
                goto done;
            if (b == 0) {
                row->fp16_median_us = tb.median_us;
                row->speedup_vs_fp16 = row->t.median_us > 0 ? tb.median_us / row->t.median_us : 0;
            }
        }
        if (row->t.median_us > 0) {
            double sec = row->t.median_us * 1e-6;
            row->tops = 2.0 * (double)m * (double)n * (double)k / sec / 1e12;
            /* Bytes that must move: the timed input, the stored weights, the output. */
            row->gbps = (double)(x_bytes_timed + row->w_bytes + y_bytes_timed) / sec / 1e9;
        }
    }
    rc = 0;

done:
    if (job->measure_memory)
        row->peak_bytes = qk_mem_peak(c) - base_bytes;
    qk_linear_free(c, lin);
    qk_timer_free(timer);
    qk_free(c, d_x);
    qk_free(c, d_w);
    qk_free(c, d_b);
    qk_free(c, d_y);
    qk_free(c, d_x16);
    qk_free(c, d_y16);
    qk_free(c, d_xa);
    qk_free(c, d_wa);
    qk_free(c, d_ya);
    return rc;
}

/* ------------------------------------------------------------------------------ */
/* describe                                                                        */

static void cuda_describe(void (*set)(void *ctx, const char *key, const char *value), void *ctx)
{
    char buf[320], err[256];
    qk_device_info d;
    if (qk_device_query(0, &d, err, sizeof err) != QK_OK) {
        set(ctx, "device", "unknown CUDA device");
        set(ctx, "device_error", err);
        return;
    }
    set(ctx, "device", d.name);
    snprintf(buf, sizeof buf, "%d.%d", d.cc_major, d.cc_minor);
    set(ctx, "compute_capability", buf);
    snprintf(buf, sizeof buf, "%d", d.sm_count);
    set(ctx, "sm_count", buf);
    snprintf(buf, sizeof buf, "%d", d.sm_clock_max_mhz);
    set(ctx, "sm_clock_max_mhz", buf);
    snprintf(buf, sizeof buf, "%d", d.sm_clock_now_mhz);
    set(ctx, "sm_clock_mhz", buf);
    snprintf(buf, sizeof buf, "%d", d.mem_clock_max_mhz);
    set(ctx, "mem_clock_max_mhz", buf);
    snprintf(buf, sizeof buf, "%lld", (long long)d.l2_bytes);
    set(ctx, "l2_bytes", buf);
    snprintf(buf, sizeof buf, "%lld", (long long)d.total_mem_bytes);
    set(ctx, "device_mem_bytes", buf);
    snprintf(buf, sizeof buf, "%d.%d", d.driver_version / 1000, (d.driver_version % 1000) / 10);
    set(ctx, "cuda_driver", buf);
    snprintf(buf, sizeof buf, "%d.%d", d.runtime_version / 1000, (d.runtime_version % 1000) / 10);
    set(ctx, "cuda_runtime", buf);
    snprintf(buf, sizeof buf, "%lld", (long long)d.cublaslt_version);
    set(ctx, "cublaslt_version", buf);

    qk_ctx *c = cuda_ctx(err, sizeof err);
    if (!c) {
        set(ctx, "device_error", err);
        return;
    }
    int64_t free_b = 0, total_b = 0;
    if (qk_mem_info(c, &free_b, &total_b) == QK_OK) {
        snprintf(buf, sizeof buf, "%lld", (long long)free_b);
        set(ctx, "device_mem_free_bytes", buf);
    }
    /* Measured once per run, so kernels' GB/s can be read as a fraction of it. */
    double gbps = 0;
    if (qk_copy_bandwidth(c, (size_t)256 << 20, 20, &gbps) == QK_OK) {
        snprintf(buf, sizeof buf, "%.1f", gbps);
        set(ctx, "copy_bandwidth_gbps", buf);
    } else {
        set(ctx, "copy_bandwidth_error", qk_ctx_error(c));
    }
}

const qlab_backend qlab_backend_cuda = {
    .name = "cuda",
    .available = cuda_available,
    .run = cuda_run,
    .describe = cuda_describe,
};

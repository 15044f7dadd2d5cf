/* backend_cuda.c: the cuda backend, qlab's kernels (kernels/qlab_cuda.h) run and timed
 * on the GPU. Built only when nvcc is found (files named harness/ *_cuda.c).
 *
 * One point, as DESIGN section 5 asks:
 *   1. X, W and the bias are uploaded as float32; W is quantized once, untimed
 *      (weights are quantized offline), inside qk_linear_create.
 *   2. The checked run: X float32 in, Y float32 out. Its int8 codes are those of
 *      quant/ bit for bit, and Y is what the runner's metrics see. When the
 *      experiment measures no error (job->skip_error), the checked run, Y's read-back
 *      and the operand-error passes (host-side dequantization of W: seconds on large
 *      layers) are skipped; the memory columns come from the formats' formulas and
 *      the outlier count from X's outlier detection alone.
 *   3. The timed runs: X in fp16 (what a model's activations are) and Y out in fp16
 *      (what the next layer reads, and what the fp16 baseline writes), so the int8
 *      pipeline and the fp16 GEMM move the same kind of bytes. Warm-up first; before
 *      each sample the L2 cache is flushed outside the timed window; CUDA events
 *      bracket every stage; sampling stops by qlab_timing_should_stop on the "total"
 *      samples; every sample is pushed with its stage name.
 *   4. The fp16 and bf16 cuBLASLt GEMMs of the same shape are timed the same way in
 *      the same run (stages "fp16_gemm", "bf16_gemm"); speedup_vs_fp16 is the ratio of
 *      medians.
 * The point's message says when the GEMM is not the plain one: int8 padded to more
 * rows because cuBLASLt refused few, or fp8 widened to fp16, each with the reason
 * (cuBLASLt's message where it refused).
 * Float schemes (fp32, fp16, bf16) are one cuBLASLt GEMM of the rounded operands
 * (float32 accumulation; fp32 never uses TF32); the timed fp16/bf16 GEMM writes its
 * operand type, the checked one float32.
 * Schemes without a GPU matmul (block granularity) fail with a message saying so; the
 * cpu backend runs them.
 * Memory: w_bytes / x_bytes are counted as quant/ counts them (codes + scales (+ zero
 * points) (+ fp16 outlier columns)); the device copies also pad rows to 16 bytes and
 * keep int32 row sums for zeropoint. peak_bytes is the peak of device memory
 * allocated through qlab's tracking allocator by the scheme's pipeline (quantized
 * weights, activation codes, accumulators, scratch, the fp16 copies a float scheme
 * multiplies), not counting the float32 staging copies of X, W and Y that every
 * point uploads, the fp16/bf16 baselines timed after it, or the context's
 * persistent cuBLASLt workspace and L2 flush buffer.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backends/backend.h"
#include "kernels/qlab_cuda.h"

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

/* One flushed run of a timed operation, in the shape qlab_time_stages wants. */
typedef struct {
    qk_ctx *c;
    timed_fn fn;
    void *arg;
    const char *name;
    int n_stages;
} flushed_arg;

static int flushed_run(void *argp, double *us, char *err, size_t err_len)
{
    flushed_arg *a = argp;
    float ms[MAX_STAGES];
    /* The flush is enqueued before the operation's start event: outside the window. */
    if (qk_l2_flush(a->c) != QK_OK || a->fn(a->c, a->arg, ms) != QK_OK)
        return fail_kernel(a->c, a->name, err, err_len);
    for (int s = 0; s < a->n_stages; s++)
        us[s] = (double)ms[s] * 1e3;
    return 0;
}

/* Warm-up, then flushed samples until the stopping rule holds. stages[0] is the
 * name of the total. */
static int time_loop(qk_ctx *c, const qlab_backend_job *job, timed_fn fn, void *arg,
                     const char *const *stages, int n_stages, qlab_samples *samples,
                     qlab_timing *out, char *err, size_t err_len)
{
    flushed_arg a = { .c = c, .fn = fn, .arg = arg, .name = stages[0], .n_stages = n_stages };
    return qlab_time_stages(job, flushed_run, &a, stages, n_stages, samples, out, err, err_len);
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

/* x_rel_err / w_rel_err of the int8 and fp8 paths: the dequantized operands with the
 * outlier columns replaced by the fp16 values that took their place (quant/matmul.c).
 * x and w are the operands the scheme ran on (smoothed under SmoothQuant). Also the
 * stored bytes of the operands read back, counted as quant/ counts them: X's codes and
 * scales (*xb), W's codes (*wcb) and scales (*wsb). */
static int lowp_operand_errors(qk_ctx *c, qk_linear *lin, const quant_matmul_opts *o, const float *x,
                               const float *w, int64_t m, int64_t k, int64_t n, qlab_row *row,
                               int64_t *n_out, int64_t *xb, int64_t *wcb, int64_t *wsb, char *err,
                               size_t err_len)
{
    const int fp8 = quant_scheme_get(o->scheme)->kind == QUANT_KIND_FP8;
    quant_matrix hx, hw;
    memset(&hx, 0, sizeof hx);
    memset(&hw, 0, sizeof hw);
    float *xe = malloc((size_t)(m * k) * sizeof *xe);
    float *we = malloc((size_t)(n * k) * sizeof *we);
    uint8_t *flags = calloc((size_t)k, 1);
    uint8_t *cx = NULL, *cw = NULL;
    float *sx = NULL, *sw = NULL;
    int rc = 1;
    if (!xe || !we || !flags) {
        snprintf(err, err_len, "out of host memory for operand errors");
        goto done;
    }
    if (fp8) {
        const int64_t nsx = o->x_gran == QUANT_GRAN_TENSOR ? 1 : m, nsw = o->w_gran == QUANT_GRAN_TENSOR ? 1 : n;
        cx = malloc((size_t)(m * k));
        cw = malloc((size_t)(n * k));
        sx = malloc((size_t)m * sizeof *sx);
        sw = malloc((size_t)n * sizeof *sw);
        if (!cx || !cw || !sx || !sw) {
            snprintf(err, err_len, "out of host memory for operand errors");
            goto done;
        }
        if (qk_linear_fp8_download(c, lin, cx, sx, cw, sw) != QK_OK) {
            fail_kernel(c, "reading back the fp8 operands", err, err_len);
            goto done;
        }
        /* quant/ refuses a group whose scale overflows float32 (max|v| below about
         * 448 / FLT_MAX); the kernels cannot report it, so it is caught here. */
        for (int64_t i = 0; i < (nsx > nsw ? nsx : nsw); i++) {
            if ((i < nsx && !isfinite(sx[i])) || (i < nsw && !isfinite(sw[i]))) {
                snprintf(err, err_len, "fp8 scale out of float32 range: %s", quant_status_str(QUANT_ERR_RANGE));
                goto done;
            }
        }
        quant_fp8_dequantize(o->scheme, cx, sx, m * k, m * k / nsx, xe);
        quant_fp8_dequantize(o->scheme, cw, sw, n * k, n * k / nsw, we);
        *xb = m * k + 4 * nsx;
        *wcb = n * k;
        *wsb = 4 * nsw;
    } else {
        if (quant_matrix_init(&hx, o->scheme, o->x_gran, m, k, o->block) != QUANT_OK ||
            quant_matrix_init(&hw, o->scheme, o->w_gran, n, k, o->block) != QUANT_OK) {
            snprintf(err, err_len, "out of host memory for operand errors");
            goto done;
        }
        if (qk_qmatrix_download(c, qk_linear_last_x(lin), &hx) != QK_OK ||
            qk_qmatrix_download(c, qk_linear_weights(lin), &hw) != QK_OK) {
            fail_kernel(c, "reading back the quantized operands", err, err_len);
            goto done;
        }
        quant_dequantize(&hx, xe);
        quant_dequantize(&hw, we);
        *xb = quant_matrix_code_bytes(&hx) + quant_matrix_scale_bytes(&hx);
        *wcb = quant_matrix_code_bytes(&hw);
        *wsb = quant_matrix_scale_bytes(&hw);
    }
    if (o->threshold > 0 && qk_download(c, flags, qk_linear_flags(lin), (size_t)k) != QK_OK) {
        fail_kernel(c, "reading back the outlier flags", err, err_len);
        goto done;
    }
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
    free(cx);
    free(cw);
    free(sx);
    free(sw);
    return rc;
}

/* The stored bytes of the int8 / fp8 operands as quant/ counts them, from the shapes
 * alone (what lowp_operand_errors reads back): X's codes and scales (*xb), W's codes
 * (*wcb) and scales (*wsb). */
static void lowp_bytes(const quant_matmul_opts *o, int64_t m, int64_t k, int64_t n, int64_t *xb, int64_t *wcb,
                       int64_t *wsb)
{
    if (quant_scheme_get(o->scheme)->kind == QUANT_KIND_FP8) {
        const int64_t nsx = o->x_gran == QUANT_GRAN_TENSOR ? 1 : m, nsw = o->w_gran == QUANT_GRAN_TENSOR ? 1 : n;
        *xb = m * k + 4 * nsx;
        *wcb = n * k;
        *wsb = 4 * nsw;
        return;
    }
    quant_status st;
    quant_matrix hx = { .scheme = o->scheme, .gran = o->x_gran, .rows = m, .cols = k };
    quant_matrix hw = { .scheme = o->scheme, .gran = o->w_gran, .rows = n, .cols = k };
    hx.n_groups = quant_group_count(o->x_gran, m, k, o->block, &st);
    hw.n_groups = quant_group_count(o->w_gran, n, k, o->block, &st);
    *xb = quant_matrix_code_bytes(&hx) + quant_matrix_scale_bytes(&hx);
    *wcb = quant_matrix_code_bytes(&hw);
    *wsb = quant_matrix_scale_bytes(&hw);
}

/* ------------------------------------------------------------------------------ */
/* The three kinds of scheme                                                       */

/* What every path shares: the job, the device operands (float32 X and W, the
 * operands the scheme runs on; bias; a float32 Y) and the bytes its timed run moves. */
typedef struct {
    qk_ctx *c;
    const qlab_backend_job *job;
    const quant_matmul_opts *o;
    const float *x, *w;          /* host: the operands the scheme runs on */
    int64_t m, k, n;
    float *d_x, *d_w, *d_b, *d_y;
    qk_timer *timer;             /* two marks */
    int64_t x_bytes_timed, y_bytes_timed;
} point_run;

static qk_dtype float_dtype(quant_scheme s)
{
    return s == QUANT_SCHEME_FP16 ? QK_DTYPE_F16 : s == QUANT_SCHEME_BF16 ? QK_DTYPE_BF16 : QK_DTYPE_F32;
}

/* int8 and fp8, with or without the outlier decomposition: qk_linear. */
static int run_lowp(point_run *pr, float *y, qlab_row *row, qlab_samples *samples, char *err, size_t err_len)
{
    qk_ctx *c = pr->c;
    const quant_matmul_opts *o = pr->o;
    const int64_t m = pr->m, k = pr->k, n = pr->n;
    const int fp8 = quant_scheme_get(o->scheme)->kind == QUANT_KIND_FP8;
    qk_linear *lin = NULL;
    void *d_x16 = NULL, *d_y16 = NULL;
    int rc = 1;
    qk_linear_opts lo = {
        .scheme = o->scheme, .x_gran = o->x_gran, .w_gran = o->w_gran, .block = o->block,
        .threshold = o->threshold, .outlier_weights = o->outlier_weights,
    };
    if (qk_linear_create(c, &lo, pr->d_w, m, k, n, &lin) != QK_OK) {
        fail_kernel(c, "cuda backend", err, err_len);
        goto done;
    }
    /* int8 padded to more rows, or fp8 widened to fp16: the point says so and why */
    if (qk_linear_note(lin)[0])
        snprintf(row->message, sizeof row->message, "%s", qk_linear_note(lin));
    int64_t no = 0, xb = 0;
    if (!pr->job->skip_error) {
        /* The checked run: float32 in and out, codes identical to quant/. */
        if (qk_linear_forward(c, lin, pr->d_x, QK_DTYPE_F32, k, pr->d_b, pr->d_y, QK_DTYPE_F32, n, NULL) != QK_OK ||
            qk_download(c, y, pr->d_y, (size_t)(m * n) * 4) != QK_OK) {
            fail_kernel(c, fp8 ? "fp8 forward" : "int8 forward", err, err_len);
            goto done;
        }
        if (lowp_operand_errors(c, lin, o, pr->x, pr->w, m, k, n, row, &no, &xb, &row->w_code_bytes,
                                &row->w_scale_bytes, err, err_len))
            goto done;
    } else {
        /* No error measured: the outlier count of float32 X (as the checked run would
         * count it) and the formats' byte counts; a forward without read-back when
         * nothing is timed either, so peak_bytes still sees the outlier buffers. */
        lowp_bytes(o, m, k, n, &xb, &row->w_code_bytes, &row->w_scale_bytes);
        if (qk_linear_outliers_of(c, lin, pr->d_x, QK_DTYPE_F32, k, &no) != QK_OK ||
            (!pr->job->measure_latency &&
             qk_linear_forward(c, lin, pr->d_x, QK_DTYPE_F32, k, pr->d_b, pr->d_y, QK_DTYPE_F32, n, NULL) != QK_OK)) {
            fail_kernel(c, fp8 ? "fp8 forward" : "int8 forward", err, err_len);
            goto done;
        }
    }
    row->outlier_cols = no;
    row->outlier_frac = (double)no / (double)k;
    row->w_outlier_bytes = o->threshold > 0 && o->outlier_weights == QUANT_OUTLIER_FP16 ? 2 * n * no : 0;
    row->w_bytes = row->w_code_bytes + row->w_scale_bytes + row->w_outlier_bytes;
    row->x_bytes = xb + 2 * m * no;
    if (pr->job->measure_latency) {
        if (qk_malloc(c, &d_x16, (size_t)(m * k) * 2) != QK_OK || qk_malloc(c, &d_y16, (size_t)(m * n) * 2) != QK_OK ||
            qk_convert(c, pr->d_x, m, k, k, d_x16, QK_DTYPE_F16, k) != QK_OK) {
            fail_kernel(c, "preparing the timed fp16 input", err, err_len);
            goto done;
        }
        linear_arg la = { .lin = lin, .x = d_x16, .ldx = k, .bias = pr->d_b, .y = d_y16, .n = n };
        /* The GEMM stage is named for what ran: the int8 GEMM, cuBLASLt's fp8 GEMM, or
         * the fp16 GEMM of widened fp8 codes. */
        const char *gemm = !fp8 ? "gemm_i8" : qk_linear_fp8_native(lin) ? "gemm_fp8" : "gemm_fp8_as_fp16";
        const char *const stages[] = { "total", "quantize_x", gemm, "outlier_gemm", "dequant" };
        if (time_loop(c, pr->job, timed_linear, &la, stages, 5, samples, &row->t, err, err_len))
            goto done;
        pr->x_bytes_timed = 2 * m * k;
        pr->y_bytes_timed = 2 * m * n;
    }
    rc = 0;
done:
    qk_linear_free(c, lin);
    qk_free(c, d_x16);
    qk_free(c, d_y16);
    return rc;
}

/* Float schemes: operands rounded to the scheme's type, rows padded to 16 bytes with
 * zeros (exact) so the tensor-core kernels apply to any k. */
static int run_float(point_run *pr, float *y, qlab_row *row, qlab_samples *samples, char *err, size_t err_len)
{
    qk_ctx *c = pr->c;
    const qlab_backend_job *job = pr->job;
    const int64_t m = pr->m, k = pr->k, n = pr->n;
    const qk_dtype dt = float_dtype(pr->o->scheme);
    const size_t es = qk_dtype_size(dt);
    const int64_t ld = dt == QK_DTYPE_F32 ? k : (k + 7) / 8 * 8;
    const void *xa = pr->d_x, *wa = pr->d_w;
    void *d_xa = NULL, *d_wa = NULL, *d_ya = NULL;
    int rc = 1;
    if (dt != QK_DTYPE_F32) {
        if (qk_malloc(c, &d_xa, (size_t)(m * ld) * es) != QK_OK || qk_malloc(c, &d_wa, (size_t)(n * ld) * es) != QK_OK ||
            qk_convert(c, pr->d_x, m, k, k, d_xa, dt, ld) != QK_OK ||
            qk_convert(c, pr->d_w, n, k, k, d_wa, dt, ld) != QK_OK) {
            fail_kernel(c, "rounding the operands", err, err_len);
            goto done;
        }
        xa = d_xa;
        wa = d_wa;
    }
    /* The checked run and the operand errors, unless no error is measured. */
    if (!job->skip_error &&
        (qk_gemm_float(c, dt, xa, ld, wa, ld, pr->d_y, QK_DTYPE_F32, n, m, ld, n, 1.0f, 0.0f) != QK_OK ||
         qk_download(c, y, pr->d_y, (size_t)(m * n) * 4) != QK_OK)) {
        fail_kernel(c, "float GEMM", err, err_len);
        goto done;
    }
    if (job->bias && !job->skip_error)
        for (int64_t i = 0; i < m; i++)
            for (int64_t j = 0; j < n; j++)
                y[i * n + j] += job->bias[j];
    /* Operand round-trip errors: the rounding of X and W to the scheme's type. */
    if (dt != QK_DTYPE_F32 && !job->skip_error) {
        float *r = malloc((size_t)((m > n ? m : n) * k) * sizeof *r);
        if (!r) {
            snprintf(err, err_len, "out of host memory");
            goto done;
        }
        void (*round_fn)(const float *, float *, size_t) = dt == QK_DTYPE_F16 ? quant_round_f16 : quant_round_bf16;
        round_fn(pr->x, r, (size_t)(m * k));
        row->x_rel_err = quant_rel_err_f32(r, pr->x, (size_t)(m * k));
        round_fn(pr->w, r, (size_t)(n * k));
        row->w_rel_err = quant_rel_err_f32(r, pr->w, (size_t)(n * k));
        free(r);
    }
    row->w_code_bytes = row->w_bytes = n * k * (int64_t)es;
    row->x_bytes = m * k * (int64_t)es;
    if (job->measure_latency) {
        if (dt != QK_DTYPE_F32 && qk_malloc(c, &d_ya, (size_t)(m * n) * es) != QK_OK) {
            fail_kernel(c, "allocating the timed output", err, err_len);
            goto done;
        }
        gemm_arg ga = { .timer = pr->timer, .ab = dt, .ydt = dt, .x = xa, .w = wa,
                        .y = dt == QK_DTYPE_F32 ? (void *)pr->d_y : d_ya, .ld = ld, .m = m, .k = k, .n = n };
        static const char *const stages[] = { "total" };
        if (time_loop(c, job, timed_gemm, &ga, stages, 1, samples, &row->t, err, err_len))
            goto done;
        pr->x_bytes_timed = m * k * (int64_t)es;
        pr->y_bytes_timed = m * n * (int64_t)es;
    }
    rc = 0;
done:
    qk_free(c, d_xa);
    qk_free(c, d_wa);
    qk_free(c, d_ya);
    return rc;
}

/* The 4-bit weight-only product, timed by its own marks. */
typedef struct {
    qk_timer *timer;             /* four marks */
    quant_scheme scheme;
    const void *x16;
    const uint8_t *codes;
    const int8_t *qabsmax;       /* double quantization: int8 block scales, else NULL */
    const float *dq_scales;
    float dq_mean;
    int64_t n_blocks;
    float *absmax;               /* the float32 block scales (expanded here under dq) */
    void *wscratch;              /* fp16 [n, k] (GEMM path) */
    float *y;
    int64_t m, k, n, block;
} fourbit_arg;

/* One 4-bit forward: [expand the block scales] then the GEMV (m <= 16) or dequantize
 * to fp16 + GEMM. ms: [0] total, [1] scales/dequantize stage, [2] the product. */
static qk_status fourbit_forward(qk_ctx *c, fourbit_arg *a, float *ms)
{
    qk_status st = a->timer ? qk_timer_mark(c, a->timer, 0) : QK_OK;
    if (st == QK_OK && a->qabsmax)
        st = qk_4bit_absmax_dq(c, a->qabsmax, a->dq_scales, a->dq_mean, a->n_blocks, a->absmax);
    if (a->m <= QK_4BIT_GEMV_MAX_M) {
        if (st == QK_OK && a->timer)
            st = qk_timer_mark(c, a->timer, 1);
        if (st == QK_OK)
            st = qk_4bit_gemv_f16(c, a->scheme, a->x16, a->k, a->codes, a->absmax, a->m, a->k, a->n, a->block, a->y,
                                  a->n);
    } else {
        if (st == QK_OK)
            st = qk_4bit_dequantize_f16(c, a->scheme, a->codes, a->absmax, a->n, a->k, a->block, a->wscratch, a->k);
        if (st == QK_OK && a->timer)
            st = qk_timer_mark(c, a->timer, 1);
        if (st == QK_OK)
            st = qk_gemm_float(c, QK_DTYPE_F16, a->x16, a->k, a->wscratch, a->k, a->y, QK_DTYPE_F32, a->n, a->m, a->k,
                               a->n, 1.0f, 0.0f);
    }
    if (st == QK_OK && a->timer)
        st = qk_timer_mark(c, a->timer, 2);
    if (st == QK_OK && a->timer && ms) {
        st = qk_timer_ms(c, a->timer, 0, 2, &ms[0]);
        if (st == QK_OK)
            st = qk_timer_ms(c, a->timer, 0, 1, &ms[1]);
        if (st == QK_OK)
            st = qk_timer_ms(c, a->timer, 1, 2, &ms[2]);
    }
    return st;
}

static qk_status timed_fourbit(qk_ctx *c, void *argp, float *ms)
{
    return fourbit_forward(c, (fourbit_arg *)argp, ms);
}

/* The GEMV without double quantization has no scale stage: the product goes in
 * slot 1, after the total. */
static qk_status timed_fourbit_gemv(qk_ctx *c, void *argp, float *ms)
{
    qk_status st = fourbit_forward(c, (fourbit_arg *)argp, ms);
    ms[1] = ms[2];
    return st;
}

/* nf4 / fp4 (+ double quantization): W quantized on the host by quant/ (offline, as
 * weights are; so the codes are quant/'s by construction), X and W' in fp16. */
static int run_4bit(point_run *pr, float *y, qlab_row *row, qlab_samples *samples, char *err, size_t err_len)
{
    qk_ctx *c = pr->c;
    const quant_matmul_opts *o = pr->o;
    const int64_t m = pr->m, k = pr->k, n = pr->n;
    quant_4bit q;
    memset(&q, 0, sizeof q);
    uint8_t *d_codes = NULL;
    int8_t *d_qabs = NULL;
    float *d_s2 = NULL, *d_absmax = NULL, *h = NULL;
    void *d_x16 = NULL, *d_wscr = NULL;
    qk_timer *t4 = NULL;
    int rc = 1;
    /* the block sizes quant_matmul_scheme takes, so both backends refuse the same points */
    quant_status qs = o->block < 32 || o->block > 4096 ? QUANT_ERR_BLOCK
                                                       : quant_4bit_init(&q, o->scheme, n, k, o->block);
    if (qs == QUANT_OK)
        qs = quant_4bit_quantize(pr->w, &q);
    if (qs != QUANT_OK) {
        snprintf(err, err_len, "4-bit quantization of W failed: %s", quant_status_str(qs));
        goto done;
    }
    const int dq = q.qabsmax != NULL;
    if (qk_malloc(c, (void **)&d_codes, (size_t)quant_4bit_code_bytes(&q)) != QK_OK ||
        qk_malloc(c, (void **)&d_absmax, (size_t)q.n_blocks * sizeof(float)) != QK_OK ||
        qk_malloc(c, &d_x16, (size_t)(m * k) * 2) != QK_OK ||
        (m > QK_4BIT_GEMV_MAX_M && qk_malloc(c, &d_wscr, (size_t)(n * k) * 2) != QK_OK) ||
        (dq && (qk_malloc(c, (void **)&d_qabs, (size_t)q.n_blocks) != QK_OK ||
                qk_malloc(c, (void **)&d_s2, (size_t)q.n_dq_blocks * sizeof(float)) != QK_OK))) {
        fail_kernel(c, "allocating the 4-bit operands", err, err_len);
        goto done;
    }
    /* Under double quantization only the int8 scales and the second level are stored;
     * the float32 scales are rebuilt from them in every forward (a timed stage). */
    if (qk_upload(c, d_codes, q.codes, (size_t)quant_4bit_code_bytes(&q)) != QK_OK ||
        (!dq && qk_upload(c, d_absmax, q.absmax, (size_t)q.n_blocks * sizeof(float)) != QK_OK) ||
        (dq && (qk_upload(c, d_qabs, q.qabsmax, (size_t)q.n_blocks) != QK_OK ||
                qk_upload(c, d_s2, q.dq_scales, (size_t)q.n_dq_blocks * sizeof(float)) != QK_OK)) ||
        qk_convert(c, pr->d_x, m, k, k, d_x16, QK_DTYPE_F16, k) != QK_OK) {
        fail_kernel(c, "uploading the 4-bit operands", err, err_len);
        goto done;
    }
    fourbit_arg fa = { .timer = NULL, .scheme = o->scheme, .x16 = d_x16, .codes = d_codes,
                       .qabsmax = d_qabs, .dq_scales = d_s2, .dq_mean = q.dq_mean, .n_blocks = q.n_blocks,
                       .absmax = d_absmax, .wscratch = d_wscr, .y = pr->d_y, .m = m, .k = k, .n = n,
                       .block = o->block };
    if (!pr->job->skip_error) {
        /* The checked run. */
        if (fourbit_forward(c, &fa, NULL) != QK_OK || qk_download(c, y, pr->d_y, (size_t)(m * n) * 4) != QK_OK) {
            fail_kernel(c, "4-bit forward", err, err_len);
            goto done;
        }
        if (pr->job->bias)
            for (int64_t i = 0; i < m; i++)
                for (int64_t j = 0; j < n; j++)
                    y[i * n + j] += pr->job->bias[j];
        /* Operand errors as quant/ measures them: X rounded to fp16, W dequantized then
         * rounded to fp16. */
        h = malloc((size_t)((m > n ? m : n) * k) * sizeof *h);
        if (!h) {
            snprintf(err, err_len, "out of host memory");
            goto done;
        }
        quant_round_f16(pr->x, h, (size_t)(m * k));
        row->x_rel_err = quant_rel_err_f32(h, pr->x, (size_t)(m * k));
        quant_4bit_dequantize(&q, h);
        quant_round_f16(h, h, (size_t)(n * k));
        row->w_rel_err = quant_rel_err_f32(h, pr->w, (size_t)(n * k));
    }
    row->w_code_bytes = quant_4bit_code_bytes(&q);
    row->w_scale_bytes = quant_4bit_scale_bytes(&q);
    row->w_scale2_bytes = quant_4bit_scale2_bytes(&q);
    row->w_bytes = row->w_code_bytes + row->w_scale_bytes + row->w_scale2_bytes;
    row->x_bytes = 2 * m * k;
    if (pr->job->measure_latency) {
        if (qk_timer_create(c, 3, &t4) != QK_OK) {
            fail_kernel(c, "creating events", err, err_len);
            goto done;
        }
        fa.timer = t4;
        const int gemv = m <= QK_4BIT_GEMV_MAX_M;
        const char *const stages[] = { "total", gemv ? "dequant_scales" : "dequant_w", gemv ? "gemv_4bit" : "gemm_f16" };
        /* Without double quantization the GEMV path has no scale stage: only the total
         * and the product are recorded. */
        const char *const stages_plain[] = { "total", "gemv_4bit" };
        if (gemv && !dq) {
            /* time_loop records stages[s] from ms[s]; put the product in slot 1. */
            if (time_loop(c, pr->job, timed_fourbit_gemv, &fa, stages_plain, 2, samples, &row->t, err, err_len))
                goto done;
        } else if (time_loop(c, pr->job, timed_fourbit, &fa, stages, 3, samples, &row->t, err, err_len)) {
            goto done;
        }
        pr->x_bytes_timed = 2 * m * k;
        pr->y_bytes_timed = 4 * m * n;
    }
    rc = 0;
done:
    quant_4bit_free(&q);
    free(h);
    qk_timer_free(t4);
    qk_free(c, d_codes);
    qk_free(c, d_qabs);
    qk_free(c, d_s2);
    qk_free(c, d_absmax);
    qk_free(c, d_x16);
    qk_free(c, d_wscr);
    return rc;
}

/* ------------------------------------------------------------------------------ */
/* run                                                                             */

static int cuda_run(const qlab_backend_job *job, float *y, qlab_row *row, qlab_samples *samples,
                    char *err, size_t err_len)
{
    const qlab_point *p = job->p;
    const int64_t m = p->m, k = p->k, n = p->n;
    quant_matmul_opts o;
    if (qlab_point_opts(p, &o, err, err_len))
        return 1;
    const quant_scheme_traits *tr = quant_scheme_get(o.scheme);
    qk_ctx *c = cuda_ctx(err, err_len);
    if (!c)
        return 1;

    /* SmoothQuant: X / s and W * s computed on the host, as quant/ computes them, and
     * the scheme runs on those. Not timed: deployments fold 1/s into the previous
     * layer's normalization and s into the stored weights, so the forward never
     * divides. */
    float *xs = NULL, *ws = NULL, *s = NULL;
    const float *x = job->x, *w = job->w;
    if (o.smooth_alpha > 0.0f && (tr->kind == QUANT_KIND_INT8 || tr->kind == QUANT_KIND_FP8)) {
        xs = malloc((size_t)(m * k) * sizeof *xs);
        ws = malloc((size_t)(n * k) * sizeof *ws);
        s = malloc((size_t)k * sizeof *s);
        quant_status qs = !xs || !ws || !s ? QUANT_ERR_NOMEM : quant_smooth_scales(x, w, m, k, n, o.smooth_alpha, s);
        if (qs == QUANT_OK)
            qs = quant_smooth_apply(x, w, m, k, n, s, xs, ws);
        free(s);
        if (qs != QUANT_OK) {
            snprintf(err, err_len, "SmoothQuant scales failed: %s", quant_status_str(qs));
            free(xs);
            free(ws);
            return 1;
        }
        x = xs;
        w = ws;
    }

    int64_t base_bytes = qk_mem_current(c);
    int peak_done = 0;
    qk_mem_reset_peak(c);
    int rc = 1;
    void *d_xa = NULL, *d_wa = NULL, *d_ya = NULL;
    point_run pr = { .c = c, .job = job, .o = &o, .x = x, .w = w, .m = m, .k = k, .n = n };

    if (qk_malloc(c, (void **)&pr.d_x, (size_t)(m * k) * 4) != QK_OK ||
        qk_malloc(c, (void **)&pr.d_w, (size_t)(n * k) * 4) != QK_OK ||
        qk_malloc(c, (void **)&pr.d_y, (size_t)(m * n) * 4) != QK_OK ||
        (job->bias && qk_malloc(c, (void **)&pr.d_b, (size_t)n * 4) != QK_OK)) {
        fail_kernel(c, "allocating the operands", err, err_len);
        goto done;
    }
    if (qk_upload(c, pr.d_x, x, (size_t)(m * k) * 4) != QK_OK || qk_upload(c, pr.d_w, w, (size_t)(n * k) * 4) != QK_OK ||
        (job->bias && qk_upload(c, pr.d_b, job->bias, (size_t)n * 4) != QK_OK)) {
        fail_kernel(c, "uploading the operands", err, err_len);
        goto done;
    }
    if (qk_timer_create(c, 2, &pr.timer) != QK_OK) {
        fail_kernel(c, "creating events", err, err_len);
        goto done;
    }
    /* peak_bytes is what the scheme's own pipeline allocates (its stored weights,
     * activation codes, accumulators, scratch), beyond the float32 staging copies
     * of X, W and Y every point has; the fp16/bf16 baselines come after it. */
    base_bytes = qk_mem_current(c);
    qk_mem_reset_peak(c);
    int r;
    switch (tr->kind) {
    case QUANT_KIND_INT8:
    case QUANT_KIND_FP8: r = run_lowp(&pr, y, row, samples, err, err_len); break;
    case QUANT_KIND_4BIT: r = run_4bit(&pr, y, row, samples, err, err_len); break;
    default: r = run_float(&pr, y, row, samples, err, err_len); break;
    }
    if (job->measure_memory)
        row->peak_bytes = qk_mem_peak(c) - base_bytes;
    peak_done = 1;
    if (r)
        goto done;
    row->w_bytes_fp16 = 2 * n * k;

    /* Baselines of the same shape in the same run, from the original X and W. */
    if (job->measure_latency) {
        const int64_t ld = (k + 7) / 8 * 8;
        if (x != job->x && (qk_upload(c, pr.d_x, job->x, (size_t)(m * k) * 4) != QK_OK ||
                            qk_upload(c, pr.d_w, job->w, (size_t)(n * k) * 4) != QK_OK)) {
            fail_kernel(c, "uploading the baseline operands", err, err_len);
            goto done;
        }
        static const qk_dtype base_dt[2] = { QK_DTYPE_F16, QK_DTYPE_BF16 };
        static const char *const base_stage[2][1] = { { "fp16_gemm" }, { "bf16_gemm" } };
        for (int b = 0; b < 2; b++) {
            qk_free(c, d_xa);
            qk_free(c, d_wa);
            qk_free(c, d_ya);
            d_xa = d_wa = d_ya = NULL;
            if (qk_malloc(c, &d_xa, (size_t)(m * ld) * 2) != QK_OK || qk_malloc(c, &d_wa, (size_t)(n * ld) * 2) != QK_OK ||
                qk_malloc(c, &d_ya, (size_t)(m * n) * 2) != QK_OK ||
                qk_convert(c, pr.d_x, m, k, k, d_xa, base_dt[b], ld) != QK_OK ||
                qk_convert(c, pr.d_w, n, k, k, d_wa, base_dt[b], ld) != QK_OK) {
                fail_kernel(c, "preparing the fp16/bf16 baseline", err, err_len);
                goto done;
            }
            gemm_arg ga = { .timer = pr.timer, .ab = base_dt[b], .ydt = base_dt[b], .x = d_xa, .w = d_wa,
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
            row->gbps = (double)(pr.x_bytes_timed + row->w_bytes + pr.y_bytes_timed) / sec / 1e9;
        }
    }
    rc = 0;

done:
    if (job->measure_memory && !peak_done)
        row->peak_bytes = qk_mem_peak(c) - base_bytes;
    qk_timer_free(pr.timer);
    qk_free(c, pr.d_x);
    qk_free(c, pr.d_w);
    qk_free(c, pr.d_b);
    qk_free(c, pr.d_y);
    qk_free(c, d_xa);
    qk_free(c, d_wa);
    qk_free(c, d_ya);
    free(xs);
    free(ws);
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

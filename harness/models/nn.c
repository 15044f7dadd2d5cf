/* nn.c: the transformer pieces shared by the BERT and ViT forwards (see nn.h). Plain
 * loops with float64 accumulators; the only fast path is the BLAS GEMM behind
 * quant_matmul_ref_f64.
 */
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>

#include "quant/quant.h"
#include "models/nn.h"
#include "store/dump.h"

int qlab_nn_linear_ref(void *ctx, const char *name, int index, const float *x, int64_t m,
                       int64_t k, const float *w, const float *b, int64_t n, float *y)
{
    double *acc = malloc((size_t)(m * n) * sizeof *acc);
    quant_status st = acc ? quant_matmul_ref_f64(x, w, m, k, n, acc) : QUANT_ERR_NOMEM;
    if (st != QUANT_OK) {
        if (ctx)
            snprintf((char *)ctx, 256, "%s: reference matmul: %s", name, quant_status_str(st));
        free(acc);
        return 1;
    }
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < n; j++)
            y[i * n + j] = (float)(acc[i * n + j] + (b ? (double)b[j] : 0.0));
    free(acc);
    return 0;
}

/* Threads split rows, heads and values; each value is still computed by one thread in
 * the order written here, so thread counts change no bit (tests/test_nn.c). */
#define NN_PAR (1 << 15)   /* below this many operations one thread is faster */

void qlab_nn_layer_norm(float *x, int64_t rows, int64_t cols, const float *g, const float *b,
                        double eps)
{
#pragma omp parallel for schedule(static) if (rows * cols > NN_PAR)
    for (int64_t i = 0; i < rows; i++) {
        float *r = x + i * cols;
        double mean = 0, var = 0;
        for (int64_t j = 0; j < cols; j++)
            mean += r[j];
        mean /= (double)cols;
        for (int64_t j = 0; j < cols; j++)
            var += ((double)r[j] - mean) * ((double)r[j] - mean);
        var /= (double)cols;
        double inv = 1.0 / sqrt(var + eps);
        for (int64_t j = 0; j < cols; j++)
            r[j] = (float)(((double)r[j] - mean) * inv * g[j] + b[j]);
    }
}

void qlab_nn_gelu_erf(float *x, int64_t n)
{
#pragma omp parallel for schedule(static) if (n > NN_PAR)
    for (int64_t i = 0; i < n; i++) {
        double v = x[i];
        x[i] = (float)(0.5 * v * (1.0 + erf(v / sqrt(2.0))));
    }
}

/* One query row i of head h: scores sc [len], context accumulators acc [d]. The
 * weighted sum of V runs over j outside and t inside, so V is read row by row; each
 * acc[t] still adds its terms in increasing j, as a loop over t outside would. */
static void attention_row(const float *q, const float *k, const float *v, int64_t len, int64_t H,
                          int64_t d, int64_t h, int64_t i, double scale, float *ctx, double *sc,
                          double *acc)
{
    const float *qi = q + i * H + h * d;
    double mx = -INFINITY;
    int64_t j = 0;
    /* four keys at a time: four independent sums, each over t in order (the chain of
     * one sum's additions is what limits the speed) */
    for (; j + 4 <= len; j += 4) {
        const float *k0 = k + j * H + h * d, *k1 = k0 + H, *k2 = k1 + H, *k3 = k2 + H;
        double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
        for (int64_t t = 0; t < d; t++) {
            double a = qi[t];
            s0 += a * k0[t];
            s1 += a * k1[t];
            s2 += a * k2[t];
            s3 += a * k3[t];
        }
        sc[j] = s0 * scale;
        sc[j + 1] = s1 * scale;
        sc[j + 2] = s2 * scale;
        sc[j + 3] = s3 * scale;
    }
    for (; j < len; j++) {
        const float *kj = k + j * H + h * d;
        double s = 0;
        for (int64_t t = 0; t < d; t++)
            s += (double)qi[t] * kj[t];
        sc[j] = s * scale;
    }
    for (j = 0; j < len; j++)
        if (sc[j] > mx)
            mx = sc[j];
    double sum = 0;
    for (j = 0; j < len; j++) {
        sc[j] = exp(sc[j] - mx);
        sum += sc[j];
    }
    for (int64_t t = 0; t < d; t++)
        acc[t] = 0;
    for (j = 0; j < len; j++) {
        const float *vj = v + j * H + h * d;
        for (int64_t t = 0; t < d; t++)
            acc[t] += sc[j] * vj[t];
    }
    for (int64_t t = 0; t < d; t++)
        ctx[i * H + h * d + t] = (float)(acc[t] / sum);
}

void qlab_nn_attention(const float *q, const float *k, const float *v, int64_t len, int64_t H,
                       int64_t heads, float *ctx, double *scores)
{
    int64_t d = H / heads;
    double scale = 1.0 / sqrt((double)d);
    /* scratch per thread: len scores and d accumulators (the caller's scores serve
     * one thread when there is no room for more) */
    int nt = omp_get_max_threads();
    if (heads * len * len * d <= NN_PAR) nt = 1;
    double *buf = nt > 1 ? malloc((size_t)nt * (size_t)(len + d) * sizeof *buf) : NULL;
    if (!buf) {
        double acc[d];   /* a head's width: 32 (MiniLM) or 64 (ViT-S) values */
        for (int64_t h = 0; h < heads; h++)
            for (int64_t i = 0; i < len; i++)
                attention_row(q, k, v, len, H, d, h, i, scale, ctx, scores, acc);
        return;
    }
#pragma omp parallel num_threads(nt)
    {
        double *sc = buf + (size_t)omp_get_thread_num() * (size_t)(len + d);
#pragma omp for schedule(static) collapse(2)
        for (int64_t h = 0; h < heads; h++)
            for (int64_t i = 0; i < len; i++)
                attention_row(q, k, v, len, H, d, h, i, scale, ctx, sc, sc + len);
    }
    free(buf);
}

void qlab_nn_model_path(const char *env_var, const char *rel, char *path, size_t cap)
{
    const char *env = getenv(env_var);
    const char *cache = getenv("QLAB_CACHE");
    const char *home = getenv("HOME");
    if (env && *env)
        snprintf(path, cap, "%s", env);
    else if (cache && *cache)
        snprintf(path, cap, "%s/%s", cache, rel);
    else
        snprintf(path, cap, "%s/.cache/qlab/%s", home ? home : ".", rel);
}

int qlab_nn_dump_linear(void *vctx, const char *name, int index, const float *x, int64_t m,
                        int64_t k, const float *w, const float *b, int64_t n, float *y)
{
    qlab_nn_dump_capture *c = vctx;
    char msg[256] = "";
    if (qlab_nn_linear_ref(msg, name, index, x, m, k, w, b, n, y)) {
        snprintf(c->err, sizeof c->err, "%s", msg);
        return 1;
    }
    return qlab_dump_add_layer(c->w, name, w, n, k, b, x, m, y, c->err, sizeof c->err) ? 1 : 0;
}

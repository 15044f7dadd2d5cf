/* nn.c: the transformer pieces shared by the BERT and ViT forwards (see nn.h). Plain
 * loops with float64 accumulators; the only fast path is the BLAS GEMM behind
 * quant_matmul_ref_f64.
 */
#include <math.h>
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

void qlab_nn_layer_norm(float *x, int64_t rows, int64_t cols, const float *g, const float *b,
                        double eps)
{
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
    for (int64_t i = 0; i < n; i++) {
        double v = x[i];
        x[i] = (float)(0.5 * v * (1.0 + erf(v / sqrt(2.0))));
    }
}

void qlab_nn_attention(const float *q, const float *k, const float *v, int64_t len, int64_t H,
                       int64_t heads, float *ctx, double *scores)
{
    int64_t d = H / heads;
    double scale = 1.0 / sqrt((double)d);
    for (int64_t h = 0; h < heads; h++) {
        for (int64_t i = 0; i < len; i++) {
            const float *qi = q + i * H + h * d;
            double mx = -INFINITY;
            for (int64_t j = 0; j < len; j++) {
                const float *kj = k + j * H + h * d;
                double s = 0;
                for (int64_t t = 0; t < d; t++)
                    s += (double)qi[t] * kj[t];
                scores[j] = s * scale;
                if (scores[j] > mx)
                    mx = scores[j];
            }
            double sum = 0;
            for (int64_t j = 0; j < len; j++) {
                scores[j] = exp(scores[j] - mx);
                sum += scores[j];
            }
            for (int64_t t = 0; t < d; t++) {
                double a = 0;
                for (int64_t j = 0; j < len; j++)
                    a += scores[j] * v[j * H + h * d + t];
                ctx[i * H + h * d + t] = (float)(a / sum);
            }
        }
    }
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

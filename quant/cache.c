/* cache.c: the memo of sub-results that calls on the same X and W share (quant_cache).
 *
 * A sweep runs many points on one pair of operands. Two parts of the int8 / fp8
 * pipeline depend on only some of a point's options:
 *   - W quantized at (scheme, w_gran, block): the same for every threshold;
 *   - the LLM.int8() outlier product X[:,O]_fp16 W[:,O]_fp16^T with fp16 outlier
 *     weights: the same for every int8 scheme and granularity whose threshold finds the
 *     same outlier set O.
 * The cache keeps them, keyed by the operand pointers and those options (and O itself).
 * It stores what the pipeline would compute, so a call with the cache gives the same
 * bits as a call without it (tests/test_quant_cache.c).
 *
 * Entries are evicted least recently used when the bytes held would pass the budget;
 * entries touched during the current call (quant_cache_begin) are never evicted, so
 * the pointers a call got stay valid until it returns.
 */
#include <stdlib.h>
#include <string.h>
#include "quant.h"
#include "quant_internal.h"

typedef struct {
    quant_cache_key key;
    uint8_t *cols;        /* the key's outlier set (k bytes) or NULL */
    void *payload;
    int64_t bytes;
    void (*free_payload)(void *);
    uint64_t last_use;
} cache_entry;

struct quant_cache {
    cache_entry *v;
    int64_t n, cap;
    int64_t bytes, budget;
    uint64_t clock;       /* advanced by quant_cache_begin: one tick per call */
};

quant_cache *quant_cache_new(int64_t budget_bytes)
{
    quant_cache *c = calloc(1, sizeof *c);
    if (c)
        c->budget = budget_bytes > 0 ? budget_bytes : 0;
    return c;
}

static void entry_free(cache_entry *e)
{
    if (e->free_payload)
        e->free_payload(e->payload);
    free(e->cols);
}

void quant_cache_free(quant_cache *c)
{
    if (!c)
        return;
    for (int64_t i = 0; i < c->n; i++)
        entry_free(&c->v[i]);
    free(c->v);
    free(c);
}

int64_t quant_cache_bytes(const quant_cache *c)
{
    return c ? c->bytes : 0;
}

void quant_cache_begin(quant_cache *c)
{
    if (c)
        c->clock++;
}

static int key_equal(const quant_cache_key *a, const uint8_t *acols, const cache_entry *e)
{
    const quant_cache_key *b = &e->key;
    if (a->kind != b->kind || a->x != b->x || a->w != b->w || a->m != b->m || a->k != b->k ||
        a->n != b->n || a->scheme != b->scheme || a->gran != b->gran || a->block != b->block ||
        a->outlier_weights != b->outlier_weights)
        return 0;
    if (!acols != !e->cols)
        return 0;
    return !acols || memcmp(acols, e->cols, (size_t)a->k) == 0;
}

void *quant_cache_find(quant_cache *c, const quant_cache_key *key, const uint8_t *cols)
{
    if (!c)
        return NULL;
    for (int64_t i = 0; i < c->n; i++)
        if (key_equal(key, cols, &c->v[i])) {
            c->v[i].last_use = c->clock;
            return c->v[i].payload;
        }
    return NULL;
}

int quant_cache_put(quant_cache *c, const quant_cache_key *key, const uint8_t *cols,
                    void *payload, int64_t bytes, void (*free_payload)(void *))
{
    if (!c)
        return 0;
    int64_t total = bytes + (cols ? key->k : 0);
    if (total > c->budget)
        return 0;
    /* Make room: the least recently used entries not touched by this call go first. */
    while (c->bytes + total > c->budget) {
        int64_t lru = -1;
        for (int64_t i = 0; i < c->n; i++)
            if (c->v[i].last_use != c->clock && (lru < 0 || c->v[i].last_use < c->v[lru].last_use))
                lru = i;
        if (lru < 0)
            return 0;
        c->bytes -= c->v[lru].bytes;
        entry_free(&c->v[lru]);
        c->v[lru] = c->v[--c->n];
    }
    if (c->n == c->cap) {
        int64_t cap = c->cap ? 2 * c->cap : 8;
        cache_entry *v = realloc(c->v, (size_t)cap * sizeof *v);
        if (!v)
            return 0;
        c->v = v;
        c->cap = cap;
    }
    uint8_t *kc = NULL;
    if (cols) {
        kc = malloc((size_t)key->k);
        if (!kc)
            return 0;
        memcpy(kc, cols, (size_t)key->k);
    }
    c->v[c->n++] = (cache_entry){ .key = *key, .cols = kc, .payload = payload, .bytes = total,
                                  .free_payload = free_payload, .last_use = c->clock };
    c->bytes += total;
    return 1;
}

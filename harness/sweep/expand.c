/* expand.c: an experiment's axes -> its points (docs/DESIGN.md, "Experiments"): the
 * product of the axes (zip groups resolved and moving together), defaults, presets (llm_int8),
 * normalisation of the settings a scheme or workload ignores, de-duplication with the
 * reasons counted, dump points expanded per selected layer, and qlab_point_describe.
 * config.c reads and checks the document; config_internal.h is what the two share.
 */
#include "sweep/config.h"
#include "sweep/config_internal.h"
#include "store/dump.h"

#include <fnmatch.h>
#include <libfyaml.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------------------- */
/* zip groups                                                                    */

/* Resolves an axis name: a full dotted path, or a suffix of one at a '.'
 * boundary ("m", "x.std"). Returns the axis index, or 2 with err set. */
static int zip_resolve(cfg_walk *w, struct fy_node *item, const char *name, int *out)
{
    const cfg_key *match = NULL;
    int n_match = 0;
    char first[64] = "", second[64] = "";
    size_t ln = strlen(name);
    for (int i = 0; i < cfg_n_keys; i++) {
        const cfg_key *k = &cfg_keys[i];
        if (!k->axis) continue;
        size_t lp = strlen(k->path);
        int hit = strcmp(k->path, name) == 0 ||
                  (lp > ln && k->path[lp - ln - 1] == '.' && strcmp(k->path + lp - ln, name) == 0);
        if (!hit) continue;
        if (n_match == 0) cfg_copy_str(first, sizeof first, k->path);
        else if (n_match == 1) cfg_copy_str(second, sizeof second, k->path);
        match = k;
        n_match++;
    }
    if (n_match > 1)
        return cfg_fail(w->c, item, w->zip_key, "zip",
                        "axis name '%s' is ambiguous (say '%s' or '%s')", name, first, second);
    if (n_match == 0) {
        const char *best = NULL;
        int best_d = 3;
        for (int i = 0; i < cfg_n_keys; i++) {
            if (!cfg_keys[i].axis) continue;
            int d = qlab_edit_distance(name, cfg_key_leaf(&cfg_keys[i]));
            int d2 = qlab_edit_distance(name, cfg_keys[i].path);
            if (d2 < d) d = d2;
            if (d < best_d) { best_d = d; best = cfg_keys[i].path; }
        }
        if (best)
            return cfg_fail(w->c, item, w->zip_key, "zip", "unknown axis '%s' (did you mean '%s'?)",
                            name, best);
        return cfg_fail(w->c, item, w->zip_key, "zip", "unknown axis '%s'", name);
    }
    for (int i = 0; i < w->n_axes; i++)
        if (w->axes[i].key == match) { *out = i; return 0; }
    return cfg_fail(w->c, item, w->zip_key, "zip",
                    "axis '%s' is not set in this config, so it cannot be zipped", match->path);
}

/* Assigns every axis to a dimension of the product: a zip group is one dimension,
 * placed where its first member appears in the document. Returns the number of
 * dimensions, or -2 on error. dim_size receives each dimension's length. */
static int cfg_assign_dims(cfg_walk *w, int64_t *dim_size)
{
    int group_of[cfg_n_keys];
    for (int i = 0; i < w->n_axes; i++) group_of[i] = -1;
    int n_groups = 0;
    if (w->zip_node && fy_node_is_sequence(w->zip_node)) {
        void *it = NULL;
        struct fy_node *g;
        while ((g = fy_node_sequence_iterate(w->zip_node, &it))) {
            if (!fy_node_is_sequence(g)) {
                cfg_fail(w->c, g, w->zip_key, "zip",
                                "each zip group must be a list of axis names, e.g. [[m, k, n]]");
                return -2;
            }
            if (fy_node_sequence_item_count(g) == 0) {
                cfg_fail(w->c, g, w->zip_key, "zip", "empty zip group");
                return -2;
            }
            void *it2 = NULL;
            struct fy_node *item;
            int first = -1;
            while ((item = fy_node_sequence_iterate(g, &it2))) {
                char name[128];
                if (!fy_node_is_scalar(item) || fy_node_is_null(item)) {
                    cfg_fail(w->c, item, w->zip_key, "zip",
                        "a zip group holds axis names, got %s", cfg_node_kind_word(item));
                    return -2;
                }
                cfg_scalar_text(item, name, sizeof name);
                int a = -1;
                if (zip_resolve(w, item, name, &a)) return -2;
                if (group_of[a] >= 0) {
                    cfg_fail(w->c, item, w->zip_key, "zip",
                        "axis '%s' appears in more than one zip group (or twice)",
                        w->axes[a].key->path);
                    return -2;
                }
                if (first >= 0 && w->axes[a].n != w->axes[first].n) {
                    cfg_fail(w->c, item, w->zip_key, "zip",
                        "zipped axes need lists of equal length: '%s' has %d values, "
                        "'%s' has %d (value '%s')",
                        w->axes[first].key->path, w->axes[first].n,
                        w->axes[a].key->path, w->axes[a].n, name);
                    return -2;
                }
                if (first < 0) first = a;
                group_of[a] = n_groups;
            }
            n_groups++;
        }
    }
    int n_dims = 0;
    int group_dim[cfg_n_keys];
    for (int g = 0; g < cfg_n_keys; g++) group_dim[g] = -1;
    for (int i = 0; i < w->n_axes; i++) {
        int g = group_of[i];
        if (g >= 0 && group_dim[g] >= 0) {
            w->axes[i].dim = group_dim[g];
            continue;
        }
        w->axes[i].dim = n_dims;
        dim_size[n_dims] = w->axes[i].n;
        if (g >= 0) group_dim[g] = n_dims;
        n_dims++;
    }
    return n_dims;
}

/* ---------------------------------------------------------------------------- */
/* Points: defaults, presets, normalisation, de-duplication                      */

static int is_float_scheme(const char *s)
{
    return !strcmp(s, "fp32") || !strcmp(s, "fp16") || !strcmp(s, "bf16");
}

static int is_fp8_scheme(const char *s)
{
    return !strcmp(s, "fp8_e4m3") || !strcmp(s, "fp8_e5m2");
}

/* Weight-only 4-bit schemes: W in blocks along k, X fp16, nothing else applies. */
static int is_fourbit_scheme(const char *s)
{
    return !strcmp(s, "nf4") || !strcmp(s, "fp4") || !strcmp(s, "nf4_dq") || !strcmp(s, "fp4_dq");
}

static void point_defaults(qlab_point *p, uint64_t seed)
{
    memset(p, 0, sizeof *p);
    p->seed = seed;
    cfg_copy_str(p->workload, sizeof p->workload, "synthetic");
    cfg_copy_str(p->x.dist, sizeof p->x.dist, "normal");
    p->x.std = 1.0;
    p->x.df = 4.0;
    p->x.outlier_cols = 0.0;
    p->x.outlier_scale = 1.0;
    cfg_copy_str(p->w.dist, sizeof p->w.dist, "normal");
    p->w.std = 0.02;
    p->w.df = 4.0;
    p->w.outlier_cols = 0.0;
    p->w.outlier_scale = 1.0;
    cfg_copy_str(p->x_granularity, sizeof p->x_granularity, "row");
    cfg_copy_str(p->w_granularity, sizeof p->w_granularity, "channel");
    p->block = 64;
    p->threshold = 0.0;
    cfg_copy_str(p->outlier_weights, sizeof p->outlier_weights, "fp16");
}

static void point_apply(qlab_point *p, cfg_field f, const cfg_val *v)
{
    switch (f) {
    case F_KIND: cfg_copy_str(p->workload, sizeof p->workload, v->s); break;
    case F_PATH: cfg_copy_str(p->path, sizeof p->path, v->s); break;
    case F_MODEL: cfg_copy_str(p->model, sizeof p->model, v->s); break;
    case F_TEXT: cfg_copy_str(p->path, sizeof p->path, v->s); break;
    case F_IMAGES: cfg_copy_str(p->path, sizeof p->path, v->s); break;   /* "a.png;b.jpg" */
    case F_DEPTH: p->depth = v->i; break;
    case F_WIDTH: p->k = p->n = v->i; break;
    case F_TOKENS: p->m = v->i; break;
    case F_MODE: cfg_copy_str(p->mode, sizeof p->mode, v->s); break;
    case F_M: p->m = v->i; break;
    case F_K: p->k = v->i; break;
    case F_N: p->n = v->i; break;
    case F_X_DIST: cfg_copy_str(p->x.dist, sizeof p->x.dist, v->s); break;
    case F_X_STD: p->x.std = v->d; break;
    case F_X_DF: p->x.df = v->d; break;
    case F_X_OCOLS: p->x.outlier_cols = v->d; break;
    case F_X_OSCALE: p->x.outlier_scale = v->d; break;
    case F_W_DIST: cfg_copy_str(p->w.dist, sizeof p->w.dist, v->s); break;
    case F_W_STD: p->w.std = v->d; break;
    case F_W_DF: p->w.df = v->d; break;
    case F_SCHEME: cfg_copy_str(p->scheme, sizeof p->scheme, v->s); break;
    case F_XGRAN: cfg_copy_str(p->x_granularity, sizeof p->x_granularity, v->s); break;
    case F_WGRAN: cfg_copy_str(p->w_granularity, sizeof p->w_granularity, v->s); break;
    case F_BLOCK: p->block = v->i; break;
    case F_THRESHOLD: p->threshold = v->d; break;
    case F_OW: cfg_copy_str(p->outlier_weights, sizeof p->outlier_weights, v->s); break;
    case F_SMOOTH: p->smooth_alpha = v->d; break;
    default: break;
    }
}

/* Settings a point's distribution ignores: df unless student_t, outlier_scale
 * when there are no outlier columns. */
static void dist_normalise(qlab_dist *d)
{
    if (strcmp(d->dist, "student_t") != 0) d->df = 0.0;
    if (d->outlier_cols == 0.0) d->outlier_scale = 1.0;
}

/* Preset and normalisation of a point whose raw values are valid (see config.h). */
static void point_normalise(qlab_point *p)
{
    if (!strcmp(p->scheme, "llm_int8")) {
        cfg_copy_str(p->scheme, sizeof p->scheme, "absmax");
        cfg_copy_str(p->x_granularity, sizeof p->x_granularity, "row");
        cfg_copy_str(p->w_granularity, sizeof p->w_granularity, "channel");
        p->threshold = 6.0;
    }
    if (is_float_scheme(p->scheme)) {
        p->x_granularity[0] = '\0';
        p->w_granularity[0] = '\0';
        p->block = 0;
        p->threshold = 0.0;
        p->outlier_weights[0] = '\0';
        p->smooth_alpha = 0.0;
    } else if (is_fourbit_scheme(p->scheme)) {
        p->x_granularity[0] = '\0';
        cfg_copy_str(p->w_granularity, sizeof p->w_granularity, "block");
        p->threshold = 0.0;
        p->outlier_weights[0] = '\0';
        p->smooth_alpha = 0.0;
    } else {
        if (strcmp(p->x_granularity, "block") != 0 && strcmp(p->w_granularity, "block") != 0)
            p->block = 0;
        if (p->threshold == 0.0) p->outlier_weights[0] = '\0';
    }
    dist_normalise(&p->x);
    dist_normalise(&p->w);
}

int qlab_point_same(const qlab_point *a, const qlab_point *b)
{
    return a->seed == b->seed && !strcmp(a->workload, b->workload) && !strcmp(a->path, b->path) &&
           !strcmp(a->layer, b->layer) && a->m == b->m && a->k == b->k && a->n == b->n &&
           !strcmp(a->x.dist, b->x.dist) && a->x.std == b->x.std && a->x.df == b->x.df &&
           a->x.outlier_cols == b->x.outlier_cols && a->x.outlier_scale == b->x.outlier_scale &&
           !strcmp(a->w.dist, b->w.dist) && a->w.std == b->w.std && a->w.df == b->w.df &&
           a->w.outlier_cols == b->w.outlier_cols && a->w.outlier_scale == b->w.outlier_scale &&
           a->depth == b->depth && !strcmp(a->scheme, b->scheme) &&
           !strcmp(a->x_granularity, b->x_granularity) &&
           !strcmp(a->w_granularity, b->w_granularity) && a->block == b->block &&
           a->threshold == b->threshold && !strcmp(a->outlier_weights, b->outlier_weights) &&
           !strcmp(a->model, b->model) && !strcmp(a->mode, b->mode) &&
           a->smooth_alpha == b->smooth_alpha;
}

/* FNV-1a over the fields qlab_point_same compares, for the de-duplication table. */
static uint64_t hash_bytes(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) { h ^= b[i]; h *= 1099511628211ULL; }
    return h;
}
static uint64_t hash_str(uint64_t h, const char *s) { return hash_bytes(h, s, strlen(s) + 1); }
static uint64_t hash_f64(uint64_t h, double d)
{
    if (d == 0.0) d = 0.0;   /* -0 == +0 for qlab_point_same */
    return hash_bytes(h, &d, sizeof d);
}
static uint64_t point_hash(const qlab_point *p)
{
    uint64_t h = 14695981039346656037ULL;
    h = hash_bytes(h, &p->seed, sizeof p->seed);
    h = hash_str(h, p->workload); h = hash_str(h, p->path); h = hash_str(h, p->layer);
    h = hash_bytes(h, &p->m, sizeof p->m); h = hash_bytes(h, &p->k, sizeof p->k);
    h = hash_bytes(h, &p->n, sizeof p->n); h = hash_bytes(h, &p->depth, sizeof p->depth);
    h = hash_str(h, p->x.dist); h = hash_f64(h, p->x.std); h = hash_f64(h, p->x.df);
    h = hash_f64(h, p->x.outlier_cols); h = hash_f64(h, p->x.outlier_scale);
    h = hash_str(h, p->w.dist); h = hash_f64(h, p->w.std); h = hash_f64(h, p->w.df);
    h = hash_f64(h, p->w.outlier_cols); h = hash_f64(h, p->w.outlier_scale);
    h = hash_str(h, p->scheme); h = hash_str(h, p->x_granularity);
    h = hash_str(h, p->w_granularity); h = hash_bytes(h, &p->block, sizeof p->block);
    h = hash_f64(h, p->threshold); h = hash_str(h, p->outlier_weights);
    h = hash_str(h, p->model); h = hash_str(h, p->mode); h = hash_f64(h, p->smooth_alpha);
    return h;
}

/* Why a dropped point repeated an earlier one, judged from the raw values
 * (before normalisation) in which the two differ; WHY_FP8_BLOCK is the one reason
 * that is no repeat: a combination quant/ does not define, met where a sweep
 * crosses the scheme axis with a granularity axis (see unsupported_gran). */
enum { WHY_PRESET, WHY_FLOAT, WHY_FOURBIT, WHY_BLOCK, WHY_OW, WHY_DIST, WHY_REPEAT, WHY_FP8_BLOCK,
       WHY_COUNT };
static const char *const why_text[WHY_COUNT] = {
    "llm_int8 preset equals a swept absmax setting",
    "float schemes ignore granularity, block, threshold and outlier_weights",
    "4-bit schemes ignore x/w granularity, threshold, outlier_weights and smooth_alpha",
    "block unused without a block granularity",
    "outlier_weights unused at threshold 0",
    "df unused except for student_t, outlier_scale unused without outlier columns",
    "a value repeated within a list",
    "fp8 schemes have no block scales (x/w granularity block)",
};

static int skip_reason(const qlab_point *raw, const qlab_point *earlier)
{
    if (!strcmp(raw->scheme, "llm_int8") || !strcmp(earlier->scheme, "llm_int8"))
        if (strcmp(raw->scheme, earlier->scheme) || strcmp(raw->x_granularity, earlier->x_granularity) ||
            strcmp(raw->w_granularity, earlier->w_granularity) || raw->threshold != earlier->threshold)
            return WHY_PRESET;
    int quant_differs = strcmp(raw->x_granularity, earlier->x_granularity) ||
                        strcmp(raw->w_granularity, earlier->w_granularity) ||
                        raw->block != earlier->block || raw->threshold != earlier->threshold ||
                        strcmp(raw->outlier_weights, earlier->outlier_weights) ||
                        raw->smooth_alpha != earlier->smooth_alpha;
    if (is_float_scheme(raw->scheme) && quant_differs) return WHY_FLOAT;
    if (is_fourbit_scheme(raw->scheme) && raw->block == earlier->block && quant_differs)
        return WHY_FOURBIT;
    if (raw->block != earlier->block) return WHY_BLOCK;
    if (strcmp(raw->outlier_weights, earlier->outlier_weights)) return WHY_OW;
    if (raw->x.df != earlier->x.df || raw->w.df != earlier->w.df ||
        raw->x.outlier_scale != earlier->x.outlier_scale)
        return WHY_DIST;
    return WHY_REPEAT;
}

/* ---------------------------------------------------------------------------- */
/* Expansion                                                                     */

static const cfg_val *axis_value(const cfg_walk *w, const int64_t *idx, cfg_field f)
{
    for (int i = 0; i < w->n_axes; i++)
        if (w->axes[i].key->field == f) return &w->axes[i].v[idx[w->axes[i].dim]];
    return NULL;
}

/* Workload kind of the experiment (one per experiment, checked by walk_leaf). */
static const char *experiment_kind(const cfg_walk *w)
{
    for (int i = 0; i < w->n_axes; i++)
        if (w->axes[i].key->field == F_KIND) return w->axes[i].v[0].s;
    return "synthetic";
}

/* 1 if workload key f is read by workload kind `kind`; the others are errors, so a
 * key that would silently do nothing is never accepted. */
static int field_used_by(const char *kind, cfg_field f)
{
    int dists = f >= F_X_DIST && f <= F_W_DF;
    if (f == F_KIND) return 1;
    if (!strcmp(kind, "synthetic")) return f == F_M || f == F_K || f == F_N || dists;
    if (!strcmp(kind, "dump")) return f == F_PATH || f == F_LAYERS;
    if (!strcmp(kind, "chain"))
        return f == F_DEPTH || f == F_WIDTH || f == F_TOKENS || f == F_MODE || dists;
    if (!strcmp(kind, "model")) return f == F_MODEL || f == F_TEXT || f == F_IMAGES || f == F_MODE;
    return 1;
}

static int is_workload_field(cfg_field f) { return f >= F_KIND && f <= F_W_DF; }

/* The granularity key (F_XGRAN or F_WGRAN) of raw point p that its scheme cannot
 * run, or F_NONE. fp8 scales are per tensor or per row of X and per tensor or per
 * channel of W (quant_matmul_scheme answers QUANT_ERR_UNSUPPORTED otherwise); the
 * config offers no X granularity "channel", so "block" is the one to catch. */
static cfg_field unsupported_gran(const qlab_point *p)
{
    if (!is_fp8_scheme(p->scheme)) return F_NONE;
    if (!strcmp(p->x_granularity, "block")) return F_XGRAN;
    if (!strcmp(p->w_granularity, "block")) return F_WGRAN;
    return F_NONE;
}

/* 1 when the sweep crosses the scheme with granularity key `gran`: the two come
 * from different dimensions of the product and at least one of them holds more
 * than one value. A crossing meets combinations nobody asked for one by one, so an
 * unsupported one is skipped with a reason; a pair the config states directly (two
 * single values, or values zipped together) is an error. */
static int sweep_crosses(const cfg_walk *w, const int64_t *dim_size, cfg_field gran)
{
    int ds = -1, dg = -1;
    for (int i = 0; i < w->n_axes; i++) {
        if (w->axes[i].key->field == F_SCHEME) ds = w->axes[i].dim;
        if (w->axes[i].key->field == gran) dg = w->axes[i].dim;
    }
    if (ds < 0 || dg < 0 || ds == dg) return 0;
    return dim_size[ds] > 1 || dim_size[dg] > 1;
}

/* Axis values of product index r into idx (mixed radix, last dimension fastest). */
static void product_index(int64_t r, int n_dims, const int64_t *dim_size, int64_t *idx)
{
    for (int d = n_dims - 1; d >= 0; d--) {
        idx[d] = r % dim_size[d];
        r /= dim_size[d];
    }
}

/* The config error for an unsupported scheme x granularity pair, at the
 * granularity's value. */
static int fail_unsupported(cfg_walk *w, const int64_t *idx, const qlab_point *p, cfg_field gran,
                            int crossed)
{
    const cfg_val *src = axis_value(w, idx, gran);
    const char *key = gran == F_XGRAN ? "quant.x_granularity" : "quant.w_granularity";
    return cfg_fail(w->c, src ? src->node : NULL, w->root, key,
                    "scheme %s has no block scales: fp8 scales are per tensor or per %s%s "
                    "(value 'block')",
                    p->scheme, gran == F_XGRAN ? "row of X" : "channel of W",
                    crossed ? ", and no point of the sweep is left" : "");
}

/* A point of the product before de-duplication; dump points carry their layer. */
typedef struct {
    qlab_point p;          /* raw values (before normalisation) */
    int64_t r;             /* index in the product, to locate its axis values */
    int64_t path_i;        /* dump: which dump file (order of first appearance) */
    int64_t layer_i;       /* dump: position of the layer in the file */
    int64_t seq;
} cfg_cand;

typedef struct {
    cfg_cand *v;
    int64_t n, cap;
} cand_list;

static int cand_push(cand_list *l, const cfg_cand *c)
{
    if (l->n == l->cap) {
        int64_t cap = l->cap ? 2 * l->cap : 64;
        cfg_cand *v = realloc(l->v, (size_t)cap * sizeof *v);
        if (!v) return -1;
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n] = *c;
    l->v[l->n].seq = l->n;
    l->n++;
    return 0;
}

/* Dump points: layers slowest, then the product in its own order. */
static int cmp_cand(const void *a, const void *b)
{
    const cfg_cand *x = a, *y = b;
    if (x->path_i != y->path_i) return x->path_i < y->path_i ? -1 : 1;
    if (x->layer_i != y->layer_i) return x->layer_i < y->layer_i ? -1 : 1;
    return (x->seq > y->seq) - (x->seq < y->seq);
}

/* Dump files opened during one expansion, each once. */
typedef struct {
    char path[QLAB_PATH_LEN];
    qlab_dump_info info;
} dump_entry;

typedef struct {
    dump_entry *v;
    int64_t n;
} dump_cache;

static void dump_cache_free(dump_cache *dc)
{
    for (int64_t i = 0; i < dc->n; i++) qlab_dump_info_free(&dc->v[i].info);
    free(dc->v);
    dc->v = NULL;
    dc->n = 0;
}

/* The dump at `path` (inspected on first use) and its index in the cache; on a bad
 * dump returns -1 with the dump's own message in derr. */
static int64_t dump_cache_get(dump_cache *dc, const char *path, char *derr, size_t derr_len)
{
    for (int64_t i = 0; i < dc->n; i++)
        if (!strcmp(dc->v[i].path, path)) return i;
    dump_entry *v = realloc(dc->v, (size_t)(dc->n + 1) * sizeof *v);
    if (!v) {
        snprintf(derr, derr_len, "out of memory");
        return -1;
    }
    dc->v = v;
    if (qlab_dump_inspect(path, &v[dc->n].info, derr, derr_len)) return -1;
    cfg_copy_str(v[dc->n].path, sizeof v[dc->n].path, path);
    return dc->n++;
}

/* 1 if a layer selector (all | a name | a glob) selects layer L: it may name the
 * group ("003-fc1") or the module ("fc1"). */
static int layer_selected(const char *sel, const qlab_dump_layer *L)
{
    if (!strcmp(sel, "all")) return 1;
    return fnmatch(sel, L->group, 0) == 0 || fnmatch(sel, L->name, 0) == 0;
}

/* The dump layers of raw point p (axis values at idx) appended to cands. */
static int expand_dump_point(cfg_walk *w, const int64_t *idx, const qlab_point *p, int64_t r,
                             dump_cache *dc, cand_list *cands)
{
    cfg_ctx *c = w->c;
    const cfg_val *pv = axis_value(w, idx, F_PATH);
    char derr[768];
    int64_t di = dump_cache_get(dc, p->path, derr, sizeof derr);
    if (di < 0)
        return cfg_fail(c, pv ? pv->node : NULL, w->root, "workload.path", "%s", derr);
    const qlab_dump_info *info = &dc->v[di].info;
    const cfg_val *lv = axis_value(w, idx, F_LAYERS);
    const char *sel = lv ? lv->s : "all";
    int64_t hits = 0;
    for (int64_t l = 0; l < info->n_layers; l++) {
        const qlab_dump_layer *L = &info->layers[l];
        if (!layer_selected(sel, L)) continue;
        cfg_cand cd;
        memset(&cd, 0, sizeof cd);
        cd.p = *p;
        cfg_copy_str(cd.p.layer, sizeof cd.p.layer, L->group);
        cd.p.m = L->tokens;
        cd.p.k = L->k;
        cd.p.n = L->n;
        cd.r = r;
        cd.path_i = di;
        cd.layer_i = l;
        if (cand_push(cands, &cd))
            return cfg_fail(c, w->root, NULL, "", "out of memory expanding the dump's layers");
        hits++;
    }
    if (hits == 0) {
        char some[256] = "";
        for (int64_t l = 0; l < info->n_layers && l < 4; l++) {
            strncat(some, l ? ", " : "", sizeof some - strlen(some) - 1);
            strncat(some, info->layers[l].group, sizeof some - strlen(some) - 1);
        }
        return cfg_fail(c, lv ? lv->node : NULL, w->root, "workload.layers",
                        "no layer of dump '%s' matches '%s' (its %lld layers: %s%s)", p->path, sel,
                        (long long)info->n_layers, some, info->n_layers > 4 ? ", ..." : "");
    }
    return 0;
}

int cfg_expand(cfg_walk *w)
{
    cfg_ctx *c = w->c;
    qlab_experiment *e = w->exp;
    int64_t dim_size[CFG_MAX_KEYS];
    int n_dims = cfg_assign_dims(w, dim_size);
    if (n_dims < 0) return 2;

    const char *kind = experiment_kind(w);
    int is_dump = !strcmp(kind, "dump"), is_chain = !strcmp(kind, "chain");
    for (int a = 0; a < w->n_axes; a++) {
        cfg_field f = w->axes[a].key->field;
        if (!is_workload_field(f) || field_used_by(kind, f)) continue;
        const char *hint = "";
        if (is_dump && (f == F_M || f == F_K || f == F_N))
            hint = " (a dump point's m, k, n come from the layer's shapes in the dump file)";
        else if (is_chain && (f == F_M || f == F_K || f == F_N))
            hint = " (a chain has tokens = m and width = k = n)";
        return cfg_fail(c, w->axes[a].key_node, NULL, w->axes[a].key->path,
                        "not used by workload kind '%s'%s", kind, hint);
    }
    static const cfg_field req_synthetic[] = {F_M, F_K, F_N, F_SCHEME};
    static const cfg_field req_dump[] = {F_PATH, F_SCHEME};
    static const cfg_field req_chain[] = {F_DEPTH, F_WIDTH, F_TOKENS, F_SCHEME};
    static const cfg_field req_model[] = {F_MODEL, F_SCHEME};   /* + text or images, below */
    int is_model = !strcmp(kind, "model");
    const cfg_field *req = is_dump ? req_dump : is_chain ? req_chain : is_model ? req_model : req_synthetic;
    int n_req = is_dump ? 2 : is_model ? 2 : 4;
    const char *needs = is_dump ? "a dump workload needs path; quant needs a scheme"
                      : is_model ? "a model workload needs model and text (minilm) or images "
                                   "(vit-s14); quant needs a scheme"
                      : is_chain ? "a chain workload needs depth, width and tokens; quant needs a scheme"
                      : "a synthetic workload needs m, k, n; quant needs a scheme";
    for (int i = 0; i < n_req; i++) {
        if (w->seen[req[i]]) continue;
        const cfg_key *k = cfg_key_of_field(req[i]);
        return cfg_fail(c, w->map_node[req[i] == F_SCHEME ? 1 : 0], w->root, k->path,
                        "missing (%s)", needs);
    }

    int64_t total = 1;
    for (int d = 0; d < n_dims; d++) {
        total *= dim_size[d];
        if (total > CFG_MAX_PRODUCT)
            return cfg_fail(c, w->root, NULL, "", "the sweep has more than %lld points",
                            (long long)CFG_MAX_PRODUCT);
    }

    /* 1. the product (dump points: one per selected layer) */
    cand_list cands = {0};
    dump_cache dc = {0};
    int64_t idx[CFG_MAX_KEYS] = {0};
    int rc = 0;
    for (int64_t r = 0; r < total && !rc; r++) {
        int64_t rem = r;   /* mixed radix: the last dimension varies fastest */
        for (int d = n_dims - 1; d >= 0; d--) {
            idx[d] = rem % dim_size[d];
            rem /= dim_size[d];
        }
        cfg_cand cd;
        memset(&cd, 0, sizeof cd);
        qlab_point *p = &cd.p;
        point_defaults(p, e->seed);
        for (int a = 0; a < w->n_axes; a++)
            point_apply(p, w->axes[a].key->field, &w->axes[a].v[idx[w->axes[a].dim]]);
        if ((is_chain || is_model) && !p->mode[0])
            cfg_copy_str(p->mode, sizeof p->mode, "propagated");
        if (is_model) {
            /* minilm reads a text file, vit-s14 photos; both go to the point's path */
            int vit = !strcmp(p->model, "vit-s14");
            cfg_field need = vit ? F_IMAGES : F_TEXT, other = vit ? F_TEXT : F_IMAGES;
            if (!w->seen[need] || w->seen[other]) {
                const cfg_key *k = cfg_key_of_field(w->seen[other] ? other : need);
                rc = cfg_fail(c, w->map_node[0], w->root, k->path, "%s (model %s reads %s)",
                              w->seen[other] ? "not used by this model" : "missing", p->model,
                              vit ? "images: a photo or a list of photos" : "text: a text file");
                break;
            }
        }
        if (is_chain) {
            /* unit-variance outputs from unit-variance inputs, as in a trained network */
            if (!w->seen[F_W_STD]) p->w.std = 1.0 / sqrt((double)p->k);
        }
        cd.r = r;
        if (is_dump) rc = expand_dump_point(w, idx, p, r, &dc, &cands);
        else if (cand_push(&cands, &cd))
            rc = cfg_fail(c, w->root, NULL, "", "out of memory expanding %lld points", (long long)total);
        if (!rc && cands.n > CFG_MAX_PRODUCT)
            rc = cfg_fail(c, w->root, NULL, "", "the sweep has more than %lld points",
                          (long long)CFG_MAX_PRODUCT);
    }
    dump_cache_free(&dc);
    if (rc) { free(cands.v); return rc; }
    if (is_dump) qsort(cands.v, (size_t)cands.n, sizeof *cands.v, cmp_cand);

    /* 2. normalise and de-duplicate */
    int64_t n_cand = cands.n;
    qlab_point *pts = calloc((size_t)n_cand + 1, sizeof *pts);
    int64_t *origin = calloc((size_t)n_cand + 1, sizeof *origin);   /* kept index -> candidate */
    size_t cap = 16;
    while (cap < (size_t)n_cand * 2) cap *= 2;
    int64_t *table = malloc(cap * sizeof *table);
    if (!pts || !origin || !table) {
        free(cands.v); free(pts); free(origin); free(table);
        return cfg_fail(c, w->root, NULL, "", "out of memory expanding %lld points", (long long)n_cand);
    }
    for (size_t i = 0; i < cap; i++) table[i] = -1;

    int64_t n_kept = 0, why_count[WHY_COUNT] = {0}, first_unsupported = -1;
    for (int64_t ci = 0; ci < n_cand; ci++) {
        qlab_point *p = &cands.v[ci].p;

        /* a scheme x granularity pair quant/ does not define: skipped where the
         * sweep crosses the two axes, an error where the config asks for it */
        cfg_field bad = unsupported_gran(p);
        if (bad != F_NONE) {
            if (!sweep_crosses(w, dim_size, bad)) {
                product_index(cands.v[ci].r, n_dims, dim_size, idx);
                rc = fail_unsupported(w, idx, p, bad, 0);
                break;
            }
            if (first_unsupported < 0) first_unsupported = ci;
            why_count[WHY_FP8_BLOCK]++;
            continue;
        }

        /* block must divide k wherever a block granularity is used by an int8 scheme,
         * and always for the 4-bit schemes, whose weights are blocked whatever
         * w_granularity says (there also 32 <= block <= 4096) */
        int fourbit = is_fourbit_scheme(p->scheme);
        if ((fourbit || (!is_float_scheme(p->scheme) && strcmp(p->scheme, "llm_int8") != 0 &&
                         (!strcmp(p->x_granularity, "block") || !strcmp(p->w_granularity, "block")))) &&
            (p->k % p->block != 0 || (fourbit && (p->block < 32 || p->block > 4096)))) {
            product_index(cands.v[ci].r, n_dims, dim_size, idx);
            const cfg_val *src = axis_value(w, idx, F_BLOCK);
            if (!src) src = axis_value(w, idx, !strcmp(p->x_granularity, "block") ? F_XGRAN : F_WGRAN);
            char val[32], where[QLAB_LAYER_LEN + QLAB_PATH_LEN + 32] = "";
            snprintf(val, sizeof val, "%lld", (long long)p->block);
            if (p->layer[0])
                snprintf(where, sizeof where, " of layer '%s' in dump '%s'", p->layer, p->path);
            rc = cfg_fail(c, src ? src->node : NULL, w->root, "quant.block",
                          p->k % p->block != 0 ? "block %lld does not divide k = %lld%s (value '%s')"
                                               : "block %lld outside 32..4096 for a 4-bit scheme "
                                                 "(k = %lld%s, value '%s')",
                          (long long)p->block, (long long)p->k, where, val);
            break;
        }

        qlab_point q = *p;
        point_normalise(&q);
        uint64_t h = point_hash(&q);
        size_t slot = (size_t)h & (cap - 1);
        int64_t dup = -1;
        while (table[slot] >= 0) {
            if (qlab_point_same(&pts[table[slot]], &q)) { dup = table[slot]; break; }
            slot = (slot + 1) & (cap - 1);
        }
        if (dup >= 0) {
            why_count[skip_reason(p, &cands.v[origin[dup]].p)]++;
        } else {
            q.id = n_kept;
            pts[n_kept] = q;
            origin[n_kept] = ci;
            table[slot] = n_kept;
            n_kept++;
        }
    }
    if (!rc && n_kept == 0 && first_unsupported >= 0) {
        /* every point of the crossing was unsupported: nothing would run */
        const cfg_cand *cd = &cands.v[first_unsupported];
        product_index(cd->r, n_dims, dim_size, idx);
        rc = fail_unsupported(w, idx, &cd->p, unsupported_gran(&cd->p), 1);
    }
    free(cands.v);
    free(origin);
    free(table);
    if (rc) { free(pts); return rc; }

    /* 3. repeats: each point once per draw of its data, seeds seed .. seed+N-1, the
     * draws of a point next to each other (ids renumbered in that order) */
    if (e->repeat > 1) {
        if (strcmp(kind, "synthetic") && !is_chain) {
            free(pts);
            return cfg_fail(c, e->repeat_node, w->root, "repeat",
                            "a %s workload has one draw of its data (the captured inputs); repeat needs a "
                            "synthetic or chain workload, whose data come from the seed", kind);
        }
        if (n_kept > CFG_MAX_PRODUCT / e->repeat) {
            free(pts);
            return cfg_fail(c, e->repeat_node, w->root, "repeat", "%lld points x %lld draws is more than %lld",
                            (long long)n_kept, (long long)e->repeat, (long long)CFG_MAX_PRODUCT);
        }
        qlab_point *rp = calloc((size_t)(n_kept * e->repeat) + 1, sizeof *rp);
        if (!rp) {
            free(pts);
            return cfg_fail(c, w->root, NULL, "", "out of memory expanding %lld draws",
                            (long long)(n_kept * e->repeat));
        }
        for (int64_t i = 0; i < n_kept; i++)
            for (int64_t r = 0; r < e->repeat; r++) {
                qlab_point *q = &rp[i * e->repeat + r];
                *q = pts[i];
                q->seed = e->seed + (uint64_t)r;
                q->id = i * e->repeat + r;
            }
        free(pts);
        pts = rp;
        n_kept *= e->repeat;
        n_cand = n_kept + (n_cand - n_kept / e->repeat);   /* the skipped count stays the product's */
    }

    e->points = pts;
    e->n_points = n_kept;
    e->n_skipped = n_cand - n_kept;
    e->skip_summary[0] = '\0';
    if (e->n_skipped > 0) {
        /* reasons only: callers print the count next to it */
        int off = 0;
        for (int i = 0; i < WHY_COUNT && off < (int)sizeof e->skip_summary; i++) {
            if (!why_count[i]) continue;
            off += snprintf(e->skip_summary + off, sizeof e->skip_summary - (size_t)off,
                            "%s%s (%lld)", off ? "; " : "", why_text[i], (long long)why_count[i]);
        }
    }
    return 0;
}


/* ---------------------------------------------------------------------------- */
/* Describing a point                                                            */

void qlab_point_describe(const qlab_point *p, char *buf, size_t len)
{
    if (!buf || !len) return;
    int off = 0;
#define PUT(...)                                                                          \
    do {                                                                                  \
        if (off < (int)len) off += snprintf(buf + off, len - (size_t)off, __VA_ARGS__);   \
    } while (0)
    PUT("%s", p->workload);
    if (p->path[0]) PUT(" %s", p->path);
    if (p->layer[0]) PUT(" layer=%s", p->layer);
    if (p->depth) PUT(" depth=%lld", (long long)p->depth);
    if (p->mode[0]) PUT(" %s", p->mode);
    /* Model points take their shapes from the model: no m, k, n to show. */
    if (p->m || p->k || p->n)
        PUT(" m=%lld k=%lld n=%lld", (long long)p->m, (long long)p->k, (long long)p->n);
    PUT(" %s", p->scheme);
    if (p->x_granularity[0]) PUT(" x=%s", p->x_granularity);
    if (p->w_granularity[0]) PUT(" w=%s", p->w_granularity);
    if (p->block) PUT(" b=%lld", (long long)p->block);
    if (!is_float_scheme(p->scheme)) PUT(" t=%g", p->threshold);
    if (p->outlier_weights[0]) PUT(" ow=%s", p->outlier_weights);
    if (p->smooth_alpha > 0) PUT(" smooth=%g", p->smooth_alpha);
    if (!strcmp(p->workload, "synthetic") || !strcmp(p->workload, "chain")) {
        PUT(" | X %s std=%g", p->x.dist, p->x.std);
        if (!strcmp(p->x.dist, "student_t")) PUT(" df=%g", p->x.df);
        if (p->x.outlier_cols > 0) PUT(" out=%g*%g", p->x.outlier_cols, p->x.outlier_scale);
        PUT(" W %s std=%g", p->w.dist, p->w.std);
        if (!strcmp(p->w.dist, "student_t")) PUT(" df=%g", p->w.df);
    }
#undef PUT
}

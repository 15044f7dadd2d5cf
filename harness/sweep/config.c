/* config.c: experiment configs (DESIGN section 6) -> validated, expanded points.
 *
 * The YAML goes through libfyaml into a document; --set overrides are grafted onto
 * that document; the document is emitted back to text (exp->text, what results
 * files store and --resume reloads) and then walked against a schema table (one
 * row per key). Scalars under `workload` and `quant` become axes of one value,
 * lists axes of many; the axes are crossed into points, normalised (presets,
 * settings a scheme ignores) and de-duplicated. See config.h for the rules.
 *
 * Nothing is printed: libfyaml's diagnostics are captured through a diag output
 * callback and re-worded as "file:line:col: ..." into the caller's err buffer.
 */
#include "sweep/config.h"
#include "store/dump.h"

#include <errno.h>
#include <fnmatch.h>
#include <libfyaml.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------------------- */
/* The schema                                                                    */

typedef enum {
    T_MAP,        /* a mapping of further keys */
    T_NAME,       /* experiment name: [A-Za-z0-9_.-]+ */
    T_TEXT,       /* free text */
    T_ENUM,       /* one of `names` */
    T_INT,        /* integer within bounds */
    T_UINT,       /* unsigned 64-bit integer */
    T_REAL,       /* finite real within bounds */
    T_ENUM_LIST,  /* a list (or one) of `names` */
    T_ZIP         /* list of lists of axis names */
} cfg_type;

typedef enum {
    F_NONE = 0,
    F_NAME, F_DESC, F_BACKEND, F_SEED, F_ZIP, F_MEASURE,
    F_WARMUP, F_MIN_SAMPLES, F_MAX_NOISE, F_MIN_TIME, F_TIMEOUT,
    /* axes */
    F_KIND, F_PATH, F_LAYERS, F_MODEL, F_TEXT, F_DEPTH, F_WIDTH, F_TOKENS, F_MODE, F_M, F_K, F_N,
    F_X_DIST, F_X_STD, F_X_DF, F_X_OCOLS, F_X_OSCALE,
    F_W_DIST, F_W_STD, F_W_DF,
    F_SCHEME, F_XGRAN, F_WGRAN, F_BLOCK, F_THRESHOLD, F_OW, F_SMOOTH,
    F_COUNT
} cfg_field;

typedef struct {
    const char *path;            /* dotted key path from the root */
    cfg_type type;
    cfg_field field;
    int axis;                    /* 1: may be a list, every list is an axis */
    const char *const *names;    /* T_ENUM, T_ENUM_LIST: allowed values, NULL-terminated */
    const char *what;            /* T_ENUM: noun for messages ("scheme") */
    double lo, hi;               /* bounds (NAN: none) */
    int lo_open, hi_open;        /* 1: bound excluded */
} cfg_key;

static const char *const names_backend[] = {"auto", "cpu", "cuda", NULL};
static const char *const names_kind[] = {"synthetic", "dump", "chain", "model", NULL};
static const char *const names_model[] = {"minilm", NULL};
static const char *const names_mode[] = {"propagated", "isolated", NULL};
static const char *const names_dist[] = {"normal", "uniform", "student_t", NULL};
/* Consistent with quant.h's traits table; llm_int8 is a preset expanded here. */
static const char *const names_scheme[] = {"fp32", "fp16", "bf16", "absmax", "zeropoint",
                                           "fp8_e4m3", "fp8_e5m2", "nf4", "fp4", "nf4_dq", "fp4_dq",
                                           "llm_int8", NULL};
static const char *const names_xgran[] = {"tensor", "row", "block", NULL};
static const char *const names_wgran[] = {"tensor", "channel", "block", NULL};
static const char *const names_ow[] = {"fp16", "dequant", NULL};
static const char *const names_measure[] = {"error", "latency", "memory", NULL};

#define NB NAN
static const cfg_key cfg_keys[] = {
    {"name", T_NAME, F_NAME, 0, NULL, NULL, NB, NB, 0, 0},
    {"description", T_TEXT, F_DESC, 0, NULL, NULL, NB, NB, 0, 0},
    {"backend", T_ENUM, F_BACKEND, 0, names_backend, "backend", NB, NB, 0, 0},
    {"seed", T_UINT, F_SEED, 0, NULL, NULL, NB, NB, 0, 0},
    {"workload", T_MAP, F_NONE, 0, NULL, NULL, NB, NB, 0, 0},
    {"workload.kind", T_ENUM, F_KIND, 1, names_kind, "workload kind", NB, NB, 0, 0},
    {"workload.path", T_TEXT, F_PATH, 1, NULL, NULL, NB, NB, 0, 0},
    {"workload.layers", T_TEXT, F_LAYERS, 1, NULL, NULL, NB, NB, 0, 0},
    {"workload.model", T_ENUM, F_MODEL, 1, names_model, "model", NB, NB, 0, 0},
    {"workload.text", T_TEXT, F_TEXT, 1, NULL, NULL, NB, NB, 0, 0},
    {"workload.depth", T_INT, F_DEPTH, 1, NULL, NULL, 1, 48, 0, 0},
    {"workload.width", T_INT, F_WIDTH, 1, NULL, NULL, 0, NB, 1, 0},
    {"workload.tokens", T_INT, F_TOKENS, 1, NULL, NULL, 0, NB, 1, 0},
    {"workload.mode", T_ENUM, F_MODE, 1, names_mode, "mode", NB, NB, 0, 0},
    {"workload.m", T_INT, F_M, 1, NULL, NULL, 0, NB, 1, 0},
    {"workload.k", T_INT, F_K, 1, NULL, NULL, 0, NB, 1, 0},
    {"workload.n", T_INT, F_N, 1, NULL, NULL, 0, NB, 1, 0},
    {"workload.x", T_MAP, F_NONE, 0, NULL, NULL, NB, NB, 0, 0},
    {"workload.x.dist", T_ENUM, F_X_DIST, 1, names_dist, "distribution", NB, NB, 0, 0},
    {"workload.x.std", T_REAL, F_X_STD, 1, NULL, NULL, 0, NB, 1, 0},
    {"workload.x.df", T_REAL, F_X_DF, 1, NULL, NULL, 2, NB, 1, 0},
    {"workload.x.outlier_cols", T_REAL, F_X_OCOLS, 1, NULL, NULL, 0, 1, 0, 1},
    {"workload.x.outlier_scale", T_REAL, F_X_OSCALE, 1, NULL, NULL, 1, NB, 0, 0},
    {"workload.w", T_MAP, F_NONE, 0, NULL, NULL, NB, NB, 0, 0},
    {"workload.w.dist", T_ENUM, F_W_DIST, 1, names_dist, "distribution", NB, NB, 0, 0},
    {"workload.w.std", T_REAL, F_W_STD, 1, NULL, NULL, 0, NB, 1, 0},
    {"workload.w.df", T_REAL, F_W_DF, 1, NULL, NULL, 2, NB, 1, 0},
    {"quant", T_MAP, F_NONE, 0, NULL, NULL, NB, NB, 0, 0},
    {"quant.scheme", T_ENUM, F_SCHEME, 1, names_scheme, "scheme", NB, NB, 0, 0},
    {"quant.x_granularity", T_ENUM, F_XGRAN, 1, names_xgran, "x granularity", NB, NB, 0, 0},
    {"quant.w_granularity", T_ENUM, F_WGRAN, 1, names_wgran, "w granularity", NB, NB, 0, 0},
    {"quant.block", T_INT, F_BLOCK, 1, NULL, NULL, 0, NB, 1, 0},
    {"quant.threshold", T_REAL, F_THRESHOLD, 1, NULL, NULL, 0, NB, 0, 0},
    {"quant.outlier_weights", T_ENUM, F_OW, 1, names_ow, "outlier_weights", NB, NB, 0, 0},
    {"quant.smooth_alpha", T_REAL, F_SMOOTH, 1, NULL, NULL, 0, 1, 0, 0},
    {"zip", T_ZIP, F_ZIP, 0, NULL, NULL, NB, NB, 0, 0},
    {"measure", T_ENUM_LIST, F_MEASURE, 0, names_measure, "measure", NB, NB, 0, 0},
    {"timing", T_MAP, F_NONE, 0, NULL, NULL, NB, NB, 0, 0},
    {"timing.warmup", T_INT, F_WARMUP, 0, NULL, NULL, 0, NB, 0, 0},
    {"timing.min_samples", T_INT, F_MIN_SAMPLES, 0, NULL, NULL, 1, NB, 0, 0},
    {"timing.max_noise", T_REAL, F_MAX_NOISE, 0, NULL, NULL, 0, NB, 0, 0},
    {"timing.min_time_s", T_REAL, F_MIN_TIME, 0, NULL, NULL, 0, NB, 0, 0},
    {"timing.timeout_s", T_REAL, F_TIMEOUT, 0, NULL, NULL, 0, NB, 1, 0},
};
#undef NB
#define N_KEYS ((int)(sizeof cfg_keys / sizeof cfg_keys[0]))

/* Largest sweep expanded before de-duplication: a guard against a typo that
 * multiplies axes into billions of points. */
#define CFG_MAX_PRODUCT 10000000LL

static const cfg_key *key_by_path(const char *path)
{
    for (int i = 0; i < N_KEYS; i++)
        if (strcmp(cfg_keys[i].path, path) == 0) return &cfg_keys[i];
    return NULL;
}

/* Parent path of a key ("" for top-level keys) compared against `parent`. */
static int key_has_parent(const cfg_key *k, const char *parent)
{
    const char *dot = strrchr(k->path, '.');
    size_t plen = dot ? (size_t)(dot - k->path) : 0;
    return strlen(parent) == plen && strncmp(k->path, parent, plen) == 0;
}

static const char *key_leaf(const cfg_key *k)
{
    const char *dot = strrchr(k->path, '.');
    return dot ? dot + 1 : k->path;
}

/* ---------------------------------------------------------------------------- */
/* Small helpers                                                                 */

int qlab_edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    int *row = malloc((lb + 1) * sizeof *row);
    if (!row) return (int)(la > lb ? la : lb);
    for (size_t j = 0; j <= lb; j++) row[j] = (int)j;
    for (size_t i = 1; i <= la; i++) {
        int diag = row[0];
        row[0] = (int)i;
        for (size_t j = 1; j <= lb; j++) {
            int up = row[j];
            int best = diag + (a[i - 1] != b[j - 1]);
            if (up + 1 < best) best = up + 1;
            if (row[j - 1] + 1 < best) best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    int d = row[lb];
    free(row);
    return d;
}

/* Closest of `names` to `s` within edit distance 2, or NULL. */
static const char *closest_name(const char *s, const char *const *names)
{
    const char *best = NULL;
    int best_d = 3;
    for (int i = 0; names[i]; i++) {
        int d = qlab_edit_distance(s, names[i]);
        if (d < best_d) { best_d = d; best = names[i]; }
    }
    return best;
}

static void copy_str(char *dst, size_t cap, const char *src)
{
    /* truncating copy; every caller's source is validated to fit or is a name */
    size_t n = src ? strlen(src) : 0;
    if (n >= cap) n = cap - 1;
    if (n) memcpy(dst, src, n);
    dst[n] = '\0';
}

/* ---------------------------------------------------------------------------- */
/* Diagnostics: capture libfyaml's messages, locate nodes, format our errors     */

typedef struct {
    char msg[256];    /* first error libfyaml reported since the last reset */
    int line, col;    /* its position, 1-based; 0 when unknown */
} fy_capture;

/* libfyaml writes "<input>:LINE:COL: error: MESSAGE\n" followed by source
 * excerpt lines; keep the position and message of the first error only. */
static void capture_output(struct fy_diag *diag, void *user, const char *buf, size_t len)
{
    fy_capture *c = user;
    if (c->msg[0]) return;
    char tmp[512];
    size_t n = len < sizeof tmp - 1 ? len : sizeof tmp - 1;
    memcpy(tmp, buf, n);
    tmp[n] = '\0';
    char *e = strstr(tmp, ": error: ");
    if (!e) return;
    char *msg = e + strlen(": error: ");
    msg[strcspn(msg, "\r\n")] = '\0';
    copy_str(c->msg, sizeof c->msg, msg);
    /* walk back over ":COL" and ":LINE" */
    *e = '\0';
    char *c1 = strrchr(tmp, ':');
    if (c1) {
        c->col = atoi(c1 + 1);
        *c1 = '\0';
        char *c2 = strrchr(tmp, ':');
        if (c2) c->line = atoi(c2 + 1);
    }
}

static void capture_reset(fy_capture *c)
{
    c->msg[0] = '\0';
    c->line = c->col = 0;
}

typedef struct {
    const char *source;
    char *err;
    size_t err_len;
    fy_capture cap;
    /* value nodes grafted by --set, to word errors inside them as "--set 'k=v'" */
    struct fy_node **set_nodes;
    const char *const *set_texts;
    int n_set_nodes;
} cfg_ctx;

/* Start mark of a node: its scalar token, or the first scalar inside it. */
static const struct fy_mark *node_mark(struct fy_node *n)
{
    if (!n) return NULL;
    if (fy_node_is_scalar(n)) {
        struct fy_token *t = fy_node_get_scalar_token(n);
        return t ? fy_token_start_mark(t) : NULL;
    }
    void *it = NULL;
    if (fy_node_is_mapping(n)) {
        struct fy_node_pair *p = fy_node_mapping_iterate(n, &it);
        return p ? node_mark(fy_node_pair_key(p)) : NULL;
    }
    if (fy_node_is_sequence(n)) {
        struct fy_node *item = fy_node_sequence_iterate(n, &it);
        return node_mark(item);
    }
    return NULL;
}

/* The --set text whose value subtree holds n, or NULL. */
static const char *set_origin(const cfg_ctx *c, struct fy_node *n)
{
    for (; n; n = fy_node_get_parent(n))
        for (int i = 0; i < c->n_set_nodes; i++)
            if (c->set_nodes[i] == n) return c->set_texts[i];
    return NULL;
}

/* Writes "<where>: key '<path>': <message>" into err and returns 2. <where> is
 * "--set 'k=v'" for values grafted from the command line, else file:line:col of
 * `at` (or of `fallback` when `at` has no position, e.g. an empty list). */
static int cfg_fail(cfg_ctx *c, struct fy_node *at, struct fy_node *fallback,
                    const char *path, const char *fmt, ...)
{
    char where[640];
    const char *set = set_origin(c, at ? at : fallback);
    if (set) {
        snprintf(where, sizeof where, "--set '%s'", set);
    } else {
        const struct fy_mark *m = node_mark(at);
        if (!m) m = node_mark(fallback);
        if (m) snprintf(where, sizeof where, "%s:%d:%d", c->source, m->line + 1, m->column + 1);
        else snprintf(where, sizeof where, "%s:1:1", c->source);
    }
    char what[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    if (path && path[0]) snprintf(c->err, c->err_len, "%s: key '%s': %s", where, path, what);
    else snprintf(c->err, c->err_len, "%s: %s", where, what);
    return 2;
}

/* Scalar text of n ("" for null), NUL-terminated copy into buf. */
static const char *scalar_text(struct fy_node *n, char *buf, size_t cap)
{
    size_t len = 0;
    const char *s = n ? fy_node_get_scalar(n, &len) : NULL;
    if (!s) len = 0;
    if (len >= cap) len = cap - 1;
    if (s) memcpy(buf, s, len);
    buf[len] = '\0';
    return buf;
}

static const char *node_kind_word(struct fy_node *n)
{
    if (!n) return "nothing";
    if (fy_node_is_mapping(n)) return "a mapping";
    if (fy_node_is_sequence(n)) return "a list";
    return "a scalar";
}

/* ---------------------------------------------------------------------------- */
/* Typed values                                                                  */

typedef struct {
    struct fy_node *node;      /* where it was written (NULL for defaults) */
    int64_t i;
    double d;
    char s[QLAB_PATH_LEN];
} cfg_val;

static void bounds_text(const cfg_key *k, char *buf, size_t cap)
{
    if (!isnan(k->lo) && !isnan(k->hi))
        snprintf(buf, cap, "must be in %c%g, %g%c", k->lo_open ? '(' : '[', k->lo, k->hi,
                 k->hi_open ? ')' : ']');
    else if (!isnan(k->lo))
        snprintf(buf, cap, "must be %s %g", k->lo_open ? ">" : ">=", k->lo);
    else
        snprintf(buf, cap, "must be %s %g", k->hi_open ? "<" : "<=", k->hi);
}

static int out_of_bounds(const cfg_key *k, double v)
{
    if (!isnan(k->lo) && (k->lo_open ? v <= k->lo : v < k->lo)) return 1;
    if (!isnan(k->hi) && (k->hi_open ? v >= k->hi : v > k->hi)) return 1;
    return 0;
}

/* Parses one scalar node as key k's type into v; on error returns 2 with err set. */
static int parse_scalar(cfg_ctx *c, const cfg_key *k, struct fy_node *n, struct fy_node *key_node,
                        cfg_val *v)
{
    char text[QLAB_PATH_LEN];
    memset(v, 0, sizeof *v);
    v->node = n;
    if (!n || fy_node_is_null(n))
        return cfg_fail(c, n, key_node, k->path, "missing value");
    if (!fy_node_is_scalar(n))
        return cfg_fail(c, n, key_node, k->path, "expected a scalar%s, got %s",
                        k->axis ? " or a list of scalars" : "", node_kind_word(n));
    scalar_text(n, text, sizeof text);
    copy_str(v->s, sizeof v->s, text);
    char *end = NULL;
    char bounds[96];
    switch (k->type) {
    case T_NAME:
        if (!text[0] || strspn(text, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                     "0123456789_.-") != strlen(text))
            return cfg_fail(c, n, key_node, k->path,
                            "a name may hold only letters, digits, '_', '.' and '-' (value '%s')",
                            text);
        return 0;
    case T_TEXT:
        return 0;
    case T_ENUM:
    case T_ENUM_LIST:
        for (int i = 0; k->names[i]; i++)
            if (strcmp(text, k->names[i]) == 0) return 0;
        {
            const char *near = closest_name(text, k->names);
            char all[256] = "";
            for (int i = 0; k->names[i]; i++) {
                strncat(all, i ? ", " : "", sizeof all - strlen(all) - 1);
                strncat(all, k->names[i], sizeof all - strlen(all) - 1);
            }
            if (near)
                return cfg_fail(c, n, key_node, k->path, "unknown %s '%s' (did you mean '%s'?)",
                                k->what, text, near);
            return cfg_fail(c, n, key_node, k->path, "unknown %s '%s' (one of: %s)", k->what,
                            text, all);
        }
    case T_INT:
        errno = 0;
        v->i = strtoll(text, &end, 10);
        if (!text[0] || *end || errno)
            return cfg_fail(c, n, key_node, k->path, "expected an integer (value '%s')", text);
        v->d = (double)v->i;
        if (out_of_bounds(k, v->d)) {
            bounds_text(k, bounds, sizeof bounds);
            return cfg_fail(c, n, key_node, k->path, "%s (value '%s')", bounds, text);
        }
        return 0;
    case T_UINT: {
        errno = 0;
        unsigned long long u = strtoull(text, &end, 10);
        if (!text[0] || *end || errno || text[0] == '-' || text[0] == '+')
            return cfg_fail(c, n, key_node, k->path,
                            "expected an unsigned integer (value '%s')", text);
        v->i = (int64_t)u;
        v->d = (double)u;
        return 0;
    }
    case T_REAL:
        errno = 0;
        v->d = strtod(text, &end);
        if (!text[0] || *end || errno || !isfinite(v->d))
            return cfg_fail(c, n, key_node, k->path, "expected a number (value '%s')", text);
        if (out_of_bounds(k, v->d)) {
            bounds_text(k, bounds, sizeof bounds);
            return cfg_fail(c, n, key_node, k->path, "%s (value '%s')", bounds, text);
        }
        return 0;
    default:
        return cfg_fail(c, n, key_node, k->path, "internal: no scalar parser");
    }
}

/* ---------------------------------------------------------------------------- */
/* Walking the document                                                          */

typedef struct {
    const cfg_key *key;
    struct fy_node *node;      /* the value node (scalar or list) */
    struct fy_node *key_node;
    cfg_val *v;
    int n;
    int dim;                   /* dimension of the product it belongs to */
} cfg_axis;

typedef struct {
    cfg_ctx *c;
    qlab_experiment *exp;
    cfg_axis axes[N_KEYS];     /* axes in document order */
    int n_axes;
    int seen[F_COUNT];
    struct fy_node *zip_node, *zip_key;
    struct fy_node *root;
    struct fy_node *map_node[3];   /* workload, quant mappings, for "missing" messages */
} cfg_walk;

/* Message for an unknown key: a near sibling, else the same leaf elsewhere. */
static int unknown_key(cfg_ctx *c, struct fy_node *key_node, const char *parent, const char *name)
{
    char full[256];
    snprintf(full, sizeof full, "%s%s%s", parent, parent[0] ? "." : "", name);
    const cfg_key *best = NULL;
    int best_d = 3;
    for (int i = 0; i < N_KEYS; i++) {
        if (!key_has_parent(&cfg_keys[i], parent)) continue;
        int d = qlab_edit_distance(name, key_leaf(&cfg_keys[i]));
        if (d < best_d) { best_d = d; best = &cfg_keys[i]; }
    }
    if (!best)
        for (int i = 0; i < N_KEYS; i++)
            if (strcmp(key_leaf(&cfg_keys[i]), name) == 0) { best = &cfg_keys[i]; break; }
    if (best)
        return cfg_fail(c, key_node, NULL, full, "unknown key (did you mean '%s'?)", best->path);
    char known[384] = "";
    for (int i = 0; i < N_KEYS; i++) {
        if (!key_has_parent(&cfg_keys[i], parent)) continue;
        strncat(known, known[0] ? ", " : "", sizeof known - strlen(known) - 1);
        strncat(known, key_leaf(&cfg_keys[i]), sizeof known - strlen(known) - 1);
    }
    return cfg_fail(c, key_node, NULL, full, "unknown key (known here: %s)", known);
}

static int walk_leaf(cfg_walk *w, const cfg_key *k, struct fy_node *key_node, struct fy_node *val);

static int walk_map(cfg_walk *w, struct fy_node *map, const char *parent)
{
    void *it = NULL;
    struct fy_node_pair *p;
    while ((p = fy_node_mapping_iterate(map, &it))) {
        struct fy_node *kn = fy_node_pair_key(p), *vn = fy_node_pair_value(p);
        char name[128], full[256];
        if (!kn || !fy_node_is_scalar(kn))
            return cfg_fail(w->c, kn ? kn : map, NULL, parent, "keys must be plain names");
        scalar_text(kn, name, sizeof name);
        snprintf(full, sizeof full, "%s%s%s", parent, parent[0] ? "." : "", name);
        const cfg_key *k = key_by_path(full);
        if (!k) return unknown_key(w->c, kn, parent, name);
        if (k->type == T_MAP) {
            if (!vn || !fy_node_is_mapping(vn))
                return cfg_fail(w->c, vn, kn, full, "expected a mapping of keys, got %s",
                                vn && !fy_node_is_null(vn) ? node_kind_word(vn) : "nothing");
            if (strcmp(full, "workload") == 0) w->map_node[0] = kn;
            if (strcmp(full, "quant") == 0) w->map_node[1] = kn;
            int rc = walk_map(w, vn, full);
            if (rc) return rc;
            continue;
        }
        int rc = walk_leaf(w, k, kn, vn);
        if (rc) return rc;
    }
    return 0;
}

static int walk_leaf(cfg_walk *w, const cfg_key *k, struct fy_node *kn, struct fy_node *vn)
{
    cfg_ctx *c = w->c;
    qlab_experiment *e = w->exp;
    cfg_val v;
    w->seen[k->field] = 1;

    if (k->axis) {
        cfg_axis *a = &w->axes[w->n_axes];
        a->key = k;
        a->node = vn;
        a->key_node = kn;
        int n = 1;
        if (vn && fy_node_is_sequence(vn)) {
            n = fy_node_sequence_item_count(vn);
            if (n == 0) return cfg_fail(c, vn, kn, k->path, "empty list (an axis needs at least one value)");
        }
        a->v = calloc((size_t)n, sizeof *a->v);
        if (!a->v) return cfg_fail(c, vn, kn, k->path, "out of memory");
        a->n = n;
        w->n_axes++;
        if (vn && fy_node_is_sequence(vn)) {
            void *it = NULL;
            struct fy_node *item;
            int i = 0;
            while ((item = fy_node_sequence_iterate(vn, &it))) {
                int rc = parse_scalar(c, k, item, kn, &a->v[i++]);
                if (rc) return rc;
            }
        } else {
            int rc = parse_scalar(c, k, vn, kn, &a->v[0]);
            if (rc) return rc;
        }
        if (k->field == F_KIND)
            for (int i = 0; i < a->n; i++) {
                /* each kind has its own keys: one kind per experiment keeps them checkable */
                if (i > 0 && strcmp(a->v[i].s, a->v[0].s) != 0)
                    return cfg_fail(c, a->v[i].node, kn, k->path,
                                    "one workload kind per experiment (value '%s' after '%s')",
                                    a->v[i].s, a->v[0].s);
            }
        return 0;
    }

    if (k->type == T_ZIP) {
        if (vn && !fy_node_is_null(vn) && !fy_node_is_sequence(vn))
            return cfg_fail(c, vn, kn, k->path, "expected a list of groups, e.g. [[m, k, n]]");
        w->zip_node = vn;
        w->zip_key = kn;
        return 0;
    }

    if (k->type == T_ENUM_LIST) {
        e->measure_error = e->measure_latency = e->measure_memory = 0;
        struct fy_node *item;
        void *it = NULL;
        int n = 0;
        if (vn && fy_node_is_sequence(vn)) {
            while ((item = fy_node_sequence_iterate(vn, &it))) {
                int rc = parse_scalar(c, k, item, kn, &v);
                if (rc) return rc;
                n++;
                if (!strcmp(v.s, "error")) e->measure_error = 1;
                if (!strcmp(v.s, "latency")) e->measure_latency = 1;
                if (!strcmp(v.s, "memory")) e->measure_memory = 1;
            }
            if (n == 0) return cfg_fail(c, vn, kn, k->path, "empty list (measure at least one of error, latency, memory)");
        } else {
            int rc = parse_scalar(c, k, vn, kn, &v);
            if (rc) return rc;
            if (!strcmp(v.s, "error")) e->measure_error = 1;
            if (!strcmp(v.s, "latency")) e->measure_latency = 1;
            if (!strcmp(v.s, "memory")) e->measure_memory = 1;
        }
        return 0;
    }

    if (vn && fy_node_is_sequence(vn))
        return cfg_fail(c, vn, kn, k->path,
                        "cannot be a list (only values under workload and quant are axes)");
    int rc = parse_scalar(c, k, vn, kn, &v);
    if (rc) return rc;
    switch (k->field) {
    case F_NAME:
        free(e->name);
        e->name = strdup(v.s);
        break;
    case F_DESC:
        free(e->description);
        e->description = strdup(v.s);
        break;
    case F_BACKEND: copy_str(e->backend, sizeof e->backend, v.s); break;
    case F_SEED: e->seed = (uint64_t)v.i; break;
    case F_WARMUP: e->timing.warmup = v.i; break;
    case F_MIN_SAMPLES: e->timing.min_samples = v.i; break;
    case F_MAX_NOISE: e->timing.max_noise = v.d; break;
    case F_MIN_TIME: e->timing.min_time_s = v.d; break;
    case F_TIMEOUT: e->timing.timeout_s = v.d; break;
    default: break;
    }
    return 0;
}

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
    for (int i = 0; i < N_KEYS; i++) {
        const cfg_key *k = &cfg_keys[i];
        if (!k->axis) continue;
        size_t lp = strlen(k->path);
        int hit = strcmp(k->path, name) == 0 ||
                  (lp > ln && k->path[lp - ln - 1] == '.' && strcmp(k->path + lp - ln, name) == 0);
        if (!hit) continue;
        if (n_match == 0) copy_str(first, sizeof first, k->path);
        else if (n_match == 1) copy_str(second, sizeof second, k->path);
        match = k;
        n_match++;
    }
    if (n_match > 1)
        return cfg_fail(w->c, item, w->zip_key, "zip",
                        "axis name '%s' is ambiguous (say '%s' or '%s')", name, first, second);
    if (n_match == 0) {
        const char *best = NULL;
        int best_d = 3;
        for (int i = 0; i < N_KEYS; i++) {
            if (!cfg_keys[i].axis) continue;
            int d = qlab_edit_distance(name, key_leaf(&cfg_keys[i]));
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
static int assign_dims(cfg_walk *w, int64_t *dim_size)
{
    int group_of[N_KEYS];
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
                        "a zip group holds axis names, got %s", node_kind_word(item));
                    return -2;
                }
                scalar_text(item, name, sizeof name);
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
    int group_dim[N_KEYS];
    for (int g = 0; g < N_KEYS; g++) group_dim[g] = -1;
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
    copy_str(p->workload, sizeof p->workload, "synthetic");
    copy_str(p->x.dist, sizeof p->x.dist, "normal");
    p->x.std = 1.0;
    p->x.df = 4.0;
    p->x.outlier_cols = 0.0;
    p->x.outlier_scale = 1.0;
    copy_str(p->w.dist, sizeof p->w.dist, "normal");
    p->w.std = 0.02;
    p->w.df = 4.0;
    p->w.outlier_cols = 0.0;
    p->w.outlier_scale = 1.0;
    copy_str(p->x_granularity, sizeof p->x_granularity, "row");
    copy_str(p->w_granularity, sizeof p->w_granularity, "channel");
    p->block = 64;
    p->threshold = 0.0;
    copy_str(p->outlier_weights, sizeof p->outlier_weights, "fp16");
}

static void point_apply(qlab_point *p, cfg_field f, const cfg_val *v)
{
    switch (f) {
    case F_KIND: copy_str(p->workload, sizeof p->workload, v->s); break;
    case F_PATH: copy_str(p->path, sizeof p->path, v->s); break;
    case F_MODEL: copy_str(p->model, sizeof p->model, v->s); break;
    case F_TEXT: copy_str(p->path, sizeof p->path, v->s); break;
    case F_DEPTH: p->depth = v->i; break;
    case F_WIDTH: p->k = p->n = v->i; break;
    case F_TOKENS: p->m = v->i; break;
    case F_MODE: copy_str(p->mode, sizeof p->mode, v->s); break;
    case F_M: p->m = v->i; break;
    case F_K: p->k = v->i; break;
    case F_N: p->n = v->i; break;
    case F_X_DIST: copy_str(p->x.dist, sizeof p->x.dist, v->s); break;
    case F_X_STD: p->x.std = v->d; break;
    case F_X_DF: p->x.df = v->d; break;
    case F_X_OCOLS: p->x.outlier_cols = v->d; break;
    case F_X_OSCALE: p->x.outlier_scale = v->d; break;
    case F_W_DIST: copy_str(p->w.dist, sizeof p->w.dist, v->s); break;
    case F_W_STD: p->w.std = v->d; break;
    case F_W_DF: p->w.df = v->d; break;
    case F_SCHEME: copy_str(p->scheme, sizeof p->scheme, v->s); break;
    case F_XGRAN: copy_str(p->x_granularity, sizeof p->x_granularity, v->s); break;
    case F_WGRAN: copy_str(p->w_granularity, sizeof p->w_granularity, v->s); break;
    case F_BLOCK: p->block = v->i; break;
    case F_THRESHOLD: p->threshold = v->d; break;
    case F_OW: copy_str(p->outlier_weights, sizeof p->outlier_weights, v->s); break;
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
        copy_str(p->scheme, sizeof p->scheme, "absmax");
        copy_str(p->x_granularity, sizeof p->x_granularity, "row");
        copy_str(p->w_granularity, sizeof p->w_granularity, "channel");
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
        copy_str(p->w_granularity, sizeof p->w_granularity, "block");
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
    if (!strcmp(kind, "model")) return f == F_MODEL || f == F_TEXT || f == F_MODE;
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
    copy_str(v[dc->n].path, sizeof v[dc->n].path, path);
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
        copy_str(cd.p.layer, sizeof cd.p.layer, L->group);
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

static int expand(cfg_walk *w)
{
    cfg_ctx *c = w->c;
    qlab_experiment *e = w->exp;
    int64_t dim_size[N_KEYS];
    int n_dims = assign_dims(w, dim_size);
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
    static const cfg_field req_model[] = {F_MODEL, F_TEXT, F_SCHEME};
    int is_model = !strcmp(kind, "model");
    const cfg_field *req = is_dump ? req_dump : is_chain ? req_chain : is_model ? req_model : req_synthetic;
    int n_req = is_dump ? 2 : is_model ? 3 : 4;
    const char *needs = is_dump ? "a dump workload needs path; quant needs a scheme"
                      : is_model ? "a model workload needs model and text; quant needs a scheme"
                      : is_chain ? "a chain workload needs depth, width and tokens; quant needs a scheme"
                      : "a synthetic workload needs m, k, n; quant needs a scheme";
    for (int i = 0; i < n_req; i++) {
        if (w->seen[req[i]]) continue;
        const cfg_key *k = NULL;
        for (int j = 0; j < N_KEYS; j++)
            if (cfg_keys[j].field == req[i]) k = &cfg_keys[j];
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
    int64_t idx[N_KEYS] = {0};
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
            copy_str(p->mode, sizeof p->mode, "propagated");
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
/* --set overrides                                                               */

/* Grafts one "a.b.c=value" onto the document. The path must name a schema key;
 * missing mappings on the way are created. */
static int apply_set(cfg_ctx *c, struct fy_document *fyd, const char *set, int set_index)
{
    const char *eq = strchr(set, '=');
    if (!eq || eq == set) {
        snprintf(c->err, c->err_len, "--set '%s': expected key=value, e.g. quant.threshold=6", set);
        return 2;
    }
    char path[256];
    size_t plen = (size_t)(eq - set);
    if (plen >= sizeof path) plen = sizeof path - 1;
    memcpy(path, set, plen);
    path[plen] = '\0';
    const char *value = eq + 1;
    while (*value == ' ') value++;
    if (!*value) {
        snprintf(c->err, c->err_len, "--set '%s': key '%s': empty value", set, path);
        return 2;
    }
    const cfg_key *k = key_by_path(path);
    if (!k) {
        /* name the first segment that is wrong */
        char parent[256] = "", seg_path[256];
        char *save = NULL, tmp[256];
        copy_str(tmp, sizeof tmp, path);
        for (char *seg = strtok_r(tmp, ".", &save); seg; seg = strtok_r(NULL, ".", &save)) {
            snprintf(seg_path, sizeof seg_path, "%s%s%s", parent, parent[0] ? "." : "", seg);
            const cfg_key *sk = key_by_path(seg_path);
            if (!sk || (sk->type != T_MAP && strcmp(seg_path, path) != 0)) {
                const cfg_key *best = NULL;
                int best_d = 3;
                for (int i = 0; i < N_KEYS; i++) {
                    if (!key_has_parent(&cfg_keys[i], parent)) continue;
                    int d = qlab_edit_distance(seg, key_leaf(&cfg_keys[i]));
                    if (d < best_d) { best_d = d; best = &cfg_keys[i]; }
                }
                if (!best)
                    for (int i = 0; i < N_KEYS; i++)
                        if (!strcmp(key_leaf(&cfg_keys[i]), seg)) { best = &cfg_keys[i]; break; }
                if (best)
                    snprintf(c->err, c->err_len, "--set '%s': key '%s': unknown key (did you mean '%s'?)",
                             set, path, best->path);
                else
                    snprintf(c->err, c->err_len, "--set '%s': key '%s': unknown key", set, path);
                return 2;
            }
            copy_str(parent, sizeof parent, seg_path);
        }
        snprintf(c->err, c->err_len, "--set '%s': key '%s': unknown key", set, path);
        return 2;
    }

    capture_reset(&c->cap);
    struct fy_node *vn = fy_node_build_from_string(fyd, value, strlen(value));
    if (!vn) {
        snprintf(c->err, c->err_len, "--set '%s': key '%s': value is not valid YAML%s%s (value '%s')",
                 set, path, c->cap.msg[0] ? ": " : "", c->cap.msg, value);
        return 2;
    }

    struct fy_node *map = fy_document_root(fyd);
    if (!map) {
        map = fy_node_create_mapping(fyd);
        fy_document_set_root(fyd, map);
    }
    char tmp[256], sofar[256] = "";
    copy_str(tmp, sizeof tmp, path);
    char *save = NULL;
    char *seg = strtok_r(tmp, ".", &save);
    while (seg) {
        char *next = strtok_r(NULL, ".", &save);
        snprintf(sofar + strlen(sofar), sizeof sofar - strlen(sofar), "%s%s", sofar[0] ? "." : "", seg);
        if (!fy_node_is_mapping(map)) {
            fy_node_free(vn);
            snprintf(c->err, c->err_len, "--set '%s': key '%s': the config holds %s there, not a mapping",
                     set, path, node_kind_word(map));
            return 2;
        }
        struct fy_node_pair *pair = fy_node_mapping_lookup_pair_by_string(map, seg, strlen(seg));
        if (!next) {
            if (pair) {
                /* the old value goes away: forget it if an earlier --set grafted it */
                struct fy_node *old = fy_node_pair_value(pair);
                for (int i = 0; i < c->n_set_nodes; i++)
                    if (c->set_nodes[i] == old) c->set_nodes[i] = NULL;
                fy_node_pair_set_value(pair, vn);
            } else {
                fy_node_mapping_append(map, fy_node_create_scalar_copy(fyd, seg, strlen(seg)), vn);
            }
            break;
        }
        struct fy_node *child = pair ? fy_node_pair_value(pair) : NULL;
        if (!child || fy_node_is_null(child)) {
            child = fy_node_create_mapping(fyd);
            if (pair) fy_node_pair_set_value(pair, child);
            else fy_node_mapping_append(map, fy_node_create_scalar_copy(fyd, seg, strlen(seg)), child);
        }
        map = child;
        seg = next;
    }
    c->set_nodes[set_index] = vn;
    return 0;
}

/* ---------------------------------------------------------------------------- */
/* Loading                                                                       */

void qlab_experiment_free(qlab_experiment *exp)
{
    if (!exp) return;
    free(exp->name);
    free(exp->description);
    free(exp->source);
    free(exp->text);
    free(exp->points);
    memset(exp, 0, sizeof *exp);
}

/* Loads from an already built document (or reports the parse failure). */
static int load_document(struct fy_document *fyd, cfg_ctx *c, const char *const *sets, int n_sets,
                         qlab_experiment *exp)
{
    if (!fyd) {
        if (c->cap.msg[0])
            snprintf(c->err, c->err_len, "%s:%d:%d: YAML syntax error: %s", c->source,
                     c->cap.line ? c->cap.line : 1, c->cap.col ? c->cap.col : 1, c->cap.msg);
        else   /* libfyaml builds no document from an empty stream and says nothing */
            snprintf(c->err, c->err_len, "%s:1:1: key 'name': missing (the config is empty)",
                     c->source);
        return 2;
    }

    struct fy_node *set_nodes[n_sets > 0 ? n_sets : 1];
    c->set_nodes = set_nodes;
    c->set_texts = sets;
    c->n_set_nodes = 0;
    for (int i = 0; i < n_sets; i++) {
        set_nodes[i] = NULL;
        c->n_set_nodes = i + 1;
        int rc = apply_set(c, fyd, sets[i], i);
        if (rc) return rc;
    }

    struct fy_node *root = fy_document_root(fyd);
    if (!root || fy_node_is_null(root))
        return cfg_fail(c, NULL, NULL, "name", "missing (the config is empty)");
    if (!fy_node_is_mapping(root))
        return cfg_fail(c, root, NULL, "", "the config must be a mapping of keys, got %s",
                        node_kind_word(root));

    exp->source = strdup(c->source);
    exp->text = fy_emit_document_to_string(fyd, FYECF_MODE_PRETTY | FYECF_WIDTH_INF);
    exp->description = strdup("");
    copy_str(exp->backend, sizeof exp->backend, "auto");
    exp->measure_error = exp->measure_latency = exp->measure_memory = 1;
    exp->timing = (qlab_timing_opts){.warmup = 10, .min_samples = 10, .max_noise = 0.005,
                                     .min_time_s = 0.2, .timeout_s = 10.0};
    if (!exp->source || !exp->text || !exp->description)
        return cfg_fail(c, root, NULL, "", "out of memory");

    cfg_walk w;
    memset(&w, 0, sizeof w);
    w.c = c;
    w.exp = exp;
    w.root = root;
    int rc = walk_map(&w, root, "");
    if (!rc && !exp->name)
        rc = cfg_fail(c, root, NULL, "name", "missing (every experiment needs a name)");
    if (!rc) rc = expand(&w);
    for (int i = 0; i < w.n_axes; i++) free(w.axes[i].v);
    return rc;
}

/* Offset of the first byte that is not part of well-formed UTF-8 (or is a NUL), or
 * len if there is none. YAML is UTF-8 text; libfyaml 0.7 loops forever on some
 * malformed sequences inside directives, so bad text is refused before parsing. */
static size_t utf8_bad_offset(const char *text, size_t len)
{
    const unsigned char *s = (const unsigned char *)text;
    size_t i = 0;
    while (i < len) {
        unsigned c = s[i];
        size_t n = c < 0x80 ? 0 : (c & 0xE0) == 0xC0 ? 1 : (c & 0xF0) == 0xE0 ? 2
                 : (c & 0xF8) == 0xF0 ? 3 : 4;
        if (c == 0 || n == 4 || (n == 1 && c < 0xC2) || (n == 3 && c > 0xF4) || i + n >= len + (n == 0))
            return i;
        uint32_t cp = n == 0 ? c : c & (0x3Fu >> n);
        for (size_t j = 1; j <= n; j++) {
            if ((s[i + j] & 0xC0) != 0x80)
                return i;
            cp = (cp << 6) | (s[i + j] & 0x3F);
        }
        if ((n == 2 && cp < 0x800) || (n == 3 && (cp < 0x10000 || cp > 0x10FFFF)) ||
            (cp >= 0xD800 && cp <= 0xDFFF))
            return i;
        i += n + 1;
    }
    return len;
}

static int load_common(const char *text, size_t len, char *owned, const char *source,
                       const char *const *sets, int n_sets, qlab_experiment *exp, char *err,
                       size_t err_len)
{
    memset(exp, 0, sizeof *exp);
    if (err && err_len) err[0] = '\0';
    char dummy[8];
    cfg_ctx c;
    memset(&c, 0, sizeof c);
    c.source = source;
    c.err = err ? err : dummy;
    c.err_len = err ? err_len : sizeof dummy;

    size_t bad = utf8_bad_offset(text, len);
    if (bad < len) {
        int line = 1, col = 1;
        for (size_t i = 0; i < bad; i++) {
            if (text[i] == '\n') { line++; col = 1; }
            else if (((unsigned char)text[i] & 0xC0) != 0x80) col++;
        }
        snprintf(c.err, c.err_len, "%s:%d:%d: not UTF-8 text (byte 0x%02x); a config is a YAML text file",
                 source, line, col, (unsigned char)text[bad]);
        free(owned);
        return 2;
    }

    struct fy_diag_cfg dc;
    fy_diag_cfg_default(&dc);
    dc.fp = NULL;                   /* never print: route everything to the capture */
    dc.output_fn = capture_output;
    dc.user = &c.cap;
    dc.colorize = false;
    struct fy_diag *diag = fy_diag_create(&dc);
    if (!diag) {
        free(owned);
        snprintf(c.err, c.err_len, "%s: cannot set up the YAML parser", source);
        return 2;
    }
    struct fy_parse_cfg pc;
    memset(&pc, 0, sizeof pc);
    pc.flags = FYPCF_QUIET | FYPCF_RESOLVE_DOCUMENT;
    pc.diag = diag;

    /* the document refers to the text, which we free only after destroying it */
    struct fy_document *fyd = fy_document_build_from_string(&pc, text, len);
    int rc = load_document(fyd, &c, sets, n_sets, exp);
    if (fyd) fy_document_destroy(fyd);
    fy_diag_destroy(diag);
    free(owned);
    if (rc) qlab_experiment_free(exp);
    return rc;
}

int qlab_experiment_load_string(const char *text, const char *source,
                                const char *const *sets, int n_sets,
                                qlab_experiment *exp, char *err, size_t err_len)
{
    if (!source) source = "<string>";
    return load_common(text ? text : "", text ? strlen(text) : 0, NULL, source, sets, n_sets,
                       exp, err, err_len);
}

int qlab_experiment_load(const char *path, const char *const *sets, int n_sets,
                         qlab_experiment *exp, char *err, size_t err_len)
{
    memset(exp, 0, sizeof *exp);
    FILE *f = fopen(path, "rb");
    if (!f) {
        if (err) snprintf(err, err_len, "%s: cannot open: %s", path, strerror(errno));
        return 2;
    }
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap + 1);
    while (buf) {
        size_t got = fread(buf + len, 1, cap - len, f);
        len += got;
        if (len < cap) break;
        char *grown = realloc(buf, cap * 2 + 1);
        if (!grown) { free(buf); buf = NULL; break; }
        buf = grown;
        cap *= 2;
    }
    int read_err = ferror(f);
    fclose(f);
    if (!buf || read_err) {
        free(buf);
        if (err) snprintf(err, err_len, "%s: cannot read the file", path);
        return 2;
    }
    buf[len] = '\0';
    return load_common(buf, len, buf, path, sets, n_sets, exp, err, err_len);
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

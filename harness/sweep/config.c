/* config.c: experiment configs (docs/DESIGN.md, "Experiments") -> validated, expanded
 * points. This file reads: YAML, --set, the schema walk, zip groups; expand.c turns
 * the axes into points (config_internal.h is what the two share).
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
#include "sweep/config_internal.h"
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
_Static_assert(sizeof cfg_keys / sizeof cfg_keys[0] <= CFG_MAX_KEYS, "raise CFG_MAX_KEYS");

const cfg_key *cfg_key_of_field(cfg_field f)
{
    for (int j = 0; j < N_KEYS; j++)
        if (cfg_keys[j].field == f)
            return &cfg_keys[j];
    return NULL;
}

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

void cfg_copy_str(char *dst, size_t cap, const char *src)
{
    /* truncating copy; every caller's source is validated to fit or is a name */
    size_t n = src ? strlen(src) : 0;
    if (n >= cap) n = cap - 1;
    if (n) memcpy(dst, src, n);
    dst[n] = '\0';
}

/* ---------------------------------------------------------------------------- */
/* Diagnostics: capture libfyaml's messages, locate nodes, format our errors     */


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
    cfg_copy_str(c->msg, sizeof c->msg, msg);
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
int cfg_fail(cfg_ctx *c, struct fy_node *at, struct fy_node *fallback,
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
    cfg_copy_str(v->s, sizeof v->s, text);
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
    case F_BACKEND: cfg_copy_str(e->backend, sizeof e->backend, v.s); break;
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
int cfg_assign_dims(cfg_walk *w, int64_t *dim_size)
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
        cfg_copy_str(tmp, sizeof tmp, path);
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
            cfg_copy_str(parent, sizeof parent, seg_path);
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
    cfg_copy_str(tmp, sizeof tmp, path);
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
    cfg_copy_str(exp->backend, sizeof exp->backend, "auto");
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
    if (!rc) rc = cfg_expand(&w);
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

/* schema.c: the config schema (one row per key: path, type, bounds, allowed names)
 * and what reading and expanding share below both: key lookup, the edit distance
 * behind "did you mean", libfyaml's diagnostics captured, nodes located, and
 * cfg_fail's "FILE:LINE:COL: key 'path': ..." messages. config.c (reading) and
 * expand.c (axes -> points) call this file; it calls neither.
 */
#include "sweep/config.h"
#include "sweep/config_internal.h"

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
static const char *const names_model[] = {"minilm", "vit-s14", NULL};
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
const cfg_key cfg_keys[] = {
    {"name", T_NAME, F_NAME, 0, NULL, NULL, NB, NB, 0, 0},
    {"description", T_TEXT, F_DESC, 0, NULL, NULL, NB, NB, 0, 0},
    {"backend", T_ENUM, F_BACKEND, 0, names_backend, "backend", NB, NB, 0, 0},
    {"seed", T_UINT, F_SEED, 0, NULL, NULL, NB, NB, 0, 0},
    {"repeat", T_INT, F_REPEAT, 0, NULL, NULL, 1, 1000, 0, 0},
    {"workload", T_MAP, F_NONE, 0, NULL, NULL, NB, NB, 0, 0},
    {"workload.kind", T_ENUM, F_KIND, 1, names_kind, "workload kind", NB, NB, 0, 0},
    {"workload.path", T_TEXT, F_PATH, 1, NULL, NULL, NB, NB, 0, 0},
    {"workload.layers", T_TEXT, F_LAYERS, 1, NULL, NULL, NB, NB, 0, 0},
    {"workload.model", T_ENUM, F_MODEL, 1, names_model, "model", NB, NB, 0, 0},
    {"workload.text", T_TEXT, F_TEXT, 1, NULL, NULL, NB, NB, 0, 0},
    {"workload.images", T_FILES, F_IMAGES, 1, NULL, NULL, NB, NB, 0, 0},
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
    {"plots", T_PLOTS, F_PLOTS, 0, NULL, NULL, NB, NB, 0, 0},
    {"measure", T_ENUM_LIST, F_MEASURE, 0, names_measure, "measure", NB, NB, 0, 0},
    {"timing", T_MAP, F_NONE, 0, NULL, NULL, NB, NB, 0, 0},
    {"timing.warmup", T_INT, F_WARMUP, 0, NULL, NULL, 0, NB, 0, 0},
    {"timing.min_samples", T_INT, F_MIN_SAMPLES, 0, NULL, NULL, 1, NB, 0, 0},
    {"timing.max_samples", T_INT, F_MAX_SAMPLES, 0, NULL, NULL, 0, NB, 0, 0},
    {"timing.max_noise", T_REAL, F_MAX_NOISE, 0, NULL, NULL, 0, NB, 0, 0},
    {"timing.min_time_s", T_REAL, F_MIN_TIME, 0, NULL, NULL, 0, NB, 0, 0},
    {"timing.timeout_s", T_REAL, F_TIMEOUT, 0, NULL, NULL, 0, NB, 1, 0},
};
#undef NB
const int cfg_n_keys = (int)(sizeof cfg_keys / sizeof cfg_keys[0]);
_Static_assert(sizeof cfg_keys / sizeof cfg_keys[0] <= CFG_MAX_KEYS, "raise CFG_MAX_KEYS");

const cfg_key *cfg_key_of_field(cfg_field f)
{
    for (int j = 0; j < cfg_n_keys; j++)
        if (cfg_keys[j].field == f)
            return &cfg_keys[j];
    return NULL;
}

const cfg_key *cfg_key_by_path(const char *path)
{
    for (int i = 0; i < cfg_n_keys; i++)
        if (strcmp(cfg_keys[i].path, path) == 0) return &cfg_keys[i];
    return NULL;
}

/* Parent path of a key ("" for top-level keys) compared against `parent`. */
int cfg_key_has_parent(const cfg_key *k, const char *parent)
{
    const char *dot = strrchr(k->path, '.');
    size_t plen = dot ? (size_t)(dot - k->path) : 0;
    return strlen(parent) == plen && strncmp(k->path, parent, plen) == 0;
}

const char *cfg_key_leaf(const cfg_key *k)
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
const char *cfg_closest_name(const char *s, const char *const *names)
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
void cfg_capture_output(struct fy_diag *diag, void *user, const char *buf, size_t len)
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

void cfg_capture_reset(fy_capture *c)
{
    c->msg[0] = '\0';
    c->line = c->col = 0;
}


/* Start mark of a node: its scalar token, or the first scalar inside it. */
const struct fy_mark *qlab_yaml_node_mark(struct fy_node *n)
{
    if (!n) return NULL;
    if (fy_node_is_scalar(n)) {
        struct fy_token *t = fy_node_get_scalar_token(n);
        return t ? fy_token_start_mark(t) : NULL;
    }
    void *it = NULL;
    if (fy_node_is_mapping(n)) {
        struct fy_node_pair *p = fy_node_mapping_iterate(n, &it);
        return p ? qlab_yaml_node_mark(fy_node_pair_key(p)) : NULL;
    }
    if (fy_node_is_sequence(n)) {
        struct fy_node *item = fy_node_sequence_iterate(n, &it);
        return qlab_yaml_node_mark(item);
    }
    return NULL;
}

/* The --set text whose value subtree holds n, or NULL. */
const char *cfg_set_origin(const cfg_ctx *c, struct fy_node *n)
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
    const char *set = cfg_set_origin(c, at ? at : fallback);
    if (set) {
        snprintf(where, sizeof where, "--set '%s'", set);
    } else {
        const struct fy_mark *m = qlab_yaml_node_mark(at);
        if (!m) m = qlab_yaml_node_mark(fallback);
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
const char *cfg_scalar_text(struct fy_node *n, char *buf, size_t cap)
{
    size_t len = 0;
    const char *s = n ? fy_node_get_scalar(n, &len) : NULL;
    if (!s) len = 0;
    if (len >= cap) len = cap - 1;
    if (s) memcpy(buf, s, len);
    buf[len] = '\0';
    return buf;
}

const char *cfg_node_kind_word(struct fy_node *n)
{
    if (!n) return "nothing";
    if (fy_node_is_mapping(n)) return "a mapping";
    if (fy_node_is_sequence(n)) return "a list";
    return "a scalar";
}


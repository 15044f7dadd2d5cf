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
#include "core/yaml_guard.h"
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
                        k->axis ? " or a list of scalars" : "", cfg_node_kind_word(n));
    cfg_scalar_text(n, text, sizeof text);
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
    case T_FILES:
        if (!text[0] || strchr(text, ';'))
            return cfg_fail(c, n, key_node, k->path, "a file name, not empty and without ';' "
                            "(value '%s')", text);
        return 0;
    case T_ENUM:
    case T_ENUM_LIST:
        for (int i = 0; k->names[i]; i++)
            if (strcmp(text, k->names[i]) == 0) return 0;
        {
            const char *near = cfg_closest_name(text, k->names);
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
    for (int i = 0; i < cfg_n_keys; i++) {
        if (!cfg_key_has_parent(&cfg_keys[i], parent)) continue;
        int d = qlab_edit_distance(name, cfg_key_leaf(&cfg_keys[i]));
        if (d < best_d) { best_d = d; best = &cfg_keys[i]; }
    }
    if (!best)
        for (int i = 0; i < cfg_n_keys; i++)
            if (strcmp(cfg_key_leaf(&cfg_keys[i]), name) == 0) { best = &cfg_keys[i]; break; }
    if (best)
        return cfg_fail(c, key_node, NULL, full, "unknown key (did you mean '%s'?)", best->path);
    char known[384] = "";
    for (int i = 0; i < cfg_n_keys; i++) {
        if (!cfg_key_has_parent(&cfg_keys[i], parent)) continue;
        strncat(known, known[0] ? ", " : "", sizeof known - strlen(known) - 1);
        strncat(known, cfg_key_leaf(&cfg_keys[i]), sizeof known - strlen(known) - 1);
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
        cfg_scalar_text(kn, name, sizeof name);
        snprintf(full, sizeof full, "%s%s%s", parent, parent[0] ? "." : "", name);
        const cfg_key *k = cfg_key_by_path(full);
        if (!k) return unknown_key(w->c, kn, parent, name);
        if (k->type == T_MAP) {
            if (!vn || !fy_node_is_mapping(vn))
                return cfg_fail(w->c, vn, kn, full, "expected a mapping of keys, got %s",
                                vn && !fy_node_is_null(vn) ? cfg_node_kind_word(vn) : "nothing");
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

    if (k->type == T_FILES) {   /* the files of one point: a list here is not an axis */
        cfg_axis *a = &w->axes[w->n_axes];
        a->key = k;
        a->node = vn;
        a->key_node = kn;
        a->v = calloc(1, sizeof *a->v);
        if (!a->v) return cfg_fail(c, vn, kn, k->path, "out of memory");
        a->n = 1;
        w->n_axes++;
        if (!vn || !fy_node_is_sequence(vn))
            return parse_scalar(c, k, vn, kn, &a->v[0]);
        void *it = NULL;
        struct fy_node *item;
        int n = 0;
        while ((item = fy_node_sequence_iterate(vn, &it))) {
            cfg_val one;
            int rc = parse_scalar(c, k, item, kn, &one);
            if (rc) return rc;
            if (strlen(a->v[0].s) + strlen(one.s) + 2 > sizeof a->v[0].s)
                return cfg_fail(c, item, kn, k->path, "the file names exceed %d characters in all",
                                (int)sizeof a->v[0].s - 1);
            if (n++) strcat(a->v[0].s, ";");
            strcat(a->v[0].s, one.s);
        }
        a->v[0].node = vn;
        if (n == 0) return cfg_fail(c, vn, kn, k->path, "empty list (name at least one file)");
        return 0;
    }

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

    if (k->type == T_PLOTS) {
        free(e->figures);
        e->figures = NULL;
        return cfg_figures_parse(c, kn, vn, &e->figures, &e->n_figures);
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
        return cfg_fail(c, vn, kn, k->path, "cannot be a list (only values under workload and quant are axes%s)",
                        k->field == F_SEED ? "; for several draws of the data, `repeat: N` runs each point with "
                                             "seeds seed, seed+1, ..., seed+N-1" : "");
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
    case F_REPEAT: e->repeat = v.i; e->repeat_node = vn; break;
    case F_WARMUP: e->timing.warmup = v.i; break;
    case F_MIN_SAMPLES: e->timing.min_samples = v.i; break;
    case F_MAX_SAMPLES: e->timing.max_samples = v.i; break;
    case F_MAX_NOISE: e->timing.max_noise = v.d; break;
    case F_MIN_TIME: e->timing.min_time_s = v.d; break;
    case F_TIMEOUT: e->timing.timeout_s = v.d; break;
    default: break;
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
    const cfg_key *k = cfg_key_by_path(path);
    if (!k) {
        /* name the first segment that is wrong */
        char parent[256] = "", seg_path[256];
        char *save = NULL, tmp[256];
        cfg_copy_str(tmp, sizeof tmp, path);
        for (char *seg = strtok_r(tmp, ".", &save); seg; seg = strtok_r(NULL, ".", &save)) {
            snprintf(seg_path, sizeof seg_path, "%s%s%s", parent, parent[0] ? "." : "", seg);
            const cfg_key *sk = cfg_key_by_path(seg_path);
            if (!sk || (sk->type != T_MAP && strcmp(seg_path, path) != 0)) {
                const cfg_key *best = NULL;
                int best_d = 3;
                for (int i = 0; i < cfg_n_keys; i++) {
                    if (!cfg_key_has_parent(&cfg_keys[i], parent)) continue;
                    int d = qlab_edit_distance(seg, cfg_key_leaf(&cfg_keys[i]));
                    if (d < best_d) { best_d = d; best = &cfg_keys[i]; }
                }
                if (!best)
                    for (int i = 0; i < cfg_n_keys; i++)
                        if (!strcmp(cfg_key_leaf(&cfg_keys[i]), seg)) { best = &cfg_keys[i]; break; }
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

    char where[96];
    snprintf(where, sizeof where, "--set '%.60s'", set);
    if (qlab_yaml_guard(value, strlen(value), NULL, 0, where, c->err, c->err_len)) return 2;
    cfg_capture_reset(&c->cap);
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
                     set, path, cfg_node_kind_word(map));
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
    free(exp->figures);
    memset(exp, 0, sizeof *exp);
}

/* Loads from an already built document (NULL: the text held none). */
static int load_document(struct fy_document *fyd, cfg_ctx *c, const char *const *sets, int n_sets,
                         qlab_experiment *exp)
{
    if (!fyd) {   /* libfyaml builds no document from an empty stream and says nothing */
        snprintf(c->err, c->err_len, "%s:1:1: key 'name': missing (the config is empty)", c->source);
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
                        cfg_node_kind_word(root));

    exp->source = strdup(c->source);
    exp->text = fy_emit_document_to_string(fyd, FYECF_MODE_PRETTY | FYECF_WIDTH_INF);
    exp->description = strdup("");
    cfg_copy_str(exp->backend, sizeof exp->backend, "auto");
    exp->measure_error = exp->measure_latency = exp->measure_memory = 1;
    exp->repeat = 1;
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

    struct fy_document *fyd = NULL;
    int rc = qlab_yaml_parse(text, len, source, "a config", &c.cap, &fyd, c.err, c.err_len);
    if (rc == 0)
        rc = load_document(fyd, &c, sets, n_sets, exp);
    if (fyd) fy_document_destroy(fyd);
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
    char dummy[8];
    size_t len = 0;
    char *buf = qlab_read_text_file(path, &len, err ? err : dummy, err ? err_len : sizeof dummy);
    if (!buf) return 2;
    return load_common(buf, len, buf, path, sets, n_sets, exp, err, err_len);
}

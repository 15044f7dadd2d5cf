/* figspec.c: the `plots:` key of an experiment config (see figspec.h). config.c checks
 * it when a config loads (cfg_figures_parse), `qlab plot` reads it back from a results
 * file's stored config (qlab_figures_from_text). */
#include "sweep/figspec.h"
#include "sweep/config_internal.h"
#include "store/results.h"

#include <libfyaml.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The /points column `name`, or NULL; *is_axis: 1 when it is an axis. */
static const qlab_column *points_column(const char *name, int *is_axis)
{
    const qlab_column *c = qlab_results_column("points", name);
    if (c)
        *is_axis = c->offset < sizeof(qlab_point);
    return c;
}

static int numeric(const qlab_column *c)
{
    return c->kind == QLAB_COL_I64 || c->kind == QLAB_COL_I32 || c->kind == QLAB_COL_U64 ||
           c->kind == QLAB_COL_F64;
}

static int is_error_metric(const char *y)
{
    static const char *const e[] = {"rel_err", "max_abs_err", "mean_abs_err", "x_rel_err", "w_rel_err"};
    for (size_t i = 0; i < sizeof e / sizeof e[0]; i++)
        if (!strcmp(y, e[i]))
            return 1;
    return 0;
}

/* One scalar's text into buf, or 2 with a message. */
static int scalar(cfg_ctx *c, struct fy_node *vn, struct fy_node *kn, const char *path, char *buf, size_t len)
{
    if (!vn || !fy_node_is_scalar(vn))
        return cfg_fail(c, vn, kn, path, "expected a value, got %s", vn ? cfg_node_kind_word(vn) : "nothing");
    cfg_scalar_text(vn, buf, len);
    return 0;
}

static int boolean(cfg_ctx *c, struct fy_node *vn, struct fy_node *kn, const char *path, int *out)
{
    char v[16];
    if (scalar(c, vn, kn, path, v, sizeof v))
        return 2;
    if (!strcmp(v, "true") || !strcmp(v, "yes"))
        *out = 1;
    else if (!strcmp(v, "false") || !strcmp(v, "no"))
        *out = 0;
    else
        return cfg_fail(c, vn, kn, path, "'%s' is not true or false", v);
    return 0;
}

/* An axis name (for x, series, filter keys), checked against /points. */
static int axis_name(cfg_ctx *c, struct fy_node *vn, struct fy_node *kn, const char *path, int need_numeric,
                     char *buf, size_t len)
{
    if (scalar(c, vn, kn, path, buf, len))
        return 2;
    int is_axis;
    const qlab_column *col = points_column(buf, &is_axis);
    if (!col || !is_axis || !strcmp(buf, "id"))
        return cfg_fail(c, vn, kn, path, "'%s' is not an axis of /points (e.g. m, k, n, scheme, threshold, block)",
                        buf);
    if (need_numeric && !numeric(col))
        return cfg_fail(c, vn, kn, path, "'%s' has text values; x needs numbers (put it in series or filter)", buf);
    return 0;
}

static int one_figure(cfg_ctx *c, struct fy_node *fig, int index, qlab_figure_spec *f)
{
    char base[32];
    snprintf(base, sizeof base, "plots[%d]", index);
    if (!fy_node_is_mapping(fig))
        return cfg_fail(c, fig, NULL, base, "expected a mapping (name, x, y, series, filter, logx, logy, title)");
    memset(f, 0, sizeof *f);
    int has_logy = 0;
    void *it = NULL;
    struct fy_node_pair *p;
    while ((p = fy_node_mapping_iterate(fig, &it))) {
        struct fy_node *kn = fy_node_pair_key(p), *vn = fy_node_pair_value(p);
        char key[64], path[128];
        cfg_scalar_text(kn, key, sizeof key);
        snprintf(path, sizeof path, "%s.%s", base, key);
        int rc = 0;
        if (!strcmp(key, "name")) {
            rc = scalar(c, vn, kn, path, f->name, sizeof f->name);
            for (const char *s = f->name; !rc && *s; s++)
                if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
                      *s == '_' || *s == '.' || *s == '-'))
                    rc = cfg_fail(c, vn, kn, path, "'%s': a file name of letters, digits, '_', '.', '-'", f->name);
        } else if (!strcmp(key, "x")) {
            rc = axis_name(c, vn, kn, path, 1, f->x, sizeof f->x);
        } else if (!strcmp(key, "y")) {
            int is_axis;
            rc = scalar(c, vn, kn, path, f->y, sizeof f->y);
            const qlab_column *col = rc ? NULL : points_column(f->y, &is_axis);
            /* w_bits, bits per weight (16 w_bytes / w_bytes_fp16), is derived, not stored */
            if (!rc && strcmp(f->y, "w_bits") && (!col || is_axis || !numeric(col)))
                rc = cfg_fail(c, vn, kn, path, "'%s' is not a numeric result column of /points (e.g. rel_err, "
                              "sqnr_db, cosine, median_us, speedup_vs_fp16, w_bytes) nor w_bits", f->y);
        } else if (!strcmp(key, "series")) {
            if (vn && fy_node_is_sequence(vn)) {
                void *it2 = NULL;
                struct fy_node *item;
                while (!rc && (item = fy_node_sequence_iterate(vn, &it2))) {
                    if (f->n_series == QLAB_FIG_MAX_SERIES)
                        rc = cfg_fail(c, item, kn, path, "at most %d series axes", QLAB_FIG_MAX_SERIES);
                    else
                        rc = axis_name(c, item, kn, path, 0, f->series[f->n_series++], sizeof f->series[0]);
                }
            } else {
                rc = axis_name(c, vn, kn, path, 0, f->series[0], sizeof f->series[0]);
                f->n_series = 1;
            }
        } else if (!strcmp(key, "filter")) {
            if (!vn || !fy_node_is_mapping(vn)) {
                rc = cfg_fail(c, vn, kn, path, "expected a mapping of axis: value");
            } else {
                void *it2 = NULL;
                struct fy_node_pair *q;
                while (!rc && (q = fy_node_mapping_iterate(vn, &it2))) {
                    char axis[64], value[QLAB_PATH_LEN];
                    struct fy_node *ak = fy_node_pair_key(q), *av = fy_node_pair_value(q);
                    if (f->n_filter == QLAB_FIG_MAX_FILTER)
                        rc = cfg_fail(c, ak, kn, path, "at most %d filter conditions", QLAB_FIG_MAX_FILTER);
                    if (!rc)
                        rc = axis_name(c, ak, kn, path, 0, axis, sizeof axis);
                    if (!rc)
                        rc = scalar(c, av, ak, path, value, sizeof value);
                    if (!rc)
                        snprintf(f->filter[f->n_filter++], sizeof f->filter[0], "%s=%s", axis, value);
                }
            }
        } else if (!strcmp(key, "logx")) {
            rc = boolean(c, vn, kn, path, &f->logx);
        } else if (!strcmp(key, "logy")) {
            rc = boolean(c, vn, kn, path, &f->logy);
            has_logy = 1;
        } else if (!strcmp(key, "title")) {
            rc = scalar(c, vn, kn, path, f->title, sizeof f->title);
        } else {
            rc = cfg_fail(c, kn, NULL, path, "unknown key (a figure has name, x, y, series, filter, logx, logy, title)");
        }
        if (rc)
            return rc;
    }
    const char *missing = !f->name[0] ? "name" : !f->x[0] ? "x" : !f->y[0] ? "y" : NULL;
    if (missing)
        return cfg_fail(c, fig, NULL, base, "missing '%s' (a figure needs name, x and y)", missing);
    if (f->n_series == 0) {
        snprintf(f->series[0], sizeof f->series[0], "scheme");
        f->n_series = 1;
    }
    if (!has_logy)
        f->logy = is_error_metric(f->y);
    if (!f->title[0])
        snprintf(f->title, sizeof f->title, "%s vs %s", f->y, f->x);
    return 0;
}

int cfg_figures_parse(cfg_ctx *c, struct fy_node *kn, struct fy_node *vn, qlab_figure_spec **specs, int *n)
{
    *specs = NULL;
    *n = 0;
    if (!vn || !fy_node_is_sequence(vn))
        return cfg_fail(c, vn, kn, "plots", "expected a list of figures (- name: ..., x: ..., y: ...)");
    int count = fy_node_sequence_item_count(vn);
    qlab_figure_spec *f = calloc((size_t)(count > 0 ? count : 1), sizeof *f);
    if (!f)
        return cfg_fail(c, vn, kn, "plots", "out of memory");
    void *it = NULL;
    struct fy_node *item;
    int i = 0;
    while ((item = fy_node_sequence_iterate(vn, &it))) {
        int rc = one_figure(c, item, i, &f[i]);
        if (rc) {
            free(f);
            return rc;
        }
        for (int j = 0; j < i; j++)
            if (!strcmp(f[j].name, f[i].name)) {
                int rc = cfg_fail(c, item, kn, "plots", "two figures are named '%s'", f[i].name);
                free(f);
                return rc;
            }
        i++;
    }
    *specs = f;
    *n = i;
    return 0;
}

int qlab_figures_from_text(const char *text, const char *source, qlab_figure_spec **specs, int *n, char *err,
                           size_t err_len)
{
    *specs = NULL;
    *n = 0;
    qlab_yaml_capture capture;
    struct fy_document *fyd = NULL;
    char why[1024] = "";
    if (!text || qlab_yaml_parse(text, strlen(text), source, "a stored config", &capture, &fyd, why, sizeof why) ||
        !fyd) {
        qlab_set_err(err, err_len, "%s: the stored config cannot be parsed%s%s", source, why[0] ? ": " : "", why);
        return 2;
    }
    struct fy_node *root = fy_document_root(fyd), *vn = NULL, *kn = NULL;
    void *it = NULL;
    struct fy_node_pair *p;
    while (root && fy_node_is_mapping(root) && (p = fy_node_mapping_iterate(root, &it))) {
        char key[16];
        cfg_scalar_text(fy_node_pair_key(p), key, sizeof key);
        if (!strcmp(key, "plots")) {
            kn = fy_node_pair_key(p);
            vn = fy_node_pair_value(p);
        }
    }
    int rc = 0;
    if (kn) {
        cfg_ctx c;
        memset(&c, 0, sizeof c);
        c.source = source;
        c.err = err;
        c.err_len = err_len;
        rc = cfg_figures_parse(&c, kn, vn, specs, n);
    }
    fy_document_destroy(fyd);
    return rc;
}

/* filter.c: point filters of the command line (see filter.h). */
#include "report/filter.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    const char *name;
    const char *axes[5];
} preset;

/* Kept equal to config.c's point_normalise by test_config's preset test. */
static const preset presets[] = {
    {"llm_int8", {"scheme=absmax", "x_granularity=row", "w_granularity=channel", "threshold=6", NULL}},
};

const char *const *qlab_preset_axes(const char *name)
{
    for (size_t i = 0; name && i < sizeof presets / sizeof presets[0]; i++)
        if (!strcmp(presets[i].name, name))
            return presets[i].axes;
    return NULL;
}

const qlab_column *qlab_axis_column(const char *name)
{
    const qlab_column *c = qlab_results_column("points", name);
    return c && c->offset < sizeof(qlab_point) && strcmp(c->name, "id") ? c : NULL;
}

static void axis_list(char *buf, size_t len)
{
    size_t n, rs, o = 0;
    const qlab_column *cols = qlab_results_columns("points", &n, &rs);
    buf[0] = '\0';
    for (size_t i = 0; i < n && o < len; i++)
        if (cols[i].offset < sizeof(qlab_point) && strcmp(cols[i].name, "id"))
            o += (size_t)snprintf(buf + o, len - o, "%s%s", o ? ", " : "", cols[i].name);
}

int qlab_filter_add(qlab_filter *f, const char *assignment, const char *what, char *err, size_t err_len)
{
    const char *eq = assignment ? strchr(assignment, '=') : NULL;
    if (!eq || eq == assignment) {
        qlab_set_err(err, err_len, "%s needs KEY=VALUE (got '%s')", what, assignment ? assignment : "");
        return 2;
    }
    char key[64];
    snprintf(key, sizeof key, "%.*s", (int)(eq - assignment), assignment);
    const char *value = eq + 1;
    const qlab_column *c = qlab_axis_column(key);
    if (!c) {
        char list[1024];
        axis_list(list, sizeof list);
        qlab_set_err(err, err_len, "%s: '%s' is not an axis of /points (axes: %s)", what, key, list);
        return 2;
    }
    const char *const *expansion = !strcmp(key, "scheme") ? qlab_preset_axes(value) : NULL;
    if (expansion) {
        for (int i = 0; expansion[i]; i++)
            if (qlab_filter_add(f, expansion[i], what, err, err_len))
                return 2;
        return 0;
    }
    if (f->n >= QLAB_FILTER_MAX) {
        qlab_set_err(err, err_len, "%s: more than %d conditions", what, QLAB_FILTER_MAX);
        return 2;
    }
    f->col[f->n] = c;
    snprintf(f->value[f->n], sizeof f->value[f->n], "%s", value);
    f->n++;
    return 0;
}

static int matches_one(const qlab_row *r, const qlab_column *c, const char *value)
{
    const char *p = (const char *)r + c->offset;
    if (c->kind == QLAB_COL_STR)
        return strncmp(p, value, c->size) == 0 && strlen(value) < c->size;
    char *end;
    double v = strtod(value, &end);
    if (*end != '\0' || end == value)
        return 0;
    switch (c->kind) {
    case QLAB_COL_I64: { int64_t x; memcpy(&x, p, 8); return (double)x == v; }
    case QLAB_COL_U64: { uint64_t x; memcpy(&x, p, 8); return (double)x == v; }
    case QLAB_COL_I32:
    case QLAB_COL_STATUS: { int32_t x; memcpy(&x, p, 4); return (double)x == v; }
    case QLAB_COL_F64: { double x; memcpy(&x, p, 8); return x == v; }
    default: return 0;
    }
}

int qlab_filter_matches(const qlab_filter *f, const qlab_row *r)
{
    for (int i = 0; i < f->n; i++)
        if (!matches_one(r, f->col[i], f->value[i]))
            return 0;
    return 1;
}

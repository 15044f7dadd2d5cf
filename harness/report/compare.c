/* compare.c: `qlab compare BASE NEW` (see compare.h for the rules).
 *
 * Points are matched through a text key built from their axis columns (the /points
 * columns that lie inside qlab_point, less id and seed), so a new axis added to
 * qlab_point and to the column table is matched on without a change here. Seeds are
 * left out of the key on purpose: a different seed is reported as a note, and the
 * numbers then differ, which the table shows.
 *
 * Default tolerances: 0 on the cpu backend, where the same build and seed give
 * identical numbers and any change is a real one. On cuda, fp32/fp16 GEMMs may pick
 * another accumulation order (cuBLASLt heuristics, split-K), which moves an fp16
 * point's error by about 1e-4 of itself; the cuda defaults (rtol 1e-3 on the error
 * norms, atol 0.01 dB on sqnr_db, atol 1e-6 on cosine) absorb that and still catch a
 * changed int8 code path, which moves errors by percents. Integer outputs
 * (outlier_cols) and memory stay exact everywhere.
 */
#include "report/compare.h"
#include "report/filter.h"
#include "backends/backend.h"
#include "core/error.h"
#include "core/yaml_guard.h"
#include "sweep/config.h"

#include <libfyaml.h>
#include <stdio.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------------------- */
/* Metrics                                                                       */

typedef enum { DIR_LOWER_BETTER, DIR_HIGHER_BETTER, DIR_ANY_CHANGE } metric_dir;

typedef struct {
    const char *name;
    size_t offset;          /* in qlab_row */
    int is_int;             /* int64 member, else double */
    metric_dir dir;
    double cuda_rtol, cuda_atol;
    int w_part;             /* 1: a part of w_bytes (see w_split_known) */
} cmp_metric;

static const cmp_metric metrics[] = {
    {"rel_err", offsetof(qlab_row, rel_err), 0, DIR_LOWER_BETTER, 1e-3, 0, 0},
    {"sqnr_db", offsetof(qlab_row, sqnr_db), 0, DIR_HIGHER_BETTER, 0, 0.01, 0},
    {"max_abs_err", offsetof(qlab_row, max_abs_err), 0, DIR_LOWER_BETTER, 1e-3, 0, 0},
    {"mean_abs_err", offsetof(qlab_row, mean_abs_err), 0, DIR_LOWER_BETTER, 1e-3, 0, 0},
    {"cosine", offsetof(qlab_row, cosine), 0, DIR_HIGHER_BETTER, 0, 1e-6, 0},
    {"x_rel_err", offsetof(qlab_row, x_rel_err), 0, DIR_LOWER_BETTER, 1e-3, 0, 0},
    {"w_rel_err", offsetof(qlab_row, w_rel_err), 0, DIR_LOWER_BETTER, 1e-3, 0, 0},
    {"outlier_cols", offsetof(qlab_row, outlier_cols), 1, DIR_ANY_CHANGE, 0, 0, 0},
    {"w_bytes", offsetof(qlab_row, w_bytes), 1, DIR_LOWER_BETTER, 0, 0, 0},
    {"w_code_bytes", offsetof(qlab_row, w_code_bytes), 1, DIR_LOWER_BETTER, 0, 0, 1},
    {"w_scale_bytes", offsetof(qlab_row, w_scale_bytes), 1, DIR_LOWER_BETTER, 0, 0, 1},
    {"w_scale2_bytes", offsetof(qlab_row, w_scale2_bytes), 1, DIR_LOWER_BETTER, 0, 0, 1},
    {"w_outlier_bytes", offsetof(qlab_row, w_outlier_bytes), 1, DIR_LOWER_BETTER, 0, 0, 1},
    {"x_bytes", offsetof(qlab_row, x_bytes), 1, DIR_LOWER_BETTER, 0, 0, 0},
};
#define N_METRICS ((int)(sizeof metrics / sizeof metrics[0]))
_Static_assert(sizeof metrics / sizeof metrics[0] <= QLAB_COMPARE_MAX_METRICS, "raise QLAB_COMPARE_MAX_METRICS");

static double metric_value(const qlab_row *r, const cmp_metric *m)
{
    const char *p = (const char *)r + m->offset;
    if (m->is_int) {
        int64_t v;
        memcpy(&v, p, sizeof v);
        return (double)v;
    }
    double v;
    memcpy(&v, p, sizeof v);
    return v;
}

/* 1 if r's w_bytes is split into its parts: they add up to it. A file written before
 * the part columns existed reads them as 0 (and a backend may not fill them); its
 * parts are then unknown, not zero, and are not compared (w_bytes still is). */
static int w_split_known(const qlab_row *r)
{
    return r->w_code_bytes + r->w_scale_bytes + r->w_scale2_bytes + r->w_outlier_bytes == r->w_bytes;
}

static const char *const verdict_names[] = {"SAME", "BETTER", "UNCERTAIN", "WORSE"};

void qlab_compare_opts_init(qlab_compare_opts *o)
{
    memset(o, 0, sizeof *o);
    o->time_threshold = 0.25;
    o->p_value = 0.01;
    o->busy_threshold = 0.25;
}

int qlab_compare_metric_index(const char *name)
{
    for (int i = 0; i < N_METRICS; i++)
        if (!strcmp(metrics[i].name, name))
            return i;
    return -1;
}

static void metric_list(char *buf, size_t len)
{
    size_t o = 0;
    buf[0] = '\0';
    for (int i = 0; i < N_METRICS && o < len; i++)
        o += (size_t)snprintf(buf + o, len - o, "%s%s", i ? ", " : "", metrics[i].name);
}

/* A finite number >= 0 from text; -1 when it is not one. */
static int parse_nonneg(const char *s, double *v)
{
    char *end;
    if (!s || !*s)
        return -1;
    double x = strtod(s, &end);
    while (*end == ' ')
        end++;
    if (*end || !isfinite(x) || x < 0)
        return -1;
    *v = x;
    return 0;
}

static int set_tol(qlab_compare_opts *o, const char *which, const char *metric, const char *value,
                   const char *where, char *err, size_t err_len)
{
    int mi = qlab_compare_metric_index(metric);
    if (mi < 0) {
        char list[256];
        metric_list(list, sizeof list);
        qlab_set_err(err, err_len, "%s%s: unknown metric '%s' (metrics with tolerances: %s)", where, which, metric, list);
        return 2;
    }
    double v;
    if (parse_nonneg(value, &v)) {
        qlab_set_err(err, err_len, "%s%s %s: '%s' is not a number >= 0", where, which, metric, value ? value : "");
        return 2;
    }
    if (!strcmp(which, "rtol")) {
        o->rtol[mi] = v;
        o->rtol_set[mi] = 1;
    } else {
        o->atol[mi] = v;
        o->atol_set[mi] = 1;
    }
    return 0;
}

int qlab_compare_set_tol(qlab_compare_opts *o, const char *which, const char *assignment, char *err,
                         size_t err_len)
{
    const char *eq = assignment ? strchr(assignment, '=') : NULL;
    if (!eq || eq == assignment) {
        qlab_set_err(err, err_len, "--%s needs METRIC=VALUE (got '%s')", which, assignment ? assignment : "");
        return 2;
    }
    char metric[64];
    snprintf(metric, sizeof metric, "%.*s", (int)(eq - assignment), assignment);
    return set_tol(o, which, metric, eq + 1, "--", err, err_len);
}

/* ---------------------------------------------------------------------------- */
/* Tolerance file                                                                */

/* "path:line:col: " of node n (or "path: " where it has no position). */
static void tol_where(const char *path, struct fy_node *n, char *buf, size_t len)
{
    const struct fy_mark *m = n ? qlab_yaml_node_mark(n) : NULL;
    if (m)
        snprintf(buf, len, "%s:%d:%d: ", path, m->line + 1, m->column + 1);
    else
        snprintf(buf, len, "%s: ", path);
}

int qlab_compare_load_tol(qlab_compare_opts *o, const char *path, char *err, size_t err_len)
{
    size_t len = 0;
    char *text = qlab_read_text_file(path, &len, err, err_len);
    if (!text) return 2;
    qlab_yaml_capture capture;
    struct fy_document *doc = NULL;
    if (qlab_yaml_parse(text, len, path, "a tolerance file", &capture, &doc, err, err_len)) {
        free(text);
        return 2;
    }
    int rc = 0;
    struct fy_node *root = doc ? fy_document_root(doc) : NULL;
    char where[640];
    if (!root || !fy_node_is_mapping(root)) {
        tol_where(path, root, where, sizeof where);
        qlab_set_err(err, err_len, "%s%s; a tolerance file is a mapping of rtol, atol, time_threshold, "
                     "p_value, busy_threshold", where, root ? "not a mapping" : "empty");
        rc = 2;
    }
    void *it = NULL;
    struct fy_node_pair *pair;
    while (rc == 0 && (pair = fy_node_mapping_iterate(root, &it)) != NULL) {
        struct fy_node *kn = fy_node_pair_key(pair), *vn = fy_node_pair_value(pair);
        const char *key = kn && fy_node_is_scalar(kn) ? fy_node_get_scalar0(kn) : NULL;
        tol_where(path, kn, where, sizeof where);
        if (!key) {
            qlab_set_err(err, err_len, "%skeys must be plain names", where);
            rc = 2;
        } else if (!strcmp(key, "rtol") || !strcmp(key, "atol")) {
            if (!vn || !fy_node_is_mapping(vn)) {
                qlab_set_err(err, err_len, "%s%s: expected a mapping metric: value", where, key);
                rc = 2;
                break;
            }
            void *it2 = NULL;
            struct fy_node_pair *p2;
            while (rc == 0 && (p2 = fy_node_mapping_iterate(vn, &it2)) != NULL) {
                struct fy_node *mk = fy_node_pair_key(p2), *mv = fy_node_pair_value(p2);
                const char *metric = mk && fy_node_is_scalar(mk) ? fy_node_get_scalar0(mk) : "";
                const char *val = mv && fy_node_is_scalar(mv) ? fy_node_get_scalar0(mv) : NULL;
                tol_where(path, mk, where, sizeof where);
                rc = set_tol(o, key, metric ? metric : "", val, where, err, err_len);
            }
        } else if (!strcmp(key, "time_threshold") || !strcmp(key, "p_value") || !strcmp(key, "busy_threshold")) {
            const char *val = vn && fy_node_is_scalar(vn) ? fy_node_get_scalar0(vn) : NULL;
            double v;
            int is_p = !strcmp(key, "p_value");
            if (parse_nonneg(val, &v) || (is_p && (v <= 0 || v >= 1))) {
                qlab_set_err(err, err_len, "%s%s: '%s' is not %s", where, key, val ? val : "",
                        is_p ? "a probability in (0, 1)" : "a number >= 0");
                rc = 2;
            } else if (is_p) {
                o->p_value = v;
            } else if (!strcmp(key, "busy_threshold")) {
                o->busy_threshold = v;
            } else {
                o->time_threshold = v;
            }
        } else {
            qlab_set_err(err, err_len, "%sunknown key '%s' (expected rtol, atol, time_threshold, p_value, busy_threshold)",
                         where, key);
            rc = 2;
        }
    }
    if (doc) fy_document_destroy(doc);
    free(text);
    return rc;
}

/* ---------------------------------------------------------------------------- */
/* Mann-Whitney U                                                                */

typedef struct {
    double v;
    int from_a;
} tagged;

static int cmp_tagged(const void *x, const void *y)
{
    double a = ((const tagged *)x)->v, b = ((const tagged *)y)->v;
    return (a > b) - (a < b);
}

double qlab_mann_whitney_p(const double *a, int64_t na, const double *b, int64_t nb)
{
    if (na <= 0 || nb <= 0)
        return 1.0;
    int64_t n = na + nb;
    tagged *t = malloc((size_t)n * sizeof *t);
    if (!t)
        return 1.0;
    for (int64_t i = 0; i < na; i++)
        t[i] = (tagged){a[i], 1};
    for (int64_t i = 0; i < nb; i++)
        t[na + i] = (tagged){b[i], 0};
    qsort(t, (size_t)n, sizeof *t, cmp_tagged);
    /* Average ranks over runs of ties; the tie term sum(t^3 - t) shrinks the variance. */
    double rank_sum_a = 0, ties = 0;
    for (int64_t i = 0; i < n;) {
        int64_t j = i;
        while (j + 1 < n && t[j + 1].v == t[i].v)
            j++;
        double avg = 0.5 * (double)(i + 1 + j + 1), run = (double)(j - i + 1);
        for (int64_t k = i; k <= j; k++)
            if (t[k].from_a)
                rank_sum_a += avg;
        ties += run * run * run - run;
        i = j + 1;
    }
    free(t);
    double n1 = (double)na, n2 = (double)nb, N = (double)n;
    double u = rank_sum_a - n1 * (n1 + 1) / 2;
    double mu = n1 * n2 / 2;
    double var = n1 * n2 / 12.0 * ((N + 1) - (N > 1 ? ties / (N * (N - 1)) : 0));
    if (!(var > 0))
        return 1.0;
    double z = (fabs(u - mu) - 0.5) / sqrt(var);
    if (z < 0)
        z = 0;
    return erfc(z / sqrt(2.0));
}

/* ---------------------------------------------------------------------------- */
/* Point keys and descriptions                                                   */

/* The axis columns: inside qlab_point, less id, seed and `skip` (the A/B axis; may be
 * NULL). */
static void axis_columns(size_t *n_axes, const qlab_column **axes_out, const qlab_column *skip)
{
    size_t n, rs;
    const qlab_column *cols = qlab_results_columns("points", &n, &rs);
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (cols[i].offset < sizeof(qlab_point) && strcmp(cols[i].name, "id") && strcmp(cols[i].name, "seed") &&
            &cols[i] != skip)
            axes_out[k++] = &cols[i];
    *n_axes = k;
}

/* Text of one column of a row; doubles at full precision with -0 as 0 so equal
 * values give equal text. */
static void col_text(const qlab_row *r, const qlab_column *c, char *buf, size_t len)
{
    const char *p = (const char *)r + c->offset;
    switch (c->kind) {
    case QLAB_COL_I64: { int64_t v; memcpy(&v, p, 8); snprintf(buf, len, "%lld", (long long)v); break; }
    case QLAB_COL_I32:
    case QLAB_COL_STATUS: { int32_t v; memcpy(&v, p, 4); snprintf(buf, len, "%d", (int)v); break; }
    case QLAB_COL_U64: { uint64_t v; memcpy(&v, p, 8); snprintf(buf, len, "%llu", (unsigned long long)v); break; }
    case QLAB_COL_F64: {
        double v;
        memcpy(&v, p, 8);
        if (v == 0)
            v = 0;
        snprintf(buf, len, "%.17g", v);
        break;
    }
    case QLAB_COL_STR: snprintf(buf, len, "%.*s", (int)c->size, p); break;
    }
}

/* Short text for descriptions (%g for doubles). */
static void col_short(const qlab_row *r, const qlab_column *c, char *buf, size_t len)
{
    if (c->kind == QLAB_COL_F64) {
        double v;
        memcpy(&v, (const char *)r + c->offset, 8);
        snprintf(buf, len, "%g", v == 0 ? 0.0 : v);
    } else {
        col_text(r, c, buf, len);
        if (!buf[0])
            snprintf(buf, len, "-");   /* an axis the scheme does not use */
    }
}

#define KEY_LEN 2048

static void point_key(const qlab_row *r, const qlab_column *const *axes, size_t n_axes, char *key)
{
    size_t o = 0;
    key[0] = '\0';
    for (size_t i = 0; i < n_axes && o < KEY_LEN; i++) {
        char v[QLAB_PATH_LEN + 8];
        col_text(r, axes[i], v, sizeof v);
        o += (size_t)snprintf(key + o, KEY_LEN - o, "%s\x1f", v);
    }
}

typedef struct {
    char *keys;        /* n * KEY_LEN */
    int64_t *order;    /* indices sorted by key */
    int64_t n;
} key_index;

static const char *g_sort_keys;   /* qsort has no context argument in C11 */
static int cmp_key_idx(const void *x, const void *y)
{
    int64_t a = *(const int64_t *)x, b = *(const int64_t *)y;
    int c = strcmp(g_sort_keys + a * KEY_LEN, g_sort_keys + b * KEY_LEN);
    return c ? c : (a > b) - (a < b);
}

static int key_index_build(key_index *ki, const qlab_results_data *d, const qlab_column *const *axes, size_t n_axes)
{
    ki->n = d->n_points;
    ki->keys = malloc((size_t)(ki->n ? ki->n : 1) * KEY_LEN);
    ki->order = malloc((size_t)(ki->n ? ki->n : 1) * sizeof(int64_t));
    if (!ki->keys || !ki->order)
        return -1;
    for (int64_t i = 0; i < ki->n; i++) {
        point_key(&d->points[i], axes, n_axes, ki->keys + i * KEY_LEN);
        ki->order[i] = i;
    }
    g_sort_keys = ki->keys;
    qsort(ki->order, (size_t)ki->n, sizeof(int64_t), cmp_key_idx);
    return 0;
}

static void key_index_free(key_index *ki)
{
    free(ki->keys);
    free(ki->order);
}

/* First position in ki->order whose key is >= key. */
static int64_t key_lower_bound(const key_index *ki, const char *key)
{
    int64_t lo = 0, hi = ki->n;
    while (lo < hi) {
        int64_t mid = (lo + hi) / 2;
        if (strcmp(ki->keys + ki->order[mid] * KEY_LEN, key) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* ---------------------------------------------------------------------------- */
/* Timing samples of stage "total", grouped by point id                          */

typedef struct {
    int64_t id;
    double t;
} id_time;

static int cmp_id_time(const void *x, const void *y)
{
    const id_time *a = x, *b = y;
    if (a->id != b->id)
        return (a->id > b->id) - (a->id < b->id);
    return (a->t > b->t) - (a->t < b->t);
}

typedef struct {
    id_time *v;
    int64_t n;
} sample_index;

static int sample_index_build(sample_index *si, const qlab_results_data *d)
{
    si->v = malloc((size_t)(d->n_samples ? d->n_samples : 1) * sizeof *si->v);
    si->n = 0;
    if (!si->v)
        return -1;
    for (int64_t i = 0; i < d->n_samples; i++)
        if (!strcmp(d->samples[i].stage, "total") && isfinite(d->samples[i].time_us))
            si->v[si->n++] = (id_time){d->samples[i].point_id, d->samples[i].time_us};
    qsort(si->v, (size_t)si->n, sizeof *si->v, cmp_id_time);
    return 0;
}

/* Sorted samples of one point into a fresh array (caller frees); *n = 0 if none. */
static double *samples_of(const sample_index *si, int64_t id, int64_t *n)
{
    int64_t lo = 0, hi = si->n;
    while (lo < hi) {
        int64_t mid = (lo + hi) / 2;
        if (si->v[mid].id < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    int64_t e = lo;
    while (e < si->n && si->v[e].id == id)
        e++;
    *n = e - lo;
    if (*n == 0)
        return NULL;
    double *out = malloc((size_t)*n * sizeof *out);
    if (!out) {
        *n = 0;
        return NULL;
    }
    for (int64_t i = 0; i < *n; i++)
        out[i] = si->v[lo + i].t;
    return out;
}

/* Timing verdict of one matched point from its sorted "total" samples (the rule is
 * compare.h's). busy_b, busy_n: the points' cpu_other (-1 unknown). *mb_out, *mn_out:
 * the medians; note: why a verdict is UNCERTAIN, or the test's figures. */
static qlab_verdict judge_time(const double *tb, int64_t nb, const double *tn, int64_t nn, double busy_b,
                               double busy_n, const qlab_compare_opts *o, double *mb_out, double *mn_out, char *note,
                               size_t note_len)
{
    double mb = qlab_quantile_sorted(tb, nb, 0.5), mn = qlab_quantile_sorted(tn, nn, 0.5);
    double q1b = qlab_quantile_sorted(tb, nb, 0.25), q3b = qlab_quantile_sorted(tb, nb, 0.75);
    double q1n = qlab_quantile_sorted(tn, nn, 0.25), q3n = qlab_quantile_sorted(tn, nn, 0.75);
    *mb_out = mb;
    *mn_out = mn;
    note[0] = '\0';
    if (!(mb > 0) || !(mn > 0))
        return QLAB_VERDICT_SAME;
    double ratio = mn / mb;
    double noise = fmax((q3b - q1b) / mb, (q3n - q1n) / mn);
    if (fabs(log(ratio)) < log1p(o->time_threshold)) {
        if (noise <= o->time_threshold)
            return QLAB_VERDICT_SAME;
        snprintf(note, note_len, "too noisy to tell: IQR %.0f%% of the median", 100 * noise);
        return QLAB_VERDICT_UNCERTAIN;
    }
    int slower = ratio > 1;
    if (slower ? !(q1n > q3b) : !(q3n < q1b)) {
        snprintf(note, note_len, "quartiles overlap (IQR %.0f%%)", 100 * noise);
        return QLAB_VERDICT_UNCERTAIN;
    }
    double p = qlab_mann_whitney_p(tb, nb, tn, nn);
    if (!(p < o->p_value)) {
        snprintf(note, note_len, "not significant: p=%.2g, n=%lld/%lld", p, (long long)nb, (long long)nn);
        return QLAB_VERDICT_UNCERTAIN;
    }
    double busy = fmax(busy_b, busy_n);
    if (busy > o->busy_threshold) {
        snprintf(note, note_len, "machine busy: others used %.0f%% of the CPU (%s)", 100 * busy,
                 busy_b >= busy_n ? "base" : "new");
        return QLAB_VERDICT_UNCERTAIN;
    }
    snprintf(note, note_len, "p=%.2g, n=%lld/%lld", p, (long long)nb, (long long)nn);
    return slower ? QLAB_VERDICT_WORSE : QLAB_VERDICT_BETTER;
}

/* ---------------------------------------------------------------------------- */
/* The table                                                                     */

typedef struct {
    int64_t point;        /* index into base (or new for only-in-new rows) */
    int side;             /* 0 base, 1 new: which file `point` indexes */
    char metric[32];
    char base[48], new_[48], change[32], verdict[16], note[96];
    int verdict_rank;     /* qlab_verdict, or -1 for only-in rows */
    int unmeasured;       /* 1: one run did not measure this column (nothing moved) */
} cmp_line;

typedef struct {
    cmp_line *v;
    int64_t n, cap;
} cmp_lines;

static cmp_line *line_add(cmp_lines *l)
{
    if (l->n == l->cap) {
        int64_t cap = l->cap ? 2 * l->cap : 64;
        cmp_line *v = realloc(l->v, (size_t)cap * sizeof *v);
        if (!v)
            return NULL;
        l->v = v;
        l->cap = cap;
    }
    cmp_line *x = &l->v[l->n++];
    memset(x, 0, sizeof *x);
    return x;
}

static void fmt_change(double b, double n, char *buf, size_t len)
{
    if (b == n)
        snprintf(buf, len, "0%%");
    else if (b != 0 && isfinite(b) && isfinite(n))
        snprintf(buf, len, "%+.3g%%", 100.0 * (n - b) / fabs(b));
    else
        snprintf(buf, len, "n/a");
}

/* Verdict of an error or memory metric. */
static qlab_verdict judge_value(const cmp_metric *m, double b, double n, double rtol, double atol)
{
    if (b == n || (isnan(b) && isnan(n)))
        return QLAB_VERDICT_SAME;
    if (isnan(n) || isnan(b))
        return isnan(n) ? QLAB_VERDICT_WORSE : QLAB_VERDICT_BETTER;
    if (isfinite(b) && isfinite(n) && fabs(n - b) <= atol + rtol * fabs(b))
        return QLAB_VERDICT_SAME;
    switch (m->dir) {
    case DIR_LOWER_BETTER: return n > b ? QLAB_VERDICT_WORSE : QLAB_VERDICT_BETTER;
    case DIR_HIGHER_BETTER: return n < b ? QLAB_VERDICT_WORSE : QLAB_VERDICT_BETTER;
    default: return QLAB_VERDICT_WORSE;
    }
}

static int is_cuda(const qlab_results_data *d)
{
    const char *be = qlab_results_attr(d, "backend");
    if (be && !strcmp(be, "cuda"))
        return 1;
    for (int64_t i = 0; i < d->n_points; i++)
        if (!strcmp(d->points[i].backend, "cuda"))
            return 1;
    return 0;
}

static const char *attr_or(const qlab_results_data *d, const char *key, const char *dflt)
{
    const char *v = qlab_results_attr(d, key);
    return v && *v ? v : dflt;
}

/* Describes point r by the axes that vary anywhere in either file. */
static void describe(const qlab_row *r, const qlab_column *const *axes, size_t n_axes, const unsigned char *varies,
                     char *buf, size_t len)
{
    size_t o = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < n_axes && o < len; i++) {
        if (!varies[i])
            continue;
        char v[QLAB_PATH_LEN + 8];
        col_short(r, axes[i], v, sizeof v);
        o += (size_t)snprintf(buf + o, len - o, "%s%s=%s", o ? " " : "", axes[i]->name, v);
    }
    if (o == 0)
        snprintf(buf, len, "scheme=%s", r->p.scheme);
}

/* Up to 4 distinct texts of axis a among d's points; returns how many (5: more). */
static int axis_values(const qlab_results_data *d, const qlab_column *a, char vals[4][64])
{
    int n = 0;
    for (int64_t i = 0; i < d->n_points; i++) {
        char v[QLAB_PATH_LEN + 8];
        col_short(&d->points[i], a, v, sizeof v);
        int seen = 0;
        for (int k = 0; k < n && k < 4 && !seen; k++)
            seen = !strncmp(vals[k], v, 63);
        if (seen)
            continue;
        if (n == 4)
            return 5;
        snprintf(vals[n++], 64, "%.63s", v);
    }
    return n;
}

/* Lists into buf the axes whose values differ between the files (for the error of a
 * compare in which no point matched). */
static void differing_axes(const qlab_results_data *b, const qlab_results_data *n, const qlab_column *const *axes,
                           size_t n_axes, char *buf, size_t len)
{
    size_t o = 0;
    buf[0] = '\0';
    for (size_t a = 0; a < n_axes && o < len; a++) {
        char vb[4][64], vn[4][64];
        int cb = axis_values(b, axes[a], vb), cn = axis_values(n, axes[a], vn);
        int same = cb == cn && cb <= 4;
        for (int i = 0; same && i < cb; i++) {
            int found = 0;
            for (int j = 0; j < cn && !found; j++)
                found = !strcmp(vb[i], vn[j]);
            same = found;
        }
        if (same)
            continue;
        o += (size_t)snprintf(buf + o, len - o, "%s%s: base", o ? "; " : "", axes[a]->name);
        for (int i = 0; i < cb && i < 4 && o < len; i++)
            o += (size_t)snprintf(buf + o, len - o, "%s%s", i ? "," : " ", vb[i]);
        if (cb > 4 && o < len)
            o += (size_t)snprintf(buf + o, len - o, ",...");
        if (o < len)
            o += (size_t)snprintf(buf + o, len - o, ", new");
        for (int i = 0; i < cn && i < 4 && o < len; i++)
            o += (size_t)snprintf(buf + o, len - o, "%s%s", i ? "," : " ", vn[i]);
        if (cn > 4 && o < len)
            snprintf(buf + o, len - o, ",...");
    }
}

/* Says whether errors or bytes that moved between two runs moved with the code (the
 * source hashes differ) or with the environment (same source: then what differs). */
static void provenance_note(const qlab_results_data *b, const qlab_results_data *n, int md, FILE *out)
{
    const char *hb = attr_or(b, "source_hash", ""), *hn = attr_or(n, "source_hash", "");
    const char *q = md ? "> " : "";
    if (!*hb || !*hn) {
        fprintf(out, "%sprovenance: unknown (%s records no source hash: written by an older qlab)\n", q,
                !*hb ? "base" : "new");
        return;
    }
    if (strcmp(hb, hn)) {
        fprintf(out, "%sprovenance: code change (source hash %s in base, %s in new)\n", q, hb, hn);
        return;
    }
    fprintf(out, "%sprovenance: environment change (same source %s):", q, hb);
    static const char *const keys[] = {"device", "compiler", "libc", "host"};
    int any = 0;
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        const char *vb = attr_or(b, keys[i], "?"), *vn = attr_or(n, keys[i], "?");
        if (strcmp(vb, vn)) {
            fprintf(out, "%s %s '%s' vs '%s'", any ? ";" : "", keys[i], vb, vn);
            any = 1;
        }
    }
    fprintf(out, "%s\n", any ? "" : " no recorded difference (build flags or libraries)");
}

/* The comparison proper; ab: the A/B axis (excluded from the point key), or NULL. */
static int compare_core(const qlab_results_data *base, const qlab_results_data *new_, const char *base_name,
                        const char *new_name, const qlab_compare_opts *o, const qlab_column *ab, FILE *out,
                        qlab_compare_summary *sum, char *err, size_t err_len)
{
    qlab_compare_summary s = {0};
    if (sum)
        *sum = s;
    /* Usable input */
    const char *eb = attr_or(base, "experiment", ""), *en = attr_or(new_, "experiment", "");
    if (!*eb || !*en) {
        qlab_set_err(err, err_len, "compare: %s has no experiment attribute: not a complete qlab results file",
                !*eb ? base_name : new_name);
        return 2;
    }
    if (strcmp(eb, en) && !ab) {
        qlab_set_err(err, err_len,
                "compare: files of different experiments: %s is '%s', %s is '%s' (compare runs of one config)",
                base_name, eb, new_name, en);
        return 2;
    }
    const char *files[2] = {base_name, new_name};
    const qlab_results_data *ds[2] = {base, new_};
    for (int f = 0; f < 2; f++) {
        const char *st = attr_or(ds[f], "status", "");
        if (!strcmp(st, "running")) {
            qlab_set_err(err, err_len,
                    "compare: %s has status 'running': the run is still going or was killed "
                    "(finish it with `qlab run --resume %s`)",
                    files[f], files[f]);
            return 2;
        }
    }

    const qlab_column *axes[128];
    size_t n_axes;
    axis_columns(&n_axes, axes, ab);
    /* An A/B on one axis can clear a setting on one side that only applies with the
     * other value (outlier_weights is unset, "-", at threshold 0). Such an axis, unset on
     * every point of one side and of one value on every point of the other, cannot
     * tell pairs apart: the points are paired without it, and the report says so. */
    char unpaired[512] = "";
    for (size_t a = 0; ab && a < n_axes;) {
        char vb[4][64], vn[4][64];
        int cb = axis_values(base, axes[a], vb), cn = axis_values(new_, axes[a], vn);
        if (cb == 1 && cn == 1 && strcmp(vb[0], vn[0]) && (!strcmp(vb[0], "-") || !strcmp(vn[0], "-"))) {
            size_t u = strlen(unpaired);
            snprintf(unpaired + u, sizeof unpaired - u, "%s%s (%s in base, %s in new)", u ? "; " : "",
                     axes[a]->name, vb[0], vn[0]);
            memmove(&axes[a], &axes[a + 1], (n_axes - a - 1) * sizeof axes[0]);
            n_axes--;
            continue;
        }
        a++;
    }

    key_index kb = {0}, kn = {0};
    sample_index sb = {0}, sn = {0};
    cmp_lines lines = {0};
    unsigned char *matched_new = calloc((size_t)(new_->n_points ? new_->n_points : 1), 1);
    int64_t *match_of = malloc((size_t)(base->n_points ? base->n_points : 1) * sizeof(int64_t));
    int rc = 0;
    if (!matched_new || !match_of || key_index_build(&kb, base, axes, n_axes) ||
        key_index_build(&kn, new_, axes, n_axes) || sample_index_build(&sb, base) || sample_index_build(&sn, new_)) {
        qlab_set_err(err, err_len, "compare: out of memory");
        rc = 2;
        goto done;
    }

    /* Which axes vary (for short descriptions). */
    unsigned char varies[128] = {0};
    {
        const qlab_row *first = base->n_points ? &base->points[0] : new_->n_points ? &new_->points[0] : NULL;
        for (size_t a = 0; first && a < n_axes; a++) {
            char v0[QLAB_PATH_LEN + 8], v[QLAB_PATH_LEN + 8];
            col_text(first, axes[a], v0, sizeof v0);
            for (int f = 0; f < 2 && !varies[a]; f++)
                for (int64_t i = 0; i < ds[f]->n_points && !varies[a]; i++) {
                    col_text(&ds[f]->points[i], axes[a], v, sizeof v);
                    varies[a] = strcmp(v, v0) != 0;
                }
        }
    }

    /* Match: each base point takes the first unmatched new point of equal key. */
    for (int64_t i = 0; i < base->n_points; i++) {
        const char *key = kb.keys + i * KEY_LEN;
        match_of[i] = -1;
        for (int64_t p = key_lower_bound(&kn, key); p < kn.n; p++) {
            int64_t j = kn.order[p];
            if (strcmp(kn.keys + j * KEY_LEN, key))
                break;
            if (!matched_new[j]) {
                matched_new[j] = 1;
                match_of[i] = j;
                break;
            }
        }
    }

    int64_t n_matched = 0;
    for (int64_t i = 0; i < base->n_points; i++)
        n_matched += match_of[i] >= 0;
    if (n_matched == 0 && base->n_points > 0 && new_->n_points > 0) {
        char diff[768];
        differing_axes(base, new_, axes, n_axes, diff, sizeof diff);
        qlab_set_err(err, err_len,
                     "compare: no point of %s matches one of %s: they differ in %s%s", base_name, new_name,
                     diff[0] ? diff : "(no axis: every point is a duplicate)",
                     ab ? "" : " (to compare across one axis: --ab AXIS=BASE_VALUE,NEW_VALUE)");
        rc = 2;
        goto done;
    }

    int cuda = is_cuda(base) || is_cuda(new_);
    double rtol[N_METRICS], atol[N_METRICS];
    for (int m = 0; m < N_METRICS; m++) {
        rtol[m] = o->rtol_set[m] ? o->rtol[m] : cuda ? metrics[m].cuda_rtol : 0;
        atol[m] = o->atol_set[m] ? o->atol[m] : cuda ? metrics[m].cuda_atol : 0;
    }
    int seeds_differ = 0;

    for (int64_t i = 0; i < base->n_points; i++) {
        int64_t j = match_of[i];
        if (j < 0) {
            cmp_line *l = line_add(&lines);
            if (!l) { rc = 2; qlab_set_err(err, err_len, "compare: out of memory"); goto done; }
            l->point = i; l->side = 0; l->verdict_rank = -1;
            snprintf(l->verdict, sizeof l->verdict, "ONLY BASE");
            snprintf(l->base, sizeof l->base, "%s", qlab_status_name(base->points[i].status));
            snprintf(l->new_, sizeof l->new_, "-");
            s.only_base++;
            continue;
        }
        s.matched++;
        const qlab_row *rb = &base->points[i], *rn = &new_->points[j];
        if (rb->p.seed != rn->p.seed)
            seeds_differ = 1;
        int worst = QLAB_VERDICT_SAME, any_better = 0, any_uncertain = 0;
#define ADD_LINE(V)                                                                            \
    cmp_line *l = line_add(&lines);                                                            \
    if (!l) { rc = 2; qlab_set_err(err, err_len, "compare: out of memory"); goto done; }            \
    l->point = i; l->side = 0; l->verdict_rank = (V);                                          \
    snprintf(l->verdict, sizeof l->verdict, "%s", verdict_names[V]);                           \
    if ((V) == QLAB_VERDICT_WORSE) worst = QLAB_VERDICT_WORSE;                                 \
    if ((V) == QLAB_VERDICT_BETTER) any_better = 1;                                            \
    if ((V) == QLAB_VERDICT_UNCERTAIN) any_uncertain = 1

        if (rb->status != rn->status) {
            qlab_verdict v = rb->status == QLAB_STATUS_OK && rn->status == QLAB_STATUS_FAILED ? QLAB_VERDICT_WORSE
                             : rn->status == QLAB_STATUS_OK && rb->status == QLAB_STATUS_FAILED
                                 ? QLAB_VERDICT_BETTER
                                 : QLAB_VERDICT_UNCERTAIN;
            ADD_LINE(v);
            snprintf(l->metric, sizeof l->metric, "status");
            snprintf(l->base, sizeof l->base, "%s", qlab_status_name(rb->status));
            snprintf(l->new_, sizeof l->new_, "%s", qlab_status_name(rn->status));
            snprintf(l->change, sizeof l->change, "-");
            if (rn->status == QLAB_STATUS_FAILED)
                snprintf(l->note, sizeof l->note, "%.60s", rn->message);
        } else if (rb->status == QLAB_STATUS_OK) {
            int parts = w_split_known(rb) && w_split_known(rn);
            /* a peer's point (peer:torch, peer:bitsandbytes) is timed only: its error
             * columns hold no measurement, so only time and bytes are compared */
            int peer = !strncmp(rb->backend, "peer:", 5) || !strncmp(rn->backend, "peer:", 5);
            /* A run whose `measure` had no `error` has no errors to compare; where only
             * one side measured them, accuracy cannot be judged: UNCERTAIN, never SAME. */
            int eb = qlab_row_error_measured(rb), en = qlab_row_error_measured(rn);
            int mb = qlab_row_memory_measured(rb), mn = qlab_row_memory_measured(rn);
            for (int what = 0; what < 2; what++) {
                int b = what ? mb : eb, n = what ? mn : en;
                if ((what == 0 && peer) || b == n)
                    continue;
                ADD_LINE(QLAB_VERDICT_UNCERTAIN);
                l->unmeasured = 1;
                snprintf(l->metric, sizeof l->metric, "%s", what ? "w_bytes" : "rel_err");
                if (b)
                    snprintf(l->base, sizeof l->base, "%.10g", what ? (double)rb->w_bytes : rb->rel_err);
                else
                    snprintf(l->base, sizeof l->base, "unmeasured");
                if (n)
                    snprintf(l->new_, sizeof l->new_, "%.10g", what ? (double)rn->w_bytes : rn->rel_err);
                else
                    snprintf(l->new_, sizeof l->new_, "unmeasured");
                snprintf(l->change, sizeof l->change, "-");
                snprintf(l->note, sizeof l->note, "%s measured no %s: %s not compared", b ? "new" : "base",
                         what ? "memory" : "error", what ? "bytes" : "accuracy");
            }
            for (int m = 0; m < N_METRICS; m++) {
                if (metrics[m].w_part && !parts)
                    continue;
                if (peer && (!metrics[m].is_int || !strcmp(metrics[m].name, "outlier_cols")))
                    continue;   /* errors and outlier counts: the peers measure neither */
                if (!metrics[m].is_int && (!eb || !en))
                    continue;   /* a run that measured no error */
                if (metrics[m].is_int && strcmp(metrics[m].name, "outlier_cols") && (!mb || !mn))
                    continue;   /* a run that measured no memory */
                double b = metric_value(rb, &metrics[m]), n = metric_value(rn, &metrics[m]);
                qlab_verdict v = judge_value(&metrics[m], b, n, rtol[m], atol[m]);
                if (v == QLAB_VERDICT_SAME)
                    continue;
                ADD_LINE(v);
                snprintf(l->metric, sizeof l->metric, "%s", metrics[m].name);
                snprintf(l->base, sizeof l->base, "%.10g", b);
                snprintf(l->new_, sizeof l->new_, "%.10g", n);
                fmt_change(b, n, l->change, sizeof l->change);
            }
            int64_t nb_s, nn_s;
            double *tb = samples_of(&sb, rb->p.id, &nb_s), *tn = samples_of(&sn, rn->p.id, &nn_s);
            if (nb_s > 0 && nn_s > 0) {
                s.timed++;
                double mb, mn;
                char note[96];
                qlab_verdict v = judge_time(tb, nb_s, tn, nn_s, rb->t.cpu_other, rn->t.cpu_other, o, &mb, &mn, note,
                                            sizeof note);
                if (fmax(rb->t.cpu_other, rn->t.cpu_other) > o->busy_threshold)
                    s.busy++;
                if (v != QLAB_VERDICT_SAME) {
                    ADD_LINE(v);
                    snprintf(l->metric, sizeof l->metric, "time_us");
                    snprintf(l->base, sizeof l->base, "%.4g", mb);
                    snprintf(l->new_, sizeof l->new_, "%.4g", mn);
                    fmt_change(mb, mn, l->change, sizeof l->change);
                    snprintf(l->note, sizeof l->note, "%s", note);
                }
            }
            free(tb);
            free(tn);
        }
#undef ADD_LINE
        if (worst == QLAB_VERDICT_WORSE)
            s.worse++;
        else if (any_better)
            s.better++;
        else if (any_uncertain)
            s.uncertain++;
    }
    for (int64_t j = 0; j < new_->n_points; j++) {
        if (matched_new[j])
            continue;
        cmp_line *l = line_add(&lines);
        if (!l) { rc = 2; qlab_set_err(err, err_len, "compare: out of memory"); goto done; }
        l->point = j; l->side = 1; l->verdict_rank = -1;
        snprintf(l->verdict, sizeof l->verdict, "ONLY NEW");
        snprintf(l->base, sizeof l->base, "-");
        snprintf(l->new_, sizeof l->new_, "%s", qlab_status_name(new_->points[j].status));
        s.only_new++;
    }

    /* Output */
    int md = o->markdown;
    int64_t w_desc = 5;
    char desc[1024];
    for (int64_t i = 0; i < lines.n; i++) {
        const cmp_line *l = &lines.v[i];
        describe(&ds[l->side]->points[l->point], axes, n_axes, varies, desc, sizeof desc);
        if ((int64_t)strlen(desc) > w_desc)
            w_desc = (int64_t)strlen(desc);
    }
    char abtxt[QLAB_PATH_LEN * 2 + 128] = "";
    if (ab)
        snprintf(abtxt, sizeof abtxt, ", A/B on %s: %s in base, %s in new", ab->name, o->ab_base, o->ab_new);
    if (md)
        fprintf(out, "### qlab compare: `%s` vs `%s` (experiment %s%s)\n\n", base_name, new_name, eb, abtxt);
    else
        fprintf(out, "compare %s -> %s (experiment %s%s)\n", base_name, new_name, eb, abtxt);
    if (unpaired[0])
        fprintf(out, md ? "Paired without %s: set on one side only.\n\n" : "paired without %s: set on one side only\n",
                unpaired);
    if (lines.n == 0) {
        fprintf(out, md ? "No changes.\n\n" : "no changes\n");
    } else if (md) {
        fprintf(out, "| point | metric | base | new | change | verdict | note |\n");
        fprintf(out, "|---|---|---:|---:|---:|---|---|\n");
    } else {
        fprintf(out, "%-*s  %-15s  %16s  %16s  %10s  %-9s  %s\n", (int)w_desc, "point", "metric", "base", "new",
                "change", "verdict", "note");
    }
    for (int64_t i = 0; i < lines.n; i++) {
        const cmp_line *l = &lines.v[i];
        describe(&ds[l->side]->points[l->point], axes, n_axes, varies, desc, sizeof desc);
        const char *change = l->change[0] ? l->change : "-";
        const char *metric = l->metric[0] ? l->metric : "-";
        if (md) {
            const char *vb = l->verdict_rank == QLAB_VERDICT_WORSE ? "**" : "";
            fprintf(out, "| %s | %s | %s | %s | %s | %s%s%s | %s |\n", desc, metric, l->base, l->new_, change, vb,
                    l->verdict, vb, l->note);
        } else {
            fprintf(out, "%-*s  %-15s  %16s  %16s  %10s  %-9s  %s\n", (int)w_desc, desc, metric, l->base, l->new_,
                    change, l->verdict, l->note);
        }
    }
    if (md && lines.n)
        fputc('\n', out);

    const char *bb = attr_or(base, "backend", "?"), *bn = attr_or(new_, "backend", "?");
    const char *db = attr_or(base, "device", ""), *dn = attr_or(new_, "device", "");
    int with_peer = !strncmp(bb, "peer:", 5) || !strncmp(bn, "peer:", 5);
    if (strcmp(bb, bn) && with_peer && !strcmp(db, dn))
        fprintf(out, "%snote: %s against %s on one device (%s): timings compared; the peer's errors are not "
                     "measured\n", md ? "> " : "", bb, bn, db);
    else if (strcmp(bb, bn))
        fprintf(out, "%snote: backends differ (%s vs %s); timings are not comparable\n", md ? "> " : "", bb, bn);
    else if (strcmp(db, dn))
        fprintf(out, "%snote: devices differ (%s vs %s); timings are not comparable\n", md ? "> " : "", db, dn);
    if (seeds_differ)
        fprintf(out, "%snote: seeds differ, so the data and every error differ\n", md ? "> " : "");
    if (strcmp(eb, en))
        fprintf(out, "%snote: experiments differ (%s vs %s)\n", md ? "> " : "", eb, en);
    int values_moved = 0;
    for (int64_t i = 0; i < lines.n; i++)
        values_moved |= lines.v[i].verdict_rank >= 0 && lines.v[i].verdict_rank != QLAB_VERDICT_SAME &&
                        strcmp(lines.v[i].metric, "time_us") != 0 && !lines.v[i].unmeasured;
    if (values_moved && !ab)
        provenance_note(base, new_, md, out);
    if (s.busy)
        fprintf(out,
                "%snote: on %lld timed points other processes used more than %.0f%% of the CPU while one run "
                "sampled; their timing verdicts are UNCERTAIN at most (rerun on a quiet machine)\n",
                md ? "> " : "", (long long)s.busy, 100 * o->busy_threshold);
    for (int f = 0; f < 2; f++)
        if (!strcmp(attr_or(ds[f], "status", ""), "interrupted"))
            fprintf(out, "%snote: %s is an interrupted run; its missing points are listed as only in the other file\n",
                    md ? "> " : "", files[f]);
    if (cuda)
        fprintf(out, "%snote: cuda tolerances by default (rtol 1e-3 on error norms, atol 0.01 dB sqnr, 1e-6 cosine)\n",
                md ? "> " : "");

    fprintf(out,
            "%scompare: %lld points matched, %lld worse, %lld better, %lld uncertain, %lld only in base, %lld only in "
            "new%s%s\n",
            md ? "**" : "", (long long)s.matched, (long long)s.worse, (long long)s.better, (long long)s.uncertain,
            (long long)s.only_base, (long long)s.only_new, s.timed ? "" : " (no timings compared)", md ? "**" : "");
    rc = s.worse > 0 ? 1 : 0;
    if (sum)
        *sum = s;

done:
    free(matched_new);
    free(match_of);
    key_index_free(&kb);
    key_index_free(&kn);
    free(sb.v);
    free(sn.v);
    free(lines.v);
    return rc;
}

/* The points of d whose `axis` reads `value` (a view: everything but the points is d's). */
static int ab_view(const qlab_results_data *d, const qlab_filter *f, qlab_results_data *view)
{
    *view = *d;
    view->points = malloc((size_t)(d->n_points ? d->n_points : 1) * sizeof *view->points);
    if (!view->points)
        return -1;
    view->n_points = 0;
    for (int64_t i = 0; i < d->n_points; i++)
        if (qlab_filter_matches(f, &d->points[i]))
            view->points[view->n_points++] = d->points[i];
    return 0;
}

int qlab_compare_data(const qlab_results_data *base, const qlab_results_data *new_, const char *base_name,
                      const char *new_name, const qlab_compare_opts *o, FILE *out, qlab_compare_summary *sum,
                      char *err, size_t err_len)
{
    if (!o->ab_axis[0])
        return compare_core(base, new_, base_name, new_name, o, NULL, out, sum, err, err_len);
    qlab_filter fb = {0}, fn = {0};
    char cb[QLAB_PATH_LEN + 80], cn[QLAB_PATH_LEN + 80];
    snprintf(cb, sizeof cb, "%s=%s", o->ab_axis, o->ab_base);
    snprintf(cn, sizeof cn, "%s=%s", o->ab_axis, o->ab_new);
    if (qlab_filter_add(&fb, cb, "compare: --ab", err, err_len) || qlab_filter_add(&fn, cn, "compare: --ab", err, err_len))
        return 2;
    qlab_results_data vb, vn;
    if (ab_view(base, &fb, &vb) || ab_view(new_, &fn, &vn)) {
        free(vb.points);
        qlab_set_err(err, err_len, "compare: out of memory");
        return 2;
    }
    int rc;
    if (vb.n_points == 0 || vn.n_points == 0) {
        qlab_set_err(err, err_len, "compare: --ab %s=%s,%s: %s has no point with %s=%s", o->ab_axis, o->ab_base,
                     o->ab_new, vb.n_points == 0 ? base_name : new_name, o->ab_axis,
                     vb.n_points == 0 ? o->ab_base : o->ab_new);
        rc = 2;
    } else {
        rc = compare_core(&vb, &vn, base_name, new_name, o, fb.col[0], out, sum, err, err_len);
    }
    free(vb.points);
    free(vn.points);
    return rc;
}

int qlab_compare_set_ab(qlab_compare_opts *o, const char *spec, char *err, size_t err_len)
{
    const char *eq = spec ? strchr(spec, '=') : NULL;
    const char *comma = eq ? strchr(eq + 1, ',') : NULL;
    if (!eq || eq == spec || !comma || comma == eq + 1 || !comma[1] || strchr(comma + 1, ',')) {
        qlab_set_err(err, err_len, "--ab needs AXIS=BASE_VALUE,NEW_VALUE (got '%s')", spec ? spec : "");
        return 2;
    }
    char axis[64], a[QLAB_PATH_LEN], b[QLAB_PATH_LEN];
    snprintf(axis, sizeof axis, "%.*s", (int)(eq - spec), spec);
    snprintf(a, sizeof a, "%.*s", (int)(comma - eq - 1), eq + 1);
    snprintf(b, sizeof b, "%s", comma + 1);
    if (!qlab_axis_column(axis)) {
        qlab_filter probe = {0};
        return qlab_filter_add(&probe, spec, "--ab", err, err_len);   /* the message listing the axes */
    }
    if (!strcmp(axis, "scheme") && (qlab_preset_axes(a) || qlab_preset_axes(b))) {
        qlab_set_err(err, err_len, "--ab %s: a scheme preset sets several axes; A/B one axis (e.g. --ab threshold=0,6)",
                     spec);
        return 2;
    }
    snprintf(o->ab_axis, sizeof o->ab_axis, "%s", axis);
    snprintf(o->ab_base, sizeof o->ab_base, "%s", a);
    snprintf(o->ab_new, sizeof o->ab_new, "%s", b);
    return 0;
}

int qlab_compare_files(const char *base_path, const char *new_path, const qlab_compare_opts *o, FILE *out,
                       qlab_compare_summary *sum, char *err, size_t err_len)
{
    qlab_results_data b, n;
    memset(&b, 0, sizeof b);
    memset(&n, 0, sizeof n);
    if (qlab_results_read(base_path, &b, err, err_len))
        return 2;
    if (qlab_results_read(new_path, &n, err, err_len)) {
        qlab_results_data_free(&b);
        return 2;
    }
    int rc = qlab_compare_data(&b, &n, base_path, new_path, o, out, sum, err, err_len);
    qlab_results_data_free(&b);
    qlab_results_data_free(&n);
    return rc;
}

/* ---------------------------------------------------------------------------- */
/* Command line                                                                  */

static const char *usage_compare =
    "usage: qlab compare BASE NEW [--tol FILE.yaml] [--rtol METRIC=X]... [--atol METRIC=X]...\n"
    "                             [--time-threshold F] [--p-value P] [--busy-threshold F] [--markdown]\n"
    "       qlab compare FILE [FILE2] --ab AXIS=BASE_VALUE,NEW_VALUE [options]\n"
    "\n"
    "Matches the points of two results files of one experiment by their axis values and\n"
    "reports what changed:\n"
    "  - errors beyond |new - base| <= atol + rtol * |base| (default 0 on cpu, whose\n"
    "    arithmetic gives the same bits on every machine; looser defaults on cuda);\n"
    "  - memory and outlier_cols exactly;\n"
    "  - time: WORSE or BETTER only when the median moved by at least the threshold\n"
    "    factor (default 0.25: 1.25x), the interquartile ranges do not overlap, a\n"
    "    Mann-Whitney U test gives p < 0.01 and the machine was not busy; SAME when the\n"
    "    median moved less and both runs' IQR is within the threshold; UNCERTAIN\n"
    "    otherwise, with the reason.\n"
    "A compare in which no point matches is an error that names the axes that differ.\n"
    "\n"
    "  --ab AXIS=A,B       A/B: the points with AXIS = A (in FILE) against those with\n"
    "                      AXIS = B (in FILE2, or FILE again), paired on every other axis\n"
    "  --tol FILE          YAML: rtol: {rel_err: 1e-6}, atol: {...}, time_threshold, p_value,\n"
    "                      busy_threshold\n"
    "  --rtol, --atol M=X  tolerance of one metric (after --tol; the last one wins)\n"
    "  --time-threshold F  smallest change of the median time that counts (factor - 1)\n"
    "  --p-value P         significance level of the rank test\n"
    "  --busy-threshold F  share of the CPU other processes may use during a point's\n"
    "                      timing before its timing verdict is UNCERTAIN (default 0.25)\n"
    "  --markdown          the report as GitHub markdown (CI comments)\n"
    "\n"
    "Exit status: 0 nothing worse, 1 something worse, 2 unusable input.\n";

int qlab_compare_main(int argc, char **argv, FILE *out, FILE *errf)
{
    qlab_compare_opts o;
    qlab_compare_opts_init(&o);
    const char *files[2] = {NULL, NULL}, *tol_file = NULL;
    int n_files = 0;
    char err[1024];
    /* Tolerance file first, then the single options over it, whatever their order. */
    for (int i = 0; i < argc; i++)
        if (!strcmp(argv[i], "--tol") && i + 1 < argc)
            tol_file = argv[i + 1];
    if (tol_file && qlab_compare_load_tol(&o, tol_file, err, sizeof err)) {
        fprintf(errf, "qlab: %s\n", err);
        return 2;
    }
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            fputs(usage_compare, out);
            return 0;
        } else if (!strcmp(a, "--tol")) {
            if (!v) {
                fprintf(errf, "qlab: --tol needs a YAML file\n\n%s", usage_compare);
                return 2;
            }
            i++;
        } else if (!strcmp(a, "--rtol") || !strcmp(a, "--atol")) {
            if (qlab_compare_set_tol(&o, a + 2, v, err, sizeof err)) {
                fprintf(errf, "qlab: %s\n\n%s", err, usage_compare);
                return 2;
            }
            i++;
        } else if (!strcmp(a, "--time-threshold") || !strcmp(a, "--p-value") || !strcmp(a, "--busy-threshold")) {
            double x;
            int is_p = !strcmp(a, "--p-value");
            if (parse_nonneg(v, &x) || (is_p && (x <= 0 || x >= 1))) {
                fprintf(errf, "qlab: %s '%s': expected %s\n\n%s", a, v ? v : "",
                        is_p ? "a probability in (0, 1)" : "a number >= 0", usage_compare);
                return 2;
            }
            if (is_p)
                o.p_value = x;
            else if (!strcmp(a, "--busy-threshold"))
                o.busy_threshold = x;
            else
                o.time_threshold = x;
            i++;
        } else if (!strcmp(a, "--ab")) {
            if (qlab_compare_set_ab(&o, v, err, sizeof err)) {
                fprintf(errf, "qlab: %s\n\n%s", err, usage_compare);
                return 2;
            }
            i++;
        } else if (!strcmp(a, "--markdown")) {
            o.markdown = 1;
        } else if (a[0] == '-' && a[1]) {
            fprintf(errf, "qlab: unknown option '%s'\n\n%s", a, usage_compare);
            return 2;
        } else if (n_files < 2) {
            files[n_files++] = a;
        } else {
            fprintf(errf, "qlab: unexpected argument '%s'\n\n%s", a, usage_compare);
            return 2;
        }
    }
    if (n_files == 1 && o.ab_axis[0])
        files[n_files++] = files[0];
    if (n_files != 2) {
        fprintf(errf, "qlab: compare needs two files, BASE and NEW (or one file with --ab)\n\n%s", usage_compare);
        return 2;
    }
    int rc = qlab_compare_files(files[0], files[1], &o, out, NULL, err, sizeof err);
    if (rc == 2)
        fprintf(errf, "qlab: %s\n", err);
    fflush(out);
    return rc;
}

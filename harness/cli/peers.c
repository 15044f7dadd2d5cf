/* peers.c: `qlab import-peers` (see peers.h): a peers file of tools/gpu_peers.py into a
 * results file, through the results API (store/results.h) only.
 *
 * The whole peers file is read and checked before the results file is created, so
 * bad input writes nothing; every error names the file, the line and column, and the
 * field (points[3].m). Each point is then appended with its samples in one durable
 * write (qlab_results_append_batch), and the file is closed "complete".
 *
 * What a peer point maps to (the axis columns of qlab's own point of the same
 * computation, experiments/gpu-first.yaml):
 *   torch        fp16_mm              scheme fp16 (granularities, threshold unused)
 *   torch        int8_mm              scheme absmax, x row, w channel, threshold 0
 *   bitsandbytes bnb_int8 threshold 0 scheme absmax, x row, w channel, threshold 0
 *   bitsandbytes bnb_int8 threshold t scheme absmax, x row, w channel, threshold t,
 *                                     outlier_weights dequant (Linear8bitLt takes the
 *                                     outlier columns of W from its int8 codes)
 * The data axes (seed, x and w distributions) are the file's, workload "synthetic".
 * fp16_median_us is the torch fp16_mm median of the same shape in the same file (the
 * fp16 GEMM timed in the same call, as qlab's own rows carry theirs), 0 without one.
 */
#include "cli/peers.h"

#include <errno.h>
#include <libfyaml.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "backends/backend.h"
#include "core/point.h"
#include "core/version.h"
#include "core/yaml_guard.h"
#include "store/results.h"
#include "sweep/config.h"

#define PEERS_FORMAT "qlab-peers"
#define PEERS_FORMAT_VERSION 1
#define MAX_STAGES 8

typedef struct {
    char name[QLAB_NAME_LEN];
    double *us;
    int64_t n;
} peer_stage;

typedef struct {
    char peer[QLAB_NAME_LEN];
    char op[QLAB_NAME_LEN];
    int64_t m, k, n;
    double threshold;
    int ok;                          /* status "ok" (else "failed") */
    char message[QLAB_MSG_LEN];
    peer_stage stages[MAX_STAGES];
    int n_stages;
    int64_t w_code_bytes, w_scale_bytes, w_outlier_bytes, x_bytes, outlier_cols;
} peer_point;

typedef struct {
    const char *path;
    char *err;
    size_t err_len;
    char experiment[QLAB_NAME_LEN];
    char device[QLAB_MSG_LEN];
    uint64_t seed;
    qlab_dist x, w;
    char versions[QLAB_MSG_LEN];     /* "torch 2.11.0; cuda 13.0; ..." */
    char timing[QLAB_MSG_LEN];       /* "warmup=10; min_samples=20; ..." */
    char skipped[QLAB_MSG_LEN];      /* "bitsandbytes: no module ..." */
    peer_point *pts;
    int64_t n_pts;
    /* the parser's first message, captured */
    char diag[512];
} peers_file;

/* ---------------------------------------------------------------------------- */
/* Positions and errors                                                          */

/* "FILE:LINE:COL: FIELD: message" into f->err (the position of `at`, else of
 * `parent`); returns 2. */
static int fail(peers_file *f, struct fy_node *at, struct fy_node *parent, const char *field, const char *fmt, ...)
{
    char what[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    const struct fy_mark *m = qlab_yaml_node_mark(at);
    if (!m)
        m = qlab_yaml_node_mark(parent);
    char where[600];
    if (m)
        snprintf(where, sizeof where, "%s:%d:%d", f->path, m->line + 1, m->column + 1);
    else
        snprintf(where, sizeof where, "%s", f->path);
    if (field && *field)
        snprintf(f->err, f->err_len, "%s: %s: %s", where, field, what);
    else
        snprintf(f->err, f->err_len, "%s: %s", where, what);
    return 2;
}

/* The parser's diagnostics: keep the first line. */
static void capture_diag(struct fy_diag *diag, void *user, const char *buf, size_t len)
{
    (void)diag;
    peers_file *f = user;
    if (f->diag[0] || len == 0)
        return;
    size_t n = len < sizeof f->diag - 1 ? len : sizeof f->diag - 1;
    memcpy(f->diag, buf, n);
    f->diag[n] = '\0';
    char *nl = strchr(f->diag, '\n');
    if (nl)
        *nl = '\0';
}

/* ---------------------------------------------------------------------------- */
/* Typed fields                                                                  */

/* Scalar text of a node that must be a scalar (NULL for a JSON null too). */
static const char *scalar(struct fy_node *n)
{
    if (!n || !fy_node_is_scalar(n))
        return NULL;
    return fy_node_get_scalar0(n);
}

static int is_null(struct fy_node *n)
{
    if (!n)
        return 1;
    if (!fy_node_is_scalar(n) || fy_node_get_style(n) != FYNS_PLAIN)
        return 0;
    const char *s = fy_node_get_scalar0(n);
    return s && !strcmp(s, "null");
}

/* A required string member (quoted in JSON) of at most cap - 1 bytes. */
static int get_str(peers_file *f, struct fy_node *map, const char *key, const char *field, char *out, size_t cap,
                   int required)
{
    struct fy_node *n = fy_node_mapping_lookup_by_string(map, key, FY_NT);
    out[0] = '\0';
    if (!n) {
        if (!required)
            return 0;
        return fail(f, NULL, map, field, "missing (a string)");
    }
    if (!required && is_null(n))
        return 0;
    const char *s = scalar(n);
    if (!s || fy_node_get_style(n) == FYNS_PLAIN)
        return fail(f, n, map, field, "must be a string in double quotes");
    if (strlen(s) >= cap)
        return fail(f, n, map, field, "too long (%zu bytes, at most %zu)", strlen(s), cap - 1);
    snprintf(out, cap, "%s", s);
    return 0;
}

/* A number member; required, or *out keeps its default. */
static int get_num(peers_file *f, struct fy_node *map, const char *key, const char *field, double *out, int required)
{
    struct fy_node *n = fy_node_mapping_lookup_by_string(map, key, FY_NT);
    if (!n) {
        if (!required)
            return 0;
        return fail(f, NULL, map, field, "missing (a number)");
    }
    const char *s = scalar(n);
    char *end = NULL;
    double v = s && fy_node_get_style(n) == FYNS_PLAIN ? strtod(s, &end) : NAN;
    if (!s || !end || end == s || *end || !isfinite(v))
        return fail(f, n, map, field, "must be a finite number (got '%s')", s ? s : "a mapping or list");
    *out = v;
    return 0;
}

/* An integer member >= lo; required, or *out keeps its default. */
static int get_int(peers_file *f, struct fy_node *map, const char *key, const char *field, int64_t lo, int64_t *out,
                   int required)
{
    struct fy_node *n = fy_node_mapping_lookup_by_string(map, key, FY_NT);
    if (!n) {
        if (!required)
            return 0;
        return fail(f, NULL, map, field, "missing (an integer >= %lld)", (long long)lo);
    }
    const char *s = scalar(n);
    char *end = NULL;
    errno = 0;
    long long v = s && fy_node_get_style(n) == FYNS_PLAIN ? strtoll(s, &end, 10) : 0;
    if (!s || !end || end == s || *end || errno || v < lo)
        return fail(f, n, map, field, "must be an integer >= %lld (got '%s')", (long long)lo,
                    s ? s : "a mapping or list");
    *out = v;
    return 0;
}

/* A mapping member, required. */
static struct fy_node *get_map(peers_file *f, struct fy_node *map, const char *key, const char *field, int *rc)
{
    struct fy_node *n = fy_node_mapping_lookup_by_string(map, key, FY_NT);
    if (!n || !fy_node_is_mapping(n)) {
        *rc = fail(f, n, map, field, n ? "must be an object" : "missing (an object)");
        return NULL;
    }
    return n;
}

/* A distribution object ("x", "w"): every member of qlab_dist, so that the axis
 * columns come out exactly as the experiment's. */
static int get_dist(peers_file *f, struct fy_node *root, const char *key, qlab_dist *d)
{
    int rc = 0;
    struct fy_node *n = get_map(f, root, key, key, &rc);
    if (!n)
        return rc;
    char field[64];
    memset(d, 0, sizeof *d);
    snprintf(field, sizeof field, "%s.dist", key);
    if (get_str(f, n, "dist", field, d->dist, sizeof d->dist, 1))
        return 2;
    static const char *const names[] = {"std", "df", "outlier_cols", "outlier_scale"};
    double *vals[] = {&d->std, &d->df, &d->outlier_cols, &d->outlier_scale};
    for (int i = 0; i < 4; i++) {
        snprintf(field, sizeof field, "%s.%s", key, names[i]);
        if (get_num(f, n, names[i], field, vals[i], 1))
            return 2;
    }
    return 0;
}

/* "k1 v1; k2 v2" of an object of scalars (sep between key and value), into out. */
static int flat_object(peers_file *f, struct fy_node *root, const char *key, const char *sep, char *out, size_t cap)
{
    out[0] = '\0';
    struct fy_node *n = fy_node_mapping_lookup_by_string(root, key, FY_NT);
    if (!n || is_null(n))
        return 0;
    if (!fy_node_is_mapping(n))
        return fail(f, n, root, key, "must be an object");
    size_t o = 0;
    void *it = NULL;
    struct fy_node_pair *p;
    while ((p = fy_node_mapping_iterate(n, &it))) {
        struct fy_node *k = fy_node_pair_key(p), *v = fy_node_pair_value(p);
        const char *ks = scalar(k), *vs = is_null(v) ? "none" : scalar(v);
        if (!ks || !vs)
            return fail(f, v, n, key, "members must be strings or numbers");
        if (o < cap)
            o += (size_t)snprintf(out + o, cap - o, "%s%s%s%s", o ? "; " : "", ks, sep, vs);
    }
    return 0;
}

/* ---------------------------------------------------------------------------- */
/* Points                                                                        */

static int get_stages(peers_file *f, struct fy_node *pt, const char *field0, peer_point *p)
{
    char field[96];
    snprintf(field, sizeof field, "%s.stages", field0);
    struct fy_node *st = fy_node_mapping_lookup_by_string(pt, "stages", FY_NT);
    if (!st)
        return p->ok ? fail(f, NULL, pt, field, "missing (an object of stage name: [samples in us])") : 0;
    if (!fy_node_is_mapping(st))
        return fail(f, st, pt, field, "must be an object of stage name: [samples in us]");
    void *it = NULL;
    struct fy_node_pair *pair;
    while ((pair = fy_node_mapping_iterate(st, &it))) {
        struct fy_node *k = fy_node_pair_key(pair), *v = fy_node_pair_value(pair);
        const char *name = scalar(k);
        snprintf(field, sizeof field, "%s.stages.%s", field0, name ? name : "?");
        size_t len = name ? strlen(name) : 0;
        if (!name || len == 0 || len >= QLAB_NAME_LEN || strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789_") != len)
            return fail(f, k, st, field, "a stage name is 1 to %d characters of a-z, 0-9, '_'", QLAB_NAME_LEN - 1);
        if (p->n_stages == MAX_STAGES)
            return fail(f, k, st, field, "more than %d stages", MAX_STAGES);
        if (!fy_node_is_sequence(v))
            return fail(f, v, st, field, "must be a list of samples in microseconds");
        int n = fy_node_sequence_item_count(v);
        if (n < 1 && p->ok)
            return fail(f, v, st, field, "no samples");
        peer_stage *s = &p->stages[p->n_stages++];
        snprintf(s->name, sizeof s->name, "%s", name);
        s->us = malloc((size_t)(n > 0 ? n : 1) * sizeof *s->us);
        if (!s->us)
            return fail(f, v, st, field, "out of memory for %d samples", n);
        void *it2 = NULL;
        struct fy_node *item;
        int i = 0;
        while ((item = fy_node_sequence_iterate(v, &it2))) {
            const char *t = scalar(item);
            char *end = NULL;
            double x = t && fy_node_get_style(item) == FYNS_PLAIN ? strtod(t, &end) : NAN;
            if (!t || !end || end == t || *end || !isfinite(x) || !(x > 0))
                return fail(f, item, v, field, "sample %d must be a time in microseconds > 0 (got '%s')", i,
                            t ? t : "a mapping or list");
            s->us[i++] = x;
        }
        s->n = i;
    }
    if (p->ok) {
        for (int i = 0; i < p->n_stages; i++)
            if (!strcmp(p->stages[i].name, "total"))
                return 0;
        snprintf(field, sizeof field, "%s.stages", field0);
        return fail(f, st, pt, field, "no \"total\" stage (the op's own time, as qlab's rows have it)");
    }
    return 0;
}

static int get_point(peers_file *f, struct fy_node *pt, int64_t idx, peer_point *p)
{
    char f0[48], field[96];
    snprintf(f0, sizeof f0, "points[%lld]", (long long)idx);
    memset(p, 0, sizeof *p);
    if (!fy_node_is_mapping(pt))
        return fail(f, pt, NULL, f0, "must be an object");
#define FIELD(name) (snprintf(field, sizeof field, "%s.%s", f0, name), field)
    if (get_str(f, pt, "peer", FIELD("peer"), p->peer, sizeof p->peer, 1) ||
        get_str(f, pt, "op", FIELD("op"), p->op, sizeof p->op, 1))
        return 2;
    struct fy_node *peer_n = fy_node_mapping_lookup_by_string(pt, "peer", FY_NT);
    struct fy_node *op_n = fy_node_mapping_lookup_by_string(pt, "op", FY_NT);
    if (strcmp(p->peer, "torch") && strcmp(p->peer, "bitsandbytes"))
        return fail(f, peer_n, pt, FIELD("peer"), "unknown peer '%s' (torch or bitsandbytes)", p->peer);
    int torch = !strcmp(p->peer, "torch");
    if (torch ? strcmp(p->op, "fp16_mm") && strcmp(p->op, "int8_mm") : strcmp(p->op, "bnb_int8") != 0)
        return fail(f, op_n, pt, FIELD("op"), "unknown op '%s' of peer %s (%s)", p->op, p->peer,
                    torch ? "fp16_mm or int8_mm" : "bnb_int8");
    if (get_int(f, pt, "m", FIELD("m"), 1, &p->m, 1) || get_int(f, pt, "k", FIELD("k"), 1, &p->k, 1) ||
        get_int(f, pt, "n", FIELD("n"), 1, &p->n, 1) ||
        get_num(f, pt, "threshold", FIELD("threshold"), &p->threshold, 1))
        return 2;
    struct fy_node *thr_n = fy_node_mapping_lookup_by_string(pt, "threshold", FY_NT);
    if (p->threshold < 0 || (torch && p->threshold != 0))
        return fail(f, thr_n, pt, FIELD("threshold"), "%s (got %g)",
                    torch ? "must be 0: torch's ops have no outlier decomposition" : "must be >= 0", p->threshold);
    char status[16];
    if (get_str(f, pt, "status", FIELD("status"), status, sizeof status, 1))
        return 2;
    if (strcmp(status, "ok") && strcmp(status, "failed"))
        return fail(f, fy_node_mapping_lookup_by_string(pt, "status", FY_NT), pt, FIELD("status"),
                    "must be \"ok\" or \"failed\" (got '%s')", status);
    p->ok = !strcmp(status, "ok");
    char msg[4096];
    if (get_str(f, pt, "message", FIELD("message"), msg, sizeof msg, 0))
        return 2;
    snprintf(p->message, sizeof p->message, "%.*s", (int)sizeof p->message - 1, msg);   /* cut to the column */
    if (get_int(f, pt, "w_code_bytes", FIELD("w_code_bytes"), 0, &p->w_code_bytes, 0) ||
        get_int(f, pt, "w_scale_bytes", FIELD("w_scale_bytes"), 0, &p->w_scale_bytes, 0) ||
        get_int(f, pt, "w_outlier_bytes", FIELD("w_outlier_bytes"), 0, &p->w_outlier_bytes, 0) ||
        get_int(f, pt, "x_bytes", FIELD("x_bytes"), 0, &p->x_bytes, 0) ||
        get_int(f, pt, "outlier_cols", FIELD("outlier_cols"), 0, &p->outlier_cols, 0))
        return 2;
#undef FIELD
    return get_stages(f, pt, f0, p);
}

static void peers_free(peers_file *f)
{
    for (int64_t i = 0; i < f->n_pts; i++)
        for (int s = 0; s < f->pts[i].n_stages; s++)
            free(f->pts[i].stages[s].us);
    free(f->pts);
    f->pts = NULL;
    f->n_pts = 0;
}

static int read_doc(peers_file *f, struct fy_node *root)
{
    if (!root || !fy_node_is_mapping(root))
        return fail(f, root, NULL, "", "not a peers file: the top level must be a JSON object");
    char fmt[64];
    int64_t ver = 0;
    if (get_str(f, root, "format", "format", fmt, sizeof fmt, 1))
        return 2;
    if (strcmp(fmt, PEERS_FORMAT))
        return fail(f, fy_node_mapping_lookup_by_string(root, "format", FY_NT), root, "format",
                    "'%s' is not \"%s\" (a file of tools/gpu_peers.py)", fmt, PEERS_FORMAT);
    if (get_int(f, root, "format_version", "format_version", 1, &ver, 1))
        return 2;
    if (ver != PEERS_FORMAT_VERSION)
        return fail(f, fy_node_mapping_lookup_by_string(root, "format_version", FY_NT), root, "format_version",
                    "version %lld is not the %d this qlab reads", (long long)ver, PEERS_FORMAT_VERSION);
    int64_t seed = 0;
    if (get_str(f, root, "experiment", "experiment", f->experiment, sizeof f->experiment, 1) ||
        get_str(f, root, "device", "device", f->device, sizeof f->device, 1) ||
        get_int(f, root, "seed", "seed", 0, &seed, 1) || get_dist(f, root, "x", &f->x) ||
        get_dist(f, root, "w", &f->w) || flat_object(f, root, "versions", " ", f->versions, sizeof f->versions) ||
        flat_object(f, root, "timing", "=", f->timing, sizeof f->timing))
        return 2;
    f->seed = (uint64_t)seed;
    size_t el = strlen(f->experiment);
    if (el == 0 || strspn(f->experiment, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-") != el)
        return fail(f, fy_node_mapping_lookup_by_string(root, "experiment", FY_NT), root, "experiment",
                    "'%s' is not an experiment name ([A-Za-z0-9_.-]+)", f->experiment);

    struct fy_node *sk = fy_node_mapping_lookup_by_string(root, "skipped", FY_NT);
    if (sk && !is_null(sk)) {
        if (!fy_node_is_sequence(sk))
            return fail(f, sk, root, "skipped", "must be a list of {\"peer\": ..., \"reason\": ...}");
        void *it = NULL;
        struct fy_node *item;
        size_t o = 0;
        int i = 0;
        while ((item = fy_node_sequence_iterate(sk, &it))) {
            char field[48], peer[QLAB_NAME_LEN], reason[QLAB_MSG_LEN];
            snprintf(field, sizeof field, "skipped[%d]", i++);
            if (!fy_node_is_mapping(item))
                return fail(f, item, sk, field, "must be an object {\"peer\": ..., \"reason\": ...}");
            if (get_str(f, item, "peer", field, peer, sizeof peer, 1) ||
                get_str(f, item, "reason", field, reason, sizeof reason, 1))
                return 2;
            if (o < sizeof f->skipped)
                o += (size_t)snprintf(f->skipped + o, sizeof f->skipped - o, "%s%s: %s", o ? "; " : "", peer, reason);
        }
    }

    struct fy_node *pts = fy_node_mapping_lookup_by_string(root, "points", FY_NT);
    if (!pts || !fy_node_is_sequence(pts))
        return fail(f, pts, root, "points", pts ? "must be a list" : "missing (a list of points)");
    int n = fy_node_sequence_item_count(pts);
    f->pts = calloc((size_t)(n > 0 ? n : 1), sizeof *f->pts);
    if (!f->pts)
        return fail(f, pts, root, "points", "out of memory for %d points", n);
    void *it = NULL;
    struct fy_node *item;
    while ((item = fy_node_sequence_iterate(pts, &it))) {
        int rc = get_point(f, item, f->n_pts, &f->pts[f->n_pts]);
        f->n_pts++;   /* owns whatever get_point allocated, freed by peers_free */
        if (rc)
            return rc;
    }
    return 0;
}

static int peers_read(const char *path, peers_file *f, char *err, size_t err_len)
{
    memset(f, 0, sizeof *f);
    f->path = path;
    f->err = err;
    f->err_len = err_len;
    FILE *probe = fopen(path, "r");
    if (!probe) {
        snprintf(err, err_len, "%s: cannot read: %s", path, strerror(errno));
        return 2;
    }
    fclose(probe);
    struct fy_diag_cfg dc;
    fy_diag_cfg_default(&dc);
    dc.fp = NULL;
    dc.output_fn = capture_diag;
    dc.user = f;
    dc.colorize = false;
    struct fy_diag *diag = fy_diag_create(&dc);
    if (!diag) {
        snprintf(err, err_len, "%s: cannot set up the JSON parser", path);
        return 2;
    }
    if (qlab_yaml_guard(NULL, 0, path, 1, path, err, err_len)) {
        fy_diag_destroy(diag);
        return 2;
    }
    struct fy_parse_cfg pc;
    memset(&pc, 0, sizeof pc);
    pc.flags = FYPCF_QUIET | FYPCF_JSON_FORCE;
    pc.diag = diag;
    struct fy_document *doc = fy_document_build_from_file(&pc, path);
    int rc;
    if (!doc) {
        /* libfyaml's message begins with "file:line:col:" already where it has one */
        if (f->diag[0])
            snprintf(err, err_len, "%s: not valid JSON: %s", path, f->diag);
        else
            snprintf(err, err_len, "%s: not valid JSON", path);
        rc = 2;
    } else {
        rc = read_doc(f, fy_document_root(doc));
        fy_document_destroy(doc);
    }
    fy_diag_destroy(diag);
    if (rc)
        peers_free(f);
    return rc;
}

/* ---------------------------------------------------------------------------- */
/* Rows                                                                          */

static const peer_stage *stage_of(const peer_point *p, const char *name)
{
    for (int i = 0; i < p->n_stages; i++)
        if (!strcmp(p->stages[i].name, name))
            return &p->stages[i];
    return NULL;
}

/* Median of torch's fp16_mm "total" at p's shape, 0 without one. */
static double fp16_median(const peers_file *f, const peer_point *p)
{
    for (int64_t i = 0; i < f->n_pts; i++) {
        const peer_point *q = &f->pts[i];
        if (q->ok && !strcmp(q->peer, "torch") && !strcmp(q->op, "fp16_mm") && q->m == p->m && q->k == p->k &&
            q->n == p->n) {
            const peer_stage *s = stage_of(q, "total");
            qlab_timing t;
            qlab_timing_summarize(s->us, s->n, &t);
            return t.median_us;
        }
    }
    return 0;
}

static void make_row(const peers_file *f, const peer_point *p, int64_t id, qlab_row *r)
{
    memset(r, 0, sizeof *r);
    qlab_point *q = &r->p;
    q->id = id;
    q->seed = f->seed;
    snprintf(q->workload, sizeof q->workload, "synthetic");
    q->m = p->m;
    q->k = p->k;
    q->n = p->n;
    q->x = f->x;
    q->w = f->w;
    if (!strcmp(p->op, "fp16_mm")) {
        snprintf(q->scheme, sizeof q->scheme, "fp16");
    } else {
        snprintf(q->scheme, sizeof q->scheme, "absmax");
        snprintf(q->x_granularity, sizeof q->x_granularity, "row");
        snprintf(q->w_granularity, sizeof q->w_granularity, "channel");
        q->threshold = p->threshold;
        if (p->threshold > 0)
            snprintf(q->outlier_weights, sizeof q->outlier_weights, "dequant");
    }
    r->status = p->ok ? QLAB_STATUS_OK : QLAB_STATUS_FAILED;
    snprintf(r->message, sizeof r->message, "%s", p->message);
    snprintf(r->backend, sizeof r->backend, "peer:%.*s", (int)sizeof r->backend - 6, p->peer);
    r->outlier_cols = p->outlier_cols;
    r->outlier_frac = p->k > 0 ? (double)p->outlier_cols / (double)p->k : 0;
    r->w_code_bytes = p->w_code_bytes;
    r->w_scale_bytes = p->w_scale_bytes;
    r->w_outlier_bytes = p->w_outlier_bytes;
    r->w_bytes = p->w_code_bytes + p->w_scale_bytes + p->w_outlier_bytes;
    r->w_bytes_fp16 = 2 * p->n * p->k;
    r->x_bytes = p->x_bytes;
    const peer_stage *tot = stage_of(p, "total");
    if (p->ok && tot) {
        qlab_timing_summarize(tot->us, tot->n, &r->t);
        r->t.cpu_other = -1;   /* not recorded by the peers' script */
        double sec = r->t.median_us * 1e-6;
        if (sec > 0) {
            r->tops = 2.0 * (double)p->m * (double)p->n * (double)p->k / sec / 1e12;
            /* bytes that must move: X and Y in fp16, the stored weights */
            if (r->w_bytes > 0)
                r->gbps = (2.0 * (double)p->m * (double)p->k + (double)r->w_bytes + 2.0 * (double)p->m * (double)p->n) /
                          sec / 1e9;
        }
        r->fp16_median_us = fp16_median(f, p);
        r->speedup_vs_fp16 = r->fp16_median_us > 0 && r->t.median_us > 0 ? r->fp16_median_us / r->t.median_us : 0;
    }
}

static int write_results(const peers_file *f, const char *peer, const char *out_path, FILE *out, char *err,
                         size_t err_len)
{
    qlab_results *r = NULL;
    if (qlab_results_create(out_path, &r, err, err_len))
        return 2;
    char backend[QLAB_NAME_LEN + 8];
    snprintf(backend, sizeof backend, "peer:%s", peer);
    int64_t n_rows = 0, n_samples = 0;
    for (int64_t i = 0; i < f->n_pts; i++)
        n_rows += !strcmp(f->pts[i].peer, peer);
    const struct { const char *k, *v; } attrs[] = {
        {"experiment", f->experiment},
        {"backend", backend},
        {"device", f->device},
        {"qlab_version", QLAB_VERSION_STRING},
        {"peers_file", f->path},
        {"peer_versions", f->versions},
        {"peer_timing", f->timing},
        {"peer_skipped", f->skipped},
    };
    int rc = 0;
    for (size_t a = 0; a < sizeof attrs / sizeof *attrs && !rc; a++)
        if (attrs[a].v[0])
            rc = qlab_results_set_attr(r, attrs[a].k, attrs[a].v, err, err_len);
    if (!rc)
        rc = qlab_results_set_attr_int(r, "points_total", n_rows, err, err_len);
    qlab_sample *smp = NULL;
    int64_t id = 0;
    for (int64_t i = 0; i < f->n_pts && !rc; i++) {
        const peer_point *p = &f->pts[i];
        if (strcmp(p->peer, peer))
            continue;
        qlab_row row;
        make_row(f, p, id, &row);
        int64_t ns = 0;
        for (int s = 0; s < p->n_stages; s++)
            ns += p->stages[s].n;
        qlab_sample *v = realloc(smp, (size_t)(ns > 0 ? ns : 1) * sizeof *v);
        if (!v) {
            snprintf(err, err_len, "%s: out of memory for %lld samples", out_path, (long long)ns);
            rc = 2;
            break;
        }
        smp = v;
        int64_t j = 0;
        for (int s = 0; s < p->n_stages; s++)
            for (int64_t t = 0; t < p->stages[s].n; t++) {
                memset(&smp[j], 0, sizeof smp[j]);
                smp[j].point_id = id;
                snprintf(smp[j].stage, sizeof smp[j].stage, "%s", p->stages[s].name);
                smp[j].time_us = p->stages[s].us[t];
                j++;
            }
        rc = qlab_results_append_batch(r, &row, smp, ns, NULL, 0, err, err_len);
        n_samples += ns;
        id++;
    }
    free(smp);
    char cerr[512];
    if (qlab_results_close(r, rc ? "interrupted" : "complete", cerr, sizeof cerr) && !rc) {
        snprintf(err, err_len, "%s", cerr);
        rc = 2;
    }
    if (!rc)
        fprintf(out, "qlab import-peers: %lld points of %s (%lld samples) from %s -> %s\n", (long long)id, backend,
                (long long)n_samples, f->path, out_path);
    return rc ? 2 : 0;
}

/* ---------------------------------------------------------------------------- */
/* Command                                                                       */

static const char *usage =
    "usage: qlab import-peers PEERS.json -o OUT.h5 [--peer torch|bitsandbytes]\n"
    "\n"
    "Reads the timings of other libraries' matmuls, written by tools/gpu_peers.py on a GPU\n"
    "machine (torch's fp16 matmul and torch._int_mm, bitsandbytes' Linear8bitLt), into a\n"
    "new results file of backend peer:NAME. Each point gets the axis columns of qlab's own\n"
    "point of the same computation (fp16; absmax x=row w=channel; LLM.int8() as absmax\n"
    "with its threshold and outlier_weights=dequant) and the file the peers file's\n"
    "experiment, so `qlab compare QLAB.h5 OUT.h5` pairs them; the timing summary is that\n"
    "of the \"total\" samples, and every stage's samples go to /samples. One peer per\n"
    "file: --peer is needed when PEERS.json holds more than one. OUT must not exist.\n";

int qlab_import_peers_main(int argc, char **argv, FILE *out, FILE *errf)
{
    const char *in = NULL, *out_path = NULL, *peer = NULL;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            fputs(usage, out);
            return 0;
        }
        if ((!strcmp(a, "-o") || !strcmp(a, "--peer")) && i + 1 < argc) {
            if (!strcmp(a, "-o"))
                out_path = argv[++i];
            else
                peer = argv[++i];
        } else if (a[0] == '-') {
            fprintf(errf, "qlab import-peers: unknown option or missing value '%s'\n%s", a, usage);
            return 2;
        } else if (!in) {
            in = a;
        } else {
            fprintf(errf, "qlab import-peers: unexpected argument '%s'\n%s", a, usage);
            return 2;
        }
    }
    if (!in || !out_path) {
        fprintf(errf, "qlab import-peers: %s\n%s", !in ? "no peers file" : "missing -o OUT.h5", usage);
        return 2;
    }
    if (peer && strcmp(peer, "torch") && strcmp(peer, "bitsandbytes")) {
        fprintf(errf, "qlab import-peers: --peer '%s': torch or bitsandbytes\n", peer);
        return 2;
    }
    char err[1024];
    peers_file f;
    if (peers_read(in, &f, err, sizeof err)) {
        fprintf(errf, "qlab import-peers: %s\n", err);
        return 2;
    }
    int has_torch = 0, has_bnb = 0;
    for (int64_t i = 0; i < f.n_pts; i++) {
        has_torch |= !strcmp(f.pts[i].peer, "torch");
        has_bnb |= !strcmp(f.pts[i].peer, "bitsandbytes");
    }
    int rc = 0;
    if (!peer && has_torch && has_bnb) {
        fprintf(errf,
                "qlab import-peers: %s holds points of torch and bitsandbytes: import one per results file "
                "(--peer torch, --peer bitsandbytes), so that compare pairs each with qlab's points\n",
                in);
        rc = 2;
    } else if (!peer && !has_torch && !has_bnb) {
        fprintf(errf, "qlab import-peers: %s: points: none (nothing to import%s%s)\n", in,
                f.skipped[0] ? "; skipped: " : "", f.skipped);
        rc = 2;
    } else {
        if (!peer)
            peer = has_torch ? "torch" : "bitsandbytes";
        if (!(strcmp(peer, "torch") ? has_bnb : has_torch)) {
            fprintf(errf, "qlab import-peers: %s: points: none of peer %s%s%s\n", in, peer,
                    f.skipped[0] ? "; skipped: " : "", f.skipped);
            rc = 2;
        } else if (write_results(&f, peer, out_path, out, err, sizeof err)) {
            fprintf(errf, "qlab import-peers: %s\n", err);
            rc = 2;
        }
    }
    peers_free(&f);
    return rc;
}

/* workload.c: synthetic tensors from a counter-based generator, and the reference.
 *
 * The generator is SplitMix64's finaliser applied to key + counter * golden ratio: a
 * bijective 64-bit mix, so each (key, counter) gives an independent-looking word
 * without state. Normals come from Box-Muller on the pair of counters (2i, 2i+1),
 * Student-t from Bailey's polar method with the attempt number folded into the
 * counter, uniform from one word. Values are scaled to the requested standard
 * deviation. Outlier feature columns of X (emergent features: the same columns for
 * every token) are a deterministic choice of round(frac * k) columns, multiplied by
 * outlier_scale.
 *
 * Dump points (workload "dump") take X = the layer's captured input, W = its weight
 * and its bias from the dump file (dump.h); the reference is then X W^T + b in
 * float64 like any other point. Where the dump stores the layer's output, that
 * reference must match it (qlab_dump_check_output) or the point fails: a weight
 * stored [in, out] would otherwise be studied as a different, wrong layer.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "workloads/workload.h"
#include "store/dump.h"
#include "quant/quant.h"

#define GOLDEN 0x9E3779B97F4A7C15ull

static uint64_t mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static uint64_t hash_bytes(uint64_t h, const void *data, size_t len)
{
    const unsigned char *p = data;
    for (size_t i = 0; i < len; i++)
        h = mix64(h ^ ((uint64_t)p[i] + (i << 8)));
    return h;
}

static uint64_t hash_str(uint64_t h, const char *s) { return hash_bytes(h, s, strlen(s) + 1); }
static uint64_t hash_f64(uint64_t h, double v) { return hash_bytes(h, &v, sizeof v); }
static uint64_t hash_i64(uint64_t h, int64_t v) { return hash_bytes(h, &v, sizeof v); }

static uint64_t hash_dist(uint64_t h, const qlab_dist *d)
{
    h = hash_str(h, d->dist);
    h = hash_f64(h, d->std);
    h = hash_f64(h, d->df);
    h = hash_f64(h, d->outlier_cols);
    return hash_f64(h, d->outlier_scale);
}

uint64_t qlab_workload_key(const qlab_point *p)
{
    uint64_t h = mix64(p->seed ^ 0x716c6162ull);
    h = hash_str(h, p->workload);
    h = hash_str(h, p->path);
    h = hash_str(h, p->layer);
    h = hash_i64(h, p->m);
    h = hash_i64(h, p->k);
    h = hash_i64(h, p->n);
    h = hash_i64(h, p->depth);
    h = hash_str(h, p->model);
    h = hash_str(h, p->mode);
    h = hash_dist(h, &p->x);
    return hash_dist(h, &p->w);
}

static uint64_t rng_word(uint64_t key, uint64_t counter) { return mix64(key + counter * GOLDEN); }

double qlab_rng_uniform(uint64_t key, uint64_t counter)
{
    /* 53 random bits, shifted off 0 so log() is safe. */
    return ((double)(rng_word(key, counter) >> 11) + 0.5) * (1.0 / 9007199254740992.0);
}

double qlab_rng_normal(uint64_t key, uint64_t counter)
{
    double u1 = qlab_rng_uniform(key, 2 * counter);
    double u2 = qlab_rng_uniform(key, 2 * counter + 1);
    return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}

static double rng_student_t(uint64_t key, uint64_t counter, double df)
{
    for (uint64_t attempt = 0;; attempt++) {
        uint64_t c = (counter << 6) | (attempt & 63);
        uint64_t k2 = attempt < 64 ? key : mix64(key + attempt);
        double u = 2.0 * qlab_rng_uniform(k2, 2 * c) - 1.0;
        double v = 2.0 * qlab_rng_uniform(k2, 2 * c + 1) - 1.0;
        double w = u * u + v * v;
        if (w > 0 && w <= 1)
            return u * sqrt(df * (pow(w, -2.0 / df) - 1.0) / w);
    }
}

int qlab_fill_dist(const qlab_dist *d, uint64_t key, float *v, size_t count)
{
    /* Value i is a function of (key, i) alone, so threads change nothing. */
    const int par = count > (1u << 16);
    if (strcmp(d->dist, "normal") == 0) {
#pragma omp parallel for schedule(static) if (par)
        for (size_t i = 0; i < count; i++)
            v[i] = (float)(d->std * qlab_rng_normal(key, i));
    } else if (strcmp(d->dist, "uniform") == 0) {
        double a = d->std * sqrt(3.0);
#pragma omp parallel for schedule(static) if (par)
        for (size_t i = 0; i < count; i++)
            v[i] = (float)(a * (2.0 * qlab_rng_uniform(key, i) - 1.0));
    } else if (strcmp(d->dist, "student_t") == 0) {
        if (!(d->df > 2))
            return -1;
        double scale = d->std * sqrt((d->df - 2.0) / d->df);
#pragma omp parallel for schedule(static) if (par)
        for (size_t i = 0; i < count; i++)
            v[i] = (float)(scale * rng_student_t(key, i, d->df));
    } else {
        return -1;
    }
    return 0;
}

int64_t qlab_outlier_count(double frac, int64_t k)
{
    if (!(frac > 0))
        return 0;
    int64_t c = (int64_t)llround(frac * (double)k);
    if (c < 1)
        c = 1;
    return c > k ? k : c;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

void qlab_outlier_pick(uint64_t key, int64_t k, int64_t n_out, int64_t *cols)
{
    /* Floyd's sampling: n_out distinct values from [0,k) with n_out draws. */
    int64_t c = 0;
    for (int64_t j = k - n_out; j < k; j++) {
        int64_t t = (int64_t)(rng_word(key, (uint64_t)j) % (uint64_t)(j + 1));
        int seen = 0;
        for (int64_t i = 0; i < c; i++)
            if (cols[i] == t) { seen = 1; break; }
        cols[c++] = seen ? j : t;
    }
    qsort(cols, (size_t)n_out, sizeof *cols, cmp_i64);
}

void qlab_workload_free(qlab_workload *wl)
{
    free(wl->x);
    free(wl->w);
    free(wl->bias);
    free(wl->y_ref);
    quant_cache_free(wl->cache);
    memset(wl, 0, sizeof *wl);
}

/* A dump point: the layer's captured input as X, its weight as W, its bias. The
 * shapes must still be those the config saw at expansion (the file may have been
 * replaced since). */
static int workload_from_dump(const qlab_point *p, qlab_workload *wl, char *err, size_t err_len)
{
    qlab_dump_tensors t;
    if (qlab_dump_read_layer(p->path, p->layer, &t, err, err_len))
        return 2;
    if (t.tokens != p->m || t.k != p->k || t.n != p->n) {
        snprintf(err, err_len, "%s: /layers/%s: shapes are now tokens=%lld k=%lld n=%lld, the point "
                 "was expanded with m=%lld k=%lld n=%lld (the file changed since)", p->path, p->layer,
                 (long long)t.tokens, (long long)t.k, (long long)t.n, (long long)p->m,
                 (long long)p->k, (long long)p->n);
        qlab_dump_tensors_free(&t);
        return 2;
    }
    wl->m = t.tokens;
    wl->k = t.k;
    wl->n = t.n;
    wl->key = qlab_workload_key(p);
    wl->x = t.input;
    wl->w = t.weight;
    wl->bias = t.bias;
    /* A stored output must be X W^T + b: it is what catches a weight stored the wrong
     * way round. The reference it is checked against is the one the point scores with. */
    int rc = 0;
    if (t.output && (qlab_workload_reference(wl, err, err_len) ||
                     qlab_dump_check_output(p->path, p->layer, &t, wl->y_ref, err, err_len))) {
        qlab_workload_free(wl);
        rc = 2;
    }
    free(t.output);
    return rc;
}

static int workload_tensors(const qlab_point *p, qlab_workload *wl, char *err, size_t err_len)
{
    if (strcmp(p->workload, "dump") == 0)
        return workload_from_dump(p, wl, err, err_len);
    if (strcmp(p->workload, "synthetic") != 0) {
        snprintf(err, err_len, "workload kind '%s' is not supported by this build", p->workload);
        return 2;
    }
    wl->m = p->m;
    wl->k = p->k;
    wl->n = p->n;
    wl->key = qlab_workload_key(p);
    size_t nx = (size_t)(p->m * p->k), nw = (size_t)(p->n * p->k);
    wl->x = malloc(nx * sizeof *wl->x);
    wl->w = malloc(nw * sizeof *wl->w);
    if (!wl->x || !wl->w) {
        snprintf(err, err_len, "cannot allocate %.1f MiB for X and W of m=%lld k=%lld n=%lld",
                 (double)(nx + nw) * 4 / 1048576.0, (long long)p->m, (long long)p->k, (long long)p->n);
        qlab_workload_free(wl);
        return 2;
    }
    if (qlab_fill_dist(&p->x, mix64(wl->key ^ 1), wl->x, nx) ||
        qlab_fill_dist(&p->w, mix64(wl->key ^ 2), wl->w, nw)) {
        snprintf(err, err_len, "unknown distribution '%s' / '%s'", p->x.dist, p->w.dist);
        qlab_workload_free(wl);
        return 2;
    }
    int64_t n_out = qlab_outlier_count(p->x.outlier_cols, p->k);
    if (n_out > 0) {
        int64_t *cols = malloc((size_t)n_out * sizeof *cols);
        if (!cols) {
            snprintf(err, err_len, "out of memory for %lld outlier columns", (long long)n_out);
            qlab_workload_free(wl);
            return 2;
        }
        qlab_outlier_pick(mix64(wl->key ^ 3), p->k, n_out, cols);
        for (int64_t i = 0; i < p->m; i++)
            for (int64_t c = 0; c < n_out; c++)
                wl->x[i * p->k + cols[c]] *= (float)p->x.outlier_scale;
        free(cols);
    }
    return 0;
}

int qlab_workload_make(const qlab_point *p, qlab_workload *wl, char *err, size_t err_len)
{
    memset(wl, 0, sizeof *wl);
    int rc = workload_tensors(p, wl, err, err_len);
    if (rc == 0) {
        /* Room for W quantized at a few (scheme, granularity) pairs and the outlier
         * products of a threshold sweep, in proportion to the operands. Without it
         * (out of memory) the points only run slower. */
        int64_t operands = 4 * (wl->m * wl->k + wl->n * wl->k + wl->m * wl->n);
        wl->cache = quant_cache_new(4 * operands);
    }
    return rc;
}

int qlab_workload_reference(qlab_workload *wl, char *err, size_t err_len)
{
    if (wl->y_ref)
        return 0;
    size_t ny = (size_t)(wl->m * wl->n);
    wl->y_ref = malloc(ny * sizeof *wl->y_ref);
    if (!wl->y_ref) {
        snprintf(err, err_len, "cannot allocate %.1f MiB for the float64 reference",
                 (double)ny * 8 / 1048576.0);
        return 2;
    }
    quant_status st = quant_matmul_ref_f64(wl->x, wl->w, wl->m, wl->k, wl->n, wl->y_ref);
    if (st != QUANT_OK) {
        snprintf(err, err_len, "float64 reference failed: %s", quant_status_str(st));
        return 2;
    }
    if (wl->bias)
        for (int64_t i = 0; i < wl->m; i++)
            for (int64_t j = 0; j < wl->n; j++)
                wl->y_ref[i * wl->n + j] += wl->bias[j];
    return 0;
}

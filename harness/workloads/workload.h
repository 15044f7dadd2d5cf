/* workload.h: the tensors of a point (DESIGN section 2: point --workload--> X, W, bias).
 *
 * Synthetic data depend only on (seed, the point's workload values) through a
 * counter-based generator: value i of a tensor is a pure function of a key hashed from
 * those values and of i. So a point's tensors are identical whatever the order of the
 * sweep, its sharding or a resume, and every scheme of one workload sees the same X, W.
 */
#ifndef QLAB_WORKLOAD_H
#define QLAB_WORKLOAD_H

#include <stddef.h>
#include <stdint.h>
#include "core/point.h"
#include "quant/quant.h"

typedef struct {
    int64_t m, k, n;
    float *x;        /* [m,k] */
    float *w;        /* [n,k] */
    float *bias;     /* [n] or NULL */
    double *y_ref;   /* [m,n] float64 reference X W^T (+ bias), filled by workload_reference */
    uint64_t key;    /* hash of the workload values that made it */
    quant_cache *cache;  /* work shared by the points on these tensors (quant_cache), or NULL */
} qlab_workload;

/* Key of a point's workload: equal keys mean equal tensors (the runner reuses them). */
uint64_t qlab_workload_key(const qlab_point *p);

/* Fills wl with the point's tensors (allocating them): synthetic ones from the
 * generator, or for workload "dump" the layer p->layer of the dump p->path (input as
 * X, weight as W, bias; where the dump stores the output, wl->y_ref is computed too
 * and must match it). Returns 0, or 2 with a message (unsupported workload kind, a
 * dump problem naming the file, layer and dataset, a stored output that is not
 * X W^T + b, allocation failure naming the bytes). */
int qlab_workload_make(const qlab_point *p, qlab_workload *wl, char *err, size_t err_len);

/* Computes wl->y_ref in float64 (once per workload). Returns 0 or 2 with a message. */
int qlab_workload_reference(qlab_workload *wl, char *err, size_t err_len);

void qlab_workload_free(qlab_workload *wl);

/* The generator, exposed for tests: uniform in (0,1) and standard normal for
 * (key, counter). Pure functions. */
double qlab_rng_uniform(uint64_t key, uint64_t counter);
double qlab_rng_normal(uint64_t key, uint64_t counter);

/* Fills v[0..count) with dist d (ignoring its outlier fields) from (key). */
int qlab_fill_dist(const qlab_dist *d, uint64_t key, float *v, size_t count);

/* Picks the n_out outlier feature columns of X for (key): sorted distinct indices
 * in [0,k) written to cols. n_out = round(frac * k), at least 1 when frac > 0. */
int64_t qlab_outlier_count(double frac, int64_t k);
void qlab_outlier_pick(uint64_t key, int64_t k, int64_t n_out, int64_t *cols);

#endif

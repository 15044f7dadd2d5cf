/* network.h: points whose workload is a whole network (chain, model) rather than one
 * matmul. The runner hands such a point here instead of to the matmul path; the
 * network runs every linear layer through the backend (backend->run with timing off),
 * compares each layer's output hidden state with the reference forward, and returns
 * the per-layer rows for /layers plus the point's row (final-output metrics).
 */
#ifndef QLAB_NETWORK_H
#define QLAB_NETWORK_H

#include <stddef.h>
#include <stdint.h>
#include "backends/backend.h"
#include "core/point.h"

/* Per-layer rows grown by a network run; the runner writes them with the point. */
typedef struct {
    qlab_layer_row *v;
    int64_t n, cap;
} qlab_layers;

int qlab_layers_push(qlab_layers *l, const qlab_layer_row *row);   /* 0, or -1 out of memory */
void qlab_layers_free(qlab_layers *l);

/* What a network run gets: the point, the backend, the experiment's measure flags and
 * timing options. */
typedef struct {
    const qlab_point *p;
    const qlab_backend *backend;
    int measure_latency, measure_memory;
    const qlab_timing_opts *timing;
} qlab_network_job;

/* Synthetic residual MLP chain (workload kind "chain"). Fills row (metrics of the final
 * hidden state against the reference forward, memory of all weights, timing of the
 * whole forward when measured), pushes one layer row per layer and timing samples.
 * Returns 0, or non-zero with a message in err (the point is recorded as failed). */
int qlab_chain_run(const qlab_network_job *job, qlab_row *row, qlab_layers *layers,
                   qlab_samples *samples, char *err, size_t err_len);

/* A real model run by qlab (workload kind "model", model "minilm"). Same contract. */
int qlab_model_run(const qlab_network_job *job, qlab_row *row, qlab_layers *layers,
                   qlab_samples *samples, char *err, size_t err_len);

#endif

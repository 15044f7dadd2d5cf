/* network.c: per-layer row lists shared by the network workloads. */
#include <stdlib.h>

#include "workloads/network.h"

int qlab_layers_push(qlab_layers *l, const qlab_layer_row *row)
{
    if (l->n == l->cap) {
        int64_t cap = l->cap ? 2 * l->cap : 64;
        qlab_layer_row *v = realloc(l->v, (size_t)cap * sizeof *v);
        if (!v)
            return -1;
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n++] = *row;
    return 0;
}

void qlab_layers_free(qlab_layers *l)
{
    free(l->v);
    l->v = NULL;
    l->n = l->cap = 0;
}

/* model.c: real models run by qlab (workload kind "model"). Not built yet. */
#include <stdio.h>

#include "network.h"

int qlab_model_run(const qlab_network_job *job, qlab_row *row, qlab_layers *layers,
                   qlab_samples *samples, char *err, size_t err_len)
{
    (void)job; (void)row; (void)layers; (void)samples;
    snprintf(err, err_len, "workload kind 'model' is not built yet");
    return 1;
}

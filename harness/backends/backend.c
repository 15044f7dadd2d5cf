/* backend.c: backend selection (`backend: auto | cpu | cuda`). What the backends
 * share lives below them, in backend_common.c, so no backend calls back into this file. */
#include <stdio.h>
#include <string.h>

#include "backends/backend.h"

const char *qlab_no_cuda_reason(void)
{
#ifdef QLAB_CUDA_DISABLED
    return "CUDA=0 at build time, although nvcc was there: `make run` builds CUDA only where a GPU is "
           "usable; `make` builds the cuda backend";
#else
    return "nvcc was not found at build time";
#endif
}

const qlab_backend *qlab_backend_select(const char *name, char *why, size_t why_len)
{
    char reason[256] = "";
    if (strcmp(name, "cpu") == 0)
        return &qlab_backend_cpu;
    if (strcmp(name, "cuda") == 0 || strcmp(name, "auto") == 0) {
#ifdef QLAB_HAVE_CUDA
        if (qlab_backend_cuda.available(reason, sizeof reason))
            return &qlab_backend_cuda;
#else
        snprintf(reason, sizeof reason, "this qlab was built without CUDA (%s)", qlab_no_cuda_reason());
#endif
        if (strcmp(name, "auto") == 0) {
            snprintf(why, why_len, "cuda backend not usable (%s); using cpu", reason);
            return &qlab_backend_cpu;
        }
        snprintf(why, why_len, "cuda backend not usable: %s", reason);
        return NULL;
    }
    snprintf(why, why_len, "unknown backend '%s' (expected cpu, cuda or auto)", name);
    return NULL;
}

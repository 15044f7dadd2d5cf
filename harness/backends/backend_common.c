/* backend_common.c: what every backend shares: a point's quant options (qlab_point_opts)
 * and the host's peak-memory probe (qlab_mem_peak_*). The sampling loop is timing.c. */
#include <stdio.h>
#include <string.h>

#include "backends/backend.h"

static quant_gran gran_of(const char *name)
{
    if (name[0] == '\0' || strcmp(name, "-") == 0)
        return QUANT_GRAN_TENSOR;
    return quant_gran_from_name(name);
}

int qlab_point_opts(const qlab_point *p, quant_matmul_opts *o, char *err, size_t err_len)
{
    memset(o, 0, sizeof *o);
    o->scheme = quant_scheme_from_name(p->scheme);
    if (o->scheme == QUANT_SCHEME_COUNT) {
        snprintf(err, err_len, "unknown scheme '%s'", p->scheme);
        return 2;
    }
    const quant_scheme_traits *t = quant_scheme_get(o->scheme);
    if (t->kind == QUANT_KIND_FLOAT) {
        o->x_gran = o->w_gran = QUANT_GRAN_TENSOR;
        return 0;
    }
    if (t->kind == QUANT_KIND_4BIT) {
        /* Weight-only: X stays fp16, W is always blocked along k (64 unless set). */
        o->x_gran = QUANT_GRAN_TENSOR;
        o->w_gran = QUANT_GRAN_BLOCK;
        o->block = p->block > 0 ? p->block : 64;
        return 0;
    }
    o->x_gran = gran_of(p->x_granularity);
    o->w_gran = gran_of(p->w_granularity);
    if (o->x_gran == QUANT_GRAN_COUNT || o->w_gran == QUANT_GRAN_COUNT) {
        snprintf(err, err_len, "unknown granularity '%s' / '%s'", p->x_granularity, p->w_granularity);
        return 2;
    }
    o->block = p->block;
    o->threshold = (float)p->threshold;
    o->smooth_alpha = (float)p->smooth_alpha;
    if (!(p->smooth_alpha >= 0.0 && p->smooth_alpha <= 1.0)) {
        snprintf(err, err_len, "smooth_alpha %g outside [0, 1]", p->smooth_alpha);
        return 2;
    }
    o->outlier_weights = p->outlier_weights[0] ? quant_outlier_weights_from_name(p->outlier_weights)
                                               : QUANT_OUTLIER_FP16;
    if (o->outlier_weights == QUANT_OUTLIER_COUNT) {
        snprintf(err, err_len, "unknown outlier_weights '%s'", p->outlier_weights);
        return 2;
    }
    return 0;
}

void qlab_mem_peak_reset(void)
{
    FILE *f = fopen("/proc/self/clear_refs", "w");
    if (f) {
        fputs("5", f);   /* 5: reset the peak resident set size (VmHWM) */
        fclose(f);
    }
}

int64_t qlab_mem_peak_bytes(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    if (!f)
        return 0;
    char line[256];
    long long kb = 0;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "VmHWM: %lld kB", &kb) == 1)
            break;
    fclose(f);
    return (int64_t)kb * 1024;
}

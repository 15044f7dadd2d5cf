/* point.h: one point of a sweep and the row it produces.
 *
 * The contract between the config parser (config.c: YAML -> points), the runner
 * (run.c: point -> workload -> backend -> row) and the results file (results.c:
 * rows <-> HDF5 /points). A point carries every axis value, so a row alone says
 * what was run; the HDF5 compound type mirrors qlab_row field for field.
 * Strings are fixed-length, NUL-terminated, so h5dump and h5py read them plainly.
 */
#ifndef QLAB_POINT_H
#define QLAB_POINT_H

#include <math.h>
#include <stdint.h>
#include "quant/quant.h"

#define QLAB_NAME_LEN 32     /* workload, scheme, granularity, distribution names */
#define QLAB_LAYER_LEN 128   /* layer names of dumps and models */
#define QLAB_MSG_LEN 256     /* status messages */
#define QLAB_PATH_LEN 512

/* Distribution of one synthetic operand. */
typedef struct {
    char dist[QLAB_NAME_LEN];   /* "normal" | "uniform" | "student_t" */
    double std;                 /* standard deviation (uniform: of the uniform) */
    double df;                  /* degrees of freedom of student_t (> 2) */
    double outlier_cols;        /* X only: fraction of k that are outlier feature columns */
    double outlier_scale;       /* X only: magnitude multiplier of those columns */
} qlab_dist;

/* Every axis value of one point. Axes not used by a workload keep their defaults. */
typedef struct {
    int64_t id;                 /* 0-based index in the expanded sweep (stable across shards/resume) */
    uint64_t seed;

    /* workload */
    char workload[QLAB_NAME_LEN];   /* "synthetic" | "dump" | "chain" | "model" */
    char path[QLAB_PATH_LEN];       /* dump file / text file; "" for synthetic */
    char layer[QLAB_LAYER_LEN];     /* layer name for dump points; "" otherwise */
    int64_t m, k, n;
    qlab_dist x, w;
    int64_t depth;                  /* chain depth; 0 otherwise */
    char model[QLAB_NAME_LEN];      /* model workloads: "minilm"; "" otherwise */
    char mode[QLAB_NAME_LEN];       /* chain/model: "propagated" | "isolated"; "" otherwise */

    /* scheme */
    char scheme[QLAB_NAME_LEN];     /* quant_scheme name */
    char x_granularity[QLAB_NAME_LEN];
    char w_granularity[QLAB_NAME_LEN];
    int64_t block;                  /* block size where a granularity is "block"; 0 otherwise */
    double threshold;               /* LLM.int8() threshold, 0 = none */
    char outlier_weights[QLAB_NAME_LEN];  /* "fp16" | "dequant" ("" where threshold is 0) */
    double smooth_alpha;            /* SmoothQuant migration strength, 0 = off */
} qlab_point;

/* Timing summary of one stage (DESIGN section 5). Times in microseconds. */
typedef struct {
    double median_us, q1_us, q3_us, min_us;
    double rel_stdev;           /* stdev / mean of the samples */
    int64_t samples;
    double cpu_other;           /* share (0..1) of the machine's CPU time that other processes
                                   used while the samples were taken (/proc/stat less this
                                   process); -1 where it could not be read */
} qlab_timing;

typedef enum {
    QLAB_STATUS_OK = 0,
    QLAB_STATUS_FAILED,
    QLAB_STATUS_SKIPPED
} qlab_status;

/* One row of /points. */
typedef struct {
    qlab_point p;
    int32_t status;             /* qlab_status */
    char message[QLAB_MSG_LEN];
    char backend[QLAB_NAME_LEN];    /* "cpu" | "cuda" */

    /* error (DESIGN section 4) */
    double rel_err, sqnr_db, max_abs_err, mean_abs_err, cosine;
    double x_rel_err, w_rel_err;
    int64_t outlier_cols;
    double outlier_frac;

    /* timing of the whole quantized matmul (quantize X + matmul + dequant) */
    qlab_timing t;
    double tops;                /* 2mnk / median time, in 1e12 ops/s */
    double gbps;                /* bytes that must move / median time, GB/s */
    double fp16_median_us;      /* fp16 GEMM of the same shape, same run (0 if not measured) */
    double speedup_vs_fp16;     /* fp16_median_us / t.median_us (0 if not measured) */

    /* memory, bytes */
    int64_t w_bytes;            /* stored weights: codes + scales + zeros + outliers;
                                   always w_code_bytes + w_scale_bytes + w_scale2_bytes
                                   + w_outlier_bytes */
    int64_t w_code_bytes;       /* the codes: n k for 8-bit formats, ceil(n k / 2) for 4-bit,
                                   element size times n k for float schemes */
    int64_t w_scale_bytes;      /* first-level scales (+ int32 zero points): float32 per group,
                                   or one int8 per block under double quantization */
    int64_t w_scale2_bytes;     /* second-level scales of double quantization (float32 per 256
                                   blocks + the float32 mean), else 0 */
    int64_t w_outlier_bytes;    /* LLM.int8() fp16 outlier weight columns (2 n outliers), else 0 */
    int64_t w_bytes_fp16;       /* the same weights in fp16, for ratios */
    int64_t x_bytes;            /* quantized activation buffers */
    int64_t peak_bytes;         /* peak allocated during the point (device on cuda, resident on cpu) */

    /* model points: Spearman rank correlation of the pairwise sentence-embedding
     * similarities against the reference's (1 = same ordering); 0 for other workloads */
    double rank_agreement;
} qlab_row;

/* Marks r's error columns (rel_err, sqnr_db, max_abs_err, mean_abs_err, cosine,
 * x_rel_err, w_rel_err) as not measured: NaN, so that no reader of the file (export,
 * h5py, pandas) can take them for an exact result. A run whose `measure` has no
 * `error` writes its points so. */
static inline void qlab_row_set_error_unmeasured(qlab_row *r)
{
    r->rel_err = r->sqnr_db = r->max_abs_err = r->mean_abs_err = r->cosine = NAN;
    r->x_rel_err = r->w_rel_err = NAN;
}

/* Whether r's error columns hold a measurement: not when they are all NaN (above; a
 * measured point whose output went NaN still has finite operand errors, since its
 * operands are checked finite), nor when rel_err, sqnr_db and cosine are all 0 (how
 * files written before the NaN convention, and imported peer timings, leave them: a
 * measured point never has all three 0, an exact result having an infinite SQNR and
 * cosine 1). */
static inline int qlab_row_error_measured(const qlab_row *r)
{
    if (r->rel_err == 0 && r->sqnr_db == 0 && r->cosine == 0)
        return 0;
    return !(isnan(r->rel_err) && isnan(r->sqnr_db) && isnan(r->cosine) && isnan(r->x_rel_err) &&
             isnan(r->w_rel_err));
}

/* Whether r's byte columns hold a measurement: a run whose `measure` has no `memory`
 * leaves them 0, and a measured point always has w_bytes_fp16 = 2 n k > 0. */
static inline int qlab_row_memory_measured(const qlab_row *r)
{
    return r->w_bytes_fp16 > 0 || r->w_bytes > 0;
}

/* One timing sample (/samples). */
typedef struct {
    int64_t point_id;
    char stage[QLAB_NAME_LEN];  /* "total", "quantize_x", "gemm_i8", "outlier_gemm", "dequant", "fp16_gemm", ... */
    double time_us;
} qlab_sample;

/* Per-layer metrics (/layers), for dumps, chains and models. */
typedef struct {
    int64_t point_id;
    int64_t layer_index;
    char layer_name[QLAB_LAYER_LEN];
    char mode[QLAB_NAME_LEN];   /* "propagated" | "isolated" */
    double rel_err, sqnr_db, max_abs_err, mean_abs_err, cosine;
    int64_t outlier_cols;
} qlab_layer_row;

#endif

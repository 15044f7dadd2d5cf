/* config.h: YAML experiment configs (DESIGN section 6) -> an expanded list of points.
 *
 * Parsing goes through libfyaml. Every YAML list under `workload` and `quant` is an
 * axis; the points are the Cartesian product of the axes, except that the axes of a
 * `zip` group advance together. Points that make no sense are normalised and then
 * de-duplicated ("skipped once, not run"): a float scheme (fp32/fp16/bf16) ignores
 * granularity, block, threshold and outlier_weights; int8 schemes ignore block unless a
 * granularity is "block", and outlier_weights unless threshold > 0. The preset scheme
 * `llm_int8` expands to absmax, x row, w channel, threshold 6 (outlier_weights kept).
 *
 * Every error names file:line:column, the key and the value, with "did you mean" for
 * near-miss keys and names, and the parser returns 2 (usage/input error).
 */
#ifndef QLAB_CONFIG_H
#define QLAB_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include "point.h"
#include "backend.h"

typedef struct {
    char *name;               /* `name:` (required; [A-Za-z0-9_.-]+, used in output file names) */
    char *description;        /* may be "" */
    char *source;             /* the file name as given (or "<string>") */
    char *text;               /* the config as run: the YAML document after --set overrides, emitted */
    char backend[QLAB_NAME_LEN];   /* "auto" | "cpu" | "cuda" */
    uint64_t seed;
    int measure_error, measure_latency, measure_memory;
    qlab_timing_opts timing;

    qlab_point *points;       /* expanded, normalised, de-duplicated; points[i].id == i */
    int64_t n_points;
    int64_t n_skipped;        /* product points dropped as repeats after normalisation */
    char skip_summary[512];   /* one line saying why they were dropped ("" if none) */
} qlab_experiment;

/* Loads and expands the config at `path`. `sets` are --set overrides "a.b=value"
 * (value in YAML flow syntax: 4096, [1, 2], normal), applied before validation.
 * Returns 0, or 2 with a message in err ("file:line:col: key 'quant.scheme': unknown
 * scheme 'absmx' (did you mean 'absmax'?)"). On error *exp is left freed. */
int qlab_experiment_load(const char *path, const char *const *sets, int n_sets,
                         qlab_experiment *exp, char *err, size_t err_len);

/* The same from YAML text in memory (resume reads the config stored in a results
 * file); `source` names it in messages. */
int qlab_experiment_load_string(const char *text, const char *source,
                                const char *const *sets, int n_sets,
                                qlab_experiment *exp, char *err, size_t err_len);

void qlab_experiment_free(qlab_experiment *exp);

/* One line describing a point's axis values, for --dry-run and progress. */
void qlab_point_describe(const qlab_point *p, char *buf, size_t len);

/* 1 if two points have the same axis values (id ignored): how results are matched. */
int qlab_point_same(const qlab_point *a, const qlab_point *b);

/* Levenshtein distance, for "did you mean". */
int qlab_edit_distance(const char *a, const char *b);

#endif

/* compare.h: `qlab compare BASE NEW`, regression tracking of error, speed and memory.
 *
 * Two results files of one experiment are matched point by point on their axis
 * values (every member of qlab_point except id and seed), and each matched point is
 * judged metric by metric:
 *   - error metrics (rel_err, sqnr_db, max_abs_err, mean_abs_err, cosine, x_rel_err,
 *     w_rel_err, outlier_cols): SAME within |new - base| <= atol + rtol * |base|,
 *     otherwise BETTER or WORSE by the metric's direction (outlier_cols has none: any
 *     change is WORSE, the decomposition no longer does what it did);
 *   - memory (w_bytes and its parts, x_bytes): exact, more bytes is WORSE;
 *   - time (the "total" stage samples of /samples): WORSE or BETTER only when the
 *     median moved by more than time_threshold AND a two-sided Mann-Whitney U test
 *     on the two sample sets gives p < p_value; UNCERTAIN when the median moved that
 *     far but the test is not significant; SAME otherwise. Points without samples
 *     are not timed.
 * A point ok in BASE and failed in NEW is WORSE; points found in one file only are
 * listed and counted but are no regression by themselves.
 *
 * Exit status convention (DESIGN section 9): 0 nothing WORSE, 1 something WORSE,
 * 2 unusable input (unreadable file, missing table, files of different experiments,
 * a file whose status is still "running").
 */
#ifndef QLAB_COMPARE_H
#define QLAB_COMPARE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "store/results.h"

#define QLAB_COMPARE_MAX_METRICS 16

typedef enum {
    QLAB_VERDICT_SAME = 0,
    QLAB_VERDICT_BETTER,
    QLAB_VERDICT_UNCERTAIN,
    QLAB_VERDICT_WORSE
} qlab_verdict;

typedef struct {
    /* Per metric (index from qlab_compare_metric_index). A tolerance whose *_set flag
     * is 0 takes the default: 0 for cpu files (exact reproducibility), the cuda
     * defaults (see compare.c) when either file ran on the cuda backend. */
    double rtol[QLAB_COMPARE_MAX_METRICS], atol[QLAB_COMPARE_MAX_METRICS];
    unsigned char rtol_set[QLAB_COMPARE_MAX_METRICS], atol_set[QLAB_COMPARE_MAX_METRICS];
    double time_threshold;    /* smallest change of the median time that counts, as a factor
                                 - 1 (default 0.25: 1.25x slower or faster) */
    double p_value;           /* significance level of the rank test (default 0.01) */
    double busy_threshold;    /* a point whose cpu_other exceeds this in either run gets no
                                 WORSE/BETTER timing verdict (default 0.25) */
    int markdown;             /* 1: the table and summary as GitHub markdown */
    /* A/B (qlab_compare_set_ab): base points with ab_axis = ab_base against new points
     * with ab_axis = ab_new, paired on every other axis; ab_axis "" when off. */
    char ab_axis[64], ab_base[QLAB_PATH_LEN], ab_new[QLAB_PATH_LEN];
} qlab_compare_opts;

typedef struct {
    int64_t matched;          /* points found in both files */
    int64_t worse;            /* matched points with a WORSE metric */
    int64_t better;           /* ... with a BETTER metric and none WORSE */
    int64_t uncertain;        /* ... with an UNCERTAIN timing and none WORSE or BETTER */
    int64_t only_base, only_new;
    int64_t timed;            /* matched points whose timings were compared */
    int64_t busy;             /* timed points measured on a busy machine (busy_threshold) */
} qlab_compare_summary;

/* Defaults: no explicit tolerances, time_threshold 0.05, p_value 0.01, plain text. */
void qlab_compare_opts_init(qlab_compare_opts *o);

/* Index of a compared metric by name ("rel_err", ..., "w_bytes", "x_bytes"), or -1. */
int qlab_compare_metric_index(const char *name);

/* Sets one tolerance from "metric=value" (as --rtol/--atol give it); which is "rtol"
 * or "atol". Returns 0, or 2 with a message (unknown metric, value not a finite
 * number >= 0). */
int qlab_compare_set_tol(qlab_compare_opts *o, const char *which, const char *assignment,
                         char *err, size_t err_len);

/* Reads a tolerance file (YAML): `rtol: {metric: x, ...}`, `atol: {...}`,
 * `time_threshold: x`, `p_value: x`; every key optional. Values override o's.
 * Returns 0, or 2 with a message naming the file and the offending key. */
int qlab_compare_load_tol(qlab_compare_opts *o, const char *path, char *err, size_t err_len);

/* Sets the A/B comparison from "AXIS=BASE_VALUE,NEW_VALUE" (as --ab gives it).
 * Returns 0, or 2 with a message: malformed, AXIS not an axis of /points, or a scheme
 * preset (it spans several axes). */
int qlab_compare_set_ab(qlab_compare_opts *o, const char *spec, char *err, size_t err_len);

/* Compares two results already read. Writes the table of what changed and the
 * summary line to out; fills *sum (may be NULL). Returns 0 (nothing WORSE), 1
 * (something WORSE) or 2 with a message in err (nothing written to out then). */
int qlab_compare_data(const qlab_results_data *base, const qlab_results_data *new_,
                      const char *base_name, const char *new_name, const qlab_compare_opts *o,
                      FILE *out, qlab_compare_summary *sum, char *err, size_t err_len);

/* The same from two file paths. */
int qlab_compare_files(const char *base_path, const char *new_path, const qlab_compare_opts *o,
                       FILE *out, qlab_compare_summary *sum, char *err, size_t err_len);

/* Two-sided p-value of the Mann-Whitney U test of samples a and b (normal
 * approximation with tie correction and continuity correction). 1 when either set
 * is empty or every value is tied. */
double qlab_mann_whitney_p(const double *a, int64_t na, const double *b, int64_t nb);

/* The `qlab compare` command: argv holds the arguments after "compare". Report on
 * out, messages on errf. Returns the exit status. */
int qlab_compare_main(int argc, char **argv, FILE *out, FILE *errf);

#endif

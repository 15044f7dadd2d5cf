/* history.h: `qlab history FILE... --metric M [--point KEY=VALUE]... [-o DIR]`.
 *
 * One metric of one point followed across many runs (results files of one
 * experiment, typically the baseline run of every commit): a TSV with one row per
 * run (commit, date, device, value, noise, step, file), ordered by start time, and a
 * gnuplot figure (plots/history.gp) of the metric over the runs with step changes
 * marked. Where compare judges two runs, history shows the trend and where it moved.
 */
#ifndef QLAB_HISTORY_H
#define QLAB_HISTORY_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef struct {
    const char *metric;                 /* a numeric /points column that is not an axis */
    const char *const *filters;         /* "KEY=VALUE" on /points axis columns */
    int n_filters;
    const char *out_dir;                /* TSV and figures; NULL: plots/out */
} qlab_history_opts;

/* Marks step changes: step[0] = 0; step[i] = 1 when |v[i] - v[i-1]| is larger than
 * three times the largest noise of the runs around it (runs i-2 .. i+1). With zero
 * noise (error and memory metrics, which are exact) any change is a step. NaN
 * values never make a step. */
void qlab_history_steps(const double *v, const double *noise, int64_t n, int *step);

/* Reads the files, picks in each the one ok point that every filter matches, writes
 * DIR/history-<metric>.tsv (and the same TSV on out when out is not NULL) and draws
 * DIR/history-<metric>.png and .pdf. Files without a matching point are named on
 * log and left out. Returns 0, or 2 with a message in err (unreadable file, unknown
 * metric or filter key, several points match in one file, no file has the point,
 * gnuplot missing or failing: the TSV is still written then). */
int qlab_history(const char *const *files, int n_files, const qlab_history_opts *o, FILE *out, FILE *log,
                 char *err, size_t err_len);

/* The `qlab history` command (argv: the arguments after "history"). Returns the
 * exit status. */
int qlab_history_main(int argc, char **argv, FILE *out, FILE *errf);

#endif

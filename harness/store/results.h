/* results.h: the HDF5 results file (DESIGN section 7), one per run.
 *
 * Root attributes (strings unless said): format = "qlab-results", format_version
 * (int), experiment, config, qlab_version, git_commit, host, backend, device...,
 * started_utc, finished_utc, status (running | complete | interrupted), points_total
 * (int). Tables: /points (qlab_row), /layers (qlab_layer_row), /samples (qlab_sample),
 * each a chunked, extendable 1-D dataset of a compound type whose members mirror the
 * C structs (nested structs flattened: p.m -> "m", x.std -> "x_std", t.median_us ->
 * "median_us").
 *
 * Crash safety: every append is durable before the call returns, and a process killed
 * at any moment (SIGKILL included, during an append too) leaves a file that h5dump
 * and this reader open, holding every row whose append had returned. How: the writer
 * keeps the tables in memory and every change writes a complete new file to
 * FILE.tmp-PID in the same directory, fsyncs it and rename()s it over FILE (see
 * results.c for the reasoning and the cost).
 */
#ifndef QLAB_RESULTS_H
#define QLAB_RESULTS_H

#include <stddef.h>
#include <stdio.h>
#include <stdint.h>
#include "core/error.h"
#include "core/point.h"

#define QLAB_RESULTS_FORMAT "qlab-results"
#define QLAB_RESULTS_FORMAT_VERSION 1

typedef struct qlab_results qlab_results;   /* an open file being written */

/* Creates `path` (never overwrites: an existing file is an error) with the root
 * attributes format, format_version, status = "running" and started_utc.
 * Returns 0, or 2 with a message in err (unwritable directory, file exists, ...);
 * errno is EEXIST when the refusal is because the file exists. */
int qlab_results_create(const char *path, qlab_results **out, char *err, size_t err_len);

/* Opens an existing results file for --resume (status must not be "complete").
 * Returns 0, or 2 with a message. */
int qlab_results_open_append(const char *path, qlab_results **out, char *err, size_t err_len);

/* Root attributes. Setting an existing key replaces it. Return 0 or 2 (message in err). */
int qlab_results_set_attr(qlab_results *r, const char *key, const char *value, char *err, size_t err_len);
int qlab_results_set_attr_int(qlab_results *r, const char *key, int64_t value, char *err, size_t err_len);

/* Appends rows; each call is durable when it returns. Return 0 or 2 (message in err). */
int qlab_results_append_point(qlab_results *r, const qlab_row *row, char *err, size_t err_len);
int qlab_results_append_samples(qlab_results *r, const qlab_sample *s, int64_t n, char *err, size_t err_len);
int qlab_results_append_layers(qlab_results *r, const qlab_layer_row *l, int64_t n, char *err, size_t err_len);

/* Appends one point together with its samples and layers in a single durable write,
 * so a kill never leaves the samples of a point without the point (resume then runs
 * the point again without duplicating them). n_samples / n_layers may be 0. Return 0
 * or 2 (message in err). */
int qlab_results_append_batch(qlab_results *r, const qlab_row *row,
                              const qlab_sample *s, int64_t n_samples,
                              const qlab_layer_row *l, int64_t n_layers,
                              char *err, size_t err_len);

/* Appends n point rows in one durable write (merge). Return 0 or 2 (message in err). */
int qlab_results_append_rows(qlab_results *r, const qlab_row *rows, int64_t n, char *err, size_t err_len);

/* Sets status ("complete" | "interrupted") and finished_utc, and closes. r is freed
 * whatever the result. */
int qlab_results_close(qlab_results *r, const char *status, char *err, size_t err_len);

/* ---------------------------------------------------------------------------- */
/* Reading (show, export, plot, compare, merge, resume)                        */

typedef struct {
    char *key, *value;        /* integer attributes are given in decimal */
} qlab_attr;

typedef struct {
    qlab_attr *attrs; int64_t n_attrs;
    qlab_row *points; int64_t n_points;
    qlab_layer_row *layers; int64_t n_layers;
    qlab_sample *samples; int64_t n_samples;
} qlab_results_data;

/* Reads a whole results file. Returns 0, or 2 with a message naming the file and
 * what is wrong (not HDF5, not a qlab results file, unknown format_version, a table
 * missing or of the wrong type). */
int qlab_results_read(const char *path, qlab_results_data *out, char *err, size_t err_len);
void qlab_results_data_free(qlab_results_data *d);
/* Value of a root attribute, or NULL. */
const char *qlab_results_attr(const qlab_results_data *d, const char *key);

/* Writes a table as TSV or CSV with a header line (member names as in the file).
 * table: "points" | "layers" | "samples"; format: "tsv" | "csv". Returns 0 or 2. */
int qlab_results_export(const qlab_results_data *d, const char *table, const char *format,
                        FILE *out, char *err, size_t err_len);

/* ---------------------------------------------------------------------------- */
/* Columns: the one definition of each table's members, used for the HDF5 compound
 * types (file and memory) and for export.                                       */

typedef enum {
    QLAB_COL_I64 = 0,
    QLAB_COL_I32,
    QLAB_COL_U64,
    QLAB_COL_F64,
    QLAB_COL_STR,       /* char[size], NUL-terminated */
    QLAB_COL_STATUS     /* int32 qlab_status, stored as an HDF5 enum ok | failed | skipped */
} qlab_col_kind;

typedef struct {
    const char *name;   /* member name in the file and header name in exports */
    size_t offset;      /* offsetof in the C struct */
    qlab_col_kind kind;
    size_t size;        /* bytes in the C struct (string: array size) */
} qlab_column;

/* Columns of "points" (qlab_row), "layers" (qlab_layer_row) or "samples"
 * (qlab_sample): sets *n and *row_size (sizeof the struct). NULL for another name. */
const qlab_column *qlab_results_columns(const char *table, size_t *n, size_t *row_size);

/* The column `name` of table (as qlab_results_columns), or NULL when there is none. */
const qlab_column *qlab_results_column(const char *table, const char *name);

/* "ok" | "failed" | "skipped" ("?" for another value). */
const char *qlab_status_name(int32_t status);


#endif

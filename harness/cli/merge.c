/* merge.c: joins the shard files of one sweep (`qlab run --shard I/N`) into one file.
 *
 * Shards must come from the same experiment, the same config text and the same build
 * (git commit), and by default the same device: mixing them would put numbers that
 * are not comparable into one table. Every point of the sweep (re-expanded from the
 * stored config) must be present exactly once. The merged file carries the first
 * shard's root attributes (less `shard`), the earliest start time, and the union of
 * the rows with points in id order.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sweep/config.h"
#include "cli/merge.h"
#include "store/results.h"

/* Root attributes that must agree between shards, and those that may differ. */
static const char *must_agree[] = { "format", "experiment", "config", "git_commit", "backend" };
static const char *not_copied[] = { "format", "format_version", "status", "started_utc",
                                    "finished_utc", "shard", "points_total" };

static int str_eq_null(const char *a, const char *b)
{
    return (a == NULL && b == NULL) || (a && b && strcmp(a, b) == 0);
}

static int cmp_row_id(const void *a, const void *b)
{
    int64_t x = ((const qlab_row *)a)->p.id, y = ((const qlab_row *)b)->p.id;
    return (x > y) - (x < y);
}

int qlab_merge(const char *const *inputs, int n_inputs, const char *output,
               int allow_mixed_devices, int allow_missing)
{
    char err[1024];
    int rc = 2;
    qlab_results_data *d = calloc((size_t)n_inputs, sizeof *d);
    qlab_experiment e;
    int have_e = 0;
    int64_t *owner = NULL;
    qlab_results *r = NULL;
    if (!d) {
        fprintf(stderr, "qlab merge: out of memory\n");
        return 2;
    }
    for (int i = 0; i < n_inputs; i++) {
        if (qlab_results_read(inputs[i], &d[i], err, sizeof err)) {
            fprintf(stderr, "qlab merge: %s\n", err);
            goto done;
        }
    }
    for (int i = 1; i < n_inputs; i++) {
        for (size_t a = 0; a < sizeof must_agree / sizeof *must_agree; a++) {
            const char *k = must_agree[a];
            if (!str_eq_null(qlab_results_attr(&d[0], k), qlab_results_attr(&d[i], k))) {
                fprintf(stderr, "qlab merge: %s and %s differ in '%s'%s; refusing to merge them\n",
                        inputs[0], inputs[i], k,
                        strcmp(k, "git_commit") == 0 ? " (different builds)" : "");
                goto done;
            }
        }
        if (!allow_mixed_devices &&
            !str_eq_null(qlab_results_attr(&d[0], "device"), qlab_results_attr(&d[i], "device"))) {
            fprintf(stderr, "qlab merge: %s ran on '%s' and %s on '%s'; pass --allow-mixed-devices "
                    "to merge them anyway\n", inputs[0], qlab_results_attr(&d[0], "device"),
                    inputs[i], qlab_results_attr(&d[i], "device"));
            goto done;
        }
    }
    const char *text = qlab_results_attr(&d[0], "config");
    if (!text) {
        fprintf(stderr, "qlab merge: %s has no 'config' attribute\n", inputs[0]);
        goto done;
    }
    if (qlab_experiment_load_string(text, inputs[0], NULL, 0, &e, err, sizeof err)) {
        fprintf(stderr, "qlab merge: %s\n", err);
        goto done;
    }
    have_e = 1;

    /* Every point exactly once. owner[id] = 1 + index of the file holding it. */
    owner = calloc((size_t)e.n_points + 1, sizeof *owner);
    if (!owner) {
        fprintf(stderr, "qlab merge: out of memory\n");
        goto done;
    }
    int64_t n_rows = 0;
    for (int i = 0; i < n_inputs; i++) {
        for (int64_t j = 0; j < d[i].n_points; j++) {
            const qlab_row *row = &d[i].points[j];
            int64_t id = row->p.id;
            if (id < 0 || id >= e.n_points || !qlab_point_same(&row->p, &e.points[id])) {
                fprintf(stderr, "qlab merge: %s: point %lld does not belong to this sweep\n",
                        inputs[i], (long long)id);
                goto done;
            }
            if (owner[id]) {
                fprintf(stderr, "qlab merge: point %lld is in both %s and %s\n", (long long)id,
                        inputs[owner[id] - 1], inputs[i]);
                goto done;
            }
            owner[id] = i + 1;
            n_rows++;
        }
    }
    if (n_rows < e.n_points) {
        char list[512] = "";
        size_t len = 0;
        int64_t shown = 0;
        for (int64_t id = 0; id < e.n_points; id++) {
            if (owner[id]) continue;
            if (shown++ < 20)
                len += (size_t)snprintf(list + len, len < sizeof list ? sizeof list - len : 0, "%s%lld",
                                        shown > 1 ? ", " : "", (long long)id);
        }
        fprintf(stderr, "qlab merge: %lld of %lld points missing (ids %s%s)%s\n",
                (long long)(e.n_points - n_rows), (long long)e.n_points, list,
                shown > 20 ? ", ..." : "",
                allow_missing ? "; merging what there is" : "; run or resume the missing shards, "
                                                           "or pass --allow-missing");
        if (!allow_missing)
            goto done;
    }

    /* Rows in id order. */
    qlab_row *rows = malloc((size_t)(n_rows ? n_rows : 1) * sizeof *rows);
    if (!rows) {
        fprintf(stderr, "qlab merge: out of memory\n");
        goto done;
    }
    int64_t c = 0;
    for (int i = 0; i < n_inputs; i++)
        for (int64_t j = 0; j < d[i].n_points; j++)
            rows[c++] = d[i].points[j];
    qsort(rows, (size_t)n_rows, sizeof *rows, cmp_row_id);

    if (qlab_results_create(output, &r, err, sizeof err)) {
        fprintf(stderr, "qlab merge: %s\n", err);
        free(rows);
        goto done;
    }
    const char *earliest = NULL;
    for (int i = 0; i < n_inputs; i++) {
        const char *s = qlab_results_attr(&d[i], "started_utc");
        if (s && (!earliest || strcmp(s, earliest) < 0))
            earliest = s;
    }
    int bad = 0;
    for (int64_t a = 0; a < d[0].n_attrs && !bad; a++) {
        int skip = 0;
        for (size_t k = 0; k < sizeof not_copied / sizeof *not_copied; k++)
            skip |= strcmp(d[0].attrs[a].key, not_copied[k]) == 0;
        if (!skip)
            bad = qlab_results_set_attr(r, d[0].attrs[a].key, d[0].attrs[a].value, err, sizeof err);
    }
    if (!bad && earliest)
        bad = qlab_results_set_attr(r, "started_utc", earliest, err, sizeof err);
    if (!bad)
        bad = qlab_results_set_attr_int(r, "points_total", e.n_points, err, sizeof err);
    if (!bad) {
        char merged[64];
        snprintf(merged, sizeof merged, "%d", n_inputs);
        bad = qlab_results_set_attr(r, "merged_from", merged, err, sizeof err);
    }
    for (int i = 0; i < n_inputs && !bad; i++)
        bad = qlab_results_append_batch(r, NULL, d[i].samples, d[i].n_samples, d[i].layers,
                                        d[i].n_layers, err, sizeof err);
    if (!bad)
        bad = qlab_results_append_rows(r, rows, n_rows, err, sizeof err);
    free(rows);
    if (bad) {
        fprintf(stderr, "qlab merge: %s\n", err);
        qlab_results_close(r, "interrupted", err, sizeof err);
        r = NULL;
        goto done;
    }
    if (qlab_results_close(r, n_rows == e.n_points ? "complete" : "interrupted", err, sizeof err)) {
        r = NULL;
        fprintf(stderr, "qlab merge: %s\n", err);
        goto done;
    }
    r = NULL;
    printf("merged %d files, %lld points into %s\n", n_inputs, (long long)n_rows, output);
    rc = 0;
done:
    free(owner);
    if (have_e)
        qlab_experiment_free(&e);
    for (int i = 0; i < n_inputs; i++)
        qlab_results_data_free(&d[i]);
    free(d);
    return rc;
}

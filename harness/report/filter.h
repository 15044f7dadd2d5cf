/* filter.h: point filters of the command line (`history --point`, `compare --ab`).
 *
 * A filter is KEY=VALUE over the axis columns of /points (every member of qlab_point
 * but id). A scheme preset stands for the settings it expands to, as the sweep
 * expands it (config.c): scheme=llm_int8 matches the points with scheme absmax,
 * x_granularity row, w_granularity channel and threshold 6, which is how they are
 * stored.
 */
#ifndef QLAB_FILTER_H
#define QLAB_FILTER_H

#include <stddef.h>
#include "store/results.h"

#define QLAB_FILTER_MAX 32

typedef struct {
    const qlab_column *col[QLAB_FILTER_MAX];
    char value[QLAB_FILTER_MAX][QLAB_PATH_LEN];
    int n;
} qlab_filter;

/* The settings a scheme preset stands for, as a NULL-terminated list of KEY=VALUE
 * axis assignments; NULL when name is not a preset. LLM.int8() (Dettmers et al.
 * 2022, section 3): vector-wise absmax int8 with the fp16 decomposition at 6. */
const char *const *qlab_preset_axes(const char *name);

/* The axis column named `name` of /points, or NULL. */
const qlab_column *qlab_axis_column(const char *name);

/* Adds the condition KEY=VALUE (a preset expanded into its conditions) to f.
 * `what` names the option in messages ("--point"). Returns 0, or 2 with a message:
 * no '=', a key that is not an axis (the axes are listed), too many conditions. */
int qlab_filter_add(qlab_filter *f, const char *assignment, const char *what, char *err, size_t err_len);

/* 1 when row r meets every condition of f (strings exactly, numbers by value). */
int qlab_filter_matches(const qlab_filter *f, const qlab_row *r);

#endif

/* figspec.h: figures declared in an experiment config (`plots:`), drawn by `qlab plot`.
 *
 *   plots:
 *     - name: err_vs_k              # file name (PNG and PDF): [A-Za-z0-9_.-]+
 *       x: k                        # an axis of /points with numeric values
 *       y: rel_err                  # a numeric /points column that is not an axis
 *       series: [scheme, threshold] # axes whose values name the lines (default: scheme)
 *       filter: {x_granularity: row, threshold: 6}   # axis = value, presets allowed
 *       logx: true                  # default false
 *       logy: true                  # default true when y is an error, else false
 *       title: Error against k      # default "<y> vs <x>"
 *
 * Every other axis that varies among the points a figure selects is never averaged:
 * the figure is drawn once per value combination (a file per combination, named after
 * the values); points that differ only in their seed (`repeat:`) are draws, drawn as
 * their mean with a 95 % interval.
 */
#ifndef QLAB_FIGSPEC_H
#define QLAB_FIGSPEC_H

#include <stddef.h>
#include "core/point.h"

#define QLAB_FIG_MAX_SERIES 4
#define QLAB_FIG_MAX_FILTER 8

typedef struct {
    char name[64];
    char x[64], y[64];
    char series[QLAB_FIG_MAX_SERIES][64];
    int n_series;
    char filter[QLAB_FIG_MAX_FILTER][QLAB_PATH_LEN + 72];   /* "axis=value" */
    int n_filter;
    int logx, logy;
    char title[160];
} qlab_figure_spec;

/* The `plots:` of a config given as YAML text (a results file's `config` attribute):
 * *specs (caller frees) and *n; none: NULL and 0. `source` names the text in
 * messages. Returns 0, or 2 with a message naming source:line:col and the key. */
int qlab_figures_from_text(const char *text, const char *source, qlab_figure_spec **specs, int *n, char *err,
                           size_t err_len);

#endif

/* plot.h: `qlab plot`, results file -> paper-style figures (PNG, and PDF at two- and one-column width).
 *
 * The C side reads a results file (results.h), decides per figure kind whether the
 * data supports it, writes small per-figure TSVs (one file per series, already
 * grouped, filtered and reduced to medians) into a temporary directory, and runs one
 * gnuplot script per figure kind from plots/ (plots/style.gp holds the shared look).
 * Figures the data does not support are skipped with a one-line reason; so are those
 * whose values a log axis cannot show (all 0, NaN or inf), and values it cannot show
 * among others are left out with a note in the figure's subtitle.
 *
 * Scripts are looked up in $QLAB_PLOTS, then <dir of the executable>/../share/qlab/plots and /../plots,
 * then ./plots. gnuplot is taken from $QLAB_GNUPLOT or from PATH.
 */
#ifndef QLAB_PLOT_H
#define QLAB_PLOT_H

#include <stddef.h>
#include <stdio.h>
#include "store/results.h"

/* Draws every figure the results file at `results_path` supports into `out_dir`
 * (created if missing; NULL means "plots/out") as <figure>.png and <figure>.pdf;
 * `only` (comma-separated figure names, built-in or declared under `plots:`; NULL or
 * "" for all) restricts the figures considered, and a name that is neither is an
 * error (2) before anything is drawn.
 * Writes one line per file written, one per figure skipped (with the reason), one per
 * figure failed (with gnuplot's reason) and notes on values left out (0 on a log
 * axis, NaN, inf) to `log` (may be NULL). Each figure succeeds or fails on its own: a
 * failed one leaves neither of its files (never an empty or partial one) and the
 * others are still drawn. Returns 0 when every figure the data support was drawn
 * (also when every figure was skipped); 2 with a message in err when one or more
 * failed (each named with gnuplot's reason, the start and end kept where err is too
 * short), or before any figure: unreadable results file, gnuplot or the scripts not
 * found, an unwritable out_dir. */
int qlab_plot(const char *results_path, const char *out_dir, const char *only, FILE *log, char *err,
              size_t err_len);

/* The same from results already in memory (d is only read). `source` names the data
 * in messages. */
int qlab_plot_data(const qlab_results_data *d, const char *source, const char *out_dir,
                   const char *only, FILE *log, char *err, size_t err_len);

#endif

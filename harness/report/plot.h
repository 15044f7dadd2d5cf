/* plot.h: `qlab plot`, results file -> paper-style figures (PNG and PDF).
 *
 * The C side reads a results file (results.h), decides per figure kind whether the
 * data supports it, writes small per-figure TSVs (one file per series, already
 * grouped, filtered and reduced to medians) into a temporary directory, and runs one
 * gnuplot script per figure kind from plots/ (plots/style.gp holds the shared look).
 * Figures the data does not support are skipped with a one-line reason.
 *
 * Scripts are looked up in $QLAB_PLOTS_DIR, then <dir of the executable>/../plots,
 * then ./plots. gnuplot is taken from $QLAB_GNUPLOT or from PATH.
 */
#ifndef QLAB_PLOT_H
#define QLAB_PLOT_H

#include <stddef.h>
#include <stdio.h>
#include "store/results.h"

/* Draws every figure the results file at `results_path` supports into `out_dir`
 * (created if missing; NULL means "plots/out") as <figure>.png and <figure>.pdf.
 * Writes one line per file written and one per figure skipped (with the reason) to
 * `log` (may be NULL). Returns 0 (also when every figure was skipped), or 2 with a
 * message in err: unreadable results file, gnuplot or the scripts not found, gnuplot
 * failing or writing an empty file, an unwritable out_dir. */
int qlab_plot(const char *results_path, const char *out_dir, FILE *log, char *err, size_t err_len);

/* The same from results already in memory (d is only read). `source` names the data
 * in messages. */
int qlab_plot_data(const qlab_results_data *d, const char *source, const char *out_dir,
                   FILE *log, char *err, size_t err_len);

#endif

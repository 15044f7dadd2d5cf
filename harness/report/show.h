/* show.h: `qlab show FILE`, a results file as a table for the terminal.
 *
 * Reads nothing itself: main.c reads the file with qlab_results_read and hands the
 * data here, so tests can show data built in memory.
 */
#ifndef QLAB_SHOW_H
#define QLAB_SHOW_H

#include <stdio.h>
#include "store/results.h"

/* Prints header lines (experiment, backend, device, status, points ok / failed /
 * skipped) and one aligned row per point, grouped by shape (m x k x n, layer) and
 * then by scheme, in the order each first appears in the file. Values not measured
 * print as '-'. Returns 0, or 2 on a write error or out of memory. */
int qlab_show(const qlab_results_data *d, FILE *out);

#endif

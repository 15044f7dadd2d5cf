/* stats.h: the summary statistics of repeated draws (show, plot, compare). */
#ifndef QLAB_STATS_H
#define QLAB_STATS_H

#include <stdint.h>

/* Mean of v[0..n) and the half-width of its 95 % confidence interval from Student's t
 * with n - 1 degrees of freedom (t quantiles from the standard table, e.g. NIST/SEMATECH
 * e-Handbook of Statistical Methods, 1.3.6.7.2; 1.96 beyond 120). *half is 0 for n = 1
 * and NaN-free; non-finite values give NaN. n >= 1. */
void qlab_mean_ci95(const double *v, int64_t n, double *mean, double *half);

#endif

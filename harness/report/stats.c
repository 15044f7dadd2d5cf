/* stats.c: the mean and 95 % interval of repeated draws (see stats.h). */
#include "report/stats.h"

#include <math.h>

/* t_{0.975, df} for df = 1..30, then selected larger df. */
static double t975(int64_t df)
{
    static const double t[31] = {0,      12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
                                 2.201, 2.179,  2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080,
                                 2.074, 2.069,  2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042};
    if (df <= 30)
        return t[df];
    if (df <= 40)
        return 2.021;
    if (df <= 60)
        return 2.000;
    if (df <= 120)
        return 1.980;
    return 1.960;
}

void qlab_mean_ci95(const double *v, int64_t n, double *mean, double *half)
{
    double s = 0;
    for (int64_t i = 0; i < n; i++)
        s += v[i];
    double m = s / (double)n;
    *mean = m;
    if (n < 2) {
        *half = 0;
        return;
    }
    double ss = 0;
    for (int64_t i = 0; i < n; i++)
        ss += (v[i] - m) * (v[i] - m);
    *half = t975(n - 1) * sqrt(ss / (double)(n - 1)) / sqrt((double)n);
}

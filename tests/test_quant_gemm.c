/* test_quant_gemm.c: the fixed-order float GEMMs (quant/gemm.c).
 *
 * The order is written out again here, one output at a time with scalar arithmetic
 * (eight lanes of products p = l mod 8, added in increasing p, lanes summed as
 * ((0+1)+(2+3))+((4+5)+(6+7))), and the tiled, vectorized, threaded GEMMs must give
 * the same bits for every shape, edge tiles and k < 8 included, at one thread and at
 * several. The float64 product is also held to its rounding bound against a sum in
 * long double.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <omp.h>
#include "../quant/quant.h"
#include "../quant/quant_internal.h"
#include "test_quant_util.h"

static float order_f32(const float *x, const float *w, int64_t k)
{
    float lane[8] = {0};
    for (int64_t p = 0; p < k; p++) {
        float prod = x[p] * w[p];
        lane[p % 8] = lane[p % 8] + prod;
    }
    return ((lane[0] + lane[1]) + (lane[2] + lane[3])) + ((lane[4] + lane[5]) + (lane[6] + lane[7]));
}

static double order_f64(const float *x, const float *w, int64_t k)
{
    double lane[8] = {0};
    for (int64_t p = 0; p < k; p++)
        lane[p % 8] = lane[p % 8] + (double)x[p] * (double)w[p];
    return ((lane[0] + lane[1]) + (lane[2] + lane[3])) + ((lane[4] + lane[5]) + (lane[6] + lane[7]));
}

static float *normal_matrix(int64_t count, uint64_t seed)
{
    float *v = malloc((size_t)count * sizeof *v);
    tq_fill_normal(v, count, seed, 1.0);
    return v;
}

static void check_shape(int64_t m, int64_t k, int64_t n, int threads)
{
    float *x = normal_matrix(m * k, 100 + (uint64_t)m), *w = normal_matrix(n * k, 200 + (uint64_t)n);
    float *y32 = malloc((size_t)(m * n) * sizeof *y32), *acc = malloc((size_t)(m * n) * sizeof *acc);
    double *y64 = malloc((size_t)(m * n) * sizeof *y64);
    for (int64_t i = 0; i < m * n; i++)
        acc[i] = (float)i * 0.25f;
    int saved = omp_get_max_threads();
    omp_set_num_threads(threads);
    quant_gemm_f32(x, k, w, k, m, n, k, y32, n, 0);
    quant_gemm_f32(x, k, w, k, m, n, k, acc, n, 1);
    quant_gemm_f64(x, k, w, k, m, n, k, y64, n);
    omp_set_num_threads(saved);
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < n; j++) {
            float e32 = order_f32(x + i * k, w + j * k, k);
            double e64 = order_f64(x + i * k, w + j * k, k);
            float ea = (float)(i * n + j) * 0.25f + e32;
            cr_assert(memcmp(&y32[i * n + j], &e32, sizeof e32) == 0,
                      "f32 %lldx%lldx%lld threads %d at (%lld,%lld): %.9g != %.9g", (long long)m, (long long)k,
                      (long long)n, threads, (long long)i, (long long)j, y32[i * n + j], e32);
            cr_assert(memcmp(&acc[i * n + j], &ea, sizeof ea) == 0, "f32 accumulate at (%lld,%lld)",
                      (long long)i, (long long)j);
            cr_assert(memcmp(&y64[i * n + j], &e64, sizeof e64) == 0,
                      "f64 %lldx%lldx%lld threads %d at (%lld,%lld): %.17g != %.17g", (long long)m, (long long)k,
                      (long long)n, threads, (long long)i, (long long)j, y64[i * n + j], e64);
        }
    free(x);
    free(w);
    free(y32);
    free(acc);
    free(y64);
}

Test(gemm, tiles_edges_and_threads_give_the_defined_order_bit_for_bit)
{
    /* k: below one lane group, not a multiple of 8, exact multiples; m, n: below a
     * register tile, not multiples of 4 or of the 64-output panel, and large enough
     * (x k) that the threaded path runs. */
    const int64_t shapes[][3] = {{1, 1, 1},    {3, 7, 5},    {4, 8, 4},     {5, 13, 9},
                                 {17, 64, 33}, {70, 129, 67}, {130, 300, 65}, {64, 1000, 40}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (int t = 1; t <= 3; t++)
            check_shape(shapes[s][0], shapes[s][1], shapes[s][2], t);
}

Test(gemm, f64_within_its_rounding_bound)
{
    /* |fl(sum) - sum| <= gamma_{k} * sum|x_p w_p| with gamma_k = k u / (1 - k u),
     * u = 2^-53 (Higham, Accuracy and Stability of Numerical Algorithms, 2nd ed.,
     * eq. 3.5); the products of float32 values are exact in float64. */
    const int64_t m = 9, k = 4099, n = 11;
    float *x = normal_matrix(m * k, 7), *w = normal_matrix(n * k, 8);
    double *y = malloc((size_t)(m * n) * sizeof *y);
    quant_gemm_f64(x, k, w, k, m, n, k, y, n);
    const double u = ldexp(1.0, -53), gamma = (double)k * u / (1 - (double)k * u);
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < n; j++) {
            long double s = 0, sa = 0;
            for (int64_t p = 0; p < k; p++) {
                long double prod = (long double)x[i * k + p] * (long double)w[j * k + p];
                s += prod;
                sa += fabsl(prod);
            }
            cr_assert(fabsl((long double)y[i * n + j] - s) <= gamma * sa, "(%lld,%lld)", (long long)i,
                      (long long)j);
        }
    free(x);
    free(w);
    free(y);
}

/* test_nn.c: the transformer pieces (harness/models/nn.c) at any thread count.
 *
 * Attention, LayerNorm and GELU run on several threads, and attention sums V row by
 * row. Each value must still be exactly what one thread computing it in the plain
 * order gives: the references below are those plain loops, written out here, and the
 * outputs are compared bit for bit at 1 and 4 threads.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "models/nn.h"

static void fill(float *x, int64_t n, int salt)
{
    for (int64_t i = 0; i < n; i++)
        x[i] = (float)(sin(0.61 * (double)i + salt) * (1.0 + 0.3 * (double)(i % 5)));
}

/* softmax(q k^T / sqrt d) v per head: scores in float64, V summed column by column */
static void attention_plain(const float *q, const float *k, const float *v, int64_t len, int64_t H,
                            int64_t heads, float *ctx)
{
    int64_t d = H / heads;
    double scale = 1.0 / sqrt((double)d), *sc = malloc((size_t)len * sizeof *sc);
    for (int64_t h = 0; h < heads; h++)
        for (int64_t i = 0; i < len; i++) {
            double mx = -INFINITY, sum = 0;
            for (int64_t j = 0; j < len; j++) {
                double s = 0;
                for (int64_t t = 0; t < d; t++)
                    s += (double)q[i * H + h * d + t] * k[j * H + h * d + t];
                sc[j] = s * scale;
                mx = sc[j] > mx ? sc[j] : mx;
            }
            for (int64_t j = 0; j < len; j++) {
                sc[j] = exp(sc[j] - mx);
                sum += sc[j];
            }
            for (int64_t t = 0; t < d; t++) {
                double a = 0;
                for (int64_t j = 0; j < len; j++)
                    a += sc[j] * v[j * H + h * d + t];
                ctx[i * H + h * d + t] = (float)(a / sum);
            }
        }
    free(sc);
}

Test(nn, attention_is_the_plain_loops_bit_for_bit_at_any_thread_count)
{
    static const int64_t shapes[][3] = {{37, 96, 3}, {5, 64, 2}, {257, 384, 6}};   /* len, H, heads */
    int saved = omp_get_max_threads();
    for (int s = 0; s < 3; s++) {
        int64_t len = shapes[s][0], H = shapes[s][1], heads = shapes[s][2];
        float *q = malloc(sizeof(float) * len * H), *k = malloc(sizeof(float) * len * H),
              *v = malloc(sizeof(float) * len * H), *want = malloc(sizeof(float) * len * H),
              *got = malloc(sizeof(float) * len * H);
        double *scores = malloc(sizeof(double) * len);
        fill(q, len * H, 1);
        fill(k, len * H, 2);
        fill(v, len * H, 3);
        attention_plain(q, k, v, len, H, heads, want);
        for (int t = 1; t <= 4; t *= 4) {
            omp_set_num_threads(t);
            memset(got, 0xff, sizeof(float) * len * H);
            qlab_nn_attention(q, k, v, len, H, heads, got, scores);
            cr_assert_eq(memcmp(got, want, sizeof(float) * len * H), 0, "len %lld H %lld heads %lld, %d threads",
                         (long long)len, (long long)H, (long long)heads, t);
        }
        free(q); free(k); free(v); free(want); free(got); free(scores);
    }
    omp_set_num_threads(saved);
}

Test(nn, layer_norm_and_gelu_are_the_plain_loops_bit_for_bit_at_any_thread_count)
{
    enum { R = 200, C = 384 };
    float *x = malloc(sizeof(float) * R * C), *want = malloc(sizeof(float) * R * C),
          *got = malloc(sizeof(float) * R * C), g[C], b[C];
    fill(x, R * C, 4);
    fill(g, C, 5);
    fill(b, C, 6);
    memcpy(want, x, sizeof(float) * R * C);
    for (int i = 0; i < R; i++) {
        float *r = want + i * C;
        double mean = 0, var = 0;
        for (int j = 0; j < C; j++) mean += r[j];
        mean /= C;
        for (int j = 0; j < C; j++) var += ((double)r[j] - mean) * ((double)r[j] - mean);
        var /= C;
        double inv = 1.0 / sqrt(var + 1e-6);
        for (int j = 0; j < C; j++) r[j] = (float)(((double)r[j] - mean) * inv * g[j] + b[j]);
    }
    for (int i = 0; i < R * C; i++) {
        double u = want[i];
        want[i] = (float)(0.5 * u * (1.0 + erf(u / sqrt(2.0))));
    }
    int saved = omp_get_max_threads();
    for (int t = 1; t <= 4; t *= 4) {
        omp_set_num_threads(t);
        memcpy(got, x, sizeof(float) * R * C);
        qlab_nn_layer_norm(got, R, C, g, b, 1e-6);
        qlab_nn_gelu_erf(got, R * C);
        cr_assert_eq(memcmp(got, want, sizeof(float) * R * C), 0, "%d threads", t);
    }
    omp_set_num_threads(saved);
    free(x); free(want); free(got);
}

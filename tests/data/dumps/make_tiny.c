/* make_tiny.c: writes tests/data/dumps/tiny.h5, the small layer dump that
 * experiments/dump-example.yaml runs on, through qlab's own dump writer.
 *
 * A three-layer toy MLP (fc1 64 -> 128, gelu, fc2 128 -> 64, head 64 -> 16) run on 32
 * tokens whose hidden state has two outlier feature columns (12x), the way real
 * transformer activations do; every linear's real input is captured as it runs, and
 * stored as float16. Deterministic: the same file on every machine.
 *
 * Rebuild (from the repository root, after `make`):
 *   cc -std=c11 -O2 -Iquant -Iharness $(make -s print-flags | sed -n 's/^CFLAGS=//p') \
 *      tests/data/dumps/make_tiny.c build/cpu-only/libqlab.a build/cpu-only/libquant.a \
 *      $(make -s print-flags | sed -n 's/^LDLIBS=//p') -o /tmp/make_tiny && /tmp/make_tiny
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "store/dump.h"

enum { T = 32, D = 64, H = 128, O = 16 };

static float value(int i, int salt) { return (float)sin(0.61 * (i + 1) * (salt + 1.3) + salt); }

static void linear(const float *x, const float *w, const float *b, int t, int k, int n, float *y)
{
    for (int i = 0; i < t; i++)
        for (int j = 0; j < n; j++) {
            double s = b ? b[j] : 0;
            for (int c = 0; c < k; c++) s += (double)x[i * k + c] * w[j * k + c];
            y[i * n + j] = (float)s;
        }
}

int main(void)
{
    static float x[T * D], w1[H * D], b1[H], h[T * H], w2[D * H], b2[D], y2[T * D], w3[O * D], y3[T * O];
    for (int i = 0; i < T * D; i++) x[i] = value(i, 1);
    for (int i = 0; i < T; i++) { x[i * D + 3] *= 12; x[i * D + 40] *= -12; }
    for (int i = 0; i < H * D; i++) w1[i] = value(i, 2) / 8;
    for (int i = 0; i < H; i++) b1[i] = value(i, 3) / 10;
    for (int i = 0; i < D * H; i++) w2[i] = value(i, 4) / 11;
    for (int i = 0; i < D; i++) b2[i] = value(i, 5) / 10;
    for (int i = 0; i < O * D; i++) w3[i] = value(i, 6) / 8;
    static float hin[T * H];
    linear(x, w1, b1, T, D, H, h);
    for (int i = 0; i < T * H; i++) hin[i] = 0.5f * h[i] * (1.0f + erff(h[i] / sqrtf(2.0f)));
    linear(hin, w2, b2, T, H, D, y2);
    for (int i = 0; i < T * D; i++) y2[i] += x[i];   /* residual keeps the outlier columns */
    linear(y2, w3, NULL, T, D, O, y3);

    char err[512];
    qlab_dump_writer *wr;
    const char *path = "tests/data/dumps/tiny.h5";
    if (qlab_dump_create(path, "toy-mlp", "tests/data/dumps/make_tiny.c", QLAB_DUMP_F16, &wr, err,
                         sizeof err) ||
        qlab_dump_add_layer(wr, "mlp.fc1", w1, H, D, b1, x, T, h, err, sizeof err) ||
        qlab_dump_add_layer(wr, "mlp.fc2", w2, D, H, b2, hin, T, NULL, err, sizeof err) ||
        qlab_dump_add_layer(wr, "head", w3, O, D, NULL, y2, T, y3, err, sizeof err) ||
        qlab_dump_close(wr, err, sizeof err)) {
        fprintf(stderr, "make_tiny: %s\n", err);
        return 2;
    }
    printf("wrote %s\n", path);
    return 0;
}

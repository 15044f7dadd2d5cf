/* make_defects.c: writes the layer dumps with per-layer defects that
 * tests/run_cli_tests.sh runs, through qlab's own dump writer plus direct HDF5 calls
 * for what the writer refuses to produce (an empty input, a missing weight):
 *
 *   tests/data/dumps/moe.h5      a router and three experts of one MoE block (float16,
 *                                outputs stored); expert 1 received no token, so its
 *                                input and output are [0, 64]
 *   tests/data/dumps/broken.h5   two good layers around one layer per defect: NaN in
 *                                the input, a bias of the wrong length, no weight, an
 *                                output of the wrong shape (float32)
 *   tests/data/dumps/conv1d.h5   GPT-2-style Conv1D layers written without transposing
 *                                to qlab's [out, in]: a square [64, 64] one whose stored
 *                                output (X W + b) tells the layout apart, a [64, 128]
 *                                one whose shapes do; and a correct lm_head (float32)
 *
 * Deterministic: the same files on every machine.
 *
 * Rebuild (from the repository root, after `make`):
 *   cc -std=c11 -O2 -Iquant -Iharness $(make -s print-flags | sed -n 's/^CFLAGS=//p') \
 *      tests/data/dumps/make_defects.c build/cpu-only/libqlab.a build/cpu-only/libquant.a \
 *      $(make -s print-flags | sed -n 's/^LDLIBS=//p') -o /tmp/make_defects && /tmp/make_defects
 */
#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "store/dump.h"

enum { D = 64, H = 128, E = 3, T = 16 };

static float value(int i, int salt) { return (float)sin(0.61 * (i + 1) * (salt + 1.3) + salt); }

static void fill(float *v, int count, float scale, int salt)
{
    for (int i = 0; i < count; i++) v[i] = scale * value(i, salt);
}

/* y [t,n] = x [t,k] W^T + b with W [n,k] (transposed = 0) or W stored [k,n] used as
 * x W (transposed = 1), accumulated in double. */
static void linear(const float *x, const float *w, const float *b, int t, int k, int n,
                   int transposed, float *y)
{
    for (int i = 0; i < t; i++)
        for (int j = 0; j < n; j++) {
            double s = b ? b[j] : 0;
            for (int c = 0; c < k; c++)
                s += (double)x[i * k + c] * (transposed ? w[c * n + j] : w[j * k + c]);
            y[i * n + j] = (float)s;
        }
}

static int fail(const char *what, const char *err)
{
    fprintf(stderr, "make_defects: %s: %s\n", what, err);
    return 2;
}

/* Replaces dataset `name` of /layers/<group> in path with a float32 one of shape
 * [d0, d1] (d0 may be 0) holding v, or just deletes it when v is NULL and d1 is 0. */
static int replace_dataset(const char *path, const char *group, const char *name, int d0, int d1,
                           const float *v)
{
    hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    if (f < 0) return -1;
    char gpath[256];
    snprintf(gpath, sizeof gpath, "/layers/%s", group);
    hid_t g = H5Gopen2(f, gpath, H5P_DEFAULT);
    int rc = g < 0 || H5Ldelete(g, name, H5P_DEFAULT) < 0 ? -1 : 0;
    if (!rc && (v || d1)) {
        hsize_t dims[2] = {(hsize_t)d0, (hsize_t)d1};
        hid_t sp = H5Screate_simple(2, dims, NULL);
        hid_t ds = H5Dcreate2(g, name, H5T_IEEE_F32LE, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        if (ds < 0 || (d0 > 0 && H5Dwrite(ds, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) < 0))
            rc = -1;
        if (ds >= 0) H5Dclose(ds);
        H5Sclose(sp);
    }
    if (g >= 0) H5Gclose(g);
    if (H5Fclose(f) < 0) rc = -1;
    return rc;
}

static int make_moe(void)
{
    /* tokens routed to experts 0, 1, 2: 12, 0, 4 (expert 1 is idle on this batch) */
    static const int routed[E] = {12, 0, 4};
    static float x[T * D], wg[E * D], yg[T * E], w[E][D * D], b[E][D], y[T * D];
    fill(x, T * D, 1.0f, 1);
    fill(wg, E * D, 0.125f, 2);
    linear(x, wg, NULL, T, D, E, 0, yg);
    char err[512];
    qlab_dump_writer *wr;
    const char *path = "tests/data/dumps/moe.h5";
    if (qlab_dump_create(path, "toy-moe", "tests/data/dumps/make_defects.c", QLAB_DUMP_F16, &wr, err,
                         sizeof err) ||
        qlab_dump_add_layer(wr, "moe.gate", wg, E, D, NULL, x, T, yg, err, sizeof err))
        return fail(path, err);
    int first = 0;
    for (int e = 0; e < E; e++) {
        char name[64];
        snprintf(name, sizeof name, "moe.experts.%d.w1", e);
        fill(w[e], D * D, 0.125f, 3 + e);
        fill(b[e], D, 0.1f, 6 + e);
        /* the writer needs at least one token: expert 1 is written with one, then emptied */
        int t = routed[e] ? routed[e] : 1;
        linear(x + first * D, w[e], b[e], t, D, D, 0, y);
        if (qlab_dump_add_layer(wr, name, w[e], D, D, b[e], x + first * D, t, y, err, sizeof err))
            return fail(path, err);
        first += routed[e];
    }
    if (qlab_dump_close(wr, err, sizeof err)) return fail(path, err);
    if (replace_dataset(path, "002-moe.experts.1.w1", "input", 0, D, NULL) ||
        replace_dataset(path, "002-moe.experts.1.w1", "output", 0, D, NULL))
        return fail(path, "cannot empty expert 1's input and output");
    printf("wrote %s\n", path);
    return 0;
}

static int make_broken(void)
{
    static float x[T * D], w[D * D], b[D], y[T * D];
    fill(x, T * D, 1.0f, 11);
    fill(w, D * D, 0.125f, 12);
    fill(b, D, 0.1f, 13);
    linear(x, w, b, T, D, D, 0, y);
    char err[512];
    qlab_dump_writer *wr;
    const char *path = "tests/data/dumps/broken.h5";
    static const char *const names[] = {"ok.first", "nan.input", "bias.length", "no.weight",
                                        "output.shape", "ok.last"};
    if (qlab_dump_create(path, "toy-broken", "tests/data/dumps/make_defects.c", QLAB_DUMP_F32, &wr,
                         err, sizeof err))
        return fail(path, err);
    for (int l = 0; l < 6; l++) {
        static float xl[T * D];
        for (int i = 0; i < T * D; i++) xl[i] = x[i];
        if (l == 1) xl[5 * D + 7] = NAN;
        if (qlab_dump_add_layer(wr, names[l], w, D, D, b, xl, T, y, err, sizeof err))
            return fail(path, err);
    }
    if (qlab_dump_close(wr, err, sizeof err)) return fail(path, err);
    /* bias [D-1]: a 1-D dataset, written by hand */
    hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    hid_t g = f < 0 ? -1 : H5Gopen2(f, "/layers/002-bias.length", H5P_DEFAULT);
    int bad = g < 0 || H5Ldelete(g, "bias", H5P_DEFAULT) < 0;
    if (!bad) {
        hsize_t n = D - 1;
        hid_t sp = H5Screate_simple(1, &n, NULL);
        hid_t ds = H5Dcreate2(g, "bias", H5T_IEEE_F32LE, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        bad = ds < 0 || H5Dwrite(ds, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, b) < 0;
        if (ds >= 0) H5Dclose(ds);
        H5Sclose(sp);
    }
    if (g >= 0) H5Gclose(g);
    if (f >= 0) H5Fclose(f);
    if (bad || replace_dataset(path, "003-no.weight", "weight", 0, 0, NULL) ||
        replace_dataset(path, "004-output.shape", "output", T - 1, D, y))
        return fail(path, "cannot damage the layers");
    printf("wrote %s\n", path);
    return 0;
}

static int make_conv1d(void)
{
    /* GPT-2's Conv1D holds its weight as [in, out] and computes x W + b */
    static float x[T * D], wsq[D * D], bsq[D], ysq[T * D], wfc[D * H], bfc[H], yfc[T * H];
    static float whead[H * D], yhead[T * H];
    fill(x, T * D, 1.0f, 21);
    fill(wsq, D * D, 0.125f, 22);
    fill(bsq, D, 0.1f, 23);
    fill(wfc, D * H, 0.125f, 24);
    fill(bfc, H, 0.1f, 25);
    fill(whead, H * D, 0.125f, 26);
    linear(x, wsq, bsq, T, D, D, 1, ysq);
    linear(x, wfc, bfc, T, D, H, 1, yfc);
    linear(x, whead, NULL, T, D, H, 0, yhead);
    char err[512];
    qlab_dump_writer *wr;
    const char *path = "tests/data/dumps/conv1d.h5";
    /* the square weight [in, out] passes the shape checks as [n, k]; the [64, 128] one
     * is written as declared [128, 64] and then replaced by its [in, out] = [64, 128] */
    if (qlab_dump_create(path, "toy-gpt2", "tests/data/dumps/make_defects.c", QLAB_DUMP_F32, &wr,
                         err, sizeof err) ||
        qlab_dump_add_layer(wr, "h.0.attn.c_proj", wsq, D, D, bsq, x, T, ysq, err, sizeof err) ||
        qlab_dump_add_layer(wr, "h.0.mlp.c_fc", wfc, H, D, bfc, x, T, yfc, err, sizeof err) ||
        qlab_dump_add_layer(wr, "lm_head", whead, H, D, NULL, x, T, yhead, err, sizeof err) ||
        qlab_dump_close(wr, err, sizeof err))
        return fail(path, err);
    if (replace_dataset(path, "001-h.0.mlp.c_fc", "weight", D, H, wfc))
        return fail(path, "cannot store c_fc's weight as [in, out]");
    printf("wrote %s\n", path);
    return 0;
}

int main(void)
{
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    return make_moe() || make_broken() || make_conv1d() ? 2 : 0;
}

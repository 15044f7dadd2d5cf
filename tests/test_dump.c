/* test_dump.c: layer dump files (harness/dump.c, DESIGN section 8).
 *
 * Fixtures are made at test time in a fresh temporary directory: well-formed dumps
 * through the writer, malformed ones with the HDF5 C API directly (each breaks one
 * rule). Expected values of the 16-bit formats come from quant/'s conversions, which
 * have their own tests (test_quant_half.c).
 */
#include <criterion/criterion.h>
#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/dump.h"
#include "../quant/quant.h"

static char dir[64];
static char err[1024];

static void make_dir(void)
{
    snprintf(dir, sizeof dir, "/tmp/qlab-test-dump-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
}

static void remove_dir(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    (void)!system(cmd);
}

TestSuite(dump, .init = make_dir, .fini = remove_dir);

static const char *tmp(const char *name)
{
    static char buf[4][160];
    static int next = 0;
    char *b = buf[next++ & 3];
    snprintf(b, 160, "%s/%s", dir, name);
    return b;
}

/* Deterministic values of both signs and varied magnitudes, none exactly
 * representable in fp16 / bf16 for most i, so rounding is exercised. */
static void fill(float *v, int count, float scale, int salt)
{
    for (int i = 0; i < count; i++)
        v[i] = scale * (float)sin(0.7 * (i + 1) + salt) * (1.0f + 0.013f * (float)(i % 7));
}

enum { N = 3, K = 4, T = 2 };

/* A dump of two layers: "fc1" with bias and output, "fc2" with neither. */
static void write_two_layers(const char *path, qlab_dump_dtype dt, float *w, float *x, float *b,
                             float *y)
{
    fill(w, N * K, 0.5f, 1);
    fill(x, T * K, 3.0f, 2);
    fill(b, N, 0.1f, 3);
    fill(y, T * N, 2.0f, 4);
    qlab_dump_writer *wr;
    cr_assert_eq(qlab_dump_create(path, "toy", "test_dump.c", dt, &wr, err, sizeof err), 0, "%s", err);
    cr_assert_eq(qlab_dump_add_layer(wr, "fc1", w, N, K, b, x, T, y, err, sizeof err), 0, "%s", err);
    cr_assert_eq(qlab_dump_add_layer(wr, "fc2", w, K, N, NULL, y, T, NULL, err, sizeof err), 0, "%s", err);
    cr_assert_eq(qlab_dump_close(wr, err, sizeof err), 0, "%s", err);
}

static float as_stored(qlab_dump_dtype dt, float v)
{
    if (dt == QLAB_DUMP_F16) return quant_f16_to_f32(quant_f32_to_f16(v));
    if (dt == QLAB_DUMP_BF16) return quant_bf16_to_f32(quant_f32_to_bf16(v));
    return v;
}

static void assert_values(qlab_dump_dtype dt, const float *got, const float *src, int count,
                          const char *what)
{
    for (int i = 0; i < count; i++)
        cr_assert_eq(got[i], as_stored(dt, src[i]), "%s %s[%d]: %g, expected %g",
                     qlab_dump_dtype_name(dt), what, i, got[i], as_stored(dt, src[i]));
}

/* ---------------------------------------------------------------------------- */
/* Round trips                                                                   */

static void round_trip(qlab_dump_dtype dt)
{
    float w[N * K], x[T * K], b[N], y[T * N];
    const char *path = tmp("rt.h5");
    write_two_layers(path, dt, w, x, b, y);

    qlab_dump_info info;
    cr_assert_eq(qlab_dump_inspect(path, &info, err, sizeof err), 0, "%s", err);
    cr_assert_eq(info.n_layers, 2);
    cr_assert_eq(info.format_version, QLAB_DUMP_FORMAT_VERSION);
    cr_assert_str_eq(info.model, "toy");
    cr_assert_str_eq(info.source, "test_dump.c");
    cr_assert_str_eq(info.layers[0].group, "000-fc1");
    cr_assert_str_eq(info.layers[0].name, "fc1");
    cr_assert_eq(info.layers[0].index, 0);
    cr_assert_eq(info.layers[0].n, N);
    cr_assert_eq(info.layers[0].k, K);
    cr_assert_eq(info.layers[0].tokens, T);
    cr_assert(info.layers[0].has_bias && info.layers[0].has_output);
    cr_assert_str_eq(info.layers[1].group, "001-fc2");
    cr_assert_eq(info.layers[1].index, 1);
    cr_assert_eq(info.layers[1].n, K);
    cr_assert_eq(info.layers[1].k, N);
    cr_assert(!info.layers[1].has_bias && !info.layers[1].has_output);
    qlab_dump_info_free(&info);

    qlab_dump_tensors t;
    cr_assert_eq(qlab_dump_read_layer(path, "000-fc1", &t, err, sizeof err), 0, "%s", err);
    cr_assert_eq(t.n, N);
    cr_assert_eq(t.k, K);
    cr_assert_eq(t.tokens, T);
    assert_values(dt, t.weight, w, N * K, "weight");
    assert_values(dt, t.input, x, T * K, "input");
    cr_assert_not_null(t.bias);
    assert_values(dt, t.bias, b, N, "bias");
    cr_assert_not_null(t.output);
    assert_values(dt, t.output, y, T * N, "output");
    qlab_dump_tensors_free(&t);

    cr_assert_eq(qlab_dump_read_layer(path, "001-fc2", &t, err, sizeof err), 0, "%s", err);
    cr_assert_null(t.bias);
    cr_assert_null(t.output);
    assert_values(dt, t.input, y, T * N, "input");
    qlab_dump_tensors_free(&t);
}

Test(dump, float32_round_trip_is_exact) { round_trip(QLAB_DUMP_F32); }
Test(dump, float16_round_trip_equals_quant_rounding) { round_trip(QLAB_DUMP_F16); }
Test(dump, bfloat16_round_trip_equals_quant_rounding) { round_trip(QLAB_DUMP_BF16); }

Test(dump, bfloat16_is_stored_as_uint16_with_dtype_attribute)
{
    float w[N * K], x[T * K], b[N], y[T * N];
    const char *path = tmp("bf.h5");
    write_two_layers(path, QLAB_DUMP_BF16, w, x, b, y);
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    hid_t ds = H5Dopen2(f, "/layers/000-fc1/weight", H5P_DEFAULT);
    hid_t ty = H5Dget_type(ds);
    cr_assert_eq(H5Tget_class(ty), H5T_INTEGER);
    cr_assert_eq(H5Tget_size(ty), 2);
    cr_assert_eq(H5Tget_sign(ty), H5T_SGN_NONE);
    cr_assert_gt(H5Aexists(ds, "dtype"), 0);
    uint16_t bits[N * K];
    cr_assert_geq(H5Dread(ds, H5T_NATIVE_UINT16, H5S_ALL, H5S_ALL, H5P_DEFAULT, bits), 0);
    for (int i = 0; i < N * K; i++) cr_assert_eq(bits[i], quant_f32_to_bf16(w[i]));
    H5Tclose(ty);
    H5Dclose(ds);
    H5Fclose(f);
}

Test(dump, writer_refuses_a_name_with_a_slash)
{
    float w[N * K] = {0}, x[T * K] = {0};
    qlab_dump_writer *wr;
    cr_assert_eq(qlab_dump_create(tmp("slash.h5"), "", "", QLAB_DUMP_F32, &wr, err, sizeof err), 0);
    cr_assert_eq(qlab_dump_add_layer(wr, "a/b", w, N, K, NULL, x, T, NULL, err, sizeof err), 2);
    cr_assert_not_null(strstr(err, "'a/b'"), "%s", err);
    qlab_dump_close(wr, err, sizeof err);
}

/* ---------------------------------------------------------------------------- */
/* Malformed files                                                               */

/* A file with the root attributes (format NULL: none) and an empty /layers. */
static hid_t make_root(const char *path, const char *format, int64_t version, hid_t *layers)
{
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    cr_assert_geq(f, 0);
    hid_t sp = H5Screate(H5S_SCALAR);
    if (format) {
        hid_t st = H5Tcopy(H5T_C_S1);
        H5Tset_size(st, strlen(format) + 1);
        hid_t a = H5Acreate2(f, "format", st, sp, H5P_DEFAULT, H5P_DEFAULT);
        H5Awrite(a, st, format);
        H5Aclose(a);
        H5Tclose(st);
    }
    hid_t a = H5Acreate2(f, "format_version", H5T_STD_I64LE, sp, H5P_DEFAULT, H5P_DEFAULT);
    H5Awrite(a, H5T_NATIVE_INT64, &version);
    H5Aclose(a);
    H5Sclose(sp);
    *layers = H5Gcreate2(f, "layers", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    return f;
}

/* A float32 dataset of the given shape; data NULL: chunked and never written, so a
 * huge declared shape costs nothing on disk. */
static void add_f32(hid_t g, const char *name, int rank, hsize_t d0, hsize_t d1, const float *data)
{
    hsize_t dims[2] = {d0, d1};
    hid_t sp = H5Screate_simple(rank, dims, NULL);
    hid_t pl = H5Pcreate(H5P_DATASET_CREATE);
    if (!data) {
        hsize_t chunk[2] = {1, rank == 2 ? (d1 < 1024 ? d1 : 1024) : 1};
        if (rank == 1) chunk[0] = d0 < 1024 ? d0 : 1024;
        H5Pset_chunk(pl, rank, chunk);
    }
    hid_t ds = H5Dcreate2(g, name, H5T_IEEE_F32LE, sp, H5P_DEFAULT, pl, H5P_DEFAULT);
    cr_assert_geq(ds, 0);
    if (data) H5Dwrite(ds, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, data);
    H5Dclose(ds);
    H5Pclose(pl);
    H5Sclose(sp);
}

/* One layer group "000-a" holding weight [wn, wk] and input [xt, xk] (0: leave out). */
static void make_layer_file(const char *path, const char *format, int64_t version, int wn, int wk,
                            int xt, int xk)
{
    hid_t lg, f = make_root(path, format, version, &lg);
    hid_t g = H5Gcreate2(lg, "000-a", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    float v[64];
    fill(v, 64, 1.0f, 5);
    if (wn) add_f32(g, "weight", 2, (hsize_t)wn, (hsize_t)wk, v);
    if (xt) add_f32(g, "input", 2, (hsize_t)xt, (hsize_t)xk, v);
    H5Gclose(g);
    H5Gclose(lg);
    H5Fclose(f);
}

/* Both readers must refuse the file with 2 and a message holding every needle. The
 * files below hold one layer, so its defect leaves nothing to run: inspect refuses
 * the whole file (the multi-layer cases are in "One layer's defect" further down). */
static void expect_refused(const char *path, const char *const *needles)
{
    qlab_dump_info info;
    qlab_dump_tensors t;
    int rc = qlab_dump_inspect(path, &info, err, sizeof err);
    cr_assert_eq(rc, 2, "inspect should refuse %s (rc %d)", path, rc);
    cr_assert_null(info.layers);
    for (int i = 0; needles[i]; i++)
        cr_assert_not_null(strstr(err, needles[i]), "inspect: '%s' lacks '%s'", err, needles[i]);
    rc = qlab_dump_read_layer(path, "000-a", &t, err, sizeof err);
    cr_assert_eq(rc, 2, "read_layer should refuse %s (rc %d)", path, rc);
    cr_assert_null(t.weight);
    for (int i = 0; needles[i]; i++)
        cr_assert_not_null(strstr(err, needles[i]), "read: '%s' lacks '%s'", err, needles[i]);
}

Test(dump, a_well_formed_handmade_file_is_accepted)
{
    /* the control for the malformed cases below: same construction, nothing broken */
    const char *path = tmp("ok.h5");
    make_layer_file(path, "qlab-dump", 1, 4, 8, 2, 8);
    qlab_dump_tensors t;
    cr_assert_eq(qlab_dump_read_layer(path, "000-a", &t, err, sizeof err), 0, "%s", err);
    cr_assert_eq(t.n, 4);
    cr_assert_eq(t.tokens, 2);
    qlab_dump_tensors_free(&t);
}

Test(dump, wrong_format_attribute_is_refused)
{
    const char *path = tmp("fmt.h5");
    make_layer_file(path, "qlab-results", 1, 4, 8, 2, 8);
    expect_refused(path, (const char *[]){"fmt.h5", "format = 'qlab-results'", "'qlab-dump'", NULL});
}

Test(dump, missing_format_attribute_is_refused)
{
    const char *path = tmp("nofmt.h5");
    make_layer_file(path, NULL, 1, 4, 8, 2, 8);
    expect_refused(path, (const char *[]){"nofmt.h5", "'format' is missing", NULL});
}

Test(dump, unknown_format_version_is_refused)
{
    const char *path = tmp("ver.h5");
    make_layer_file(path, "qlab-dump", 99, 4, 8, 2, 8);
    expect_refused(path, (const char *[]){"ver.h5", "format_version = 99", "not known", NULL});
}

Test(dump, weight_and_input_k_mismatch_is_refused)
{
    const char *path = tmp("k.h5");
    make_layer_file(path, "qlab-dump", 1, 4, 8, 2, 6);
    expect_refused(path, (const char *[]){"k.h5", "/layers/000-a/input", "[2, 6]",
                                          "weight [4, 8]", NULL});
}

Test(dump, missing_weight_is_refused)
{
    const char *path = tmp("now.h5");
    make_layer_file(path, "qlab-dump", 1, 0, 0, 2, 8);
    expect_refused(path, (const char *[]){"/layers/000-a/weight", "missing", NULL});
}

Test(dump, bias_of_wrong_length_is_refused)
{
    const char *path = tmp("bias.h5");
    make_layer_file(path, "qlab-dump", 1, 4, 8, 2, 8);
    hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    hid_t g = H5Gopen2(f, "/layers/000-a", H5P_DEFAULT);
    float b[5] = {0};
    add_f32(g, "bias", 1, 5, 0, b);
    H5Gclose(g);
    H5Fclose(f);
    expect_refused(path, (const char *[]){"/layers/000-a/bias", "length 5", NULL});
}

Test(dump, nan_in_input_is_refused_naming_the_value)
{
    float w[N * K], x[T * K];
    fill(w, N * K, 1.0f, 1);
    fill(x, T * K, 1.0f, 2);
    x[6] = NAN;   /* row 1, column 2 */
    const char *path = tmp("nan.h5");
    qlab_dump_writer *wr;
    cr_assert_eq(qlab_dump_create(path, "", "", QLAB_DUMP_F32, &wr, err, sizeof err), 0);
    cr_assert_eq(qlab_dump_add_layer(wr, "a", w, N, K, NULL, x, T, NULL, err, sizeof err), 0);
    cr_assert_eq(qlab_dump_close(wr, err, sizeof err), 0);
    qlab_dump_tensors t;
    cr_assert_eq(qlab_dump_read_layer(path, "000-a", &t, err, sizeof err), 2);
    cr_assert_not_null(strstr(err, "/layers/000-a/input"), "%s", err);
    cr_assert_not_null(strstr(err, "value 6 (row 1, column 2) is NaN"), "%s", err);
    cr_assert_null(t.input);
}

Test(dump, huge_declared_shape_is_refused_before_allocating)
{
    const char *path = tmp("huge.h5");
    hid_t lg, f = make_root(path, "qlab-dump", 1, &lg);
    hid_t g = H5Gcreate2(lg, "000-a", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    /* 2^40 values declared, nothing stored: reading it would need 4 TiB */
    add_f32(g, "weight", 2, (hsize_t)1 << 20, (hsize_t)1 << 20, NULL);
    add_f32(g, "input", 2, 4, (hsize_t)1 << 20, NULL);
    H5Gclose(g);
    H5Gclose(lg);
    H5Fclose(f);
    expect_refused(path, (const char *[]){"/layers/000-a/weight", "[1048576, 1048576]",
                                          "refusing to allocate", NULL});
}

Test(dump, a_declared_but_unwritten_tensor_is_refused_not_read_as_zeros)
{
    /* 2^24 values (64 MiB), within the size limit, but no chunk was ever written:
     * HDF5 would read fill values, so qlab would study a zero weight */
    const char *path = tmp("unwritten.h5");
    hid_t lg, f = make_root(path, "qlab-dump", 1, &lg);
    hid_t g = H5Gcreate2(lg, "000-a", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    add_f32(g, "weight", 2, 4096, 4096, NULL);
    float v[8 * 4096] = {0};
    add_f32(g, "input", 2, 8, 4096, v);
    H5Gclose(g);
    H5Gclose(lg);
    H5Fclose(f);
    expect_refused(path, (const char *[]){"/layers/000-a/weight", "stores 0 of its 16384 chunks",
                                          "never written", NULL});
}

/* Layer file whose weight [64, 64] is chunked [8, 64] with deflate; rows < 64:
 * only that many rows written (the later chunks never exist). */
static void make_compressed_file(const char *path, int rows, const float *w)
{
    hid_t lg, f = make_root(path, "qlab-dump", 1, &lg);
    hid_t g = H5Gcreate2(lg, "000-a", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    hsize_t dims[2] = {64, 64}, chunk[2] = {8, 64};
    hid_t sp = H5Screate_simple(2, dims, NULL);
    hid_t pl = H5Pcreate(H5P_DATASET_CREATE);
    H5Pset_chunk(pl, 2, chunk);
    H5Pset_deflate(pl, 6);
    hid_t ds = H5Dcreate2(g, "weight", H5T_IEEE_F32LE, sp, H5P_DEFAULT, pl, H5P_DEFAULT);
    cr_assert_geq(ds, 0);
    hsize_t start[2] = {0, 0}, count[2] = {(hsize_t)rows, 64};
    hid_t ms = H5Screate_simple(2, count, NULL);
    H5Sselect_hyperslab(sp, H5S_SELECT_SET, start, NULL, count, NULL);
    cr_assert_geq(H5Dwrite(ds, H5T_NATIVE_FLOAT, ms, sp, H5P_DEFAULT, w), 0);
    H5Sclose(ms);
    H5Dclose(ds);
    H5Pclose(pl);
    H5Sclose(sp);
    add_f32(g, "input", 2, 4, 64, w);
    H5Gclose(g);
    H5Gclose(lg);
    H5Fclose(f);
}

Test(dump, a_compressed_layer_reads_exactly)
{
    /* the storage check must not refuse what h5py writes with compression="gzip" */
    float w[64 * 64];
    fill(w, 64 * 64, 1.0f, 11);
    const char *path = tmp("gzip.h5");
    make_compressed_file(path, 64, w);
    qlab_dump_tensors t;
    cr_assert_eq(qlab_dump_read_layer(path, "000-a", &t, err, sizeof err), 0, "%s", err);
    for (int i = 0; i < 64 * 64; i++) cr_assert_eq(t.weight[i], w[i], "weight[%d]", i);
    qlab_dump_tensors_free(&t);
}

Test(dump, a_partly_written_tensor_is_refused)
{
    float w[64 * 64];
    fill(w, 64 * 64, 1.0f, 12);
    const char *path = tmp("part.h5");
    make_compressed_file(path, 24, w);    /* 3 of the 8 row chunks */
    expect_refused(path, (const char *[]){"/layers/000-a/weight", "stores 3 of its 8 chunks", NULL});
}

Test(dump, uint16_without_bfloat16_attribute_is_refused)
{
    const char *path = tmp("u16.h5");
    make_layer_file(path, "qlab-dump", 1, 4, 8, 0, 0);
    hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    hid_t g = H5Gopen2(f, "/layers/000-a", H5P_DEFAULT);
    hsize_t dims[2] = {2, 8};
    hid_t sp = H5Screate_simple(2, dims, NULL);
    hid_t ds = H5Dcreate2(g, "input", H5T_STD_U16LE, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    uint16_t z[16] = {0};
    H5Dwrite(ds, H5T_NATIVE_UINT16, H5S_ALL, H5S_ALL, H5P_DEFAULT, z);
    H5Dclose(ds);
    H5Sclose(sp);
    H5Gclose(g);
    H5Fclose(f);
    expect_refused(path, (const char *[]){"/layers/000-a/input", "bfloat16", NULL});
}

/* Two datasets pointing at the same bytes: weight is written, input's storage is never
 * allocated and its layout message's address (all ones: undefined) is then patched to
 * weight's. Each claims 64 KiB within the file; together they claim more than the file
 * holds, which no undamaged file can, and the layer is refused before anything is
 * allocated for its values. */
Test(dump, datasets_claiming_more_than_the_file_are_refused)
{
    enum { R = 256, C = 64 };
    const char *path = tmp("shared.h5");
    float *w = malloc(sizeof(float) * R * C);
    fill(w, R * C, 1.0f, 21);
    hid_t lg, f = make_root(path, "qlab-dump", 1, &lg);
    hid_t g = H5Gcreate2(lg, "000-a", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    add_f32(g, "weight", 2, R, C, w);
    hsize_t dims[2] = {R, C};
    hid_t sp = H5Screate_simple(2, dims, NULL), pl = H5Pcreate(H5P_DATASET_CREATE);
    H5Pset_alloc_time(pl, H5D_ALLOC_TIME_LATE);
    hid_t ds = H5Dcreate2(g, "input", H5T_IEEE_F32LE, sp, H5P_DEFAULT, pl, H5P_DEFAULT);
    cr_assert_geq(ds, 0);
    H5Dclose(ds);
    H5Pclose(pl);
    H5Sclose(sp);
    hid_t wd = H5Dopen2(g, "weight", H5P_DEFAULT);
    uint64_t w_off = H5Dget_offset(wd);
    H5Dclose(wd);
    H5Gclose(g);
    H5Gclose(lg);
    H5Fclose(f);
    free(w);

    FILE *fp = fopen(path, "r+b");
    cr_assert_not_null(fp);
    fseek(fp, 0, SEEK_END);
    long size = ftell(fp);
    unsigned char *buf = malloc((size_t)size);
    rewind(fp);
    cr_assert_eq(fread(buf, 1, (size_t)size, fp), (size_t)size);
    /* the layout message of a contiguous dataset: address (8 bytes) then size (8 bytes) */
    unsigned char pat[16];
    memset(pat, 0xff, 8);
    for (int i = 0; i < 8; i++) pat[8 + i] = (unsigned char)(((uint64_t)R * C * 4) >> (8 * i));
    long at = -1;
    for (long i = 0; i + 16 <= size; i++)
        if (memcmp(buf + i, pat, 16) == 0) {
            cr_assert_eq(at, -1, "the unallocated address appears twice");
            at = i;
        }
    cr_assert_neq(at, -1, "no unallocated contiguous layout message found");
    for (int i = 0; i < 8; i++) buf[at + i] = (unsigned char)(w_off >> (8 * i));
    rewind(fp);
    cr_assert_eq(fwrite(buf, 1, (size_t)size, fp), (size_t)size);
    fclose(fp);
    free(buf);
    cr_assert_lt(size, 2L * R * C * 4, "the file must hold less than both datasets claim");
    expect_refused(path, (const char *[]){"/layers/000-a", "more than the whole file", NULL});
}

Test(dump, truncated_file_is_refused)
{
    enum { BN = 64, BK = 64 };
    float *w = malloc(sizeof(float) * BN * BK);
    fill(w, BN * BK, 1.0f, 9);
    const char *path = tmp("trunc.h5");
    qlab_dump_writer *wr;
    cr_assert_eq(qlab_dump_create(path, "", "", QLAB_DUMP_F32, &wr, err, sizeof err), 0);
    cr_assert_eq(qlab_dump_add_layer(wr, "a", w, BN, BK, NULL, w, BN, NULL, err, sizeof err), 0);
    cr_assert_eq(qlab_dump_close(wr, err, sizeof err), 0);
    free(w);
    FILE *fp = fopen(path, "rb");
    fseek(fp, 0, SEEK_END);
    long size = ftell(fp);
    fclose(fp);
    cr_assert_eq(truncate(path, size / 2), 0);
    expect_refused(path, (const char *[]){"trunc.h5", NULL});
    cr_assert(strstr(err, "truncated") || strstr(err, "corrupt"), "%s", err);
}

Test(dump, missing_file_and_non_hdf5_file_are_refused)
{
    expect_refused(tmp("absent.h5"), (const char *[]){"absent.h5", "cannot open", NULL});
    const char *path = tmp("text.h5");
    FILE *fp = fopen(path, "w");
    fputs("not hdf5\n", fp);
    fclose(fp);
    expect_refused(path, (const char *[]){"text.h5", "not an HDF5 file", NULL});
}

Test(dump, unknown_layer_group_is_refused)
{
    float w[N * K], x[T * K], b[N], y[T * N];
    const char *path = tmp("ok2.h5");
    write_two_layers(path, QLAB_DUMP_F32, w, x, b, y);
    qlab_dump_tensors t;
    cr_assert_eq(qlab_dump_read_layer(path, "005-nope", &t, err, sizeof err), 2);
    cr_assert_not_null(strstr(err, "/layers/005-nope"), "%s", err);
}

Test(dump, a_dump_without_layers_is_refused)
{
    const char *path = tmp("nolayers.h5");
    hid_t lg, f = make_root(path, "qlab-dump", 1, &lg);
    H5Gclose(lg);
    H5Fclose(f);
    expect_refused(path, (const char *[]){"nolayers.h5", "/layers: holds no layer", NULL});
}

/* ---------------------------------------------------------------------------- */
/* One layer's defect: that layer fails, the others read                         */

typedef void (*damage_fn)(hid_t g);

/* Layers 000-a, 001-b, 002-c of weight [4, 8] and input [2, 8]; 001-b is made by
 * damage instead. */
static void make_three_layer_file(const char *path, damage_fn damage)
{
    static const char *const groups[3] = {"000-a", "001-b", "002-c"};
    float v[64];
    fill(v, 64, 1.0f, 5);
    hid_t lg, f = make_root(path, "qlab-dump", 1, &lg);
    for (int i = 0; i < 3; i++) {
        hid_t g = H5Gcreate2(lg, groups[i], H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        cr_assert_geq(g, 0);
        if (i == 1) {
            damage(g);
        } else {
            add_f32(g, "weight", 2, 4, 8, v);
            add_f32(g, "input", 2, 2, 8, v);
        }
        H5Gclose(g);
    }
    H5Gclose(lg);
    H5Fclose(f);
}

static void good_weight(hid_t g)
{
    float v[32];
    fill(v, 32, 0.5f, 6);
    add_f32(g, "weight", 2, 4, 8, v);
}

static void damage_empty_input(hid_t g)
{
    float none[1] = {0};
    good_weight(g);
    add_f32(g, "input", 2, 0, 8, none);   /* an expert no token was routed to */
}

static void damage_nan_input(hid_t g)
{
    float x[16];
    fill(x, 16, 1.0f, 7);
    x[9] = NAN;
    good_weight(g);
    add_f32(g, "input", 2, 2, 8, x);
}

static void damage_bias_length(hid_t g)
{
    float v[16];
    fill(v, 16, 1.0f, 8);
    good_weight(g);
    add_f32(g, "input", 2, 2, 8, v);
    add_f32(g, "bias", 1, 5, 0, v);
}

static void damage_output_shape(hid_t g)
{
    float v[16];
    fill(v, 16, 1.0f, 9);
    good_weight(g);
    add_f32(g, "input", 2, 2, 8, v);
    add_f32(g, "output", 2, 2, 3, v);
}

static void damage_input_k(hid_t g)
{
    float v[16];
    fill(v, 16, 1.0f, 10);
    good_weight(g);
    add_f32(g, "input", 2, 2, 7, v);
}

static void damage_missing_input(hid_t g) { good_weight(g); }

static void damage_unwritten_weight(hid_t g)
{
    float v[16];
    fill(v, 16, 1.0f, 11);
    add_f32(g, "weight", 2, 4, 8, NULL);   /* declared, chunked, never written */
    add_f32(g, "input", 2, 2, 8, v);
}

static void damage_huge_weight(hid_t g)
{
    float v[16];
    fill(v, 16, 1.0f, 12);
    add_f32(g, "weight", 2, (hsize_t)1 << 20, (hsize_t)1 << 20, NULL);
    add_f32(g, "input", 2, 2, 8, v);
}

static void damage_integer_input(hid_t g)
{
    good_weight(g);
    hsize_t dims[2] = {2, 8};
    hid_t sp = H5Screate_simple(2, dims, NULL);
    hid_t ds = H5Dcreate2(g, "input", H5T_STD_I32LE, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    int z[16] = {0};
    H5Dwrite(ds, H5T_NATIVE_INT, H5S_ALL, H5S_ALL, H5P_DEFAULT, z);
    H5Dclose(ds);
    H5Sclose(sp);
}

/* inspect lists all three layers, only 001-b with a problem (header defects) or none
 * (value defects: inspect reads no values); reading 000-a and 002-c works; reading
 * 001-b fails with every needle and allocates nothing it returns. */
static void expect_layer_defect(damage_fn damage, int header_defect, const char *const *needles)
{
    const char *path = tmp("three.h5");
    make_three_layer_file(path, damage);
    qlab_dump_info info;
    cr_assert_eq(qlab_dump_inspect(path, &info, err, sizeof err), 0, "one bad layer sinks the file: %s", err);
    cr_assert_eq(info.n_layers, 3);
    cr_assert_str_eq(info.layers[0].problem, "", "%s", info.layers[0].problem);
    cr_assert_str_eq(info.layers[2].problem, "", "%s", info.layers[2].problem);
    cr_assert_str_eq(info.layers[1].group, "001-b");
    if (header_defect) {
        for (int i = 0; needles[i]; i++)
            cr_assert_not_null(strstr(info.layers[1].problem, needles[i]), "problem '%s' lacks '%s'",
                               info.layers[1].problem, needles[i]);
    } else {
        cr_assert_str_eq(info.layers[1].problem, "", "%s", info.layers[1].problem);
    }
    qlab_dump_info_free(&info);

    qlab_dump_tensors t;
    static const char *const good[2] = {"000-a", "002-c"};
    for (int i = 0; i < 2; i++) {
        cr_assert_eq(qlab_dump_read_layer(path, good[i], &t, err, sizeof err), 0, "%s: %s", good[i], err);
        cr_assert_eq(t.n, 4);
        cr_assert_eq(t.tokens, 2);
        qlab_dump_tensors_free(&t);
    }
    cr_assert_eq(qlab_dump_read_layer(path, "001-b", &t, err, sizeof err), 2);
    cr_assert_null(t.weight);
    cr_assert_null(t.input);
    cr_assert_not_null(strstr(err, "three.h5: /layers/001-b"), "%s", err);
    for (int i = 0; needles[i]; i++)
        cr_assert_not_null(strstr(err, needles[i]), "read: '%s' lacks '%s'", err, needles[i]);
}

Test(dump, an_empty_input_fails_only_its_layer)
{
    expect_layer_defect(damage_empty_input, 1,
                        (const char *[]){"/layers/001-b/input", "[0, 8]", "no tokens", NULL});
}

Test(dump, nan_values_fail_only_their_layer)
{
    expect_layer_defect(damage_nan_input, 0,
                        (const char *[]){"/layers/001-b/input", "value 9 (row 1, column 1) is NaN", NULL});
}

Test(dump, a_bias_of_wrong_length_fails_only_its_layer)
{
    expect_layer_defect(damage_bias_length, 1, (const char *[]){"/layers/001-b/bias", "length 5", NULL});
}

Test(dump, an_output_of_wrong_shape_fails_only_its_layer)
{
    expect_layer_defect(damage_output_shape, 1,
                        (const char *[]){"/layers/001-b/output", "[2, 3]", "n = 4", NULL});
}

Test(dump, an_input_k_that_disagrees_with_the_weight_fails_only_its_layer)
{
    expect_layer_defect(damage_input_k, 1, (const char *[]){"/layers/001-b/input", "[2, 7]", NULL});
}

Test(dump, a_missing_input_fails_only_its_layer)
{
    expect_layer_defect(damage_missing_input, 1, (const char *[]){"/layers/001-b/input", "missing", NULL});
}

Test(dump, an_unwritten_weight_fails_only_its_layer)
{
    expect_layer_defect(damage_unwritten_weight, 1,
                        (const char *[]){"/layers/001-b/weight", "never written", NULL});
}

Test(dump, a_huge_declared_weight_fails_only_its_layer_without_allocating)
{
    expect_layer_defect(damage_huge_weight, 1,
                        (const char *[]){"/layers/001-b/weight", "refusing to allocate", NULL});
}

Test(dump, an_unsupported_dtype_fails_only_its_layer)
{
    expect_layer_defect(damage_integer_input, 1,
                        (const char *[]){"/layers/001-b/input", "unsupported element type", NULL});
}

Test(dump, an_entry_that_is_not_a_group_fails_only_itself)
{
    const char *path = tmp("entry.h5");
    make_three_layer_file(path, good_weight);   /* 001-b: no input yet */
    hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    hid_t lg = H5Gopen2(f, "layers", H5P_DEFAULT);
    float v[8] = {0};
    add_f32(lg, "003-stray", 1, 8, 0, v);
    H5Gclose(lg);
    H5Fclose(f);
    qlab_dump_info info;
    cr_assert_eq(qlab_dump_inspect(path, &info, err, sizeof err), 0, "%s", err);
    cr_assert_eq(info.n_layers, 4);
    cr_assert_not_null(strstr(info.layers[3].problem, "/layers/003-stray: not a group"), "%s",
                       info.layers[3].problem);
    cr_assert_not_null(strstr(info.layers[1].problem, "/layers/001-b/input: missing"), "%s",
                       info.layers[1].problem);
    cr_assert_str_eq(info.layers[0].problem, "");
    qlab_dump_info_free(&info);
    qlab_dump_tensors t;
    cr_assert_eq(qlab_dump_read_layer(path, "003-stray", &t, err, sizeof err), 2);
    cr_assert_not_null(strstr(err, "not a group"), "%s", err);
}

static void damage_both(hid_t g) { damage_empty_input(g); }

Test(dump, a_dump_whose_every_layer_has_a_defect_is_refused_naming_the_first)
{
    const char *path = tmp("allbad.h5");
    hid_t lg, f = make_root(path, "qlab-dump", 1, &lg);
    for (int i = 0; i < 2; i++) {
        hid_t g = H5Gcreate2(lg, i ? "001-y" : "000-x", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        damage_both(g);
        H5Gclose(g);
    }
    H5Gclose(lg);
    H5Fclose(f);
    qlab_dump_info info;
    cr_assert_eq(qlab_dump_inspect(path, &info, err, sizeof err), 2);
    cr_assert_null(info.layers);
    cr_assert_not_null(strstr(err, "/layers/000-x/input"), "%s", err);
    cr_assert_not_null(strstr(err, "every other layer"), "%s", err);
}

Test(dump, a_weight_stored_in_out_with_other_shapes_gets_the_transpose_hint)
{
    /* GPT-2's c_fc [in 8, out 4] stored as is: weight [8, 4] against input [2, 8] */
    const char *path = tmp("conv1d-shape.h5");
    make_layer_file(path, "qlab-dump", 1, 8, 4, 2, 8);
    qlab_dump_tensors t;
    cr_assert_eq(qlab_dump_read_layer(path, "000-a", &t, err, sizeof err), 2);
    cr_assert_not_null(strstr(err, "weight looks stored [in, out]: transpose it"), "%s", err);
    /* and not where the shapes disagree otherwise */
    make_layer_file(path, "qlab-dump", 1, 4, 8, 2, 6);
    cr_assert_eq(qlab_dump_read_layer(path, "000-a", &t, err, sizeof err), 2);
    cr_assert_null(strstr(err, "[in, out]"), "%s", err);
}

/* ---------------------------------------------------------------------------- */
/* The stored output against X W^T + b                                          */

enum { OT = 24, OD = 96 };

/* Normal-looking values from a fixed LCG (Irwin-Hall of 4 uniforms): unstructured
 * data, like real weights, unlike fill()'s smooth sine. */
static void fill_noise(float *v, int count, float scale, unsigned seed)
{
    unsigned s = seed * 2654435761u + 1;
    for (int i = 0; i < count; i++) {
        double a = 0;
        for (int r = 0; r < 4; r++) {
            s = s * 1664525u + 1013904223u;
            a += (double)(s >> 8) / 16777216.0 - 0.5;
        }
        v[i] = scale * (float)(a * 1.7320508);
    }
}

/* y [OT, OD] = x w^T + b (transposed: x w, w read as [in, out]); b may be NULL. Then
 * y is scaled by (1 + rel). Double accumulation, float result. */
static void layer_out(const float *x, const float *w, const float *b, int transposed, double rel,
                      float *y)
{
    for (int i = 0; i < OT; i++)
        for (int j = 0; j < OD; j++) {
            double s = b ? b[j] : 0;
            for (int l = 0; l < OD; l++)
                s += (double)x[i * OD + l] * (transposed ? w[l * OD + j] : w[j * OD + l]);
            y[i * OD + j] = (float)(s * (1 + rel));
        }
}

/* Writes a square layer "a" in dtype dt whose output was made as described, reads it
 * back and runs qlab_dump_check_output (its status; -1: the read failed, err says
 * why). compute: the compute_dtype attribute or NULL. */
static int check_layer(qlab_dump_dtype dt, int transposed, int bias_in_output, double rel,
                       const char *compute, const float *w_override)
{
    static float x[OT * OD], w[OD * OD], b[OD], y[OT * OD];
    fill_noise(x, OT * OD, 1.0f, 1);
    fill_noise(w, OD * OD, 0.1f, 2);
    fill_noise(b, OD, 0.5f, 3);
    layer_out(x, w_override ? w_override : w, bias_in_output ? b : NULL, transposed, rel, y);
    const char *path = tmp("out.h5");
    qlab_dump_writer *wr;
    cr_assert_eq(qlab_dump_create(path, "", "", dt, &wr, err, sizeof err), 0, "%s", err);
    cr_assert_eq(qlab_dump_add_layer(wr, "a", w, OD, OD, b, x, OT, y, err, sizeof err), 0, "%s", err);
    cr_assert_eq(qlab_dump_close(wr, err, sizeof err), 0, "%s", err);
    if (compute) {
        hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
        hid_t g = H5Gopen2(f, "/layers/000-a", H5P_DEFAULT);
        hid_t st = H5Tcopy(H5T_C_S1);
        H5Tset_size(st, strlen(compute) + 1);
        hid_t sp = H5Screate(H5S_SCALAR);
        hid_t a = H5Acreate2(g, "compute_dtype", st, sp, H5P_DEFAULT, H5P_DEFAULT);
        H5Awrite(a, st, compute);
        H5Aclose(a);
        H5Sclose(sp);
        H5Tclose(st);
        H5Gclose(g);
        H5Fclose(f);
    }
    qlab_dump_tensors t;
    if (qlab_dump_read_layer(path, "000-a", &t, err, sizeof err)) return -1;
    cr_assert_not_null(t.output);
    err[0] = 0;
    int rc = qlab_dump_check_output(path, "000-a", &t, NULL, err, sizeof err);
    qlab_dump_tensors_free(&t);
    return rc;
}

Test(dump, a_stored_output_equal_to_x_wt_plus_b_passes_in_every_dtype)
{
    for (int dt = 0; dt < QLAB_DUMP_DTYPE_COUNT; dt++)
        cr_assert_eq(check_layer(dt, 0, 1, 0, NULL, NULL), 0, "%s: %s", qlab_dump_dtype_name(dt), err);
}

Test(dump, a_weight_stored_in_out_is_caught_in_every_dtype_and_named)
{
    for (int dt = 0; dt < QLAB_DUMP_DTYPE_COUNT; dt++) {
        cr_assert_eq(check_layer(dt, 1, 1, 0, NULL, NULL), 2, "%s passed", qlab_dump_dtype_name(dt));
        cr_assert_not_null(strstr(err, "out.h5: /layers/000-a/output: stored output matches X W + b, "
                                       "not X W^T + b"), "%s", err);
        cr_assert_not_null(strstr(err, "stored [in, out]"), "%s", err);
        cr_assert_not_null(strstr(err, "transpose it"), "%s", err);
    }
}

Test(dump, an_output_without_the_bias_is_named)
{
    cr_assert_eq(check_layer(QLAB_DUMP_F32, 0, 0, 0, NULL, NULL), 2);
    cr_assert_not_null(strstr(err, "matches X W^T without the bias"), "%s", err);
}

Test(dump, an_output_of_another_weight_matches_no_layout)
{
    static float other[OD * OD];
    fill_noise(other, OD * OD, 0.1f, 99);
    cr_assert_eq(check_layer(QLAB_DUMP_F16, 0, 1, 0, NULL, other), 2);
    cr_assert_not_null(strstr(err, "do not belong together"), "%s", err);
    cr_assert_not_null(strstr(err, "float16 rounding at k = 96"), "%s", err);
}

Test(dump, the_tolerance_follows_the_dtype)
{
    /* an output 0.3 % off: far beyond float32 rounding, within float16's and bfloat16's */
    cr_assert_eq(check_layer(QLAB_DUMP_F32, 0, 1, 3e-3, NULL, NULL), 2, "float32 accepted 0.3%%");
    cr_assert_not_null(strstr(err, "beyond"), "%s", err);
    cr_assert_eq(check_layer(QLAB_DUMP_F16, 0, 1, 3e-3, NULL, NULL), 0, "%s", err);
    cr_assert_eq(check_layer(QLAB_DUMP_BF16, 0, 1, 3e-3, NULL, NULL), 0, "%s", err);
    /* 3 % is beyond float16's too, not bfloat16's */
    cr_assert_eq(check_layer(QLAB_DUMP_F16, 0, 1, 3e-2, NULL, NULL), 2, "float16 accepted 3%%");
    cr_assert_eq(check_layer(QLAB_DUMP_BF16, 0, 1, 3e-2, NULL, NULL), 0, "%s", err);
    /* a float32 dump of a layer computed in bfloat16 says so in compute_dtype */
    cr_assert_eq(check_layer(QLAB_DUMP_F32, 0, 1, 3e-3, "bfloat16", NULL), 0, "%s", err);
    cr_assert_eq(check_layer(QLAB_DUMP_F32, 0, 1, 3e-3, "float32", NULL), 2, "float32 accepted 0.3%%");
}

Test(dump, an_unknown_compute_dtype_is_a_layer_defect)
{
    const char *path = tmp("out.h5");
    cr_assert_eq(check_layer(QLAB_DUMP_F32, 0, 1, 0, "float8", NULL), -1);
    cr_assert_not_null(strstr(err, "/layers/000-a: attribute compute_dtype = 'float8'"), "%s", err);
    qlab_dump_info info;
    cr_assert_eq(qlab_dump_inspect(path, &info, err, sizeof err), 2);   /* its only layer */
    cr_assert_not_null(strstr(err, "compute_dtype = 'float8'"), "%s", err);
}

/* ---------------------------------------------------------------------------- */
/* End to end: a dump experiment through the runner                              */

#include <criterion/redirect.h>
#include "store/results.h"
#include "sweep/run.h"

/* `qlab run` over a dump: each layer's row must hold exactly the rel_err of
 * quant_matmul_scheme on that layer's tensors against X W^T + b in float64. */
Test(dump, run_over_a_dump_matches_quant_on_the_same_tensors)
{
    cr_redirect_stdout();
    cr_redirect_stderr();
    enum { DN = 24, DK = 64, DT = 16 };
    float w[DN * DK], x[DT * DK], b[DN];
    fill(w, DN * DK, 0.05f, 1);
    fill(x, DT * DK, 1.0f, 2);
    for (int j = 0; j < DT; j++) x[j * DK + 5] *= 12.0f;   /* an outlier feature column */
    fill(b, DN, 0.3f, 3);
    const char *dump = tmp("e2e.h5");
    qlab_dump_writer *wr;
    cr_assert_eq(qlab_dump_create(dump, "toy", "", QLAB_DUMP_F16, &wr, err, sizeof err), 0, "%s", err);
    cr_assert_eq(qlab_dump_add_layer(wr, "a", w, DN, DK, b, x, DT, NULL, err, sizeof err), 0, "%s", err);
    cr_assert_eq(qlab_dump_close(wr, err, sizeof err), 0, "%s", err);

    char cfg_path[160], out_path[160];
    snprintf(cfg_path, sizeof cfg_path, "%s", tmp("e2e.yaml"));
    snprintf(out_path, sizeof out_path, "%s", tmp("e2e-results.h5"));
    FILE *fp = fopen(cfg_path, "w");
    fprintf(fp, "name: e2e\nbackend: cpu\nworkload: {kind: dump, path: '%s'}\n"
                "quant: {scheme: [absmax, llm_int8, zeropoint]}\nmeasure: [error]\n", dump);
    fclose(fp);
    qlab_run_opts o = {.config_path = cfg_path, .output_path = out_path, .progress = 0};
    cr_assert_eq(qlab_run(&o), 0);

    qlab_results_data d;
    cr_assert_eq(qlab_results_read(out_path, &d, err, sizeof err), 0, "%s", err);
    cr_assert_eq(d.n_points, 3);
    qlab_dump_tensors t;
    cr_assert_eq(qlab_dump_read_layer(dump, "000-a", &t, err, sizeof err), 0, "%s", err);
    double yref[DT * DN];
    cr_assert_eq(quant_matmul_ref_f64(t.input, t.weight, DT, DK, DN, yref), QUANT_OK);
    for (int i = 0; i < DT; i++)
        for (int j = 0; j < DN; j++) yref[i * DN + j] += t.bias[j];
    static const quant_scheme sch[3] = {QUANT_SCHEME_ABSMAX, QUANT_SCHEME_ABSMAX, QUANT_SCHEME_ZEROPOINT};
    static const float thr[3] = {0, 6, 0};
    for (int r = 0; r < 3; r++) {
        const qlab_row *row = &d.points[r];
        cr_assert_eq(row->status, QLAB_STATUS_OK, "%s", row->message);
        cr_assert_str_eq(row->p.workload, "dump");
        cr_assert_str_eq(row->p.layer, "000-a");
        cr_assert_eq(row->p.m, DT);
        quant_matmul_opts opts = {.scheme = sch[r], .x_gran = QUANT_GRAN_ROW,
                                  .w_gran = QUANT_GRAN_CHANNEL, .threshold = thr[r],
                                  .outlier_weights = QUANT_OUTLIER_FP16};
        float y[DT * DN];
        cr_assert_eq(quant_matmul_scheme(t.input, t.weight, DT, DK, DN, &opts, y, NULL), QUANT_OK);
        for (int i = 0; i < DT; i++)
            for (int j = 0; j < DN; j++) y[i * DN + j] += t.bias[j];
        quant_metrics mt;
        cr_assert_eq(quant_metrics_compute(y, yref, DT, DN, &mt), QUANT_OK);
        cr_assert_eq(row->rel_err, mt.rel_err, "row %d: %.17g vs %.17g", r, row->rel_err, mt.rel_err);
        cr_assert_eq(row->cosine, mt.cosine);
    }
    cr_assert_eq(d.points[1].outlier_cols, 1, "llm_int8 finds the outlier column");
    qlab_dump_tensors_free(&t);
    qlab_results_data_free(&d);
}

/* Runs a two-scheme error-only sweep over `dump` with layers = `layers` into a fresh
 * results file; returns qlab_run's status and leaves the rows in d. */
static int run_dump(const char *dump, const char *layers, qlab_results_data *d)
{
    static int seq = 0;
    char cfg_path[160], out_path[160], name[32];
    snprintf(name, sizeof name, "sel%d.yaml", seq);
    snprintf(cfg_path, sizeof cfg_path, "%s", tmp(name));
    snprintf(name, sizeof name, "sel%d.h5", seq++);
    snprintf(out_path, sizeof out_path, "%s", tmp(name));
    FILE *fp = fopen(cfg_path, "w");
    fprintf(fp, "name: sel\nbackend: cpu\nworkload: {kind: dump, path: '%s', layers: %s}\n"
                "quant: {scheme: [absmax, zeropoint]}\nmeasure: [error]\n", dump, layers);
    fclose(fp);
    qlab_run_opts o = {.config_path = cfg_path, .output_path = out_path, .progress = 0};
    int rc = qlab_run(&o);
    if (rc != 2) cr_assert_eq(qlab_results_read(out_path, d, err, sizeof err), 0, "%s", err);
    return rc;
}

Test(dump, a_defective_layer_fails_its_points_and_the_rest_runs)
{
    cr_redirect_stdout();
    cr_redirect_stderr();
    char dump[160];   /* tmp()'s buffers are reused by run_dump */
    snprintf(dump, sizeof dump, "%s", tmp("moe.h5"));
    make_three_layer_file(dump, damage_empty_input);
    qlab_results_data d;

    /* not selected: the defect costs nothing */
    cr_assert_eq(run_dump(dump, "[\"000-a\", \"002-c\"]", &d), 0);
    cr_assert_eq(d.n_points, 4);
    for (int64_t i = 0; i < d.n_points; i++)
        cr_assert_eq(d.points[i].status, QLAB_STATUS_OK, "%s", d.points[i].message);
    qlab_results_data_free(&d);

    /* selected: its two points fail naming the layer and dataset, the others run */
    cr_assert_eq(run_dump(dump, "all", &d), 1);
    cr_assert_eq(d.n_points, 6);
    int failed = 0;
    for (int64_t i = 0; i < d.n_points; i++) {
        const qlab_row *r = &d.points[i];
        if (strcmp(r->p.layer, "001-b") == 0) {
            cr_assert_eq(r->status, QLAB_STATUS_FAILED);
            cr_assert_not_null(strstr(r->message, "/layers/001-b/input"), "%s", r->message);
            failed++;
        } else {
            cr_assert_eq(r->status, QLAB_STATUS_OK, "%s: %s", r->p.layer, r->message);
            cr_assert_gt(r->rel_err, 0);
        }
    }
    cr_assert_eq(failed, 2);
    qlab_results_data_free(&d);
}

Test(dump, a_file_level_defect_is_still_exit_2)
{
    cr_redirect_stdout();
    cr_redirect_stderr();
    char path[160];
    snprintf(path, sizeof path, "%s", tmp("notdump.h5"));
    FILE *fp = fopen(path, "w");
    fputs("not hdf5\n", fp);
    fclose(fp);
    qlab_results_data d;
    cr_assert_eq(run_dump(path, "all", &d), 2);
}

Test(dump, a_run_over_a_weight_stored_in_out_fails_that_layer)
{
    cr_redirect_stdout();
    cr_redirect_stderr();
    /* layer "a" stored [in, out] with its output; layer "b" correct */
    static float x[OT * OD], w[OD * OD], b[OD], y[OT * OD], y2[OT * OD];
    fill_noise(x, OT * OD, 1.0f, 1);
    fill_noise(w, OD * OD, 0.1f, 2);
    fill_noise(b, OD, 0.5f, 3);
    layer_out(x, w, b, 1, 0, y);
    layer_out(x, w, b, 0, 0, y2);
    char dump[160];
    snprintf(dump, sizeof dump, "%s", tmp("gpt2.h5"));
    qlab_dump_writer *wr;
    cr_assert_eq(qlab_dump_create(dump, "", "", QLAB_DUMP_F32, &wr, err, sizeof err), 0, "%s", err);
    cr_assert_eq(qlab_dump_add_layer(wr, "a", w, OD, OD, b, x, OT, y, err, sizeof err), 0, "%s", err);
    cr_assert_eq(qlab_dump_add_layer(wr, "b", w, OD, OD, b, x, OT, y2, err, sizeof err), 0, "%s", err);
    cr_assert_eq(qlab_dump_close(wr, err, sizeof err), 0, "%s", err);
    qlab_results_data d;
    cr_assert_eq(run_dump(dump, "all", &d), 1);
    cr_assert_eq(d.n_points, 4);
    for (int64_t i = 0; i < d.n_points; i++) {
        const qlab_row *r = &d.points[i];
        if (strcmp(r->p.layer, "000-a") == 0) {
            cr_assert_eq(r->status, QLAB_STATUS_FAILED);
            cr_assert_not_null(strstr(r->message, "/layers/000-a/output: stored output matches X W + b"),
                               "%s", r->message);
        } else {
            cr_assert_eq(r->status, QLAB_STATUS_OK, "%s", r->message);
        }
    }
    qlab_results_data_free(&d);
}

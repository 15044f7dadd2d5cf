/* test_results.c: the HDF5 results file (harness/results.c).
 *
 * Round trips checked through the HDF5 C API directly (one member read by name) and
 * through qlab_results_read; attributes; create/open_append rules; export of every
 * table in both formats; bad files (truncated, random bytes, foreign HDF5, newer
 * version); and crash safety: children appending in a loop are SIGKILLed at random
 * moments and every append they reported as returned must be in a file that the
 * reader and h5dump open.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <hdf5.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "store/results.h"
#include "store/journal.h"

// ----------------------------------------------------------------------------
// fixtures

static char dir[64];

static void make_dir(void)
{
    strcpy(dir, "/tmp/qlab-test-results-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
}

static void remove_dir(void)
{
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    char p[512];
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        unlink(p);
    }
    closedir(d);
    rmdir(dir);
}

static const char *in_dir(const char *name)
{
    static char p[4][512];
    static int k;
    k = (k + 1) % 4;
    snprintf(p[k], sizeof p[k], "%s/%s", dir, name);
    return p[k];
}

/* A row whose every column holds a value no other column or row holds. */
static qlab_row make_row(int i)
{
    qlab_row r;
    memset(&r, 0, sizeof r);
    r.p.id = 1000 + i;
    r.p.seed = 0xF00DBEEF00000000ull + (uint64_t)i;
    snprintf(r.p.workload, sizeof r.p.workload, "synthetic-%d", i);
    snprintf(r.p.path, sizeof r.p.path, "/data/dump-%d.h5", i);
    snprintf(r.p.layer, sizeof r.p.layer, "encoder.layer.%d.query", i);
    r.p.m = 16 + i; r.p.k = 4096 + i; r.p.n = 1024 + i;
    snprintf(r.p.x.dist, sizeof r.p.x.dist, "student_t");
    r.p.x.std = 1.25 + i; r.p.x.df = 3.5 + i; r.p.x.outlier_cols = 0.001 * (i + 1);
    r.p.x.outlier_scale = 20.5 + i;
    snprintf(r.p.w.dist, sizeof r.p.w.dist, "uniform");
    r.p.w.std = 0.02 + i; r.p.w.df = 7.5 + i; r.p.w.outlier_cols = 0.003 * (i + 1);
    r.p.w.outlier_scale = 3.75 + i;
    r.p.depth = 12 + i;
    snprintf(r.p.scheme, sizeof r.p.scheme, "zeropoint");
    snprintf(r.p.x_granularity, sizeof r.p.x_granularity, "row");
    snprintf(r.p.w_granularity, sizeof r.p.w_granularity, "block");
    r.p.block = 64 + i;
    r.p.threshold = 6.5 + i;
    snprintf(r.p.outlier_weights, sizeof r.p.outlier_weights, "dequant");
    r.status = i % 3;
    snprintf(r.message, sizeof r.message, "message %d, with \"quotes\"", i);
    snprintf(r.backend, sizeof r.backend, "cpu");
    r.rel_err = 0.0123 + i; r.sqnr_db = 38.25 + i; r.max_abs_err = 0.5 + i;
    r.mean_abs_err = 0.0625 + i; r.cosine = 0.999 - i * 1e-6; r.x_rel_err = 0.007 + i;
    r.w_rel_err = 0.0045 + i; r.outlier_cols = 7 + i; r.outlier_frac = 7.0 / 4096 + i;
    r.t.median_us = 123.5 + i; r.t.q1_us = 120.25 + i; r.t.q3_us = 130.75 + i;
    r.t.min_us = 110.125 + i; r.t.rel_stdev = 0.0042 + i; r.t.samples = 300 + i;
    r.tops = 1.5e-3 + i; r.gbps = 12.5 + i; r.fp16_median_us = 200.5 + i;
    r.speedup_vs_fp16 = 1.625 + i;
    r.w_bytes = 4194304 + i; r.w_bytes_fp16 = 8388608 + i; r.x_bytes = 65536 + i;
    r.peak_bytes = 123456789 + i;
    return r;
}

/* Field by field, so a member lost or swapped in the file shows by name. */
static void assert_row_eq(const qlab_row *a, const qlab_row *e)
{
    cr_assert_eq(a->p.id, e->p.id);
    cr_assert_eq(a->p.seed, e->p.seed);
    cr_assert_str_eq(a->p.workload, e->p.workload);
    cr_assert_str_eq(a->p.path, e->p.path);
    cr_assert_str_eq(a->p.layer, e->p.layer);
    cr_assert_eq(a->p.m, e->p.m);
    cr_assert_eq(a->p.k, e->p.k);
    cr_assert_eq(a->p.n, e->p.n);
    cr_assert_str_eq(a->p.x.dist, e->p.x.dist);
    cr_assert_eq(a->p.x.std, e->p.x.std);
    cr_assert_eq(a->p.x.df, e->p.x.df);
    cr_assert_eq(a->p.x.outlier_cols, e->p.x.outlier_cols);
    cr_assert_eq(a->p.x.outlier_scale, e->p.x.outlier_scale);
    cr_assert_str_eq(a->p.w.dist, e->p.w.dist);
    cr_assert_eq(a->p.w.std, e->p.w.std);
    cr_assert_eq(a->p.w.df, e->p.w.df);
    cr_assert_eq(a->p.w.outlier_cols, e->p.w.outlier_cols);
    cr_assert_eq(a->p.w.outlier_scale, e->p.w.outlier_scale);
    cr_assert_eq(a->p.depth, e->p.depth);
    cr_assert_str_eq(a->p.scheme, e->p.scheme);
    cr_assert_str_eq(a->p.x_granularity, e->p.x_granularity);
    cr_assert_str_eq(a->p.w_granularity, e->p.w_granularity);
    cr_assert_eq(a->p.block, e->p.block);
    cr_assert_eq(a->p.threshold, e->p.threshold);
    cr_assert_str_eq(a->p.outlier_weights, e->p.outlier_weights);
    cr_assert_eq(a->status, e->status);
    cr_assert_str_eq(a->message, e->message);
    cr_assert_str_eq(a->backend, e->backend);
    cr_assert_eq(a->rel_err, e->rel_err);
    cr_assert_eq(a->sqnr_db, e->sqnr_db);
    cr_assert_eq(a->max_abs_err, e->max_abs_err);
    cr_assert_eq(a->mean_abs_err, e->mean_abs_err);
    cr_assert_eq(a->cosine, e->cosine);
    cr_assert_eq(a->x_rel_err, e->x_rel_err);
    cr_assert_eq(a->w_rel_err, e->w_rel_err);
    cr_assert_eq(a->outlier_cols, e->outlier_cols);
    cr_assert_eq(a->outlier_frac, e->outlier_frac);
    cr_assert_eq(a->t.median_us, e->t.median_us);
    cr_assert_eq(a->t.q1_us, e->t.q1_us);
    cr_assert_eq(a->t.q3_us, e->t.q3_us);
    cr_assert_eq(a->t.min_us, e->t.min_us);
    cr_assert_eq(a->t.rel_stdev, e->t.rel_stdev);
    cr_assert_eq(a->t.samples, e->t.samples);
    cr_assert_eq(a->tops, e->tops);
    cr_assert_eq(a->gbps, e->gbps);
    cr_assert_eq(a->fp16_median_us, e->fp16_median_us);
    cr_assert_eq(a->speedup_vs_fp16, e->speedup_vs_fp16);
    cr_assert_eq(a->w_bytes, e->w_bytes);
    cr_assert_eq(a->w_bytes_fp16, e->w_bytes_fp16);
    cr_assert_eq(a->x_bytes, e->x_bytes);
    cr_assert_eq(a->peak_bytes, e->peak_bytes);
}

static qlab_sample make_sample(int64_t point_id, int j)
{
    qlab_sample s;
    memset(&s, 0, sizeof s);
    s.point_id = point_id;
    snprintf(s.stage, sizeof s.stage, j % 2 ? "gemm_i8" : "quantize_x");
    s.time_us = 10.5 + j * 0.25 + (double)point_id;
    return s;
}

static qlab_layer_row make_layer(int64_t point_id, int j)
{
    qlab_layer_row l;
    memset(&l, 0, sizeof l);
    l.point_id = point_id;
    l.layer_index = j;
    snprintf(l.layer_name, sizeof l.layer_name, "decoder.%d.fc1", j);
    snprintf(l.mode, sizeof l.mode, "propagated");
    l.rel_err = 0.01 * (j + 1); l.sqnr_db = 40.5 - j; l.max_abs_err = 0.75 + j;
    l.mean_abs_err = 0.03125 + j; l.cosine = 0.9995 - 0.0001 * j; l.outlier_cols = 3 + j;
    return l;
}

/* Writes 3 points (2 samples each, 2 layers for point 1) and closes as `status`. */
static void write_file(const char *path, const char *status)
{
    char err[512] = "";
    qlab_results *r;
    cr_assert_eq(qlab_results_create(path, &r, err, sizeof err), 0, "%s", err);
    cr_assert_eq(qlab_results_set_attr(r, "experiment", "outlier-threshold", err, sizeof err), 0);
    cr_assert_eq(qlab_results_set_attr(r, "config", "name: x\nseed: 7\n", err, sizeof err), 0);
    cr_assert_eq(qlab_results_set_attr_int(r, "points_total", 42, err, sizeof err), 0);
    for (int i = 0; i < 3; i++) {
        qlab_row row = make_row(i);
        qlab_sample s[2] = { make_sample(row.p.id, 0), make_sample(row.p.id, 1) };
        cr_assert_eq(qlab_results_append_point(r, &row, err, sizeof err), 0, "%s", err);
        cr_assert_eq(qlab_results_append_samples(r, s, 2, err, sizeof err), 0, "%s", err);
    }
    qlab_layer_row l[2] = { make_layer(1001, 0), make_layer(1001, 1) };
    cr_assert_eq(qlab_results_append_layers(r, l, 2, err, sizeof err), 0, "%s", err);
    cr_assert_eq(qlab_results_close(r, status, err, sizeof err), 0, "%s", err);
}

// ----------------------------------------------------------------------------
// round trips

TestSuite(results, .init = make_dir, .fini = remove_dir);

Test(results, every_point_column_round_trips_through_the_reader)
{
    const char *path = in_dir("a.h5");
    write_file(path, "complete");
    qlab_results_data d;
    char err[512] = "";
    cr_assert_eq(qlab_results_read(path, &d, err, sizeof err), 0, "%s", err);
    cr_assert_eq(d.n_points, 3);
    for (int i = 0; i < 3; i++) {
        qlab_row e = make_row(i);
        assert_row_eq(&d.points[i], &e);
    }
    cr_assert_eq(d.n_samples, 6);
    for (int i = 0; i < 6; i++) {
        qlab_sample e = make_sample(1000 + i / 2, i % 2);
        cr_assert_eq(d.samples[i].point_id, e.point_id);
        cr_assert_str_eq(d.samples[i].stage, e.stage);
        cr_assert_eq(d.samples[i].time_us, e.time_us);
    }
    cr_assert_eq(d.n_layers, 2);
    for (int j = 0; j < 2; j++) {
        qlab_layer_row e = make_layer(1001, j);
        const qlab_layer_row *a = &d.layers[j];
        cr_assert_eq(a->point_id, e.point_id);
        cr_assert_eq(a->layer_index, e.layer_index);
        cr_assert_str_eq(a->layer_name, e.layer_name);
        cr_assert_str_eq(a->mode, e.mode);
        cr_assert_eq(a->rel_err, e.rel_err);
        cr_assert_eq(a->sqnr_db, e.sqnr_db);
        cr_assert_eq(a->max_abs_err, e.max_abs_err);
        cr_assert_eq(a->mean_abs_err, e.mean_abs_err);
        cr_assert_eq(a->cosine, e.cosine);
        cr_assert_eq(a->outlier_cols, e.outlier_cols);
    }
    qlab_results_data_free(&d);
}

/* Reads one member of /points by name with the plain HDF5 API, as h5py would. */
static void read_member(hid_t ds, const char *name, hid_t type, size_t size, void *buf)
{
    hid_t mt = H5Tcreate(H5T_COMPOUND, size);
    cr_assert_geq(H5Tinsert(mt, name, 0, type), 0);
    cr_assert_geq(H5Dread(ds, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf), 0, "member %s", name);
    H5Tclose(mt);
}

Test(results, members_read_by_name_with_the_hdf5_api)
{
    const char *path = in_dir("a.h5");
    write_file(path, "complete");
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    cr_assert_geq(f, 0);
    hid_t ds = H5Dopen2(f, "/points", H5P_DEFAULT);
    cr_assert_geq(ds, 0);

    double d[3];
    read_member(ds, "x_outlier_cols", H5T_NATIVE_DOUBLE, sizeof(double), d);
    for (int i = 0; i < 3; i++) cr_assert_eq(d[i], 0.001 * (i + 1));
    read_member(ds, "median_us", H5T_NATIVE_DOUBLE, sizeof(double), d);
    for (int i = 0; i < 3; i++) cr_assert_eq(d[i], 123.5 + i);
    read_member(ds, "speedup_vs_fp16", H5T_NATIVE_DOUBLE, sizeof(double), d);
    for (int i = 0; i < 3; i++) cr_assert_eq(d[i], 1.625 + i);
    int64_t v[3];
    read_member(ds, "m", H5T_NATIVE_INT64, sizeof(int64_t), v);
    for (int i = 0; i < 3; i++) cr_assert_eq(v[i], 16 + i);
    read_member(ds, "peak_bytes", H5T_NATIVE_INT64, sizeof(int64_t), v);
    for (int i = 0; i < 3; i++) cr_assert_eq(v[i], 123456789 + i);

    hid_t st = H5Tcopy(H5T_C_S1);
    H5Tset_size(st, 32);
    char s[3][32];
    read_member(ds, "x_granularity", st, 32, s);
    for (int i = 0; i < 3; i++) cr_assert_str_eq(s[i], "row");
    read_member(ds, "workload", st, 32, s);
    cr_assert_str_eq(s[2], "synthetic-2");
    H5Tclose(st);

    /* status is an enum whose names are the words h5dump and h5py show */
    hid_t ft = H5Dget_type(ds);
    int idx = H5Tget_member_index(ft, "status");
    cr_assert_geq(idx, 0);
    cr_assert_eq(H5Tget_member_class(ft, (unsigned)idx), H5T_ENUM);
    hid_t et = H5Tget_member_type(ft, (unsigned)idx);
    char name[16];
    int32_t two = 2;
    cr_assert_geq(H5Tenum_nameof(et, &two, name, sizeof name), 0);
    cr_assert_str_eq(name, "skipped");
    H5Tclose(et);

    /* strings are fixed-length NUL-terminated of the C array's size */
    idx = H5Tget_member_index(ft, "layer");
    hid_t lt = H5Tget_member_type(ft, (unsigned)idx);
    cr_assert_eq(H5Tget_class(lt), H5T_STRING);
    cr_assert_eq(H5Tget_size(lt), (size_t)QLAB_LAYER_LEN);
    cr_assert_eq(H5Tget_strpad(lt), H5T_STR_NULLTERM);
    H5Tclose(lt);
    H5Tclose(ft);

    /* chunked and extendable */
    hid_t sp = H5Dget_space(ds);
    hsize_t dims, maxdims;
    H5Sget_simple_extent_dims(sp, &dims, &maxdims);
    cr_assert_eq(dims, 3);
    cr_assert_eq(maxdims, H5S_UNLIMITED);
    hid_t dcpl = H5Dget_create_plist(ds);
    cr_assert_eq(H5Pget_layout(dcpl), H5D_CHUNKED);
    H5Pclose(dcpl);
    H5Sclose(sp);
    H5Dclose(ds);

    ds = H5Dopen2(f, "/samples", H5P_DEFAULT);
    cr_assert_geq(ds, 0);
    double t[6];
    read_member(ds, "time_us", H5T_NATIVE_DOUBLE, sizeof(double), t);
    cr_assert_eq(t[5], 10.5 + 0.25 + 1002);
    H5Dclose(ds);
    H5Fclose(f);
}

Test(results, attributes_round_trip_with_their_types)
{
    const char *path = in_dir("a.h5");
    char err[512] = "";
    qlab_results *r;
    cr_assert_eq(qlab_results_create(path, &r, err, sizeof err), 0, "%s", err);
    cr_assert_eq(qlab_results_set_attr(r, "git_commit", "abc123", err, sizeof err), 0);
    cr_assert_eq(qlab_results_set_attr(r, "git_commit", "def456", err, sizeof err), 0);
    cr_assert_eq(qlab_results_set_attr(r, "config", "name: t\nquant:\n  scheme: [absmax]\n", err, sizeof err), 0);
    cr_assert_eq(qlab_results_set_attr_int(r, "points_total", -7, err, sizeof err), 0);
    cr_assert_eq(qlab_results_set_attr_int(r, "points_total", 1234567890123, err, sizeof err), 0);
    cr_assert_eq(qlab_results_close(r, "interrupted", err, sizeof err), 0, "%s", err);

    qlab_results_data d;
    cr_assert_eq(qlab_results_read(path, &d, err, sizeof err), 0, "%s", err);
    cr_assert_str_eq(qlab_results_attr(&d, "format"), "qlab-results");
    cr_assert_str_eq(qlab_results_attr(&d, "format_version"), "1");
    cr_assert_str_eq(qlab_results_attr(&d, "git_commit"), "def456");
    cr_assert_str_eq(qlab_results_attr(&d, "config"), "name: t\nquant:\n  scheme: [absmax]\n");
    cr_assert_str_eq(qlab_results_attr(&d, "points_total"), "1234567890123");
    cr_assert_str_eq(qlab_results_attr(&d, "status"), "interrupted");
    cr_assert_null(qlab_results_attr(&d, "no_such_key"));
    /* ISO 8601 UTC: 2024-05-01T12:34:56Z */
    const char *ts[2] = { qlab_results_attr(&d, "started_utc"), qlab_results_attr(&d, "finished_utc") };
    for (int i = 0; i < 2; i++) {
        cr_assert_not_null(ts[i]);
        cr_assert_eq(strlen(ts[i]), 20);
        cr_assert_eq(ts[i][4], '-');
        cr_assert_eq(ts[i][10], 'T');
        cr_assert_eq(ts[i][19], 'Z');
    }
    cr_assert_eq(d.n_points, 0);
    qlab_results_data_free(&d);

    /* in the file: points_total is an integer, strings are strings */
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    hid_t a = H5Aopen(f, "points_total", H5P_DEFAULT);
    int64_t v = 0;
    cr_assert_geq(H5Aread(a, H5T_NATIVE_INT64, &v), 0);
    cr_assert_eq(v, 1234567890123);
    H5Aclose(a);
    a = H5Aopen(f, "git_commit", H5P_DEFAULT);
    hid_t t = H5Aget_type(a);
    cr_assert_eq(H5Tget_class(t), H5T_STRING);
    char *s = NULL;
    hid_t mt = H5Tcopy(H5T_C_S1);
    H5Tset_size(mt, H5T_VARIABLE);
    H5Tset_cset(mt, H5T_CSET_UTF8);
    cr_assert_geq(H5Aread(a, mt, &s), 0);
    cr_assert_str_eq(s, "def456");
    H5free_memory(s);
    H5Tclose(mt);
    H5Tclose(t);
    H5Aclose(a);
    H5Fclose(f);
}

/* A file written by another tool, members in another order, one extra member and
 * some missing: the reader matches by name and leaves the missing ones zero. */
Test(results, reader_matches_members_by_name_not_layout)
{
    const char *path = in_dir("foreign.h5");
    hid_t f = H5Fcreate(path, H5F_ACC_EXCL, H5P_DEFAULT, H5P_DEFAULT);
    cr_assert_geq(f, 0);
    hid_t sc = H5Screate(H5S_SCALAR);
    hid_t st = H5Tcopy(H5T_C_S1);
    H5Tset_size(st, 13);
    hid_t a = H5Acreate2(f, "format", st, sc, H5P_DEFAULT, H5P_DEFAULT);
    H5Awrite(a, st, "qlab-results");
    H5Aclose(a);
    a = H5Acreate2(f, "format_version", H5T_STD_I32BE, sc, H5P_DEFAULT, H5P_DEFAULT);
    int32_t one = 1;
    H5Awrite(a, H5T_NATIVE_INT32, &one);
    H5Aclose(a);

    struct prow { float extra; char scheme[8]; double rel_err; int32_t m; int64_t id; };
    hid_t s8 = H5Tcopy(H5T_C_S1);
    H5Tset_size(s8, 8);
    hid_t pt = H5Tcreate(H5T_COMPOUND, sizeof(struct prow));
    H5Tinsert(pt, "extra", offsetof(struct prow, extra), H5T_NATIVE_FLOAT);
    H5Tinsert(pt, "scheme", offsetof(struct prow, scheme), s8);
    H5Tinsert(pt, "rel_err", offsetof(struct prow, rel_err), H5T_NATIVE_DOUBLE);
    H5Tinsert(pt, "m", offsetof(struct prow, m), H5T_NATIVE_INT32);
    H5Tinsert(pt, "id", offsetof(struct prow, id), H5T_NATIVE_INT64);
    struct prow rows[2] = { { 1.5f, "absmax", 0.25, 77, 5 }, { 2.5f, "fp16", 0.125, 99, 6 } };
    hsize_t dims = 2;
    hid_t sp = H5Screate_simple(1, &dims, NULL);
    hid_t ds = H5Dcreate2(f, "points", pt, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5Dwrite(ds, pt, H5S_ALL, H5S_ALL, H5P_DEFAULT, rows);
    H5Dclose(ds);
    H5Sclose(sp);
    dims = 0;
    sp = H5Screate_simple(1, &dims, NULL);
    hid_t lt = H5Tcreate(H5T_COMPOUND, 8);
    H5Tinsert(lt, "point_id", 0, H5T_NATIVE_INT64);
    ds = H5Dcreate2(f, "layers", lt, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5Dclose(ds);
    ds = H5Dcreate2(f, "samples", lt, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5Dclose(ds);
    H5Sclose(sp);
    H5Tclose(lt);
    H5Tclose(pt);
    H5Tclose(s8);
    H5Tclose(st);
    H5Sclose(sc);
    H5Fclose(f);

    qlab_results_data d;
    char err[512] = "";
    cr_assert_eq(qlab_results_read(path, &d, err, sizeof err), 0, "%s", err);
    cr_assert_eq(d.n_points, 2);
    cr_assert_eq(d.points[0].p.id, 5);
    cr_assert_eq(d.points[1].p.id, 6);
    cr_assert_str_eq(d.points[0].p.scheme, "absmax");
    cr_assert_str_eq(d.points[1].p.scheme, "fp16");
    cr_assert_eq(d.points[0].rel_err, 0.25);
    cr_assert_eq(d.points[1].p.m, 99);
    cr_assert_eq(d.points[1].sqnr_db, 0.0);
    cr_assert_str_eq(d.points[1].p.layer, "");
    cr_assert_eq(d.n_layers, 0);
    qlab_results_data_free(&d);
}

// ----------------------------------------------------------------------------
// create and open_append rules

Test(results, create_refuses_an_existing_file_and_leaves_it_alone)
{
    const char *path = in_dir("exists.h5");
    FILE *fp = fopen(path, "w");
    fputs("precious", fp);
    fclose(fp);
    qlab_results *r = (qlab_results *)1;
    char err[512] = "";
    cr_assert_eq(qlab_results_create(path, &r, err, sizeof err), 2);
    cr_assert_null(r);
    cr_assert_not_null(strstr(err, path), "message names the file: %s", err);
    cr_assert_not_null(strstr(err, "exists"), "%s", err);
    char buf[32] = "";
    fp = fopen(path, "r");
    cr_assert_not_null(fgets(buf, sizeof buf, fp));
    fclose(fp);
    cr_assert_str_eq(buf, "precious");
}

Test(results, create_reports_a_missing_or_unusable_directory)
{
    char err[512] = "";
    qlab_results *r;
    const char *path = in_dir("no/such/dir/x.h5");
    cr_assert_eq(qlab_results_create(path, &r, err, sizeof err), 2);
    cr_assert_not_null(strstr(err, "does not exist"), "%s", err);
    cr_assert_not_null(strstr(err, "no/such/dir"), "%s", err);

    const char *plain = in_dir("plainfile");
    FILE *fp = fopen(plain, "w");
    fclose(fp);
    char sub[600];
    snprintf(sub, sizeof sub, "%s/x.h5", plain);
    err[0] = 0;
    cr_assert_eq(qlab_results_create(sub, &r, err, sizeof err), 2);
    cr_assert_neq(err[0], 0);
}

Test(results, open_append_then_append_gives_the_union)
{
    const char *path = in_dir("a.h5");
    write_file(path, "interrupted");
    char err[512] = "";
    qlab_results *r;
    cr_assert_eq(qlab_results_open_append(path, &r, err, sizeof err), 0, "%s", err);
    qlab_row row = make_row(3);
    qlab_sample s = make_sample(row.p.id, 5);
    qlab_layer_row l = make_layer(row.p.id, 4);
    cr_assert_eq(qlab_results_append_batch(r, &row, &s, 1, &l, 1, err, sizeof err), 0, "%s", err);
    cr_assert_eq(qlab_results_close(r, "complete", err, sizeof err), 0, "%s", err);

    qlab_results_data d;
    cr_assert_eq(qlab_results_read(path, &d, err, sizeof err), 0, "%s", err);
    cr_assert_eq(d.n_points, 4);
    for (int i = 0; i < 4; i++) {
        qlab_row e = make_row(i);
        assert_row_eq(&d.points[i], &e);
    }
    cr_assert_eq(d.n_samples, 7);
    cr_assert_eq(d.samples[6].time_us, s.time_us);
    cr_assert_eq(d.n_layers, 3);
    cr_assert_str_eq(d.layers[2].layer_name, "decoder.4.fc1");
    /* attributes set before the interruption survive the resume */
    cr_assert_str_eq(qlab_results_attr(&d, "experiment"), "outlier-threshold");
    cr_assert_str_eq(qlab_results_attr(&d, "points_total"), "42");
    cr_assert_str_eq(qlab_results_attr(&d, "status"), "complete");
    qlab_results_data_free(&d);

    /* integer attributes stay integers through a resume */
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    hid_t a = H5Aopen(f, "points_total", H5P_DEFAULT);
    hid_t t = H5Aget_type(a);
    cr_assert_eq(H5Tget_class(t), H5T_INTEGER);
    H5Tclose(t);
    H5Aclose(a);
    H5Fclose(f);
}

Test(results, append_rows_adds_many_points_in_one_write)
{
    const char *path = in_dir("a.h5");
    char err[512] = "";
    qlab_results *r;
    cr_assert_eq(qlab_results_create(path, &r, err, sizeof err), 0, "%s", err);
    qlab_row rows[3] = { make_row(0), make_row(1), make_row(2) };
    cr_assert_eq(qlab_results_append_rows(r, rows, 3, err, sizeof err), 0, "%s", err);
    cr_assert_eq(qlab_results_append_rows(r, rows, 0, err, sizeof err), 0, "%s", err);
    cr_assert_eq(qlab_results_close(r, "complete", err, sizeof err), 0, "%s", err);
    qlab_results_data d;
    cr_assert_eq(qlab_results_read(path, &d, err, sizeof err), 0, "%s", err);
    cr_assert_eq(d.n_points, 3);
    for (int i = 0; i < 3; i++) assert_row_eq(&d.points[i], &rows[i]);
    qlab_results_data_free(&d);
}

Test(results, open_append_refuses_a_complete_run)
{
    const char *path = in_dir("a.h5");
    write_file(path, "complete");
    char err[512] = "";
    qlab_results *r = (qlab_results *)1;
    cr_assert_eq(qlab_results_open_append(path, &r, err, sizeof err), 2);
    cr_assert_null(r);
    cr_assert_not_null(strstr(err, "complete"), "%s", err);
    cr_assert_not_null(strstr(err, path), "%s", err);
}

Test(results, open_append_refuses_a_file_that_is_not_qlab)
{
    const char *path = in_dir("other.h5");
    hid_t f = H5Fcreate(path, H5F_ACC_EXCL, H5P_DEFAULT, H5P_DEFAULT);
    hid_t sc = H5Screate(H5S_SCALAR);
    hid_t st = H5Tcopy(H5T_C_S1);
    H5Tset_size(st, 10);
    hid_t a = H5Acreate2(f, "format", st, sc, H5P_DEFAULT, H5P_DEFAULT);
    H5Awrite(a, st, "qlab-dump");
    H5Aclose(a);
    H5Tclose(st);
    H5Sclose(sc);
    H5Fclose(f);
    char err[512] = "";
    qlab_results *r;
    cr_assert_eq(qlab_results_open_append(path, &r, err, sizeof err), 2);
    cr_assert_not_null(strstr(err, "not a qlab results file"), "%s", err);
    cr_assert_not_null(strstr(err, "qlab-dump"), "%s", err);
}

Test(results, close_rejects_an_unknown_status_but_still_closes)
{
    const char *path = in_dir("a.h5");
    char err[512] = "";
    qlab_results *r;
    cr_assert_eq(qlab_results_create(path, &r, err, sizeof err), 0, "%s", err);
    cr_assert_eq(qlab_results_close(r, "done", err, sizeof err), 2);
    cr_assert_not_null(strstr(err, "done"), "%s", err);
    qlab_results_data d;
    cr_assert_eq(qlab_results_read(path, &d, err, sizeof err), 0, "%s", err);
    cr_assert_str_eq(qlab_results_attr(&d, "status"), "interrupted");
    qlab_results_data_free(&d);
}

// ----------------------------------------------------------------------------
// bad files

static void assert_read_fails(const char *path, const char *want)
{
    qlab_results_data d;
    char err[512] = "";
    cr_assert_eq(qlab_results_read(path, &d, err, sizeof err), 2, "read of %s should fail", path);
    cr_assert_not_null(strstr(err, path), "message names the file: %s", err);
    if (want) cr_assert_not_null(strstr(err, want), "'%s' in: %s", want, err);
    cr_assert_eq(d.n_points, 0);
    cr_assert_null(d.points);
}

static void copy_prefix(const char *from, const char *to, long n)
{
    FILE *a = fopen(from, "rb"), *b = fopen(to, "wb");
    cr_assert(a && b);
    for (long i = 0; i < n; i++) {
        int c = fgetc(a);
        if (c == EOF) break;
        fputc(c, b);
    }
    fclose(a);
    fclose(b);
}

Test(results, truncated_copies_fail_cleanly)
{
    const char *path = in_dir("a.h5");
    write_file(path, "complete");
    struct stat st;
    stat(path, &st);
    /* cut at the start, inside the superblock, in the middle and just short of the end */
    long cuts[] = { 0, 40, st.st_size / 3, st.st_size / 2, st.st_size - 1 };
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
        const char *cut = in_dir("cut.h5");
        copy_prefix(path, cut, cuts[i]);
        assert_read_fails(cut, NULL);
    }
}

Test(results, random_bytes_fail_as_not_hdf5)
{
    const char *path = in_dir("noise.h5");
    FILE *fp = fopen(path, "wb");
    uint32_t x = 12345;
    for (int i = 0; i < 65536; i++) {
        x = x * 1664525u + 1013904223u;
        fputc((int)(x >> 24), fp);
    }
    fclose(fp);
    assert_read_fails(path, "not an HDF5 file");
    assert_read_fails(in_dir("missing.h5"), "cannot open");
}

Test(results, a_newer_format_version_is_refused)
{
    const char *path = in_dir("a.h5");
    write_file(path, "complete");
    hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    hid_t a = H5Aopen(f, "format_version", H5P_DEFAULT);
    int64_t v = QLAB_RESULTS_FORMAT_VERSION + 1;
    H5Awrite(a, H5T_NATIVE_INT64, &v);
    H5Aclose(a);
    H5Fclose(f);
    assert_read_fails(path, "newer");
}

Test(results, a_missing_table_is_named)
{
    const char *path = in_dir("a.h5");
    write_file(path, "complete");
    hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    H5Ldelete(f, "samples", H5P_DEFAULT);
    H5Fclose(f);
    assert_read_fails(path, "/samples");
}

// ----------------------------------------------------------------------------
// export

/* Exports to a string. */
static char *export_str(const qlab_results_data *d, const char *table, const char *format, int *rc)
{
    FILE *fp = tmpfile();
    cr_assert_not_null(fp);
    char err[256];
    *rc = qlab_results_export(d, table, format, fp, err, sizeof err);
    long len = ftell(fp);
    rewind(fp);
    char *buf = calloc((size_t)len + 1, 1);
    cr_assert_eq(fread(buf, 1, (size_t)len, fp), (size_t)len);
    fclose(fp);
    return buf;
}

static int count_lines(const char *s)
{
    int n = 0;
    for (; *s; s++) n += *s == '\n';
    return n;
}

Test(results, export_writes_a_header_and_one_line_per_row)
{
    const char *path = in_dir("a.h5");
    write_file(path, "complete");
    qlab_results_data d;
    char err[512];
    cr_assert_eq(qlab_results_read(path, &d, err, sizeof err), 0, "%s", err);
    struct { const char *table, *header; int rows; } want[] = {
        { "samples", "point_id,stage,time_us", 6 },
        { "layers", "point_id,layer_index,layer_name,mode,rel_err,sqnr_db,max_abs_err,"
                    "mean_abs_err,cosine,outlier_cols", 2 },
        { "points", "id,status,message,backend,seed,workload,path,layer,m,k,n,x_dist,x_std,"
                    "x_df,x_outlier_cols,x_outlier_scale,w_dist,w_std,w_df,w_outlier_cols,"
                    "w_outlier_scale,depth,model,mode,scheme,x_granularity,w_granularity,block,threshold,"
                    "outlier_weights,smooth_alpha,rel_err,sqnr_db,max_abs_err,mean_abs_err,cosine,x_rel_err,"
                    "w_rel_err,outlier_cols,outlier_frac,median_us,q1_us,q3_us,min_us,rel_stdev,"
                    "samples,cpu_other,tops,gbps,fp16_median_us,speedup_vs_fp16,w_bytes,w_bytes_fp16,"
                    "w_code_bytes,w_scale_bytes,w_scale2_bytes,w_outlier_bytes,"
                    "x_bytes,peak_bytes,rank_agreement", 3 },
    };
    for (size_t i = 0; i < 3; i++) {
        for (int csv = 0; csv < 2; csv++) {
            int rc;
            char *s = export_str(&d, want[i].table, csv ? "csv" : "tsv", &rc);
            cr_assert_eq(rc, 0);
            char header[1024];
            snprintf(header, sizeof header, "%s\n", want[i].header);
            if (!csv)
                for (char *p = header; *p; p++)
                    if (*p == ',') *p = '\t';
            cr_assert_eq(strncmp(s, header, strlen(header)), 0, "%s header:\n%s", want[i].table, s);
            cr_assert_eq(count_lines(s), want[i].rows + 1, "%s", s);
            free(s);
        }
    }
    int rc;
    char *s = export_str(&d, "samples", "tsv", &rc);
    cr_assert_str_eq(s, "point_id\tstage\ttime_us\n"
                        "1000\tquantize_x\t1010.5\n1000\tgemm_i8\t1010.75\n"
                        "1001\tquantize_x\t1011.5\n1001\tgemm_i8\t1011.75\n"
                        "1002\tquantize_x\t1012.5\n1002\tgemm_i8\t1012.75\n");
    free(s);
    s = export_str(&d, "points", "csv", &rc);
    /* second line, first fields: id, status name, quoted message, backend, seed */
    const char *line2 = strchr(s, '\n') + 1;
    const char *want2 = "1000,ok,\"message 0, with \"\"quotes\"\"\",cpu,17297691677506404352,synthetic-0,";
    cr_assert_eq(strncmp(line2, want2, strlen(want2)), 0, "%s", line2);
    cr_assert_not_null(strstr(s, "\n1002,skipped,"));
    free(s);
    s = export_str(&d, "points", "yaml", &rc);
    cr_assert_eq(rc, 2);
    free(s);
    s = export_str(&d, "nope", "csv", &rc);
    cr_assert_eq(rc, 2);
    free(s);
    qlab_results_data_free(&d);
}

Test(results, exported_doubles_read_back_exactly)
{
    qlab_sample s[4];
    const double v[4] = { 0.1, 1.0 / 3.0, 6.02214076e23, -2.2250738585072014e-308 };
    for (int i = 0; i < 4; i++) {
        memset(&s[i], 0, sizeof s[i]);
        s[i].point_id = i;
        strcpy(s[i].stage, i == 3 ? "has\ttab" : "total");
        s[i].time_us = v[i];
    }
    qlab_results_data d;
    memset(&d, 0, sizeof d);
    d.samples = s;
    d.n_samples = 4;
    int rc;
    char *out = export_str(&d, "samples", "tsv", &rc);
    cr_assert_eq(rc, 0);
    char *line = strchr(out, '\n') + 1;
    for (int i = 0; i < 4; i++) {
        char *tab2 = strchr(strchr(line, '\t') + 1, '\t');
        cr_assert_eq(strtod(tab2 + 1, NULL), v[i], "line %d: %s", i, line);
        line = strchr(line, '\n') + 1;
    }
    cr_assert_not_null(strstr(out, "\t0.1\n"), "shortest exact form: %s", out);
    cr_assert_not_null(strstr(out, "3\thas tab\t"), "a tab in a TSV string becomes a space: %s", out);
    free(out);
}

// ----------------------------------------------------------------------------
// crash safety

#define KILL_ROUNDS 30
#define KILL_SAMPLES 100

static int64_t read_count(int fd)
{
    int64_t last = 0, v;
    while (read(fd, &v, sizeof v) == (ssize_t)sizeof v) last = v;
    return last;
}

/* Child: resumes the file and appends points id = base, base+1, ... with samples,
 * writing the number of appends returned so far to fd after each. Never returns. */
static void append_forever(const char *path, int fd)
{
    char err[512];
    qlab_results *r;
    if (qlab_results_open_append(path, &r, err, sizeof err)) _exit(3);
    qlab_results_data d;
    if (qlab_results_read(path, &d, err, sizeof err)) _exit(4);
    int64_t base = d.n_points;
    qlab_results_data_free(&d);
    qlab_sample s[KILL_SAMPLES];
    for (int64_t i = 0;; i++) {
        qlab_row row = make_row((int)(base + i));
        for (int j = 0; j < KILL_SAMPLES; j++) s[j] = make_sample(row.p.id, j);
        if (qlab_results_append_batch(r, &row, s, KILL_SAMPLES, NULL, 0, err, sizeof err)) _exit(5);
        int64_t n = i + 1;
        if (write(fd, &n, sizeof n) != (ssize_t)sizeof n) _exit(6);
    }
}

static int tmp_exists(const char *path)
{
    char p[600];
    const char *base = strrchr(path, '/') + 1;
    DIR *d = opendir(dir);
    struct dirent *e;
    int found = 0;
    while ((e = readdir(d)))
        if (strncmp(e->d_name, base, strlen(base)) == 0 && strstr(e->d_name, ".tmp-")) found = 1;
    closedir(d);
    (void)p;
    return found;
}

Test(results, sigkill_at_random_moments_loses_no_returned_append, .timeout = 300)
{
    const char *path = in_dir("killed.h5");
    char err[512] = "";
    qlab_results *r;
    cr_assert_eq(qlab_results_create(path, &r, err, sizeof err), 0, "%s", err);
    cr_assert_eq(qlab_results_close(r, "interrupted", err, sizeof err), 0, "%s", err);
    int have_h5dump = system("command -v h5dump >/dev/null 2>&1") == 0;

    int64_t expected = 0;   /* rows known to be in the file */
    int mid_write = 0;      /* kills that landed mid-write (see below) */
    uint32_t x = 2024;
    for (int round = 0; round < KILL_ROUNDS; round++) {
        int pfd[2];
        cr_assert_eq(pipe(pfd), 0);
        pid_t pid = fork();
        cr_assert_geq(pid, 0);
        if (pid == 0) {
            close(pfd[0]);
            append_forever(path, pfd[1]);
        }
        close(pfd[1]);
        x = x * 1664525u + 1013904223u;
        /* 5..200 ms: from before the first append to deep in the loop */
        long us = 5000 + (long)(x >> 8) % 195000;
        struct timespec ts = { 0, us * 1000 };
        nanosleep(&ts, NULL);
        kill(pid, SIGKILL);
        int wst;
        waitpid(pid, &wst, 0);
        cr_assert(WIFSIGNALED(wst), "round %d: child ended on its own (status %d)", round,
                  WIFEXITED(wst) ? WEXITSTATUS(wst) : -1);
        int64_t returned = read_count(pfd[0]);
        close(pfd[0]);
        int torn_or_fold = tmp_exists(path) || qlab_journal_torn(path) == 1;

        if (have_h5dump) {
            char cmd[700];
            snprintf(cmd, sizeof cmd, "h5dump -H '%s' >/dev/null 2>&1", path);
            cr_assert_eq(system(cmd), 0, "round %d: h5dump cannot open the file", round);
        }
        qlab_results_data d;
        cr_assert_eq(qlab_results_read(path, &d, err, sizeof err), 0, "round %d: %s", round, err);
        /* every returned append is there; at most the one in flight besides */
        cr_assert_geq(d.n_points, expected + returned, "round %d", round);
        cr_assert_leq(d.n_points, expected + returned + 1, "round %d", round);
        /* the kill landed inside a write: a fold's temporary, a torn journal record,
         * or an append that reached the disk but not the child's report */
        mid_write += torn_or_fold || d.n_points == expected + returned + 1;
        cr_assert_eq(d.n_samples, d.n_points * KILL_SAMPLES, "round %d", round);
        for (int64_t i = 0; i < d.n_points; i++) {
            qlab_row e = make_row((int)i);
            assert_row_eq(&d.points[i], &e);
        }
        for (int64_t i = 0; i < d.n_samples; i += 37) {
            qlab_sample e = make_sample(1000 + i / KILL_SAMPLES, (int)(i % KILL_SAMPLES));
            cr_assert_eq(d.samples[i].point_id, e.point_id);
            cr_assert_eq(d.samples[i].time_us, e.time_us);
        }
        expected = d.n_points;
        qlab_results_data_free(&d);

        /* the killed writer's temporary never takes the results name, and the next
         * open removes it */
        if (tmp_exists(path)) {
            cr_assert_eq(qlab_results_open_append(path, &r, err, sizeof err), 0, "%s", err);
            cr_assert_not(tmp_exists(path), "round %d: stale temporary not removed", round);
            cr_assert_eq(qlab_results_close(r, "interrupted", err, sizeof err), 0, "%s", err);
        }
    }
    cr_assert_gt(expected, KILL_ROUNDS, "the children appended (%ld rows in all)", (long)expected);
    /* How many kills landed inside a write depends on timing (rarely any under a
     * sanitizer's slowdown): reported, not asserted. The windows a kill can hit are
     * each forced deterministically by the journal tests below (a torn record, a kill
     * between a fold and the emptying of the journal). */
    cr_log_info("%d of %d kills landed inside a write", mid_write, KILL_ROUNDS);
}

/* ---------------------------------------------------------------------------- */
/* The journal: appends cost O(1); readers see every acknowledged point            */

/* A child process creates `name`, appends n points with 3 samples each and exits
 * without closing (as a killed run would). With fold_then_restore, it then forces a
 * fold (an attribute change) and writes the journal's old bytes back, as a kill
 * between the fold and the emptying of the journal would leave them. */
static void child_appends(const char *name, int n, int fold_then_restore)
{
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        char err[512];
        qlab_results *r;
        if (qlab_results_create(in_dir(name), &r, err, sizeof err)) _exit(3);
        for (int i = 0; i < n; i++) {
            qlab_row row = make_row(i);
            qlab_sample s[3] = {make_sample(row.p.id, 0), make_sample(row.p.id, 1), make_sample(row.p.id, 2)};
            if (qlab_results_append_batch(r, &row, s, 3, NULL, 0, err, sizeof err)) _exit(4);
        }
        if (fold_then_restore) {
            char jp[600];
            qlab_journal_path(in_dir(name), jp, sizeof jp);
            FILE *f = fopen(jp, "rb");
            static char saved[1 << 20];
            size_t len = f ? fread(saved, 1, sizeof saved, f) : 0;
            if (f) fclose(f);
            if (qlab_results_set_attr(r, "note", "folded", err, sizeof err)) _exit(5);
            f = fopen(jp, "wb");
            if (!f || fwrite(saved, 1, len, f) != len || fclose(f)) _exit(6);
        }
        _exit(0);
    }
    int st;
    waitpid(pid, &st, 0);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child failed (%d)", WIFEXITED(st) ? WEXITSTATUS(st) : -1);
}

static off_t file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? st.st_size : -1;
}

Test(results, points_only_in_the_journal_are_read_and_resume_folds_them)
{
    child_appends("journal.h5", 5, 0);
    char jp[600], err[512];
    qlab_journal_path(in_dir("journal.h5"), jp, sizeof jp);
    cr_assert_gt(file_size(jp), 32, "the points wait in the journal");
    qlab_results_data d;
    cr_assert_eq(qlab_results_read(in_dir("journal.h5"), &d, err, sizeof err), 0, "%s", err);
    cr_assert_eq(d.n_points, 5);
    cr_assert_eq(d.n_samples, 15);
    for (int64_t i = 0; i < d.n_points; i++) {
        qlab_row e = make_row((int)i);
        assert_row_eq(&d.points[i], &e);
    }
    qlab_results_data_free(&d);
    /* resume and close: everything folded into the file, the journal gone */
    qlab_results *r;
    cr_assert_eq(qlab_results_open_append(in_dir("journal.h5"), &r, err, sizeof err), 0, "%s", err);
    qlab_row row = make_row(5);
    cr_assert_eq(qlab_results_append_point(r, &row, err, sizeof err), 0, "%s", err);
    cr_assert_eq(qlab_results_close(r, "complete", err, sizeof err), 0, "%s", err);
    cr_assert_eq(file_size(jp), -1, "the journal is removed once folded");
    cr_assert_eq(qlab_results_read(in_dir("journal.h5"), &d, err, sizeof err), 0, "%s", err);
    cr_assert_eq(d.n_points, 6);
    cr_assert_eq(d.n_samples, 15);
    qlab_results_data_free(&d);
}

Test(results, a_torn_journal_record_is_ignored_and_cut_off_by_the_next_writer)
{
    child_appends("torn.h5", 4, 0);
    char jp[600], err[512];
    qlab_journal_path(in_dir("torn.h5"), jp, sizeof jp);
    off_t sz = file_size(jp);
    cr_assert_eq(truncate(jp, sz - 7), 0);   /* the last append cut short by a kill */
    cr_assert_eq(qlab_journal_torn(in_dir("torn.h5")), 1);
    qlab_results_data d;
    cr_assert_eq(qlab_results_read(in_dir("torn.h5"), &d, err, sizeof err), 0, "%s", err);
    cr_assert_eq(d.n_points, 3, "the torn record was never acknowledged");
    qlab_results_data_free(&d);
    qlab_results *r;
    cr_assert_eq(qlab_results_open_append(in_dir("torn.h5"), &r, err, sizeof err), 0, "%s", err);
    cr_assert_eq(qlab_journal_torn(in_dir("torn.h5")), 0, "the writer cut the torn tail off");
    cr_assert_eq(qlab_results_close(r, "interrupted", err, sizeof err), 0, "%s", err);
    cr_assert_eq(qlab_results_read(in_dir("torn.h5"), &d, err, sizeof err), 0, "%s", err);
    cr_assert_eq(d.n_points, 3);
    qlab_results_data_free(&d);
}

Test(results, records_already_folded_are_not_added_twice)
{
    child_appends("twice.h5", 4, 1);
    char jp[600], err[512];
    qlab_journal_path(in_dir("twice.h5"), jp, sizeof jp);
    cr_assert_gt(file_size(jp), 32, "the stale journal is there");
    qlab_results_data d;
    cr_assert_eq(qlab_results_read(in_dir("twice.h5"), &d, err, sizeof err), 0, "%s", err);
    cr_assert_eq(d.n_points, 4, "folded records skipped by their numbers");
    cr_assert_eq(d.n_samples, 12);
    cr_assert_str_eq(qlab_results_attr(&d, "journal_folded"), "4");
    qlab_results_data_free(&d);
}

Test(results, a_new_run_ignores_the_journal_of_a_deleted_file)
{
    child_appends("gone.h5", 3, 0);
    cr_assert_eq(unlink(in_dir("gone.h5")), 0);   /* the user removes the file only */
    char err[512];
    qlab_results *r;
    cr_assert_eq(qlab_results_create(in_dir("gone.h5"), &r, err, sizeof err), 0, "%s", err);
    cr_assert_eq(qlab_results_close(r, "complete", err, sizeof err), 0, "%s", err);
    qlab_results_data d;
    cr_assert_eq(qlab_results_read(in_dir("gone.h5"), &d, err, sizeof err), 0, "%s", err);
    cr_assert_eq(d.n_points, 0);
    qlab_results_data_free(&d);
}

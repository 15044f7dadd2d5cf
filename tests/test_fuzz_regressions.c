/* test_fuzz_regressions.c: inputs that once broke a reader, and damaged files.
 *
 * Every file under tests/data/fuzz-regressions/NAME/ (kept there by fuzz/run.sh
 * when a fuzzer found it) is replayed through the entry point its fuzzer drives:
 * config -> qlab_experiment_load_string, results -> qlab_results_read, dump ->
 * qlab_dump_inspect and qlab_dump_read_layer of every layer listed. Each must
 * return 0 or a clean error (2 with a message) within the test's timeout; Criterion
 * runs each test in its own process, so a crash or hang fails the test rather than
 * the suite. Then bad results files built with the HDF5 API (a member of the wrong
 * type, a table that is not a compound table, a declared row count far beyond the
 * bytes stored) and bad config text (not UTF-8, NUL bytes): each a clear error.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sweep/config.h"
#include "store/dump.h"
#include "store/results.h"

#define REG_DIR "tests/data/fuzz-regressions"

// ----------------------------------------------------------------------------
// replay

static unsigned char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "cannot open %s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    rewind(f);
    unsigned char *buf = malloc((size_t)n + 1);
    cr_assert_not_null(buf);
    cr_assert_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    buf[n] = 0;
    *len = (size_t)n;
    return buf;
}

/* Calls fn on every file in REG_DIR/name; returns how many. */
static int replay(const char *name, void (*fn)(const char *path))
{
    char d[512];
    snprintf(d, sizeof d, "%s/%s", REG_DIR, name);
    DIR *dp = opendir(d);
    if (!dp) return 0;
    struct dirent *e;
    int n = 0;
    while ((e = readdir(dp))) {
        if (e->d_name[0] == '.') continue;
        char p[1024];
        snprintf(p, sizeof p, "%s/%s", d, e->d_name);
        fn(p);
        n++;
    }
    closedir(dp);
    return n;
}

static void replay_config(const char *path)
{
    size_t len;
    unsigned char *text = slurp(path, &len);
    qlab_experiment e;
    char err[1024] = "";
    int rc = qlab_experiment_load_string((const char *)text, path, NULL, 0, &e, err, sizeof err);
    cr_assert(rc == 0 || rc == 2, "%s: load returned %d", path, rc);
    if (rc == 0) qlab_experiment_free(&e);
    else cr_assert_neq(err[0], 0, "%s: an error comes with a message", path);
    free(text);
}

static void replay_results(const char *path)
{
    qlab_results_data d;
    char err[1024] = "";
    int rc = qlab_results_read(path, &d, err, sizeof err);
    cr_assert(rc == 0 || rc == 2, "%s: read returned %d", path, rc);
    if (rc == 0) qlab_results_data_free(&d);
    else cr_assert_neq(err[0], 0, "%s: an error comes with a message", path);
}

static void replay_dump(const char *path)
{
    qlab_dump_info info;
    char err[1024] = "";
    int rc = qlab_dump_inspect(path, &info, err, sizeof err);
    cr_assert(rc == 0 || rc == 2, "%s: inspect returned %d", path, rc);
    if (rc == 2) {
        cr_assert_neq(err[0], 0, "%s: an error comes with a message", path);
        return;
    }
    for (int64_t i = 0; i < info.n_layers; i++) {
        qlab_dump_tensors t;
        err[0] = 0;
        rc = qlab_dump_read_layer(path, info.layers[i].group, &t, err, sizeof err);
        cr_assert(rc == 0 || rc == 2, "%s: read_layer returned %d", path, rc);
        if (rc == 0) qlab_dump_tensors_free(&t);
        else cr_assert_neq(err[0], 0, "%s: an error comes with a message", path);
    }
    qlab_dump_info_free(&info);
}

Test(fuzz_regressions, dump_inputs_read_or_fail_cleanly, .timeout = 60)
{
    int n = replay("dump", replay_dump);
    cr_assert_geq(n, 1, "the dump regression inputs are missing");
}

Test(fuzz_regressions, a_dump_declaring_gigabytes_it_does_not_store_is_refused_before_allocating)
{
    /* tiny.h5 with weight [4, 8] and input [3, 8] re-declared as k = 3e8 in the
     * dataspace messages: 2.4 GB of float16 declared, 64 bytes stored. It used to
     * allocate 4.8 GB of float32 before HDF5 refused the read. */
    const char *p = REG_DIR "/dump/oom-contiguous-k300000000.h5";
    qlab_dump_info info;
    char err[1024] = "";
    cr_assert_eq(qlab_dump_inspect(p, &info, err, sizeof err), 2);
    cr_assert_not_null(strstr(err, "declares 2400000000 bytes of data but stores 64"), "%s", err);
    cr_assert_null(info.layers);
}

Test(fuzz_regressions, config_inputs_load_or_fail_cleanly, .timeout = 60)
{
    int n = replay("config", replay_config);
    cr_log_info("%d config regression inputs replayed", n);
}

Test(fuzz_regressions, results_inputs_read_or_fail_cleanly, .timeout = 60)
{
    int n = replay("results", replay_results);
    cr_log_info("%d results regression inputs replayed", n);
}

// ----------------------------------------------------------------------------
// bad config text

Test(bad_input, config_that_is_not_utf8_is_refused_with_its_position, .timeout = 10)
{
    /* libfyaml 0.7.12 loops forever on this one (a directive with a stray byte) */
    const char *text = "name: x\n%worklo\xcd" "ad: 1\n";
    qlab_experiment e;
    char err[512];
    cr_assert_eq(qlab_experiment_load_string(text, "t.yaml", NULL, 0, &e, err, sizeof err), 2);
    cr_assert_not_null(strstr(err, "t.yaml:2:8"), "%s", err);
    cr_assert_not_null(strstr(err, "UTF-8"), "%s", err);
    const char *overlong = "name: x\xc0\xaf\n";
    cr_assert_eq(qlab_experiment_load_string(overlong, "o.yaml", NULL, 0, &e, err, sizeof err), 2);
    cr_assert_not_null(strstr(err, "UTF-8"), "%s", err);
}

Test(bad_input, config_with_well_formed_utf8_still_parses)
{
    const char *text = "name: u\n# caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\ndescription: \"\xc3\xa9t\xc3\xa9\"\n"
                       "backend: cpu\nworkload: {m: 4, k: 8, n: 4}\nquant: {scheme: absmax}\n";
    qlab_experiment e;
    char err[512] = "";
    cr_assert_eq(qlab_experiment_load_string(text, "u.yaml", NULL, 0, &e, err, sizeof err), 0, "%s", err);
    cr_assert_eq(e.n_points, 1);
    qlab_experiment_free(&e);
}

Test(bad_input, config_file_with_a_nul_byte_is_refused)
{
    char path[] = "/tmp/qlab-test-nul-XXXXXX";
    int fd = mkstemp(path);
    cr_assert(fd >= 0);
    const char text[] = "name: x\nworkload: {m: 4, k: 8, n: 4}\n\0quant: {scheme: absmax}\n";
    cr_assert_eq(write(fd, text, sizeof text - 1), (ssize_t)(sizeof text - 1));
    close(fd);
    qlab_experiment e;
    char err[512] = "";
    int rc = qlab_experiment_load(path, NULL, 0, &e, err, sizeof err);
    unlink(path);
    cr_assert_eq(rc, 2, "a NUL byte in the file must not silently cut the config short");
    cr_assert_not_null(strstr(err, path), "%s", err);
}

// ----------------------------------------------------------------------------
// bad results files

static char dir[64];
static void make_dir(void) { strcpy(dir, "/tmp/qlab-test-badh5-XXXXXX"); cr_assert_not_null(mkdtemp(dir)); }
static void remove_dir(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_assert_eq(system(cmd), 0);
}

/* A valid results file with n points; returns its path. */
static const char *good_file(const char *name, int n)
{
    static char p[512];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    qlab_results *r;
    char err[512];
    cr_assert_eq(qlab_results_create(p, &r, err, sizeof err), 0, "%s", err);
    for (int i = 0; i < n; i++) {
        qlab_row row;
        memset(&row, 0, sizeof row);
        row.p.id = i;
        row.p.m = row.p.k = row.p.n = 8;
        snprintf(row.p.scheme, sizeof row.p.scheme, "absmax");
        row.rel_err = 0.01 * (i + 1);
        cr_assert_eq(qlab_results_append_point(r, &row, err, sizeof err), 0, "%s", err);
    }
    cr_assert_eq(qlab_results_close(r, "complete", err, sizeof err), 0, "%s", err);
    return p;
}

static void assert_refused(const char *path, const char *want)
{
    qlab_results_data d;
    char err[1024] = "";
    cr_assert_eq(qlab_results_read(path, &d, err, sizeof err), 2, "read of %s should fail", path);
    cr_assert_not_null(strstr(err, path), "the message names the file: %s", err);
    cr_assert_not_null(strstr(err, want), "'%s' in: %s", want, err);
    cr_assert_null(d.points);
}

/* Replaces table /name with a dataset of the given type and shape. */
static void replace_table(const char *path, const char *name, hid_t type, int rank, const hsize_t *dims)
{
    hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    cr_assert(f >= 0);
    cr_assert(H5Ldelete(f, name, H5P_DEFAULT) >= 0);
    hid_t sp = H5Screate_simple(rank, dims, NULL);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    H5Pset_alloc_time(dcpl, H5D_ALLOC_TIME_EARLY);   /* stored, like a written table */
    hid_t ds = H5Dcreate2(f, name, type, sp, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    H5Pclose(dcpl);
    cr_assert(ds >= 0);
    H5Dclose(ds);
    H5Sclose(sp);
    H5Fclose(f);
}

TestSuite(bad_results, .init = make_dir, .fini = remove_dir);

Test(bad_results, a_member_of_the_wrong_type_is_named)
{
    const char *p = good_file("a.h5", 2);
    hid_t str = H5Tcopy(H5T_C_S1);
    H5Tset_size(str, 16);
    hid_t t = H5Tcreate(H5T_COMPOUND, 8 + 16);
    H5Tinsert(t, "id", 0, H5T_STD_I64LE);
    H5Tinsert(t, "rel_err", 8, str);     /* a string where a float belongs */
    hsize_t n = 2;
    replace_table(p, "points", t, 1, &n);
    H5Tclose(t);
    H5Tclose(str);
    assert_refused(p, "'rel_err' has the wrong type");
}

Test(bad_results, a_table_that_is_not_a_compound_table_is_refused)
{
    const char *p = good_file("a.h5", 1);
    hsize_t n = 4;
    replace_table(p, "samples", H5T_IEEE_F64LE, 1, &n);
    assert_refused(p, "/samples is not a 1-D compound table");
    hsize_t dims2[2] = { 2, 2 };
    hid_t t = H5Tcreate(H5T_COMPOUND, 8);
    H5Tinsert(t, "id", 0, H5T_STD_I64LE);
    replace_table(p, "samples", t, 2, dims2);
    H5Tclose(t);
    assert_refused(p, "/samples is not a 1-D compound table");
}

Test(bad_results, a_huge_declared_row_count_is_refused_before_allocating, .timeout = 30)
{
    const char *p = good_file("a.h5", 3);
    hid_t f = H5Fopen(p, H5F_ACC_RDWR, H5P_DEFAULT);
    hid_t ds = H5Dopen2(f, "points", H5P_DEFAULT);
    hsize_t huge = (hsize_t)1 << 40;   /* a trillion rows, none of them stored */
    cr_assert(H5Dset_extent(ds, &huge) >= 0);
    H5Dclose(ds);
    H5Fclose(f);
    assert_refused(p, "/points: stores 1 of its");
    assert_refused(p, "never written");
}

Test(bad_results, a_good_file_still_reads)
{
    const char *p = good_file("a.h5", 3);
    qlab_results_data d;
    char err[512];
    cr_assert_eq(qlab_results_read(p, &d, err, sizeof err), 0, "%s", err);
    cr_assert_eq(d.n_points, 3);
    cr_assert_float_eq(d.points[2].rel_err, 0.03, 1e-15);
    qlab_results_data_free(&d);
}

/* results.c: the HDF5 results file (DESIGN section 7): writing, reading, export.
 *
 * Layout: root attributes (strings as variable-length UTF-8, which h5dump prints
 * plainly and h5py returns as str; format_version and points_total as 64-bit
 * integers) and three chunked, extendable 1-D datasets /points, /layers, /samples of
 * compound types built from the column tables below. The same tables drive the
 * packed file types, the in-memory types (HDF5 converts member by member, matched by
 * NAME, so a reader never depends on the file's layout) and TSV/CSV export.
 *
 * Crash safety: why whole-file atomic replacement.
 * A kill -9 must never leave a file that h5dump cannot open, whatever instruction
 * the writer was executing. Updating an HDF5 file in place cannot promise that: an
 * extend + write + H5Fflush rewrites the superblock, object headers, B-tree nodes and
 * the free-space/EOA bookkeeping in several separate write() calls, and a kill
 * between two of them leaves metadata that points at data that is not there (the
 * library does not journal). SWMR write mode orders its flushes so that a *reader*
 * sees consistent metadata, but in HDF5 1.10 a killed SWMR writer leaves the
 * superblock's "file open for SWMR write" status flags set and H5Fopen, and hence a
 * plain h5dump, refuses the file until `h5clear -s` is run (checked: a writer
 * killed after H5Fstart_swmr_write + H5Fflush leaves a file h5dump 1.10.8 will not
 * open, with HDF5_USE_FILE_LOCKING=FALSE too); DESIGN asks for a file that opens
 * "with no help".
 * So the writer keeps the tables in memory, and after every change it builds a
 * complete file image (core driver, in memory), writes it to FILE.tmp-PID in the
 * same directory, fsyncs it, rename()s it over FILE and fsyncs the directory.
 * rename() within one file system is atomic: at every instant FILE is either the
 * previous complete file or the new complete file. A kill leaves at worst a stale
 * FILE.tmp-PID, which never has the results name and is removed by the next create
 * or open_append in that directory when its process is gone. The first file is put
 * in place with link(), which fails if FILE appeared meanwhile, so nothing is ever
 * overwritten. tests/test_results.c kills appending children at random moments and
 * checks every returned row is in a file that this reader and h5dump open.
 * Cost, and the journal: rewriting the whole file after every append made a run's
 * I/O grow with the square of its size (7,280 tiny points took 12-24x as long as
 * 1,456). So an append goes to the journal beside the file (journal.h: one record
 * per point, fsynced, O(1)), and the file is rewritten (a "fold": every row in
 * memory, attribute journal_folded = the records it holds, then the journal is
 * emptied) only when the journal has grown to the size of the last image (at least
 * FOLD_MIN_BYTES), when FOLD_MIN_S have passed and the last fold cost under 5% of
 * that, on any attribute change, and at close. The folds' sizes grow geometrically,
 * so the total cost is linear. Readers take the journal's records that the file
 * does not hold yet (qlab_results_read), so every qlab command sees every finished
 * point; a plain HDF5 reader (h5py, h5dump) sees the file as of the last fold until
 * the run ends, when the journal is folded and removed.
 */
#define _GNU_SOURCE
#include "store/results.h"
#include "store/h5check.h"
#include "store/journal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <hdf5.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* ---------------------------------------------------------------------------- */
/* Column tables                                                                 */

#define COL(name, type, field, kind) { name, offsetof(type, field), kind, sizeof(((type *)0)->field) }

static const qlab_column points_cols[] = {
    COL("id", qlab_row, p.id, QLAB_COL_I64),
    COL("status", qlab_row, status, QLAB_COL_STATUS),
    COL("message", qlab_row, message, QLAB_COL_STR),
    COL("backend", qlab_row, backend, QLAB_COL_STR),
    COL("seed", qlab_row, p.seed, QLAB_COL_U64),
    COL("workload", qlab_row, p.workload, QLAB_COL_STR),
    COL("path", qlab_row, p.path, QLAB_COL_STR),
    COL("layer", qlab_row, p.layer, QLAB_COL_STR),
    COL("m", qlab_row, p.m, QLAB_COL_I64),
    COL("k", qlab_row, p.k, QLAB_COL_I64),
    COL("n", qlab_row, p.n, QLAB_COL_I64),
    COL("x_dist", qlab_row, p.x.dist, QLAB_COL_STR),
    COL("x_std", qlab_row, p.x.std, QLAB_COL_F64),
    COL("x_df", qlab_row, p.x.df, QLAB_COL_F64),
    COL("x_outlier_cols", qlab_row, p.x.outlier_cols, QLAB_COL_F64),
    COL("x_outlier_scale", qlab_row, p.x.outlier_scale, QLAB_COL_F64),
    COL("w_dist", qlab_row, p.w.dist, QLAB_COL_STR),
    COL("w_std", qlab_row, p.w.std, QLAB_COL_F64),
    COL("w_df", qlab_row, p.w.df, QLAB_COL_F64),
    COL("w_outlier_cols", qlab_row, p.w.outlier_cols, QLAB_COL_F64),
    COL("w_outlier_scale", qlab_row, p.w.outlier_scale, QLAB_COL_F64),
    COL("depth", qlab_row, p.depth, QLAB_COL_I64),
    COL("model", qlab_row, p.model, QLAB_COL_STR),
    COL("mode", qlab_row, p.mode, QLAB_COL_STR),
    COL("scheme", qlab_row, p.scheme, QLAB_COL_STR),
    COL("x_granularity", qlab_row, p.x_granularity, QLAB_COL_STR),
    COL("w_granularity", qlab_row, p.w_granularity, QLAB_COL_STR),
    COL("block", qlab_row, p.block, QLAB_COL_I64),
    COL("threshold", qlab_row, p.threshold, QLAB_COL_F64),
    COL("outlier_weights", qlab_row, p.outlier_weights, QLAB_COL_STR),
    COL("smooth_alpha", qlab_row, p.smooth_alpha, QLAB_COL_F64),
    COL("rel_err", qlab_row, rel_err, QLAB_COL_F64),
    COL("sqnr_db", qlab_row, sqnr_db, QLAB_COL_F64),
    COL("max_abs_err", qlab_row, max_abs_err, QLAB_COL_F64),
    COL("mean_abs_err", qlab_row, mean_abs_err, QLAB_COL_F64),
    COL("cosine", qlab_row, cosine, QLAB_COL_F64),
    COL("x_rel_err", qlab_row, x_rel_err, QLAB_COL_F64),
    COL("w_rel_err", qlab_row, w_rel_err, QLAB_COL_F64),
    COL("outlier_cols", qlab_row, outlier_cols, QLAB_COL_I64),
    COL("outlier_frac", qlab_row, outlier_frac, QLAB_COL_F64),
    COL("median_us", qlab_row, t.median_us, QLAB_COL_F64),
    COL("q1_us", qlab_row, t.q1_us, QLAB_COL_F64),
    COL("q3_us", qlab_row, t.q3_us, QLAB_COL_F64),
    COL("min_us", qlab_row, t.min_us, QLAB_COL_F64),
    COL("rel_stdev", qlab_row, t.rel_stdev, QLAB_COL_F64),
    COL("samples", qlab_row, t.samples, QLAB_COL_I64),
    COL("cpu_other", qlab_row, t.cpu_other, QLAB_COL_F64),
    COL("tops", qlab_row, tops, QLAB_COL_F64),
    COL("gbps", qlab_row, gbps, QLAB_COL_F64),
    COL("fp16_median_us", qlab_row, fp16_median_us, QLAB_COL_F64),
    COL("speedup_vs_fp16", qlab_row, speedup_vs_fp16, QLAB_COL_F64),
    COL("w_bytes", qlab_row, w_bytes, QLAB_COL_I64),
    COL("w_bytes_fp16", qlab_row, w_bytes_fp16, QLAB_COL_I64),
    COL("w_code_bytes", qlab_row, w_code_bytes, QLAB_COL_I64),
    COL("w_scale_bytes", qlab_row, w_scale_bytes, QLAB_COL_I64),
    COL("w_scale2_bytes", qlab_row, w_scale2_bytes, QLAB_COL_I64),
    COL("w_outlier_bytes", qlab_row, w_outlier_bytes, QLAB_COL_I64),
    COL("x_bytes", qlab_row, x_bytes, QLAB_COL_I64),
    COL("peak_bytes", qlab_row, peak_bytes, QLAB_COL_I64),
    COL("rank_agreement", qlab_row, rank_agreement, QLAB_COL_F64),
};

static const qlab_column layers_cols[] = {
    COL("point_id", qlab_layer_row, point_id, QLAB_COL_I64),
    COL("layer_index", qlab_layer_row, layer_index, QLAB_COL_I64),
    COL("layer_name", qlab_layer_row, layer_name, QLAB_COL_STR),
    COL("mode", qlab_layer_row, mode, QLAB_COL_STR),
    COL("rel_err", qlab_layer_row, rel_err, QLAB_COL_F64),
    COL("sqnr_db", qlab_layer_row, sqnr_db, QLAB_COL_F64),
    COL("max_abs_err", qlab_layer_row, max_abs_err, QLAB_COL_F64),
    COL("mean_abs_err", qlab_layer_row, mean_abs_err, QLAB_COL_F64),
    COL("cosine", qlab_layer_row, cosine, QLAB_COL_F64),
    COL("outlier_cols", qlab_layer_row, outlier_cols, QLAB_COL_I64),
};

static const qlab_column samples_cols[] = {
    COL("point_id", qlab_sample, point_id, QLAB_COL_I64),
    COL("stage", qlab_sample, stage, QLAB_COL_STR),
    COL("time_us", qlab_sample, time_us, QLAB_COL_F64),
};

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

/* One table: its dataset name, columns and chunk size (rows). Chunks of roughly
 * 100-200 KiB: big enough for fast sequential reads, small enough that a short run
 * does not carry much slack. */
typedef struct {
    const char *name;
    const qlab_column *cols;
    size_t n_cols;
    size_t row_size;
    hsize_t chunk;
} table_def;

enum { TABLE_POINTS = 0, TABLE_LAYERS, TABLE_SAMPLES, N_TABLES };

static const table_def tables[N_TABLES] = {
    { "points", points_cols, N_OF(points_cols), sizeof(qlab_row), 64 },
    { "layers", layers_cols, N_OF(layers_cols), sizeof(qlab_layer_row), 1024 },
    { "samples", samples_cols, N_OF(samples_cols), sizeof(qlab_sample), 4096 },
};

static const char *const status_names[] = { "ok", "failed", "skipped" };

const char *qlab_status_name(int32_t status)
{
    if (status >= 0 && status < (int32_t)N_OF(status_names)) return status_names[status];
    return "?";
}

static int table_index(const char *name)
{
    for (int i = 0; i < N_TABLES; i++)
        if (name && strcmp(name, tables[i].name) == 0) return i;
    return -1;
}

const qlab_column *qlab_results_columns(const char *table, size_t *n, size_t *row_size)
{
    int t = table_index(table);
    if (t < 0) return NULL;
    if (n) *n = tables[t].n_cols;
    if (row_size) *row_size = tables[t].row_size;
    return tables[t].cols;
}

const qlab_column *qlab_results_column(const char *table, const char *name)
{
    size_t n = 0;
    const qlab_column *cols = qlab_results_columns(table, &n, NULL);
    for (size_t i = 0; cols && i < n; i++)
        if (!strcmp(cols[i].name, name))
            return &cols[i];
    return NULL;
}

/* ---------------------------------------------------------------------------- */
/* Small helpers                                                                 */

/* HDF5 prints its error stack to stderr by default; every failure here becomes one
 * message in err instead, so the automatic printing is off inside this module. */
typedef struct { H5E_auto2_t func; void *data; } h5_quiet;
static h5_quiet quiet_begin(void)
{
    h5_quiet q;
    H5Eget_auto2(H5E_DEFAULT, &q.func, &q.data);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    return q;
}
static void quiet_end(h5_quiet q) { H5Eset_auto2(H5E_DEFAULT, q.func, q.data); }

static char *dup_str(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

static void utc_now(char *buf, size_t len)
{
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* Grows *v (element size es) to hold at least need elements. */
static int grow(void **v, int64_t *cap, int64_t need, size_t es)
{
    if (need <= *cap) return 0;
    int64_t c = *cap ? *cap : 16;
    while (c < need) c *= 2;
    void *p = realloc(*v, (size_t)c * es);
    if (!p) return -1;
    *v = p;
    *cap = c;
    return 0;
}

/* ---------------------------------------------------------------------------- */
/* HDF5 types from the column tables                                            */

static hid_t status_type(hid_t base)
{
    hid_t t = H5Tenum_create(base);
    for (int32_t i = 0; i < (int32_t)N_OF(status_names); i++) H5Tenum_insert(t, status_names[i], &i);
    return t;
}

static hid_t member_type(const qlab_column *c, int file)
{
    hid_t t;
    switch (c->kind) {
    case QLAB_COL_I64: return H5Tcopy(file ? H5T_STD_I64LE : H5T_NATIVE_INT64);
    case QLAB_COL_I32: return H5Tcopy(file ? H5T_STD_I32LE : H5T_NATIVE_INT32);
    case QLAB_COL_U64: return H5Tcopy(file ? H5T_STD_U64LE : H5T_NATIVE_UINT64);
    case QLAB_COL_F64: return H5Tcopy(file ? H5T_IEEE_F64LE : H5T_NATIVE_DOUBLE);
    case QLAB_COL_STATUS: return status_type(file ? H5T_STD_I32LE : H5T_NATIVE_INT32);
    case QLAB_COL_STR:
        t = H5Tcopy(H5T_C_S1);
        H5Tset_size(t, c->size);
        H5Tset_strpad(t, H5T_STR_NULLTERM);
        return t;
    }
    return -1;
}

/* The packed little-endian type stored in files. */
static hid_t file_type(const table_def *td)
{
    size_t size = 0;
    for (size_t i = 0; i < td->n_cols; i++) size += td->cols[i].size;
    hid_t t = H5Tcreate(H5T_COMPOUND, size);
    size_t off = 0;
    for (size_t i = 0; i < td->n_cols; i++) {
        hid_t m = member_type(&td->cols[i], 1);
        H5Tinsert(t, td->cols[i].name, off, m);
        H5Tclose(m);
        off += td->cols[i].size;
    }
    return t;
}

/* The C struct's layout; with `present` (a file's type) only the members the file
 * has, so older files with fewer columns read with the rest left zero. Returns -1
 * with err set when a member exists with an incompatible class. */
static hid_t memory_type(const table_def *td, hid_t present, const char *path,
                         char *err, size_t err_len)
{
    hid_t t = H5Tcreate(H5T_COMPOUND, td->row_size);
    for (size_t i = 0; i < td->n_cols; i++) {
        const qlab_column *c = &td->cols[i];
        hid_t m;
        if (present >= 0) {
            int idx = H5Tget_member_index(present, c->name);
            if (idx < 0) continue;
            H5T_class_t cls = H5Tget_member_class(present, (unsigned)idx);
            int want_str = c->kind == QLAB_COL_STR;
            int ok = want_str ? cls == H5T_STRING
                   : c->kind == QLAB_COL_STATUS ? (cls == H5T_ENUM || cls == H5T_INTEGER)
                   : (cls == H5T_INTEGER || cls == H5T_FLOAT);
            if (!ok) {
                qlab_set_err(err, err_len, "%s: table /%s: member '%s' has the wrong type", path,
                        td->name, c->name);
                H5Tclose(t);
                return -1;
            }
            if (c->kind == QLAB_COL_STATUS && cls == H5T_INTEGER)
                m = H5Tcopy(H5T_NATIVE_INT32);   /* written as a plain integer by another tool */
            else
                m = member_type(c, 0);
        } else {
            m = member_type(c, 0);
        }
        H5Tinsert(t, c->name, c->offset, m);
        H5Tclose(m);
    }
    return t;
}

/* ---------------------------------------------------------------------------- */
/* The writer                                                                    */

typedef struct {
    char *key, *value;
    int is_int;
} wattr;

/* Fold when the journal reaches the last image's size and at least this many bytes,
 * or after this long if the last fold cost under 5% of it (see the file comment). */
#define FOLD_MIN_BYTES (4 << 20)
#define FOLD_MIN_S 30.0

struct qlab_results {
    char *path;
    char *dir;
    char *tmp;             /* path.tmp-PID */
    wattr *attrs; int64_t n_attrs, cap_attrs;
    void *rows[N_TABLES];
    int64_t n[N_TABLES], cap[N_TABLES];
    qlab_journal j;        /* open once the file exists */
    int have_journal;
    int lock_fd;           /* the writer's lock (writer_lock), -1 when none */
    size_t image_bytes;    /* size of the last image written */
    double fold_t, fold_cost;   /* when the last fold ended, what it took (s) */
};

static double mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void results_free(qlab_results *r)
{
    if (!r) return;
    if (r->have_journal) qlab_journal_close(&r->j, 0);
    if (r->lock_fd >= 0) close(r->lock_fd);
    for (int64_t i = 0; i < r->n_attrs; i++) {
        free(r->attrs[i].key);
        free(r->attrs[i].value);
    }
    free(r->attrs);
    for (int t = 0; t < N_TABLES; t++) free(r->rows[t]);
    free(r->path);
    free(r->dir);
    free(r->tmp);
    free(r);
}

static int attr_put(qlab_results *r, const char *key, const char *value, int is_int)
{
    for (int64_t i = 0; i < r->n_attrs; i++) {
        if (strcmp(r->attrs[i].key, key) == 0) {
            char *v = dup_str(value);
            if (!v) return -1;
            free(r->attrs[i].value);
            r->attrs[i].value = v;
            r->attrs[i].is_int = is_int;
            return 0;
        }
    }
    if (grow((void **)&r->attrs, &r->cap_attrs, r->n_attrs + 1, sizeof(wattr))) return -1;
    wattr *a = &r->attrs[r->n_attrs];
    a->key = dup_str(key);
    a->value = dup_str(value);
    a->is_int = is_int;
    if (!a->key || !a->value) {
        free(a->key);
        free(a->value);
        return -1;
    }
    r->n_attrs++;
    return 0;
}

static qlab_results *results_new(const char *path)
{
    qlab_results *r = calloc(1, sizeof *r);
    if (!r) return NULL;
    r->lock_fd = -1;
    r->path = dup_str(path);
    const char *slash = strrchr(path, '/');
    if (!slash) r->dir = dup_str(".");
    else if (slash == path) r->dir = dup_str("/");
    else {
        r->dir = malloc((size_t)(slash - path) + 1);
        if (r->dir) {
            memcpy(r->dir, path, (size_t)(slash - path));
            r->dir[slash - path] = 0;
        }
    }
    size_t tl = strlen(path) + 32;
    r->tmp = malloc(tl);
    if (r->tmp) snprintf(r->tmp, tl, "%s.tmp-%ld", path, (long)getpid());
    if (!r->path || !r->dir || !r->tmp) {
        results_free(r);
        return NULL;
    }
    return r;
}

/* Removes FILE.tmp-PID files left by killed writers (their PID is gone, or is ours:
 * we are not writing now). A live writer's temporary is left alone. */
static void remove_stale_tmps(const qlab_results *r)
{
    const char *base = strrchr(r->path, '/');
    base = base ? base + 1 : r->path;
    size_t bl = strlen(base);
    DIR *d = opendir(r->dir);
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (strncmp(e->d_name, base, bl) != 0 || strncmp(e->d_name + bl, ".tmp-", 5) != 0) continue;
        const char *num = e->d_name + bl + 5;
        char *end;
        long pid = strtol(num, &end, 10);
        if (*num == 0 || *end != 0 || pid <= 0) continue;
        if (pid == (long)getpid() || (kill((pid_t)pid, 0) == -1 && errno == ESRCH)) {
            char full[PATH_MAX];
            snprintf(full, sizeof full, "%s/%s", r->dir, e->d_name);
            unlink(full);
        }
    }
    closedir(d);
}

static int write_attrs(hid_t f, const qlab_results *r)
{
    hid_t str = H5Tcopy(H5T_C_S1);
    H5Tset_size(str, H5T_VARIABLE);
    H5Tset_cset(str, H5T_CSET_UTF8);
    hid_t scalar = H5Screate(H5S_SCALAR);
    int rc = 0;
    for (int64_t i = 0; i < r->n_attrs && rc == 0; i++) {
        const wattr *a = &r->attrs[i];
        hid_t ty = a->is_int ? H5T_STD_I64LE : str;
        hid_t at = H5Acreate2(f, a->key, ty, scalar, H5P_DEFAULT, H5P_DEFAULT);
        if (at < 0) { rc = -1; break; }
        herr_t w;
        if (a->is_int) {
            int64_t v = strtoll(a->value, NULL, 10);
            w = H5Awrite(at, H5T_NATIVE_INT64, &v);
        } else {
            const char *v = a->value;
            w = H5Awrite(at, str, &v);
        }
        if (w < 0) rc = -1;
        H5Aclose(at);
    }
    H5Sclose(scalar);
    H5Tclose(str);
    return rc;
}

static int write_table(hid_t f, const table_def *td, const void *rows, int64_t n)
{
    hsize_t dims = (hsize_t)n, maxdims = H5S_UNLIMITED, chunk = td->chunk;
    hid_t space = H5Screate_simple(1, &dims, &maxdims);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    H5Pset_chunk(dcpl, 1, &chunk);
    hid_t ft = file_type(td);
    hid_t mt = memory_type(td, -1, NULL, NULL, 0);
    hid_t ds = H5Dcreate2(f, td->name, ft, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    int rc = ds < 0 ? -1 : 0;
    if (rc == 0 && n > 0 && H5Dwrite(ds, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, rows) < 0) rc = -1;
    if (ds >= 0) H5Dclose(ds);
    H5Tclose(mt);
    H5Tclose(ft);
    H5Pclose(dcpl);
    H5Sclose(space);
    return rc;
}

/* Builds the complete file in memory (core driver, no backing store) and returns its
 * image, so nothing touches the disk until the bytes are final. */
static int build_image(const qlab_results *r, void **img, size_t *img_len)
{
    *img = NULL;
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    H5Pset_fapl_core(fapl, 1 << 20, 0);
    hid_t f = H5Fcreate(r->tmp, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    H5Pclose(fapl);
    if (f < 0) return -1;
    int rc = write_attrs(f, r);
    for (int t = 0; t < N_TABLES && rc == 0; t++) rc = write_table(f, &tables[t], r->rows[t], r->n[t]);
    if (rc == 0 && H5Fflush(f, H5F_SCOPE_GLOBAL) < 0) rc = -1;
    ssize_t len = rc == 0 ? H5Fget_file_image(f, NULL, 0) : -1;
    if (len <= 0) rc = -1;
    if (rc == 0) {
        *img = malloc((size_t)len);
        if (!*img || H5Fget_file_image(f, *img, (size_t)len) != len) rc = -1;
        *img_len = (size_t)len;
    }
    H5Fclose(f);
    if (rc) {
        free(*img);
        *img = NULL;
    }
    return rc;
}

static int write_all(int fd, const void *buf, size_t len)
{
    const char *p = buf;
    while (len > 0) {
        ssize_t w = write(fd, p, len);
        if (w < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        p += w;
        len -= (size_t)w;
    }
    return 0;
}

/* Writes the current state durably: image -> FILE.tmp-PID, fsync, then into place
 * (link() for the first version so an existing file is never replaced, rename()
 * after), then fsync of the directory so the new name survives a power cut too. */
static int persist(qlab_results *r, int first, char *err, size_t err_len)
{
    void *img;
    size_t len;
    double t0 = mono_s();
    /* every record so far is in the rows in memory, so in this image */
    char folded[32];
    snprintf(folded, sizeof folded, "%" PRIu64, r->have_journal ? r->j.next_seq : (uint64_t)0);
    if (attr_put(r, "journal_folded", folded, 1)) {
        qlab_set_err(err, err_len, "%s: out of memory", r->path);
        return 2;
    }
    h5_quiet q = quiet_begin();
    int b = build_image(r, &img, &len);
    quiet_end(q);
    if (b) {
        qlab_set_err(err, err_len, "%s: could not build the HDF5 file image (out of memory?)", r->path);
        return 2;
    }
    int fd = open(r->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        qlab_set_err(err, err_len, "%s: cannot write %s: %s", r->path, r->tmp, strerror(errno));
        free(img);
        return 2;
    }
    int bad = write_all(fd, img, len) || fsync(fd);
    int saved = errno;
    free(img);
    if (close(fd) && !bad) {
        bad = 1;
        saved = errno;
    }
    if (!bad) {
        if (first) {
            if (link(r->tmp, r->path) == 0) {
                unlink(r->tmp);
            } else if (errno == EEXIST) {
                saved = EEXIST;
                bad = 1;
            } else {
                /* file systems without hard links: check, then rename */
                struct stat st;
                if (lstat(r->path, &st) == 0) { saved = EEXIST; bad = 1; }
                else if (rename(r->tmp, r->path)) { saved = errno; bad = 1; }
            }
        } else if (rename(r->tmp, r->path)) {
            saved = errno;
            bad = 1;
        }
    }
    if (bad) {
        unlink(r->tmp);
        if (saved == EEXIST)
            qlab_set_err(err, err_len, "%s: results file exists; refusing to overwrite it", r->path);
        else
            qlab_set_err(err, err_len, "%s: cannot write: %s", r->path, strerror(saved));
        return 2;
    }
    int dfd = open(r->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
    r->image_bytes = len;
    /* The image holds every record: the journal may be emptied (a kill before this
     * leaves records that readers skip by their numbers). */
    if (r->have_journal && qlab_journal_reset(&r->j, r->j.next_seq, err, err_len))
        return 2;
    r->fold_t = mono_s();
    r->fold_cost = r->fold_t - t0;
    return 0;
}

/* Folds the journal into the file when it is due (see the file comment). A failed
 * fold loses nothing (the records stay in the journal) and is retried later; the
 * close reports it if it still fails then. */
static void fold_if_due(qlab_results *r)
{
    size_t jb = (size_t)r->j.bytes;
    size_t want = r->image_bytes > FOLD_MIN_BYTES ? r->image_bytes : FOLD_MIN_BYTES;
    double since = mono_s() - r->fold_t;
    int by_size = jb >= want;
    int by_time = since >= FOLD_MIN_S && since >= 20 * r->fold_cost && r->j.bytes > 32;
    if (by_size || by_time)
        (void)persist(r, 0, NULL, 0);
}

/* Opens the journal of a file just written with every record folded, numbering on
 * from next_seq, and empties it. */
static int journal_start(qlab_results *r, uint64_t next_seq, char *err, size_t err_len)
{
    if (qlab_journal_open(&r->j, r->path, next_seq, err, err_len))
        return 2;
    r->have_journal = 1;
    if (qlab_journal_reset(&r->j, r->j.next_seq > next_seq ? r->j.next_seq : next_seq, err, err_len))
        return 2;
    r->fold_t = mono_s();
    return 0;
}

static int check_dir_writable(const qlab_results *r, char *err, size_t err_len)
{
    struct stat st;
    if (stat(r->dir, &st) != 0) {
        qlab_set_err(err, err_len, "%s: directory '%s' does not exist: %s", r->path, r->dir, strerror(errno));
        return 2;
    }
    if (!S_ISDIR(st.st_mode)) {
        qlab_set_err(err, err_len, "%s: '%s' is not a directory", r->path, r->dir);
        return 2;
    }
    if (access(r->dir, W_OK | X_OK) != 0) {
        qlab_set_err(err, err_len, "%s: directory '%s' is not writable: %s", r->path, r->dir, strerror(errno));
        return 2;
    }
    return 0;
}

/* The writer's lock: an exclusive flock on the journal file (created if absent), held
 * until the writer is freed, so that two processes never append to one results file
 * (a --resume while the run still goes on). Returns the descriptor, or -1 with a
 * message in err: another qlab holds the lock, or the journal cannot be opened. Where
 * the file system has no flock (some network file systems), it goes on unlocked. */
static int writer_lock(const char *path, int *created, char *err, size_t err_len)
{
    char jp[PATH_MAX + 16];
    qlab_journal_path(path, jp, sizeof jp);
    struct stat st;
    *created = stat(jp, &st) != 0;
    int fd = open(jp, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
        qlab_set_err(err, err_len, "%s: cannot open its journal %s: %s", path, jp, strerror(errno));
        return -1;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0 && errno == EWOULDBLOCK) {
        close(fd);
        if (*created)
            unlink(jp);
        qlab_set_err(err, err_len,
                     "%s: another qlab is writing this file (its journal %s is locked); wait for that run "
                     "to end, or stop it, then --resume",
                     path, jp);
        return -1;
    }
    return fd;
}

int qlab_results_create(const char *path, qlab_results **out, char *err, size_t err_len)
{
    *out = NULL;
    if (!path || !*path) {
        qlab_set_err(err, err_len, "results file: empty path");
        return 2;
    }
    struct stat st;
    if (lstat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
        qlab_set_err(err, err_len, "%s: is a directory; -o names the results file to write (e.g. %s/run.h5)",
                     path, path);
        errno = EISDIR;
        return 2;
    }
    if (lstat(path, &st) == 0) {
        qlab_set_err(err, err_len, "%s: results file exists; refusing to overwrite it", path);
        errno = EEXIST;
        return 2;
    }
    qlab_results *r = results_new(path);
    if (!r) {
        qlab_set_err(err, err_len, "%s: out of memory", path);
        return 2;
    }
    int created;
    if (check_dir_writable(r, err, err_len) || (r->lock_fd = writer_lock(path, &created, err, err_len)) < 0) {
        results_free(r);
        return 2;
    }
    remove_stale_tmps(r);
    /* A journal without its results file belongs to a file deleted by hand: its
     * records must not join this new run. */
    if (ftruncate(r->lock_fd, 0) != 0) {
        qlab_set_err(err, err_len, "%s: cannot empty the stale journal beside it: %s", path, strerror(errno));
        results_free(r);
        return 2;
    }
    char now[32], ver[16];
    utc_now(now, sizeof now);
    snprintf(ver, sizeof ver, "%d", QLAB_RESULTS_FORMAT_VERSION);
    if (attr_put(r, "format", QLAB_RESULTS_FORMAT, 0) || attr_put(r, "format_version", ver, 1) ||
        attr_put(r, "status", "running", 0) || attr_put(r, "started_utc", now, 0)) {
        qlab_set_err(err, err_len, "%s: out of memory", path);
        results_free(r);
        return 2;
    }
    if (persist(r, 1, err, err_len) || journal_start(r, 0, err, err_len)) {
        results_free(r);
        return 2;
    }
    *out = r;
    return 0;
}

static int read_file(const char *path, qlab_results_data *d, int **attr_is_int,
                     char *err, size_t err_len);
static int read_with_journal(const char *path, qlab_results_data *d, int **attr_is_int, uint64_t *next_seq,
                             char *err, size_t err_len);

int qlab_results_open_append(const char *path, qlab_results **out, char *err, size_t err_len)
{
    *out = NULL;
    qlab_results_data d;
    int *is_int = NULL;
    uint64_t next_seq = 0;
    struct stat st;
    if (stat(path, &st) != 0) {
        qlab_set_err(err, err_len, "%s: cannot open: %s", path, strerror(errno));
        return 2;
    }
    /* Locked before anything is read or repaired: another writer may be appending. */
    int created;
    int lock_fd = writer_lock(path, &created, err, err_len);
    if (lock_fd < 0)
        return 2;
    char jp[PATH_MAX + 16];
    qlab_journal_path(path, jp, sizeof jp);
    if (read_with_journal(path, &d, &is_int, &next_seq, err, err_len)) {
        if (created)   /* leave no journal behind a file that is not resumed */
            unlink(jp);
        close(lock_fd);
        return 2;
    }
    const char *status = qlab_results_attr(&d, "status");
    if (status && strcmp(status, "complete") == 0) {
        qlab_set_err(err, err_len, "%s: the run is complete; nothing to resume", path);
        free(is_int);
        qlab_results_data_free(&d);
        if (created)
            unlink(jp);
        close(lock_fd);
        return 2;
    }
    qlab_results *r = results_new(path);
    if (r)
        r->lock_fd = lock_fd;
    else
        close(lock_fd);
    int oom = !r;
    for (int64_t i = 0; !oom && i < d.n_attrs; i++)
        oom = attr_put(r, d.attrs[i].key, d.attrs[i].value, is_int[i]) != 0;
    free(is_int);
    if (r && !oom) {
        /* the data buffers move over to the writer */
        r->rows[TABLE_POINTS] = d.points; r->n[TABLE_POINTS] = r->cap[TABLE_POINTS] = d.n_points;
        r->rows[TABLE_LAYERS] = d.layers; r->n[TABLE_LAYERS] = r->cap[TABLE_LAYERS] = d.n_layers;
        r->rows[TABLE_SAMPLES] = d.samples; r->n[TABLE_SAMPLES] = r->cap[TABLE_SAMPLES] = d.n_samples;
        d.points = NULL; d.layers = NULL; d.samples = NULL;
    }
    qlab_results_data_free(&d);
    if (oom) {
        qlab_set_err(err, err_len, "%s: out of memory", path);
        results_free(r);
        return 2;
    }
    if (check_dir_writable(r, err, err_len)) {
        results_free(r);
        return 2;
    }
    remove_stale_tmps(r);
    /* a resumed run is running again until it is closed */
    if (attr_put(r, "status", "running", 0)) {
        qlab_set_err(err, err_len, "%s: out of memory", path);
        results_free(r);
        return 2;
    }
    /* Fold what the journal held, numbering on after its records, then empty it. */
    if (qlab_journal_open(&r->j, path, next_seq, err, err_len)) {
        results_free(r);
        return 2;
    }
    r->have_journal = 1;
    if (persist(r, 0, err, err_len)) {
        results_free(r);
        return 2;
    }
    *out = r;
    return 0;
}

int qlab_results_set_attr(qlab_results *r, const char *key, const char *value, char *err, size_t err_len)
{
    if (!key || !*key || !value) {
        qlab_set_err(err, err_len, "%s: attribute with an empty name or value", r->path);
        return 2;
    }
    if (attr_put(r, key, value, 0)) {
        qlab_set_err(err, err_len, "%s: out of memory", r->path);
        return 2;
    }
    return persist(r, 0, err, err_len);
}

int qlab_results_set_attr_int(qlab_results *r, const char *key, int64_t value, char *err, size_t err_len)
{
    char buf[32];
    snprintf(buf, sizeof buf, "%" PRId64, value);
    if (!key || !*key) {
        qlab_set_err(err, err_len, "%s: attribute with an empty name", r->path);
        return 2;
    }
    if (attr_put(r, key, buf, 1)) {
        qlab_set_err(err, err_len, "%s: out of memory", r->path);
        return 2;
    }
    return persist(r, 0, err, err_len);
}

/* Copies n rows into table t, forcing every string member to end in NUL so a
 * caller's overfull buffer cannot leak past its field into the file. */
static int push_rows(qlab_results *r, int t, const void *rows, int64_t n)
{
    const table_def *td = &tables[t];
    if (n <= 0) return 0;
    if (grow(&r->rows[t], &r->cap[t], r->n[t] + n, td->row_size)) return -1;
    char *dst = (char *)r->rows[t] + (size_t)r->n[t] * td->row_size;
    memcpy(dst, rows, (size_t)n * td->row_size);
    for (int64_t i = 0; i < n; i++)
        for (size_t c = 0; c < td->n_cols; c++)
            if (td->cols[c].kind == QLAB_COL_STR)
                dst[(size_t)i * td->row_size + td->cols[c].offset + td->cols[c].size - 1] = 0;
    r->n[t] += n;
    return 0;
}

int qlab_results_append_batch(qlab_results *r, const qlab_row *row,
                              const qlab_sample *s, int64_t n_samples,
                              const qlab_layer_row *l, int64_t n_layers,
                              char *err, size_t err_len)
{
    int64_t before[N_TABLES];
    memcpy(before, r->n, sizeof before);
    if ((row && push_rows(r, TABLE_POINTS, row, 1)) ||
        (s && push_rows(r, TABLE_SAMPLES, s, n_samples)) ||
        (l && push_rows(r, TABLE_LAYERS, l, n_layers))) {
        memcpy(r->n, before, sizeof before);
        qlab_set_err(err, err_len, "%s: out of memory", r->path);
        return 2;
    }
    if (qlab_journal_append(&r->j, row, row ? 1 : 0, s, s ? n_samples : 0, l, l ? n_layers : 0, err, err_len)) {
        /* not in the file, so not in the table either: the caller may retry */
        memcpy(r->n, before, sizeof before);
        return 2;
    }
    fold_if_due(r);
    return 0;
}

int qlab_results_append_rows(qlab_results *r, const qlab_row *rows, int64_t n, char *err, size_t err_len)
{
    int64_t before = r->n[TABLE_POINTS];
    if (push_rows(r, TABLE_POINTS, rows, n)) {
        r->n[TABLE_POINTS] = before;
        qlab_set_err(err, err_len, "%s: out of memory", r->path);
        return 2;
    }
    if (qlab_journal_append(&r->j, rows, n, NULL, 0, NULL, 0, err, err_len)) {
        r->n[TABLE_POINTS] = before;
        return 2;
    }
    fold_if_due(r);
    return 0;
}

int qlab_results_append_point(qlab_results *r, const qlab_row *row, char *err, size_t err_len)
{
    return qlab_results_append_batch(r, row, NULL, 0, NULL, 0, err, err_len);
}

int qlab_results_append_samples(qlab_results *r, const qlab_sample *s, int64_t n, char *err, size_t err_len)
{
    return qlab_results_append_batch(r, NULL, s, n, NULL, 0, err, err_len);
}

int qlab_results_append_layers(qlab_results *r, const qlab_layer_row *l, int64_t n, char *err, size_t err_len)
{
    return qlab_results_append_batch(r, NULL, NULL, 0, l, n, err, err_len);
}

int qlab_results_close(qlab_results *r, const char *status, char *err, size_t err_len)
{
    if (!r) return 0;
    int rc = 0;
    if (!status || (strcmp(status, "complete") != 0 && strcmp(status, "interrupted") != 0)) {
        qlab_set_err(err, err_len, "%s: close status must be complete or interrupted, not '%s'", r->path,
                status ? status : "(null)");
        status = "interrupted";
        rc = 2;
    }
    char now[32];
    utc_now(now, sizeof now);
    if (attr_put(r, "status", status, 0) || attr_put(r, "finished_utc", now, 0)) {
        qlab_set_err(err, err_len, "%s: out of memory", r->path);
        rc = 2;
    } else if (persist(r, 0, rc ? NULL : err, rc ? 0 : err_len)) {
        rc = 2;
    } else if (r->have_journal) {
        /* every record is in the file: the journal goes (kept on failure above) */
        qlab_journal_close(&r->j, 1);
        r->have_journal = 0;
    }
    results_free(r);
    return rc;
}

/* ---------------------------------------------------------------------------- */
/* Reading                                                                       */

void qlab_results_data_free(qlab_results_data *d)
{
    if (!d) return;
    for (int64_t i = 0; i < d->n_attrs; i++) {
        free(d->attrs[i].key);
        free(d->attrs[i].value);
    }
    free(d->attrs);
    free(d->points);
    free(d->layers);
    free(d->samples);
    memset(d, 0, sizeof *d);
}

const char *qlab_results_attr(const qlab_results_data *d, const char *key)
{
    for (int64_t i = 0; i < d->n_attrs; i++)
        if (strcmp(d->attrs[i].key, key) == 0) return d->attrs[i].value;
    return NULL;
}

/* Reads one scalar attribute as text; integers in decimal, floats with %.17g.
 * Sets *is_int. Returns a malloc'd string or NULL. */
static char *read_attr_value(hid_t at, int *is_int)
{
    hid_t ty = H5Aget_type(at);
    hid_t sp = H5Aget_space(at);
    char *out = NULL;
    *is_int = 0;
    if (ty < 0 || sp < 0 || H5Sget_simple_extent_npoints(sp) != 1) goto done;
    H5T_class_t cls = H5Tget_class(ty);
    if (cls == H5T_INTEGER) {
        int64_t v;
        if (H5Aread(at, H5T_NATIVE_INT64, &v) >= 0) {
            out = malloc(32);
            if (out) snprintf(out, 32, "%" PRId64, v);
            *is_int = 1;
        }
    } else if (cls == H5T_FLOAT) {
        double v;
        if (H5Aread(at, H5T_NATIVE_DOUBLE, &v) >= 0) {
            out = malloc(32);
            if (out) snprintf(out, 32, "%.17g", v);
        }
    } else if (cls == H5T_STRING) {
        if (H5Tis_variable_str(ty) > 0) {
            hid_t mt = H5Tcopy(H5T_C_S1);
            H5Tset_size(mt, H5T_VARIABLE);
            H5Tset_cset(mt, H5Tget_cset(ty));
            char *v = NULL;
            if (H5Aread(at, mt, &v) >= 0 && v) {
                out = dup_str(v);
                H5free_memory(v);
            }
            H5Tclose(mt);
        } else {
            size_t n = H5Tget_size(ty);
            hid_t mt = H5Tcopy(H5T_C_S1);
            H5Tset_size(mt, n + 1);
            H5Tset_strpad(mt, H5T_STR_NULLTERM);
            H5Tset_cset(mt, H5Tget_cset(ty));
            out = calloc(n + 2, 1);
            if (out && H5Aread(at, mt, out) < 0) {
                free(out);
                out = NULL;
            }
            H5Tclose(mt);
        }
    }
done:
    if (ty >= 0) H5Tclose(ty);
    if (sp >= 0) H5Sclose(sp);
    return out;
}

static int read_attrs(hid_t f, const char *path, qlab_results_data *d, int **is_int_out,
                      char *err, size_t err_len)
{
    H5O_info_t info;
    if (H5Oget_info2(f, &info, H5O_INFO_NUM_ATTRS) < 0) {
        qlab_set_err(err, err_len, "%s: cannot read the root attributes (corrupted file?)", path);
        return 2;
    }
    int64_t n = (int64_t)info.num_attrs;
    d->attrs = calloc((size_t)(n ? n : 1), sizeof(qlab_attr));
    int *is_int = calloc((size_t)(n ? n : 1), sizeof(int));
    if (!d->attrs || !is_int) {
        free(is_int);
        qlab_set_err(err, err_len, "%s: out of memory", path);
        return 2;
    }
    for (int64_t i = 0; i < n; i++) {
        hid_t at = H5Aopen_by_idx(f, ".", H5_INDEX_NAME, H5_ITER_INC, (hsize_t)i, H5P_DEFAULT, H5P_DEFAULT);
        if (at < 0) {
            free(is_int);
            qlab_set_err(err, err_len, "%s: cannot read root attribute %" PRId64 " (corrupted file?)", path, i);
            return 2;
        }
        ssize_t kl = H5Aget_name(at, 0, NULL);
        char *key = kl >= 0 ? malloc((size_t)kl + 1) : NULL;
        if (key) H5Aget_name(at, (size_t)kl + 1, key);
        int ii = 0;
        char *val = read_attr_value(at, &ii);
        H5Aclose(at);
        if (!key || !val) {
            /* an attribute of a kind qlab does not write (array, compound): skip it */
            free(key);
            free(val);
            continue;
        }
        d->attrs[d->n_attrs].key = key;
        d->attrs[d->n_attrs].value = val;
        is_int[d->n_attrs] = ii;
        d->n_attrs++;
    }
    if (is_int_out) *is_int_out = is_int;
    else free(is_int);
    return 0;
}

static int read_table(hid_t f, const char *path, const table_def *td, void **rows, int64_t *n,
                      char *err, size_t err_len)
{
    *rows = NULL;
    *n = 0;
    if (H5Lexists(f, td->name, H5P_DEFAULT) <= 0) {
        qlab_set_err(err, err_len, "%s: table /%s is missing", path, td->name);
        return 2;
    }
    hid_t ds = H5Dopen2(f, td->name, H5P_DEFAULT);
    if (ds < 0) {
        qlab_set_err(err, err_len, "%s: /%s is not a readable dataset (corrupted file?)", path, td->name);
        return 2;
    }
    int rc = 2;
    hid_t ft = H5Dget_type(ds), sp = H5Dget_space(ds), mt = -1;
    if (ft < 0 || sp < 0 || H5Tget_class(ft) != H5T_COMPOUND || H5Sget_simple_extent_ndims(sp) != 1) {
        qlab_set_err(err, err_len, "%s: /%s is not a 1-D compound table", path, td->name);
        goto done;
    }
    hsize_t dims;
    H5Sget_simple_extent_dims(sp, &dims, NULL);
    /* The declared row count is checked against the bytes stored before anything is
     * allocated: a damaged header must not turn into a huge allocation. */
    size_t tsize = H5Tget_size(ft);
    if (dims > 0 && (tsize == 0 || dims > (hsize_t)SIZE_MAX / td->row_size ||
                     dims > (hsize_t)(UINT64_MAX / tsize))) {
        qlab_set_err(err, err_len, "%s: /%s declares %llu rows (corrupted file?)", path, td->name,
                     (unsigned long long)dims);
        goto done;
    }
    char what[1200];
    snprintf(what, sizeof what, "%s: /%s", path, td->name);
    if (qlab_h5_check_stored(ds, path, what, (uint64_t)dims * tsize, err, err_len)) goto done;
    mt = memory_type(td, ft, path, err, err_len);
    if (mt < 0) goto done;
    *rows = calloc(dims ? (size_t)dims : 1, td->row_size);
    if (!*rows) {
        qlab_set_err(err, err_len, "%s: out of memory for %llu rows of /%s", path,
                (unsigned long long)dims, td->name);
        goto done;
    }
    if (dims > 0 && H5Dread(ds, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, *rows) < 0) {
        qlab_set_err(err, err_len, "%s: cannot read /%s (truncated or corrupted file?)", path, td->name);
        free(*rows);
        *rows = NULL;
        goto done;
    }
    /* strings converted from longer file strings are NUL-terminated by HDF5; this
     * also covers hand-written files with space-padded strings */
    for (hsize_t i = 0; i < dims; i++)
        for (size_t c = 0; c < td->n_cols; c++)
            if (td->cols[c].kind == QLAB_COL_STR)
                ((char *)*rows)[i * td->row_size + td->cols[c].offset + td->cols[c].size - 1] = 0;
    *n = (int64_t)dims;
    rc = 0;
done:
    if (mt >= 0) H5Tclose(mt);
    if (ft >= 0) H5Tclose(ft);
    if (sp >= 0) H5Sclose(sp);
    H5Dclose(ds);
    return rc;
}

static int read_file(const char *path, qlab_results_data *d, int **attr_is_int,
                     char *err, size_t err_len)
{
    memset(d, 0, sizeof *d);
    if (attr_is_int) *attr_is_int = NULL;
    struct stat st;
    if (stat(path, &st) != 0) {
        qlab_set_err(err, err_len, "%s: cannot open: %s", path, strerror(errno));
        return 2;
    }
    if (!S_ISREG(st.st_mode)) {
        qlab_set_err(err, err_len, "%s: not a regular file", path);
        return 2;
    }
    h5_quiet q = quiet_begin();
    int rc = 2;
    hid_t f = -1;
    htri_t is = H5Fis_hdf5(path);
    if (is <= 0) {
        qlab_set_err(err, err_len, "%s: not an HDF5 file (or its header is corrupted)", path);
        goto done;
    }
    f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0) {
        qlab_set_err(err, err_len, "%s: HDF5 cannot open it (truncated or corrupted file?)", path);
        goto done;
    }
    if (read_attrs(f, path, d, attr_is_int, err, err_len)) goto done;
    const char *format = qlab_results_attr(d, "format");
    if (!format || strcmp(format, QLAB_RESULTS_FORMAT) != 0) {
        qlab_set_err(err, err_len, "%s: not a qlab results file (root attribute format is %s%s%s, "
                "expected \"" QLAB_RESULTS_FORMAT "\")", path, format ? "\"" : "missing",
                format ? format : "", format ? "\"" : "");
        goto done;
    }
    const char *ver = qlab_results_attr(d, "format_version");
    char *end = NULL;
    long v = ver ? strtol(ver, &end, 10) : 0;
    if (!ver || *end || v < 1) {
        qlab_set_err(err, err_len, "%s: root attribute format_version is %s", path, ver ? "not a positive integer" : "missing");
        goto done;
    }
    if (v > QLAB_RESULTS_FORMAT_VERSION) {
        qlab_set_err(err, err_len, "%s: format_version %ld is newer than this qlab reads (%d); update qlab",
                path, v, QLAB_RESULTS_FORMAT_VERSION);
        goto done;
    }
    void *rows;
    if (read_table(f, path, &tables[TABLE_POINTS], &rows, &d->n_points, err, err_len)) goto done;
    d->points = rows;
    if (read_table(f, path, &tables[TABLE_LAYERS], &rows, &d->n_layers, err, err_len)) goto done;
    d->layers = rows;
    if (read_table(f, path, &tables[TABLE_SAMPLES], &rows, &d->n_samples, err, err_len)) goto done;
    d->samples = rows;
    rc = 0;
done:
    if (f >= 0) H5Fclose(f);
    quiet_end(q);
    if (rc) {
        qlab_results_data_free(d);
        if (attr_is_int) {
            free(*attr_is_int);
            *attr_is_int = NULL;
        }
    }
    return rc;
}

/* Appends a journal record's rows to the tables read from the file. */
static int add_record(void *ctx, const qlab_row *points, int64_t n_points, const qlab_sample *samples,
                      int64_t n_samples, const qlab_layer_row *layers, int64_t n_layers)
{
    qlab_results_data *d = ctx;
    struct { void **rows; int64_t *n; const void *src; int64_t k; size_t size; } t[3] = {
        {(void **)&d->points, &d->n_points, points, n_points, sizeof *points},
        {(void **)&d->samples, &d->n_samples, samples, n_samples, sizeof *samples},
        {(void **)&d->layers, &d->n_layers, layers, n_layers, sizeof *layers},
    };
    for (int i = 0; i < 3; i++) {
        if (t[i].k <= 0)
            continue;
        void *v = realloc(*t[i].rows, (size_t)(*t[i].n + t[i].k) * t[i].size);
        if (!v)
            return -1;
        memcpy((char *)v + (size_t)*t[i].n * t[i].size, t[i].src, (size_t)t[i].k * t[i].size);
        *t[i].rows = v;
        *t[i].n += t[i].k;
    }
    return 0;
}

/* The file and the records of its journal that the file does not hold yet. The
 * journal is read first: a fold landing between the two reads is then in the file,
 * and its records are skipped by their numbers. *next_seq (may be NULL): the number
 * the next journal record would take. */
static int read_with_journal(const char *path, qlab_results_data *d, int **attr_is_int, uint64_t *next_seq,
                             char *err, size_t err_len)
{
    void *jb;
    size_t jl;
    if (qlab_journal_slurp(path, &jb, &jl, err, err_len))
        return 2;
    if (read_file(path, d, attr_is_int, err, err_len)) {
        free(jb);
        return 2;
    }
    const char *f = qlab_results_attr(d, "journal_folded");
    uint64_t folded = f ? strtoull(f, NULL, 10) : 0, jnext = 0;
    int rc = qlab_journal_each(jb, jl, path, folded, add_record, d, &jnext, err, err_len);
    free(jb);
    if (rc) {
        if (attr_is_int) {
            free(*attr_is_int);
            *attr_is_int = NULL;
        }
        qlab_results_data_free(d);
        return 2;
    }
    if (next_seq)
        *next_seq = jnext > folded ? jnext : folded;
    return 0;
}

int qlab_results_read(const char *path, qlab_results_data *out, char *err, size_t err_len)
{
    return read_with_journal(path, out, NULL, NULL, err, err_len);
}

/* dump.c: reader and writer of layer dump files (DESIGN section 8; see dump.h).
 *
 * The reader trusts nothing in the file: every attribute, dataset, dtype and shape is
 * checked before it is used, shapes before any allocation, values after reading, and
 * every failure becomes one message naming the file and the dataset. HDF5's own error
 * stack printing is switched off while this module works, so nothing reaches stderr.
 *
 * float16 is stored as an IEEE binary16 HDF5 float type (what h5py and numpy write
 * for float16); bfloat16, which HDF5 has no type for, as uint16 bit patterns with the
 * dataset attribute dtype = "bfloat16" (what tools/dump_torch.py writes). Both are
 * read and written as raw 16-bit patterns and converted with quant/'s conversions,
 * so the rounding is quant's round-to-nearest-even in both directions.
 */
#include "store/dump.h"
#include "store/h5check.h"

#include <errno.h>
#include <hdf5.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "quant/quant.h"

const char *qlab_dump_dtype_name(qlab_dump_dtype d)
{
    static const char *const names[QLAB_DUMP_DTYPE_COUNT] = {"float32", "float16", "bfloat16"};
    return d >= 0 && d < QLAB_DUMP_DTYPE_COUNT ? names[d] : NULL;
}

/* ---------------------------------------------------------------------------- */
/* HDF5 helpers                                                                  */

typedef struct { H5E_auto2_t func; void *data; } dump_quiet;

static dump_quiet quiet_begin(void)
{
    dump_quiet q;
    H5Eget_auto2(H5E_DEFAULT, &q.func, &q.data);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    return q;
}

static void quiet_end(dump_quiet q) { H5Eset_auto2(H5E_DEFAULT, q.func, q.data); }

/* The IEEE binary16 type, little-endian (numpy's '<f2'). Caller closes it. */
static hid_t half_type(void)
{
    hid_t t = H5Tcopy(H5T_IEEE_F32LE);
    if (t < 0) return t;
    if (H5Tset_fields(t, 15, 10, 5, 0, 10) < 0 || H5Tset_size(t, 2) < 0 ||
        H5Tset_ebias(t, 15) < 0) {
        H5Tclose(t);
        return -1;
    }
    return t;
}

/* Reads a scalar string attribute (fixed or variable length) of obj into buf.
 * Returns 1 when read, 0 when absent, -1 when present but not a readable string. */
static int attr_string(hid_t obj, const char *key, char *buf, size_t cap)
{
    buf[0] = '\0';
    if (H5Aexists(obj, key) <= 0) return 0;
    hid_t at = H5Aopen(obj, key, H5P_DEFAULT);
    if (at < 0) return -1;
    hid_t ty = H5Aget_type(at), sp = H5Aget_space(at);
    int rc = -1;
    if (ty >= 0 && sp >= 0 && H5Tget_class(ty) == H5T_STRING &&
        H5Sget_simple_extent_npoints(sp) == 1) {
        hid_t mt = H5Tcopy(H5T_C_S1);
        if (H5Tis_variable_str(ty) > 0) {
            char *v = NULL;
            H5Tset_size(mt, H5T_VARIABLE);
            H5Tset_cset(mt, H5Tget_cset(ty));
            if (H5Aread(at, mt, &v) >= 0 && v) {
                snprintf(buf, cap, "%s", v);
                H5free_memory(v);
                rc = 1;
            }
        } else {
            size_t n = H5Tget_size(ty);
            char *v = calloc(n + 2, 1);
            H5Tset_size(mt, n + 1);
            H5Tset_strpad(mt, H5T_STR_NULLTERM);
            H5Tset_cset(mt, H5Tget_cset(ty));
            if (v && H5Aread(at, mt, v) >= 0) {
                snprintf(buf, cap, "%s", v);
                rc = 1;
            }
            free(v);
        }
        H5Tclose(mt);
    }
    if (ty >= 0) H5Tclose(ty);
    if (sp >= 0) H5Sclose(sp);
    H5Aclose(at);
    return rc;
}

/* Reads a scalar integer attribute. Returns 1, 0 when absent, -1 when not an integer. */
static int attr_int(hid_t obj, const char *key, int64_t *out)
{
    if (H5Aexists(obj, key) <= 0) return 0;
    hid_t at = H5Aopen(obj, key, H5P_DEFAULT);
    if (at < 0) return -1;
    hid_t ty = H5Aget_type(at), sp = H5Aget_space(at);
    int rc = -1;
    if (ty >= 0 && sp >= 0 && H5Tget_class(ty) == H5T_INTEGER &&
        H5Sget_simple_extent_npoints(sp) == 1 && H5Aread(at, H5T_NATIVE_INT64, out) >= 0)
        rc = 1;
    if (ty >= 0) H5Tclose(ty);
    if (sp >= 0) H5Sclose(sp);
    H5Aclose(at);
    return rc;
}

/* Type of the object at `name` in loc: H5I_DATASET, H5I_GROUP, ... or H5I_BADID.
 * Opening it is the one way that reads the same in every HDF5 1.10+ API version. */
static H5I_type_t object_type(hid_t loc, const char *name)
{
    hid_t o = H5Oopen(loc, name, H5P_DEFAULT);
    if (o < 0) return H5I_BADID;
    H5I_type_t t = H5Iget_type(o);
    H5Oclose(o);
    return t;
}

static int put_attr_string(hid_t obj, const char *key, const char *value)
{
    hid_t ty = H5Tcopy(H5T_C_S1);
    H5Tset_size(ty, strlen(value) + 1);
    H5Tset_strpad(ty, H5T_STR_NULLTERM);
    H5Tset_cset(ty, H5T_CSET_UTF8);
    hid_t sp = H5Screate(H5S_SCALAR);
    hid_t at = H5Acreate2(obj, key, ty, sp, H5P_DEFAULT, H5P_DEFAULT);
    int rc = at >= 0 && H5Awrite(at, ty, value) >= 0 ? 0 : -1;
    if (at >= 0) H5Aclose(at);
    H5Sclose(sp);
    H5Tclose(ty);
    return rc;
}

static int put_attr_int(hid_t obj, const char *key, int64_t value)
{
    hid_t sp = H5Screate(H5S_SCALAR);
    hid_t at = H5Acreate2(obj, key, H5T_STD_I64LE, sp, H5P_DEFAULT, H5P_DEFAULT);
    int rc = at >= 0 && H5Awrite(at, H5T_NATIVE_INT64, &value) >= 0 ? 0 : -1;
    if (at >= 0) H5Aclose(at);
    H5Sclose(sp);
    return rc;
}

/* ---------------------------------------------------------------------------- */
/* Reading                                                                       */

/* What one dataset declares. */
typedef struct {
    int present;
    qlab_dump_dtype dtype;
    int rank;
    int64_t dims[2];
    uint64_t stored; /* bytes the file stores for it (compressed when filtered) */
} ds_decl;

/* Checks dataset `name` of group g (full path gpath for messages): presence, dtype,
 * rank == want_rank, positive dims, at most QLAB_DUMP_MAX_VALUES values. Nothing is
 * read. Returns 0 (d->present says whether it exists) or 2 with err set. */
static int probe_dataset(const char *file, hid_t g, const char *gpath, const char *name,
                         int want_rank, int required, ds_decl *d, char *err, size_t err_len)
{
    memset(d, 0, sizeof *d);
    htri_t ex = H5Lexists(g, name, H5P_DEFAULT);
    if (ex <= 0) {
        if (!required) return 0;
        snprintf(err, err_len, "%s: %s/%s: missing (every layer needs weight [n,k] and input [tokens,k])",
                 file, gpath, name);
        return 2;
    }
    if (object_type(g, name) != H5I_DATASET) {
        snprintf(err, err_len, "%s: %s/%s: not a dataset", file, gpath, name);
        return 2;
    }
    hid_t ds = H5Dopen2(g, name, H5P_DEFAULT);
    if (ds < 0) {
        snprintf(err, err_len, "%s: %s/%s: cannot open the dataset (file corrupt?)", file, gpath, name);
        return 2;
    }
    int rc = 2;
    hid_t ty = H5Dget_type(ds), sp = H5Dget_space(ds);
    if (ty < 0 || sp < 0) {
        snprintf(err, err_len, "%s: %s/%s: cannot read the dataset's type or shape", file, gpath, name);
        goto done;
    }
    H5T_class_t cls = H5Tget_class(ty);
    size_t size = H5Tget_size(ty);
    char tag[32];
    int tagged = attr_string(ds, "dtype", tag, sizeof tag);
    if (cls == H5T_FLOAT && size == 4) {
        d->dtype = QLAB_DUMP_F32;
    } else if (cls == H5T_FLOAT && size == 2) {
        size_t spos, epos, esize, mpos, msize;
        if (H5Tget_fields(ty, &spos, &epos, &esize, &mpos, &msize) < 0 || esize != 5 ||
            msize != 10 || H5Tget_ebias(ty) != 15) {
            snprintf(err, err_len, "%s: %s/%s: a 16-bit float type that is not IEEE float16", file,
                     gpath, name);
            goto done;
        }
        d->dtype = QLAB_DUMP_F16;
    } else if (cls == H5T_INTEGER && size == 2 && H5Tget_sign(ty) == H5T_SGN_NONE && tagged == 1 &&
               strcmp(tag, "bfloat16") == 0) {
        d->dtype = QLAB_DUMP_BF16;
    } else if (cls == H5T_INTEGER && size == 2 && H5Tget_sign(ty) == H5T_SGN_NONE) {
        snprintf(err, err_len, "%s: %s/%s: uint16 data without the attribute dtype = \"bfloat16\" "
                 "(dtype attribute: '%s')", file, gpath, name, tagged == 1 ? tag : "absent");
        goto done;
    } else {
        snprintf(err, err_len, "%s: %s/%s: unsupported element type (%s of %zu bytes); a dump holds "
                 "float32, float16, or bfloat16 as uint16 with dtype = \"bfloat16\"", file, gpath, name,
                 cls == H5T_FLOAT ? "float" : cls == H5T_INTEGER ? "integer" : "non-numeric", size);
        goto done;
    }
    int rank = H5Sget_simple_extent_ndims(sp);
    if (rank != want_rank) {
        snprintf(err, err_len, "%s: %s/%s: expected %d dimension%s, the dataset has %d", file, gpath,
                 name, want_rank, want_rank == 1 ? "" : "s", rank);
        goto done;
    }
    hsize_t dims[2] = {0, 0};
    H5Sget_simple_extent_dims(sp, dims, NULL);
    uint64_t total = 1;
    for (int i = 0; i < rank; i++) {
        if (dims[i] == 0) {
            snprintf(err, err_len, "%s: %s/%s: declared shape [%llu%s%.0llu] is empty (dimension %d "
                     "is 0)%s", file, gpath, name, (unsigned long long)dims[0], rank == 2 ? ", " : "",
                     rank == 2 ? (unsigned long long)dims[1] : 0ULL, i,
                     i == 0 && (!strcmp(name, "input") || !strcmp(name, "output"))
                         ? ": the layer saw no tokens (an expert no token was routed to?)" : "");
            goto done;
        }
        /* each factor within the limit first, so the product cannot overflow */
        if (dims[i] > (hsize_t)QLAB_DUMP_MAX_VALUES ||
            (total *= dims[i]) > (uint64_t)QLAB_DUMP_MAX_VALUES) {
            snprintf(err, err_len, "%s: %s/%s: declared shape [%llu%s%.0llu] is larger than %" PRId64
                     " values; refusing to allocate it (file corrupt?)", file, gpath, name,
                     (unsigned long long)dims[0], rank == 2 ? ", " : "",
                     rank == 2 ? (unsigned long long)dims[1] : 0ULL, (int64_t)QLAB_DUMP_MAX_VALUES);
            goto done;
        }
        d->dims[i] = (int64_t)dims[i];
    }
    /* the declared values must be in the file, before anyone allocates room for them */
    char what[QLAB_LAYER_LEN + 300];
    snprintf(what, sizeof what, "%s: %s/%s", file, gpath, name);
    if (qlab_h5_check_stored(ds, file, what, total * size, err, err_len)) goto done;
    d->stored = H5Dget_storage_size(ds);
    d->rank = rank;
    d->present = 1;
    rc = 0;
done:
    if (ty >= 0) H5Tclose(ty);
    if (sp >= 0) H5Sclose(sp);
    H5Dclose(ds);
    return rc;
}

/* Each precision a layer's values can have passed through: its unit roundoff u (half
 * the spacing of values in [1, 2)) and eta, half its smallest subnormal (the largest
 * absolute error of rounding a tiny value). tf32 is float32's range with float16's
 * 10 stored significand bits (what NVIDIA tensor cores multiply float32 inputs in). */
typedef struct {
    const char *name;
    double u, eta;
} precision;

enum { PREC_F32, PREC_TF32, PREC_F16, PREC_BF16, PREC_COUNT };

static const precision precisions[PREC_COUNT] = {
    {"float32", 0x1p-24, 0x1p-150},
    {"tf32", 0x1p-11, 0x1p-150},
    {"float16", 0x1p-11, 0x1p-25},
    {"bfloat16", 0x1p-8, 0x1p-134},
};

static int prec_of_dtype(qlab_dump_dtype d)
{
    return d == QLAB_DUMP_F16 ? PREC_F16 : d == QLAB_DUMP_BF16 ? PREC_BF16 : PREC_F32;
}

/* The coarser of two precisions (larger u, then larger eta). */
static int prec_coarser(int a, int b)
{
    if (precisions[a].u != precisions[b].u) return precisions[a].u > precisions[b].u ? a : b;
    return precisions[a].eta >= precisions[b].eta ? a : b;
}

/* The four datasets of one layer (weight, input, bias, output) and the coarsest
 * precision among their dtypes and the layer's compute_dtype attribute. */
typedef struct {
    ds_decl d[4];
    int prec;
} layer_decl;

/* Validates one layer group's headers (attribute compute_dtype, the datasets' types
 * and shapes, nothing read) and fills L's shapes with what the valid datasets declare
 * (0 where unknown). Returns 0, or 2 with the first defect in err. */
static int probe_layer(const char *file, hid_t g, const char *gpath, qlab_dump_layer *L,
                       layer_decl *decl, char *err, size_t err_len)
{
    static const char *const names[4] = {"weight", "input", "bias", "output"};
    static const int ranks[4] = {2, 2, 1, 2};
    char scratch[1024];
    int rc = 0;
    /* every dataset is probed, so a defective layer still reports the shapes it can */
    for (int i = 0; i < 4; i++)
        if (probe_dataset(file, g, gpath, names[i], ranks[i], i < 2, &decl->d[i],
                          rc ? scratch : err, rc ? sizeof scratch : err_len))
            rc = 2;
    const ds_decl *w = &decl->d[0], *x = &decl->d[1], *b = &decl->d[2], *y = &decl->d[3];
    L->n = w->present ? w->dims[0] : y->present ? y->dims[1] : b->present ? b->dims[0] : 0;
    L->k = w->present ? w->dims[1] : x->present ? x->dims[1] : 0;
    L->tokens = x->present ? x->dims[0] : y->present ? y->dims[0] : 0;
    L->has_bias = b->present;
    L->has_output = y->present;
    decl->prec = PREC_F32;
    for (int i = 0; i < 4; i++)
        if (decl->d[i].present) decl->prec = prec_coarser(decl->prec, prec_of_dtype(decl->d[i].dtype));
    if (rc) return rc;

    char cd[32];
    int got = attr_string(g, "compute_dtype", cd, sizeof cd);
    if (got == 1) {
        int p = -1;
        for (int i = 0; i < PREC_COUNT; i++)
            if (strcmp(cd, precisions[i].name) == 0) p = i;
        if (p < 0) {
            snprintf(err, err_len, "%s: %s: attribute compute_dtype = '%s' is not one of float32, "
                     "tf32, float16, bfloat16", file, gpath, cd);
            return 2;
        }
        decl->prec = prec_coarser(decl->prec, p);
    } else if (got < 0) {
        snprintf(err, err_len, "%s: %s: attribute compute_dtype is not a string", file, gpath);
        return 2;
    }

    /* Each dataset's stored bytes were checked against the file's size; together they
     * must fit too, since datasets never share storage. This also bounds what reading
     * the layer allocates by QLAB_H5_MAX_RATIO times the file's size (a damaged chunk
     * index can otherwise let each of the four claim the whole file). */
    struct stat st;
    if (stat(file, &st) == 0) {
        uint64_t sum = 0;
        for (int i = 0; i < 4; i++) sum += decl->d[i].present ? decl->d[i].stored : 0;
        if (sum > (uint64_t)st.st_size) {
            snprintf(err, err_len, "%s: %s: its datasets claim %llu stored bytes together, more "
                     "than the whole file (%llu bytes; file corrupt?)", file, gpath,
                     (unsigned long long)sum, (unsigned long long)st.st_size);
            return 2;
        }
    }
    if (x->dims[1] != L->k) {
        /* a weight stored [in, out] (GPT-2's Conv1D) shows as input k = weight's rows */
        int transposed = x->dims[1] == w->dims[0];
        snprintf(err, err_len, "%s: %s/input: shape [%" PRId64 ", %" PRId64 "] does not match weight "
                 "[%" PRId64 ", %" PRId64 "]: input must be [tokens, k = %" PRId64 "]%s", file, gpath,
                 x->dims[0], x->dims[1], L->n, L->k, L->k,
                 transposed ? "; the weight looks stored [in, out]: transpose it to [out, in]" : "");
        return 2;
    }
    if (L->has_bias && b->dims[0] != L->n) {
        snprintf(err, err_len, "%s: %s/bias: length %" PRId64 " does not match weight [%" PRId64
                 ", %" PRId64 "]: bias must be [n = %" PRId64 "]", file, gpath, b->dims[0],
                 L->n, L->k, L->n);
        return 2;
    }
    if (L->has_output && (y->dims[0] != L->tokens || y->dims[1] != L->n)) {
        snprintf(err, err_len, "%s: %s/output: shape [%" PRId64 ", %" PRId64 "] must be [tokens = %"
                 PRId64 ", n = %" PRId64 "]", file, gpath, y->dims[0], y->dims[1],
                 L->tokens, L->n);
        return 2;
    }
    return 0;
}

typedef struct {
    char (*names)[QLAB_LAYER_LEN];
    int64_t n, cap;
    int too_long;
    char long_name[QLAB_LAYER_LEN];
} name_list;

static herr_t collect_name(hid_t g, const char *name, const H5L_info_t *info, void *op)
{
    (void)g; (void)info;
    name_list *l = op;
    if (strlen(name) >= QLAB_LAYER_LEN) {
        l->too_long = 1;
        snprintf(l->long_name, sizeof l->long_name, "%.100s", name);
        return 1;
    }
    if (l->n == l->cap) {
        int64_t cap = l->cap ? 2 * l->cap : 32;
        void *v = realloc(l->names, (size_t)cap * sizeof *l->names);
        if (!v) return -1;
        l->names = v;
        l->cap = cap;
    }
    snprintf(l->names[l->n++], QLAB_LAYER_LEN, "%s", name);
    return 0;
}

static int cmp_layer(const void *a, const void *b)
{
    const qlab_dump_layer *x = a, *y = b;
    if (x->index != y->index) return x->index < y->index ? -1 : 1;
    return strcmp(x->group, y->group);
}

/* Opens the file read-only with a message for each way that fails. */
static hid_t open_dump(const char *path, char *err, size_t err_len)
{
    if (access(path, R_OK) != 0) {
        snprintf(err, err_len, "%s: cannot open the dump file: %s", path, strerror(errno));
        return -1;
    }
    if (H5Fis_hdf5(path) <= 0) {
        snprintf(err, err_len, "%s: not an HDF5 file (a dump is HDF5 with format = \"qlab-dump\")", path);
        return -1;
    }
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0)
        snprintf(err, err_len, "%s: cannot open the HDF5 file (truncated or corrupt?)", path);
    return f;
}

/* The file-level checks on an open dump: root attributes format, format_version (into
 * info; model and source too), a /layers group holding at least one entry. Fills
 * *lg (the open /layers group; caller closes) and names (caller frees names->names).
 * Returns 0, or 2 with a message naming the file. */
static int open_layers(const char *path, hid_t f, qlab_dump_info *info, hid_t *lg,
                       name_list *names, char *err, size_t err_len)
{
    *lg = -1;
    memset(names, 0, sizeof *names);
    char fmt[64];
    int got = attr_string(f, "format", fmt, sizeof fmt);
    if (got == 0) {
        snprintf(err, err_len, "%s: root attribute 'format' is missing: not a qlab dump file", path);
        return 2;
    }
    if (got < 0 || strcmp(fmt, QLAB_DUMP_FORMAT) != 0) {
        snprintf(err, err_len, "%s: root attribute format = '%s', expected '%s'", path,
                 got < 0 ? "(not a string)" : fmt, QLAB_DUMP_FORMAT);
        return 2;
    }
    got = attr_int(f, "format_version", &info->format_version);
    if (got <= 0) {
        snprintf(err, err_len, "%s: root attribute 'format_version' is %s", path,
                 got == 0 ? "missing" : "not an integer");
        return 2;
    }
    if (info->format_version != QLAB_DUMP_FORMAT_VERSION) {
        snprintf(err, err_len, "%s: root attribute format_version = %" PRId64 " is not known (this "
                 "qlab reads version %d)", path, info->format_version, QLAB_DUMP_FORMAT_VERSION);
        return 2;
    }
    attr_string(f, "model", info->model, sizeof info->model);
    attr_string(f, "source", info->source, sizeof info->source);

    if (H5Lexists(f, "layers", H5P_DEFAULT) <= 0 || object_type(f, "layers") != H5I_GROUP) {
        snprintf(err, err_len, "%s: /layers: missing (a dump holds one group per linear layer under /layers)",
                 path);
        return 2;
    }
    *lg = H5Gopen2(f, "layers", H5P_DEFAULT);
    if (*lg < 0) {
        snprintf(err, err_len, "%s: /layers: cannot open the group", path);
        return 2;
    }
    hsize_t idx = 0;
    herr_t it = H5Literate(*lg, H5_INDEX_NAME, H5_ITER_INC, &idx, collect_name, names);
    if (names->too_long) {
        snprintf(err, err_len, "%s: /layers/%s...: group name longer than %d characters", path,
                 names->long_name, QLAB_LAYER_LEN - 1);
        return 2;
    }
    if (it < 0) {
        snprintf(err, err_len, "%s: /layers: cannot list the layers (file corrupt?)", path);
        return 2;
    }
    if (names->n == 0) {
        snprintf(err, err_len, "%s: /layers: holds no layer", path);
        return 2;
    }
    return 0;
}

/* Probes entry `name` of /layers (lg) into L and decl: a group, its attributes name and
 * index (position i when absent), its datasets' headers. Returns 0, or 2 with the
 * layer's defect in err. */
static int probe_entry(const char *path, hid_t lg, const char *name, int64_t i, qlab_dump_layer *L,
                       layer_decl *decl, char *err, size_t err_len)
{
    char gpath[QLAB_LAYER_LEN + 16];
    snprintf(gpath, sizeof gpath, "/layers/%s", name);
    snprintf(L->group, sizeof L->group, "%s", name);
    snprintf(L->name, sizeof L->name, "%s", name);
    L->index = i;
    memset(decl, 0, sizeof *decl);
    if (object_type(lg, name) != H5I_GROUP) {
        snprintf(err, err_len, "%s: %s: not a group (every entry of /layers is one layer's group)",
                 path, gpath);
        return 2;
    }
    hid_t g = H5Gopen2(lg, name, H5P_DEFAULT);
    if (g < 0) {
        snprintf(err, err_len, "%s: %s: cannot open the group", path, gpath);
        return 2;
    }
    if (attr_string(g, "name", L->name, sizeof L->name) != 1)
        snprintf(L->name, sizeof L->name, "%s", L->group);
    if (attr_int(g, "index", &L->index) != 1)
        L->index = i;
    int rc = probe_layer(path, g, gpath, L, decl, err, err_len);
    H5Gclose(g);
    return rc;
}

void qlab_dump_info_free(qlab_dump_info *info)
{
    if (!info) return;
    free(info->layers);
    memset(info, 0, sizeof *info);
}

int qlab_dump_inspect(const char *path, qlab_dump_info *info, char *err, size_t err_len)
{
    memset(info, 0, sizeof *info);
    dump_quiet q = quiet_begin();
    name_list names = {0};
    hid_t lg = -1;
    hid_t f = open_dump(path, err, err_len);
    int rc = 2;
    if (f < 0) goto out;
    rc = open_layers(path, f, info, &lg, &names, err, err_len);
    if (rc) goto out;
    info->layers = calloc((size_t)names.n, sizeof *info->layers);
    if (!info->layers) {
        snprintf(err, err_len, "%s: out of memory listing %" PRId64 " layers", path, names.n);
        rc = 2;
        goto out;
    }
    info->n_layers = names.n;
    /* A defect of one layer is that layer's: recorded in problem, its points fail. */
    int64_t usable = 0;
    for (int64_t i = 0; i < names.n; i++) {
        qlab_dump_layer *L = &info->layers[i];
        layer_decl decl;
        if (!probe_entry(path, lg, names.names[i], i, L, &decl, L->problem, sizeof L->problem))
            usable++;
    }
    if (usable == 0) {
        /* nothing would run: a file-level error, with the first layer's defect */
        snprintf(err, err_len, "%s%s", info->layers[0].problem,
                 names.n == 1 ? " (the dump's only layer)" : " (and every other layer of the dump has a defect too)");
        rc = 2;
        goto out;
    }
    qsort(info->layers, (size_t)info->n_layers, sizeof *info->layers, cmp_layer);
out:
    free(names.names);
    if (lg >= 0) H5Gclose(lg);
    if (f >= 0) H5Fclose(f);
    quiet_end(q);
    if (rc) qlab_dump_info_free(info);
    return rc;
}

/* Reads dataset `name` of g (declared as d) into a new float32 buffer and checks
 * every value is finite. Returns the buffer, or NULL with err set. */
static float *read_values(const char *file, hid_t g, const char *gpath, const char *name,
                          const ds_decl *d, char *err, size_t err_len)
{
    size_t count = (size_t)d->dims[0] * (size_t)(d->rank == 2 ? d->dims[1] : 1);
    float *out = malloc(count * sizeof *out);
    uint16_t *raw = d->dtype == QLAB_DUMP_F32 ? NULL : malloc(count * sizeof *raw);
    if (!out || (d->dtype != QLAB_DUMP_F32 && !raw)) {
        snprintf(err, err_len, "%s: %s/%s: cannot allocate %.1f MiB", file, gpath, name,
                 (double)count * 6 / 1048576.0);
        free(out);
        free(raw);
        return NULL;
    }
    hid_t ds = H5Dopen2(g, name, H5P_DEFAULT);
    herr_t st = -1;
    if (ds >= 0) {
        if (d->dtype == QLAB_DUMP_F32) {
            st = H5Dread(ds, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, out);
        } else if (d->dtype == QLAB_DUMP_F16) {
            hid_t ht = half_type();
            if (ht >= 0) {
                st = H5Dread(ds, ht, H5S_ALL, H5S_ALL, H5P_DEFAULT, raw);
                H5Tclose(ht);
            }
        } else {
            st = H5Dread(ds, H5T_NATIVE_UINT16, H5S_ALL, H5S_ALL, H5P_DEFAULT, raw);
        }
        H5Dclose(ds);
    }
    if (st < 0) {
        snprintf(err, err_len, "%s: %s/%s: cannot read the values (file truncated or corrupt?)", file,
                 gpath, name);
        free(out);
        free(raw);
        return NULL;
    }
    if (d->dtype == QLAB_DUMP_F16)
        for (size_t i = 0; i < count; i++) out[i] = quant_f16_to_f32(raw[i]);
    else if (d->dtype == QLAB_DUMP_BF16)
        for (size_t i = 0; i < count; i++) out[i] = quant_bf16_to_f32(raw[i]);
    free(raw);
    for (size_t i = 0; i < count; i++) {
        if (isfinite(out[i])) continue;
        size_t cols = d->rank == 2 ? (size_t)d->dims[1] : 1;
        snprintf(err, err_len, "%s: %s/%s: value %zu (row %zu, column %zu) is %s; a dump must hold "
                 "finite values", file, gpath, name, i, i / cols, i % cols,
                 isnan(out[i]) ? "NaN" : "infinite");
        free(out);
        return NULL;
    }
    return out;
}

void qlab_dump_tensors_free(qlab_dump_tensors *t)
{
    if (!t) return;
    free(t->weight);
    free(t->input);
    free(t->bias);
    free(t->output);
    memset(t, 0, sizeof *t);
}

int qlab_dump_read_layer(const char *path, const char *group, qlab_dump_tensors *t,
                         char *err, size_t err_len)
{
    memset(t, 0, sizeof *t);
    dump_quiet q = quiet_begin();
    qlab_dump_info info;
    memset(&info, 0, sizeof info);
    name_list names = {0};
    hid_t lg = -1;
    hid_t f = open_dump(path, err, err_len);
    int rc = 2;
    if (f < 0) goto out;
    rc = open_layers(path, f, &info, &lg, &names, err, err_len);
    if (rc) goto out;
    rc = 2;
    /* only this layer's headers are probed and only its datasets read; the group is
     * looked up among the listed names, so `group` is never taken as an HDF5 path */
    int64_t li = -1;
    for (int64_t i = 0; i < names.n && li < 0; i++)
        if (strcmp(names.names[i], group) == 0) li = i;
    if (li < 0) {
        snprintf(err, err_len, "%s: /layers/%s: no such layer group", path, group);
        goto out;
    }
    qlab_dump_layer L;
    layer_decl decl;
    memset(&L, 0, sizeof L);
    if (probe_entry(path, lg, group, li, &L, &decl, err, err_len)) goto out;
    char gpath[QLAB_LAYER_LEN + 16];
    snprintf(gpath, sizeof gpath, "/layers/%s", group);
    hid_t g = H5Gopen2(lg, group, H5P_DEFAULT);
    if (g < 0) {
        snprintf(err, err_len, "%s: %s: cannot open the group", path, gpath);
        goto out;
    }
    t->n = L.n;
    t->k = L.k;
    t->tokens = L.tokens;
    t->unit_roundoff = precisions[decl.prec].u;
    t->underflow = precisions[decl.prec].eta;
    t->precision = precisions[decl.prec].name;
    int ok = (t->weight = read_values(path, g, gpath, "weight", &decl.d[0], err, err_len)) &&
             (t->input = read_values(path, g, gpath, "input", &decl.d[1], err, err_len)) &&
             (!L.has_bias ||
              (t->bias = read_values(path, g, gpath, "bias", &decl.d[2], err, err_len))) &&
             (!L.has_output ||
              (t->output = read_values(path, g, gpath, "output", &decl.d[3], err, err_len)));
    H5Gclose(g);
    rc = ok ? 0 : 2;
out:
    free(names.names);
    if (lg >= 0) H5Gclose(lg);
    if (f >= 0) H5Fclose(f);
    quiet_end(q);
    qlab_dump_info_free(&info);
    if (rc) qlab_dump_tensors_free(t);
    return rc;
}

/* ---------------------------------------------------------------------------- */
/* The stored output against X W^T + b                                          */

/* X W^T (+ b) in float64 into y [m,n]; w is [n,k]. Returns 0 or -1 (quant's error). */
static int matmul_f64(const float *x, const float *w, const float *b, int64_t m, int64_t k,
                      int64_t n, double *y)
{
    if (quant_matmul_ref_f64(x, w, m, k, n, y) != QUANT_OK) return -1;
    if (b)
        for (int64_t i = 0; i < m; i++)
            for (int64_t j = 0; j < n; j++) y[i * n + j] += b[j];
    return 0;
}

/* How far apart the stored output and X W^T + b may be from rounding alone, as a
 * Frobenius norm of the difference. The layer's values have passed through one
 * precision with unit roundoff u (the coarsest of the dump's dtypes and the layer's
 * compute_dtype), and the producer accumulated in at least float32:
 *
 *  - X, W (rounded to storage, or by the producer before multiplying): every product
 *    x_il w_jl is off by up to 2u relatively. Treating the rounding errors as
 *    independent and zero-mean (the probabilistic model of Higham and Mary, SIAM J.
 *    Sci. Comput. 2019), y_ij is off by about 2u sqrt(sum_l (x_il w_jl)^2), and over
 *    the matrix by 2u ||S||_F with ||S||_F^2 = sum_l ||X[:,l]||^2 ||W[:,l]||^2.
 *  - the producer's float32 accumulation of k terms: sqrt(k) u32 ||S||_F likewise.
 *  - rounding the bias and the output itself: u (sqrt(m) ||b|| + ||Y||_F).
 *  - values below the precision's subnormals: eta sqrt(m n).
 *
 * The tolerance is 4 times that estimate: rounding errors are at most u but their
 * root mean square is u / sqrt(3), so 4x leaves a wide margin for spread while a weight
 * stored the wrong way round (errors of order ||Y||_F) stays far outside it. For random
 * data ||S||_F is about ||Y||_F, so the tolerance is about (12 u + 4 sqrt(k) u32) ||Y||_F:
 * 0.6 % of the output's norm for float16, 5 % for bfloat16, 2e-5 for float32 at k = 4096. */
static double output_tolerance(const float *x, const float *w, const float *b, int64_t m, int64_t k,
                               int64_t n, double y_norm, double u, double eta, double *colsq)
{
    double s2 = 0;
    for (int64_t l = 0; l < k; l++) colsq[l] = 0;
    for (int64_t i = 0; i < m; i++)
        for (int64_t l = 0; l < k; l++) colsq[l] += (double)x[i * k + l] * x[i * k + l];
    for (int64_t l = 0; l < k; l++) {
        double wl = 0;
        for (int64_t j = 0; j < n; j++) wl += (double)w[j * k + l] * w[j * k + l];
        s2 += colsq[l] * wl;
    }
    double b2 = 0;
    for (int64_t j = 0; b && j < n; j++) b2 += (double)b[j] * b[j];
    double s = sqrt(s2);
    double est = 2 * u * s + sqrt((double)k) * 0x1p-24 * s + u * (sqrt((double)m * b2) + y_norm) +
                 eta * sqrt((double)m * (double)n);
    return 4 * est;
}

/* ||y - out||_F and ||y||_F over count values. */
static void diff_norms(const float *out, const double *y, size_t count, double *diff, double *norm)
{
    double d2 = 0, y2 = 0;
    for (size_t i = 0; i < count; i++) {
        double d = (double)out[i] - y[i];
        d2 += d * d;
        y2 += y[i] * y[i];
    }
    *diff = sqrt(d2);
    *norm = sqrt(y2);
}

int qlab_dump_check_output(const char *path, const char *group, const qlab_dump_tensors *t,
                           const double *y_ref, char *err, size_t err_len)
{
    if (!t->output) return 0;
    int64_t m = t->tokens, k = t->k, n = t->n;
    if (m <= 0 || k <= 0 || n <= 0 || !t->weight || !t->input ||
        (uint64_t)m * (uint64_t)n > (uint64_t)QLAB_DUMP_MAX_VALUES ||
        (uint64_t)n * (uint64_t)k > (uint64_t)QLAB_DUMP_MAX_VALUES) {
        snprintf(err, err_len, "%s: /layers/%s: tensors of tokens=%" PRId64 " k=%" PRId64 " n=%"
                 PRId64 " cannot be checked", path, group, m, k, n);
        return 2;
    }
    size_t count = (size_t)m * (size_t)n;
    double u = t->unit_roundoff > 0 ? t->unit_roundoff : 0x1p-24;
    const char *prec = t->precision ? t->precision : "float32";
    double *own = NULL, *alt = NULL, *colsq = malloc((size_t)k * sizeof *colsq);
    float *wt = NULL;
    int rc = 2;
    if (!colsq) goto oom;
    if (!y_ref) {
        if (!(own = malloc(count * sizeof *own))) goto oom;
        if (matmul_f64(t->input, t->weight, t->bias, m, k, n, own)) goto fail_ref;
        y_ref = own;
    }
    double diff, ynorm;
    diff_norms(t->output, y_ref, count, &diff, &ynorm);
    double tol = output_tolerance(t->input, t->weight, t->bias, m, k, n, ynorm, u, t->underflow, colsq);
    if (diff <= tol) {
        rc = 0;
        goto done;
    }
    double rel = ynorm > 0 ? diff / ynorm : INFINITY, rel_tol = ynorm > 0 ? tol / ynorm : 0;

    /* Which other reading of the layer the stored output agrees with: W used as
     * [in, out] (X W, only when square), the bias left out. */
    if (!(alt = malloc(count * sizeof *alt))) goto oom;
    if (n == k) {
        if (!(wt = malloc((size_t)n * (size_t)k * sizeof *wt))) goto oom;
        for (int64_t j = 0; j < n; j++)
            for (int64_t l = 0; l < k; l++) wt[j * k + l] = t->weight[l * k + j];
    }
    static const struct { int transposed, bias; const char *what, *advice; } alts[] = {
        {1, 1, "X W + b", "the weight looks stored [in, out] (as GPT-2's Conv1D stores it); "
                          "transpose it to [out, in]"},
        {0, 0, "X W^T without the bias", "the stored output leaves the bias out; store the "
                                         "layer's full output or no output"},
        {1, 0, "X W without the bias", "the weight looks stored [in, out] and the output leaves "
                                       "the bias out; transpose the weight to [out, in]"},
    };
    for (size_t a = 0; a < sizeof alts / sizeof alts[0]; a++) {
        if (alts[a].transposed && !wt) continue;
        if (!alts[a].bias && !t->bias) continue;
        const float *w = alts[a].transposed ? wt : t->weight, *b = alts[a].bias ? t->bias : NULL;
        if (matmul_f64(t->input, w, b, m, k, n, alt)) goto fail_ref;
        double d_alt, n_alt;
        diff_norms(t->output, alt, count, &d_alt, &n_alt);
        if (d_alt <= output_tolerance(t->input, w, b, m, k, n, n_alt, u, t->underflow, colsq)) {
            snprintf(err, err_len, "%s: /layers/%s/output: stored output matches %s, not X W^T%s "
                     "(%.3g%% apart, tolerance %.2g%%): %s", path, group, alts[a].what,
                     t->bias ? " + b" : "", 100 * rel, 100 * rel_tol, alts[a].advice);
            goto done;
        }
    }
    snprintf(err, err_len, "%s: /layers/%s/output: stored output differs from X W^T%s by %.3g%% "
             "(relative), beyond the %.2g%% that %s rounding at k = %" PRId64 " explains%s; "
             "weight, input and output do not belong together (or the layer ran in a coarser "
             "precision: set its compute_dtype)", path, group, t->bias ? " + b" : "", 100 * rel,
             100 * rel_tol, prec, k, wt ? (t->bias ? ", nor is it X W + b" : ", nor is it X W") : "");
    goto done;
fail_ref:
    snprintf(err, err_len, "%s: /layers/%s: float64 reference for the output check failed", path, group);
    goto done;
oom:
    snprintf(err, err_len, "%s: /layers/%s: out of memory for the output check (%.1f MiB)", path,
             group, (double)count * 16 / 1048576.0);
done:
    free(own);
    free(alt);
    free(wt);
    free(colsq);
    return rc;
}

/* ---------------------------------------------------------------------------- */
/* Writing                                                                       */

struct qlab_dump_writer {
    hid_t file, layers;
    qlab_dump_dtype dtype;
    int64_t n_layers;
    char path[QLAB_PATH_LEN];
};

int qlab_dump_create(const char *path, const char *model, const char *source,
                     qlab_dump_dtype dtype, qlab_dump_writer **out, char *err, size_t err_len)
{
    *out = NULL;
    if (!qlab_dump_dtype_name(dtype)) {
        snprintf(err, err_len, "%s: unknown dump dtype %d", path, (int)dtype);
        return 2;
    }
    qlab_dump_writer *w = calloc(1, sizeof *w);
    if (!w) {
        snprintf(err, err_len, "%s: out of memory", path);
        return 2;
    }
    snprintf(w->path, sizeof w->path, "%s", path);
    w->dtype = dtype;
    dump_quiet q = quiet_begin();
    w->file = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    int rc = 0;
    if (w->file < 0) {
        snprintf(err, err_len, "%s: cannot create the dump file: %s", path,
                 errno ? strerror(errno) : "HDF5 error");
        rc = 2;
    } else if (put_attr_string(w->file, "format", QLAB_DUMP_FORMAT) ||
               put_attr_int(w->file, "format_version", QLAB_DUMP_FORMAT_VERSION) ||
               put_attr_string(w->file, "model", model ? model : "") ||
               put_attr_string(w->file, "source", source ? source : "") ||
               (w->layers = H5Gcreate2(w->file, "layers", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT)) < 0) {
        snprintf(err, err_len, "%s: cannot write the root attributes and /layers", path);
        rc = 2;
    }
    quiet_end(q);
    if (rc) {
        if (w->file >= 0) H5Fclose(w->file);
        free(w);
        return rc;
    }
    *out = w;
    return 0;
}

/* Writes v [d0, d1] (d1 = 0: 1-D) as dataset `name` of g in the writer's dtype. */
static int write_values(qlab_dump_writer *w, hid_t g, const char *name, const float *v,
                        int64_t d0, int64_t d1)
{
    hsize_t dims[2] = {(hsize_t)d0, (hsize_t)d1};
    int rank = d1 > 0 ? 2 : 1;
    size_t count = (size_t)d0 * (size_t)(d1 > 0 ? d1 : 1);
    hid_t sp = H5Screate_simple(rank, dims, NULL);
    hid_t ty = w->dtype == QLAB_DUMP_F32 ? H5Tcopy(H5T_IEEE_F32LE)
             : w->dtype == QLAB_DUMP_F16 ? half_type() : H5Tcopy(H5T_STD_U16LE);
    uint16_t *bits = NULL;
    int rc = -1;
    if (sp < 0 || ty < 0) goto done;
    if (w->dtype != QLAB_DUMP_F32) {
        bits = malloc(count * sizeof *bits);
        if (!bits) goto done;
        for (size_t i = 0; i < count; i++)
            bits[i] = w->dtype == QLAB_DUMP_F16 ? quant_f32_to_f16(v[i]) : quant_f32_to_bf16(v[i]);
    }
    hid_t ds = H5Dcreate2(g, name, ty, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (ds < 0) goto done;
    herr_t st = w->dtype == QLAB_DUMP_F32 ? H5Dwrite(ds, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, v)
              : w->dtype == QLAB_DUMP_F16 ? H5Dwrite(ds, ty, H5S_ALL, H5S_ALL, H5P_DEFAULT, bits)
              : H5Dwrite(ds, H5T_NATIVE_UINT16, H5S_ALL, H5S_ALL, H5P_DEFAULT, bits);
    rc = st < 0 ? -1 : 0;
    if (!rc && w->dtype == QLAB_DUMP_BF16) rc = put_attr_string(ds, "dtype", "bfloat16");
    H5Dclose(ds);
done:
    free(bits);
    if (ty >= 0) H5Tclose(ty);
    if (sp >= 0) H5Sclose(sp);
    return rc;
}

int qlab_dump_add_layer(qlab_dump_writer *w, const char *name, const float *weight,
                        int64_t n, int64_t k, const float *bias, const float *input,
                        int64_t tokens, const float *output, char *err, size_t err_len)
{
    if (!w || !name || !name[0] || strchr(name, '/') || !weight || !input || n <= 0 || k <= 0 ||
        tokens <= 0) {
        snprintf(err, err_len, "%s: layer '%s': needs a non-empty name without '/', weight [n,k] and "
                 "input [tokens,k] with positive sizes", w ? w->path : "?", name ? name : "");
        return 2;
    }
    char group[QLAB_LAYER_LEN];
    if (snprintf(group, sizeof group, "%03" PRId64 "-%s", w->n_layers, name) >= (int)sizeof group) {
        snprintf(err, err_len, "%s: layer '%s': name too long for a group name (%d characters at most)",
                 w->path, name, QLAB_LAYER_LEN - 6);
        return 2;
    }
    if ((uint64_t)n * (uint64_t)k > (uint64_t)QLAB_DUMP_MAX_VALUES ||
        (uint64_t)tokens * (uint64_t)(k > n ? k : n) > (uint64_t)QLAB_DUMP_MAX_VALUES) {
        snprintf(err, err_len, "%s: layer '%s': tensors larger than %" PRId64 " values", w->path,
                 name, (int64_t)QLAB_DUMP_MAX_VALUES);
        return 2;
    }
    dump_quiet q = quiet_begin();
    int rc = 2;
    hid_t g = H5Gcreate2(w->layers, group, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (g >= 0 && !put_attr_string(g, "name", name) && !put_attr_int(g, "index", w->n_layers) &&
        !write_values(w, g, "weight", weight, n, k) && !write_values(w, g, "input", input, tokens, k) &&
        (!bias || !write_values(w, g, "bias", bias, n, 0)) &&
        (!output || !write_values(w, g, "output", output, tokens, n)))
        rc = 0;
    if (g >= 0) H5Gclose(g);
    quiet_end(q);
    if (rc) {
        snprintf(err, err_len, "%s: /layers/%s: cannot write the layer", w->path, group);
        return rc;
    }
    w->n_layers++;
    return 0;
}

int qlab_dump_close(qlab_dump_writer *w, char *err, size_t err_len)
{
    if (!w) return 0;
    dump_quiet q = quiet_begin();
    int rc = 0;
    if (w->layers >= 0 && H5Gclose(w->layers) < 0) rc = 2;
    if (H5Fclose(w->file) < 0) rc = 2;
    quiet_end(q);
    if (rc) snprintf(err, err_len, "%s: cannot finish writing the dump file", w->path);
    free(w);
    return rc;
}

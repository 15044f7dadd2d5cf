/* safetensors.h: a reader of .safetensors weight files (the format Hugging Face
 * models ship in), enough for the models qlab runs itself.
 *
 * A file is: 8 bytes little-endian header length N, N bytes of JSON mapping each
 * tensor name to {dtype, shape, data_offsets: [begin, end)} (offsets relative to the
 * byte after the header; "__metadata__" holds string pairs), then the data. The
 * whole header is validated on open, before any tensor is read: every dtype known,
 * every shape's byte count equal to its offsets' span, every span inside the file.
 * F32, F16 and BF16 tensors convert to float32; other dtypes (I64 position ids) are
 * listed but cannot be read as floats.
 */
#ifndef QLAB_SAFETENSORS_H
#define QLAB_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#define QLAB_ST_MAX_DIMS 8
#define QLAB_ST_NAME_LEN 256

typedef enum {
    QLAB_ST_F32 = 0,
    QLAB_ST_F16,
    QLAB_ST_BF16,
    QLAB_ST_F64,
    QLAB_ST_I64,
    QLAB_ST_I32,
    QLAB_ST_I16,
    QLAB_ST_I8,
    QLAB_ST_U8,
    QLAB_ST_BOOL,
    QLAB_ST_DTYPE_COUNT
} qlab_st_dtype;

typedef struct {
    char name[QLAB_ST_NAME_LEN];
    qlab_st_dtype dtype;
    int ndim;
    int64_t shape[QLAB_ST_MAX_DIMS];
    int64_t numel;
    uint64_t begin, end;        /* byte span in the data section */
} qlab_st_tensor;

typedef struct {
    char path[512];
    unsigned char *map;         /* the whole file, mapped read-only */
    size_t size;
    int owns_map;               /* 1 when qlab_st_open mapped it (qlab_st_close unmaps) */
    size_t data_start;          /* 8 + header length */
    qlab_st_tensor *tensors;
    int64_t n_tensors;
} qlab_safetensors;

/* Opens and validates path. On success returns 0 and st owns the mapping (free with
 * qlab_st_close). On any problem returns 2 with a message naming the file (and the
 * tensor or header position at fault) in err; st is then empty. */
int qlab_st_open(qlab_safetensors *st, const char *path, char *err, size_t err_len);

/* Parses an in-memory file image (the same checks as qlab_st_open, for tests and for
 * callers holding the bytes). The image must outlive st; qlab_st_close does not free
 * it. `label` names the source in messages. */
int qlab_st_parse(qlab_safetensors *st, const unsigned char *data, size_t size,
                  const char *label, char *err, size_t err_len);

void qlab_st_close(qlab_safetensors *st);

/* The tensor called name, or NULL. */
const qlab_st_tensor *qlab_st_find(const qlab_safetensors *st, const char *name);

/* Reads tensor name as float32 into a new buffer (*out, caller frees). If ndim > 0 the
 * tensor's shape must equal shape[0..ndim). Returns 0, or 2 with a message naming the
 * file, the tensor and the shapes (missing tensor, wrong shape, non-float dtype). */
int qlab_st_read_f32(const qlab_safetensors *st, const char *name, int ndim,
                     const int64_t *shape, float **out, char *err, size_t err_len);

/* The dtype's safetensors spelling ("F32") and size in bytes. */
const char *qlab_st_dtype_name(qlab_st_dtype d);
size_t qlab_st_dtype_size(qlab_st_dtype d);

#endif

/* dump.h: layer dump files (DESIGN section 8), the input side of real-layer studies.
 *
 * A dump holds, for every linear layer of a model, its weight [n,k], optional bias
 * [n], the activations it saw on a real forward pass (input [tokens,k]) and optionally
 * what it produced (output [tokens,n]):
 *
 *   /                       attributes format = "qlab-dump", format_version = 1,
 *                           model, source
 *   /layers/<NNN>-<name>    one group per linear, in execution order; attributes
 *                           name (the module's name) and index
 *       weight, bias, input, output   float32, float16 (IEEE half), or uint16 holding
 *                           bfloat16 bits with a dataset attribute dtype = "bfloat16"
 *       attribute compute_dtype (optional): "float32", "tf32", "float16" or "bfloat16",
 *                           the precision the producer computed the layer in, when
 *                           coarser than what it stored (sets the output check's tolerance)
 *
 * The weight is [out, in] (torch.nn.Linear's layout): y = x W^T + b. A producer whose
 * module stores [in, out] (GPT-2's Conv1D) transposes it when writing.
 *
 * Producers: this writer (used by tests and by `qlab dump`) and tools/dump_torch.py
 * (h5py, for any PyTorch model). Consumers: the config loader (qlab_dump_inspect:
 * the layers and their shapes, no tensor data read) and the dump workload
 * (qlab_dump_read_layer: one layer's tensors as float32).
 *
 * Every problem is a return value of 2 and one message naming the file and the
 * dataset or attribute ("tiny.h5: /layers/001-fc2/input: value 17 is NaN"). Shapes
 * are validated before anything is allocated: a dataset declaring more than
 * QLAB_DUMP_MAX_VALUES values is refused without reading it.
 *
 * Defects are either the file's (not HDF5, unreadable, wrong format or version, no
 * layer: qlab_dump_inspect fails) or one layer's (a missing, empty, unreadable or
 * mis-shaped dataset, non-finite values, an output that is not X W^T + b): inspect
 * then records the defect in that layer's `problem` and succeeds, and only reading
 * that layer fails, so a dump workload fails that layer's points and runs the rest.
 */
#ifndef QLAB_DUMP_H
#define QLAB_DUMP_H

#include <stddef.h>
#include <stdint.h>
#include "core/point.h"

#define QLAB_DUMP_FORMAT "qlab-dump"
#define QLAB_DUMP_FORMAT_VERSION 1
/* Largest tensor a dump may declare: 2^31 values (8 GiB as float32), well above any
 * single linear layer's weight or captured input, far below a corrupt 64-bit shape. */
#define QLAB_DUMP_MAX_VALUES (INT64_C(1) << 31)
/* Longest message about one layer (file path, dataset, defect). */
#define QLAB_DUMP_PROBLEM_LEN 1024

typedef enum {
    QLAB_DUMP_F32 = 0,
    QLAB_DUMP_F16,
    QLAB_DUMP_BF16,
    QLAB_DUMP_DTYPE_COUNT
} qlab_dump_dtype;

/* "float32", "float16", "bfloat16"; NULL when out of range. */
const char *qlab_dump_dtype_name(qlab_dump_dtype d);

/* One layer as the file declares it (shapes only). */
typedef struct {
    char group[QLAB_LAYER_LEN];   /* group name under /layers, e.g. "007-encoder.layer.1.query" */
    char name[QLAB_LAYER_LEN];    /* attribute `name` (the module name); group if absent */
    int64_t index;                /* attribute `index`; the position in the file if absent */
    int64_t n, k, tokens;         /* weight [n,k], input [tokens,k] */
    int has_bias, has_output;
    /* "" when the layer's headers pass every check (its values are only checked when
     * read); else the defect, naming the file and the dataset, that reading it fails with */
    char problem[QLAB_DUMP_PROBLEM_LEN];
} qlab_dump_layer;

typedef struct {
    char model[256];              /* root attribute `model` ("" if absent) */
    char source[256];             /* root attribute `source` ("" if absent) */
    int64_t format_version;
    qlab_dump_layer *layers;      /* in execution order (by index, then group name) */
    int64_t n_layers;
} qlab_dump_info;

/* Opens `path` and validates everything but the tensor values. File level: format
 * and format_version, a /layers group with at least one entry. Per layer (headers
 * only, no tensor data read): weight and input present, every dataset non-empty with
 * agreeing 2-D/1-D shapes within QLAB_DUMP_MAX_VALUES, stored in full, of a supported
 * dtype; a layer failing one of these keeps the shapes it could read (0 where unknown)
 * and the message in `problem`. Fills info (layers allocated, in execution order;
 * free with qlab_dump_info_free). Returns 0, or 2 with a message naming the file (and
 * the dataset) on a file-level defect or when no layer is free of defects. On error
 * info is left freed. */
int qlab_dump_inspect(const char *path, qlab_dump_info *info, char *err, size_t err_len);
void qlab_dump_info_free(qlab_dump_info *info);

/* One layer's tensors as float32, owned by the struct (free with qlab_dump_tensors_free). */
typedef struct {
    int64_t tokens, k, n;
    float *weight;    /* [n,k] */
    float *input;     /* [tokens,k] */
    float *bias;      /* [n] or NULL */
    float *output;    /* [tokens,n] or NULL */
    /* The coarsest precision the layer's values passed through (its datasets' dtypes
     * and its compute_dtype attribute): name ("float32", "tf32", "float16",
     * "bfloat16"), unit roundoff u (2^-24, 2^-11, 2^-11, 2^-8) and half its smallest
     * subnormal. What qlab_dump_check_output derives its tolerance from. */
    const char *precision;
    double unit_roundoff, underflow;
} qlab_dump_tensors;

/* Reads the layer whose group name is `group` from `path`: the file-level checks of
 * qlab_dump_inspect, then this layer's checks (no other layer is probed or read),
 * and checks every value is finite. Returns 0, or 2 with a message naming the file,
 * the layer and the dataset (and the first bad value's index). On error t is left
 * freed. */
int qlab_dump_read_layer(const char *path, const char *group, qlab_dump_tensors *t,
                         char *err, size_t err_len);
void qlab_dump_tensors_free(qlab_dump_tensors *t);

/* Checks a layer's stored output t->output [tokens,n] (none stored: returns 0 at once)
 * against X W^T (+ b), y_ref [tokens,n] in float64 (NULL: computed here), within a
 * tolerance that the rounding of t->precision explains at this k (see dump.c). On a
 * mismatch it also tries X W + b (square layers: a weight stored [in, out]) and both
 * without the bias, and says which one matches. `path` and `group` name the layer in
 * messages. Returns 0, or 2 with a message
 * ("f.h5: /layers/003-c_attn/output: stored output matches X W + b, not X W^T + b
 * (141% apart, tolerance 0.61%): the weight looks stored [in, out] ...; transpose it").
 * Allocates O(tokens n + n k) temporaries, only on a mismatch beyond y_ref's. */
int qlab_dump_check_output(const char *path, const char *group, const qlab_dump_tensors *t,
                           const double *y_ref, char *err, size_t err_len);

/* ---------------------------------------------------------------------------- */
/* Writing                                                                       */

typedef struct qlab_dump_writer qlab_dump_writer;

/* Creates `path` (an existing file is replaced) with the root attributes; tensors
 * are stored as `dtype` (float32 values are rounded through quant's fp16 / bf16
 * conversions). model and source may be "". Returns 0, or 2 with a message. */
int qlab_dump_create(const char *path, const char *model, const char *source,
                     qlab_dump_dtype dtype, qlab_dump_writer **out, char *err, size_t err_len);

/* Appends one layer as /layers/<NNN>-<name> (NNN = the number of layers written
 * before it, zero-padded to 3 digits) with attributes name and index. weight [n,k]
 * and input [tokens,k] are required; bias [n] and output [tokens,n] may be NULL.
 * name must be non-empty, free of '/', and short enough that the group name fits
 * QLAB_LAYER_LEN. Returns 0, or 2 with a message. */
int qlab_dump_add_layer(qlab_dump_writer *w, const char *name, const float *weight,
                        int64_t n, int64_t k, const float *bias, const float *input,
                        int64_t tokens, const float *output, char *err, size_t err_len);

/* Flushes and closes; w is freed whatever the result. Returns 0, or 2 with a message. */
int qlab_dump_close(qlab_dump_writer *w, char *err, size_t err_len);

#endif

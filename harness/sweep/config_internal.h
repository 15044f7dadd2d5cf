/* config_internal.h: what config.c (reading and checking the YAML) and expand.c
 * (axes -> points) share: the schema's types, the walk's state and the error helper.
 * Not part of the sweep's API (config.h is).
 */
#ifndef QLAB_CONFIG_INTERNAL_H
#define QLAB_CONFIG_INTERNAL_H

#include <libfyaml.h>
#include <stdint.h>
#include "sweep/config.h"
#include "sweep/figspec.h"

/* Upper bound of the schema's row count (config.c asserts it). */
#define CFG_MAX_KEYS 64

/* Largest sweep expanded before de-duplication: a guard against a typo that
 * multiplies axes into billions of points. */
#define CFG_MAX_PRODUCT 10000000LL

typedef enum {
    T_MAP,        /* a mapping of further keys */
    T_NAME,       /* experiment name: [A-Za-z0-9_.-]+ */
    T_TEXT,       /* free text */
    T_ENUM,       /* one of `names` */
    T_INT,        /* integer within bounds */
    T_UINT,       /* unsigned 64-bit integer */
    T_REAL,       /* finite real within bounds */
    T_ENUM_LIST,  /* a list (or one) of `names` */
    T_ZIP,        /* list of lists of axis names */
    T_FILES,      /* one file or a list of files: one value (joined by ';'), never an axis */
    T_PLOTS       /* a list of declared figures (figspec.c) */
} cfg_type;

typedef enum {
    F_NONE = 0,
    F_NAME, F_DESC, F_BACKEND, F_SEED, F_REPEAT, F_ZIP, F_MEASURE, F_PLOTS,
    F_WARMUP, F_MIN_SAMPLES, F_MAX_SAMPLES, F_MAX_NOISE, F_MIN_TIME, F_TIMEOUT,
    /* axes */
    F_KIND, F_PATH, F_LAYERS, F_MODEL, F_TEXT, F_IMAGES, F_DEPTH, F_WIDTH, F_TOKENS, F_MODE, F_M, F_K, F_N,
    F_X_DIST, F_X_STD, F_X_DF, F_X_OCOLS, F_X_OSCALE,
    F_W_DIST, F_W_STD, F_W_DF,
    F_SCHEME, F_XGRAN, F_WGRAN, F_BLOCK, F_THRESHOLD, F_OW, F_SMOOTH,
    F_COUNT
} cfg_field;

typedef struct {
    const char *path;            /* dotted key path from the root */
    cfg_type type;
    cfg_field field;
    int axis;                    /* 1: may be a list, every list is an axis */
    const char *const *names;    /* T_ENUM, T_ENUM_LIST: allowed values, NULL-terminated */
    const char *what;            /* T_ENUM: noun for messages ("scheme") */
    double lo, hi;               /* bounds (NAN: none) */
    int lo_open, hi_open;        /* 1: bound excluded */
} cfg_key;

typedef qlab_yaml_capture fy_capture;

typedef struct {
    const char *source;
    char *err;
    size_t err_len;
    fy_capture cap;
    /* value nodes grafted by --set, to word errors inside them as "--set 'k=v'" */
    struct fy_node **set_nodes;
    const char *const *set_texts;
    int n_set_nodes;
} cfg_ctx;

typedef struct {
    struct fy_node *node;      /* where it was written (NULL for defaults) */
    int64_t i;
    double d;
    char s[QLAB_PATH_LEN];
} cfg_val;

typedef struct {
    const cfg_key *key;
    struct fy_node *node;      /* the value node (scalar or list) */
    struct fy_node *key_node;
    cfg_val *v;
    int n;
    int dim;                   /* dimension of the product it belongs to */
} cfg_axis;

typedef struct {
    cfg_ctx *c;
    qlab_experiment *exp;
    cfg_axis axes[CFG_MAX_KEYS];     /* axes in document order */
    int n_axes;
    int seen[F_COUNT];
    struct fy_node *zip_node, *zip_key;
    struct fy_node *root;
    struct fy_node *map_node[3];   /* workload, quant mappings, for "missing" messages */
} cfg_walk;

/* Formats "FILE:LINE:COL: key 'path': message" (or "--set '...'" when the node came
 * from a --set) into c->err; at, else fallback, locates it. Returns 2. */
int cfg_fail(cfg_ctx *c, struct fy_node *at, struct fy_node *fallback, const char *path,
             const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* The schema (schema.c): cfg_n_keys rows. */
extern const cfg_key cfg_keys[];
extern const int cfg_n_keys;

/* The schema row of field f, or NULL. */
const cfg_key *cfg_key_of_field(cfg_field f);
/* The row of a dotted key path, or NULL. */
const cfg_key *cfg_key_by_path(const char *path);
/* 1 when k's parent path is `parent` ("" for top-level keys). */
int cfg_key_has_parent(const cfg_key *k, const char *parent);
/* The last component of k's path. */
const char *cfg_key_leaf(const cfg_key *k);
/* The closest of `names` (NULL-terminated) to s within edit distance 2, or NULL. */
const char *cfg_closest_name(const char *s, const char *const *names);

/* libfyaml's diag output callback (user: a fy_capture): keeps the first error's
 * message and position; cfg_capture_reset clears it. */
void cfg_capture_output(struct fy_diag *diag, void *user, const char *buf, size_t len);
void cfg_capture_reset(fy_capture *c);
/* The --set text whose value subtree holds n, or NULL. */
const char *cfg_set_origin(const cfg_ctx *c, struct fy_node *n);
/* Scalar text of n ("" for null), copied NUL-terminated into buf. */
const char *cfg_scalar_text(struct fy_node *n, char *buf, size_t cap);
/* "a mapping", "a list" or "a scalar", for messages. */
const char *cfg_node_kind_word(struct fy_node *n);

/* Copies src into dst[cap], truncating, always NUL-terminated. */
void cfg_copy_str(char *dst, size_t cap, const char *src);


/* Checks a `plots:` list (figspec.c): *specs (caller frees) and *n, or 2 with c->err. */
int cfg_figures_parse(cfg_ctx *c, struct fy_node *kn, struct fy_node *vn, qlab_figure_spec **specs, int *n);

/* Expands the walked axes into w->exp's points (see expand.c). 0, or 2 with err set. */
int cfg_expand(cfg_walk *w);

#endif

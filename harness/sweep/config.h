/* config.h: YAML experiment configs (DESIGN section 6) -> an expanded list of points.
 *
 * Parsing goes through libfyaml. Every YAML list under `workload` and `quant` is an
 * axis; the points are the Cartesian product of the axes, except that the axes of a
 * `zip` group advance together. Points that make no sense are normalised and then
 * de-duplicated ("skipped once, not run"): a float scheme (fp32/fp16/bf16) ignores
 * granularity, block, threshold and outlier_weights; int8 schemes ignore block unless a
 * granularity is "block", and outlier_weights unless threshold > 0. The preset scheme
 * `llm_int8` expands to absmax, x row, w channel, threshold 6 (outlier_weights kept).
 *
 * Every error names file:line:column, the key and the value, with "did you mean" for
 * near-miss keys and names, and the parser returns 2 (usage/input error).
 *
 * Order. Axes are taken in document order (the order keys appear in the file, after
 * --set overrides, which replace a value in place or append a new key at the end of
 * its mapping); the first axis varies slowest, the last fastest, like nested loops
 * written top to bottom. A zip group is one axis placed where its first member
 * appears. De-duplication keeps the first occurrence, so ids follow that order.
 *
 * Normalised values, so that equal runs compare equal (qlab_point_same):
 *   - float schemes: x_granularity = w_granularity = "" (empty: not applicable),
 *     block = 0, threshold = 0, outlier_weights = "";
 *   - int8 schemes: block = 0 unless a granularity is "block"; outlier_weights = ""
 *     when threshold is 0; llm_int8 points carry scheme "absmax";
 *   - distributions: df = 0 unless dist is student_t; outlier_scale = 1 when
 *     outlier_cols is 0; w never has outliers (outlier_cols 0, outlier_scale 1).
 * Defaults: x normal std 1 (df 4, no outliers), w normal std 0.02, x_granularity
 * row, w_granularity channel, block 64, threshold 0, outlier_weights fp16, backend
 * auto, seed 0, measure all, timing {10, 10, 0.005, 0.2, 10}. quant.scheme is
 * required.
 *
 * Workload kinds (one per experiment; a workload key the kind does not read is an
 * error, so nothing is silently ignored):
 *   synthetic  m, k, n (required), x, w.
 *   dump       path (required): a layer dump file (dump.h), opened at expansion, so a
 *              bad dump is an error naming the config's file:line and the dump's
 *              problem; layers: all (default) | a name | a glob ("*.query") | a list
 *              of those, matched against the group name ("003-fc1") or the layer's
 *              name attribute ("fc1"). Each selected layer becomes one point with
 *              layer = its group name and m = tokens, k, n from its shapes (m, k, n
 *              may not be given). Dump points run layer by layer: the layers vary
 *              slowest (dump files in list order, then layers in file order), the
 *              other axes in document order within each layer, so a layer is read
 *              and its reference computed once. Paths are relative to the working
 *              directory.
 *   chain      depth (1..48), width (= k = n), tokens (= m) required; mode
 *              propagated (default) | isolated; x (its outlier_cols/outlier_scale are
 *              the hidden state's persistent outlier dims), w (std defaults to
 *              1/sqrt(width) instead of 0.02). See chain.c.
 *   model      model (minilm | vit-s14) required; minilm: text (a text file, one input
 *              per line; stored in the point's path) required; vit-s14: images (a
 *              photo or a list of photos, PNG or JPEG: one value, not an axis, all of
 *              them one batch; stored in the point's path joined by ';') required;
 *              mode propagated (default) | isolated. See network.h.
 *
 * zip names an axis by its dotted path (workload.x.outlier_scale) or by any unique
 * suffix of it (m, x.std); zipped lists must have equal lengths.
 */
#ifndef QLAB_CONFIG_H
#define QLAB_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include "core/point.h"
#include "sweep/figspec.h"
#include "backends/backend.h"

struct fy_node;
struct fy_mark;
/* Start mark (line, column) of a libfyaml node: its scalar token, or the first scalar
 * inside it; NULL when there is none. For messages naming a YAML position (the
 * config's and other YAML inputs', such as import-peers' files). */
const struct fy_mark *qlab_yaml_node_mark(struct fy_node *n);

/* The first error libfyaml reported while parsing, and its position. */
typedef struct {
    char msg[256];    /* first error libfyaml reported since the last reset */
    int line, col;    /* its position, 1-based; 0 when unknown */
} qlab_yaml_capture;

struct fy_document;
/* Parses text[0..len), a YAML input named `source` in messages, into *doc (the caller
 * destroys it with fy_document_destroy and keeps text and cap until then; NULL when
 * the text holds no document, such as an empty file). Refused, with 2 and err
 * "source:line:col: ...": text that is not UTF-8, that crashes or hangs the parser
 * (core/yaml_guard.h), a syntax error (a tab in the indentation and a duplicate key
 * named), a second document after the first (`kind` says what the input is: "a
 * config", "a tolerance file"). Nothing is printed: libfyaml's messages go to cap. */
int qlab_yaml_parse(const char *text, size_t len, const char *source, const char *kind,
                    qlab_yaml_capture *cap, struct fy_document **doc, char *err, size_t err_len);

typedef struct {
    char *name;               /* `name:` (required; [A-Za-z0-9_.-]+, used in output file names) */
    char *description;        /* may be "" */
    char *source;             /* the file name as given (or "<string>") */
    char *text;               /* the config as run: the YAML document after --set overrides, emitted */
    char backend[QLAB_NAME_LEN];   /* "auto" | "cpu" | "cuda" */
    uint64_t seed;
    int64_t repeat;           /* `repeat:` draws of the data per point (default 1): point i's
                                 draw r has seed `seed` + r; synthetic and chain workloads */
    void *repeat_node;        /* where `repeat` was written (for messages), or NULL */
    int measure_error, measure_latency, measure_memory;
    qlab_timing_opts timing;

    qlab_figure_spec *figures;   /* `plots:` (figspec.h), n_figures of them; NULL when none */
    int n_figures;
    qlab_point *points;       /* expanded, normalised, de-duplicated; points[i].id == i */
    int64_t n_points;
    int64_t n_skipped;        /* product points dropped as repeats after normalisation */
    char skip_summary[512];   /* one line saying why they were dropped ("" if none) */
} qlab_experiment;

/* Loads and expands the config at `path`. `sets` are --set overrides "a.b=value"
 * (value in YAML flow syntax: 4096, [1, 2], normal), applied before validation; the
 * key must be a full dotted path of the schema, created when absent; errors inside
 * an override read "--set 'a.b=value': key 'a.b': ...".
 * Returns 0, or 2 with a message in err ("file:line:col: key 'quant.scheme': unknown
 * scheme 'absmx' (did you mean 'absmax'?)"). On error *exp is left freed. */
int qlab_experiment_load(const char *path, const char *const *sets, int n_sets,
                         qlab_experiment *exp, char *err, size_t err_len);

/* The same from YAML text in memory (resume reads the config stored in a results
 * file); `source` names it in messages. */
int qlab_experiment_load_string(const char *text, const char *source,
                                const char *const *sets, int n_sets,
                                qlab_experiment *exp, char *err, size_t err_len);

void qlab_experiment_free(qlab_experiment *exp);

/* One line describing a point's axis values, for --dry-run and progress, e.g.
 * "synthetic m=512 k=4096 n=4096 absmax x=row w=channel t=6 ow=fp16 | X normal std=1
 * out=0.001*20 W normal std=0.02". Truncated to len - 1 characters. */
void qlab_point_describe(const qlab_point *p, char *buf, size_t len);

/* 1 if two points have the same axis values (id ignored): how results are matched. */
int qlab_point_same(const qlab_point *a, const qlab_point *b);

/* Levenshtein distance, for "did you mean". */
int qlab_edit_distance(const char *a, const char *b);

#endif

/* test_memory_parts.c: the weight memory split (codes, scales, second-level scales,
 * outlier columns) for every scheme of the traits table, and where it goes: the cpu
 * backend's row, the sums of a chain, `qlab compare` and `qlab show`.
 *
 * The expected bytes are worked out here from the storage formats (quant.h), from
 * the scheme's name and the shape, not read back from the code under test:
 *   float       codes = element size * n k;
 *   int8        codes = n k, scales = 4 g (+ 4 g int32 zero points for zeropoint),
 *               g = 1 (tensor), n (row, channel), n k / block (block);
 *   fp8         codes = n k, scales = 4 g (g = 1 or n; block is unsupported);
 *   4-bit       codes = ceil(n k / 2), scales = 4 n k / block, or with double
 *               quantization n k / block (int8) + second level 4 ceil(n k / block /
 *               256) + 4 (the float32 mean);
 *   LLM.int8()  outliers = 2 n o with fp16 outlier weights, 0 with dequant ones, o
 *               the number of columns of X holding a value of magnitude >= threshold.
 * Every case also checks w_bytes = the sum of the four parts.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report/compare.h"
#include "workloads/network.h"
#include "report/show.h"
#include "../quant/quant.h"
#include "test_quant_util.h"

/* ---------------------------------------------------------------------------- */
/* The storage formats, by scheme name                                           */

typedef enum { F_FLOAT, F_INT8, F_FP8, F_FOURBIT } fmt_kind;

typedef struct {
    const char *name;
    fmt_kind kind;
    int elem_bytes;    /* float: bytes per value */
    int zero_points;   /* int8: int32 zero point per group */
    int dq;            /* 4-bit: double quantization */
} fmt;

static const fmt formats[] = {
    {"fp32", F_FLOAT, 4, 0, 0},    {"fp16", F_FLOAT, 2, 0, 0},     {"bf16", F_FLOAT, 2, 0, 0},
    {"absmax", F_INT8, 0, 0, 0},   {"zeropoint", F_INT8, 0, 1, 0}, {"fp8_e4m3", F_FP8, 0, 0, 0},
    {"fp8_e5m2", F_FP8, 0, 0, 0},  {"nf4", F_FOURBIT, 0, 0, 0},    {"fp4", F_FOURBIT, 0, 0, 0},
    {"nf4_dq", F_FOURBIT, 0, 0, 1}, {"fp4_dq", F_FOURBIT, 0, 0, 1},
};
#define N_FORMATS ((int)(sizeof formats / sizeof formats[0]))

static const fmt *format_of(const char *name)
{
    for (int i = 0; i < N_FORMATS; i++)
        if (!strcmp(formats[i].name, name))
            return &formats[i];
    return NULL;
}

typedef struct {
    int64_t code, scale, scale2, outlier;
} parts;

static int64_t groups(quant_gran g, int64_t n, int64_t k, int64_t block)
{
    switch (g) {
    case QUANT_GRAN_TENSOR: return 1;
    case QUANT_GRAN_BLOCK: return n * (k / block);
    default: return n;
    }
}

/* Expected parts of W [n, k] for format f; o = outlier columns of X (threshold > 0). */
static parts expected(const fmt *f, int64_t n, int64_t k, quant_gran wg, int64_t block, int64_t o,
                      quant_outlier_weights ow)
{
    parts e = {0, 0, 0, 0};
    switch (f->kind) {
    case F_FLOAT:
        e.code = f->elem_bytes * n * k;
        break;
    case F_INT8:
    case F_FP8:
        e.code = n * k;
        e.scale = 4 * groups(wg, n, k, block) * (f->zero_points ? 2 : 1);
        e.outlier = ow == QUANT_OUTLIER_FP16 ? 2 * n * o : 0;
        break;
    case F_FOURBIT: {
        int64_t blocks = n * k / block;
        e.code = (n * k + 1) / 2;
        if (f->dq) {
            e.scale = blocks;
            e.scale2 = 4 * ((blocks + 255) / 256) + 4;
        } else {
            e.scale = 4 * blocks;
        }
        break;
    }
    }
    return e;
}

static void assert_parts(const quant_matmul_info *info, parts e, const char *what)
{
    cr_assert_eq(info->w_code_bytes, e.code, "%s: codes %lld, want %lld", what,
                 (long long)info->w_code_bytes, (long long)e.code);
    cr_assert_eq(info->w_scale_bytes, e.scale, "%s: scales %lld, want %lld", what,
                 (long long)info->w_scale_bytes, (long long)e.scale);
    cr_assert_eq(info->w_scale2_bytes, e.scale2, "%s: second-level scales %lld, want %lld", what,
                 (long long)info->w_scale2_bytes, (long long)e.scale2);
    cr_assert_eq(info->w_outlier_bytes, e.outlier, "%s: outliers %lld, want %lld", what,
                 (long long)info->w_outlier_bytes, (long long)e.outlier);
    cr_assert_eq(info->w_bytes, e.code + e.scale + e.scale2 + e.outlier, "%s: w_bytes %lld", what,
                 (long long)info->w_bytes);
    cr_assert_eq(info->w_bytes,
                 info->w_code_bytes + info->w_scale_bytes + info->w_scale2_bytes + info->w_outlier_bytes,
                 "%s", what);
}

/* X [m, k] normal with a few planted outlier columns; returns how many columns hold
 * a value of magnitude >= threshold (counted here, not by quant/). */
static int64_t make_x(float *x, int64_t m, int64_t k, float threshold, uint64_t seed)
{
    tq_fill_normal(x, m * k, seed, 1.0);
    for (int64_t c = 3; c < k; c += 37)
        x[(c % m) * k + c] = (c & 1) ? 25.0f : -25.0f;
    int64_t o = 0;
    for (int64_t c = 0; c < k; c++) {
        int hit = 0;
        for (int64_t i = 0; i < m; i++)
            hit |= fabsf(x[i * k + c]) >= threshold;
        o += hit;
    }
    return o;
}

Test(memory_parts, every_scheme_of_the_traits_table_has_a_format_here)
{
    for (int s = 0; s < QUANT_SCHEME_COUNT; s++) {
        const quant_scheme_traits *t = quant_scheme_get((quant_scheme)s);
        cr_assert_not_null(t);
        cr_assert_not_null(format_of(t->name), "scheme %s: add its storage format to this test", t->name);
    }
}

/* ---------------------------------------------------------------------------- */
/* quant_matmul_scheme                                                            */

Test(memory_parts, float_schemes_store_codes_only)
{
    static const int64_t shapes[][3] = {{3, 37, 5}, {4, 256, 16}};
    for (int s = 0; s < QUANT_SCHEME_COUNT; s++) {
        const quant_scheme_traits *t = quant_scheme_get((quant_scheme)s);
        const fmt *f = format_of(t->name);
        if (f->kind != F_FLOAT)
            continue;
        for (int h = 0; h < 2; h++) {
            int64_t m = shapes[h][0], k = shapes[h][1], n = shapes[h][2];
            float *x = malloc((size_t)(m * k) * sizeof *x), *w = malloc((size_t)(n * k) * sizeof *w);
            float *y = malloc((size_t)(m * n) * sizeof *y);
            tq_fill_normal(x, m * k, 1, 1.0);
            tq_fill_normal(w, n * k, 2, 0.05);
            /* granularities and threshold are ignored by the float schemes */
            quant_matmul_opts o = {t->id, QUANT_GRAN_ROW, QUANT_GRAN_BLOCK, 16, 6.0f, QUANT_OUTLIER_FP16, 0.0f, NULL};
            quant_matmul_info info;
            cr_assert_eq(quant_matmul_scheme(x, w, m, k, n, &o, y, &info), QUANT_OK, "%s", t->name);
            char what[64];
            snprintf(what, sizeof what, "%s %lldx%lld", t->name, (long long)n, (long long)k);
            assert_parts(&info, expected(f, n, k, QUANT_GRAN_TENSOR, 0, 0, QUANT_OUTLIER_FP16), what);
            free(x);
            free(w);
            free(y);
        }
    }
}

/* int8 and fp8: every granularity pair, with and without the LLM.int8() decomposition. */
Test(memory_parts, int8_and_fp8_codes_scales_zero_points_and_outlier_columns)
{
    const int64_t m = 6, k = 192, n = 10, block = 32;
    float x[6 * 192], w[10 * 192], y[6 * 10];
    tq_fill_normal(w, n * k, 7, 0.05);
    static const quant_gran xgs[] = {QUANT_GRAN_TENSOR, QUANT_GRAN_ROW, QUANT_GRAN_BLOCK};
    static const quant_gran wgs[] = {QUANT_GRAN_TENSOR, QUANT_GRAN_ROW, QUANT_GRAN_CHANNEL, QUANT_GRAN_BLOCK};
    static const float thresholds[] = {0.0f, 6.0f};
    int ran = 0, unsupported = 0;
    for (int s = 0; s < QUANT_SCHEME_COUNT; s++) {
        const quant_scheme_traits *t = quant_scheme_get((quant_scheme)s);
        const fmt *f = format_of(t->name);
        if (f->kind != F_INT8 && f->kind != F_FP8)
            continue;
        for (int xi = 0; xi < 3; xi++)
            for (int wi = 0; wi < 4; wi++)
                for (int ti = 0; ti < 2; ti++)
                    for (int ow = 0; ow < QUANT_OUTLIER_COUNT; ow++) {
                        int64_t o = make_x(x, m, k, thresholds[ti], 8);
                        if (thresholds[ti] == 0.0f)
                            o = 0;
                        quant_matmul_opts opts = {t->id, xgs[xi], wgs[wi], block, thresholds[ti],
                                                  (quant_outlier_weights)ow, 0.0f, NULL};
                        quant_matmul_info info;
                        quant_status st = quant_matmul_scheme(x, w, m, k, n, &opts, y, &info);
                        char what[128];
                        snprintf(what, sizeof what, "%s x %s w %s t %g ow %s", t->name,
                                 quant_gran_name(xgs[xi]), quant_gran_name(wgs[wi]), thresholds[ti],
                                 quant_outlier_weights_name((quant_outlier_weights)ow));
                        if (f->kind == F_FP8 && (xgs[xi] == QUANT_GRAN_BLOCK || wgs[wi] == QUANT_GRAN_BLOCK)) {
                            /* no fp8 block scales: the config refuses these up front */
                            cr_assert_eq(st, QUANT_ERR_UNSUPPORTED, "%s", what);
                            unsupported++;
                            continue;
                        }
                        cr_assert_eq(st, QUANT_OK, "%s: %s", what, quant_status_str(st));
                        cr_assert_eq(info.outlier_cols, o, "%s", what);
                        if (thresholds[ti] > 0)
                            cr_assert_gt(o, 2, "the planted outlier columns are found");
                        assert_parts(&info, expected(f, n, k, wgs[wi], block, o, (quant_outlier_weights)ow),
                                     what);
                        ran++;
                    }
    }
    /* absmax, zeropoint: 3 * 4 * 2 * 2 each; fp8: 2 * 3 * 2 * 2 each */
    cr_assert_eq(ran, 2 * 48 + 2 * 24);
    cr_assert_eq(unsupported, 2 * 24);
}

Test(memory_parts, a_scale_per_column_of_x_is_unsupported_by_int8_and_fp8)
{
    const int64_t m = 2, k = 64, n = 3;
    float x[2 * 64], w[3 * 64], y[2 * 3];
    tq_fill_normal(x, m * k, 3, 1.0);
    tq_fill_normal(w, n * k, 4, 0.05);
    static const quant_scheme s[] = {QUANT_SCHEME_ABSMAX, QUANT_SCHEME_ZEROPOINT, QUANT_SCHEME_FP8_E4M3,
                                     QUANT_SCHEME_FP8_E5M2};
    for (int i = 0; i < 4; i++) {
        quant_matmul_opts o = {s[i], QUANT_GRAN_CHANNEL, QUANT_GRAN_CHANNEL, 0, 0.0f, QUANT_OUTLIER_FP16, 0.0f, NULL};
        cr_assert_eq(quant_matmul_scheme(x, w, m, k, n, &o, y, NULL), QUANT_ERR_UNSUPPORTED);
    }
}

/* 4-bit: an odd number of weights (the last byte half used), a block count that is
 * not a multiple of the 256 of a second-level run (the last run shorter), one exact
 * run, and several. */
Test(memory_parts, fourbit_packed_codes_block_scales_and_second_level)
{
    static const int64_t shapes[][3] = {
        {3, 35, 35},      /* n, k, block: 105 weights, 3 blocks */
        {40, 320, 32},    /* 400 blocks: runs of 256 and 144 */
        {16, 4096, 256},  /* 256 blocks: one run */
        {64, 512, 64},    /* 512 blocks: two runs */
        {5, 99, 33},      /* 495 weights (odd), 15 blocks */
    };
    const int64_t m = 2;
    for (int s = 0; s < QUANT_SCHEME_COUNT; s++) {
        const quant_scheme_traits *t = quant_scheme_get((quant_scheme)s);
        const fmt *f = format_of(t->name);
        if (f->kind != F_FOURBIT)
            continue;
        for (size_t h = 0; h < sizeof shapes / sizeof shapes[0]; h++) {
            int64_t n = shapes[h][0], k = shapes[h][1], block = shapes[h][2];
            float *x = malloc((size_t)(m * k) * sizeof *x), *w = malloc((size_t)(n * k) * sizeof *w);
            float *y = malloc((size_t)(m * n) * sizeof *y);
            tq_fill_normal(x, m * k, 5, 1.0);
            tq_fill_normal(w, n * k, 6, 0.02);
            /* threshold and granularities are ignored: no outlier columns */
            quant_matmul_opts o = {t->id, QUANT_GRAN_ROW, QUANT_GRAN_BLOCK, block, 6.0f, QUANT_OUTLIER_FP16, 0.0f, NULL};
            quant_matmul_info info;
            cr_assert_eq(quant_matmul_scheme(x, w, m, k, n, &o, y, &info), QUANT_OK, "%s", t->name);
            char what[96];
            snprintf(what, sizeof what, "%s n %lld k %lld block %lld", t->name, (long long)n, (long long)k,
                     (long long)block);
            assert_parts(&info, expected(f, n, k, QUANT_GRAN_BLOCK, block, 0, QUANT_OUTLIER_FP16), what);
            free(x);
            free(w);
            free(y);
        }
    }
}

/* nf4 at block 64: 4 bits of code + 32 bits of scale per 64 weights = 4.5 exactly.
 * nf4_dq: 4 + 8/64 (an int8 scale per block) + 32/(64*256) (a float32 scale per run
 * of 256 blocks) + 32/(n k) (the float32 mean). At n k = 2^20 every term is a power
 * of two, so the expected value is exact in binary:
 * 4 + 2^-3 + 2^-9 + 2^-15 = 4.126983642578125. */
Test(memory_parts, nf4_block_64_is_4_5_bits_per_weight_and_4_127_with_double_quantization)
{
    const int64_t m = 2, k = 4096, n = 256;
    float *x = malloc((size_t)(m * k) * sizeof *x), *w = malloc((size_t)(n * k) * sizeof *w);
    float *y = malloc((size_t)(m * n) * sizeof *y);
    tq_fill_normal(x, m * k, 9, 1.0);
    tq_fill_normal(w, n * k, 10, 0.02);
    const double nk = (double)(n * k);
    quant_matmul_opts o = {QUANT_SCHEME_NF4, QUANT_GRAN_TENSOR, QUANT_GRAN_BLOCK, 64, 0.0f, QUANT_OUTLIER_FP16, 0.0f, NULL};
    quant_matmul_info info;
    cr_assert_eq(quant_matmul_scheme(x, w, m, k, n, &o, y, &info), QUANT_OK);
    cr_assert_eq(8.0 * (double)info.w_bytes / nk, 4.5);
    cr_assert_eq(8.0 * (double)info.w_code_bytes / nk, 4.0);
    cr_assert_eq(8.0 * (double)info.w_scale_bytes / nk, 0.5);

    o.scheme = QUANT_SCHEME_NF4_DQ;
    cr_assert_eq(quant_matmul_scheme(x, w, m, k, n, &o, y, &info), QUANT_OK);
    double want = 4.0 + 8.0 / 64.0 + 32.0 / (64.0 * 256.0) + 32.0 / nk;
    cr_assert_eq(want, 4.126983642578125);
    cr_assert_eq(8.0 * (double)info.w_bytes / nk, want, "%.17g", 8.0 * (double)info.w_bytes / nk);
    cr_assert_eq(8.0 * (double)info.w_scale_bytes / nk, 0.125);
    cr_assert_eq(8.0 * (double)info.w_scale2_bytes / nk, 32.0 / (64.0 * 256.0) + 32.0 / nk);
    cr_assert_lt(fabs(want - 4.127), 5e-4);
    free(x);
    free(w);
    free(y);
}

/* ---------------------------------------------------------------------------- */
/* The harness: backend rows, chain sums                                          */

static qlab_point chain_point(const char *scheme, int64_t depth, double threshold, const char *ow)
{
    qlab_point p;
    memset(&p, 0, sizeof p);
    p.seed = 5;
    strcpy(p.workload, "chain");
    p.m = 16;
    p.k = p.n = 128;
    p.depth = depth;
    strcpy(p.mode, "propagated");
    strcpy(p.x.dist, "normal");
    p.x.std = 1.0;
    p.x.outlier_cols = 0.03;
    p.x.outlier_scale = 20;
    strcpy(p.w.dist, "normal");
    p.w.std = 1.0 / sqrt(128.0);
    strcpy(p.scheme, scheme);
    const fmt *f = format_of(scheme);
    if (f->kind == F_FOURBIT) {
        strcpy(p.w_granularity, "block");
        p.block = 64;
    } else if (f->kind != F_FLOAT) {
        strcpy(p.x_granularity, "row");
        strcpy(p.w_granularity, "channel");
        p.threshold = threshold;
        if (threshold > 0) strcpy(p.outlier_weights, ow);
    }
    return p;
}

static qlab_row run_chain(const qlab_point *p)
{
    qlab_row row;
    memset(&row, 0, sizeof row);
    qlab_layers layers = {0};
    qlab_samples s = {0};
    qlab_timing_opts t = {0, 1, 1, 0, 1, 0};
    qlab_network_job job = {.p = p, .backend = &qlab_backend_cpu, .measure_latency = 0,
                            .measure_memory = 1, .timing = &t};
    char err[512] = "";
    cr_assert_eq(qlab_chain_run(&job, &row, &layers, &s, err, sizeof err), 0, "%s", err);
    qlab_layers_free(&layers);
    qlab_samples_free(&s);
    return row;
}

static void assert_row_parts(const qlab_row *r, parts e, const char *what)
{
    cr_assert_eq(r->w_code_bytes, e.code, "%s: codes %lld want %lld", what, (long long)r->w_code_bytes,
                 (long long)e.code);
    cr_assert_eq(r->w_scale_bytes, e.scale, "%s: scales %lld want %lld", what, (long long)r->w_scale_bytes,
                 (long long)e.scale);
    cr_assert_eq(r->w_scale2_bytes, e.scale2, "%s", what);
    cr_assert_eq(r->w_outlier_bytes, e.outlier, "%s: outliers %lld want %lld", what,
                 (long long)r->w_outlier_bytes, (long long)e.outlier);
    cr_assert_eq(r->w_bytes, r->w_code_bytes + r->w_scale_bytes + r->w_scale2_bytes + r->w_outlier_bytes,
                 "%s", what);
}

/* A chain runs every layer through the cpu backend, whose row carries the parts,
 * and sums them over layers like w_bytes. All layers are 128 x 128, so the sum is
 * depth times one layer's (the outlier columns: 2 n times their total). */
Test(memory_parts, chain_rows_sum_the_parts_of_every_layer)
{
    const int64_t depth = 3, n = 128, k = 128;
    static const char *const schemes[] = {"fp16", "absmax", "zeropoint", "fp8_e4m3", "nf4", "nf4_dq"};
    for (size_t i = 0; i < sizeof schemes / sizeof schemes[0]; i++)
        for (int ow = 0; ow < 2; ow++) {
            const fmt *f = format_of(schemes[i]);
            int lowp = f->kind == F_INT8 || f->kind == F_FP8;
            if (!lowp && ow)
                continue;
            qlab_point p = chain_point(schemes[i], depth, 6.0, ow ? "dequant" : "fp16");
            qlab_row r = run_chain(&p);
            parts one = expected(f, n, k, f->kind == F_FOURBIT ? QUANT_GRAN_BLOCK : QUANT_GRAN_CHANNEL,
                                 64, 0, QUANT_OUTLIER_FP16);
            parts e = {depth * one.code, depth * one.scale, depth * one.scale2, 0};
            if (lowp) {
                cr_assert_gt(r.outlier_cols, 0, "%s: the chain's outlier dims pass the threshold", schemes[i]);
                e.outlier = ow ? 0 : 2 * n * r.outlier_cols;
            }
            char what[64];
            snprintf(what, sizeof what, "chain %s ow %s", schemes[i], ow ? "dequant" : "fp16");
            assert_row_parts(&r, e, what);
            cr_assert_eq(r.w_bytes_fp16, depth * 2 * n * k);
        }
}

/* Without `memory` the backend leaves every memory column 0 (the invariant holds). */
Test(memory_parts, without_memory_every_part_stays_zero)
{
    const int64_t m = 4, k = 64, n = 8;
    float x[4 * 64], w[8 * 64], y[4 * 8];
    tq_fill_normal(x, m * k, 1, 1.0);
    tq_fill_normal(w, n * k, 2, 0.05);
    qlab_point p = chain_point("nf4_dq", 1, 0, "fp16");
    strcpy(p.workload, "synthetic");
    p.m = m;
    p.k = k;
    p.n = n;
    p.depth = 0;
    qlab_timing_opts t = {0, 1, 1, 0, 1, 0};
    for (int mem = 0; mem < 2; mem++) {
        qlab_backend_job job = {.p = &p, .x = x, .w = w, .measure_memory = mem, .timing = &t};
        qlab_row r;
        memset(&r, 0, sizeof r);
        char err[256] = "";
        cr_assert_eq(qlab_backend_cpu.run(&job, y, &r, NULL, err, sizeof err), 0, "%s", err);
        parts e = mem ? expected(format_of("nf4_dq"), n, k, QUANT_GRAN_BLOCK, 64, 0, QUANT_OUTLIER_FP16)
                      : (parts){0, 0, 0, 0};
        assert_row_parts(&r, e, mem ? "memory" : "no memory");
    }
}

/* ---------------------------------------------------------------------------- */
/* compare and show                                                               */

static qlab_attr attrs[] = {{"experiment", "mem"}, {"backend", "cpu"}, {"status", "complete"}};

static qlab_row nf4_row(void)
{
    qlab_row r;
    memset(&r, 0, sizeof r);
    strcpy(r.p.workload, "synthetic");
    strcpy(r.p.scheme, "nf4_dq");
    strcpy(r.p.w_granularity, "block");
    r.p.block = 64;
    r.p.m = 2;
    r.p.k = 4096;
    r.p.n = 256;
    strcpy(r.backend, "cpu");
    r.status = QLAB_STATUS_OK;
    r.rel_err = 0.09;
    r.w_code_bytes = 524288;
    r.w_scale_bytes = 16384;
    r.w_scale2_bytes = 260;
    r.w_bytes = 524288 + 16384 + 260;
    r.w_bytes_fp16 = 2 * 256 * 4096;
    r.x_bytes = 2 * 2 * 4096;
    return r;
}

static int compare_rows(qlab_row *b, qlab_row *n, char **report)
{
    qlab_results_data db = {attrs, 3, b, 1, NULL, 0, NULL, 0};
    qlab_results_data dn = {attrs, 3, n, 1, NULL, 0, NULL, 0};
    qlab_compare_opts o;
    qlab_compare_opts_init(&o);
    char *buf = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);
    char err[512] = "";
    int rc = qlab_compare_data(&db, &dn, "base.h5", "new.h5", &o, out, NULL, err, sizeof err);
    fclose(out);
    cr_assert_neq(rc, 2, "%s", err);
    *report = buf;
    return rc;
}

Test(memory_parts, compare_judges_each_part_exactly_where_both_files_have_the_split)
{
    qlab_row b = nf4_row(), n = nf4_row();
    char *rep;
    cr_assert_eq(compare_rows(&b, &n, &rep), 0, "%s", rep);
    free(rep);

    /* bytes moved from codes to scales, the total unchanged: the scales are WORSE */
    n.w_code_bytes -= 4;
    n.w_scale_bytes += 4;
    cr_assert_eq(compare_rows(&b, &n, &rep), 1, "%s", rep);
    cr_assert_not_null(strstr(rep, "w_scale_bytes"), "%s", rep);
    cr_assert_not_null(strstr(rep, "w_code_bytes"), "%s", rep);
    cr_assert_not_null(strstr(rep, "WORSE"), "%s", rep);
    cr_assert_null(strstr(rep, "w_bytes "), "the total did not move: %s", rep);
    free(rep);

    /* one more second-level scale: the total and the part are WORSE */
    n = nf4_row();
    n.w_scale2_bytes += 4;
    n.w_bytes += 4;
    cr_assert_eq(compare_rows(&b, &n, &rep), 1, "%s", rep);
    cr_assert_not_null(strstr(rep, "w_scale2_bytes"), "%s", rep);
    free(rep);

    /* fewer outlier bytes: BETTER */
    b = nf4_row();
    n = nf4_row();
    b.w_outlier_bytes = 512;
    b.w_bytes += 512;
    cr_assert_eq(compare_rows(&b, &n, &rep), 0, "%s", rep);
    cr_assert_not_null(strstr(rep, "w_outlier_bytes"), "%s", rep);
    cr_assert_not_null(strstr(rep, "BETTER"), "%s", rep);
    free(rep);
}

Test(memory_parts, a_file_without_the_split_compares_on_w_bytes_alone)
{
    /* a file written before the part columns existed reads them as 0 */
    qlab_row b = nf4_row(), n = nf4_row();
    b.w_code_bytes = b.w_scale_bytes = b.w_scale2_bytes = b.w_outlier_bytes = 0;
    char *rep;
    cr_assert_eq(compare_rows(&b, &n, &rep), 0, "%s", rep);
    cr_assert_not_null(strstr(rep, "no changes"), "%s", rep);
    free(rep);
    n.w_bytes += 1;
    n.w_code_bytes += 1;
    cr_assert_eq(compare_rows(&b, &n, &rep), 1, "%s", rep);
    cr_assert_not_null(strstr(rep, "w_bytes"), "%s", rep);
    cr_assert_null(strstr(rep, "w_code_bytes"), "%s", rep);
    free(rep);
}

static char *show_rows(qlab_row *rows, int64_t n)
{
    qlab_results_data d = {attrs, 3, rows, n, NULL, 0, NULL, 0};
    char *buf = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);
    cr_assert_eq(qlab_show(&d, out), 0);
    fclose(out);
    return buf;
}

/* The line of the table whose scheme column is `scheme`. */
static void line_of(const char *s, const char *scheme, char *line, size_t len)
{
    char key[40];
    snprintf(key, sizeof key, "\n%s ", scheme);
    const char *at = strstr(s, key);
    cr_assert_not_null(at, "no %s line:\n%s", scheme, s);
    snprintf(line, len, "%.*s", (int)strcspn(at + 1, "\n"), at + 1);
}

Test(memory_parts, show_gives_bits_per_weight_and_the_split)
{
    qlab_row r[4];
    r[0] = nf4_row();
    r[1] = nf4_row();
    strcpy(r[1].p.scheme, "nf4");
    r[1].w_scale_bytes = 4 * 16384;
    r[1].w_scale2_bytes = 0;
    r[1].w_bytes = 524288 + 4 * 16384;
    r[2] = nf4_row();   /* absmax with 4 fp16 outlier columns: 8 + 32/4096 + 16*4/4096 */
    strcpy(r[2].p.scheme, "absmax");
    r[2].w_code_bytes = 256 * 4096;
    r[2].w_scale_bytes = 4 * 256;
    r[2].w_scale2_bytes = 0;
    r[2].w_outlier_bytes = 2 * 256 * 4;
    r[2].w_bytes = r[2].w_code_bytes + r[2].w_scale_bytes + r[2].w_outlier_bytes;
    r[3] = nf4_row();   /* fp16: codes only */
    strcpy(r[3].p.scheme, "fp16");
    r[3].w_code_bytes = r[3].w_bytes = 2 * 256 * 4096;
    r[3].w_scale_bytes = r[3].w_scale2_bytes = 0;
    char *s = show_rows(r, 4);
    char line[512];
    line_of(s, "nf4_dq", line, sizeof line);
    cr_assert_not_null(strstr(line, "4.127  4 + 0.125 + 0.002 dq"), "%s", line);
    line_of(s, "nf4", line, sizeof line);
    cr_assert_not_null(strstr(line, "4.500  4 + 0.500"), "%s", line);
    line_of(s, "absmax", line, sizeof line);
    cr_assert_not_null(strstr(line, "8.023  8 + 0.008 + 0.016 outl"), "%s", line);
    line_of(s, "fp16", line, sizeof line);
    cr_assert_not_null(strstr(line, "16.000  -"), "%s", line);
    cr_assert_not_null(strstr(s, "w_split: w_bits = codes + scales"), "a legend under the table: %s", s);
    free(s);

    /* a file without the split shows bits per weight only, and no legend */
    r[0].w_code_bytes = r[0].w_scale_bytes = r[0].w_scale2_bytes = 0;
    s = show_rows(r, 1);
    line_of(s, "nf4_dq", line, sizeof line);
    cr_assert_not_null(strstr(line, "4.127  -"), "%s", line);
    cr_assert_null(strstr(s, "w_split:"), "%s", s);
    free(s);
}

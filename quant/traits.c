/* traits.c: the scheme traits table and the dispatch through it, the names used in
 * configs and the status strings.
 *
 * Each row holds a scheme's facts (name, bits, code range, tolerance) and its functions
 * (roundtrip in its format's file, matmul pipeline in matmul.c), as ggml's type traits
 * do. quant_roundtrip and quant_matmul_scheme check their arguments once and call the
 * row's function, so a new scheme is one row plus its functions; the tests loop over
 * this table, so the row is under test as soon as it exists. Files below this one
 * (matmul.c, the formats) never call back into it: it is the top of quant/.
 */
#include <math.h>
#include <string.h>
#include "quant.h"
#include "quant_internal.h"

/* Tolerances: roundtrip_rel_tol bounds ||v - v'||_F / ||v||_F for N(0,1) data with
 * per-row groups of 256. int8 with a step of ~max/127 on ~3-sigma maxima gives about
 * 0.008; fp16 keeps 11 significant bits (rms relative error ~2^-12), bf16 keeps 8
 * (~2^-9). Each bound leaves roughly a factor two of headroom.
 * fp8 keeps 4 (e4m3) or 3 (e5m2) significant bits, a relative rms error of about
 * 2^-5.3 and 2^-4.3 for normal values; N(0,1) data measures 0.026 and 0.051.
 * nf4 on N(0,1) rows of 256 measures 0.098, fp4 0.134 (its values are spread for a
 * wider distribution); double quantization moves the scales by under 1%. */
static const quant_scheme_traits quant_traits_table[QUANT_SCHEME_COUNT] = {
    {QUANT_SCHEME_FP32, "fp32", 32, 0, 0, 0, 0, 0.0, quant_float_roundtrip, quant_matmul_float,
     QUANT_KIND_FLOAT, 0},
    {QUANT_SCHEME_FP16, "fp16", 16, 0, 0, 0, 0, 5e-4, quant_float_roundtrip, quant_matmul_float,
     QUANT_KIND_FLOAT, 0},
    {QUANT_SCHEME_BF16, "bf16", 16, 0, 0, 0, 0, 4e-3, quant_float_roundtrip, quant_matmul_float,
     QUANT_KIND_FLOAT, 0},
    {QUANT_SCHEME_ABSMAX, "absmax", 8, 1, 0, -127, 127, 0.02, quant_int8_roundtrip, quant_matmul_int8,
     QUANT_KIND_INT8, 0},
    {QUANT_SCHEME_ZEROPOINT, "zeropoint", 8, 1, 1, -128, 127, 0.02, quant_int8_roundtrip, quant_matmul_int8,
     QUANT_KIND_INT8, 0},
    {QUANT_SCHEME_FP8_E4M3, "fp8_e4m3", 8, 0, 0, 0, 0, 0.05, quant_fp8_roundtrip, quant_matmul_fp8,
     QUANT_KIND_FP8, 0},
    {QUANT_SCHEME_FP8_E5M2, "fp8_e5m2", 8, 0, 0, 0, 0, 0.1, quant_fp8_roundtrip, quant_matmul_fp8,
     QUANT_KIND_FP8, 0},
    {QUANT_SCHEME_NF4, "nf4", 4, 0, 0, 0, 0, 0.2, quant_4bit_roundtrip, quant_matmul_4bit,
     QUANT_KIND_4BIT, 0},
    {QUANT_SCHEME_FP4, "fp4", 4, 0, 0, 0, 0, 0.25, quant_4bit_roundtrip, quant_matmul_4bit,
     QUANT_KIND_4BIT, 0},
    {QUANT_SCHEME_NF4_DQ, "nf4_dq", 4, 0, 0, 0, 0, 0.2, quant_4bit_roundtrip, quant_matmul_4bit,
     QUANT_KIND_4BIT, 1},
    {QUANT_SCHEME_FP4_DQ, "fp4_dq", 4, 0, 0, 0, 0, 0.25, quant_4bit_roundtrip, quant_matmul_4bit,
     QUANT_KIND_4BIT, 1},
};

static const char *const quant_gran_names[QUANT_GRAN_COUNT] = {
    "tensor", "row", "channel", "block",
};

static const char *const quant_outlier_names[QUANT_OUTLIER_COUNT] = {
    "fp16", "dequant",
};

static const char *const quant_status_strings[QUANT_STATUS_COUNT] = {
    "ok",
    "invalid argument (null pointer, non-positive size or bad enum value)",
    "block size is not positive or does not divide the row length",
    "NaN or Inf in an input tensor",
    "value out of range (scale overflows float32 or k too large for int32)",
    "out of memory",
    "scheme and granularity combination not supported",
};

const char *quant_status_str(quant_status st)
{
    if ((int)st < 0 || st >= QUANT_STATUS_COUNT)
        return "unknown status";
    return quant_status_strings[st];
}

const quant_scheme_traits *quant_scheme_get(quant_scheme s)
{
    if ((int)s < 0 || s >= QUANT_SCHEME_COUNT)
        return NULL;
    return &quant_traits_table[s];
}

quant_scheme quant_scheme_from_name(const char *name)
{
    if (!name)
        return QUANT_SCHEME_COUNT;
    for (int i = 0; i < QUANT_SCHEME_COUNT; i++)
        if (strcmp(name, quant_traits_table[i].name) == 0)
            return (quant_scheme)i;
    return QUANT_SCHEME_COUNT;
}

const char *quant_gran_name(quant_gran g)
{
    if ((int)g < 0 || g >= QUANT_GRAN_COUNT)
        return NULL;
    return quant_gran_names[g];
}

quant_gran quant_gran_from_name(const char *name)
{
    if (!name)
        return QUANT_GRAN_COUNT;
    for (int i = 0; i < QUANT_GRAN_COUNT; i++)
        if (strcmp(name, quant_gran_names[i]) == 0)
            return (quant_gran)i;
    return QUANT_GRAN_COUNT;
}

const char *quant_outlier_weights_name(quant_outlier_weights o)
{
    if ((int)o < 0 || o >= QUANT_OUTLIER_COUNT)
        return NULL;
    return quant_outlier_names[o];
}

quant_outlier_weights quant_outlier_weights_from_name(const char *name)
{
    if (!name)
        return QUANT_OUTLIER_COUNT;
    for (int i = 0; i < QUANT_OUTLIER_COUNT; i++)
        if (strcmp(name, quant_outlier_names[i]) == 0)
            return (quant_outlier_weights)i;
    return QUANT_OUTLIER_COUNT;
}

/* -------------------------------------------------------------------------------- */
/* Dispatch                                                                          */

quant_status quant_roundtrip(quant_scheme s, quant_gran g, const float *v, int64_t rows,
                             int64_t cols, int64_t block, float *out)
{
    int64_t total;
    const quant_scheme_traits *t = quant_scheme_get(s);
    if (!t || !v || !out || !quant_size_mul(rows, cols, &total) || (int)g < 0 || g >= QUANT_GRAN_COUNT)
        return QUANT_ERR_ARG;
    if (!quant_all_finite(v, (size_t)total))
        return QUANT_ERR_NONFINITE;
    return t->roundtrip(s, g, v, rows, cols, block, out);
}

quant_status quant_matmul_scheme(const float *x, const float *w, int64_t m, int64_t k,
                                 int64_t n, const quant_matmul_opts *opts, float *y,
                                 quant_matmul_info *info)
{
    int64_t mk, nk, mn;
    if (info)
        memset(info, 0, sizeof *info);
    if (!x || !w || !y || !opts || !quant_size_mul(m, k, &mk) || !quant_size_mul(n, k, &nk) ||
        !quant_size_mul(m, n, &mn))
        return QUANT_ERR_ARG;
    const quant_scheme_traits *t = quant_scheme_get(opts->scheme);
    if (!t || isnan(opts->threshold) || !(opts->smooth_alpha >= 0.0f && opts->smooth_alpha <= 1.0f))
        return QUANT_ERR_ARG;
    if ((int)opts->x_gran < 0 || opts->x_gran >= QUANT_GRAN_COUNT || (int)opts->w_gran < 0 ||
        opts->w_gran >= QUANT_GRAN_COUNT || (int)opts->outlier_weights < 0 ||
        opts->outlier_weights >= QUANT_OUTLIER_COUNT)
        return QUANT_ERR_ARG;
    if (!quant_all_finite(x, (size_t)mk) || !quant_all_finite(w, (size_t)nk))
        return QUANT_ERR_NONFINITE;
    if (info)
        memset(info, 0, sizeof *info);
    quant_cache_begin(opts->cache);
    return t->matmul(t, x, w, m, k, n, opts, y, info);
}

/* traits.c: the scheme traits table, the names used in configs and the status strings.
 *
 * A new scheme is one row here (plus its quantize path): the tests loop over this
 * table, so the row is under test as soon as it exists.
 */
#include <string.h>
#include "quant.h"
#include "quant_internal.h"

/* Tolerances: roundtrip_rel_tol bounds ||v - v'||_F / ||v||_F for N(0,1) data with
 * per-row groups of 256. int8 with a step of ~max/127 on ~3-sigma maxima gives about
 * 0.008; fp16 keeps 11 significant bits (rms relative error ~2^-12), bf16 keeps 8
 * (~2^-9). Each bound leaves roughly a factor two of headroom. */
static quant_status roundtrip_fp32(const float *v, int64_t rows, int64_t cols, quant_gran g,
                                   int64_t block, float *out)
{
    return quant_roundtrip(QUANT_SCHEME_FP32, g, v, rows, cols, block, out);
}

static quant_status roundtrip_fp16(const float *v, int64_t rows, int64_t cols, quant_gran g,
                                   int64_t block, float *out)
{
    return quant_roundtrip(QUANT_SCHEME_FP16, g, v, rows, cols, block, out);
}

static quant_status roundtrip_bf16(const float *v, int64_t rows, int64_t cols, quant_gran g,
                                   int64_t block, float *out)
{
    return quant_roundtrip(QUANT_SCHEME_BF16, g, v, rows, cols, block, out);
}

static quant_status roundtrip_absmax(const float *v, int64_t rows, int64_t cols, quant_gran g,
                                     int64_t block, float *out)
{
    return quant_roundtrip(QUANT_SCHEME_ABSMAX, g, v, rows, cols, block, out);
}

static quant_status roundtrip_zeropoint(const float *v, int64_t rows, int64_t cols,
                                        quant_gran g, int64_t block, float *out)
{
    return quant_roundtrip(QUANT_SCHEME_ZEROPOINT, g, v, rows, cols, block, out);
}

static quant_status roundtrip_fp8_e4m3(const float *v, int64_t rows, int64_t cols,
                                       quant_gran g, int64_t block, float *out)
{
    return quant_fp8_roundtrip(QUANT_SCHEME_FP8_E4M3, g, v, rows, cols, block, out);
}

static quant_status roundtrip_fp8_e5m2(const float *v, int64_t rows, int64_t cols,
                                       quant_gran g, int64_t block, float *out)
{
    return quant_fp8_roundtrip(QUANT_SCHEME_FP8_E5M2, g, v, rows, cols, block, out);
}

static quant_status roundtrip_nf4(const float *v, int64_t rows, int64_t cols, quant_gran g,
                                  int64_t block, float *out)
{
    return quant_4bit_roundtrip(QUANT_SCHEME_NF4, g, v, rows, cols, block, out);
}

static quant_status roundtrip_fp4(const float *v, int64_t rows, int64_t cols, quant_gran g,
                                  int64_t block, float *out)
{
    return quant_4bit_roundtrip(QUANT_SCHEME_FP4, g, v, rows, cols, block, out);
}

static quant_status roundtrip_nf4_dq(const float *v, int64_t rows, int64_t cols, quant_gran g,
                                     int64_t block, float *out)
{
    return quant_4bit_roundtrip(QUANT_SCHEME_NF4_DQ, g, v, rows, cols, block, out);
}

static quant_status roundtrip_fp4_dq(const float *v, int64_t rows, int64_t cols, quant_gran g,
                                     int64_t block, float *out)
{
    return quant_4bit_roundtrip(QUANT_SCHEME_FP4_DQ, g, v, rows, cols, block, out);
}

/* fp8 keeps 4 (e4m3) or 3 (e5m2) significant bits, a relative rms error of about
 * 2^-5.3 and 2^-4.3 for normal values; N(0,1) data measures 0.026 and 0.051.
 * nf4 on N(0,1) rows of 256 measures 0.098, fp4 0.134 (its values are spread for a
 * wider distribution); double quantization moves the scales by under 1%. */
static const quant_scheme_traits quant_traits_table[QUANT_SCHEME_COUNT] = {
    {QUANT_SCHEME_FP32, "fp32", 32, 0, 0, 0, 0, 0.0, roundtrip_fp32, QUANT_KIND_FLOAT, 0},
    {QUANT_SCHEME_FP16, "fp16", 16, 0, 0, 0, 0, 5e-4, roundtrip_fp16, QUANT_KIND_FLOAT, 0},
    {QUANT_SCHEME_BF16, "bf16", 16, 0, 0, 0, 0, 4e-3, roundtrip_bf16, QUANT_KIND_FLOAT, 0},
    {QUANT_SCHEME_ABSMAX, "absmax", 8, 1, 0, -127, 127, 0.02, roundtrip_absmax, QUANT_KIND_INT8, 0},
    {QUANT_SCHEME_ZEROPOINT, "zeropoint", 8, 1, 1, -128, 127, 0.02, roundtrip_zeropoint,
     QUANT_KIND_INT8, 0},
    {QUANT_SCHEME_FP8_E4M3, "fp8_e4m3", 8, 0, 0, 0, 0, 0.05, roundtrip_fp8_e4m3, QUANT_KIND_FP8, 0},
    {QUANT_SCHEME_FP8_E5M2, "fp8_e5m2", 8, 0, 0, 0, 0, 0.1, roundtrip_fp8_e5m2, QUANT_KIND_FP8, 0},
    {QUANT_SCHEME_NF4, "nf4", 4, 0, 0, 0, 0, 0.2, roundtrip_nf4, QUANT_KIND_4BIT, 0},
    {QUANT_SCHEME_FP4, "fp4", 4, 0, 0, 0, 0, 0.25, roundtrip_fp4, QUANT_KIND_4BIT, 0},
    {QUANT_SCHEME_NF4_DQ, "nf4_dq", 4, 0, 0, 0, 0, 0.2, roundtrip_nf4_dq, QUANT_KIND_4BIT, 1},
    {QUANT_SCHEME_FP4_DQ, "fp4_dq", 4, 0, 0, 0, 0, 0.25, roundtrip_fp4_dq, QUANT_KIND_4BIT, 1},
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

int quant_size_mul(int64_t a, int64_t b, int64_t *out)
{
    if (a <= 0 || b <= 0)
        return 0;
    if (a > INT64_MAX / b)
        return 0;
    int64_t p = a * b;
    if ((uint64_t)p > (uint64_t)SIZE_MAX)
        return 0;
    *out = p;
    return 1;
}

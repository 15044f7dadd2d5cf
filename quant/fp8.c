/* fp8.c: float32 <-> fp8 (e4m3, e5m2) conversions and fp8 scaled quantization.
 *
 * The formats are those of the OCP 8-bit floating point specification
 * (Micikevicius et al. 2022, "FP8 formats for deep learning"): e4m3 trades the
 * infinities for one more binade (largest finite 448), e5m2 is IEEE-like (largest
 * finite 57344). Conversions are written with exact double arithmetic (every
 * float32 and every fp8 value is a double, and scaling by a power of two is exact),
 * so the rounding is exactly round-to-nearest-even on every machine; the GPU's
 * __nv_cvt_float_to_fp8(.., __NV_SATFINITE, ..) rounds the same way.
 */
#include <math.h>
#include <stdlib.h>
#include "quant.h"
#include "quant_internal.h"

/* One fp8 format: exponent bias, mantissa bits, largest finite, whether the top
 * exponent encodes inf/NaN (IEEE-like) or only S.1111.111 is NaN (e4m3). */
typedef struct {
    int bias;
    int mbits;
    int ebits;
    double max_finite;
    int ieee_top;     /* 1: top exponent is inf/NaN (e5m2); 0: only all-ones is NaN (e4m3) */
    uint8_t nan_code; /* positive NaN code */
} fp8_format;

static const fp8_format fmt_e4m3 = {7, 3, 4, 448.0, 0, 0x7f};
static const fp8_format fmt_e5m2 = {15, 2, 5, 57344.0, 1, 0x7f};

static uint8_t f32_to_fp8(const fp8_format *fm, float f)
{
    uint8_t sign = signbit(f) ? 0x80 : 0x00;
    if (isnan(f))
        return (uint8_t)(sign | fm->nan_code);
    double a = fabs((double)f);
    if (a == 0.0)
        return sign;
    /* Saturating conversion: inf and every finite overflow go to the largest finite. */
    const int emin = 1 - fm->bias;   /* exponent of the smallest normal */
    int e;
    frexp(a, &e);                    /* a = f * 2^e, f in [0.5, 1): exponent of a is e - 1 */
    e -= 1;
    if (e < emin)
        e = emin;                    /* subnormals share the quantum of the smallest binade */
    double quantum = ldexp(1.0, e - fm->mbits);
    double r = rint(a / quantum) * quantum;   /* a / quantum is exact; rint is ties-to-even */
    if (r > fm->max_finite || isinf(a))
        r = fm->max_finite;
    if (r == 0.0)
        return sign;
    /* Encode r (exactly representable now); rounding may have moved it up a binade. */
    frexp(r, &e);
    e -= 1;
    uint32_t efield, mfield;
    if (e < emin) {
        efield = 0;
        mfield = (uint32_t)ldexp(r, fm->mbits - emin);
    } else {
        efield = (uint32_t)(e + fm->bias);
        mfield = (uint32_t)(ldexp(r, fm->mbits - e) - ldexp(1.0, fm->mbits));
    }
    return (uint8_t)(sign | (efield << fm->mbits) | mfield);
}

static float fp8_to_f32(const fp8_format *fm, uint8_t b)
{
    int neg = (b & 0x80) != 0;
    uint32_t efield = (uint32_t)(b & 0x7f) >> fm->mbits;
    uint32_t mfield = b & ((1u << fm->mbits) - 1u);
    uint32_t etop = (1u << fm->ebits) - 1u;
    double v;
    if (fm->ieee_top && efield == etop) {
        v = mfield == 0 ? INFINITY : NAN;
    } else if (!fm->ieee_top && efield == etop && mfield == (1u << fm->mbits) - 1u) {
        v = NAN;
    } else if (efield == 0) {
        v = ldexp((double)mfield, 1 - fm->bias - fm->mbits);
    } else {
        v = ldexp((double)(mfield | (1u << fm->mbits)), (int)efield - fm->bias - fm->mbits);
    }
    if (isnan(v))
        return copysignf(NAN, neg ? -1.0f : 1.0f);
    return (float)(neg ? -v : v);
}

uint8_t quant_f32_to_fp8_e4m3(float f) { return f32_to_fp8(&fmt_e4m3, f); }
uint8_t quant_f32_to_fp8_e5m2(float f) { return f32_to_fp8(&fmt_e5m2, f); }
float quant_fp8_e4m3_to_f32(uint8_t b) { return fp8_to_f32(&fmt_e4m3, b); }
float quant_fp8_e5m2_to_f32(uint8_t b) { return fp8_to_f32(&fmt_e5m2, b); }

/* -------------------------------------------------------------------------------- */
/* Scaled quantization                                                              */

static const fp8_format *format_of(quant_scheme s)
{
    if (s == QUANT_SCHEME_FP8_E4M3)
        return &fmt_e4m3;
    if (s == QUANT_SCHEME_FP8_E5M2)
        return &fmt_e5m2;
    return NULL;
}

quant_status quant_fp8_group_scale(quant_scheme scheme, const float *v, int64_t count,
                                   int64_t stride, float *scale)
{
    const fp8_format *fm = format_of(scheme);
    if (!fm || !v || !scale || count <= 0 || stride <= 0)
        return QUANT_ERR_ARG;
    float amax = 0.0f;
    for (int64_t i = 0; i < count; i++) {
        float a = fabsf(v[i * stride]);
        if (!isfinite(a))
            return QUANT_ERR_NONFINITE;
        if (a > amax)
            amax = a;
    }
    float s = 1.0f;
    if (amax > 0.0f) {
        s = (float)fm->max_finite / amax;
        if (!isfinite(s))
            return QUANT_ERR_RANGE;
    }
    *scale = s;
    return QUANT_OK;
}

quant_status quant_fp8_quantize(quant_scheme scheme, quant_gran g, const float *v, int64_t rows,
                                int64_t cols, int64_t block, uint8_t *codes, float *scales,
                                int64_t *n_groups)
{
    const fp8_format *fm = format_of(scheme);
    int64_t total;
    if (!fm || !v || !codes || !scales || !quant_size_mul(rows, cols, &total))
        return QUANT_ERR_ARG;
    quant_status st;
    int64_t ng = quant_group_count(g, rows, cols, block, &st);
    if (ng < 0)
        return st;
    int64_t glen = total / ng;   /* groups are contiguous runs of glen values */
    for (int64_t gi = 0; gi < ng; gi++) {
        st = quant_fp8_group_scale(scheme, v + gi * glen, glen, 1, &scales[gi]);
        if (st != QUANT_OK)
            return st;
    }
    /* each code on its own: threads change no bit */
#pragma omp parallel for schedule(static) if (total > (1 << 16))
    for (int64_t i = 0; i < total; i++)
        codes[i] = f32_to_fp8(fm, v[i] * scales[i / glen]);
    if (n_groups)
        *n_groups = ng;
    return QUANT_OK;
}

quant_status quant_fp8_dequantize(quant_scheme scheme, const uint8_t *codes, const float *scales,
                                  int64_t total, int64_t glen, float *out)
{
    const fp8_format *fm = format_of(scheme);
    if (!fm || !codes || !scales || !out || total <= 0 || glen <= 0)
        return QUANT_ERR_ARG;
    float value[256];   /* every code's value: the same floats fp8_to_f32 gives */
    for (int c = 0; c < 256; c++)
        value[c] = fp8_to_f32(fm, (uint8_t)c);
#pragma omp parallel for schedule(static) if (total > (1 << 16))
    for (int64_t i = 0; i < total; i++)
        out[i] = value[codes[i]] / scales[i / glen];
    return QUANT_OK;
}

quant_status quant_fp8_roundtrip(quant_scheme scheme, quant_gran g, const float *v,
                                 int64_t rows, int64_t cols, int64_t block, float *out)
{
    int64_t total;
    if (!format_of(scheme) || !v || !out || !quant_size_mul(rows, cols, &total))
        return QUANT_ERR_ARG;
    if ((int)g < 0 || g >= QUANT_GRAN_COUNT)
        return QUANT_ERR_ARG;
    quant_status st;
    int64_t ng = quant_group_count(g, rows, cols, block, &st);
    if (ng < 0)
        return st;
    uint8_t *codes = malloc((size_t)total);
    float *scales = malloc((size_t)ng * sizeof *scales);
    if (!codes || !scales) {
        free(codes);
        free(scales);
        return QUANT_ERR_NOMEM;
    }
    st = quant_fp8_quantize(scheme, g, v, rows, cols, block, codes, scales, NULL);
    if (st == QUANT_OK)
        st = quant_fp8_dequantize(scheme, codes, scales, total, total / ng, out);
    free(codes);
    free(scales);
    return st;
}

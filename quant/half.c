/* half.c: float32 <-> IEEE binary16 and bfloat16 conversions, by hand.
 *
 * Portable bit manipulation (no _Float16) so that every compiler and CPU gives the
 * same bits: round to nearest even, fp16 subnormals kept, overflow to +-inf, NaN kept
 * NaN and made quiet. The GPU conversions (__float2half_rn, __float2bfloat16_rn)
 * round the same way, which the GPU tests check. The bulk rounding quant_round_f16
 * uses the x86 F16C instructions where the CPU has them (detected at run time); they
 * implement the same IEEE conversion, and tests/test_quant_half.c checks them against
 * the portable code bit for bit on every rounding case.
 */
#include <string.h>
#if defined(__x86_64__)
#include <cpuid.h>
#include <immintrin.h>
#endif
#include "quant.h"
#include "quant_internal.h"

static uint32_t f32_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

static float f32_from_bits(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* Shifts m right by s (1 <= s <= 31) rounding to nearest, ties to even. */
static uint32_t shift_round_even(uint32_t m, unsigned s)
{
    uint32_t q = m >> s;
    uint32_t rem = m & ((1u << s) - 1u);
    uint32_t half = 1u << (s - 1u);
    if (rem > half || (rem == half && (q & 1u)))
        q++;
    return q;
}

uint16_t quant_f32_to_f16(float f)
{
    uint32_t x = f32_bits(f);
    uint16_t sign = (uint16_t)((x >> 16) & 0x8000u);
    uint32_t exp = (x >> 23) & 0xffu;
    uint32_t man = x & 0x7fffffu;

    if (exp == 0xffu) {
        if (man == 0)
            return (uint16_t)(sign | 0x7c00u);
        /* Keep the top payload bits and set the quiet bit, so a NaN never turns into inf. */
        return (uint16_t)(sign | 0x7c00u | 0x0200u | (man >> 13));
    }
    int32_t e = (int32_t)exp - 127 + 15;
    if (e >= 31)
        return (uint16_t)(sign | 0x7c00u);
    if (e <= 0) {
        /* fp16 subnormal (or zero): value = m * 2^(exp-150), unit 2^-24, so the code
         * is m >> (126 - exp). Values below half the smallest subnormal round to 0. */
        if (exp == 0)
            return sign;     /* float32 subnormals are far below 2^-25 */
        uint32_t m = man | 0x800000u;
        unsigned s = (unsigned)(126 - (int32_t)exp);
        if (s > 24)
            return sign;
        /* A carry into bit 10 yields the smallest normal, which is the right encoding. */
        return (uint16_t)(sign | shift_round_even(m, s));
    }
    uint32_t h = ((uint32_t)e << 10) | (man >> 13);
    uint32_t rem = man & 0x1fffu;
    /* A carry out of the mantissa bumps the exponent; out of e = 30 it gives inf. */
    if (rem > 0x1000u || (rem == 0x1000u && (h & 1u)))
        h++;
    return (uint16_t)(sign | h);
}

float quant_f16_to_f32(uint16_t h)
{
    uint32_t sign = ((uint32_t)h & 0x8000u) << 16;
    uint32_t exp = ((uint32_t)h >> 10) & 0x1fu;
    uint32_t man = (uint32_t)h & 0x3ffu;

    if (exp == 0x1fu)
        return f32_from_bits(sign | 0x7f800000u | (man << 13) | (man ? 0x400000u : 0u));
    if (exp == 0) {
        if (man == 0)
            return f32_from_bits(sign);
        /* Subnormal: normalise the mantissa; value = man * 2^-24. */
        uint32_t e = 127 - 15 + 1;
        while (!(man & 0x400u)) {
            man <<= 1;
            e--;
        }
        man &= 0x3ffu;
        return f32_from_bits(sign | (e << 23) | (man << 13));
    }
    return f32_from_bits(sign | ((exp - 15 + 127) << 23) | (man << 13));
}

uint16_t quant_f32_to_bf16(float f)
{
    uint32_t x = f32_bits(f);
    if ((x & 0x7f800000u) == 0x7f800000u && (x & 0x7fffffu))
        return (uint16_t)((x >> 16) | 0x0040u);
    /* Round to nearest even on the low 16 bits; a carry into the exponent is the
     * right result, up to inf for the largest finite values. */
    uint32_t bias = 0x7fffu + ((x >> 16) & 1u);
    return (uint16_t)((x + bias) >> 16);
}

float quant_bf16_to_f32(uint16_t h)
{
    return f32_from_bits((uint32_t)h << 16);
}

void quant_round_f16_portable(const float *src, float *dst, size_t count)
{
    for (size_t i = 0; i < count; i++)
        dst[i] = quant_f16_to_f32(quant_f32_to_f16(src[i]));
}

#if defined(__x86_64__)
/* Eight values at a time through vcvtps2ph (round to nearest even: the rounding
 * control in the immediate, whatever MXCSR says) and back through vcvtph2ps, which
 * is exact. MXCSR's flush-to-zero and denormals-are-zero are off in qlab, as C
 * requires by default, so fp16 subnormals are kept as by the portable code. */
__attribute__((target("avx,f16c"))) static void round_f16_f16c(const float *src, float *dst, size_t count)
{
    size_t i = 0;
    for (; i + 8 <= count; i += 8) {
        __m128i h = _mm256_cvtps_ph(_mm256_loadu_ps(src + i), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
        _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(h));
    }
    quant_round_f16_portable(src + i, dst + i, count - i);
}
#endif

#if defined(__x86_64__)
/* CPUID leaf 1, ECX bit 29 (F16C), read once at load time: cpuid is slow in virtual
 * machines, and not every compiler's __builtin_cpu_supports knows "f16c" (clang 14
 * does not). AVX (ymm state enabled by the OS) comes from __builtin_cpu_supports. */
static int have_f16c;
__attribute__((constructor)) static void detect_f16c(void)
{
    unsigned a, b, c, d;
    have_f16c = __get_cpuid(1, &a, &b, &c, &d) && (c & bit_F16C) && __builtin_cpu_supports("avx");
}
#endif

int quant_have_f16c(void)
{
#if defined(__x86_64__)
    return have_f16c;
#else
    return 0;
#endif
}

void quant_round_f16(const float *src, float *dst, size_t count)
{
#if defined(__x86_64__)
    if (quant_have_f16c()) {
        round_f16_f16c(src, dst, count);
        return;
    }
#endif
    quant_round_f16_portable(src, dst, count);
}

void quant_round_bf16(const float *src, float *dst, size_t count)
{
    for (size_t i = 0; i < count; i++)
        dst[i] = quant_bf16_to_f32(quant_f32_to_bf16(src[i]));
}

quant_status quant_float_roundtrip(quant_scheme s, quant_gran g, const float *v, int64_t rows,
                                   int64_t cols, int64_t block, float *out)
{
    size_t total = (size_t)rows * (size_t)cols;
    switch (s) {
    case QUANT_SCHEME_FP32:
        if (out != v)
            memmove(out, v, total * sizeof *out);
        return QUANT_OK;
    case QUANT_SCHEME_FP16:
        quant_round_f16(v, out, total);
        return QUANT_OK;
    case QUANT_SCHEME_BF16:
        quant_round_bf16(v, out, total);
        return QUANT_OK;
    default:
        return QUANT_ERR_ARG;
    }
}

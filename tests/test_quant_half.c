/* test_quant_half.c: fp16 and bf16 rounding against known bit patterns.
 *
 * Expected bits are written out by hand from the IEEE binary16 / bfloat16 layouts;
 * where the compiler has _Float16, its conversion is used as an independent oracle
 * over many random float32 bit patterns.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "../quant/quant.h"
#include "../quant/quant_internal.h"
#include "test_quant_util.h"

Test(quant_half, f16_exact_values_have_known_bits)
{
    cr_assert_eq(quant_f32_to_f16(0.0f), 0x0000);
    cr_assert_eq(quant_f32_to_f16(-0.0f), 0x8000);
    cr_assert_eq(quant_f32_to_f16(1.0f), 0x3c00);
    cr_assert_eq(quant_f32_to_f16(-2.0f), 0xc000);
    cr_assert_eq(quant_f32_to_f16(0.5f), 0x3800);
    cr_assert_eq(quant_f32_to_f16(65504.0f), 0x7bff);
}

Test(quant_half, f16_ties_round_to_even)
{
    /* 1 + 2^-11 lies halfway between 1 (mantissa 0) and 1 + 2^-10 (mantissa 1). */
    cr_assert_eq(quant_f32_to_f16(1.0f + ldexpf(1.0f, -11)), 0x3c00);
    /* 1 + 3*2^-11: halfway between mantissa 1 and 2, even is 2. */
    cr_assert_eq(quant_f32_to_f16(1.0f + 3.0f * ldexpf(1.0f, -11)), 0x3c02);
    /* Just above the tie goes up. */
    cr_assert_eq(quant_f32_to_f16(1.0f + ldexpf(1.0f, -11) + ldexpf(1.0f, -20)), 0x3c01);
    /* A mantissa carry moves into the exponent: 2 - 2^-12 rounds to 2. */
    cr_assert_eq(quant_f32_to_f16(2.0f - ldexpf(1.0f, -12)), 0x4000);
}

Test(quant_half, f16_subnormals_are_kept_and_rounded)
{
    cr_assert_eq(quant_f32_to_f16(ldexpf(1.0f, -14)), 0x0400, "smallest normal");
    cr_assert_eq(quant_f32_to_f16(1023.0f * ldexpf(1.0f, -24)), 0x03ff, "largest subnormal");
    cr_assert_eq(quant_f32_to_f16(ldexpf(1.0f, -24)), 0x0001, "smallest subnormal");
    cr_assert_eq(quant_f32_to_f16(-ldexpf(1.0f, -24)), 0x8001);
    /* 2^-25 is exactly half the smallest subnormal: ties to even gives 0. */
    cr_assert_eq(quant_f32_to_f16(ldexpf(1.0f, -25)), 0x0000);
    cr_assert_eq(quant_f32_to_f16(1.5f * ldexpf(1.0f, -25)), 0x0001);
    /* 1.5 and 2.5 units: ties to 2 both times. */
    cr_assert_eq(quant_f32_to_f16(1.5f * ldexpf(1.0f, -24)), 0x0002);
    cr_assert_eq(quant_f32_to_f16(2.5f * ldexpf(1.0f, -24)), 0x0002);
    /* 1023.75 units rounds up into the smallest normal. */
    cr_assert_eq(quant_f32_to_f16(1023.75f * ldexpf(1.0f, -24)), 0x0400);
    cr_assert_eq(quant_f32_to_f16(ldexpf(1.0f, -30)), 0x0000, "underflow to zero");
    cr_assert_eq(quant_f32_to_f16(tq_f32_from_bits(0x00000001u)), 0x0000, "f32 subnormal");
}

Test(quant_half, f16_overflow_goes_to_inf)
{
    /* 65520 is halfway between 65504 and 65536 (not representable): even is inf. */
    cr_assert_eq(quant_f32_to_f16(65519.99f), 0x7bff);
    cr_assert_eq(quant_f32_to_f16(65520.0f), 0x7c00);
    cr_assert_eq(quant_f32_to_f16(1e6f), 0x7c00);
    cr_assert_eq(quant_f32_to_f16(-1e6f), 0xfc00);
    cr_assert_eq(quant_f32_to_f16(INFINITY), 0x7c00);
    cr_assert_eq(quant_f32_to_f16(-INFINITY), 0xfc00);
}

Test(quant_half, f16_nan_stays_quiet_nan)
{
    uint16_t h = quant_f32_to_f16(NAN);
    cr_assert_eq(h & 0x7c00, 0x7c00);
    cr_assert_neq(h & 0x03ff, 0);
    cr_assert_neq(h & 0x0200, 0, "quiet bit set");
    /* A signalling NaN whose payload sits only in the low bits must not become inf. */
    uint16_t s = quant_f32_to_f16(tq_f32_from_bits(0x7f800001u));
    cr_assert_eq(s & 0x7c00, 0x7c00);
    cr_assert_neq(s & 0x03ff, 0);
    cr_assert(isnan(quant_f16_to_f32(0x7e00)));
    cr_assert(isnan(quant_f16_to_f32(0x7c01)));
}

Test(quant_half, f16_to_f32_decodes_known_bits)
{
    cr_assert_eq(quant_f16_to_f32(0x3c00), 1.0f);
    cr_assert_eq(quant_f16_to_f32(0xc000), -2.0f);
    cr_assert_eq(quant_f16_to_f32(0x7bff), 65504.0f);
    cr_assert_eq(quant_f16_to_f32(0x0001), ldexpf(1.0f, -24));
    cr_assert_eq(quant_f16_to_f32(0x03ff), 1023.0f * ldexpf(1.0f, -24));
    cr_assert_eq(quant_f16_to_f32(0x0400), ldexpf(1.0f, -14));
    cr_assert(isinf(quant_f16_to_f32(0x7c00)) && quant_f16_to_f32(0x7c00) > 0);
    cr_assert(isinf(quant_f16_to_f32(0xfc00)) && quant_f16_to_f32(0xfc00) < 0);
    float nz = quant_f16_to_f32(0x8000);
    cr_assert(nz == 0.0f && signbit(nz));
}

Test(quant_half, f16_every_finite_pattern_round_trips)
{
    for (uint32_t h = 0; h < 0x10000u; h++) {
        if ((h & 0x7c00u) == 0x7c00u)
            continue;
        uint16_t back = quant_f32_to_f16(quant_f16_to_f32((uint16_t)h));
        cr_assert_eq(back, h, "pattern 0x%04x came back as 0x%04x", h, back);
    }
}

#ifdef __FLT16_MAX__
Test(quant_half, f16_matches_compiler_float16_on_random_floats)
{
    tq_rng r = {12345};
    for (int i = 0; i < 200000; i++) {
        /* Exponents spread over the fp16 range and around it. */
        uint32_t bits = (uint32_t)tq_next(&r);
        uint32_t exp = 100u + (uint32_t)(tq_next(&r) % 50u);
        bits = (bits & 0x807fffffu) | (exp << 23);
        float f = tq_f32_from_bits(bits);
        _Float16 ref = (_Float16)f;
        uint16_t ref_bits;
        memcpy(&ref_bits, &ref, sizeof ref_bits);
        cr_assert_eq(quant_f32_to_f16(f), ref_bits, "f = %a", (double)f);
    }
}
#endif

Test(quant_half, bf16_known_bits_and_ties)
{
    cr_assert_eq(quant_f32_to_bf16(1.0f), 0x3f80);
    cr_assert_eq(quant_f32_to_bf16(-2.0f), 0xc000);
    cr_assert_eq(quant_f32_to_bf16(-0.0f), 0x8000);
    /* 1 + 2^-8 is halfway between 0x3f80 and 0x3f81: even wins. */
    cr_assert_eq(quant_f32_to_bf16(1.0f + ldexpf(1.0f, -8)), 0x3f80);
    /* 1 + 3*2^-8 is halfway between 0x3f81 and 0x3f82. */
    cr_assert_eq(quant_f32_to_bf16(1.0f + 3.0f * ldexpf(1.0f, -8)), 0x3f82);
    cr_assert_eq(quant_f32_to_bf16(1.0f + ldexpf(1.0f, -8) + ldexpf(1.0f, -20)), 0x3f81);
    /* float32 subnormals: 0x00008000 is a tie to 0, 0x00018000 a tie to 2. */
    cr_assert_eq(quant_f32_to_bf16(tq_f32_from_bits(0x00008000u)), 0x0000);
    cr_assert_eq(quant_f32_to_bf16(tq_f32_from_bits(0x00018000u)), 0x0002);
}

Test(quant_half, bf16_overflow_and_nan)
{
    cr_assert_eq(quant_f32_to_bf16(tq_f32_from_bits(0x7f7fffffu)), 0x7f80, "FLT_MAX rounds to inf");
    cr_assert_eq(quant_f32_to_bf16(tq_f32_from_bits(0x7f7f0000u)), 0x7f7f, "largest bf16 exact");
    cr_assert_eq(quant_f32_to_bf16(INFINITY), 0x7f80);
    uint16_t n = quant_f32_to_bf16(tq_f32_from_bits(0x7f800001u));
    cr_assert_eq(n & 0x7f80, 0x7f80);
    cr_assert_neq(n & 0x007f, 0, "NaN must not become inf");
    cr_assert_neq(n & 0x0040, 0, "quiet bit set");
    cr_assert_eq(quant_bf16_to_f32(0x3f80), 1.0f);
    cr_assert_eq(quant_bf16_to_f32(0xc040), -3.0f);
}

Test(quant_half, round_arrays_in_place)
{
    float v[4] = {1.0f + ldexpf(1.0f, -11), 65520.0f, 1.0f + 3.0f * ldexpf(1.0f, -8), 0.1f};
    float w[4];
    memcpy(w, v, sizeof v);
    quant_round_f16(v, v, 4);
    cr_assert_eq(v[0], 1.0f);
    cr_assert(isinf(v[1]));
    cr_assert_eq(v[3], quant_f16_to_f32(0x2e66), "0.1 in fp16 is 0x2e66");
    quant_round_bf16(w, w, 4);
    cr_assert_eq(w[2], 1.0f + 4.0f * ldexpf(1.0f, -8));
    cr_assert_eq(w[3], quant_bf16_to_f32(0x3dcd), "0.1 in bf16 is 0x3dcd");
}

/* The bulk rounding may run on the F16C instructions (quant_round_f16 picks them at run
 * time); it must give the portable code's bits for every sign, exponent and leading
 * mantissa, with the low 13 bits (those fp16 drops) at each rounding case: exact,
 * just above zero, just below, at and just above the tie, all ones. NaN and inf
 * included (exponent 255). */
Test(quant_half, bulk_f16_rounding_matches_the_portable_code_bit_for_bit)
{
    static const uint32_t low[] = {0x0000, 0x0001, 0x0fff, 0x1000, 0x1001, 0x1fff};
    const size_t nlow = sizeof low / sizeof low[0];
    const size_t count = (size_t)2 * 256 * 1024 * nlow;
    uint32_t *in = malloc(count * sizeof *in);
    float *fast = malloc(count * sizeof *fast), *port = malloc(count * sizeof *port);
    cr_assert(in && fast && port);
    size_t c = 0;
    for (uint32_t top = 0; top < 2u * 256u * 1024u; top++)
        for (size_t l = 0; l < nlow; l++)
            in[c++] = (top << 13) | low[l];
    const float *src = (const float *)(const void *)in;
    /* odd offsets and lengths exercise the vector loop's scalar tail */
    quant_round_f16(src + 1, fast + 1, count - 4);
    quant_round_f16_portable(src + 1, port + 1, count - 4);
    size_t bad = 0, first = 0;
    for (size_t i = 1; i < count - 3; i++)
        if (memcmp(&fast[i], &port[i], sizeof(float)) != 0 && bad++ == 0)
            first = i;
    cr_assert_eq(bad, 0, "%zu of %zu values differ (F16C used: %d), first input bits 0x%08x", bad,
                 count - 4, quant_have_f16c(), in[first]);
    free(in);
    free(fast);
    free(port);
}

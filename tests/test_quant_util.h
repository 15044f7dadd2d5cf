/* test_quant_util.h: deterministic data for the quant/ tests (header-only).
 *
 * A splitmix64 generator, so every test sees the same matrices on every machine,
 * and the small helpers the quant tests share.
 */
#ifndef QLAB_TEST_QUANT_UTIL_H
#define QLAB_TEST_QUANT_UTIL_H

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    uint64_t s;
} tq_rng;

static inline uint64_t tq_next(tq_rng *r)
{
    uint64_t z = (r->s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Uniform in [0, 1). */
static inline double tq_uniform(tq_rng *r)
{
    return (double)(tq_next(r) >> 11) * (1.0 / 9007199254740992.0);
}

/* Standard normal (Box-Muller). */
static inline double tq_normal(tq_rng *r)
{
    double u1 = tq_uniform(r), u2 = tq_uniform(r);
    if (u1 < 1e-300)
        u1 = 1e-300;
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

static inline void tq_fill_normal(float *v, int64_t count, uint64_t seed, double std)
{
    tq_rng r = {seed};
    for (int64_t i = 0; i < count; i++)
        v[i] = (float)(std * tq_normal(&r));
}

/* Codes uniform over [lo, hi]. */
static inline void tq_fill_codes(int8_t *v, int64_t count, uint64_t seed, int lo, int hi)
{
    tq_rng r = {seed};
    for (int64_t i = 0; i < count; i++)
        v[i] = (int8_t)(lo + (int)(tq_next(&r) % (uint64_t)(hi - lo + 1)));
}

static inline uint32_t tq_f32_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

static inline float tq_f32_from_bits(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

#endif

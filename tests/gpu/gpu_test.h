/* gpu_test.h: what the GPU test files share: the skip rule, a deterministic normal
 * generator and an upload helper. Header-only (static functions), one copy per test
 * file, so each file still builds alone. */
#ifndef QLAB_GPU_TEST_H
#define QLAB_GPU_TEST_H

#include <criterion/criterion.h>
#include <math.h>
#include <stdint.h>

#include "../../kernels/qlab_cuda.h"

/* A context on device 0, or the test is skipped with the reason (no driver, no
 * device, compute capability too old, context creation failing). */
static inline qk_ctx *gpu_or_skip(void)
{
    char why[512];
    if (!qk_device_usable(why, sizeof why))
        cr_skip_test("no usable GPU: %s", why);
    qk_ctx *c = NULL;
    char err[512];
    if (qk_ctx_create(0, &c, err, sizeof err) != QK_OK)
        cr_skip_test("no usable GPU: %s", err);
    return c;
}

/* Seeds the generator below. */
static inline uint64_t gauss_seed(uint64_t seed)
{
    return seed * 6364136223846793005ull + 1442695040888963407ull;
}

/* The next N(0, 1) value: a 64-bit LCG and Box-Muller, the same on every machine. */
static inline double gauss_next(uint64_t *s)
{
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    double u1 = ((*s >> 11) + 1.0) / 9007199254740993.0;
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    double u2 = (*s >> 11) / 9007199254740992.0;
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

/* A device copy of `bytes` bytes of host memory (qk_malloc'd; the test frees it). */
static inline void *gpu_up(qk_ctx *c, const void *h, size_t bytes)
{
    void *d = NULL;
    cr_assert_eq(qk_malloc(c, &d, bytes), QK_OK, "%s", qk_ctx_error(c));
    cr_assert_eq(qk_upload(c, d, h, bytes), QK_OK, "%s", qk_ctx_error(c));
    return d;
}

#endif

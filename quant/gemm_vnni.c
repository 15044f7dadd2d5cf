/* gemm_vnni.c: the int8 GEMM on AVX-512 VNNI (vpdpbusd), chosen at run time.
 *
 * vpdpbusd multiplies unsigned bytes by signed bytes and adds each group of four
 * products into a 32-bit lane. X's codes are made unsigned by adding 128 (flipping the
 * sign bit), which adds 128 * sum_p w[j][p] to every output of column j; that sum is
 * taken once per row of W and subtracted. All of it is integer arithmetic modulo 2^32
 * (vpdpbusd wraps rather than saturates), and the true result fits in int32 for
 * k <= QUANT_MAX_K, so the outputs equal the portable kernel's (matmul.c) exactly;
 * tests/test_quant_matmul.c checks that bit for bit, extreme codes included.
 *
 * Layout: both operands row-major along k (dot-product form, as the codes are stored).
 * A 4 x 4 register tile keeps 16 accumulators of 16 lanes and reads 64 bytes of four
 * rows of X and four of W per step; the k tail is read with a byte mask (W's masked
 * bytes are 0, so X's do not matter). Threads take tiles of TILE_M x TILE_N outputs.
 */
#include <stdlib.h>
#include "quant.h"
#include "quant_internal.h"

#if defined(__x86_64__)
#include <immintrin.h>

#define VNNI_TARGET __attribute__((target("avx512f,avx512bw,avx512vnni")))
#define TILE_M 32
#define TILE_N 64

/* Sum of the 16 int32 lanes, modulo 2^32 (in unsigned arithmetic: wrapping is meant,
 * and _mm512_reduce_add_epi32 is written with signed adds). */
VNNI_TARGET static inline uint32_t lanes_sum(__m512i v)
{
    uint32_t lane[16], s = 0;
    _mm512_storeu_si512((void *)lane, v);
    for (int i = 0; i < 16; i++)
        s += lane[i];
    return s;
}

/* out[i*ldc + j] = sum_p x[i][p] w[j][p] for i < MR, j < NR (MR, NR <= 4, constant
 * where inlined), wsum[j] = sum_p w[j][p]. */
VNNI_TARGET static inline __attribute__((always_inline)) void
tile(const int8_t *x, int64_t ldx, const int8_t *w, int64_t ldw, int64_t k, int mr, int nr,
     const int32_t *wsum, int32_t *out, int64_t ldc)
{
    const __m512i flip = _mm512_set1_epi8((char)0x80);
    __m512i acc[4][4];
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 4; j++)
            acc[i][j] = _mm512_setzero_si512();
    int64_t p = 0;
    for (; p + 64 <= k; p += 64) {
        __m512i a[4], b[4];
        for (int i = 0; i < mr; i++)
            a[i] = _mm512_xor_si512(_mm512_loadu_si512((const void *)(x + i * ldx + p)), flip);
        for (int j = 0; j < nr; j++)
            b[j] = _mm512_loadu_si512((const void *)(w + j * ldw + p));
        for (int i = 0; i < mr; i++)
            for (int j = 0; j < nr; j++)
                acc[i][j] = _mm512_dpbusd_epi32(acc[i][j], a[i], b[j]);
    }
    if (p < k) {
        __mmask64 m = _cvtu64_mask64(~0ull >> (64 - (k - p)));
        __m512i a[4], b[4];
        for (int i = 0; i < mr; i++)
            a[i] = _mm512_xor_si512(_mm512_maskz_loadu_epi8(m, x + i * ldx + p), flip);
        for (int j = 0; j < nr; j++)
            b[j] = _mm512_maskz_loadu_epi8(m, w + j * ldw + p);
        for (int i = 0; i < mr; i++)
            for (int j = 0; j < nr; j++)
                acc[i][j] = _mm512_dpbusd_epi32(acc[i][j], a[i], b[j]);
    }
    for (int i = 0; i < mr; i++)
        for (int j = 0; j < nr; j++)
            out[i * ldc + j] = (int32_t)(lanes_sum(acc[i][j]) - 128u * (uint32_t)wsum[j]);
}

VNNI_TARGET static void tile_any(const int8_t *x, int64_t ldx, const int8_t *w, int64_t ldw, int64_t k,
                                 int mr, int nr, const int32_t *wsum, int32_t *out, int64_t ldc)
{
    tile(x, ldx, w, ldw, k, mr, nr, wsum, out, ldc);
}

VNNI_TARGET static void tile_4x4(const int8_t *x, int64_t ldx, const int8_t *w, int64_t ldw, int64_t k,
                                 const int32_t *wsum, int32_t *out, int64_t ldc)
{
    tile(x, ldx, w, ldw, k, 4, 4, wsum, out, ldc);
}

VNNI_TARGET static void block(const int8_t *x, int64_t ldx, const int8_t *w, int64_t ldw, int64_t m,
                              int64_t n, int64_t k, int64_t i0, int64_t j0, const int32_t *wsum,
                              int32_t *acc, int64_t ldc)
{
    int64_t i1 = i0 + TILE_M < m ? i0 + TILE_M : m, j1 = j0 + TILE_N < n ? j0 + TILE_N : n;
    for (int64_t i = i0; i < i1; i += 4)
        for (int64_t j = j0; j < j1; j += 4) {
            int mr = i1 - i < 4 ? (int)(i1 - i) : 4, nr = j1 - j < 4 ? (int)(j1 - j) : 4;
            if (mr == 4 && nr == 4)
                tile_4x4(x + i * ldx, ldx, w + j * ldw, ldw, k, wsum + j, acc + i * ldc + j, ldc);
            else
                tile_any(x + i * ldx, ldx, w + j * ldw, ldw, k, mr, nr, wsum + j, acc + i * ldc + j, ldc);
        }
}

int quant_have_vnni(void)
{
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512vnni");
}

quant_status quant_i8_gemm_vnni(const int8_t *x, int64_t ldx, const int8_t *w, int64_t ldw, int64_t m,
                                int64_t n, int64_t k, int32_t *acc, int64_t ldc)
{
    if (!quant_have_vnni())
        return QUANT_ERR_UNSUPPORTED;
    int32_t *wsum = malloc((size_t)(n > 0 ? n : 1) * sizeof *wsum);
    if (!wsum)
        return QUANT_ERR_NOMEM;
    for (int64_t j = 0; j < n; j++) {
        uint32_t s = 0;
        for (int64_t p = 0; p < k; p++)
            s += (uint32_t)(int32_t)w[j * ldw + p];
        wsum[j] = (int32_t)s;
    }
    const int64_t bm = (m + TILE_M - 1) / TILE_M, bn = (n + TILE_N - 1) / TILE_N;
    /* Each output is computed by one thread from start to end. */
#pragma omp parallel for collapse(2) schedule(static) if ((double)m * (double)n * (double)k > 1e6)
    for (int64_t a = 0; a < bm; a++)
        for (int64_t b = 0; b < bn; b++)
            block(x, ldx, w, ldw, m, n, k, a * TILE_M, b * TILE_N, wsum, acc, ldc);
    free(wsum);
    return QUANT_OK;
}

#else

int quant_have_vnni(void)
{
    return 0;
}

quant_status quant_i8_gemm_vnni(const int8_t *x, int64_t ldx, const int8_t *w, int64_t ldw, int64_t m,
                                int64_t n, int64_t k, int32_t *acc, int64_t ldc)
{
    (void)x, (void)ldx, (void)w, (void)ldw, (void)m, (void)n, (void)k, (void)acc, (void)ldc;
    return QUANT_ERR_UNSUPPORTED;
}

#endif

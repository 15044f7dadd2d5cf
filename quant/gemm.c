/* gemm.c: the float GEMMs of quant/ (the float64 reference and every float32-accumulated
 * product of a scheme), each with one fixed summation order.
 *
 * Why not BLAS: a BLAS sums the k products in an order that depends on its kernel
 * (OpenBLAS picks one per CPU model; OPENBLAS_CORETYPE changes it), on the thread count
 * and on the shapes' blocking. The sums then differ in their last bits from machine to
 * machine, every error metric moves with them (by about 1e-16 relative on int8 points,
 * 1e-5 on fp16 points, and by its own size on fp32 points, whose error is nothing but
 * that order), and no comparison of two runs could tell a code change from a change of
 * machine. Here the order is part of the definition of the arithmetic, so the same
 * source gives the same bits on any x86-64 machine, at any SIMD width and any thread
 * count (docs/DESIGN.md, "Floating-point model").
 *
 * The order of y[i][j] = sum_p x[i][p] w[j][p]: eight lanes; lane l holds the products
 * p = l, l+8, l+16, ... added in increasing p (the tail p >= 8*floor(k/8) lands in lane
 * p mod 8 too); the lanes are then added as ((l0+l1)+(l2+l3))+((l4+l5)+(l6+l7)). Each
 * product is rounded to the accumulation type before it is added (float32: x*w in
 * float32; float64: the product of two float32 values, which is exact in float64).
 * The code is written with GCC vector extensions, whose element-wise semantics fix the
 * order whatever instructions the compiler picks; the build disables contraction into
 * fused multiply-adds (-ffp-contract=off), which would change the rounding.
 *
 * Threads split the output into tiles; every output is computed by one thread from
 * start to end, so the thread count changes nothing.
 */
#include <stdlib.h>
#include <string.h>
#include "quant.h"
#include "quant_internal.h"

#define LANES 8
#define MR 4       /* register tile: MR rows of x against NR rows of w */
#define NR 4
#define PANEL 64   /* a task: PANEL x PANEL outputs, so its rows of x and w stay in L2 */

typedef float v8f __attribute__((vector_size(LANES * sizeof(float))));
typedef double v8d __attribute__((vector_size(LANES * sizeof(double))));

static inline v8f load8(const float *p)
{
    v8f v;
    memcpy(&v, p, sizeof v);
    return v;
}

static inline float hsum_f(v8f a)
{
    return ((a[0] + a[1]) + (a[2] + a[3])) + ((a[4] + a[5]) + (a[6] + a[7]));
}

static inline double hsum_d(v8d a)
{
    return ((a[0] + a[1]) + (a[2] + a[3])) + ((a[4] + a[5]) + (a[6] + a[7]));
}

/* One output in the fixed order (edge tiles; the tiles below give the same bits). */
static float dot_f32(const float *x, const float *w, int64_t k)
{
    v8f s = {0};
    int64_t p = 0;
    for (; p + LANES <= k; p += LANES)
        s += load8(x + p) * load8(w + p);
    for (int64_t l = 0; p + l < k; l++)
        s[l] += x[p + l] * w[p + l];
    return hsum_f(s);
}

static double dot_f64(const float *x, const float *w, int64_t k)
{
    v8d s = {0};
    int64_t p = 0;
    for (; p + LANES <= k; p += LANES)
        s += __builtin_convertvector(load8(x + p), v8d) * __builtin_convertvector(load8(w + p), v8d);
    for (int64_t l = 0; p + l < k; l++)
        s[l] += (double)x[p + l] * (double)w[p + l];
    return hsum_d(s);
}

/* A full MR x NR tile in float32 accumulation. */
static void tile_f32(const float *x, int64_t ldx, const float *w, int64_t ldw, int64_t k,
                     float *y, int64_t ldy, int accumulate)
{
    v8f s[MR][NR] = {{{0}}};
    int64_t p = 0;
    for (; p + LANES <= k; p += LANES) {
        v8f a[MR], b[NR];
        for (int i = 0; i < MR; i++)
            a[i] = load8(x + i * ldx + p);
        for (int j = 0; j < NR; j++)
            b[j] = load8(w + j * ldw + p);
        for (int i = 0; i < MR; i++)
            for (int j = 0; j < NR; j++)
                s[i][j] += a[i] * b[j];
    }
    for (int i = 0; i < MR; i++)
        for (int j = 0; j < NR; j++) {
            for (int64_t l = 0; p + l < k; l++)
                s[i][j][l] += x[i * ldx + p + l] * w[j * ldw + p + l];
            float v = hsum_f(s[i][j]);
            y[i * ldy + j] = accumulate ? y[i * ldy + j] + v : v;
        }
}

/* A full MR x NR tile in float64 accumulation of float32 operands. */
static void tile_f64(const float *x, int64_t ldx, const float *w, int64_t ldw, int64_t k,
                     double *y, int64_t ldy)
{
    v8d s[MR][NR] = {{{0}}};
    int64_t p = 0;
    for (; p + LANES <= k; p += LANES) {
        v8d a[MR], b[NR];
        for (int i = 0; i < MR; i++)
            a[i] = __builtin_convertvector(load8(x + i * ldx + p), v8d);
        for (int j = 0; j < NR; j++)
            b[j] = __builtin_convertvector(load8(w + j * ldw + p), v8d);
        for (int i = 0; i < MR; i++)
            for (int j = 0; j < NR; j++)
                s[i][j] += a[i] * b[j];
    }
    for (int i = 0; i < MR; i++)
        for (int j = 0; j < NR; j++) {
            for (int64_t l = 0; p + l < k; l++)
                s[i][j][l] += (double)x[i * ldx + p + l] * (double)w[j * ldw + p + l];
            y[i * ldy + j] = hsum_d(s[i][j]);
        }
}

/* The PANEL x PANEL block of outputs starting at (i0, j0). */
static void panel(const float *x, int64_t ldx, const float *w, int64_t ldw, int64_t m, int64_t n,
                  int64_t k, int64_t i0, int64_t j0, float *y32, double *y64, int64_t ldy, int accumulate)
{
    int64_t i1 = i0 + PANEL < m ? i0 + PANEL : m, j1 = j0 + PANEL < n ? j0 + PANEL : n;
    for (int64_t i = i0; i < i1; i += MR)
        for (int64_t j = j0; j < j1; j += NR) {
            const float *xt = x + i * ldx, *wt = w + j * ldw;
            if (i + MR <= i1 && j + NR <= j1) {
                if (y32)
                    tile_f32(xt, ldx, wt, ldw, k, y32 + i * ldy + j, ldy, accumulate);
                else
                    tile_f64(xt, ldx, wt, ldw, k, y64 + i * ldy + j, ldy);
                continue;
            }
            for (int64_t a = i; a < i + MR && a < i1; a++)
                for (int64_t b = j; b < j + NR && b < j1; b++) {
                    const float *xr = x + a * ldx, *wr = w + b * ldw;
                    if (y32) {
                        float v = dot_f32(xr, wr, k);
                        y32[a * ldy + b] = accumulate ? y32[a * ldy + b] + v : v;
                    } else {
                        y64[a * ldy + b] = dot_f64(xr, wr, k);
                    }
                }
        }
}

static void gemm(const float *x, int64_t ldx, const float *w, int64_t ldw, int64_t m, int64_t n,
                 int64_t k, float *y32, double *y64, int64_t ldy, int accumulate)
{
    int64_t pm = (m + PANEL - 1) / PANEL, pn = (n + PANEL - 1) / PANEL;
    /* Below about a million multiply-adds, waking threads costs more than the work. */
#pragma omp parallel for collapse(2) schedule(static) if ((double)m * (double)n * (double)k > 1e6)
    for (int64_t a = 0; a < pm; a++)
        for (int64_t b = 0; b < pn; b++)
            panel(x, ldx, w, ldw, m, n, k, a * PANEL, b * PANEL, y32, y64, ldy, accumulate);
}

void quant_gemm_f32(const float *x, int64_t ldx, const float *w, int64_t ldw, int64_t m,
                    int64_t n, int64_t k, float *y, int64_t ldy, int accumulate)
{
    gemm(x, ldx, w, ldw, m, n, k, y, NULL, ldy, accumulate);
}

void quant_gemm_f64(const float *x, int64_t ldx, const float *w, int64_t ldw, int64_t m,
                    int64_t n, int64_t k, double *y, int64_t ldy)
{
    gemm(x, ldx, w, ldw, m, n, k, NULL, y, ldy, 0);
}

// gemm.cu: the GEMMs of qlab through cuBLASLt: int8 x int8 -> int32 (IMMA), and the
// fp16 / bf16 / fp32 baselines with float32 accumulation.
//
// Layout. qlab's matrices are row-major: X [m,k] (ld k), W [n,k] (ld k), Y [m,n]
// (ld n), Y = X W^T. cuBLASLt is column-major, and a row-major [r,c] matrix with
// stride ld is the column-major [c,r] matrix with the same ld. So, in cuBLASLt's
// terms, with no copy:
//     W  is stored as a column-major [k, n] matrix (ld ldw)
//     X  is stored as a column-major [k, m] matrix (ld ldx)
//     Y  is         a column-major [n, m] matrix (ld ldy)
//   and Y^T = W X^T, i.e.  D[n,m] = op_T(A = W stored [k,n]) * op_N(B = X stored [k,m]).
// That is cuBLASLt's "TN" case with (M, N, K) = (n, m, k), which is the one layout its
// int8 IMMA kernels accept with regular (non-COL32) ordering. Their other rules, as
// the cuBLASLt documentation of cublasLtMatmul states them: pointers 4-byte aligned
// (16 for the fast kernels), leading dimensions of A, B and C multiples of 4, and M
// and K multiples of 4; here that is n % 4, k % 4, ldw, ldx, ldacc % 4.
// qk_gemm_i8_check refuses anything else with the reason; qk_qmatrix pads k to a
// multiple of 16 and the rows to a multiple of 4 with zero codes, which is exact.
//
// Plans (descriptors, layouts and the heuristic's algorithm) are cached per shape in
// the context, so a timed call costs one cublasLtMatmul launch and nothing else.
#include <stdio.h>
#include <string.h>

#include "common.cuh"

enum plan_kind { PLAN_I8 = 0, PLAN_F16, PLAN_BF16, PLAN_F32, PLAN_E4M3 };

struct qk_plan {
    int kind, ydt;
    int64_t m, k, n, ldx, ldw, ldy;
    int align_x, align_w, align_y;
    cublasLtMatmulDesc_t desc;
    cublasLtMatrixLayout_t la, lb, lc;
    cublasLtMatmulAlgo_t algo;
};

static void plan_destroy(qk_plan *p)
{
    if (!p)
        return;
    if (p->desc)
        cublasLtMatmulDescDestroy(p->desc);
    if (p->la)
        cublasLtMatrixLayoutDestroy(p->la);
    if (p->lb)
        cublasLtMatrixLayoutDestroy(p->lb);
    if (p->lc)
        cublasLtMatrixLayoutDestroy(p->lc);
    free(p);
}

void qk_plans_free(qk_ctx *c)
{
    for (int i = 0; i < c->n_plans; i++)
        plan_destroy(c->plans[i]);
    c->n_plans = 0;
}

// Largest power of two (<= 256) dividing the address: what the heuristic may assume.
static int ptr_align(const void *p)
{
    uintptr_t a = (uintptr_t)p;
    int al = 256;
    while (al > 1 && a % (uintptr_t)al)
        al >>= 1;
    return al;
}

static const char *kind_name(int kind)
{
    return kind == PLAN_I8 ? "int8" : kind == PLAN_F16 ? "fp16" : kind == PLAN_BF16 ? "bf16"
         : kind == PLAN_E4M3 ? "fp8 e4m3" : "fp32";
}

// Builds the plan; on error the partly built plan is freed by the caller.
static qk_status plan_build(qk_ctx *c, qk_plan *p)
{
    cudaDataType_t ab, cd, scale;
    cublasComputeType_t compute;
    switch (p->kind) {
    case PLAN_I8: ab = CUDA_R_8I; cd = CUDA_R_32I; compute = CUBLAS_COMPUTE_32I; scale = CUDA_R_32I; break;
    case PLAN_F16: ab = CUDA_R_16F; compute = CUBLAS_COMPUTE_32F; scale = CUDA_R_32F; cd = CUDA_R_32F; break;
    case PLAN_BF16: ab = CUDA_R_16BF; compute = CUBLAS_COMPUTE_32F; scale = CUDA_R_32F; cd = CUDA_R_32F; break;
    case PLAN_E4M3: ab = CUDA_R_8F_E4M3; compute = CUBLAS_COMPUTE_32F; scale = CUDA_R_32F; cd = CUDA_R_32F; break;
    default: ab = CUDA_R_32F; compute = CUBLAS_COMPUTE_32F; scale = CUDA_R_32F; cd = CUDA_R_32F; break;
    }
    if (p->kind != PLAN_I8 && p->kind != PLAN_E4M3)
        cd = p->ydt == QK_DTYPE_F16 ? CUDA_R_16F : p->ydt == QK_DTYPE_BF16 ? CUDA_R_16BF : CUDA_R_32F;
    QK_CUBLAS_CHECK(c, cublasLtMatmulDescCreate(&p->desc, compute, scale));
    const cublasOperation_t ta = CUBLAS_OP_T, tb = CUBLAS_OP_N;
    QK_CUBLAS_CHECK(c, cublasLtMatmulDescSetAttribute(p->desc, CUBLASLT_MATMUL_DESC_TRANSA, &ta, sizeof ta));
    QK_CUBLAS_CHECK(c, cublasLtMatmulDescSetAttribute(p->desc, CUBLASLT_MATMUL_DESC_TRANSB, &tb, sizeof tb));
    if (p->kind == PLAN_E4M3) {
        // Fast accumulation off: cuBLASLt then promotes the tensor cores' partial
        // sums (about 14 mantissa bits on Hopper) to fp32 every few k-tiles instead
        // of accumulating whole dot products in them. Not full fp32 accumulation:
        // Y stays within about 1e-3 of max|Y| of quant/'s float sums (the GPU tests'
        // tolerance for this path), not the 1e-5 of the int8 and fp16 paths.
        const int8_t fast = 0;
        QK_CUBLAS_CHECK(c, cublasLtMatmulDescSetAttribute(p->desc, CUBLASLT_MATMUL_DESC_FAST_ACCUM, &fast, sizeof fast));
    }
    // A = W stored column-major [k, n]; B = X stored column-major [k, m]; C = D = Y^T [n, m].
    QK_CUBLAS_CHECK(c, cublasLtMatrixLayoutCreate(&p->la, ab, (uint64_t)p->k, (uint64_t)p->n, p->ldw));
    QK_CUBLAS_CHECK(c, cublasLtMatrixLayoutCreate(&p->lb, ab, (uint64_t)p->k, (uint64_t)p->m, p->ldx));
    QK_CUBLAS_CHECK(c, cublasLtMatrixLayoutCreate(&p->lc, cd, (uint64_t)p->n, (uint64_t)p->m, p->ldy));

    cublasLtMatmulPreference_t pref = NULL;
    QK_CUBLAS_CHECK(c, cublasLtMatmulPreferenceCreate(&pref));
    uint64_t ws = c->workspace_bytes;
    uint32_t ax = (uint32_t)p->align_x, aw = (uint32_t)p->align_w, ay = (uint32_t)p->align_y;
    cublasStatus_t s = cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &ws, sizeof ws);
    if (s == CUBLAS_STATUS_SUCCESS)
        s = cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, &aw, sizeof aw);
    if (s == CUBLAS_STATUS_SUCCESS)
        s = cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES, &ax, sizeof ax);
    if (s == CUBLAS_STATUS_SUCCESS)
        s = cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, &ay, sizeof ay);
    if (s == CUBLAS_STATUS_SUCCESS)
        s = cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES, &ay, sizeof ay);
    cublasLtMatmulHeuristicResult_t res;
    int found = 0;
    if (s == CUBLAS_STATUS_SUCCESS)
        s = cublasLtMatmulAlgoGetHeuristic(c->lt, p->desc, p->la, p->lb, p->lc, p->lc, pref, 1, &res, &found);
    cublasLtMatmulPreferenceDestroy(pref);
    if (s != CUBLAS_STATUS_SUCCESS)
        return qk_fail(c, QK_ERR_CUBLAS, __FILE__, __LINE__, "cuBLASLt heuristic for %s GEMM m=%lld k=%lld n=%lld: %s",
                       kind_name(p->kind),
                       (long long)p->m, (long long)p->k, (long long)p->n, cublasLtGetStatusString(s));
    if (found == 0)
        return qk_fail(c, QK_ERR_CUBLAS, __FILE__, __LINE__,
                       "cuBLASLt has no algorithm for this %s GEMM (m=%lld k=%lld n=%lld, ld %lld/%lld/%lld; "
                       "heuristic status %s, 0 algorithms)",
                       kind_name(p->kind), (long long)p->m, (long long)p->k, (long long)p->n, (long long)p->ldx,
                       (long long)p->ldw, (long long)p->ldy, cublasLtGetStatusString(s));
    p->algo = res.algo;
    return QK_OK;
}

static qk_status plan_get(qk_ctx *c, int kind, int ydt, int64_t m, int64_t k, int64_t n, int64_t ldx,
                          int64_t ldw, int64_t ldy, const void *x, const void *w, const void *y, qk_plan **out)
{
    const int ax = ptr_align(x), aw = ptr_align(w), ay = ptr_align(y);
    for (int i = 0; i < c->n_plans; i++) {
        qk_plan *p = c->plans[i];
        if (p->kind == kind && p->ydt == ydt && p->m == m && p->k == k && p->n == n && p->ldx == ldx &&
            p->ldw == ldw && p->ldy == ldy && p->align_x == ax && p->align_w == aw && p->align_y == ay) {
            *out = p;
            return QK_OK;
        }
    }
    qk_plan *p = (qk_plan *)calloc(1, sizeof *p);
    if (!p)
        return qk_fail(c, QK_ERR_NOMEM, __FILE__, __LINE__, "out of host memory");
    p->kind = kind;
    p->ydt = ydt;
    p->m = m;
    p->k = k;
    p->n = n;
    p->ldx = ldx;
    p->ldw = ldw;
    p->ldy = ldy;
    p->align_x = ax;
    p->align_w = aw;
    p->align_y = ay;
    qk_status st = plan_build(c, p);
    if (st != QK_OK) {
        plan_destroy(p);
        return st;
    }
    if (c->n_plans == QK_PLAN_CACHE) {   // full: drop the oldest
        plan_destroy(c->plans[0]);
        memmove(c->plans, c->plans + 1, (QK_PLAN_CACHE - 1) * sizeof c->plans[0]);
        c->n_plans--;
    }
    c->plans[c->n_plans++] = p;
    *out = p;
    return QK_OK;
}

// ------------------------------------------------------------------------------
// int8

extern "C" qk_status qk_gemm_i8_check(int64_t m, int64_t k, int64_t n, int64_t ldx, int64_t ldw, int64_t ldacc,
                                      const void *d_x, const void *d_w, const void *d_acc, char *why,
                                      size_t why_len)
{
#define REFUSE(...)                                   \
    do {                                              \
        if (why && why_len)                           \
            snprintf(why, why_len, __VA_ARGS__);      \
        return QK_ERR_ALIGN;                          \
    } while (0)
    if (m <= 0 || k <= 0 || n <= 0)
        REFUSE("int8 GEMM: sizes must be positive (m=%lld k=%lld n=%lld)", (long long)m, (long long)k, (long long)n);
    if (k % 4)
        REFUSE("int8 GEMM: k = %lld is not a multiple of 4, which cuBLASLt's IMMA kernels require; "
               "pad k with zero codes (qk_qmatrix does, to a multiple of 16)", (long long)k);
    if (n % 4)
        REFUSE("int8 GEMM: n = %lld is not a multiple of 4 (IMMA needs the M of its TN problem, qlab's n, "
               "to be); pad W with zero rows (qk_qmatrix does)", (long long)n);
    if (ldx < k || ldw < k || ldacc < n)
        REFUSE("int8 GEMM: leading dimensions too small (ldx=%lld ldw=%lld must be >= k=%lld, ldacc=%lld >= n=%lld)",
               (long long)ldx, (long long)ldw, (long long)k, (long long)ldacc, (long long)n);
    if (ldx % 4 || ldw % 4 || ldacc % 4)
        REFUSE("int8 GEMM: leading dimensions must be multiples of 4 (ldx=%lld ldw=%lld ldacc=%lld)",
               (long long)ldx, (long long)ldw, (long long)ldacc);
    if ((uintptr_t)d_x % 4 || (uintptr_t)d_w % 4 || (uintptr_t)d_acc % 4)
        REFUSE("int8 GEMM: operand pointers must be 4-byte aligned");
    if (k > 131071)
        REFUSE("int8 GEMM: k = %lld > 131071, int32 accumulation could overflow (quant/ refuses it too)",
               (long long)k);
    return QK_OK;
#undef REFUSE
}

extern "C" qk_status qk_gemm_i8(qk_ctx *c, const int8_t *d_x, int64_t ldx, const int8_t *d_w, int64_t ldw,
                                int32_t *d_acc, int64_t ldacc, int64_t m, int64_t k, int64_t n)
{
    QK_ARG_CHECK(c, d_x && d_w && d_acc);
    char why[256];
    if (qk_gemm_i8_check(m, k, n, ldx, ldw, ldacc, d_x, d_w, d_acc, why, sizeof why) != QK_OK)
        return qk_fail(c, QK_ERR_ALIGN, __FILE__, __LINE__, "%s", why);
    qk_plan *p = NULL;
    qk_status st = plan_get(c, PLAN_I8, -1, m, k, n, ldx, ldw, ldacc, d_x, d_w, d_acc, &p);
    if (st != QK_OK)
        return st;
    const int32_t alpha = 1, beta = 0;
    QK_CUBLAS_CHECK(c, cublasLtMatmul(c->lt, p->desc, &alpha, d_w, p->la, d_x, p->lb, &beta, d_acc, p->lc, d_acc,
                                      p->lc, &p->algo, c->d_workspace, c->workspace_bytes, c->stream));
    return QK_OK;
}

// ------------------------------------------------------------------------------
// Float GEMMs

extern "C" qk_status qk_gemm_float(qk_ctx *c, qk_dtype ab, const void *d_x, int64_t ldx, const void *d_w,
                                   int64_t ldw, void *d_y, qk_dtype ydt, int64_t ldy, int64_t m, int64_t k,
                                   int64_t n, float alpha, float beta)
{
    QK_ARG_CHECK(c, d_x && d_w && d_y && m > 0 && k > 0 && n > 0 && ldx >= k && ldw >= k && ldy >= n);
    int kind;
    switch (ab) {
    case QK_DTYPE_F16: kind = PLAN_F16; break;
    case QK_DTYPE_BF16: kind = PLAN_BF16; break;
    case QK_DTYPE_F32: kind = PLAN_F32; break;
    default: return qk_fail(c, QK_ERR_ARG, __FILE__, __LINE__, "unknown operand dtype %d", (int)ab);
    }
    if (!(ydt == QK_DTYPE_F32 || ydt == ab))
        return qk_fail(c, QK_ERR_UNSUPPORTED, __FILE__, __LINE__, "%s GEMM with %s output: use %s or fp32 output",
                       qk_dtype_name(ab), qk_dtype_name(ydt), qk_dtype_name(ab));
    qk_plan *p = NULL;
    qk_status st = plan_get(c, kind, (int)ydt, m, k, n, ldx, ldw, ldy, d_x, d_w, d_y, &p);
    if (st != QK_OK)
        return st;
    QK_CUBLAS_CHECK(c, cublasLtMatmul(c->lt, p->desc, &alpha, d_w, p->la, d_x, p->lb, &beta, d_y, p->lc, d_y, p->lc,
                                      &p->algo, c->d_workspace, c->workspace_bytes, c->stream));
    return QK_OK;
}

// ------------------------------------------------------------------------------
// fp8

extern "C" int qk_fp8_gemm_supported(qk_ctx *c, char *why, size_t why_len)
{
    int major = 0, minor = 0;
    if (!c || cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, c->device) != cudaSuccess ||
        cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, c->device) != cudaSuccess) {
        if (why && why_len)
            snprintf(why, why_len, "cannot read the device's compute capability");
        return 0;
    }
    if (major * 10 + minor < 89) {
        if (why && why_len)
            snprintf(why, why_len, "compute capability %d.%d has no fp8 tensor cores (8.9 and later do)", major, minor);
        return 0;
    }
    return 1;
}

extern "C" qk_status qk_gemm_fp8(qk_ctx *c, const uint8_t *d_x, int64_t ldx, const uint8_t *d_w, int64_t ldw,
                                 float *d_acc, int64_t ldacc, int64_t m, int64_t k, int64_t n)
{
    QK_ARG_CHECK(c, d_x && d_w && d_acc && m > 0 && k > 0 && n > 0 && ldx >= k && ldw >= k && ldacc >= n);
    char why[200];
    if (!qk_fp8_gemm_supported(c, why, sizeof why))
        return qk_fail(c, QK_ERR_UNSUPPORTED, __FILE__, __LINE__, "fp8 GEMM: %s", why);
    // cuBLASLt's fp8 rules (cublasLtMatmul documentation): the TN layout (which is
    // how qlab always calls it), 16-byte aligned pointers, leading dimensions and k
    // multiples of 16.
    if (k % 16 || ldx % 16 || ldw % 16 || ldacc % 4 || n % 16)
        return qk_fail(c, QK_ERR_ALIGN, __FILE__, __LINE__,
                       "fp8 GEMM: k=%lld, n=%lld, ldx=%lld and ldw=%lld must be multiples of 16 (ldacc=%lld of 4); "
                       "pad with zero codes", (long long)k, (long long)n, (long long)ldx, (long long)ldw,
                       (long long)ldacc);
    if ((uintptr_t)d_x % 16 || (uintptr_t)d_w % 16 || (uintptr_t)d_acc % 16)
        return qk_fail(c, QK_ERR_ALIGN, __FILE__, __LINE__, "fp8 GEMM: operand pointers must be 16-byte aligned");
    qk_plan *p = NULL;
    qk_status st = plan_get(c, PLAN_E4M3, -1, m, k, n, ldx, ldw, ldacc, d_x, d_w, d_acc, &p);
    if (st != QK_OK)
        return st;
    const float alpha = 1.0f, beta = 0.0f;
    QK_CUBLAS_CHECK(c, cublasLtMatmul(c->lt, p->desc, &alpha, d_w, p->la, d_x, p->lb, &beta, d_acc, p->lc, d_acc,
                                      p->lc, &p->algo, c->d_workspace, c->workspace_bytes, c->stream));
    return QK_OK;
}

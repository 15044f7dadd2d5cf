// llm_int8.cu: the quantized linear layer as one call: vector-wise (or tensor-wise)
// int8 with the LLM.int8() outlier decomposition, each stage timed with CUDA events.
//
// Forward, on the context's stream:
//   quantize_x    outlier flags of X (threshold t), sorted outlier index list and its
//                 count, X quantized with the outlier columns read as 0 (+ row sums);
//                 the count is copied to pinned host memory behind an event
//   gemm_i8       cuBLASLt int8 GEMM of the padded codes -> int32 [m, n] (m padded with zero
//                 rows when cuBLASLt refuses few rows: int8_gemm_rows)
//   outlier_gemm  the host waits for the count only (the int8 GEMM keeps the GPU
//                 busy meanwhile), gathers X[:,O] and W[:,O] into compact fp16
//                 buffers and multiplies them in fp16 with float32 accumulation
//   dequant       the epilogue: scales, zeropoint corrections, + outlier product + bias
// The semantics are quant_matmul_scheme's: W quantized over all its columns (offline,
// in qk_linear_create), X's outlier columns zeroed before X is quantized, and the
// outlier columns of W taken in fp16 from the float W (`fp16`) or from the
// dequantized int8 W rounded to fp16 (`dequant`).
//
// The fp8 schemes (e4m3, e5m2) take the same path with fp8 codes (fp8.cu): X and W
// quantized with float32 scales per tensor or per row, then the low-precision GEMM
// (stage "gemm_i8" in qk_linear_times, named gemm_fp8 by the backend) into float32,
// the same outlier GEMM, and an epilogue that divides by sx_i sw_j. The GEMM is
// cuBLASLt's e4m3 GEMM where the device has one; otherwise (e5m2, or compute
// capability < 8.9) the codes are widened to fp16, exactly, and multiplied by the fp16
// GEMM (qk_linear_fp8_native says which ran).
#include <stdio.h>
#include <string.h>

#include <algorithm>

#include "common.cuh"

enum { EV_START = 0, EV_QUANT, EV_GEMM, EV_OUTLIER, EV_END, EV_COUNT_READY, EV_N };

struct qk_linear {
    qk_linear_opts o;
    int64_t m, k, n;
    qk_qmatrix qw, qx;
    int32_t *d_acc;          // [gemm_m, ldacc], ldacc = qw.rows_alloc (multiple of 4)
    int64_t ldacc;
    int64_t gemm_m;          // rows the int8 GEMM multiplies: m, or m padded with zero rows (int8_gemm_rows)
    char note[QK_ERR_LEN];   // why the GEMM is not the plain one (padding, fp8 widened), else ""
    uint8_t *d_flags;        // [k]
    int32_t *d_idx;          // [k]
    int32_t *d_count;        // 1
    __half *d_w16;           // [n, k] fp16 copy of W (fp16 outlier weights only)
    __half *d_xo, *d_wo;     // compact outlier columns [m, cap], [n, cap]
    int64_t cap;             // columns the compact buffers hold
    float *d_yo;             // [m, n] outlier product
    int64_t last_outliers;
    cudaEvent_t ev[EV_N];
    // fp8 schemes only
    bool fp8, native;        // fp8 scheme; cuBLASLt e4m3 GEMM (else widened fp16 GEMM)
    int64_t ldk;             // row stride of codes: k rounded up to 16
    int64_t n_alloc;         // W rows rounded up to 16 (zero codes)
    uint8_t *d_cx, *d_cw;    // codes [m, ldk], [n_alloc, ldk]
    float *d_sx, *d_sw;      // scales [1 or m], [1 or n]
    float *d_scratch;        // row maxima [max(m, n)]
    __half *d_x16w, *d_w16w; // widened codes [m, ldk], [n_alloc, ldk] (widened path)
    float *d_accf;           // [m, n_alloc]
};

static bool x_per_row(const qk_linear *l) { return l->o.x_gran != QUANT_GRAN_TENSOR; }
static bool w_per_row(const qk_linear *l) { return l->o.w_gran != QUANT_GRAN_TENSOR; }

static bool decomposes(const qk_linear *l) { return l->o.threshold > 0.0f; }

extern "C" void qk_linear_free(qk_ctx *c, qk_linear *l)
{
    if (!l)
        return;
    if (c && c->stream)
        cudaStreamSynchronize(c->stream);
    qk_qmatrix_free(c, &l->qw);
    qk_qmatrix_free(c, &l->qx);
    qk_free(c, l->d_acc);
    qk_free(c, l->d_flags);
    qk_free(c, l->d_idx);
    qk_free(c, l->d_count);
    qk_free(c, l->d_w16);
    qk_free(c, l->d_xo);
    qk_free(c, l->d_wo);
    qk_free(c, l->d_yo);
    qk_free(c, l->d_cx);
    qk_free(c, l->d_cw);
    qk_free(c, l->d_sx);
    qk_free(c, l->d_sw);
    qk_free(c, l->d_scratch);
    qk_free(c, l->d_x16w);
    qk_free(c, l->d_w16w);
    qk_free(c, l->d_accf);
    for (int i = 0; i < EV_N; i++)
        if (l->ev[i])
            cudaEventDestroy(l->ev[i]);
    free(l);
}

// fp8 buffers and W's codes (zeroed first, so the padding rows and columns are code 0).
static qk_status fp8_init(qk_ctx *c, qk_linear *l, const float *d_w)
{
    const int64_t m = l->m, k = l->k, n = l->n;
    l->ldk = qk_round_up(k, 16);
    l->n_alloc = qk_round_up(n, 16);
    l->ldacc = l->n_alloc;
    char why[200] = "";
    l->native = l->o.scheme == QUANT_SCHEME_FP8_E4M3 && qk_fp8_gemm_supported(c, why, sizeof why);
    if (l->o.scheme == QUANT_SCHEME_FP8_E5M2)
        snprintf(l->note, sizeof l->note, "fp8 GEMM widened to fp16: cuBLASLt has no e5m2 x e5m2 GEMM");
    else if (!l->native)
        snprintf(l->note, sizeof l->note, "fp8 GEMM widened to fp16: %s", why);
    qk_status st = qk_malloc(c, (void **)&l->d_cx, (size_t)(m * l->ldk));
    if (st == QK_OK)
        st = qk_malloc(c, (void **)&l->d_cw, (size_t)(l->n_alloc * l->ldk));
    if (st == QK_OK)
        st = qk_malloc(c, (void **)&l->d_sx, (size_t)m * sizeof(float));
    if (st == QK_OK)
        st = qk_malloc(c, (void **)&l->d_sw, (size_t)n * sizeof(float));
    if (st == QK_OK)
        st = qk_malloc(c, (void **)&l->d_scratch, (size_t)(m > n ? m : n) * sizeof(float));
    if (st == QK_OK)
        st = qk_malloc(c, (void **)&l->d_accf, (size_t)(m * l->ldacc) * sizeof(float));
    if (st != QK_OK)
        return st;
    QK_CUDA_CHECK(c, cudaMemsetAsync(l->d_cw, 0, (size_t)(l->n_alloc * l->ldk), c->stream));
    QK_CUDA_CHECK(c, cudaMemsetAsync(l->d_cx, 0, (size_t)(m * l->ldk), c->stream));
    // cuBLASLt may have no fp8 algorithm for a shape (or an fp8 GEMM with float32
    // output at all, in some versions): one untimed call on zero codes finds out and
    // builds the plan; without one the layer takes the widened path, and says so
    // through qk_linear_fp8_native.
    if (l->native && qk_gemm_fp8(c, l->d_cx, l->ldk, l->d_cw, l->ldk, l->d_accf, l->ldacc, m, l->ldk, l->n_alloc) != QK_OK) {
        l->native = false;
        snprintf(l->note, sizeof l->note, "fp8 GEMM widened to fp16: cuBLASLt refused e4m3 (%s)", qk_ctx_error(c));
    }
    st = qk_fp8_quantize(c, l->o.scheme, l->o.w_gran, d_w, QK_DTYPE_F32, k, n, k, NULL, l->d_scratch, l->d_cw,
                         l->ldk, l->d_sw, NULL);
    if (st == QK_OK && !l->native) {
        st = qk_malloc(c, (void **)&l->d_x16w, (size_t)(m * l->ldk) * sizeof(__half));
        if (st == QK_OK)
            st = qk_malloc(c, (void **)&l->d_w16w, (size_t)(l->n_alloc * l->ldk) * sizeof(__half));
        if (st == QK_OK)
            st = qk_fp8_widen_f16(c, l->o.scheme, l->d_cw, l->n_alloc * l->ldk, l->d_w16w);
    }
    return st;
}

// cuBLASLt's int8 GEMM may have no algorithm for a few rows (PyTorch's int8 matmul
// refuses m <= 16 and pads to 32). One untimed call on X's zero codes finds out; on a
// refusal X's codes and the accumulator get zero rows up to the first row count
// cuBLASLt runs (m rounded up to 8, 16, 32, then 64 and 128). A zero row of codes
// adds nothing and the epilogue reads the first m rows only, so Y is exact as before;
// the note says what happened, with cuBLASLt's message.
static qk_status int8_gemm_rows(qk_ctx *c, qk_linear *l)
{
    const int64_t m = l->m, k = l->qx.ld, n = l->qw.rows_alloc;
    l->gemm_m = m;
    qk_status st = qk_gemm_i8(c, l->qx.d_codes, l->qx.ld, l->qw.d_codes, l->qw.ld, l->d_acc, l->ldacc, m, k, n);
    if (st != QK_ERR_CUBLAS)
        return st;
    char first[QK_ERR_LEN / 2];   // the note and the failure message both hold it
    snprintf(first, sizeof first, "%s", qk_ctx_error(c));
    const int64_t tries[] = { qk_round_up(m, 8), qk_round_up(m, 16), qk_round_up(m, 32), qk_round_up(m, 64),
                              qk_round_up(m, 128) };
    int64_t last = m;
    for (size_t i = 0; i < sizeof tries / sizeof tries[0]; i++) {
        const int64_t p = tries[i];
        if (p <= last)
            continue;
        last = p;
        qk_free(c, l->qx.d_codes);
        qk_free(c, l->d_acc);
        l->qx.d_codes = NULL;
        l->d_acc = NULL;
        st = qk_malloc(c, (void **)&l->qx.d_codes, (size_t)(p * l->qx.ld));
        if (st == QK_OK)
            st = qk_malloc(c, (void **)&l->d_acc, (size_t)(p * l->ldacc) * sizeof(int32_t));
        if (st != QK_OK)
            return st;
        QK_CUDA_CHECK(c, cudaMemsetAsync(l->qx.d_codes, 0, (size_t)(p * l->qx.ld), c->stream));
        l->qx.rows_alloc = p;
        st = qk_gemm_i8(c, l->qx.d_codes, l->qx.ld, l->qw.d_codes, l->qw.ld, l->d_acc, l->ldacc, p, k, n);
        if (st == QK_OK) {
            l->gemm_m = p;
            snprintf(l->note, sizeof l->note, "int8 GEMM padded to m=%lld with zero rows: cuBLASLt refused m=%lld (%s)",
                     (long long)p, (long long)m, first);
            return QK_OK;
        }
        if (st != QK_ERR_CUBLAS)
            return st;
    }
    return qk_fail(c, QK_ERR_CUBLAS, __FILE__, __LINE__,
                   "int8 GEMM: cuBLASLt refused m=%lld (%s) and every padded row count up to %lld",
                   (long long)m, first, (long long)last);
}

static qk_status linear_init(qk_ctx *c, qk_linear *l, const float *d_w)
{
    const qk_linear_opts *o = &l->o;
    qk_status st = QK_OK;
    if (l->fp8) {
        st = fp8_init(c, l, d_w);
    } else {
        st = qk_qmatrix_init(c, &l->qw, o->scheme, o->w_gran, l->n, l->k, o->block);
        if (st == QK_OK)
            st = qk_qmatrix_init(c, &l->qx, o->scheme, o->x_gran, l->m, l->k, o->block);
        if (st == QK_OK)
            st = qk_quantize(c, d_w, QK_DTYPE_F32, l->k, NULL, &l->qw);
        l->ldacc = l->qw.rows_alloc;
        if (st == QK_OK)
            st = qk_malloc(c, (void **)&l->d_acc, (size_t)(l->m * l->ldacc) * sizeof(int32_t));
        if (st == QK_OK)
            st = int8_gemm_rows(c, l);
    }
    if (st == QK_OK)
        st = qk_malloc(c, (void **)&l->d_flags, (size_t)l->k);
    if (st == QK_OK)
        st = qk_malloc(c, (void **)&l->d_idx, (size_t)l->k * sizeof(int32_t));
    if (st == QK_OK)
        st = qk_malloc(c, (void **)&l->d_count, sizeof(int32_t));
    // No column is an outlier until a forward with a threshold says so; a layer
    // without one never touches these again (no memsets in its timed quantize_x).
    if (st == QK_OK && (cudaMemsetAsync(l->d_flags, 0, (size_t)l->k, c->stream) != cudaSuccess ||
                        cudaMemsetAsync(l->d_count, 0, sizeof(int32_t), c->stream) != cudaSuccess))
        st = qk_fail(c, QK_ERR_CUDA, __FILE__, __LINE__, "clearing the outlier flags");
    if (st == QK_OK && decomposes(l)) {
        st = qk_malloc(c, (void **)&l->d_yo, (size_t)(l->m * l->n) * sizeof(float));
        if (st == QK_OK && o->outlier_weights == QUANT_OUTLIER_FP16) {
            st = qk_malloc(c, (void **)&l->d_w16, (size_t)(l->n * l->k) * sizeof(__half));
            if (st == QK_OK)
                st = qk_convert(c, d_w, l->n, l->k, l->k, l->d_w16, QK_DTYPE_F16, l->k);
        }
    }
    for (int i = 0; st == QK_OK && i < EV_N; i++) {
        // The count-ready event is only waited on: no timing, so it is cheaper.
        cudaError_t e = cudaEventCreateWithFlags(&l->ev[i], i == EV_COUNT_READY ? cudaEventDisableTiming
                                                                               : cudaEventDefault);
        if (e != cudaSuccess)
            st = qk_fail(c, QK_ERR_CUDA, __FILE__, __LINE__, "cudaEventCreate: %s", cudaGetErrorString(e));
    }
    if (st == QK_OK)
        st = qk_ctx_sync(c);
    return st;
}

extern "C" qk_status qk_linear_create(qk_ctx *c, const qk_linear_opts *o, const float *d_w, int64_t m, int64_t k,
                                      int64_t n, qk_linear **out)
{
    QK_ARG_CHECK(c, o && d_w && out && m > 0 && k > 0 && n > 0);
    *out = NULL;
    const bool fp8 = o->scheme == QUANT_SCHEME_FP8_E4M3 || o->scheme == QUANT_SCHEME_FP8_E5M2;
    if (o->scheme != QUANT_SCHEME_ABSMAX && o->scheme != QUANT_SCHEME_ZEROPOINT && !fp8)
        return qk_fail(c, QK_ERR_UNSUPPORTED, __FILE__, __LINE__,
                       "qk_linear: scheme %d is neither an int8 nor an fp8 scheme", (int)o->scheme);
    if (o->x_gran != QUANT_GRAN_TENSOR && o->x_gran != QUANT_GRAN_ROW)
        return qk_fail(c, QK_ERR_UNSUPPORTED, __FILE__, __LINE__,
                       "X granularity %s has no GPU matmul (tensor and row do); block granularity needs "
                       "per-block partial products that the cuBLASLt path does not compute",
                       o->x_gran == QUANT_GRAN_BLOCK ? "block" : "channel");
    if (o->w_gran != QUANT_GRAN_TENSOR && o->w_gran != QUANT_GRAN_CHANNEL && o->w_gran != QUANT_GRAN_ROW)
        return qk_fail(c, QK_ERR_UNSUPPORTED, __FILE__, __LINE__,
                       "W granularity block has no GPU matmul (tensor and channel do); its per-block "
                       "partial products need a k-split GEMM that qlab does not have yet");
    if (o->threshold > 0.0f && o->outlier_weights != QUANT_OUTLIER_FP16 && o->outlier_weights != QUANT_OUTLIER_DEQUANT)
        return qk_fail(c, QK_ERR_ARG, __FILE__, __LINE__, "unknown outlier_weights %d", (int)o->outlier_weights);
    if (!fp8 && k > 131071)
        return qk_fail(c, QK_ERR_ALIGN, __FILE__, __LINE__,
                       "k = %lld > 131071: int32 accumulation could overflow", (long long)k);
    qk_linear *l = (qk_linear *)calloc(1, sizeof *l);
    if (!l)
        return qk_fail(c, QK_ERR_NOMEM, __FILE__, __LINE__, "out of host memory");
    l->o = *o;
    l->fp8 = fp8;
    l->m = m;
    l->k = k;
    l->n = n;
    qk_status st = linear_init(c, l, d_w);
    if (st != QK_OK) {
        qk_linear_free(c, l);
        return st;
    }
    *out = l;
    return QK_OK;
}

// Grows the compact outlier buffers to hold `cols` columns. Allocation synchronizes
// the device, so it belongs in warm-up: the timed runs repeat the same X and find the
// buffers big enough.
static qk_status ensure_capacity(qk_ctx *c, qk_linear *l, int64_t cols)
{
    if (cols <= l->cap)
        return QK_OK;
    const int64_t cap = std::min(qk_round_up(cols, 64), qk_round_up(l->k, 8));
    qk_free(c, l->d_xo);
    qk_free(c, l->d_wo);
    l->d_xo = l->d_wo = NULL;
    l->cap = 0;
    qk_status st = qk_malloc(c, (void **)&l->d_xo, (size_t)(l->m * cap) * sizeof(__half));
    if (st == QK_OK)
        st = qk_malloc(c, (void **)&l->d_wo, (size_t)(l->n * cap) * sizeof(__half));
    if (st == QK_OK)
        l->cap = cap;
    return st;
}

#define MARK(i)                                                            \
    do {                                                                   \
        if (times)                                                         \
            QK_CUDA_CHECK(c, cudaEventRecord(l->ev[(i)], c->stream));      \
    } while (0)

#define TRY(call)                      \
    do {                               \
        qk_status st_ = (call);        \
        if (st_ != QK_OK)              \
            return st_;                \
    } while (0)

extern "C" qk_status qk_linear_forward(qk_ctx *c, qk_linear *l, const void *d_x, qk_dtype xdt, int64_t ldx,
                                       const float *d_bias, void *d_y, qk_dtype ydt, int64_t ldy,
                                       qk_linear_times *times)
{
    QK_ARG_CHECK(c, l && d_x && d_y && ldx >= l->k && ldy >= l->n);
    const bool dec = decomposes(l);
    MARK(EV_START);

    // quantize_x
    if (l->fp8) {
        if (dec)
            TRY(qk_outlier_cols(c, d_x, xdt, l->m, l->k, ldx, l->o.threshold, l->d_flags, l->d_idx, l->d_count));
        // the widened path gets X's fp16 codes from the same pass
        TRY(qk_fp8_quantize(c, l->o.scheme, l->o.x_gran, d_x, xdt, ldx, l->m, l->k, dec ? l->d_flags : NULL, l->d_scratch,
                            l->d_cx, l->ldk, l->d_sx, l->native ? NULL : l->d_x16w));
    } else {
        TRY(qk_quantize_x(c, d_x, xdt, ldx, l->o.threshold, dec ? l->d_flags : NULL, l->d_idx,
                          dec ? l->d_count : NULL, &l->qx));
    }
    if (dec) {
        QK_CUDA_CHECK(c, cudaMemcpyAsync(c->h_pinned, l->d_count, sizeof(int32_t), cudaMemcpyDeviceToHost,
                                         c->stream));
        QK_CUDA_CHECK(c, cudaEventRecord(l->ev[EV_COUNT_READY], c->stream));
    }
    MARK(EV_QUANT);

    // gemm_i8 over the padded codes: k = ld (multiple of 16), n = rows_alloc (of 4)
    if (!l->fp8)
        TRY(qk_gemm_i8(c, l->qx.d_codes, l->qx.ld, l->qw.d_codes, l->qw.ld, l->d_acc, l->ldacc, l->gemm_m, l->qx.ld,
                       l->qw.rows_alloc));
    else if (l->native)
        TRY(qk_gemm_fp8(c, l->d_cx, l->ldk, l->d_cw, l->ldk, l->d_accf, l->ldacc, l->m, l->ldk, l->n_alloc));
    else
        TRY(qk_gemm_float(c, QK_DTYPE_F16, l->d_x16w, l->ldk, l->d_w16w, l->ldk, l->d_accf, QK_DTYPE_F32, l->ldacc,
                          l->m, l->ldk, l->n_alloc, 1.0f, 0.0f));
    MARK(EV_GEMM);

    // outlier_gemm
    int64_t no = 0;
    if (dec) {
        QK_CUDA_CHECK(c, cudaEventSynchronize(l->ev[EV_COUNT_READY]));
        no = *c->h_pinned;
        if (no < 0 || no > l->k)
            return qk_fail(c, QK_ERR_CUDA, __FILE__, __LINE__, "outlier count %lld out of range", (long long)no);
    }
    l->last_outliers = no;
    if (no > 0) {
        TRY(ensure_capacity(c, l, no));
        // Zero-padded to a multiple of 8 halves (16 bytes): the tensor-core path's
        // alignment; the zero columns add exact zeros.
        const int64_t ldo = qk_round_up(no, 8);
        TRY(qk_gather_cols_f16(c, d_x, xdt, l->m, ldx, l->d_idx, no, l->d_xo, ldo));
        if (l->o.outlier_weights == QUANT_OUTLIER_FP16)
            TRY(qk_gather_cols_f16(c, l->d_w16, QK_DTYPE_F16, l->n, l->k, l->d_idx, no, l->d_wo, ldo));
        else if (l->fp8)
            TRY(qk_fp8_gather_dequant_f16(c, l->o.scheme, l->d_cw, l->ldk, l->n, l->d_sw, w_per_row(l), l->d_idx, no,
                                          l->d_wo, ldo));
        else
            TRY(qk_gather_cols_dequant_f16(c, &l->qw, l->d_idx, no, l->d_wo, ldo));
        TRY(qk_gemm_float(c, QK_DTYPE_F16, l->d_xo, ldo, l->d_wo, ldo, l->d_yo, QK_DTYPE_F32, l->n, l->m, ldo,
                          l->n, 1.0f, 0.0f));
    }
    MARK(EV_OUTLIER);

    // dequant
    if (l->fp8)
        TRY(qk_fp8_epilogue(c, l->d_accf, l->ldacc, l->m, l->n, l->d_sx, x_per_row(l), l->d_sw, w_per_row(l),
                            no > 0 ? l->d_yo : NULL, l->n, d_bias, d_y, ydt, ldy));
    else
        TRY(qk_epilogue(c, l->d_acc, l->ldacc, &l->qx, &l->qw, no > 0 ? l->d_yo : NULL, l->n, d_bias, d_y, ydt,
                        ldy));
    MARK(EV_END);

    if (times) {
        memset(times, 0, sizeof *times);
        QK_CUDA_CHECK(c, cudaEventSynchronize(l->ev[EV_END]));
        QK_CUDA_CHECK(c, cudaEventElapsedTime(&times->quantize_x_ms, l->ev[EV_START], l->ev[EV_QUANT]));
        QK_CUDA_CHECK(c, cudaEventElapsedTime(&times->gemm_i8_ms, l->ev[EV_QUANT], l->ev[EV_GEMM]));
        QK_CUDA_CHECK(c, cudaEventElapsedTime(&times->outlier_gemm_ms, l->ev[EV_GEMM], l->ev[EV_OUTLIER]));
        QK_CUDA_CHECK(c, cudaEventElapsedTime(&times->dequant_ms, l->ev[EV_OUTLIER], l->ev[EV_END]));
        QK_CUDA_CHECK(c, cudaEventElapsedTime(&times->total_ms, l->ev[EV_START], l->ev[EV_END]));
        times->n_outliers = no;
    }
    return QK_OK;
}

extern "C" const qk_qmatrix *qk_linear_weights(const qk_linear *l) { return l && !l->fp8 ? &l->qw : NULL; }
extern "C" const qk_qmatrix *qk_linear_last_x(const qk_linear *l) { return l && !l->fp8 ? &l->qx : NULL; }
extern "C" int qk_linear_fp8_native(const qk_linear *l) { return l && l->fp8 && l->native; }
extern "C" int64_t qk_linear_gemm_rows(const qk_linear *l) { return !l ? 0 : l->fp8 ? l->m : l->gemm_m; }
extern "C" const char *qk_linear_note(const qk_linear *l) { return l ? l->note : ""; }

extern "C" qk_status qk_linear_outliers_of(qk_ctx *c, qk_linear *l, const void *d_x, qk_dtype xdt, int64_t ldx,
                                          int64_t *count)
{
    QK_ARG_CHECK(c, l && d_x && count && ldx >= l->k);
    *count = 0;
    if (!decomposes(l))
        return QK_OK;
    TRY(qk_outlier_cols(c, d_x, xdt, l->m, l->k, ldx, l->o.threshold, l->d_flags, l->d_idx, l->d_count));
    int32_t h = 0;
    TRY(qk_download(c, &h, l->d_count, sizeof h));
    if (h < 0 || h > l->k)
        return qk_fail(c, QK_ERR_CUDA, __FILE__, __LINE__, "outlier count %d out of range", (int)h);
    *count = h;
    return QK_OK;
}

extern "C" qk_status qk_linear_acc_download(qk_ctx *c, const qk_linear *l, int32_t *acc)
{
    QK_ARG_CHECK(c, l && !l->fp8 && acc);
    QK_CUDA_CHECK(c, cudaMemcpy2DAsync(acc, (size_t)l->n * sizeof(int32_t), l->d_acc, (size_t)l->ldacc * sizeof(int32_t),
                                       (size_t)l->n * sizeof(int32_t), (size_t)l->m, cudaMemcpyDeviceToHost, c->stream));
    return qk_ctx_sync(c);
}

extern "C" qk_status qk_linear_fp8_download(qk_ctx *c, const qk_linear *l, uint8_t *cx, float *sx, uint8_t *cw,
                                            float *sw)
{
    QK_ARG_CHECK(c, l && l->fp8 && cx && sx && cw && sw);
    QK_CUDA_CHECK(c, cudaMemcpy2DAsync(cx, (size_t)l->k, l->d_cx, (size_t)l->ldk, (size_t)l->k, (size_t)l->m,
                                       cudaMemcpyDeviceToHost, c->stream));
    QK_CUDA_CHECK(c, cudaMemcpy2DAsync(cw, (size_t)l->k, l->d_cw, (size_t)l->ldk, (size_t)l->k, (size_t)l->n,
                                       cudaMemcpyDeviceToHost, c->stream));
    QK_CUDA_CHECK(c, cudaMemcpyAsync(sx, l->d_sx, (size_t)(x_per_row(l) ? l->m : 1) * sizeof(float),
                                     cudaMemcpyDeviceToHost, c->stream));
    QK_CUDA_CHECK(c, cudaMemcpyAsync(sw, l->d_sw, (size_t)(w_per_row(l) ? l->n : 1) * sizeof(float),
                                     cudaMemcpyDeviceToHost, c->stream));
    return qk_ctx_sync(c);
}
extern "C" const uint8_t *qk_linear_flags(const qk_linear *l) { return l ? l->d_flags : NULL; }

extern "C" int64_t qk_linear_weight_bytes(const qk_linear *l)
{
    if (!l)
        return 0;
    int64_t b = l->fp8 ? l->n * l->k + (int64_t)sizeof(float) * (w_per_row(l) ? l->n : 1) : qk_qmatrix_bytes(&l->qw);
    if (decomposes(l) && l->o.outlier_weights == QUANT_OUTLIER_FP16)
        b += l->n * l->last_outliers * (int64_t)sizeof(__half);
    return b;
}

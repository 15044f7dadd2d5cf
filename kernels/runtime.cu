// runtime.cu: context, tracking allocator, device queries, L2 flush, copy bandwidth,
// event timers and the device quantized-matrix container (error recording and the
// element types are in status.cu, which every kernel file uses).
//
// Everything the timing loop of the cuda backend needs besides the kernels. Part of
// build/libqlabkernels.a (make build/libqlabkernels.a).
#include <dlfcn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <algorithm>
#include <vector>

#include "common.cuh"

// ------------------------------------------------------------------------------
// Devices

static __global__ void probe_kernel(int *out) { *out = 42; }

extern "C" int qk_device_usable(char *why, size_t why_len)
{
    int n = 0;
    cudaError_t e = cudaGetDeviceCount(&n);
    if (e != cudaSuccess) {
        snprintf(why, why_len, "cudaGetDeviceCount: %s (%s)", cudaGetErrorString(e),
                 cudaGetErrorName(e));
        return 0;
    }
    if (n == 0) {
        snprintf(why, why_len, "no CUDA device (cudaGetDeviceCount returned 0)");
        return 0;
    }
    int major = 0, minor = 0;
    cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, 0);
    cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, 0);
    if (major < 8) {
        // The kernels are built for sm_80, sm_89 and sm_90 only.
        snprintf(why, why_len, "device 0 has compute capability %d.%d; qlab's kernels need 8.0 or newer",
                 major, minor);
        return 0;
    }
    // A device can be listed and still be unusable (busy, MIG without a slice, driver
    // older than the runtime): run a kernel to be sure.
    int *d = NULL, h = 0;
    e = cudaSetDevice(0);
    if (e == cudaSuccess)
        e = cudaMalloc(&d, sizeof(int));
    if (e == cudaSuccess) {
        probe_kernel<<<1, 1>>>(d);
        e = cudaGetLastError();
    }
    if (e == cudaSuccess)
        e = cudaMemcpy(&h, d, sizeof(int), cudaMemcpyDeviceToHost);
    if (d)
        cudaFree(d);
    if (e != cudaSuccess || h != 42) {
        snprintf(why, why_len, "device 0 listed but a test kernel failed: %s",
                 e != cudaSuccess ? cudaGetErrorString(e) : "wrong result");
        return 0;
    }
    return 1;
}

// Current SM clock through NVML, loaded at run time so that the build needs no NVML
// library (libnvidia-ml.so.1 ships with the driver). 0 when unavailable.
static int nvml_sm_clock_mhz(int device)
{
    void *lib = dlopen("libnvidia-ml.so.1", RTLD_NOW | RTLD_LOCAL);
    if (!lib)
        return 0;
    typedef int (*init_fn)(void);
    typedef int (*by_pci_fn)(const char *, void **);
    typedef int (*clock_fn)(void *, int, unsigned int *);
    init_fn init = (init_fn)dlsym(lib, "nvmlInit_v2");
    init_fn shutdown = (init_fn)dlsym(lib, "nvmlShutdown");
    by_pci_fn by_pci = (by_pci_fn)dlsym(lib, "nvmlDeviceGetHandleByPciBusId_v2");
    clock_fn clock = (clock_fn)dlsym(lib, "nvmlDeviceGetClockInfo");
    int mhz = 0;
    char bus[64];
    if (init && shutdown && by_pci && clock && cudaDeviceGetPCIBusId(bus, sizeof bus, device) == cudaSuccess &&
        init() == 0) {
        void *h = NULL;
        unsigned int v = 0;
        const int nvml_clock_sm = 1;   // NVML_CLOCK_SM
        if (by_pci(bus, &h) == 0 && clock(h, nvml_clock_sm, &v) == 0)
            mhz = (int)v;
        shutdown();
    }
    dlclose(lib);
    return mhz;
}

extern "C" qk_status qk_device_query(int index, qk_device_info *out, char *err, size_t err_len)
{
    if (!out)
        return QK_ERR_ARG;
    memset(out, 0, sizeof *out);
    cudaDeviceProp prop;
    cudaError_t e = cudaGetDeviceProperties(&prop, index);
    if (e != cudaSuccess) {
        snprintf(err, err_len, "cudaGetDeviceProperties(%d): %s", index, cudaGetErrorString(e));
        return QK_ERR_CUDA;
    }
    out->index = index;
    snprintf(out->name, sizeof out->name, "%s", prop.name);
    out->cc_major = prop.major;
    out->cc_minor = prop.minor;
    out->sm_count = prop.multiProcessorCount;
    out->mem_bus_bits = prop.memoryBusWidth;
    out->l2_bytes = prop.l2CacheSize;
    out->total_mem_bytes = (int64_t)prop.totalGlobalMem;
    // The clock fields left cudaDeviceProp in CUDA 13; the attributes remain.
    int khz = 0;
    if (cudaDeviceGetAttribute(&khz, cudaDevAttrClockRate, index) == cudaSuccess)
        out->sm_clock_max_mhz = khz / 1000;
    if (cudaDeviceGetAttribute(&khz, cudaDevAttrMemoryClockRate, index) == cudaSuccess)
        out->mem_clock_max_mhz = khz / 1000;
    out->sm_clock_now_mhz = nvml_sm_clock_mhz(index);
    cudaDriverGetVersion(&out->driver_version);
    cudaRuntimeGetVersion(&out->runtime_version);
    out->cublaslt_version = (int64_t)cublasLtGetVersion();
    return QK_OK;
}

// ------------------------------------------------------------------------------
// Context

extern "C" qk_status qk_ctx_create(int index, qk_ctx **out, char *err, size_t err_len)
{
    if (!out)
        return QK_ERR_ARG;
    *out = NULL;
    qk_ctx *c = (qk_ctx *)calloc(1, sizeof *c);
    if (!c) {
        snprintf(err, err_len, "out of host memory");
        return QK_ERR_NOMEM;
    }
    c->device = index;
    qk_status st = QK_OK;
    cudaError_t e = cudaSetDevice(index);
    if (e == cudaSuccess)
        e = cudaStreamCreateWithFlags(&c->stream, cudaStreamNonBlocking);
    int l2 = 0;
    if (e == cudaSuccess)
        e = cudaDeviceGetAttribute(&l2, cudaDevAttrL2CacheSize, index);
    if (e == cudaSuccess)
        e = cudaDeviceGetAttribute(&c->sm_count, cudaDevAttrMultiProcessorCount, index);
    if (e == cudaSuccess)
        e = cudaMallocHost((void **)&c->h_pinned, sizeof(int32_t));
    if (e != cudaSuccess) {
        snprintf(err, err_len, "creating the CUDA context on device %d: %s", index,
                 cudaGetErrorString(e));
        qk_ctx_free(c);
        return QK_ERR_CUDA;
    }
    c->l2_bytes = l2;
    cublasStatus_t s = cublasLtCreate(&c->lt);
    if (s != CUBLAS_STATUS_SUCCESS) {
        snprintf(err, err_len, "cublasLtCreate: %s", cublasLtGetStatusString(s));
        c->lt = NULL;
        qk_ctx_free(c);
        return QK_ERR_CUBLAS;
    }
    // 32 MiB: what NVIDIA recommends for Hopper so no algorithm is excluded for lack
    // of workspace.
    c->workspace_bytes = (size_t)32 << 20;
    st = qk_malloc(c, &c->d_workspace, c->workspace_bytes);
    // The L2 flush buffer too, now: allocated by the first flush it would count in
    // that point's peak_bytes (max(2 x L2, 64 MiB): 100 MiB on an H100).
    if (st == QK_OK) {
        c->flush_bytes = (size_t)std::max<int64_t>(2 * c->l2_bytes, (int64_t)64 << 20);
        st = qk_malloc(c, &c->d_flush, c->flush_bytes);
        // zero, once: the flush only reads it (see flush_kernel)
        if (st == QK_OK && cudaMemsetAsync(c->d_flush, 0, c->flush_bytes, c->stream) != cudaSuccess)
            st = qk_fail(c, QK_ERR_CUDA, __FILE__, __LINE__, "clearing the L2 flush buffer failed");
        if (st == QK_OK && cudaStreamSynchronize(c->stream) != cudaSuccess)
            st = qk_fail(c, QK_ERR_CUDA, __FILE__, __LINE__, "clearing the L2 flush buffer failed");
    }
    if (st != QK_OK) {
        snprintf(err, err_len, "%s", c->err);
        qk_ctx_free(c);
        return st;
    }
    *out = c;
    return QK_OK;
}

void qk_plans_free(qk_ctx *c);   // gemm.cu

extern "C" void qk_ctx_free(qk_ctx *c)
{
    if (!c)
        return;
    if (c->stream)
        cudaStreamSynchronize(c->stream);
    qk_plans_free(c);
    for (int64_t i = 0; i < c->n_allocs; i++)
        cudaFree(c->allocs[i].ptr);
    free(c->allocs);
    if (c->lt)
        cublasLtDestroy(c->lt);
    if (c->h_pinned)
        cudaFreeHost(c->h_pinned);
    if (c->stream)
        cudaStreamDestroy(c->stream);
    free(c);
}

extern "C" const char *qk_ctx_error(const qk_ctx *c) { return c ? c->err : "no context"; }

extern "C" void *qk_ctx_stream(qk_ctx *c) { return c ? (void *)c->stream : NULL; }

extern "C" qk_status qk_ctx_sync(qk_ctx *c)
{
    QK_CUDA_CHECK(c, cudaStreamSynchronize(c->stream));
    return QK_OK;
}

// ------------------------------------------------------------------------------
// Tracking allocator. A handful of live buffers at a time, so a flat array is enough.

extern "C" qk_status qk_malloc(qk_ctx *c, void **ptr, size_t bytes)
{
    if (!c || !ptr)
        return QK_ERR_ARG;
    *ptr = NULL;
    if (c->n_allocs == c->cap_allocs) {
        int64_t cap = c->cap_allocs ? 2 * c->cap_allocs : 32;
        qk_alloc_rec *a = (qk_alloc_rec *)realloc(c->allocs, (size_t)cap * sizeof *a);
        if (!a)
            return qk_fail(c, QK_ERR_NOMEM, __FILE__, __LINE__, "out of host memory");
        c->allocs = a;
        c->cap_allocs = cap;
    }
    void *p = NULL;
    cudaError_t e = cudaMalloc(&p, bytes ? bytes : 1);
    if (e != cudaSuccess) {
        cudaGetLastError();   // clear the sticky-free error so later checks are not confused
        return qk_fail(c, QK_ERR_NOMEM, __FILE__, __LINE__,
                       "cudaMalloc(%zu bytes): %s (qlab holds %lld bytes)", bytes,
                       cudaGetErrorString(e), (long long)c->mem_current);
    }
    c->allocs[c->n_allocs].ptr = p;
    c->allocs[c->n_allocs].bytes = bytes;
    c->n_allocs++;
    c->mem_current += (int64_t)bytes;
    if (c->mem_current > c->mem_peak)
        c->mem_peak = c->mem_current;
    *ptr = p;
    return QK_OK;
}

extern "C" void qk_free(qk_ctx *c, void *ptr)
{
    if (!c || !ptr)
        return;
    for (int64_t i = 0; i < c->n_allocs; i++) {
        if (c->allocs[i].ptr == ptr) {
            // Freeing synchronizes the device anyway; buffers are freed outside timing.
            cudaFree(ptr);
            c->mem_current -= (int64_t)c->allocs[i].bytes;
            c->allocs[i] = c->allocs[c->n_allocs - 1];
            c->n_allocs--;
            return;
        }
    }
}

extern "C" int64_t qk_mem_current(const qk_ctx *c) { return c ? c->mem_current : 0; }
extern "C" int64_t qk_mem_peak(const qk_ctx *c) { return c ? c->mem_peak : 0; }
extern "C" void qk_mem_reset_peak(qk_ctx *c)
{
    if (c)
        c->mem_peak = c->mem_current;
}

extern "C" qk_status qk_mem_info(qk_ctx *c, int64_t *free_bytes, int64_t *total_bytes)
{
    size_t f = 0, t = 0;
    QK_CUDA_CHECK(c, cudaMemGetInfo(&f, &t));
    if (free_bytes)
        *free_bytes = (int64_t)f;
    if (total_bytes)
        *total_bytes = (int64_t)t;
    return QK_OK;
}

extern "C" qk_status qk_upload(qk_ctx *c, void *d_dst, const void *src, size_t bytes)
{
    QK_CUDA_CHECK(c, cudaMemcpyAsync(d_dst, src, bytes, cudaMemcpyHostToDevice, c->stream));
    QK_CUDA_CHECK(c, cudaStreamSynchronize(c->stream));
    return QK_OK;
}

extern "C" qk_status qk_download(qk_ctx *c, void *dst, const void *d_src, size_t bytes)
{
    QK_CUDA_CHECK(c, cudaMemcpyAsync(dst, d_src, bytes, cudaMemcpyDeviceToHost, c->stream));
    QK_CUDA_CHECK(c, cudaStreamSynchronize(c->stream));
    return QK_OK;
}

// ------------------------------------------------------------------------------
// Timing helpers

// Reads every 16-byte word of the buffer (twice the L2 size) through L2, so the lines
// a sample touched are evicted while the flush runs, and writes nothing: the buffer
// is zero (cleared once at context creation) and the XOR of what a thread read is
// stored only when it equals `never`, which is non-zero, so the store never happens
// but the compiler cannot drop the loads. Reads leave only clean lines behind; a
// flush by writes left up to one L2 of dirty lines, written back to memory inside the
// next timed window.
static __global__ void flush_kernel(const uint4 *__restrict__ p, size_t n, unsigned int never,
                                    unsigned int *sink)
{
    unsigned int x = 0;
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) {
        const uint4 v = __ldcg(p + i);
        x ^= v.x ^ v.y ^ v.z ^ v.w;
    }
    if (x == never)
        *sink = x;
}

extern "C" qk_status qk_l2_flush(qk_ctx *c)
{
    if (!c)
        return QK_ERR_ARG;
    if (!c->d_flush)
        return QK_ERR_ARG;   // allocated by qk_ctx_create
    const size_t n = c->flush_bytes / sizeof(uint4);
    // 4 blocks of 256 threads per SM: enough loads in flight to stream the buffer at
    // about the memory bandwidth
    const unsigned grid = (unsigned)std::max(1, 4 * c->sm_count);
    // the sink is never written; any device word would do
    flush_kernel<<<grid, 256, 0, c->stream>>>((const uint4 *)c->d_flush, n, 1u, (unsigned int *)c->d_workspace);
    QK_LAUNCH_CHECK(c);
    return QK_OK;
}

extern "C" size_t qk_l2_flush_bytes(const qk_ctx *c) { return c ? c->flush_bytes : 0; }

extern "C" qk_status qk_copy_bandwidth(qk_ctx *c, size_t bytes, int reps, double *gbps)
{
    if (!c || !gbps || bytes == 0 || reps <= 0)
        return QK_ERR_ARG;
    void *a = NULL, *b = NULL;
    qk_status st = qk_malloc(c, &a, bytes);
    if (st == QK_OK)
        st = qk_malloc(c, &b, bytes);
    cudaEvent_t e0 = NULL, e1 = NULL;
    std::vector<float> ms;
    if (st == QK_OK && (cudaEventCreate(&e0) != cudaSuccess || cudaEventCreate(&e1) != cudaSuccess))
        st = qk_fail(c, QK_ERR_CUDA, __FILE__, __LINE__, "cudaEventCreate failed");
    if (st == QK_OK && cudaMemsetAsync(a, 1, bytes, c->stream) != cudaSuccess)
        st = qk_fail(c, QK_ERR_CUDA, __FILE__, __LINE__, "cudaMemsetAsync failed");
    for (int r = -2; st == QK_OK && r < reps; r++) {   // two warm-up copies
        cudaError_t e = cudaEventRecord(e0, c->stream);
        if (e == cudaSuccess)
            e = cudaMemcpyAsync(b, a, bytes, cudaMemcpyDeviceToDevice, c->stream);
        if (e == cudaSuccess)
            e = cudaEventRecord(e1, c->stream);
        if (e == cudaSuccess)
            e = cudaEventSynchronize(e1);
        float t = 0;
        if (e == cudaSuccess)
            e = cudaEventElapsedTime(&t, e0, e1);
        if (e != cudaSuccess)
            st = qk_fail(c, QK_ERR_CUDA, __FILE__, __LINE__, "copy bandwidth: %s", cudaGetErrorString(e));
        else if (r >= 0)
            ms.push_back(t);
    }
    if (st == QK_OK) {
        std::sort(ms.begin(), ms.end());
        double med = ms[ms.size() / 2];
        *gbps = 2.0 * (double)bytes / (med * 1e-3) / 1e9;
    }
    if (e0)
        cudaEventDestroy(e0);
    if (e1)
        cudaEventDestroy(e1);
    qk_free(c, a);
    qk_free(c, b);
    return st;
}

struct qk_timer {
    int n;
    cudaEvent_t *ev;
};

extern "C" qk_status qk_timer_create(qk_ctx *c, int n_marks, qk_timer **out)
{
    QK_ARG_CHECK(c, out && n_marks > 0);
    qk_timer *t = (qk_timer *)calloc(1, sizeof *t);
    if (!t)
        return qk_fail(c, QK_ERR_NOMEM, __FILE__, __LINE__, "out of host memory");
    t->ev = (cudaEvent_t *)calloc((size_t)n_marks, sizeof *t->ev);
    if (!t->ev) {
        free(t);
        return qk_fail(c, QK_ERR_NOMEM, __FILE__, __LINE__, "out of host memory");
    }
    t->n = n_marks;
    for (int i = 0; i < n_marks; i++) {
        cudaError_t e = cudaEventCreate(&t->ev[i]);
        if (e != cudaSuccess) {
            t->n = i;
            qk_timer_free(t);
            return qk_fail(c, QK_ERR_CUDA, __FILE__, __LINE__, "cudaEventCreate: %s",
                           cudaGetErrorString(e));
        }
    }
    *out = t;
    return QK_OK;
}

extern "C" void qk_timer_free(qk_timer *t)
{
    if (!t)
        return;
    for (int i = 0; i < t->n; i++)
        cudaEventDestroy(t->ev[i]);
    free(t->ev);
    free(t);
}

extern "C" qk_status qk_timer_mark(qk_ctx *c, qk_timer *t, int mark)
{
    QK_ARG_CHECK(c, t && mark >= 0 && mark < t->n);
    QK_CUDA_CHECK(c, cudaEventRecord(t->ev[mark], c->stream));
    return QK_OK;
}

extern "C" qk_status qk_timer_ms(qk_ctx *c, qk_timer *t, int from, int to, float *ms)
{
    QK_ARG_CHECK(c, t && ms && from >= 0 && to >= 0 && from < t->n && to < t->n);
    QK_CUDA_CHECK(c, cudaEventSynchronize(t->ev[to]));
    QK_CUDA_CHECK(c, cudaEventElapsedTime(ms, t->ev[from], t->ev[to]));
    return QK_OK;
}

// ------------------------------------------------------------------------------
// Quantized matrices

extern "C" qk_status qk_qmatrix_init(qk_ctx *c, qk_qmatrix *q, quant_scheme scheme,
                                     quant_gran gran, int64_t rows, int64_t cols, int64_t block)
{
    QK_ARG_CHECK(c, q && rows > 0 && cols > 0);
    QK_ARG_CHECK(c, scheme == QUANT_SCHEME_ABSMAX || scheme == QUANT_SCHEME_ZEROPOINT);
    memset(q, 0, sizeof *q);
    // Group count computed here rather than by quant_group_count: the link order of
    // the Makefile puts libqlabkernels.a after libquant.a, so kernels/ must not call
    // into quant/ (it only shares quant.h's enums).
    int64_t ng;
    if (gran == QUANT_GRAN_TENSOR)
        ng = 1;
    else if (gran == QUANT_GRAN_ROW || gran == QUANT_GRAN_CHANNEL)
        ng = rows;
    else if (gran == QUANT_GRAN_BLOCK && block > 0 && cols % block == 0)
        ng = rows * (cols / block);
    else
        return qk_fail(c, QK_ERR_ARG, __FILE__, __LINE__,
                       "quantized matrix [%lld, %lld]: bad granularity %d or block %lld "
                       "(block must be > 0 and divide %lld)",
                       (long long)rows, (long long)cols, (int)gran, (long long)block,
                       (long long)cols);
    q->scheme = scheme;
    q->gran = gran;
    q->rows = rows;
    q->cols = cols;
    q->rows_alloc = qk_round_up(rows, QK_ROW_ALIGN);
    q->ld = qk_round_up(cols, QK_CODE_LD_ALIGN);
    q->n_groups = ng;
    if (gran == QUANT_GRAN_BLOCK) {
        q->block = block;
        q->groups_per_row = cols / block;
    } else if (gran == QUANT_GRAN_TENSOR) {
        q->block = rows * cols;
        q->groups_per_row = 1;
    } else {
        q->block = cols;
        q->groups_per_row = 1;
    }
    qk_status st = qk_malloc(c, (void **)&q->d_codes, (size_t)(q->rows_alloc * q->ld));
    if (st == QK_OK)
        st = qk_malloc(c, (void **)&q->d_scales, (size_t)ng * sizeof(float));
    if (st == QK_OK && scheme == QUANT_SCHEME_ZEROPOINT)
        st = qk_malloc(c, (void **)&q->d_zeros, (size_t)ng * sizeof(int32_t));
    if (st == QK_OK && scheme == QUANT_SCHEME_ZEROPOINT && gran != QUANT_GRAN_BLOCK)
        st = qk_malloc(c, (void **)&q->d_row_sums, (size_t)rows * sizeof(int32_t));
    if (st == QK_OK && cudaMemsetAsync(q->d_codes, 0, (size_t)(q->rows_alloc * q->ld), c->stream) != cudaSuccess)
        st = qk_fail(c, QK_ERR_CUDA, __FILE__, __LINE__, "cudaMemsetAsync of the codes failed");
    if (st != QK_OK)
        qk_qmatrix_free(c, q);
    return st;
}

extern "C" void qk_qmatrix_free(qk_ctx *c, qk_qmatrix *q)
{
    if (!q)
        return;
    qk_free(c, q->d_codes);
    qk_free(c, q->d_scales);
    qk_free(c, q->d_zeros);
    qk_free(c, q->d_row_sums);
    q->d_codes = NULL;
    q->d_scales = NULL;
    q->d_zeros = NULL;
    q->d_row_sums = NULL;
}

extern "C" int64_t qk_qmatrix_bytes(const qk_qmatrix *q)
{
    if (!q)
        return 0;
    int64_t b = q->rows_alloc * q->ld + q->n_groups * (int64_t)sizeof(float);
    if (q->d_zeros)
        b += q->n_groups * (int64_t)sizeof(int32_t);
    if (q->d_row_sums)
        b += q->rows * (int64_t)sizeof(int32_t);
    return b;
}

extern "C" qk_status qk_qmatrix_download(qk_ctx *c, const qk_qmatrix *q, quant_matrix *h)
{
    QK_ARG_CHECK(c, q && h && h->codes && h->scales);
    QK_ARG_CHECK(c, h->rows == q->rows && h->cols == q->cols && h->n_groups == q->n_groups);
    QK_CUDA_CHECK(c, cudaMemcpy2DAsync(h->codes, (size_t)q->cols, q->d_codes, (size_t)q->ld,
                                       (size_t)q->cols, (size_t)q->rows, cudaMemcpyDeviceToHost,
                                       c->stream));
    QK_CUDA_CHECK(c, cudaMemcpyAsync(h->scales, q->d_scales, (size_t)q->n_groups * sizeof(float),
                                     cudaMemcpyDeviceToHost, c->stream));
    if (q->d_zeros && h->zeros)
        QK_CUDA_CHECK(c, cudaMemcpyAsync(h->zeros, q->d_zeros, (size_t)q->n_groups * sizeof(int32_t),
                                         cudaMemcpyDeviceToHost, c->stream));
    QK_CUDA_CHECK(c, cudaStreamSynchronize(c->stream));
    return QK_OK;
}

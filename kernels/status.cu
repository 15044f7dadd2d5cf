// status.cu: what every kernel file shares below the runtime: error recording into a
// context (qk_fail, behind the CUDA_CHECK-style macros of common.cuh), status strings,
// and the names and sizes of the element types. A file of its own so that no kernel
// file calls into runtime.cu, which calls gemm.cu to free the plan cache: the kernels
// form no circle.
#include <stdarg.h>
#include <stdio.h>

#include "common.cuh"

// ------------------------------------------------------------------------------
// Errors

qk_status qk_fail(qk_ctx *c, qk_status st, const char *file, int line, const char *fmt, ...)
{
    if (!c)
        return st;
    int n = snprintf(c->err, sizeof c->err, "%s:%d: ", file, line);
    if (n < 0 || n >= (int)sizeof c->err)
        n = 0;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->err + n, sizeof c->err - (size_t)n, fmt, ap);
    va_end(ap);
    return st;
}

extern "C" const char *qk_status_str(qk_status st)
{
    switch (st) {
    case QK_OK: return "ok";
    case QK_ERR_ARG: return "invalid argument";
    case QK_ERR_CUDA: return "CUDA error";
    case QK_ERR_CUBLAS: return "cuBLASLt error";
    case QK_ERR_ALIGN: return "shape or alignment not supported by the kernel";
    case QK_ERR_NOMEM: return "out of memory";
    case QK_ERR_UNSUPPORTED: return "no kernel for this scheme and granularity";
    default: return "unknown status";
    }
}

extern "C" size_t qk_dtype_size(qk_dtype dt)
{
    return dt == QK_DTYPE_F32 ? 4 : (dt == QK_DTYPE_F16 || dt == QK_DTYPE_BF16) ? 2 : 0;
}

extern "C" const char *qk_dtype_name(qk_dtype dt)
{
    switch (dt) {
    case QK_DTYPE_F32: return "fp32";
    case QK_DTYPE_F16: return "fp16";
    case QK_DTYPE_BF16: return "bf16";
    default: return "?";
    }
}

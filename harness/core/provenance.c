/* provenance.c: the versions and build settings a run's numbers depend on (see
 * provenance.h).
 *
 * The commit, source hash and build flags come from the build's version.c, which
 * the Makefile writes; the library versions are asked of the libraries linked in,
 * at run time, so a results file records what actually ran, not what the headers
 * said at build time.
 */
#include "core/provenance.h"

#include <stdio.h>
#include <string.h>

#include <cblas.h>
#include <hdf5.h>
#include <libfyaml.h>
#ifdef __GLIBC__
#include <gnu/libc-version.h>
#endif
#ifdef QLAB_HAVE_CUDA
#include <cublasLt.h>
#include <cuda_runtime_api.h>
#endif

#include "core/version.h"

/* Written by the Makefile into the build's version.c. Weak, so that a build whose
 * version.c predates it (fuzz/run.sh writes its own) still links: it is then
 * reported as unknown. */
extern const char qlab_build_flags[] __attribute__((weak));

static const char *const provenance_keys[] = {
    "qlab_version", "git_commit", "source_hash", "compiler", "build_flags", "libc",
    "hdf5_version", "libfyaml_version", "openblas_config", "openblas_core",
    "openblas_threads", "cuda_runtime", "cuda_driver", "cublaslt_version", NULL,
};

const char *const *qlab_provenance_keys(void) { return provenance_keys; }

/* Copies s into buf without the trailing blanks OpenBLAS leaves in its strings. */
static const char *trimmed(const char *s, char *buf, size_t len)
{
    if (!s || !*s)
        return "unknown";
    snprintf(buf, len, "%s", s);
    size_t n = strlen(buf);
    while (n > 0 && (buf[n - 1] == ' ' || buf[n - 1] == '\n'))
        buf[--n] = '\0';
    return buf;
}

#ifdef QLAB_HAVE_CUDA
/* "12.4" from CUDA's 1000 * major + 10 * minor. */
static void cuda_version_str(int v, char *buf, size_t len)
{
    snprintf(buf, len, "%d.%d", v / 1000, (v % 1000) / 10);
}
#endif

void qlab_provenance(qlab_provenance_fn set, void *ctx)
{
    char buf[1024];
    set(ctx, "qlab_version", QLAB_VERSION_STRING);
    set(ctx, "git_commit", qlab_git_commit);
    set(ctx, "source_hash", qlab_source_hash);
    set(ctx, "compiler", "gcc-compatible " __VERSION__);
    set(ctx, "build_flags", qlab_build_flags ? qlab_build_flags : "unknown");
#ifdef __GLIBC__
    set(ctx, "libc", gnu_get_libc_version());
#else
    set(ctx, "libc", "unknown (not glibc)");
#endif

    unsigned maj = 0, min = 0, rel = 0;
    if (H5get_libversion(&maj, &min, &rel) >= 0)
        snprintf(buf, sizeof buf, "%u.%u.%u", maj, min, rel);
    else
        snprintf(buf, sizeof buf, "unknown");
    set(ctx, "hdf5_version", buf);
    const char *fy = fy_library_version();
    set(ctx, "libfyaml_version", fy && *fy ? fy : "unknown");

    set(ctx, "openblas_config", trimmed(openblas_get_config(), buf, sizeof buf));
    set(ctx, "openblas_core", trimmed(openblas_get_corename(), buf, sizeof buf));
    snprintf(buf, sizeof buf, "%d", openblas_get_num_threads());
    set(ctx, "openblas_threads", buf);

#ifdef QLAB_HAVE_CUDA
    int v = 0;
    if (cudaRuntimeGetVersion(&v) == cudaSuccess && v > 0)
        cuda_version_str(v, buf, sizeof buf);
    else
        snprintf(buf, sizeof buf, "unknown");
    set(ctx, "cuda_runtime", buf);
    v = 0;
    cudaError_t e = cudaDriverGetVersion(&v);
    if (e == cudaSuccess && v > 0)
        cuda_version_str(v, buf, sizeof buf);
    else if (e == cudaSuccess)
        snprintf(buf, sizeof buf, "no driver");
    else
        snprintf(buf, sizeof buf, "no driver (%s)", cudaGetErrorString(e));
    set(ctx, "cuda_driver", buf);
    snprintf(buf, sizeof buf, "%lld", (long long)cublasLtGetVersion());
    set(ctx, "cublaslt_version", buf);
#else
    set(ctx, "cuda_runtime", "not built");
    set(ctx, "cuda_driver", "not built");
    set(ctx, "cublaslt_version", "not built");
#endif
}

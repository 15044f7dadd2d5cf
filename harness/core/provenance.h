/* provenance.h: what a run's numbers were produced with.
 *
 * One list of key/value pairs (qlab's version and commit, the hash of the sources
 * that compute numbers, the compiler and the flags it was given, libc, HDF5,
 * libfyaml, OpenBLAS with its core type and thread count, and with a CUDA build the
 * CUDA runtime, driver and cuBLASLt versions) that `qlab info` prints and the runner
 * stores as root attributes of every results file, so the two always agree and
 * `qlab show --provenance FILE` can print what a file was made with.
 */
#ifndef QLAB_PROVENANCE_H
#define QLAB_PROVENANCE_H

/* Receives one key/value pair; both strings are valid only during the call. */
typedef void (*qlab_provenance_fn)(void *ctx, const char *key, const char *value);

/* Calls set(ctx, key, value) once for each key of qlab_provenance_keys(), in that
 * order. Values are never NULL: a version that cannot be had says why ("not built",
 * "no driver", "unknown"). Queries versions only: starts no device context, and
 * prints nothing. */
void qlab_provenance(qlab_provenance_fn set, void *ctx);

/* The keys qlab_provenance reports, in order, NULL-terminated (for readers of
 * results files, which may lack the keys newer builds added). */
const char *const *qlab_provenance_keys(void);

#endif
